#!/usr/bin/env bash
# Prepares what a GPU node WITHOUT network needs to build sedenergy: the Debian 12 packages it lacks
# (libsndfile and its codecs, libsamplerate, kissfft, SQLite headers), unpacked into .deps/prefix.
#
#   On a machine with Debian's archive (any Debian 12 host, no root needed for the download):
#     scripts/gpu-node-deps.sh download     # -> .deps/debs/*.deb
#   Copy the checkout (with .deps/) to the GPU node, then there:
#     scripts/gpu-node-deps.sh unpack       # -> .deps/prefix/usr/{include,lib}
#     scripts/gpu-build.sh                  # configure and build with PyTorch's LibTorch
#
# CMakeLists.txt picks .deps/prefix up by itself (include paths, libraries, rpath).
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=(
  libsndfile1 libsndfile1-dev libflac12 libvorbis0a libvorbisenc2 libogg0 libopus0 libmpg123-0 libmp3lame0
  libsamplerate0 libsamplerate0-dev libkissfft-dev libkissfft-float131 libsqlite3-dev
  libsqlite3-0   # the shared library libsqlite3-dev's .so points to: libsedenergy.so cannot take the static one
)
case "${1:-}" in
  download)
    mkdir -p .deps/debs
    (cd .deps/debs && apt-get download "${DEBS[@]}")
    ls -la .deps/debs
    ;;
  unpack)
    [ -d .deps/debs ] || { echo "no .deps/debs: run '$0 download' on a machine with Debian's archive first" >&2; exit 1; }
    rm -rf .deps/prefix
    mkdir -p .deps/prefix
    for f in .deps/debs/*.deb; do dpkg -x "$f" .deps/prefix; done
    echo "unpacked $(ls .deps/debs | wc -l) packages into .deps/prefix"
    ;;
  *)
    echo "usage: $0 download|unpack" >&2
    exit 2
    ;;
esac
