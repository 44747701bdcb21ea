#!/usr/bin/env python3
"""The cross-check of `bayesnet compile --emit tfp` (run by scripts/check-tfp-export.sh, in the TensorFlow peer
environment). For each spec:

  1. `bayesnet compile SPEC --emit tfp` writes the module; it is imported and built.
  2. Checkpoints: `random` always (every posterior loc and untransformed scale drawn, scales from 1.2e-4 to 0.2,
     and every batch normalization's gamma, beta and moving statistics, written with the safetensors package, no
     metadata); `trained` too when the spec trains on at most TRAIN_LIMIT examples (`bayesnet run SPEC --epochs
     1`, which also moves the batch normalizations' statistics).
  3. Per checkpoint:
     params   the Keras model's parameter count (count_params: posterior locs and scales, plain weights, batch
              normalization's gamma, beta and moving statistics) must equal the sum of the IR's `parameters`
              over the layers the output reads; the loader has checked every tensor's name and shape against
              the model's variables.
     outputs  the TFP model at its posterior mean against `bayesnet predict --posterior-mean --raw` on the same
              16 random inputs, in inference mode (batch normalization with the moving statistics, dropout off):
              max |tfp - bayesnet| / max |bayesnet|, must be <= 1e-4;
     kl       each layer's kernel and bias KL from the module's kl_divergences() against
              `bayesnet weights --kl SPEC --format json`: max relative difference, must be <= 1e-5; the penalty
              weights must agree too;
     loss     the KL terms the TFP layers add to model.losses against penalty weight x bayesnet's KL: equal to
              1e-5 for a normal prior (closed form); for a scale mixture (a one-sample estimate) the mean of 200
              estimates must lie within 5 standard errors.
     sampled  the model with drawn weights runs and gives finite outputs of the same shape.
Prints one row per spec and checkpoint, and exits 1 when any check fails.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

OUTPUT_TOLERANCE = 1e-4
KL_TOLERANCE = 1e-5
TRAIN_LIMIT = 10000
EXAMPLES = 16


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(command), result.returncode, result.stdout, result.stderr))
    return result.stdout


def load_module(path):
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0].replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_checkpoint(ir, path, seed):
    """Every tensor of the spec by bayesnet's names, drawn: locs at He scale, untransformed scales so that the
    posterior scales 1e-5 + softplus(rho) spread over 1.2e-4 .. 0.2."""
    rng = np.random.default_rng(seed)
    dtype = np.float64 if ir["dtype"] == "float64" else np.float32
    tensors = {}
    for layer in ir["layers"]:
        if layer["op"] == "batch_normalization":
            name, channels = layer["name"], [layer["channels"]]
            parts = {"moving_mean": rng.normal(0, 0.5, channels), "moving_variance": rng.uniform(0.2, 3, channels)}
            if layer["scale"]:
                parts["gamma"] = rng.uniform(0.5, 1.5, channels)
            if layer["center"]:
                parts["beta"] = rng.normal(0, 0.2, channels)
            for part, value in parts.items():
                tensors["%s.%s" % (name, part)] = value.astype(dtype)
            continue
        if layer["op"] not in ("convolution", "affine"):
            continue
        kernel, bias = layer["kernel_shape"], [layer["output_size"]]
        fan_in = int(np.prod(kernel[:-1]))
        locs = {"kernel": rng.normal(0, np.sqrt(2 / fan_in), kernel), "bias": rng.normal(0, 0.1, bias)}
        name = layer["name"]
        if layer["variational"] is None:
            for part, value in locs.items():
                tensors["%s.%s" % (name, part)] = value.astype(dtype)
            continue
        for part, value in locs.items():
            tensors["%s.%s_posterior_loc" % (name, part)] = value.astype(dtype)
            tensors["%s.%s_posterior_untransformed_scale" % (name, part)] = rng.uniform(-9, -1.5, value.shape).astype(dtype)
    save_file(tensors, path)


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def check(bayesnet, spec_path, work):
    base = os.path.join(work, os.path.splitext(os.path.basename(spec_path))[0])
    os.makedirs(base, exist_ok=True)
    ir = json.loads(run([bayesnet, "compile", spec_path]))
    has_auto = any(l.get("variational") and l["variational"]["penalty_weight"] == "auto" for l in ir["layers"])
    examples = []
    if has_auto and ir["data"]["train"] is None:
        examples = ["--train-examples", "1000"]   # no data.train: any N, the same on both sides
    module_path = base + "/model.py"
    run([bayesnet, "compile", spec_path, "--emit", "tfp", "-o", module_path] + examples)
    m = load_module(module_path)

    checkpoints = []
    random_path = base + "/random.safetensors"
    random_checkpoint(ir, random_path, seed=len(ir["layers"]))
    checkpoints.append(("random", random_path))
    if ir["data"]["train"] is not None and m.TRAIN_EXAMPLES is not None and m.TRAIN_EXAMPLES <= TRAIN_LIMIT:
        run([bayesnet, "run", spec_path, "--epochs", "1", "--out", base + "/run", "--force", "--quiet"])
        checkpoints.append(("trained", base + "/run/checkpoint.safetensors"))

    rng = np.random.default_rng(0)
    inputs = rng.random((EXAMPLES,) + tuple(m.INPUT_SHAPE)).astype(np.float32)
    np.save(base + "/inputs.npy", inputs)
    rows = []
    for kind, checkpoint in checkpoints:
        run([bayesnet, "predict", spec_path, "--weights", checkpoint, "--input", base + "/inputs.npy",
             "--output", base + "/outputs.npy", "--raw", "--posterior-mean"])
        reference = np.load(base + "/outputs.npy").astype(np.float64)
        model = m.build_model(posterior_mean=True)
        m.load_bayesnet_checkpoint(model, checkpoint)
        # A layer nothing reads is not in the Keras model (the module lists it in UNREAD).
        unread = set(getattr(m, "UNREAD", []))
        params_ok = model.count_params() == sum(l["parameters"] for l in ir["layers"] if l["name"] not in unread)
        outputs = model(tf.constant(inputs, m.DTYPE), training=False).numpy().astype(np.float64)
        output_error = np.max(np.abs(outputs - reference)) / max(np.max(np.abs(reference)), 1e-300)

        report = json.loads(run([bayesnet, "weights", checkpoint, "--kl", spec_path, "--format", "json"] + examples))
        ours = m.kl_divergences(model)
        weights = m.penalty_weights()
        kl_error, weight_error = 0.0, 0.0
        for entry in report["kl"]:
            kernel, bias = ours[entry["layer"]]
            kl_error = max(kl_error, relative(kernel, entry["kernel"]), relative(bias, entry["bias"]))
            weight_error = max(weight_error, relative(weights[entry["layer"]], entry["penalty_weight"]))

        loss_ok, loss_note = loss_check(m, model, report)
        # The sampling path (draws, Flipout signs) runs too: finite outputs of the spec's shape.
        sampled = m.build_model()
        m.load_bayesnet_checkpoint(sampled, checkpoint)
        drawn = sampled(tf.constant(inputs, m.DTYPE)).numpy()
        sampled_ok = drawn.shape == reference.shape and bool(np.all(np.isfinite(drawn)))
        ok = (params_ok and output_error <= OUTPUT_TOLERANCE and kl_error <= KL_TOLERANCE and weight_error <= 1e-12
              and loss_ok and sampled_ok)
        rows.append((kind, model.count_params() if params_ok else "FAIL", output_error,
                     kl_error if report["kl"] else None, loss_note, ok))
    return rows


def loss_check(m, model, report):
    """The terms tfp.layers add to the loss against penalty weight x bayesnet's KL, layer by layer."""
    worst_exact, worst_z, kinds = 0.0, 0.0, set()
    for entry in report["kl"]:
        keras_name = next(k for n, k, _ in m.LAYERS if n == entry["layer"])
        layer = model.get_layer(keras_name)
        expected = entry["weighted"]
        terms = [(layer.kernel_divergence_fn, layer.kernel_posterior, layer.kernel_prior),
                 (layer.bias_divergence_fn, layer.bias_posterior, layer.bias_prior)]
        if entry["method"]["name"] == "closed_form":
            kinds.add("exact")
            value = sum(float(fn(q, p, None)) for fn, q, p in terms)
            worst_exact = max(worst_exact, relative(value, expected))
        else:
            kinds.add("sampled")
            draws = np.array([sum(float(fn(q, p, None)) for fn, q, p in terms) for _ in range(200)])
            stderr = draws.std(ddof=1) / np.sqrt(len(draws))
            worst_z = max(worst_z, abs(draws.mean() - expected) / max(stderr, 1e-12 * abs(expected)))
    notes = []
    if "exact" in kinds:
        notes.append("exact %.1e" % worst_exact)
    if "sampled" in kinds:
        notes.append("sampled %.1f se" % worst_z)
    return worst_exact <= KL_TOLERANCE and worst_z <= 5, ", ".join(notes) or "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bayesnet", required=True, help="the bayesnet executable")
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args()
    tf.random.set_seed(1)
    print("TensorFlow %s, TensorFlow Probability %s; tolerances: outputs %.0e, KL %.0e (relative)"
          % (tf.__version__, __import__("tensorflow_probability").__version__, OUTPUT_TOLERANCE, KL_TOLERANCE))
    width = max(len(p) for p in args.specs + ["spec"])
    print("%-*s %-8s %8s %12s %12s  %-28s %s" % (width, "spec", "weights", "params", "outputs err", "KL err",
                                                    "KL in model.losses", "result"))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bayesnet-tfp-") as work:
        for spec_path in args.specs:
            try:
                rows = check(args.bayesnet, spec_path, work)
            except Exception as e:  # one spec's failure is reported, and the others still run
                print("%-*s %s" % (width, spec_path, "ERROR: %s" % e))
                failed += 1
                continue
            for kind, params, output_error, kl_error, loss_note, ok in rows:
                print("%-*s %-8s %8s %12.2e %12s  %-28s %s" % (width, spec_path, kind, params, output_error,
                                                          "-" if kl_error is None else "%.2e" % kl_error,
                                                          loss_note, "ok" if ok else "FAIL"))
                failed += 0 if ok else 1
    print("all checks passed" if failed == 0 else "%d check(s) failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
