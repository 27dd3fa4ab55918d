#!/usr/bin/env bash
# scripts/pinned-finish.sh on packs made as gpu-pinned-study.sh makes them, from two committed GPU databases
# (the H100's and the H200's paper43) and a third sweep cut by the call's limit, and on bench packs as
# gpu-pinned-bench.sh makes them, one with its summary and one after its first pass. Asserts: the finished
# ones become folders (the studies with their reports, no HTML), the joint reports read those two databases
# only, every report registered once (a second run adds nothing), the unfinished ones left packs, named with
# how far they got, exit 1; bad input refused by name, exit 2.
# Usage: tests/scripts/pinned_finish.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# pack NAME DB LAST_EXIT: a pack as the pinned call leaves it (store, logs, machine description).
pack() {
  local dir="$T/src-$1"
  mkdir -p "$dir/study"
  cp "$2" "$dir/study/results.db"
  printf '== 2026-12-07T23:23:49Z build-cuda/sedenergy study --config paper43\n== 2026-12-07T23:30:44Z exit %s\n' \
    "$3" > "$dir/study.log"
  echo "machine of $1" > "$dir/machine.txt"; echo built > "$dir/build.log"
  tar czf "$T/sweep/paper43-0123456789ab-$1.tgz" -C "$dir" .
}
mkdir -p "$T/sweep"
pack h100 "$SRC/results/h100-paper43-2026-11-27/results.db" 0
pack h200 "$SRC/results/h200-paper43-2026-11-30/study/results.db" 0
pack a100 "$SRC/results/h200-smoke-2026-11-30/stop/results.db" 124
# bench_pack MODEL PASSES [summary]: a bench pack after PASSES passes, with its summary if asked.
bench_pack() {
  local dir="$T/bench-$1" r
  mkdir -p "$dir/bench"
  for r in $(seq 1 "$2"); do echo '{"config": "mlp:1x16"}' > "$dir/bench/train_step_cpp_pytorch-default_pass$r.jsonl"
    echo "$r 412" >> "$dir/passes.txt"; done
  [ -z "${3:-}" ] || echo "summary" > "$dir/bench-summary.log"
  mkdir -p "$T/bench" && tar czf "$T/bench/refbench-0123456789ab-$1.tgz" -C "$dir" .
}
bench_pack h100 2 summary
bench_pack h200 1
echo "# reports" > "$T/reports.txt"
cd "$SRC"

rc=0; scripts/pinned-finish.sh "$T/sweep" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$T/log"; fail "exit $rc with one sweep unfinished, expected 1"; }
grep -q "paper43-0123456789ab-a100.tgz: not finished (last call: == .* exit 124; runs so far: 2 interrupted)$" "$T/log" \
  || { cat "$T/log"; fail "the unfinished sweep not named with its runs"; }
[ ! -e "$T/sweep/a100" ] || fail "an unfinished sweep was unpacked into the folder"
for model in h100 h200; do
  for f in results.db study.log machine.txt build.log report/summary.md report/runs.csv; do
    [ -s "$T/sweep/$model/$f" ] || fail "$model/$f missing"
  done
  cmp -s "$T/sweep/$model/results.db" "$(tar xzf "$T/sweep/paper43-0123456789ab-$model.tgz" -C "$T" ./study/results.db \
    && echo "$T/study/results.db")" || fail "$model/results.db is not the pack's"
done
for r in h100/report h200/report joint joint-net; do
  [ -s "$T/sweep/$r/summary.md" ] || fail "no $r/summary.md"
  [ ! -e "$T/sweep/$r/report.html" ] || fail "$r/report.html kept (regenerable)"
done
grep -q "NVIDIA H100" "$T/sweep/joint/summary.md" && grep -q "NVIDIA H200" "$T/sweep/joint/summary.md" \
  || fail "the joint report does not read both GPUs"
grep -q "^$T/sweep/joint-net --energy net $T/sweep/h100/results.db $T/sweep/h200/results.db$" "$T/reports.txt" \
  || { cat "$T/reports.txt"; fail "joint-net not registered with the two databases only"; }
[ "$(grep -vc '^#' "$T/reports.txt")" = 4 ] || { cat "$T/reports.txt"; fail "expected 4 reports registered"; }

rc=0; scripts/pinned-finish.sh "$T/sweep" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(grep -vc '^#' "$T/reports.txt")" = 4 ] || fail "a second run registered again (exit $rc)"

rc=0; scripts/pinned-finish.sh "$T/nowhere" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "$T/nowhere: no such folder" "$T/log" || { cat "$T/log"; fail "a missing folder: exit $rc"; }
mkdir "$T/empty"
rc=0; scripts/pinned-finish.sh "$T/empty" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "no NAME-COMMIT-MODEL.tgz pack" "$T/log" || { cat "$T/log"; fail "no pack: exit $rc"; }

rc=0; scripts/pinned-finish.sh "$T/bench" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "refbench-0123456789ab-h200.tgz: not finished (passes so far: 1)$" "$T/log" \
  || { cat "$T/log"; fail "a bench after one pass: exit $rc"; }
[ -s "$T/bench/h100/bench-summary.log" ] && [ -s "$T/bench/h100/bench/train_step_cpp_pytorch-default_pass2.jsonl" ] \
  || fail "the finished bench was not made into its folder"
[ ! -e "$T/bench/h200" ] || fail "an unfinished bench was unpacked into the folder"
[ "$(grep -vc '^#' "$T/reports.txt")" = 4 ] || fail "a bench registered a report"
echo "garbage" > "$T/bench/refbench-0123456789ab-a100.tgz"
rc=0; scripts/pinned-finish.sh "$T/bench" "$BUILD/sedenergy" "$T/reports.txt" > "$T/log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "refbench-0123456789ab-a100.tgz: not a readable pack" "$T/log" \
  || { cat "$T/log"; fail "a broken pack: exit $rc"; }
echo "pinned finish: ok"
