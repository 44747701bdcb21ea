#!/usr/bin/env bash
# Builds one libFuzzer target from Fuzz/ (with AddressSanitizer) and runs it for SECONDS.
# Findings (crashes, hangs over 1 s, leaks, sanitizer reports) are saved under fuzz-artifacts/ and make the
# script exit non-zero. The growing corpus is kept in fuzz-artifacts/corpus/TARGET between runs.
#
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
#   TARGET: spec, idx, npy, safetensors, csv, report (or the product name, e.g. FuzzSpec)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   (TARGET: spec idx npy safetensors csv report)" >&2
  exit 64
fi
target=$1 seconds=$2
shift 2
case "$target" in
  spec|FuzzSpec) product=FuzzSpec name=spec ;;
  idx|FuzzIDX) product=FuzzIDX name=idx ;;
  npy|FuzzNPY) product=FuzzNPY name=npy ;;
  safetensors|FuzzSafeTensors) product=FuzzSafeTensors name=safetensors ;;
  csv|FuzzCSV) product=FuzzCSV name=csv ;;
  report|FuzzReport) product=FuzzReport name=report ;;
  *) echo "unknown fuzz target '$target' (spec idx npy safetensors csv report)" >&2; exit 64 ;;
esac
case "$seconds" in ''|*[!0-9]*) echo "SECONDS must be a whole number, not '$seconds'" >&2; exit 64 ;; esac

# SwiftPM passes each --sanitize to swiftc as its own -sanitize= flag, and swiftc keeps only the last one, so
# the combined form is repeated for Swift code (C code gets both from the two --sanitize flags).
build=(swift build -c release --package-path Fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
       --product "$product")
"${build[@]}"
binary="$("${build[@]}" --show-bin-path)/$product"

artifacts=fuzz-artifacts
corpus=$artifacts/corpus/$name
mkdir -p "$corpus"

# Seeds: committed samples, plus every spec and invalid-spec fixture for the spec target; Fuzz/TARGET.dict, when
# there is one, lends the mutations the format's vocabulary.
seeds=(Fuzz/corpus/$name)
flags=()
if [ "$name" = spec ]; then
  seeds+=(specs Tests/BayesNetSpecTests/Fixtures/invalid)
fi
if [ -f "Fuzz/$name.dict" ]; then
  flags+=(-dict="Fuzz/$name.dict")
fi

# A timeout is re-run alone three times: one that finishes within the limit at least once was the machine being
# busy (other builds on a shared machine), not a hang; it is set aside in fuzz-artifacts/busy/ and fuzzing goes
# on for the time left.
mkdir -p "$artifacts/busy"
deadline=$((SECONDS + seconds))
status=0
while :; do
  left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || break
  before=$(mktemp)
  status=0
  "$binary" "$corpus" "${seeds[@]}" \
    -max_total_time="$left" -timeout=1 -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "${flags[@]}" "$@" || status=$?
  new=$(find "$artifacts" -maxdepth 1 -type f -name "$name-*" -newer "$before")
  rm -f "$before"
  [ "$status" -ne 0 ] || [ -n "$new" ] || break
  busy=1
  for f in $new; do
    case "$(basename "$f")" in
      "$name"-timeout-*)
        # A hang times out every time; a unit slowed by other work on the machine passes at least once.
        recurred=0
        for _ in 1 2 3; do
          rerun=0
          "$binary" -timeout=1 -rss_limit_mb=2048 "$f" >/dev/null 2>&1 || rerun=$?
          [ "$rerun" -eq 70 ] && recurred=$((recurred + 1))
        done
        [ "$recurred" -eq 3 ] && busy=0
        [ "$busy" -eq 1 ] && echo "timeout on $f did not recur when re-run alone; set aside in $artifacts/busy/" >&2 \
          && mv "$f" "$artifacts/busy/" ;;
      *) busy=0 ;;
    esac
  done
  if [ "$busy" -eq 0 ] || [ -z "$new" ]; then
    echo "fuzz target $name found a problem (exit $status); reproducers:" >&2
    for f in $new; do echo "  $f" >&2; done
    exit 1
  fi
done
