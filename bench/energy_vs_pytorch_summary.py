#!/usr/bin/env python3
"""Energy per epoch of sedenergy's steps against a plain PyTorch loop, from bench/train_step_vs_pytorch.sh's
passes in OUTDIR (each block's joules per epoch from the GPU's NVML total-energy counter, on both sides).
Per implementation, step and configuration: the ratio of medians PyTorch / C++ over every block of every pass;
per family: the median of its configurations' ratios. Each with a 95 % percentile bootstrap interval that
resamples each side's blocks within each configuration (the configurations are fixed: the interval is the
measurement's, not a sample of models). Verdict against TOLERANCE (default 0.05): "within" when the interval
lies inside [1 - t, 1 + t], "beyond" when it lies wholly outside, else "not established". Blocks of one pass
vary less than passes do, so a configuration's verdict also needs each pass that reached it on both sides to
agree (its ratio of medians inside, or beyond on the same side): else "not established". A family is
"counterbalanced" when each of its configurations has two such passes or more (one sedenergy first, one
PyTorch first).
Writes energy_vs_pytorch.csv and energy_vs_pytorch.json; exits 1 when a family is not within or not
counterbalanced.
Usage: [TOLERANCE=0.05] python3 bench/energy_vs_pytorch_summary.py OUTDIR"""
import csv
import json
import os
import random
import statistics
import sys

from train_step_summary import passes

STEPS = ("train", "test")
REPLICATES = 2000


def blocks(rows, step):
    """Every finite block's joules per epoch, over the passes that reached the configuration."""
    return [j for r in rows if r for j in r.get(f"{step}_j_per_epoch_blocks") or [] if j is not None and j > 0]


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def verdict(lo, hi, tolerance):
    if 1 - tolerance <= lo and hi <= 1 + tolerance:
        return "within"
    if hi < 1 - tolerance or lo > 1 + tolerance:
        return "beyond"
    return "not established"


def pass_ratios(cpp_rows, pytorch_rows, step):
    """Each pass that reached the configuration on both sides: PyTorch's median block over sedenergy's."""
    out = []
    for q, p in zip(cpp_rows, pytorch_rows):
        qb, pb = blocks([q], step), blocks([p], step)
        if qb and pb:
            out.append(statistics.median(pb) / statistics.median(qb))
    return out


def agreed(pooled, ratios, tolerance):
    """The pooled verdict where every pass's ratio says the same, else "not established"."""
    side = {"within": lambda r: abs(r - 1) <= tolerance, "beyond": lambda r: abs(r - 1) > tolerance}.get(pooled)
    if side is None or not all(map(side, ratios)) or (pooled == "beyond" and len({r > 1 for r in ratios}) > 1):
        return "not established"
    return pooled


def family_ratios(configs, rng):
    """{family: (median ratio, lo, hi, configurations)} and per-configuration rows, for one step's blocks
    (configs: {config: (family, cpp blocks, pytorch blocks)})."""
    ratio = {c: statistics.median(p) / statistics.median(q) for c, (_, q, p) in configs.items()}
    draws = {c: [] for c in configs}
    for _ in range(REPLICATES):
        for c, (_, q, p) in configs.items():
            draws[c].append(statistics.median(rng.choices(p, k=len(p))) /
                            statistics.median(rng.choices(q, k=len(q))))
    families = {}
    for c, (fam, _, _) in configs.items():
        families.setdefault(fam, []).append(c)
    out = {}
    for fam, cs in families.items():
        reps = sorted(statistics.median(draws[c][k] for c in cs) for k in range(REPLICATES))
        out[fam] = (statistics.median(ratio[c] for c in cs), percentile(reps, 0.025), percentile(reps, 0.975), cs)
    per_config = {c: (ratio[c], percentile(sorted(d), 0.025), percentile(sorted(d), 0.975)) for c, d in draws.items()}
    return out, per_config


def main():
    out, tolerance = sys.argv[1], float(os.environ.get("TOLERANCE", "0.05"))
    cpp, py = passes(out, "cpp"), passes(out, "pytorch")
    rng = random.Random(20261207)
    rows, summary, all_within = [], {"ratio": "PyTorch loop's energy per epoch / sedenergy's, NVML total-energy "
                                     "counter on both sides (measured); 95 % bootstrap interval over blocks",
                                     "tolerance": tolerance, "implementations": {}}, True
    for impl, by_config in sorted(cpp.items()):
        for step in STEPS:
            configs = {c: (next(r for r in rs if r)["family"], blocks(rs, step), blocks(py.get(impl, {}).get(c, []), step))
                       for c, rs in by_config.items()}
            configs = {c: v for c, v in configs.items() if v[1] and v[2]}
            if not configs:
                continue
            by_pass = {c: pass_ratios(by_config[c], py.get(impl, {}).get(c, []), step) for c in configs}
            fams, per_config = family_ratios(configs, rng)
            judged = {}
            for c, (r, lo, hi) in per_config.items():
                judged[c] = agreed(verdict(lo, hi, tolerance), by_pass[c], tolerance)
                rows.append([impl, step, c, configs[c][0], f"{statistics.median(configs[c][1]):.5g}",
                             f"{statistics.median(configs[c][2]):.5g}", f"{r:.4f}", f"{lo:.4f}", f"{hi:.4f}",
                             len(configs[c][1]), len(configs[c][2]), len(by_pass[c]),
                             f"{min(by_pass[c]):.4f}" if by_pass[c] else "", f"{max(by_pass[c]):.4f}" if by_pass[c] else "",
                             judged[c]])
            step_out = summary["implementations"].setdefault(impl, {}).setdefault(step, {})
            for fam, (r, lo, hi, cs) in sorted(fams.items()):
                pooled = verdict(lo, hi, tolerance)
                step_out[fam] = {"median_ratio": r, "lo": lo, "hi": hi, "configurations": cs,
                                 "verdict": pooled if all(judged[c] == pooled for c in cs) else "not established",
                                 "counterbalanced": all(len(by_pass[c]) >= 2 for c in cs)}
                all_within &= step_out[fam]["verdict"] == "within" and step_out[fam]["counterbalanced"]
    with open(f"{out}/energy_vs_pytorch.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["impl", "step", "config", "family", "cpp_j_per_epoch", "pytorch_j_per_epoch",
                    "ratio_pytorch_over_cpp", "lo", "hi", "cpp_blocks", "pytorch_blocks", "paired_passes",
                    "pass_ratio_min", "pass_ratio_max", "verdict"])
        w.writerows(rows)
    summary["all_families_within"] = all_within and bool(rows)
    json.dump(summary, open(f"{out}/energy_vs_pytorch.json", "w"), indent=1)
    print(json.dumps(summary, indent=1))
    if not rows:
        print("energy_vs_pytorch_summary: no block carries energy on both sides (no NVML counter?)", file=sys.stderr)
    return 0 if summary["all_families_within"] else 1


if __name__ == "__main__":
    sys.exit(main())
