"""A bayesnet spec as a TensorFlow Probability Keras model, written by `bayesnet compile --emit tfp`.

The network, its posteriors, priors and KL weights are the spec's (SPEC_FILE); its training settings and
data are not part of this module. Inputs are `[N] + INPUT_SHAPE` in INPUT_LAYOUT, as the network sees them
(after the data's `scale:`, as `bayesnet predict --raw` takes them).

    model = build_model()                    # build_model(posterior_mean=True): weights at their means
    load_bayesnet_checkpoint(model, "runs/<name>/checkpoint.safetensors")
    outputs = model(x)
    loss = -tf.reduce_mean(likelihood(outputs).log_prob(y)) + tf.add_n(model.losses)   # bayesnet's loss
    kl_divergences(model)                    # per layer, as `bayesnet weights --kl SPEC` prints it

Needs numpy, tensorflow, tensorflow-probability and tf-keras (tfp.layers is built on Keras 2).
"""
import json
import os
import struct

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads: tfp.layers needs tf_keras

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions

SPEC_FILE = "graph-digits.yaml"
NAME = "export-graph-digits"
DTYPE = "float32"
INPUT_SHAPE = (8, 8, 1)
INPUT_LAYOUT = "channels_last"
SEED = 7
# `penalty_weight: auto` is 1 / the number of training examples: 1500 in the spec's `data.train`.
TRAIN_EXAMPLES = 1500

# Every layer: (bayesnet name, Keras layer name, weights), weights "variational", "plain", "batch_normalization" or None.
LAYERS = [
    ("stem", "stem", "plain"),
    ("a/conv", "a_conv", "variational"),
    ("a/bn", "a_bn", "batch_normalization"),
    ("a/add", "a_add", None),
    ("a/act", "a_act", None),
    ("b/conv", "b_conv", "variational"),
    ("b/bn", "b_bn", "batch_normalization"),
    ("b/add", "b_add", None),
    ("b/act", "b_act", None),
    ("channels", "channels", None),
    ("channels_bn", "channels_bn", "batch_normalization"),
    ("dropout_5", "dropout_5", None),
    ("max", "max", None),
    ("rows", "rows", None),
    ("mean", "mean", None),
    ("pooled", "pooled", None),
    ("squash", "squash", None),
    ("affine_11", "affine_11", "variational"),
]


def _untransformed_scale(scale, dtype):
    """The u with eps + softplus(u) = scale: tfp.layers' posterior scale, eps the dtype's machine epsilon."""
    y = np.asarray(scale, np.float64) - np.finfo(dtype).eps
    return y + np.log(-np.expm1(-y))


def _untransformed_from_rho(rho, dtype):
    """bayesnet's posterior scale is 1e-5 + softplus(rho); tfp.layers' is eps + softplus(u), eps = 1.19e-7 for
    float32 (np.finfo(dtype).eps). The u of the same scale, computed in float64."""
    return _untransformed_scale(1e-5 + np.logaddexp(0.0, np.asarray(rho, np.float64)), dtype)


def _posterior(loc_initializer, initial_scale):
    """tfp.layers' mean-field normal posterior, its locs from `loc_initializer`, every scale at `initial_scale`."""
    def make(dtype, shape, name, trainable, add_variable_fn):
        u = float(_untransformed_scale(initial_scale, dtype.as_numpy_dtype))
        return tfp.layers.default_mean_field_normal_fn(
            loc_initializer=loc_initializer,
            untransformed_scale_initializer=tf_keras.initializers.Constant(u))(
                dtype, shape, name, trainable, add_variable_fn)
    return make


def _normal_prior(loc, scale):
    """N(loc, scale^2) on every weight."""
    def make(dtype, shape, name, trainable, add_variable_fn):
        del name, trainable, add_variable_fn
        return tfd.Independent(
            tfd.Normal(loc=tf.fill(list(shape), tf.constant(loc, dtype)), scale=tf.constant(scale, dtype)),
            reinterpreted_batch_ndims=len(shape))
    return make


def _scale_mixture_prior(pi, scale1, scale2):
    """pi N(0, scale1^2) + (1 - pi) N(0, scale2^2) on every weight; spike-and-slab is (0.5, 1, 2000)."""
    def make(dtype, shape, name, trainable, add_variable_fn):
        del name, trainable, add_variable_fn
        zeros = tf.zeros(list(shape), dtype)
        probs = tf.broadcast_to(tf.constant([pi, 1 - pi], dtype), list(shape) + [2])
        mixture = tfd.Mixture(
            cat=tfd.Categorical(probs=probs),
            components=[tfd.Normal(zeros, tf.constant(scale1, dtype)), tfd.Normal(zeros, tf.constant(scale2, dtype))])
        return tfd.Independent(mixture, reinterpreted_batch_ndims=len(shape))
    return make


