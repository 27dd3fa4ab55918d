#!/usr/bin/env bash
# scripts/gpu-pinned-study.sh and scripts/gpu-pinned-bench.sh as the GPU sessions call them, on the CPU: a
# checkout with a pinned tree (.at/COMMIT) whose build step links this build's programs (run with --device cpu;
# no machine description) and an nvidia-smi that names an H100 (the only fakes: no GPU here). Asserts what the
# sweeps rely on:
# - a call cut by its limit exits 124 with the runs before committed and the pack made;
# - the next call on a fresh node (the work folder gone) resumes the same session from the pack and ends 0;
# - the finish step makes the GPU model's folder from it;
# - the bench runs one pass a call, then the summary only; a pass cut by the limit leaves nothing.
# Usage: tests/scripts/pinned_study_cpu.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
PY=/usr/bin/python3; [ -x $PY ] || PY=python3   # Debian's interpreter, with its PyTorch
C=pinnedtest$$  # the scripts' work folders are /tmp/NAME-COMMIT-MODEL: one "commit" per test process
T=$(mktemp -d); trap 'rm -rf "$T" /tmp/sim-$C-h100 /tmp/refbench-$C-h100 /tmp/build-$C' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The checkout: this source's scripts, and a pinned tree whose build links this build's programs.
mkdir -p "$T/repo/scripts" "$T/repo/.deps" "$T/bin" "$T/packs" "$T/out"
cp "$SRC"/scripts/{gpu-pinned-study.sh,gpu-pinned-common.sh,gpu-pinned-bench.sh,pinned-study-finish.sh} "$T/repo/scripts/"
mkdir -p "$T/repo/.at/$C"
cp -r "$SRC/bench" "$SRC/python" "$SRC/scripts" "$T/repo/.at/$C/"
cat > "$T/repo/.at/$C/scripts/gpu-build.sh" <<EOF
#!/usr/bin/env bash
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
printf '#!/bin/sh\necho "NVIDIA H100 80GB HBM3"\n' \
  > "$T/bin/nvidia-smi"
chmod +x "$T/bin/nvidia-smi"
export PATH="$T/bin:$PATH"
echo '{"name": "sim", "grid": "mlp:1x16,mlp:1x32", "repetitions": 10, "clips": 8, "min_window": 2, "cooldown": "0"}' \
  > "$T/sim.json"

# Call 1: 103 s a call leaves the study about 62 s, too few for twenty runs of at least 4 s of windows each.
rc=0; (cd "$T/repo" && scripts/gpu-pinned-study.sh "$T/sim.json" $C "$T/packs" "$T/out" 103) > "$T/call1.log" 2>&1 || rc=$?
[ "$rc" = 124 ] || { cat "$T/call1.log"; fail "call 1 exited $rc, expected 124 (cut by its limit)"; }
[ -s "$T/out/sim-$C-h100.tgz" ] || fail "call 1 left no pack"
packed=$(tar tzf "$T/out/sim-$C-h100.tgz")
grep -qx './study/results.db' <<< "$packed" || fail "the pack holds no store"
! grep -qE '/(report|data|cache)/' <<< "$packed" || fail "the pack holds regenerable files"
grep -q "exit 124" "$T/call1.log" || fail "call 1 did not say how it ended"

# Call 2 on a fresh node: the work folder is gone, the pack is in PACKDIR.
mv "$T/out/sim-$C-h100.tgz" "$T/packs/"
rm -rf "/tmp/sim-$C-h100"
rc=0; (cd "$T/repo" && scripts/gpu-pinned-study.sh "$T/sim.json" $C "$T/packs" "$T/out" 300) > "$T/call2.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$T/call2.log"; fail "call 2 exited $rc, expected 0 (complete)"; }
mv "$T/out/sim-$C-h100.tgz" "$T/packs/"
tar xzf "$T/packs/sim-$C-h100.tgz" -C "$T/out" ./study/results.db ./study.log
grep -q "resume: [1-9][0-9]* of 20 runs already finished" "$T/out/study.log" || { cat "$T/out/study.log"; fail "no resume"; }
$PY - "$T/out/study/results.db" <<'PYEOF' || fail "the resumed sweep is not one session with every repetition"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("select count(*) from sessions").fetchone()[0] == 1
done = set(db.execute("select config, repetition from runs where status = 'ok' and repetition <= 10"))
assert len(done) == 20, sorted(done)
PYEOF
echo "# reports" > "$T/reports.txt"
(cd "$T/repo" && scripts/pinned-study-finish.sh "$T/packs" "$BUILD/sedenergy" "$T/reports.txt") > "$T/finish.log" 2>&1 \
  || { cat "$T/finish.log"; fail "the finish step failed"; }
[ -s "$T/packs/h100/report/summary.md" ] || fail "the finish step made no report"

# The bench: pass 1, then pass 2 with the summary, then the summary only; a pass cut by its limit leaves nothing.
export DEVICE=cpu PYTHON=$PY CLIPS=16 BLOCKS=3 BLOCK_S=0.01 GRID=mlp:1x16,rnn:1x16
for want in "pass 1 of 2" "pass 2 of 2" "the summary only"; do
  rm -rf "$T/out"/*
  (cd "$T/repo" && scripts/gpu-pinned-bench.sh $C "$T/packs" "$T/out" 300) > "$T/bench.log" 2>&1 || true
  grep -q "$want" "$T/bench.log" || { cat "$T/bench.log"; fail "the bench call did not run $want"; }
  summarised=no; grep -q "summary of 2 passes" "$T/bench.log" && summarised=yes
  [ "$summarised" = "$([ "$want" = "pass 1 of 2" ] && echo no || echo yes)" ] \
    || { cat "$T/bench.log"; fail "$want: summary $summarised"; }
  mkdir -p "$T/packs/h100" && cp -r "$T/out/h100/." "$T/packs/h100/"
done
[ -s "$T/packs/h100/bench/energy_vs_pytorch.csv" ] || fail "no summary of the bench"
[ "$(ls "$T/packs/h100/bench/"train_step_*_pass*.jsonl | wc -l)" = 4 ] || fail "expected 4 pass files"
rm -rf "$T/packs/h100/bench" "$T/out"/*
# 34 s a call leaves the pass 3-4 s, fewer than its 24 blocks of at least 0.2 s.
rc=0; (cd "$T/repo" && BLOCK_S=0.2 scripts/gpu-pinned-bench.sh $C "$T/packs" "$T/out" 34) > "$T/bench.log" 2>&1 || rc=$?
[ "$rc" = 124 ] && grep -q "pass 1 did not finish" "$T/bench.log" || { cat "$T/bench.log"; fail "a cut pass: exit $rc"; }
! ls "$T/out/h100/bench/"train_step_*.jsonl > /dev/null 2>&1 || fail "a cut pass left files"
echo "pinned study and bench: ok"
