#!/usr/bin/env python3
"""Estimates what the interval rule (--interval-target, --max-repetitions) costs on a sweep like one already
measured: repetitions a configuration and configurations still wide at the end, with and without the rule's
futility stop (runner::more_repetitions: no repetition where none left could tighten the interval).

Each configuration's energy per epoch and phase is drawn from a normal law with the mean and spread of its
planned repetitions in DB (re-runs left out), the study's rule applied round by round: the median's
distribution-free interval ([min, max] up to 8 values, as stats::summarize) within +/- TARGET of the median.
An estimate from a model of the noise, not a measurement. Issue 33, session 23.

Usage: python3 scripts/interval_rule_cost.py DB [TARGET 0.05] [MOST 8] [SIMULATIONS 100]"""
import random
import sqlite3
import statistics
import sys
from math import comb


def interval(values):
    """The median's distribution-free interval, as stats::summarize computes it."""
    v, n = sorted(values), len(values)
    tail = lambda k: sum(comb(n, j) for j in range(k)) / 2 ** n  # noqa: E731
    k = 1
    while k + 1 <= (n + 1) // 2 and 1 - 2 * tail(k + 1) >= 0.95:
        k += 1
    return v[k - 1], v[n - k]


def wide(values, target):
    m = statistics.median(values)
    lo, hi = interval(values)
    return hi - m > target * m or m - lo > target * m


def could_tighten(values, target, most):
    a, b = min(values), max(values)
    return any(not wide(values + [a + (b - a) * i / 256] * (total - len(values)), target)
               for total in range(len(values) + 1, most + 1) for i in range(257))


def wants_more(values, target, most, futility):
    if len(values) >= most or not wide(values, target):
        return False
    return could_tighten(values, target, most) if futility else True


def planned_energies(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    retry = " AND COALESCE(r.retry_of, 0) = 0" if "retry_of" in {c[1] for c in db.execute("PRAGMA table_info(runs)")} else ""
    out = {}
    for variant, phase, j in db.execute("SELECT r.variant, p.phase, p.gpu_energy_j FROM runs r JOIN phases p ON "
                                        f"p.run_id = r.id WHERE r.status = 'ok'{retry}"):
        out.setdefault(variant, {}).setdefault(phase, []).append(j)
    return {v: p for v, p in out.items() if all(len(e) >= 2 for e in p.values())}


def simulate(energies, target, most, futility, simulations, rng):
    runs = still_wide = 0
    for _ in range(simulations):
        for phases in energies.values():
            law = {ph: (statistics.mean(e), statistics.stdev(e)) for ph, e in phases.items()}
            drawn = {ph: [rng.gauss(m, s) for _ in range(3)] for ph, (m, s) in law.items()}
            while any(wants_more(v, target, most, futility) for v in drawn.values()):
                for ph, (m, s) in law.items():
                    drawn[ph].append(rng.gauss(m, s))
            runs += len(next(iter(drawn.values())))
            still_wide += any(wide(v, target) for v in drawn.values())
    return runs / simulations / len(energies), still_wide / simulations


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    target, most, simulations = (float(argv[2]) if len(argv) > 2 else 0.05, int(argv[3]) if len(argv) > 3 else 8,
                                 int(argv[4]) if len(argv) > 4 else 100)
    energies = planned_energies(argv[1])
    for futility in (False, True):
        reps, wide_end = simulate(energies, target, most, futility, simulations, random.Random(1))
        print(f"{'with' if futility else 'without'} the futility stop: {reps:.2f} repetitions a configuration, "
              f"{wide_end:.1f} of {len(energies)} still wide (estimated: normal noise at each configuration's "
              f"observed mean and spread, {simulations} simulations)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
