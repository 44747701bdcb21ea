#!/usr/bin/env bash
# One rank × 2 threads against 2 ranks × 1 thread, alternating in one run, on the MNIST LeNet-5 epoch and on
# w2-conv64; then LeNet-5's training step and a bare MPI_Allreduce of its gradients on 2, 3 and 4 ranks.
# Prints the machine, the date and one line per measurement.
#
#   swift build -c release --traits MPI --build-path .build-mpi
#   bench/mpi/scaling.sh [rounds] [mnist-steps]
#
# `mnist-steps` (default: the whole epoch, 469 steps) limits the MNIST run to that many steps' worth of
# training examples. Needs mpirun and mpicc (Debian: openmpi-bin, libopenmpi-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
mnist_steps=${2:-469}
bayesnet=${BAYESNET:-.build-mpi/release/bayesnet}
mpirun=(mpirun --oversubscribe --bind-to none)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"

# The MNIST spec as it is, but without test data (its per-epoch check and evaluation are not what is timed),
# and with the first `mnist_steps` batches of the training data.
examples=$((mnist_steps * 128))
sed -e '/split: test}/d' specs/mnist-lenet5-flipout.yaml > "$work/mnist.yaml"
if [ "$mnist_steps" -lt 469 ]; then
  python3 - "$work" "$examples" <<'EOF'
import gzip, sys
work, n = sys.argv[1], int(sys.argv[2])
root = "Sources/BayesNet/Resources/mnist/"
for name, header, size in [("train-images-idx3-ubyte", 16, 784), ("train-labels-idx1-ubyte", 8, 1)]:
    data = gzip.open(root + name + ".gz").read()
    head = bytearray(data[:header]); head[4:8] = n.to_bytes(4, "big")
    open(f"{work}/{name}", "wb").write(bytes(head) + data[header:header + n * size])
EOF
  sed -i -e "s|train: {builtin: mnist, split: train}|train: {format: idx, x: $work/train-images-idx3-ubyte, y: $work/train-labels-idx1-ubyte, scale: 0.00392156862745098}|" "$work/mnist.yaml"
fi

mnist() {  # ranks threads
  local out="$work/mnist-$1x$2"
  rm -rf "$out"
  if [ "$1" = 1 ]; then
    "$bayesnet" run "$work/mnist.yaml" --epochs 1 --threads "$2" --out "$out" --quiet > /dev/null
  else
    "${mpirun[@]}" -np "$1" "$bayesnet" run "$work/mnist.yaml" --epochs 1 --threads "$2" --out "$out" --quiet > /dev/null
  fi
  python3 - "$out/summary.json" "$1" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
a = s.get("allreduce", {})
print(f"mnist-lenet5 epoch  {sys.argv[2]} rank(s) x {sys.argv[3]} thread(s): {s['training_examples'] / s['train_seconds']:8.1f} images/s"
      f"  ({s['train_seconds']:.1f} s, {s['steps']} steps)  allreduce {a.get('ms_per_step', 0):.2f} ms/step")
EOF
}

bench() {  # spec ranks threads [more bench options]
  local json="$work/bench.json" spec=$1 ranks=$2 threads=$3
  shift 3
  if [ "$ranks" = 1 ]; then
    "$bayesnet" bench "$spec" --mode train --threads "$threads" --steps 30 --json "$json" "$@" > /dev/null
  else
    "${mpirun[@]}" -np "$ranks" "$bayesnet" bench "$spec" --mode train --threads "$threads" --steps 30 --json "$json" "$@" > /dev/null
  fi
  python3 - "$json" "$spec" "$ranks" "$threads" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
name = sys.argv[2].split("/")[-1].replace(".yaml", "")
print(f"{name:18} {sys.argv[3]} rank(s) x {sys.argv[4]} thread(s), batch {r['batch']:3}: {r['images_per_second']:8.1f} images/s"
      f"  ({r['median_ms']:.2f} ms/step median, {r['min_ms']:.2f} min)  allreduce {r.get('allreduce_ms_per_step') or 0:.2f} ms/step")
EOF
}

for round in $(seq 1 "$rounds"); do
  echo "round $round"
  bench specs/bench/w2-conv64.yaml 1 2
  bench specs/bench/w2-conv64.yaml 2 1
  mnist 1 2
  mnist 2 1
done

echo "LeNet-5's step on one thread: batch 1 (mostly the work per weight) and 128 (the work per example)"
bench specs/bench/w1-lenet5.yaml 1 1 --batch 1
bench specs/bench/w1-lenet5.yaml 1 1
echo "LeNet-5 training step (w1-lenet5, batch 128) and a bare allreduce of its 1,091,096 values"
mpicc -O2 -o "$work/allreduce" bench/mpi/allreduce.c
bench specs/bench/w1-lenet5.yaml 1 2
for ranks in 2 3 4; do
  bench specs/bench/w1-lenet5.yaml "$ranks" 1
  "${mpirun[@]}" -np "$ranks" "$work/allreduce" 1091096 200
done
