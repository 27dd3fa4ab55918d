#!/usr/bin/env bash
# The pinned GPU calls as the GPU sessions make them (scripts/gpu-pinned-next.sh over a task list, then
# scripts/pinned-bring-back.sh and scripts/pinned-finish.sh here), on the CPU: a checkout with a pinned tree
# (.at/COMMIT) whose build step links this build's programs (run with --device cpu; no machine description) and
# an nvidia-smi that names an H100, or the GPU FAKE_GPU names (the only fakes: no GPU here). Asserts what the
# sweeps rely on:
# - a call cut by its limit exits 124 with the runs before committed and the pack made, and its folder named;
# - the next call on a fresh node (the work folder gone) resumes the same session from the pack, ends it, and
#   goes on to the next task with the time left: the bench's two passes and its summary;
# - the finish step makes the folders; a call with nothing left for its GPU model runs nothing; a task another
#   model started, or one not listed for this model, is left alone;
# - a bench pass cut by the limit leaves nothing; one longer than the time left is not started.
# Usage: tests/scripts/pinned_study_cpu.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
PY=/usr/bin/python3; [ -x $PY ] || PY=python3   # Debian's interpreter, with its PyTorch
C=pinnedtest$$  # the scripts' work folders are /tmp/NAME-COMMIT-MODEL: one "commit" per test process
T=$(mktemp -d); trap 'rm -rf "$T" /tmp/sim-$C-h100 /tmp/refbench-$C-h100 /tmp/build-$C' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The checkout: this source's scripts, and a pinned tree whose build links this build's programs.
mkdir -p "$T/repo/scripts" "$T/repo/.deps" "$T/bin" "$T/packs" "$T/out"
cp "$SRC"/scripts/{gpu-pinned-next.sh,gpu-pinned-study.sh,gpu-pinned-common.sh,gpu-pinned-bench.sh} "$T/repo/scripts/"
cp "$SRC"/scripts/{pinned-bring-back.sh,pinned-finish.sh} "$T/repo/scripts/"
mkdir -p "$T/repo/.at/$C"
cp -r "$SRC/bench" "$SRC/python" "$SRC/scripts" "$T/repo/.at/$C/"
cat > "$T/repo/.at/$C/scripts/gpu-build.sh" <<EOF
#!/usr/bin/env bash
read -r -t 1 _ || true  # a step that reads its stdin, as a tool may: it must not get the dispatcher's task list
cd "\$(dirname "\$0")/.."
printf '#!/usr/bin/env bash\nargs=("\$@"); for i in "\${!args[@]}"; do [ "\${args[\$i]}" = cuda ] && args[\$i]=cpu; done\nexec $BUILD/sedenergy "\${args[@]}"\n' > build-cuda/sedenergy
chmod +x build-cuda/sedenergy
ln -sf "$BUILD/bench_train_step" build-cuda/bench_train_step
echo built
EOF
cat > "$T/repo/.at/$C/scripts/gpu-prepare.sh" <<'EOF'
#!/usr/bin/env bash
cd "$(dirname "$0")/.." && mkdir -p "$1" && scripts/gpu-build.sh > "$1/build.log" && echo "== $2" >> "$1/machine.txt"
EOF
chmod +x "$T/repo/.at/$C/scripts/"gpu-{build,prepare}.sh
printf '#!/bin/sh\necho "NVIDIA ${FAKE_GPU:-H100 80GB HBM3}"\n' > "$T/bin/nvidia-smi"
chmod +x "$T/bin/nvidia-smi"
export PATH="$T/bin:$PATH"
echo '{"name": "sim", "grid": "mlp:1x16,mlp:1x32", "repetitions": 10, "clips": 8, "min_window": 2, "cooldown": "0"}' \
  > "$T/sim.json"

export TASKS="$T/tasks.txt" DEVICE=cpu PYTHON=$PY CLIPS=16 BLOCKS=3 BLOCK_S=0.01 GRID=mlp:1x16,rnn:1x16
printf 'commit %s\nstudy %s sim results/h100-a100-sim h100,a100\nbench - refbench results/MODEL-refbench-DATE any\n' \
  $C "$T/sim.json" > "$TASKS"
STUDY=results/h100-a100-sim BENCH=results/h100-refbench-$(date -u +%F)
# call SECONDS: one GPU call into a fresh $T/out, its exit status in $rc and its output in $T/call.log.
call() {
  rm -rf "$T/out" && mkdir -p "$T/out"
  rc=0; (cd "$T/repo" && scripts/gpu-pinned-next.sh "$T/out" "$1") > "$T/call.log" 2>&1 || rc=$?
}
bring_back() {  # [FILES_AT, default $T/out]
  (cd "$T/repo" && scripts/pinned-bring-back.sh "${1:-$T/out}") > "$T/back.log" 2>&1 || { cat "$T/back.log"; fail "bring-back failed"; }
}

# Call 1: 103 s a call leaves the study about 62 s, too few for twenty runs of at least 4 s of windows each.
call 103
[ "$rc" = 124 ] || { cat "$T/call.log"; fail "call 1 exited $rc, expected 124 (cut by its limit)"; }
[ "$(cat "$T/out/packs.txt")" = "$STUDY sim-$C-h100.tgz" ] || fail "call 1's packs.txt: $(cat "$T/out/packs.txt")"
packed=$(tar tzf "$T/out/sim-$C-h100.tgz")
grep -qx './study/results.db' <<< "$packed" || fail "the pack holds no store"
! grep -qE '/(report|data|cache)/' <<< "$packed" || fail "the pack holds regenerable files"
grep -q "exit 124" "$T/call.log" || fail "call 1 did not say how it ended"
grep -q "refbench" "$T/call.log" && fail "call 1 went on to the bench with its study unfinished"
bring_back
grep -q "sim-$C-h100.tgz: last call: == .* exit 124; runs so far: .*[0-9] ok" "$T/back.log" \
  || { cat "$T/back.log"; fail "bring-back did not say where the study stands"; }

