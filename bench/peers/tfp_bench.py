#!/usr/bin/env python3
"""TensorFlow Probability's side of the bayesnet benchmark: any spec of specs/bench/, built from the spec itself.

Tools:
  tfp-keras  tfp.layers.Convolution{1,2,3}DFlipout and DenseFlipout on tf-keras (TF_USE_LEGACY_KERAS=1),
             tf_keras pooling and Flatten layers; the bias has a normal posterior and the spec's prior too
             (tfp.layers' default bias is a point estimate), so kernel and bias are variational as in bayesnet.
  tfp-nn     tfp.experimental.nn.ConvolutionVariationalFlipout and AffineVariationalFlipout, tf.nn pooling,
             with the spec's normal prior; the KL is the analytic one, as bayesnet computes it for a normal prior.

What is timed, the same as `bayesnet bench` (Sources/BayesNet/Bench/Benchmark.swift):
  train    one training step on one batch: forward with one weight sample, the mean NLL over the batch
           (softmax cross-entropy on random labels, or the normal likelihood on zero targets), plus the KL of
           every layer times its penalty_weight, backward, and the optimizer update (the spec's Adam/SGD).
           The step is one tf.function call; the loss is fetched to the host, so the step has finished.
  predict  one forward pass over one batch with one weight sample (outputs fetched to the host).
The first call (tracing) is not timed, then `--warmup` untimed steps, then `--steps` timed ones. Inputs are
uniform in [0, 1) with a fixed seed. Intra- and inter-op thread pools both have `--threads` threads.

Usage:
  python tfp_bench.py SPEC... [--tool tfp-keras,tfp-nn] [--mode train,predict] [--steps 20] [--warmup 3]
                      [--threads 2] [--json OUT]      each measurement in a child process of its own
  python tfp_bench.py SPEC --tool tfp-keras --mode train   one measurement here, one JSON line
  python tfp_bench.py SPEC --check                         parameter counts and output shapes only
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TOOLS = ["tfp-keras", "tfp-nn"]


def _activation(tf, name):
    if name == "linear":
        return None
    if name == "leaky_relu":
        return lambda t: tf.nn.leaky_relu(t, alpha=0.2)
    return getattr(tf.nn, name)


def _keras_model(tf, tfp, tf_keras, w):
    tfd = tfp.distributions
    K = tf_keras.layers

    def prior_fn(loc, scale):
        def make(dtype, shape, name, trainable, add_variable_fn):
            del name, trainable, add_variable_fn
            return tfd.Independent(tfd.Normal(loc=tf.fill(shape, tf.constant(loc, dtype)), scale=tf.constant(scale, dtype)),
                                   reinterpreted_batch_ndims=len(shape))
        return make

    def kl_fn(weight):
        return lambda q, p, _: tfd.kl_divergence(q, p) * weight

    layers = [K.InputLayer(input_shape=tuple(w.input_shape))]
    for l in w.layers:
        if l.kind in ("conv_flipout", "affine_flipout"):
            common_args = dict(
                activation=_activation(tf, l.activation),
                kernel_prior_fn=prior_fn(*l.prior), kernel_divergence_fn=kl_fn(l.penalty_weight),
                bias_posterior_fn=tfp.layers.default_mean_field_normal_fn(is_singular=False),
                bias_prior_fn=prior_fn(*l.prior), bias_divergence_fn=kl_fn(l.penalty_weight))
            if l.kind == "affine_flipout":
                layers.append(tfp.layers.DenseFlipout(l.output_size, **common_args))
            else:
                cls = getattr(tfp.layers, "Convolution%dDFlipout" % l.rank)
                layers.append(cls(l.output_size, l.filter_shape, strides=l.strides, padding=l.padding,
                                  dilation_rate=l.dilations, **common_args))
        elif l.kind == "max_pool":
            layers.append(getattr(K, "MaxPooling%dD" % l.rank)(l.pool_size, l.strides, padding=l.padding))
        elif l.kind == "avg_pool":
            layers.append(getattr(K, "AveragePooling%dD" % l.rank)(l.pool_size, l.strides, padding=l.padding))
        elif l.kind == "flatten":
            layers.append(K.Flatten())
    model = tf_keras.Sequential(layers)

    def forward(x):
        out = model(x, training=True)
        return out, tf.add_n(model.losses) if model.losses else tf.constant(0.0)

    return forward, lambda: model.trainable_variables


def _nn_model(tf, tfp, w):
    tfd = tfp.distributions
    tfn = tfp.experimental.nn
    notes = []

    def prior_fn(loc, scale):
        def make(kernel_shape, bias_shape, kernel_initializer=None, bias_initializer=None, kernel_batch_ndims=0,
                 bias_batch_ndims=0, dtype=tf.float32, **_):
            ks = [int(s) for s in tf.get_static_value(tf.reshape(kernel_shape, [-1]))]
            bs = [int(s) for s in tf.get_static_value(tf.reshape(bias_shape, [-1]))]
            return tfd.JointDistributionSequential([
                tfd.Independent(tfd.Normal(tf.fill(ks, tf.constant(loc, dtype)), tf.constant(scale, dtype)),
                                reinterpreted_batch_ndims=len(ks)),
                tfd.Independent(tfd.Normal(tf.fill(bs, tf.constant(loc, dtype)), tf.constant(scale, dtype)),
                                reinterpreted_batch_ndims=len(bs)),
            ])
        return make

    steps, variational = [], []
    for l in w.layers:
        if l.kind == "conv_flipout":
            layer = tfn.ConvolutionVariationalFlipout(
                l.input_size, l.output_size, l.filter_shape, rank=l.rank, strides=l.strides, padding=l.padding,
                dilations=l.dilations, make_prior_fn=prior_fn(*l.prior), activation_fn=_activation(tf, l.activation))
            if l.rank == 3:
                # TFP 0.25 passes data_format='NHWC' to its convolution op, which tf.nn.conv3d refuses; the same
                # op with the default channels-last layout (data_format=None) does what the layer means.
                strides, padding, dilations = l.strides, l.padding, l.dilations
                layer._apply_kernel_fn = lambda t, k, s=strides, p=padding, d=dilations: tf.nn.convolution(
                    t, k, strides=s, padding=p, dilations=d)
                notes.append("rank-3 convolution through tf.nn.convolution(data_format=None)")
            steps.append(layer)
            variational.append((layer, l.penalty_weight))
        elif l.kind == "affine_flipout":
            layer = tfn.AffineVariationalFlipout(l.input_size, l.output_size, make_prior_fn=prior_fn(*l.prior),
                                                 activation_fn=_activation(tf, l.activation))
            steps.append(layer)
            variational.append((layer, l.penalty_weight))
        elif l.kind in ("max_pool", "avg_pool"):
            kind, size, stride, pad = ("MAX" if l.kind == "max_pool" else "AVG"), l.pool_size, l.strides, l.padding
            steps.append(lambda t, k=kind, s=size, st=stride, p=pad: tf.nn.pool(t, s, k, strides=st, padding=p))
        elif l.kind == "flatten":
            n = l.output_shape[0]
            steps.append(lambda t, n=n: tf.reshape(t, [-1, n]))
    model = tfn.Sequential(steps)

    def forward(x):
        out = model(x)
        kl = tf.constant(0.0)
        for layer, weight in variational:
            for q, p in zip(layer.posterior.model, layer.prior.model):
                kl += tfd.kl_divergence(q, p) * weight
        return out, kl

    return forward, lambda: model.trainable_variables, notes


def measure(tool, w, mode, steps, warmup, threads):
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import tensorflow_probability as tfp
    import tf_keras

    tf.random.set_seed(1)
    rng = np.random.default_rng(1)
    versions = {"tensorflow": tf.__version__, "tensorflow_probability": tfp.__version__,
                "tf_keras": tf_keras.__version__}
    notes = []
    if tool == "tfp-keras":
        forward, variables = _keras_model(tf, tfp, tf_keras, w)
    else:
        forward, variables, notes = _nn_model(tf, tfp, w)

    x = tf.constant(rng.random([w.batch] + w.input_shape, dtype=np.float32))
    if w.likelihood and w.likelihood[0] == "categorical":
        y = tf.constant(rng.integers(0, w.output_shape[-1], size=(w.batch,)).astype(np.int32))
    else:
        y = tf.zeros([w.batch] + w.output_shape, tf.float32)

    def nll(out):
        if w.likelihood[0] == "categorical":
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out))
        scale = w.likelihood[1]
        per_example = tf.reduce_sum(tf.reshape(0.5 * tf.square((out - y) / scale), [w.batch, -1]), axis=1)
        return tf.reduce_mean(per_example)

    if w.optimizer[0] == "adam":
        _, lr, b1, b2, eps = w.optimizer
        opt = tf_keras.optimizers.Adam(learning_rate=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    else:
        _, lr, momentum = w.optimizer
        opt = tf_keras.optimizers.SGD(learning_rate=lr, momentum=momentum)

    @tf.function
    def predict_step(inp):
        out, _ = forward(inp)
        return out

    @tf.function
    def train_step(inp):
        with tf.GradientTape() as tape:
            out, kl = forward(inp)
            loss = nll(out) + kl
        vs = variables()
        opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
        return loss

    out = predict_step(x).numpy()   # builds the variables
    parameters = int(sum(int(np.prod(v.shape)) for v in variables()))
    output_shape = list(out.shape[1:])
    if mode == "check":
        return {"tool": tool, "spec": w.name, "path": w.path, "mode": "check", "batch": w.batch,
                "parameters": parameters, "output_shape": output_shape, "reader": w.summary(),
                "versions": versions, "notes": notes}
    if mode == "train":
        if w.likelihood is None:
            raise common.Unsupported("%s has no likelihood, so a training step has no loss" % w.path)
        fn = lambda: train_step(x).numpy()  # noqa: E731
    else:
        fn = lambda: predict_step(x).numpy()  # noqa: E731
    fn()  # traces the step
    times = common.time_steps(fn, warmup, steps)
    return common.result(tool, w, mode, times, threads, parameters, output_shape, versions, {"notes": notes})


if __name__ == "__main__":
    try:
        common.child_main(measure, sys.argv[1:], TOOLS)
    except common.Unsupported as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
