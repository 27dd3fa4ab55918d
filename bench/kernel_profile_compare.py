"""Two Nsight Systems kernel summaries side by side (scripts/gpu-implementations.sh OUTDIR profile):
per kernel name, instances and median GPU time on each side, so that a step's difference has a kernel.
Kernel names are shortened to their function name (templates and arguments dropped) to match the sides.
Usage: python3 bench/kernel_profile_compare.py CPP_KERNELS.csv PYTORCH_KERNELS.csv"""
import csv
import re
import sys
from collections import Counter


def short(name):
    name = re.sub(r"\(.*", "", name)          # arguments
    depth, out = 0, []
    for ch in name:                           # template arguments
        depth += ch == "<"
        if depth == 0:
            out.append(ch)
        depth -= ch == ">"
    return "".join(out).replace("void ", "").strip()[-70:]


def read(path):
    rows = {}
    with open(path) as f:
        lines = [line for line in f if "," in line]
    for r in csv.DictReader(lines):
        try:
            name = short(r["Name"])
            total, inst, med = float(r["Total Time (ns)"]), int(r["Instances"]), float(r["Med (ns)"])
        except (KeyError, ValueError):
            continue
        t, i, meds = rows.get(name, (0.0, 0, []))
        rows[name] = (t + total, i + inst, meds + [med])
    return rows


def main():
    cpp, py = read(sys.argv[1]), read(sys.argv[2])
    if not cpp or not py:
        sys.exit("kernel_profile_compare: an empty kernel summary (" + (sys.argv[1] if not cpp else sys.argv[2]) + ")")
    print(f"{'kernel':70s} {'cpp n':>8s} {'cpp med us':>10s} {'py n':>8s} {'py med us':>10s}")
    names = sorted(set(cpp) | set(py), key=lambda n: -(cpp.get(n, (0,))[0] + py.get(n, (0,))[0]))
    for n in names:
        c, p = cpp.get(n), py.get(n)
        cell = lambda v: (f"{v[1]:8d} {max(v[2]) / 1e3:10.2f}" if v else f"{'-':>8s} {'-':>10s}")
        print(f"{n:70s} {cell(c)} {cell(p)}")
    for side, rows in (("cpp", cpp), ("pytorch", py)):
        steps = Counter(i for _, i, _ in rows.values()).most_common(1)[0][0]
        total = sum(t for t, _, _ in rows.values())
        print(f"{side}: {total / 1e6:.1f} ms of kernels; most common instance count {steps} "
              f"(~steps): {total / steps / 1e3:.1f} us of kernels per such step")


main()
