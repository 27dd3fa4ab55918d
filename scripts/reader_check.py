#!/usr/bin/env python3
"""A careful reader's recomputation of a study report (issue 33: "a careful reader's recomputation from the
databases gives the same words as the report").

Reads the study databases with SQLite alone (no sedenergy code), recomputes what a reader can recompute
without the report's random draws, and compares it with the report's analysis.json:
  - each configuration's point: repetitions, median energy per epoch, median power (runs_summary), a name
    that ran in both loops read as two implementations (its C++ loop's runs as '<name> (C++ loop)');
  - the energy-per-FLOP ranking and its values (per_flop), per GPU and phase;
  - the power gap per family: training minus testing power, mean over configurations (power_gap);
  - the two trends: each group's log-log least-squares line, the ratio at the low end, middle and high end of
    the shared FLOPs range, and the slopes (two_trends);
  - the predictors a reader can refit (FLOPs, parameters, both): each family's energy predicted by a log-log fit
    on the other families', the median and mean error and each family's (predictors, and the finding's "for
    FLOPs alone");
  - the words: each two-trends finding's verdict from the table's intervals, the software choice against the
    family (software_choices and two_trends: the factors, their ratio, the word from its stated interval), and
    each cross-check's verdict (by_gpu, by_baseline) from its quantities' intervals and their contrasts' with
    the first analysis, by the rule the report states, and each contrast's value (a ratio or a difference).
Bootstrap intervals are not recomputed (they depend on the report's draws): only the words that follow from
them are. Only gross GPU energy (`sedenergy report` without --energy) is recomputed.

Usage: reader_check.py ANALYSIS_JSON DB [DB ...]    exit 0: every check agrees; 1: some disagree; 2: bad input.
"""
import json
import math
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REL = 1e-9  # the report's numbers are stored at full precision: recomputed ones agree to rounding
FAMILIES_A, FAMILIES_B = ("MLP", "RNN"), ("CNN", "CRNN")


class BadInput(Exception):
    pass


def columns(db, table):
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def read_rows(path):
    """Every measured phase of every run, as the reader sees it: one dict per (run, phase)."""
    if not Path(path).is_file():
        raise BadInput(f"{path}: no such file")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        have = columns(db, "runs")
        if not {"config", "status"} <= have or "gpu_energy_j" not in columns(db, "phases"):
            raise BadInput(f"{path}: not a sedenergy study database (no runs/phases tables)")
        impl = "r.impl" if "impl" in have else "''"  # before schema 5: every run is 'default'
        spec = "r.spec_json" if "spec_json" in have else "''"
        sql = f"""SELECT s.gpu_name, r.config, r.family, COALESCE(r.variant, r.config), COALESCE(r.frames, 0),
                         {impl}, r.status, p.phase, p.gpu_energy_j, p.energy_j, p.duration_s, p.gpu_power_w,
                         p.gpu_method, r.train_flops_per_epoch, r.test_flops_per_epoch, r.params, {spec}
                  FROM runs r JOIN sessions s ON s.id = r.session_id JOIN phases p ON p.run_id = r.id"""
        out = []
        for (gpu, config, family, variant, frames, im, status, phase, gpu_j, all_j, dur, power, method, trf,
             tef, params, spec_json) in db.execute(sql):
            out.append(dict(gpu=gpu or "cpu", config=config, family=family, variant=variant or config, frames=frames,
                            impl=im or "default", status=status, phase=phase, gpu_j=gpu_j, all_j=all_j, dur=dur,
                            power=power, method=method or "", flops=trf if phase == "train" else tef,
                            params=params, python=python_loop(spec_json)))
        return out
    except sqlite3.DatabaseError as e:
        raise BadInput(f"{path}: {e}") from e


def python_loop(spec_json):
    """Whether the run's recorded implementation spelling says the Python loop (".../python")."""
    try:
        spelled = json.loads(spec_json).get("impl", "") if spec_json else ""
    except (ValueError, AttributeError):
        spelled = ""
    return isinstance(spelled, str) and spelled.endswith("/python")


