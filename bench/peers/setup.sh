#!/usr/bin/env bash
# Creates the two Python environments the peer benchmarks run in, outside the repository:
#   venv-tf     TensorFlow Probability (Keras Flipout layers and tfp.experimental.nn)
#   venv-torch  bayesian-torch (Flipout layers on PyTorch)
# usage: bench/peers/setup.sh [--tf-only] [DIR]   (default: ~/.cache/bayesnet-peers)
# Prints the two python paths, TFP's first (with --tf-only, venv-tf alone, for scripts/check-tfp-export.sh). Rerunning is cheap: an environment whose pinned packages
# all installed is left alone (a stamp file records the pins), and one whose install broke off is redone.
set -euo pipefail

tf_only=0
if [ "${1:-}" = "--tf-only" ]; then tf_only=1; shift; fi
dest=${1:-$HOME/.cache/bayesnet-peers}
python=${PYTHON:-python3}

tf_pins=(tensorflow-cpu==2.21.0 tensorflow-probability==0.25.0 tf-keras==2.21.0 safetensors numpy pyyaml)
torch_pins=(torch==2.15.0 bayesian-torch==0.5.0 safetensors numpy pyyaml)

command -v "$python" >/dev/null || { echo "setup.sh: $python not found (set PYTHON to a Python 3 interpreter)" >&2; exit 1; }
mkdir -p "$dest"

# make_env NAME PINS...: builds $dest/NAME unless its stamp already lists exactly these pins.
make_env() {
    local name=$1; shift
    local env="$dest/$name" stamp="$dest/$name/.bayesnet-pins"
    local want="$*"
    if [ -x "$env/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "setup.sh: installing $name ($want)" >&2
    rm -rf "$env"
    "$python" -m venv "$env"
    "$env/bin/python" -m pip install -q --upgrade pip >&2
    "$env/bin/python" -m pip install -q "$@" >&2
    printf '%s' "$want" > "$stamp"
}

make_env venv-tf "${tf_pins[@]}"
[ "$tf_only" = 1 ] || make_env venv-torch "${torch_pins[@]}"

# The check imports what the bench scripts import, so a broken wheel shows here and not mid-run; the
# frameworks' start-up chatter is shown only when an import fails.
check() {
    local env=$1 modules=$2 log
    log=$(mktemp)
    if ! "$dest/$env/bin/python" -c "import $modules" 2>"$log"; then
        cat "$log" >&2; rm -f "$log"
        echo "setup.sh: $dest/$env cannot import $modules; delete it and rerun" >&2
        exit 1
    fi
    rm -f "$log"
}
check venv-tf "tensorflow, tensorflow_probability, tf_keras, safetensors, yaml, numpy"
[ "$tf_only" = 1 ] || check venv-torch "torch, bayesian_torch, yaml, numpy"

echo "$dest/venv-tf/bin/python"
[ "$tf_only" = 1 ] || echo "$dest/venv-torch/bin/python"
