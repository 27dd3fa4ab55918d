# Sourced by the GPU-node Python checks after scripts/gpu-prepare.sh: build-cuda installed into a fresh prefix,
# the package (pure Python, SEDENERGY_NO_LIBRARY_BUILD) into its own site folder, both on the environment.
# Needs OUT (its install.log goes there). Leaves PREFIX set.
PREFIX=/tmp/sedenergy-prefix
rm -rf "$PREFIX" /tmp/sedenergy-pkg /tmp/sedenergy-site
cmake --install build-cuda --prefix "$PREFIX" > "$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
cp -r python /tmp/sedenergy-pkg && SEDENERGY_NO_LIBRARY_BUILD=1 python3 -m pip install -q --no-index \
  --no-build-isolation --no-deps --target /tmp/sedenergy-site /tmp/sedenergy-pkg >> "$OUT/install.log" 2>&1 \
  || { tail "$OUT/install.log"; exit 1; }
export PYTHONPATH=/tmp/sedenergy-site SEDENERGY_LIBRARY="$PREFIX/lib/libsedenergy.so.0" PATH="$PREFIX/bin:$PATH"
export PYTHONUNBUFFERED=1
