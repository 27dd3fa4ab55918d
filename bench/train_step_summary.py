#!/usr/bin/env python3
"""The summary of bench/train_step_vs_pytorch.sh's passes in OUTDIR: train_step_vs_pytorch.csv (one row per
implementation, configuration and step, with each side's kernels per step) and train_step_summary.json (per implementation, step and family:
the median ratio PyTorch / C++ of the same implementation, and C++ against PyTorch eager foreach).
Usage: python3 bench/train_step_summary.py OUTDIR"""
import glob
import json
import re
import statistics
import sys


def passes(out, side):
    """{impl: {config: [row of pass 1, row of pass 2, ...]}} (None where a pass did not reach it)."""
    found = {}
    for f in sorted(glob.glob(f"{out}/train_step_{side}_*_pass*.jsonl")):
        impl = re.match(rf".*/train_step_{side}_(.+)_pass\d+\.jsonl$", f).group(1)
        found.setdefault(impl, []).append({r["config"]: r for r in map(json.loads, open(f))})
    return {impl: {c: [run.get(c) for run in runs] for c in runs[0]} for impl, runs in found.items()}


def kernels(rows, step):
    """Kernels per step (counted on a captured graph; -1 or empty: not counted) of the first pass that has it."""
    return next((r[f"{step}_kernels_per_step"] for r in rows if r and f"{step}_kernels_per_step" in r), "")


def median(rows, field):
    return statistics.median(r[field] for r in rows if r)


def main():
    out = sys.argv[1]
    cpp, py = passes(out, "cpp"), passes(out, "pytorch")
    lines = ["impl,step,config,family,cpp_ms,pytorch_ms,ratio_pytorch_over_cpp,paired_passes,pass_ratio_min,"
             "pass_ratio_max,ratio_cpp_first,ratio_pytorch_first,verdict,pytorch_eager_foreach_ms,speedup_over_pytorch_eager,cpp_kernels,pytorch_kernels"]
    summary = {"ratio": "PyTorch step time / C++ step time of the same implementation, medians over the passes "
                        "(> 1: C++ faster); speedup: PyTorch eager foreach (pytorch-default's PyTorch side) time / C++ time; "
                        "sedenergy's side of an implementation spelled .../python is its Python loop",
               "implementations": {}}
    # PyTorch's side of either is the same plain eager foreach loop (pytorch_train_step.py drops /python).
    eager = py.get("pytorch-default") or py.get("libtorch-default") or {}
    for impl, configs in sorted(cpp.items()):
        fam, verdicts = {}, {}
        for field, step in (("step_ms", "train"), ("test_step_ms", "test")):
            for c, rows in configs.items():
                other = py.get(impl, {}).get(c)
                if not other or not any(other):
                    continue
                pair = [p[field] / q[field] for p, q in zip(other, rows) if p and q]
                # Passes 1, 3, ... ran C++ first, 2, 4, ... PyTorch first (train_step_vs_pytorch.sh).
                indexed = [(k, p[field] / q[field]) for k, (p, q) in enumerate(zip(other, rows)) if p and q]
                by_order = [statistics.median([v for k, v in indexed if k % 2 == first]) if any(k % 2 == first for k, _ in indexed)
                            else None for first in (0, 1)]
                ratio = median(other, field) / median(rows, field)
                verdict = "faster" if min(pair) > 1 else "slower" if max(pair) < 1 else "parity within pass-to-pass noise"
                verdicts.setdefault(step, {}).setdefault(verdict, []).append(c)
                base = median(eager[c], field) if c in eager else None
                speedup = base / median(rows, field) if base else None
                f = fam.setdefault(step, {}).setdefault(rows[0]["family"], {"ratios": [], "speedups": []})
                f["ratios"].append(ratio)
                if speedup:
                    f["speedups"].append(speedup)
                lines.append(f'{impl},{step},{c},{rows[0]["family"]},{median(rows, field):.4f},{median(other, field):.4f},'
                             f'{ratio:.4f},{len(pair)},{min(pair):.4f},{max(pair):.4f},'
                             f'{",".join("" if v is None else f"{v:.4f}" for v in by_order)},{verdict},'
                             f'{base if base is None else f"{base:.4f}"},{speedup if speedup is None else f"{speedup:.3f}"},'
                             f'{kernels(rows, step)},{kernels(other, step)}')
        summary["implementations"][impl] = {
            "spelled": next(iter(configs.values()))[0]["spelled"],
            "passes": len(next(iter(configs.values()))),
            "families": {step: {f: {"n": len(v["ratios"]), "median_ratio": statistics.median(v["ratios"]),
                                    "min_ratio": min(v["ratios"]),
                                    "median_speedup_over_pytorch_eager": statistics.median(v["speedups"]) if v["speedups"] else None}
                                for f, v in sorted(fams.items())} for step, fams in fam.items()},
            "verdicts": {step: {k: {"n": len(v), "configs": v} for k, v in sorted(vs.items())} for step, vs in verdicts.items()}}
    open(f"{out}/train_step_vs_pytorch.csv", "w").write("\n".join(lines) + "\n")
    json.dump(summary, open(f"{out}/train_step_summary.json", "w"), indent=1)
    print("\n".join(lines))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
