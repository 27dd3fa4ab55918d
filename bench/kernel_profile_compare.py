"""Two Nsight Compute kernel timings side by side (scripts/gpu-implementations.sh OUTDIR profile): per kernel
name, instances and median GPU time (gpu__time_duration.sum, each kernel timed alone) on each side, so that a
step's difference has a kernel. Names are shortened to their function (templates and arguments dropped) to
match the sides. Usage: python3 bench/kernel_profile_compare.py CPP_KERNELS.csv PYTORCH_KERNELS.csv"""
import csv
import re
import statistics
import sys


def short(name):
    name = re.sub(r"\(.*", "", name)  # arguments
    depth, out = 0, []
    for ch in name:                   # template arguments
        depth += ch == "<"
        if depth == 0:
            out.append(ch)
        depth -= ch == ">"
    return "".join(out).replace("void ", "").strip()[-64:]


def read(path):
    """{short name: [ns, ...]} from ncu --csv --page raw (a header, a units row, one row per kernel)."""
    with open(path) as f:
        lines = [line for line in f if line.startswith('"')]
    times = {}
    for r in csv.DictReader(lines):
        try:
            ns = float(r["gpu__time_duration.sum"].replace(",", ""))
        except (KeyError, ValueError):
            continue  # the units row
        times.setdefault(short(r["Kernel Name"]), []).append(ns)
    return times


def main():
    cpp, py = read(sys.argv[1]), read(sys.argv[2])
    for path, rows in ((sys.argv[1], cpp), (sys.argv[2], py)):
        if not rows:
            sys.exit(f"kernel_profile_compare: no kernel timings in {path}")
    print(f"{'kernel':64s} {'cpp n':>6s} {'med us':>8s} {'py n':>6s} {'med us':>8s}")
    names = sorted(set(cpp) | set(py), key=lambda n: -(sum(cpp.get(n, [])) + sum(py.get(n, []))))
    cell = lambda v: f"{len(v):6d} {statistics.median(v) / 1e3:8.2f}" if v else f"{'-':>6s} {'-':>8s}"
    for n in names:
        print(f"{n:64s} {cell(cpp.get(n))} {cell(py.get(n))}")
    for side, rows in (("cpp", cpp), ("pytorch", py)):
        total = sum(sum(v) for v in rows.values())
        print(f"{side}: {sum(len(v) for v in rows.values())} kernels, {total / 1e6:.2f} ms of kernel time")


main()
