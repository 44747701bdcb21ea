#!/bin/sh
# bayesnet's MNIST LeNet-5 side by side with TFP's Bayesian LeNet-5 example and its bayesian-torch twin: per seed,
# each tool trains and evaluates once, in alternating order; prints one table with the machine and the date.
#
#   bench/peers/mnist_compare.sh [--seeds 0,1,2] [--epochs N] [--limit N] [--threads N] [--tools LIST]
#                                [--json OUT] [SPEC]
#
# SPEC defaults to specs/mnist-lenet5-flipout.yaml and runs unchanged unless --limit or --epochs is given.
# The peers' Python environments come from bench/peers/setup.sh (in $BAYESNET_PEERS, default
# ~/.cache/bayesnet-peers). See bench/peers/README.md, "MNIST side by side".
set -eu
cd "$(dirname "$0")/../.."
peers=${BAYESNET_PEERS:-$HOME/.cache/bayesnet-peers}
tf_python=$peers/venv-tf/bin/python
torch_python=$peers/venv-torch/bin/python
for p in "$tf_python" "$torch_python"; do
    [ -x "$p" ] || { echo "mnist_compare.sh: $p is missing: run bench/peers/setup.sh${BAYESNET_PEERS:+ \"$BAYESNET_PEERS\"} first" >&2; exit 1; }
done
swift build -c release --product bayesnet >/dev/null
exec "$tf_python" bench/peers/mnist_compare.py --bayesnet .build/release/bayesnet \
    --tf-python "$tf_python" --torch-python "$torch_python" "$@"