def loops_apart(rows):
    """A name that ran in both loops (pytorch-default: the C++ loop before 2026-12-07, Python since): the C++
    loop's runs read as '<name> (C++ loop)', variant too where the name was in it."""
    kinds = defaultdict(set)
    for r in rows:
        kinds[r["impl"]].add(r["python"])
    for r in rows:
        if len(kinds[r["impl"]]) > 1 and not r["python"]:
            renamed = r["impl"] + " (C++ loop)"
            r["variant"] = r["variant"].replace("impl " + r["impl"], "impl " + renamed)
            r["impl"] = renamed
    return rows


def points_of(rows):
    """Each configuration's point per GPU, input length and phase: the median over its repetitions."""
    ok = [r for r in rows if r["status"] == "ok" and r["phase"]]
    if ok and not all(r["method"] for r in ok):
        raise BadInput("some runs have no GPU energy counter: the report shows estimated energy, not recomputed here")
    groups = defaultdict(list)
    for r in ok:
        groups[(r["gpu"], r["variant"], r["frames"], r["phase"])].append(r)
    points = []
    for (gpu, variant, frames, phase), g in groups.items():
        e = [r["gpu_j"] for r in g]
        w = [r["power"] if r["power"] and r["power"] > 0 else r["all_j"] / r["dur"] for r in g]
        p = dict(gpu=gpu, variant=variant, frames=frames, phase=phase, config=g[0]["config"], family=g[0]["family"],
                 impl=g[0]["impl"], flops=g[0]["flops"], params=g[0]["params"], n=len(e), energy=float(np.median(e)),
                 mean=float(np.mean(e)), power=float(np.median(w)))
        if p["energy"] > 0 and math.isfinite(p["energy"]):
            points.append(p)
    return points


def reference(points):
    """The implementation the model findings read: pytorch-default, else default, else the commonest."""
    count = defaultdict(int)
    for p in points:
        count[p["impl"]] += 1
    for preferred in ("pytorch-default", "default"):
        if preferred in count:
            return preferred
    return max(count, key=count.get)


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, []

    def same(self, what, mine, theirs, rel=REL):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (mine, theirs)):
            ok = mine == theirs
        else:
            ok = math.isclose(mine, theirs, rel_tol=rel, abs_tol=1e-12)
        if ok:
            self.passed += 1
        else:
            self.failed.append(f"{what}: recomputed {mine!r}, report {theirs!r}")
        return ok


def table(analysis, name):
    t = analysis["tables"].get(name)
    return t["rows"] if t else []


def check_points(points, analysis, c):
    mine = {(p["gpu"], p["variant"], p["phase"]): p for p in points}
    for row in table(analysis, "runs_summary"):
        key = (row["gpu"], row["variant"], row["phase"])
        p = mine.get(key)
        if not c.same(f"runs_summary {key}: present", p is not None, True):
            continue
        c.same(f"runs_summary {key}: repetitions", p["n"], row["repetitions"])
        c.same(f"runs_summary {key}: median energy", p["energy"], row["energy_median_j"])
        c.same(f"runs_summary {key}: mean energy", p["mean"], row["energy_mean_j"])
        c.same(f"runs_summary {key}: median power", p["power"], row["mean_power_w"])


def by_gpu_phase(points, ref):
    out = defaultdict(list)
    for p in points:
        if p["impl"] == ref:
            out[(p["gpu"], p["phase"])].append(p)
    return out


def row_gpu(row, groups):
    """The GPU a per-GPU table's row is of: its gpu column, which a report of one GPU does not have."""
    return row.get("gpu") or next(iter(groups))[0]


