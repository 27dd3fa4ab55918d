#!/usr/bin/env bash
# libsedenergy as installed by `cmake --install`: the C example compiled against it with pkg-config and with
# CMake's find_package, each run from the install (not the build tree).
# Usage: tests/install/c_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cmake --install "$BUILD" --prefix "$T/prefix" > "$T/install.log"
LIBDIR=$(dirname "$(find "$T/prefix" -name 'libsedenergy.so.0' | head -1)")
PC=$(dirname "$(find "$T/prefix" -name sedenergy.pc | head -1)")
echo "installed: $(ls "$LIBDIR"/libsedenergy* | xargs -n1 basename | tr '\n' ' ')"
# pkg-config, with the prefix found relative to the .pc file
cc -o "$T/with_pkgconfig" "$SRC/examples/measure_example.c" $(PKG_CONFIG_PATH="$PC" pkg-config --cflags --libs sedenergy) \
  -Wl,-rpath,"$LIBDIR" -lm
"$T/with_pkgconfig" > "$T/out1"; head -1 "$T/out1"
# find_package
cmake -S "$SRC/examples/cmake-consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$T/prefix" -DCMAKE_BUILD_RPATH="$LIBDIR" > "$T/cfg.log"
cmake --build "$T/consumer" > "$T/build.log"
"$T/consumer/measure_example" > "$T/out2"; head -1 "$T/out2"
# both executables use the installed library
# (each tool's output is captured first: `tool | grep -q` fails under pipefail when grep stops reading early)
# Each check says what failed (under set -e a bare grep -q stops the script without a word).
uses_installed() {
  grep -q "$LIBDIR/libsedenergy.so.0" <<< "$(ldd "$1")" || { echo "FAIL: $1 does not load $LIBDIR/libsedenergy.so.0:"; ldd "$1"; exit 1; }
}
uses_installed "$T/with_pkgconfig"
uses_installed "$T/consumer/measure_example"
# The library brings its own C++ runtime and exports its C API alone: without either it crashed when loaded
# into a Python process beside PyTorch (its C++ symbols bound to another library's). Its own runtime: every
# symbol it leaves undefined at a libstdc++ version (GLIBCXX_*, CXXABI_*) comes from a libstdc++ it needs
# (a compiler that links libstdc++ statically, as the GPU node's does, leaves none).
cxx_undefined=$(nm -D --undefined-only "$LIBDIR/libsedenergy.so.0" | awk '{print $2}' | grep -E '@(GLIBCXX|CXXABI)_' |
  head -3 | tr '\n' ' ' || true)
if [ -n "$cxx_undefined" ] && ! grep -q 'NEEDED.*libstdc++' <<< "$(readelf -d "$LIBDIR/libsedenergy.so.0")"; then
  echo "FAIL: libsedenergy.so.0 leaves C++ runtime symbols undefined ($cxx_undefined) without needing libstdc++:"
  readelf -d "$LIBDIR/libsedenergy.so.0" | grep NEEDED
  exit 1
fi
extra=$(nm -D --defined-only "$LIBDIR/libsedenergy.so.0" | awk '{print $3}' | grep -v '^sed_' || true)
[ -z "$extra" ] || { echo "libsedenergy exports more than sed_*: $extra"; exit 1; }
echo "c_consumer: ok"
