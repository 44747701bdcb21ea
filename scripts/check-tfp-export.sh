#!/usr/bin/env bash
# Cross-checks `bayesnet compile --emit tfp` against TensorFlow Probability: for each spec, the exported model's
# parameter count, posterior-mean outputs (in inference mode: batch normalization on the checkpoint's moving
# statistics) and per-layer KL divergences against bayesnet's, on drawn and trained checkpoints
# (scripts/check_tfp_export.py says what is compared and to what tolerance). Prints one row per spec and
# checkpoint; exits 1 when a check fails.
#
#   scripts/check-tfp-export.sh [--if-available] [SPEC...]
#
# Default specs: specs/*.yaml, specs/bench/*.yaml, specs/bench/extra/*.yaml and the export cases in
# Tests/BayesNetSpecTests/Fixtures/tfp-export/: stacks (a `tf_keras.Sequential`) and graphs, the ResNets among
# them (a functional `tf_keras.Model`). The TensorFlow environment is $BAYESNET_PEERS/venv-tf (default
# ~/.cache/bayesnet-peers), made with `bench/peers/setup.sh --tf-only` when it is missing (pip, several minutes);
# with --if-available a missing environment is a notice and exit 0 instead (what CI does). Builds bayesnet in
# release first.
set -euo pipefail
cd "$(dirname "$0")/.."

if_available=0
specs=()
for arg in "$@"; do
    case "$arg" in
        --if-available) if_available=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "error: unknown option $arg" >&2; exit 64 ;;
        *) specs+=("$arg") ;;
    esac
done
if [ ${#specs[@]} -eq 0 ]; then
    specs=(specs/*.yaml specs/bench/*.yaml specs/bench/extra/*.yaml Tests/BayesNetSpecTests/Fixtures/tfp-export/*.yaml)
fi

peers=${BAYESNET_PEERS:-$HOME/.cache/bayesnet-peers}
python="$peers/venv-tf/bin/python"
if ! [ -x "$python" ] || ! "$python" -c "import tensorflow_probability, tf_keras, safetensors" >/dev/null 2>&1; then
    if [ "$if_available" = 1 ]; then
        echo "check-tfp-export: skipped, no TensorFlow environment at $peers/venv-tf (make one with bench/peers/setup.sh --tf-only)"
        exit 0
    fi
    bench/peers/setup.sh --tf-only "$peers" >/dev/null
fi

swift build -c release --product bayesnet >/dev/null
# TensorFlow's start-up chatter on stderr is shown only when the checker fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$python" scripts/check_tfp_export.py --bayesnet .build/release/bayesnet "${specs[@]}" 2>"$log" || status=$?
if [ "$status" != 0 ]; then cat "$log" >&2; fi
exit "$status"