def check_per_flop(groups, analysis, c):
    theirs = defaultdict(list)
    for row in table(analysis, "per_flop"):
        theirs[(row_gpu(row, groups), row["phase"])].append(row)
    for (gpu, phase), pts in groups.items():
        pts = sorted((p for p in pts if p["flops"] and p["flops"] > 0), key=lambda p: -p["energy"] / p["flops"])
        if len(pts) < 2:  # nothing to rank
            pts = []
        rows = sorted(theirs.get((gpu, phase), []), key=lambda r: r["rank"])
        c.same(f"per_flop {gpu} {phase}: configurations ranked", len(pts), len(rows))
        for p, row in zip(pts, rows):
            c.same(f"per_flop {gpu} {phase} rank {row['rank']}", p["variant"], row["config"])
            c.same(f"per_flop {gpu} {phase} {p['variant']}: nJ per FLOP", 1e9 * p["energy"] / p["flops"],
                   row["nj_per_flop"])


def check_power_gap(groups, analysis, c):
    pairs = defaultdict(dict)
    for pts in groups.values():
        for p in pts:
            pairs[(p["gpu"], p["family"], p["variant"], p["frames"])][p["phase"]] = p["power"]
    gaps = defaultdict(list)
    for (gpu, family, _, _), ph in pairs.items():
        if ph.get("train", 0) > 0 and ph.get("test", 0) > 0:
            gaps[(gpu, family)].append(ph["train"] - ph["test"])
    for row in table(analysis, "power_gap"):
        if row["gap_w"] is None:
            continue
        key = (row_gpu(row, groups), row["family"])
        g = gaps.get(key, [])
        c.same(f"power_gap {key}: configurations", len(g), row["n"])
        c.same(f"power_gap {key}: mean gap", float(np.mean(g)) if g else None, row["gap_w"])


def line(x, y):
    """Least squares y = a + b x: (a, b)."""
    b, a = np.polyfit(np.asarray(x), np.asarray(y), 1)
    return a, b


def trend_verdict(cis):
    """The two-trends finding's verdict from the intervals at the low end, middle and high end (its rule)."""
    nan = float("nan")  # an interval the report could not compute (null) lies on no side
    above = [(nan if lo is None else lo) > 1 for lo, _ in cis]
    below = [(nan if hi is None else hi) < 1 for _, hi in cis]
    if all(above) or all(below):
        return ("MLP/RNN lie " + ("above" if all(above) else "below") +
                " CNN/CRNN across the shared range, two distinct trends.")
    if any(above) and any(below):
        return "the trends cross inside the shared range."
    if not any(above) and not any(below):
        return "every interval includes 1, so a difference between the two trends is not established."
    where = [f"{pos} ({'above' if a else 'below'} 1)" for pos, a, b in zip(("low end", "middle", "high end"), above,
                                                                             below) if a or b]
    return "the difference is established only at the " + " and ".join(where) + "; elsewhere"


def check_two_trends(groups, analysis, c):
    findings = analysis["findings"]
    single = len({g for g, _ in groups}) == 1  # findings of one GPU are not prefixed by its name
    for row in table(analysis, "two_trends"):
        gpu = row_gpu(row, groups)
        pts = groups.get((gpu, row["phase"]), [])
        xy = {fam: [(math.log10(p["flops"]), math.log10(p["energy"])) for p in pts
                    if p["family"] in fam and p["flops"] and p["flops"] > 0] for fam in (FAMILIES_A, FAMILIES_B)}
        what = f"two_trends {gpu} {row['phase']}"
        if not c.same(f"{what}: points", (len(xy[FAMILIES_A]), len(xy[FAMILIES_B])), (row["n_mlp_rnn"], row["n_cnn_crnn"])):
            continue
        (aa, ba), (ab, bb) = (line(*zip(*xy[f])) for f in (FAMILIES_A, FAMILIES_B))
        c.same(f"{what}: slope MLP/RNN", ba, row["slope_mlp_rnn"], 1e-6)
        c.same(f"{what}: slope CNN/CRNN", bb, row["slope_cnn_crnn"], 1e-6)
        lo = max(min(x for x, _ in xy[f]) for f in (FAMILIES_A, FAMILIES_B))
        hi = min(max(x for x, _ in xy[f]) for f in (FAMILIES_A, FAMILIES_B))
        for pos, x in zip(("low", "mid", "high"), (lo, (lo + hi) / 2, hi)):
            c.same(f"{what}: FLOPs at the {pos}", 10 ** x, row[f"flops_{pos}"], 1e-9)
            c.same(f"{what}: ratio at the {pos}", 10 ** ((aa + ba * x) - (ab + bb * x)), row[f"ratio_{pos}"], 1e-6)
        words = trend_verdict([(row[f"ratio_{p}_ci_lo"], row[f"ratio_{p}_ci_hi"]) for p in ("low", "mid", "high")])
        prefix = ("" if single else gpu + ": ") + f"Two trends ({row['phase']}):"
        said = [f for f in findings if f.startswith(prefix)]
        c.same(f"{what}: the finding's words", bool(said) and words in said[0], True)


