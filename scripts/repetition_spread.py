#!/usr/bin/env python3
"""How far a configuration's first two repetitions lie apart, per phase, in each study database given: the
median and the largest |rep 1 - rep 2| / their mean, of the time per epoch and of the GPU energy per epoch,
over the configurations with both repetitions ok (issue 33 item 6: less noise). A quick look that needs only
two repetitions, so a sweep in progress can be compared with finished ones; the report's intervals are the
measure once a sweep is complete.
Usage: scripts/repetition_spread.py DB [DB ...]"""
import sqlite3
import statistics
import sys
from collections import defaultdict


def spreads(path):
    """{phase: {'time': [...], 'energy': [...]}}: one relative gap per configuration with two ok repetitions."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    pairs = defaultdict(dict)
    for config, rep, phase, seconds, joules in db.execute(
            "select r.config, r.repetition, p.phase, p.duration_s, p.gpu_energy_j from runs r "
            "join phases p on p.run_id = r.id where r.status = 'ok' and r.repetition <= 2"):
        pairs[(config, phase)][rep] = (seconds, joules)
    out = defaultdict(lambda: {"time": [], "energy": []})
    for (config, phase), reps in pairs.items():
        if len(reps) < 2:
            continue
        for k, name in enumerate(("time", "energy")):
            a, b = reps[1][k], reps[2][k]
            if a is not None and b is not None and a + b > 0:
                out[phase][name].append(abs(a - b) / ((a + b) / 2))
    return out


def main(paths):
    if not paths:
        sys.exit(__doc__)
    for path in paths:
        try:
            result = spreads(path)
        except sqlite3.Error as e:
            sys.exit(f"{path}: not a study database ({e})")
        for phase in ("train", "test"):
            gaps = result[phase]
            if not gaps["time"]:
                print(f"{path} {phase}: no configuration with two ok repetitions")
                continue
            cells = [f"{name} median {100 * statistics.median(v):.1f} % max {100 * max(v):.1f} %"
                     for name, v in gaps.items() if v]
            print(f"{path} {phase} ({len(gaps['time'])} configurations): " + "; ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