def _analytic_kl(weight):
    """weight * KL(q || p) in closed form (a normal prior), as bayesnet trains with it."""
    return lambda q, p, _: weight * tfd.kl_divergence(q, p)


def _sampled_kl(weight, reuse_draw):
    """weight * (log q(w) - log p(w)) at one draw w ~ q, the estimate bayesnet trains with when the KL has no
    closed form (a scale-mixture prior). The draw the layer used is reused when it sampled one (tfp.layers
    passes none for a Flipout kernel); otherwise w is drawn afresh."""
    def divergence(q, p, draw):
        w = draw if reuse_draw and draw is not None else q.sample()
        return weight * (q.log_prob(w) - p.log_prob(w))
    return divergence


def _value(posterior_mean, seed=None):
    """How a variational layer turns its posterior into weights: its mean, or a draw."""
    if posterior_mean:
        return lambda d: d.mean()
    return lambda d: d.sample(seed=seed)


def _variational(kernel_initializer, bias_initializer, initial_scale, prior, divergence, value):
    """tfp.layers arguments for bayesnet's variational weights: mean-field normal posteriors over kernel and bias
    (tfp.layers' default bias is a point estimate), the spec's prior on both, and one weighted KL for both."""
    return dict(
        kernel_posterior_fn=_posterior(kernel_initializer, initial_scale), kernel_posterior_tensor_fn=value,
        kernel_prior_fn=prior, kernel_divergence_fn=divergence,
        bias_posterior_fn=_posterior(bias_initializer, initial_scale), bias_posterior_tensor_fn=value,
        bias_prior_fn=prior, bias_divergence_fn=divergence)

def _leaky_relu(x):
    """bayesnet's leaky_relu: slope 0.2 below zero."""
    return tf.nn.leaky_relu(x, alpha=0.2)


def _auto(train_examples):
    """`penalty_weight: auto`: 1 / the number of training examples."""
    if train_examples is None or train_examples < 1:
        raise ValueError("`penalty_weight: auto` needs the number of training examples: pass train_examples")
    return 1 / train_examples

def penalty_weights(train_examples=TRAIN_EXAMPLES):
    """Each variational layer's KL weight (its `penalty_weight`), by bayesnet layer name."""
    return {
        "a/conv": _auto(train_examples),
        "b/conv": _auto(train_examples),
        "affine_11": _auto(train_examples),
    }


