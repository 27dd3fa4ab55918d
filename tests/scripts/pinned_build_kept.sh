#!/usr/bin/env bash
# scripts/gpu-pinned-common.sh's enter_pinned keeps a warm node's build of a pinned tree: each call carries the
# tree anew (new mtimes), and with the same contents ninja must find nothing to do; with other contents the
# build starts afresh and takes them. A real CMake and ninja build of a one-file C program stands for sedenergy.
# Usage: tests/scripts/pinned_build_kept.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "$1" && pwd)
C=keptbuild$$  # enter_pinned builds in /tmp/build-COMMIT: one "commit" per test process
T=$(mktemp -d); trap 'rm -rf "$T" /tmp/build-$C' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/repo/scripts" "$T/repo/.deps" "$T/tree/scripts"
cp "$SRC/scripts/gpu-pinned-common.sh" "$T/repo/scripts/"
cat > "$T/tree/CMakeLists.txt" <<'CMEOF'
cmake_minimum_required(VERSION 3.20)
project(pinned C)
add_executable(hello main.c)
CMEOF
echo 'int main(void) { return 3; }' > "$T/tree/main.c"
cat > "$T/tree/scripts/gpu-build.sh" <<'SHEOF'
#!/usr/bin/env bash
cd "$(dirname "$0")/.." && cmake -G Ninja -S . -B build-cuda > /dev/null && cmake --build build-cuda
SHEOF
chmod +x "$T/tree/scripts/gpu-build.sh"
# call: the tree carried anew (cp gives every file a new mtime), entered, built; the build's output in $T/build.log.
call() {
  rm -rf "$T/repo/.at/$C" && mkdir -p "$T/repo/.at" && cp -r "$T/tree" "$T/repo/.at/$C"
  (cd "$T/repo" && source scripts/gpu-pinned-common.sh && enter_pinned $C && scripts/gpu-build.sh) > "$T/build.log" 2>&1 \
    || { cat "$T/build.log"; fail "the build failed"; }
}
exit_of_hello() { local rc=0; "/tmp/build-$C/hello" || rc=$?; echo $rc; }

call
grep -q "Linking C executable hello" "$T/build.log" || { cat "$T/build.log"; fail "the first call did not build"; }
sleep 1  # the next copy's mtimes lie after the first build's outputs
call
grep -q "no work to do" "$T/build.log" || { cat "$T/build.log"; fail "the same tree, carried again, was rebuilt"; }
[ "$(exit_of_hello)" = 3 ] || fail "the kept build's program is not the tree's"
echo 'int main(void) { return 4; }' > "$T/tree/main.c"
call  # enter_pinned dates every file back, so only the contents' checksum says main.c changed
grep -q "Linking C executable hello" "$T/build.log" || { cat "$T/build.log"; fail "a changed tree was not rebuilt"; }
[ "$(exit_of_hello)" = 4 ] || fail "the rebuilt program is not the changed tree's"
echo "pinned build kept: ok"
