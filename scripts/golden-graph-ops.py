#!/usr/bin/env python3
"""TensorFlow reference cases for batch normalization and global pooling, written to
Tests/BayesNetRuntimeTests/Golden as JSON (the format of the convolution cases there).

Run with the TFP peer environment (TensorFlow 2.21, tf-keras 2.21, Keras 3), for example
    ~/.cache/bayesnet-peers/venv-tf/bin/python scripts/golden-graph-ops.py
The cases are float32 and seeded, so a rerun writes the same files.

Batch normalization: the layer's output, the gradients of sum(y * dy) with respect to x, gamma and beta, and
the moving statistics after the call, in training and in inference mode. Most cases use tf.keras (tf_keras),
the Keras that TFP builds on; one uses Keras 3. `unbiased_moving_variance` records the moving-variance
convention of the layer that made the case: tf.keras's fused layer (rank-4 and rank-5 inputs) feeds the
unbiased batch variance into the moving average, its unfused layer and Keras 3 the biased one.

Training cases also hold y, dx and dgamma computed in float64 from the same float32 inputs (`*_float64`,
rounded to float32): TensorFlow's float32 kernels drift from them when a channel's mean is large against its
spread.

Global pooling: Keras' GlobalAveragePooling and GlobalMaxPooling, rank 1-3, with ties in the maxima.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
import keras  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "BayesNetRuntimeTests", "Golden")


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float("%.9g" % v) for v in a.reshape(-1)]}


def write(case):
    path = os.path.join(OUT, case["name"] + ".json")
    with open(path, "w") as f:
        json.dump(case, f, separators=(",", ":"))
        f.write("\n")
    print(path)


def batch_norm(name, shape, *, training, library="tf_keras", center=True, scale=True, momentum=0.9,
               epsilon=1e-3, loc=0.0, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = (rng.normal(size=shape) * spread + loc).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, size=c).astype(np.float32)
    beta = rng.normal(size=c).astype(np.float32)
    moving_mean = (rng.normal(size=c) * 0.5 + loc).astype(np.float32)
    moving_variance = rng.uniform(0.5, 2.0, size=c).astype(np.float32) * spread ** 2
    mod = tf_keras if library == "tf_keras" else keras
    layer = mod.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, center=center, scale=scale)
    layer.build(shape)
    if scale:
        layer.gamma.assign(gamma)
    if center:
        layer.beta.assign(beta)
    layer.moving_mean.assign(moving_mean)
    layer.moving_variance.assign(moving_variance)
    xt = tf.constant(x)
    params = ([layer.gamma] if scale else []) + ([layer.beta] if center else [])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=training)
        loss = tf.reduce_sum(y * dy)
    grads = tape.gradient(loss, [xt] + params)
    fused = bool(getattr(layer, "fused", False)) if library == "tf_keras" else False
    case = {
        "name": name, "op": "batch_norm_train" if training else "batch_norm_inference", "rank": len(shape) - 2,
        "library": library, "momentum": momentum, "epsilon": epsilon, "center": center, "scale": scale,
        "unbiased_moving_variance": fused,
        "x": tensor(x), "dy": tensor(dy), "moving_mean": tensor(moving_mean),
        "moving_variance": tensor(moving_variance),
        "y": tensor(y), "dx": tensor(grads[0]),
        "moving_mean_after": tensor(layer.moving_mean.numpy()),
        "moving_variance_after": tensor(layer.moving_variance.numpy()),
    }
    if training:
        # The same arithmetic in float64 on the same float32 inputs: how far TensorFlow's float32 result is from
        # exact (far, when the mean is large against the spread).
        axes = tuple(range(len(shape) - 1))
        x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
        g64 = gamma.astype(np.float64) if scale else 1.0
        b64 = beta.astype(np.float64) if center else 0.0
        inv = 1 / np.sqrt(x64.var(axes) + epsilon)
        xhat = (x64 - x64.mean(axes)) * inv
        case["y_float64"] = tensor(g64 * xhat + b64)
        case["dx_float64"] = tensor(g64 * inv * (dy64 - dy64.mean(axes) - xhat * (dy64 * xhat).mean(axes)))
        if scale:
            case["dgamma_float64"] = tensor((dy64 * xhat).sum(axes))
    k = 1
    if scale:
        case["gamma"] = tensor(gamma)
        case["dgamma"] = tensor(grads[k])
        k += 1
    if center:
        case["beta"] = tensor(beta)
        case["dbeta"] = tensor(grads[k])
    write(case)


def global_pool(name, kind, shape, seed):
    rng = np.random.default_rng(seed)
    # Rounded and rectified, so that maxima tie (a channel at zero everywhere, repeated values).
    x = np.maximum(np.round(rng.normal(size=shape), 1), 0).astype(np.float32)
    x[0, ..., 0] = 0  # a channel the ReLU switched off: every position ties
    rank = len(shape) - 2
    layer = getattr(tf_keras.layers, "Global%sPooling%dD" % ("Max" if kind == "max" else "Average", rank))()
    y_shape = (shape[0], shape[-1])
    dy = rng.normal(size=y_shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y * dy)
    dx = tape.gradient(loss, xt)
    write({"name": name, "op": "global_%s_pool" % kind, "rank": rank, "x": tensor(x), "dy": tensor(dy),
           "y": tensor(y), "dx": tensor(dx)})


def main():
    print("tensorflow", tf.__version__, "tf_keras", tf_keras.__version__, "keras", keras.__version__,
          file=sys.stderr)
    batch_norm("bn_train_dense", (16, 5), training=True, seed=1)
    batch_norm("bn_train_1d", (4, 7, 3), training=True, seed=2)
    batch_norm("bn_train_2d", (3, 5, 4, 6), training=True, seed=3)
    batch_norm("bn_train_3d", (2, 3, 4, 3, 4), training=True, seed=4)
    batch_norm("bn_train_2d_keras3", (3, 5, 4, 6), training=True, library="keras3", seed=5)
    batch_norm("bn_train_2d_plain", (4, 3, 3, 5), training=True, center=False, scale=False, momentum=0.99,
               seed=6)
    batch_norm("bn_train_2d_offset", (4, 6, 6, 3), training=True, loc=100.0, spread=0.1, epsilon=1e-5, seed=7)
    batch_norm("bn_inference_dense", (8, 5), training=False, seed=8)
    batch_norm("bn_inference_2d", (3, 5, 4, 6), training=False, seed=9)
    batch_norm("bn_inference_3d_nocenter", (2, 3, 4, 3, 4), training=False, center=False, seed=10)
    global_pool("global_avg_1d", "average", (3, 7, 4), 11)
    global_pool("global_avg_2d", "average", (2, 5, 4, 3), 12)
    global_pool("global_avg_3d", "average", (2, 3, 4, 2, 3), 13)
    global_pool("global_max_1d", "max", (3, 7, 4), 14)
    global_pool("global_max_2d", "max", (2, 5, 4, 3), 15)
    global_pool("global_max_3d", "max", (2, 3, 4, 2, 3), 16)


if __name__ == "__main__":
    main()