# Call 2 on a fresh node: the work folder is gone, the pack is in its folder. The study ends, then the bench
# runs both passes and its summary in the time left.
rm -rf "/tmp/sim-$C-h100"
call 500
[ "$rc" = 0 ] || { cat "$T/call.log"; fail "call 2 exited $rc, expected 0"; }
grep -q "pass 2 of 2" "$T/call.log" && grep -q "summary of 2 passes" "$T/call.log" \
  || { cat "$T/call.log"; fail "call 2 did not run the bench to its summary"; }
# The same warm node called again before the packs are brought back: its work folders say both are done.
mv "$T/out" "$T/out2"
call 300
[ "$rc" = 0 ] && grep -q "nothing left for the h100" "$T/call.log" || { cat "$T/call.log"; fail "a warm node redid done tasks"; }
bring_back "$T/out2"
grep -q "$BENCH/refbench-$C-h100.tgz: complete (passes so far: 1 2)" "$T/back.log" \
  || { cat "$T/back.log"; fail "the bench pack did not come back complete"; }
tar xzf "$T/repo/$STUDY/sim-$C-h100.tgz" -C "$T/out" ./study/results.db ./study.log
grep -q "resume: [1-9][0-9]* of 20 runs already finished" "$T/out/study.log" || { cat "$T/out/study.log"; fail "no resume"; }
$PY - "$T/out/study/results.db" <<'PYEOF' || fail "the resumed sweep is not one session with every repetition"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("select count(*) from sessions").fetchone()[0] == 1
done = set(db.execute("select config, repetition from runs where status = 'ok' and repetition <= 10"))
assert len(done) == 20, sorted(done)
PYEOF
echo "# reports" > "$T/reports.txt"
for folder in $STUDY $BENCH; do
  (cd "$T/repo" && scripts/pinned-finish.sh $folder "$BUILD/sedenergy" "$T/reports.txt") > "$T/finish.log" 2>&1 \
    || { cat "$T/finish.log"; fail "the finish step failed on $folder"; }
done
[ -s "$T/repo/$STUDY/h100/report/summary.md" ] || fail "the finish step made no study report"
[ -s "$T/repo/$BENCH/h100/bench/energy_vs_pytorch.csv" ] || fail "the finish step made no bench folder"
[ "$(ls "$T/repo/$BENCH/h100/bench/"train_step_*_pass*.jsonl | wc -l)" = 4 ] || fail "expected 4 pass files"
(cd "$T/repo" && scripts/pinned-bring-back.sh) > "$T/states.log" 2>&1 || { cat "$T/states.log"; fail "the states failed"; }
for want in "study .*: $STUDY/h100 finished" "study .*: not started on the a100" "bench -: $BENCH/h100 finished"; do
  grep -qx "$want" "$T/states.log" || { cat "$T/states.log"; fail "the tasks' states lack '$want'"; }
done

# Nothing left for the H100; an H200 may not take the H100's bench, nor a study listed for others.
call 300
[ "$rc" = 0 ] && grep -q "nothing left for the h100" "$T/call.log" && [ ! -e "$T/out/packs.txt" ] \
  || { cat "$T/call.log"; fail "a call with nothing left: exit $rc"; }
FAKE_GPU="H200" call 300
[ "$rc" = 0 ] && grep -q "nothing left for the h200" "$T/call.log" || { cat "$T/call.log"; fail "the H200 call: exit $rc"; }

# The bench alone: a pass cut by its limit leaves nothing; one longer than the time left is not started.
rm -rf "$T/packs" "/tmp/refbench-$C-h100" && mkdir -p "$T/packs" "$T/out"   # a fresh node, no pack
# 34 s a call leaves the pass 3-4 s, fewer than its 24 blocks of at least 0.2 s.
rc=0; (cd "$T/repo" && BLOCK_S=0.2 scripts/gpu-pinned-bench.sh $C "$T/packs" "$T/out" 34) > "$T/bench.log" 2>&1 || rc=$?
[ "$rc" = 124 ] && grep -q "pass 1 did not finish" "$T/bench.log" || { cat "$T/bench.log"; fail "a cut pass: exit $rc"; }
! tar tzf "$T/out/refbench-$C-h100.tgz" | grep -q 'train_step_.*jsonl' || fail "a cut pass left files"
mkdir -p "$T/p" && echo "1 400" > "$T/p/passes.txt" && tar czf "$T/packs/refbench-$C-h100.tgz" -C "$T/p" .
rm -rf "/tmp/refbench-$C-h100"  # a fresh node again, with that pack
rc=0; (cd "$T/repo" && scripts/gpu-pinned-bench.sh $C "$T/packs" "$T/out" 300) > "$T/bench.log" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q "pass 1 of 2 needs about 441 s, 2[0-9][0-9] s left" "$T/bench.log" \
  || { cat "$T/bench.log"; fail "a pass longer than the time left: exit $rc"; }
echo "pinned study and bench: ok"