def build_model(train_examples=TRAIN_EXAMPLES, posterior_mean=False, seed=SEED, mc_dropout=False):
    """The network as a tf_keras.Model of tfp.layers, wired with the functional API as the spec's `inputs:` say
    (`input` is the network's input). `posterior_mean=True` runs every variational layer at its posterior mean
    (as `bayesnet predict --posterior-mean`); `train_examples` resolves `penalty_weight: auto`; `seed` seeds
    TensorFlow, which makes runs repeatable but does not reproduce bayesnet's random draws. `mc_dropout` (the spec's
    `evaluate.mc_dropout`) keeps Dropout on outside training, except at the posterior mean, as bayesnet does."""
    if seed is not None:
        tf.random.set_seed(seed)
    weights = penalty_weights(train_examples)
    dropout_training = True if mc_dropout and not posterior_mean else None
    layers = {
        # line 19: Conv2D, output [8, 8, 4]
        "stem": tf_keras.layers.Conv2D(
            4, (3, 3), strides=(1, 1), padding="same", dilation_rate=(1, 1), activation="relu",
            kernel_initializer=tf_keras.initializers.GlorotUniform(), bias_initializer=tf_keras.initializers.Zeros(),
            name="stem", dtype=DTYPE),
        # line 14: Conv2DFlipout, output [8, 8, 4]
        "a/conv": tfp.layers.Convolution2DFlipout(
            4, (3, 3), strides=(1, 1), padding="same", dilation_rate=(1, 1), activation=None,
            **_variational(tf_keras.initializers.GlorotUniform(), tf_keras.initializers.Zeros(),
                           initial_scale=0.001, prior=_scale_mixture_prior(0.5, 1.0, 2000.0),
                           divergence=_sampled_kl(weights["a/conv"], reuse_draw=True),
                           value=_value(posterior_mean)),
            name="a_conv", dtype=DTYPE),
        # line 15: BatchNormalization, output [8, 8, 4]
        "a/bn": tf_keras.layers.BatchNormalization(
            axis=-1, momentum=0.9, epsilon=0.0001, center=True, scale=True,
            name="a_bn", dtype=DTYPE),
        # line 16: Add, output [8, 8, 4]
        "a/add": tf_keras.layers.Add(name="a_add", dtype=DTYPE),
        # line 17: Activation, output [8, 8, 4]
        "a/act": tf_keras.layers.Activation(_leaky_relu, name="a_act", dtype=DTYPE),
        # line 14: Conv2DFlipout, output [8, 8, 4]
        "b/conv": tfp.layers.Convolution2DFlipout(
            4, (3, 3), strides=(1, 1), padding="same", dilation_rate=(1, 1), activation=None,
            **_variational(tf_keras.initializers.GlorotUniform(), tf_keras.initializers.Zeros(),
                           initial_scale=0.001, prior=_scale_mixture_prior(0.5, 1.0, 2000.0),
                           divergence=_sampled_kl(weights["b/conv"], reuse_draw=True),
                           value=_value(posterior_mean)),
            name="b_conv", dtype=DTYPE),
        # line 15: BatchNormalization, output [8, 8, 4]
        "b/bn": tf_keras.layers.BatchNormalization(
            axis=-1, momentum=0.9, epsilon=0.0001, center=True, scale=True,
            name="b_bn", dtype=DTYPE),
        # line 16: Add, output [8, 8, 4]
        "b/add": tf_keras.layers.Add(name="b_add", dtype=DTYPE),
        # line 17: Activation, output [8, 8, 4]
        "b/act": tf_keras.layers.Activation(_leaky_relu, name="b_act", dtype=DTYPE),
        # line 22: Concatenate, output [8, 8, 8]
        "channels": tf_keras.layers.Concatenate(axis=-1, name="channels", dtype=DTYPE),
        # line 23: BatchNormalization, output [8, 8, 8]
        "channels_bn": tf_keras.layers.BatchNormalization(
            axis=-1, momentum=0.99, epsilon=0.001, center=False, scale=False,
            name="channels_bn", dtype=DTYPE),
        # line 24: Dropout, output [8, 8, 8]
        "dropout_5": tf_keras.layers.Dropout(0.25, seed=5, name="dropout_5", dtype=DTYPE),
        # line 25: GlobalMaxPooling2D, output [8]
        "max": tf_keras.layers.GlobalMaxPooling2D(name="max", dtype=DTYPE),
        # line 26: Concatenate, output [16, 8, 4]
        "rows": tf_keras.layers.Concatenate(axis=1, name="rows", dtype=DTYPE),
        # line 27: GlobalAveragePooling2D, output [4]
        "mean": tf_keras.layers.GlobalAveragePooling2D(name="mean", dtype=DTYPE),
        # line 28: Concatenate, output [12]
        "pooled": tf_keras.layers.Concatenate(axis=-1, name="pooled", dtype=DTYPE),
        # line 29: Activation, output [12]
        "squash": tf_keras.layers.Activation("tanh", name="squash", dtype=DTYPE),
        # line 30: DenseFlipout, output [10]
        "affine_11": tfp.layers.DenseFlipout(
            10, activation=None,
            **_variational(tf_keras.initializers.GlorotUniform(), tf_keras.initializers.Zeros(),
                           initial_scale=0.001, prior=tfp.layers.default_multivariate_normal_fn,
                           divergence=_analytic_kl(weights["affine_11"]),
                           value=_value(posterior_mean)),
            name="affine_11", dtype=DTYPE),
    }
    inputs = tf_keras.Input(shape=INPUT_SHAPE, dtype=DTYPE, name="input")
    x = {"input": inputs}
    x["stem"] = layers["stem"](x["input"])
    x["a/conv"] = layers["a/conv"](x["stem"])
    x["a/bn"] = layers["a/bn"](x["a/conv"])
    x["a/add"] = layers["a/add"]([x["a/bn"], x["stem"]])
    x["a/act"] = layers["a/act"](x["a/add"])
    x["b/conv"] = layers["b/conv"](x["a/act"])
    x["b/bn"] = layers["b/bn"](x["b/conv"])
    x["b/add"] = layers["b/add"]([x["b/bn"], x["a/act"]])
    x["b/act"] = layers["b/act"](x["b/add"])
    x["channels"] = layers["channels"]([x["b/act"], x["stem"]])
    x["channels_bn"] = layers["channels_bn"](x["channels"])
    x["dropout_5"] = layers["dropout_5"](x["channels_bn"], training=dropout_training)
    x["max"] = layers["max"](x["dropout_5"])
    x["rows"] = layers["rows"]([x["a/act"], x["b/act"]])
    x["mean"] = layers["mean"](x["rows"])
    x["pooled"] = layers["pooled"]([x["max"], x["mean"]])
    x["squash"] = layers["squash"](x["pooled"])
    x["affine_11"] = layers["affine_11"](x["squash"])
    return tf_keras.Model(inputs, x["affine_11"], name="export-graph-digits")