def largest_factor(ratios):
    """The largest factor its interval establishes among (value, lo, hi) ratios: a ratio below 1 counts as its
    inverse; None where every interval includes 1."""
    best = None
    for v, lo, hi in ratios:
        if None in (v, lo, hi):
            continue
        f = (v, lo, hi) if lo > 1 else (1 / v, 1 / hi, 1 / lo) if hi < 1 else None
        if f and (best is None or f[0] > best[0]):
            best = f
    return best


def software_words(software, trend, ref):
    """What the software-choice finding must say of one GPU and phase, up to its verdict: the software choice's
    largest established saving and the family's (the verdict follows from the interval of their ratio, which
    needs the report's draws: verdict_follows checks it). Returns (words, the factors' ratio), the ratio None
    where nothing is compared and the words are whole."""
    if not software:
        return f"no implementation but {ref} ran here, so no software choice is compared.", None
    family = largest_factor([(trend[f"ratio_{p}"], trend[f"ratio_{p}_ci_lo"], trend[f"ratio_{p}_ci_hi"])
                             for p in ("low", "mid", "high")])
    soft = largest_factor([(r["ratio_to_reference"], r["ratio_ci_lo"], r["ratio_ci_hi"]) for r in software])
    if not family:
        return "the family's factor at equal FLOPs is not established (every interval includes 1)", None
    if not soft:
        return "no software choice's saving is established beyond its interval.", None
    return (f"the software choice saves up to {soft[0]:.3g}x [{soft[1]:.3g}, {soft[2]:.3g}] on one model, the family "
            f"choice up to {family[0]:.3g}x [{family[1]:.3g}, {family[2]:.3g}]: the software choice's is "), soft[0] / family[0]


SOFTWARE_VERDICT = re.compile(r"(more than|less than|not established as more or less than) the family's \(software over "
                              r"family ([0-9.e+-]+)x(?: \[([0-9.e+-]+), ([0-9.e+-]+)\]|, no interval)\)\.")


def verdict_follows(rest, ratio):
    """The verdict after the words software_words gives: the stated ratio is the factors' ratio, and the word
    follows from its stated interval (more or less only when the interval excludes 1)."""
    m = SOFTWARE_VERDICT.match(rest)
    if not m or not math.isclose(float(m[2]), float(f"{ratio:.3g}"), rel_tol=1e-9):
        return False
    lo, hi = (float(m[3]), float(m[4])) if m[3] else (math.nan, math.nan)
    return m[1] == ("more than" if lo > 1 else "less than" if hi < 1 else "not established as more or less than")


