"""Two Nsight Compute kernel timings side by side (scripts/gpu-implementations.sh OUTDIR profile): per kernel
name, instances and median GPU time (gpu__time_duration.sum, each kernel timed alone) on each side, so that a
step's difference has a kernel. Names are shortened to their function (templates and arguments dropped) to
match the sides. With --marker NAME (a kernel that runs once per training step, e.g. RNN_blockPersist_bp for a
cuDNN GRU's backward), also the median kernel time between consecutive launches of it: one step's GPU work.
Usage: python3 bench/kernel_profile_compare.py CPP_KERNELS.csv PYTORCH_KERNELS.csv [--marker NAME]"""
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


def launches(path):
    """[(kernel name, ns)] in launch order, from ncu --csv --page raw (a header, a units row, one row per kernel)."""
    with open(path) as f:
        lines = [line for line in f if line.startswith('"')]
    out = []
    for r in csv.DictReader(lines):
        try:
            out.append((r["Kernel Name"], float(r["gpu__time_duration.sum"].replace(",", ""))))
        except (KeyError, ValueError):
            continue  # the units row
    return out


def read(path):
    """{short name: [ns, ...]}."""
    times = {}
    for name, ns in launches(path):
        times.setdefault(short(name), []).append(ns)
    return times


def step_time(path, marker):
    """Median kernel time and kernel count between consecutive launches of the marker kernel."""
    seq = launches(path)
    at = [i for i, (name, _) in enumerate(seq) if marker in name]
    steps = [(sum(ns for _, ns in seq[a:b]), b - a) for a, b in zip(at, at[1:])]
    if not steps:
        return None
    return statistics.median(t for t, _ in steps), statistics.median(k for _, k in steps), len(steps)


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
    if "--marker" in sys.argv:
        marker = sys.argv[sys.argv.index("--marker") + 1]
        for side, path in (("cpp", sys.argv[1]), ("pytorch", sys.argv[2])):
            found = step_time(path, marker)
            print(f"{side}: no two launches of {marker}" if not found else
                  f"{side}: {found[0] / 1e3:.1f} us of kernel time and {found[1]:.0f} kernels between launches of "
                  f"{marker} (median of {found[2]})")


main()
