#!/bin/sh
# Runs every benchmark workload several times and prints, per workload and mode, the run with the lowest median
# (the machine may be shared: the best of a few repeats is the least disturbed one).
#
#   specs/bench/run.sh [REPEATS] [THREADS]      (from the repository's top folder; builds in release first)
set -eu
repeats=${1:-3}
threads=${2:-2}
swift build -c release --product bayesnet >/dev/null
bin=.build/release/bayesnet
out=$(mktemp -d)
for w in w1-lenet5 w2-conv64 w3-conv1d w3-conv3d; do
    r=1
    while [ "$r" -le "$repeats" ]; do
        "$bin" bench "specs/bench/$w.yaml" --threads "$threads" --steps 20 --warmup 3 --json "$out/$w-$r.json" >/dev/null
        r=$((r + 1))
    done
done
python3 - "$out" "$repeats" <<'PY'
import json, sys
folder, repeats = sys.argv[1], int(sys.argv[2])
print(f"{'workload':10} {'mode':8} {'ms/step':>8} {'p25-p75':>13} {'images/s':>9} {'GFLOP/s':>8} {'peak MiB':>8}")
for w in ["w1-lenet5", "w2-conv64", "w3-conv1d", "w3-conv3d"]:
    best = {}
    for r in range(1, repeats + 1):
        for x in json.load(open(f"{folder}/{w}-{r}.json"))["results"]:
            if x["mode"] not in best or x["median_ms"] < best[x["mode"]]["median_ms"]:
                best[x["mode"]] = x
    for m, x in best.items():
        print(f"{w:10} {m:8} {x['median_ms']:8.2f} {x['p25_ms']:6.2f}-{x['p75_ms']:<6.2f} {x['images_per_second']:9.0f}"
              f" {x['gflops']:8.1f} {x['peak_resident_bytes'] / 1048576:8.0f}")
PY
rm -r "$out"