def check_software_words(analysis, ref, c):
    software = table(analysis, "software_choices")
    if not software:
        return
    for trend in table(analysis, "two_trends"):
        phase, gpu = trend["phase"], trend.get("gpu")
        words, ratio = software_words([r for r in software if r["phase"] == phase and r["impl"] != ref and
                                       (gpu is None or r.get("gpu") == gpu)], trend, ref)
        said = [f for f in analysis["findings"] if f.startswith(f"Software choices ({phase}):")]
        part = next((seg for seg in (said[0].split(" Model choice at equal FLOPs")[1:] if said else [])
                     if seg.startswith(f", {gpu}:" if gpu else ":")), "")
        what = f"software_choices {gpu or ''} {phase}: against the family, the finding's words"
        c.same(what, words in part, True)
        if ratio is not None:
            c.same(what + " (verdict from the ratio's interval)", words in part and verdict_follows(part.split(words, 1)[1], ratio), True)


FAMILIES = ("MLP", "CNN", "RNN", "CRNN")  # the report's order in "by held-out family"
# The predictors a reader can refit with numpy alone: log10 energy on log10 of these columns, least squares.
SIMPLE_PREDICTORS = {"FLOPs": ("flops",), "parameters": ("params",), "FLOPs + parameters": ("flops", "params")}


def collinear(features):
    """True when the features' correlation matrix over these points is singular to 1e-12 (standardised)."""
    varying = features[:, features.std(axis=0) > 0]  # a constant column is the intercept's, and dropped
    z = (varying - varying.mean(axis=0)) / varying.std(axis=0)
    return bool(z.shape[1]) and float(np.linalg.eigvalsh(z.T @ z / len(z)).min()) < 1e-12


def held_out_errors(pts, columns):
    """Leave one family out: each family's points predicted by a log-log fit on the other families' points.
    A fit whose features are collinear on the other families (an MLP's parameters and FLOPs) is undetermined
    and predicts nothing. Returns (points fitted, absolute percentage errors, their families)."""
    pts = [p for p in pts if all(p[c] and p[c] > 0 for c in columns)]
    X = np.array([[1.0] + [math.log10(p[c]) for c in columns] for p in pts])
    y = np.array([math.log10(p["energy"]) for p in pts])
    fam = [p["family"] for p in pts]
    ape, of = [], []
    for held in sorted(set(fam)):
        train = [f != held for f in fam]
        if collinear(X[train][:, 1:]):
            continue
        coef = np.linalg.lstsq(X[train], y[train], rcond=None)[0]
        for i in (i for i, f in enumerate(fam) if f == held):
            e = pts[i]["energy"]
            ape.append(100 * abs(10 ** (X[i] @ coef) - e) / e)
            of.append(held)
    return len(pts), ape, of


def by_family_text(ape, fam):
    return "; ".join(f"{f} {float(np.median([a for a, g in zip(ape, fam) if g == f])):.0f} %" for f in FAMILIES
                     if f in fam)


def check_predictors(groups, analysis, c):
    for row in table(analysis, "predictors"):
        columns = SIMPLE_PREDICTORS.get(row["predictor"])
        pts = groups.get((row["gpu"], row["phase"]))
        if not columns or pts is None or row["median_ape_lofo_pct"] is None:
            continue
        n, ape, fam = held_out_errors(pts, columns)
        what = f"predictors {row['gpu']} {row['phase']} {row['predictor']}"
        c.same(f"{what}: points", n, row["n"])
        # 1e-4: a nearly collinear fit solved two ways (normal equations there, lstsq here) differs in the 6th digit
        c.same(f"{what}: median held-out error", float(np.median(ape)), row["median_ape_lofo_pct"], 1e-4)
        c.same(f"{what}: mean held-out error", float(np.mean(ape)), row["mape_lofo_pct"], 1e-4)
        c.same(f"{what}: by held-out family", by_family_text(ape, fam), row["median_ape_lofo_by_family"])
        if row["predictor"] == "FLOPs":
            said = [f for f in analysis["findings"] if f.startswith(f"Predictor ({row['phase']}, {row['gpu']})")
                    and " for FLOPs alone" in f]  # quoted only where a predictor could be chosen per family
            words = f"(mean {np.mean(ape):.0f} %; by held-out family: {by_family_text(ape, fam)}) for FLOPs alone"
            if said:
                c.same(f"{what}: the finding's words", words in said[0], True)


