#!/usr/bin/env bash
# The report in a real browser: a small study on the CPU, its report opened by headless Chromium.
# Checks: every chart rendered exactly its points, no script error and no console error, and a
# screenshot of the page at the requested size that is not blank. Usage: report_in_browser.sh SEDENERGY_BIN
set -euo pipefail
BIN="${1:?usage: $0 path/to/sedenergy}"
CHROME="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$CHROME" ]; then
  echo "FAIL: no Chromium found (scripts/bootstrap.sh installs the Debian package 'chromium')" >&2
  exit 1
fi
WORK="$(mktemp -d /tmp/sedenergy-browser.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
"$BIN" study --device cpu --grid mlp:1x16,mlp:1x64,cnn:1x4,cnn:1x8,rnn:1x16,rnn:1x32,crnn:1x1:4x4,crnn:1x1:8x8 \
  --clips 8 --min-window 0 --warmup-steps 0 --repetitions 2 --out "$WORK/study" > "$WORK/study.log" 2>&1 \
  || { tail -20 "$WORK/study.log"; exit 1; }
FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --user-data-dir="$WORK/profile" --virtual-time-budget=30000)
fail=0
# A report page in Chromium: at least MIN charts, each drew exactly its points, no script or console error.
check_page() {
  local html="$1" min="$2" prefix="$3"
  timeout 120 "$CHROME" "${FLAGS[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$html" \
    > "$WORK/dom.html" 2> "$WORK/console.log" || true
  local charts rendered errors
  charts=$(grep -o 'data-expected-points="[0-9]*"' "$WORK/dom.html" | wc -l)
  rendered=$(grep -o 'data-charts-rendered="[0-9]*"' "$WORK/dom.html" | grep -o '[0-9]*' || echo none)
  errors=$(grep -o 'data-errors="[0-9]*"' "$WORK/dom.html" | grep -o '[0-9]*' || echo none)
  echo "$(basename "$(dirname "$html")")/$(basename "$html"): charts: $charts, rendered: $rendered, script errors: $errors"
  [ "$charts" -ge "$min" ] || { echo "FAIL: expected at least $min charts"; fail=1; }
  [ "$rendered" = "$charts" ] || { echo "FAIL: not every chart rendered"; fail=1; }
  [ "$errors" = "0" ] || { echo "FAIL: script errors"; fail=1; }
  while read -r id expected got; do
    echo "  $id: $got of $expected points"
    [ "$expected" = "$got" ] || { echo "FAIL: $id drew $got points, expected $expected"; fail=1; }
  done < <(grep -o "id=\"$prefix-[a-z0-9-]*\" data-expected-points=\"[0-9]*\"[^>]*data-rendered-points=\"[0-9]*\"" "$WORK/dom.html" \
           | sed -E 's/id="([^"]*)" data-expected-points="([0-9]*)".*data-rendered-points="([0-9]*)"/\1 \2 \3/')
  if grep -E 'CONSOLE.*(Error|error|Uncaught)' "$WORK/console.log"; then echo "FAIL: console errors"; fail=1; fi
}
HTML="$WORK/study/report/report.html"
check_page "$HTML" 6 c
# The report of the user's own runs: two measured programs recorded in one file (energy and timeline charts).
for s in 0.6 0.3; do
  "$BIN" measure --out "$WORK/m" --db "$WORK/mine.db" --period 0.05 -- sleep $s > /dev/null 2>&1 || { echo "FAIL: measure"; exit 1; }
done
"$BIN" report "$WORK/mine.db" -o "$WORK/mine" > /dev/null || { echo "FAIL: report of user runs"; exit 1; }
check_page "$WORK/mine/report.html" 3 u
# Screenshot: a PNG of the requested size, large enough to hold drawn charts rather than a blank page.
timeout 120 "$CHROME" "${FLAGS[@]}" --window-size=1280,2200 --screenshot="$WORK/page.png" "file://$HTML" \
  > /dev/null 2>&1 || true
[ -s "$WORK/page.png" ] || { echo "FAIL: no screenshot"; exit 1; }
sig=$(od -An -tx1 -N8 "$WORK/page.png" | tr -d ' \n')
width=$((16#$(od -An -tx1 -j16 -N4 "$WORK/page.png" | tr -d ' \n')))
height=$((16#$(od -An -tx1 -j20 -N4 "$WORK/page.png" | tr -d ' \n')))
size=$(stat -c %s "$WORK/page.png")
echo "screenshot: ${width}x${height}, $size bytes"
[ "$sig" = "89504e470d0a1a0a" ] || { echo "FAIL: not a PNG"; fail=1; }
[ "$width" = 1280 ] && [ "$height" = 2200 ] || { echo "FAIL: screenshot size"; fail=1; }
[ "$size" -gt 60000 ] || { echo "FAIL: screenshot looks blank ($size bytes)"; fail=1; }
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