def likelihood(outputs):
    """Categorical over the logits (softmax cross-entropy)."""
    return tfd.Categorical(logits=outputs)


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F64, F32, F16 or BF16 tensors; `__metadata__` is skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        raw = data[base + start:base + end]
        if entry["dtype"] == "BF16":
            values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif entry["dtype"] in ("F64", "F32", "F16"):
            values = np.frombuffer(raw, {"F64": "<f8", "F32": "<f4", "F16": "<f2"}[entry["dtype"]])
        else:
            raise ValueError("%s: tensor %s has dtype %s; bayesnet's tensors are floats" % (path, name, entry["dtype"]))
        tensors[name] = values.reshape(entry["shape"])
    return tensors


def load_bayesnet_checkpoint(model, path):
    """Sets every weight of `model` (from build_model) from a bayesnet checkpoint, or any safetensors file with its
    tensor names: `<layer>.kernel_posterior_loc`, `<layer>.kernel_posterior_untransformed_scale` (and the bias's)
    for variational layers, `<layer>.kernel` and `<layer>.bias` for plain ones, and `<layer>.gamma`, `<layer>.beta`,
    `<layer>.moving_mean` and `<layer>.moving_variance` for batch normalization. Optimizer state is skipped.
    Raises ValueError naming every missing, misshapen or unknown tensor, before any weight is set."""
    tensors = read_safetensors(path)
    assignments, problems, expected = [], [], set()

    def take(name, variable, convert=None):
        expected.add(name)
        value = tensors.get(name)
        if value is None:
            problems.append("missing %s %s" % (name, list(variable.shape)))
        elif list(value.shape) != list(variable.shape):
            problems.append("%s has shape %s, expected %s" % (name, list(value.shape), list(variable.shape)))
        else:
            dtype = variable.dtype.as_numpy_dtype
            value = value.astype(np.float64)
            assignments.append((variable, (convert(value, dtype) if convert else value).astype(dtype)))

    for name, keras_name, weights in LAYERS:
        layer = model.get_layer(keras_name)
        if weights == "variational":
            for part, posterior in (("kernel", layer.kernel_posterior), ("bias", layer.bias_posterior)):
                take(name + "." + part + "_posterior_loc", posterior.distribution.loc)
                take(name + "." + part + "_posterior_untransformed_scale",
                     posterior.distribution.scale.pretransformed_input, _untransformed_from_rho)
        elif weights == "plain":
            take(name + ".kernel", layer.kernel)
            take(name + ".bias", layer.bias)
        elif weights == "batch_normalization":
            for part in ("gamma", "beta", "moving_mean", "moving_variance"):
                if getattr(layer, part) is not None:  # no gamma without `scale`, no beta without `center`
                    take(name + "." + part, getattr(layer, part))
    problems += ["unknown tensor %s" % n for n in sorted(tensors) if n not in expected and not n.startswith("optimizer.")]
    if problems:
        raise ValueError("%s does not fit %s: %s" % (path, NAME, "; ".join(problems)))
    for variable, value in assignments:
        variable.assign(value)


def kl_divergences(model, quadrature_points=64):
    """Per variational layer, by bayesnet name: (KL of the kernel's posterior from its prior, the bias's), in nats
    and unweighted, as `bayesnet weights CKPT --kl SPEC` prints them. In closed form for a normal prior; for a
    scale mixture KL = -H(q) - E_q[log p], the expectation by Gauss-Hermite quadrature per weight."""
    nodes, node_weights = np.polynomial.hermite.hermgauss(quadrature_points)
    out = {}
    for name, keras_name, weights in LAYERS:
        if weights != "variational":
            continue
        layer = model.get_layer(keras_name)
        parts = []
        for q, p in ((layer.kernel_posterior, layer.kernel_prior), (layer.bias_posterior, layer.bias_prior)):
            if isinstance(p.distribution, tfd.Normal):
                parts.append(float(tfd.kl_divergence(q, p)))
                continue
            loc = tf.convert_to_tensor(q.distribution.loc)
            scale = tf.convert_to_tensor(q.distribution.scale)
            expected_log_prior = 0.0
            for x, w in zip(nodes, node_weights):
                point = loc + tf.constant(np.sqrt(2.0) * x, loc.dtype) * scale
                expected_log_prior += w / np.sqrt(np.pi) * float(tf.reduce_sum(p.distribution.log_prob(point)))
            parts.append(float(-float(q.entropy()) - expected_log_prior))
        out[name] = tuple(parts)
    return out
