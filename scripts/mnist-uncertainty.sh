#!/usr/bin/env bash
# Uncertainty on MNIST, measured: how well the Flipout LeNet-5's predictive entropy and mutual information tell
# the MNIST test set from MNIST rotated by 90 degrees and from uniform noise images, against its deterministic
# twin's softmax entropy and against MC dropout's entropy and mutual information; then the rotation sweep.
# These are the README's figures.
#
#   scripts/mnist-uncertainty.sh [FLIPOUT_RUN DETERMINISTIC_RUN [MC_DROPOUT_RUN]]
#
# Without run folders it trains the specs first (specs/mnist-lenet5-flipout.yaml,
# specs/mnist-lenet5-deterministic.yaml and specs/mnist-lenet5-mc-dropout.yaml). The out-of-distribution sets are made from the bundled test images
# with Python's standard library and written to $WORK (default: a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WORK:-$(mktemp -d)}
swift build -c release -q
bn=.build/release/bayesnet

flipout=${1:-}
deterministic=${2:-}
dropout=${3:-}
if [[ -z "$flipout" ]]; then
  flipout=$work/flipout
  $bn run specs/mnist-lenet5-flipout.yaml --out "$flipout" --quiet
fi
if [[ -z "$deterministic" ]]; then
  deterministic=$work/deterministic
  $bn run specs/mnist-lenet5-deterministic.yaml --out "$deterministic" --quiet
fi
if [[ -z "$dropout" ]]; then
  dropout=$work/mc-dropout
  $bn run specs/mnist-lenet5-mc-dropout.yaml --out "$dropout" --quiet
fi

python3 - "$work" <<'PY'
import gzip, random, struct, sys
work = sys.argv[1]
raw = gzip.open("Sources/BayesNet/Resources/mnist/t10k-images-idx3-ubyte.gz").read()
n, h, w = struct.unpack(">III", raw[4:16])
pixels = raw[16:]

def save(name, data):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d, 1), }" % (n, h, w)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(f"{work}/{name}.npy", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(data))

# Rotated by 90 degrees counter-clockwise: out[r][c] = in[c][w-1-r].
rotated = bytearray(len(pixels))
for i in range(n):
    base = i * h * w
    for r in range(h):
        for c in range(w):
            rotated[base + r * w + c] = pixels[base + c * w + (w - 1 - r)]
save("mnist-rotated-90", rotated)
rng = random.Random(0)
save("uniform-noise", bytearray(rng.randrange(256) for _ in range(n * h * w)))
PY

for set in mnist-rotated-90 uniform-noise; do
  echo "== out of distribution: $set (50-sample Flipout and MC dropout predictives; deterministic softmax)"
  echo "-- flipout";       $bn evaluate specs/mnist-lenet5-flipout.yaml --weights "$flipout" --ood "$work/$set.npy" --out "$work/flipout-$set"
  echo "-- deterministic"; $bn evaluate specs/mnist-lenet5-deterministic.yaml --weights "$deterministic" --ood "$work/$set.npy" --out "$work/deterministic-$set"
  echo "-- mc dropout";    $bn evaluate specs/mnist-lenet5-mc-dropout.yaml --weights "$dropout" --ood "$work/$set.npy" --out "$work/mc-dropout-$set"
done
echo "== rotation sweep"
echo "-- flipout";       $bn evaluate specs/mnist-lenet5-flipout.yaml --weights "$flipout" --shift rotate=0:180:30 --out "$work/flipout-rotate"
echo "-- deterministic"; $bn evaluate specs/mnist-lenet5-deterministic.yaml --weights "$deterministic" --shift rotate=0:180:30 --out "$work/deterministic-rotate"
echo "-- mc dropout";    $bn evaluate specs/mnist-lenet5-mc-dropout.yaml --weights "$dropout" --shift rotate=0:180:30 --out "$work/mc-dropout-rotate"
echo "files in $work"
