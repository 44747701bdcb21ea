#!/usr/bin/env bash
# Renders a run folder's report and screenshots it with headless Chromium at 1280 px wide.
#
#   scripts/screenshot-report.sh RUN_DIR [OUT.png] [HEIGHT]
#   scripts/screenshot-report.sh --fixture [OUT.png] [HEIGHT]
#
# RUN_DIR is a folder written by `bayesnet run` (e.g. runs/digits-lenet5-flipout); the report is written
# to RUN_DIR/report.html and the screenshot to OUT.png (default RUN_DIR/report.png). --fixture first writes
# the synthetic run folder of the report tests to .build/report-fixture and uses that. HEIGHT is the
# window height in pixels (default: the whole page, measured first in a throwaway copy of it).
# Installs the Debian package `chromium` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 64
fi

run_dir="$1"
if [[ "$run_dir" == "--fixture" ]]; then
    run_dir="$PWD/.build/report-fixture"
    rm -rf "$run_dir"
    BAYESNET_REPORT_FIXTURE_DIR="$run_dir" swift test --filter 'ReportStructureTests/fixtureFolderHoldsEveryRunFile' \
        >/dev/null 2>&1 || { echo "error: could not write the fixture run folder (swift test failed)" >&2; exit 1; }
fi
if [[ ! -d "$run_dir" ]]; then
    echo "error: $run_dir is not a folder" >&2
    exit 1
fi
run_dir="$(cd "$run_dir" && pwd)"
out="${2:-$run_dir/report.png}"
height="${3:-}"

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

swift build --product bayesnet >/dev/null
"$(swift build --show-bin-path)/bayesnet" report "$run_dir" -o "$run_dir/report.html"

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: Chromium refuses to start as root otherwise (containers, CI).
browser=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile")
if [[ -z "$height" ]]; then
    # The report has no scripts; a copy with one that records the page height is measured instead.
    sed 's|</body>|<script>document.body.dataset.height = Math.ceil(document.documentElement.scrollHeight)</script></body>|' \
        "$run_dir/report.html" > "$profile/measure.html"
    height="$("${browser[@]}" --window-size=1280,1000 --dump-dom "file://$profile/measure.html" 2>/dev/null \
        | grep -o 'data-height="[0-9]*"' | grep -o '[0-9][0-9]*' || true)"
    height="${height:-3000}"
fi
"${browser[@]}" --window-size="1280,$height" --screenshot="$out" "file://$run_dir/report.html" 2>/dev/null
echo "wrote $out (1280 x $height)"
