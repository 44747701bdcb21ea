#!/bin/sh
# Times bayesnet against its peers (TFP's Keras Flipout layers, tfp.experimental.nn, bayesian-torch) on the
# bench specs, alternating the tools in one run, and prints a table with the machine and the date.
#
#   specs/bench/compare.sh [ROUNDS] [--steps N] [--warmup N] [--threads N] [--json OUT] [--tools LIST]
#                          [--modes LIST] [SPEC...]          (from the repository's top folder)
#
# ROUNDS (default 3) rounds over every spec, mode and tool; each tool keeps its best median. Without SPEC
# arguments the specs are specs/bench/*.yaml. The peers' Python environments come from
# bench/peers/setup.sh (in $BAYESNET_PEERS, default ~/.cache/bayesnet-peers). See bench/peers/README.md.
set -eu
cd "$(dirname "$0")/../.."
rounds=3
case ${1:-} in
    ''|-*) ;;
    *[!0-9]*) echo "compare.sh: ROUNDS must be a positive integer, got '$1'" >&2; exit 64 ;;
    *) rounds=$1; shift ;;
esac
peers=${BAYESNET_PEERS:-$HOME/.cache/bayesnet-peers}
tf_python=$peers/venv-tf/bin/python
torch_python=$peers/venv-torch/bin/python
for p in "$tf_python" "$torch_python"; do
    [ -x "$p" ] || { echo "compare.sh: $p is missing: run bench/peers/setup.sh${BAYESNET_PEERS:+ \"$BAYESNET_PEERS\"} first" >&2; exit 1; }
done
swift build -c release --product bayesnet >/dev/null
exec "$tf_python" bench/peers/compare.py --rounds "$rounds" --bayesnet .build/release/bayesnet \
    --tf-python "$tf_python" --torch-python "$torch_python" "$@"