def cross_verdict(values, none):
    """A cross-check's verdict from its quantities and their contrasts with the first analysis (the rule in the
    report's by_gpu/by_baseline note)."""
    if none is None:
        return "holds" if len({v["text"] for v in values}) == 1 else "not established"
    if all(v["lo"] > none for v in values) or all(v["hi"] < none for v in values):
        return "holds"
    for v in values[1:]:
        no_contrast = 1.0 if is_ratio(v["contrast"]) else 0.0
        if v["contrast_lo"] is not None and (v["contrast_lo"] > no_contrast or v["contrast_hi"] < no_contrast):
            return "differs"
    return "not established"


def is_ratio(contrast):
    """Whether a contrast column names a ratio ("ratio to H100") rather than a difference ("minus H100")."""
    return contrast.startswith("ratio to ")


def contrast_value(value, first, contrast):
    """An analysis's value set against the first analysis's, as its contrast column names it."""
    return value / first if is_ratio(contrast) else value - first


def no_difference(quantity):
    """What 'no difference' is for a quantity: 0 for a gap or a correlation, 1 for a ratio or a slope, none
    for a ranking (a configuration's name)."""
    if quantity.startswith(("dearest", "cheapest")):
        return None
    return 0.0 if quantity.startswith(("training minus testing power", "Spearman")) else 1.0


def check_cross(analysis, c):
    for name, column in (("by_gpu", "gpu"), ("by_baseline", "baseline")):
        groups = defaultdict(list)
        for row in table(analysis, name):
            groups[row["quantity"]].append(dict(lo=row.get("ci_lo"), hi=row.get("ci_hi"), text=row.get("value"),
                                                verdict=row["verdict"], who=row[column], contrast=row.get("contrast"),
                                                contrast_value=row.get("contrast_value"),
                                                contrast_lo=row.get("contrast_ci_lo"), contrast_hi=row.get("contrast_ci_hi")))
        counts = defaultdict(int)
        for q, values in groups.items():
            mine = cross_verdict(values, no_difference(q))
            counts[mine] += 1
            for v in values:
                c.same(f"{name} '{q}' ({v['who']}): verdict", mine, v["verdict"])
            for v in values[1:] if no_difference(q) is not None else []:
                c.same(f"{name} '{q}' ({v['who']}): {v['contrast']}", contrast_value(v["text"], values[0]["text"], v["contrast"]),
                        v["contrast_value"])
        if groups:
            said = "; ".join(f for f in analysis["findings"] if f"Of {len(groups)} headline quantities" in f)
            c.same(f"{name}: the finding's counts", (f"holds {counts['holds']}, differs {counts['differs']}, "
                                                     f"not established {counts['not established']}") in said, True)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        try:
            analysis = json.loads(Path(argv[1]).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise BadInput(f"{argv[1]}: not a report's analysis.json ({e})") from e
        if not str(analysis.get("energy", "")).startswith("GPU energy per epoch"):
            raise BadInput(f"{argv[1]}: energy is '{analysis.get('energy')}': only gross GPU energy is recomputed")
        rows = loops_apart([r for path in argv[2:] for r in read_rows(path)])
        points = points_of(rows)
    except BadInput as e:
        print(f"reader_check: {e}", file=sys.stderr)
        return 2
    ref = reference(points)
    groups = by_gpu_phase(points, ref)
    c = Checks()
    check_points(points, analysis, c)
    check_per_flop(groups, analysis, c)
    check_power_gap(groups, analysis, c)
    check_two_trends(groups, analysis, c)
    check_software_words(analysis, ref, c)
    check_predictors(groups, analysis, c)
    check_cross(analysis, c)
    for f in c.failed:
        print("DIFFERS", f)
    print(f"{c.passed} checks agree, {len(c.failed)} differ ({len(rows)} phases of {len(argv) - 2} databases; "
          f"model findings read '{ref}')")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
