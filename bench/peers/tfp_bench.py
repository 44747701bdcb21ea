#!/usr/bin/env python3
"""TensorFlow Probability's side of the bayesnet benchmark: any spec of specs/bench/, built from the spec itself.

Tools:
  tfp-keras  tfp.layers.Convolution{1,2,3}DFlipout and DenseFlipout on tf-keras (TF_USE_LEGACY_KERAS=1),
             tf_keras pooling and Flatten layers; the bias has a normal posterior and the spec's prior too
             (tfp.layers' default bias is a point estimate), so kernel and bias are variational as in bayesnet.
  tfp-nn     tfp.experimental.nn.ConvolutionVariationalFlipout and AffineVariationalFlipout, tf.nn pooling,
             with the spec's normal prior; the KL is the analytic one, as bayesnet computes it for a normal prior.
A graph (read from `bayesnet compile`'s IR) is a functional tf_keras.Model for tfp-keras (BatchNormalization,
Add, Concatenate, Dropout, GlobalAveragePooling, Activation layers), and for tfp-nn a walk over the layers with
tf.nn operations between the variational layers (tfp.experimental.nn has no batch normalization; it is written
here with Keras's arithmetic). Batch normalization's moving mean and variance count as parameters, as
`bayesnet inspect` counts them.

What is timed, the same as `bayesnet bench` (Sources/BayesNet/Bench/Benchmark.swift):
  train    one training step on one batch: forward with one weight sample, the mean NLL over the batch
           (softmax cross-entropy on random labels, or the normal likelihood on zero targets), plus the KL of
           every layer times its penalty_weight, backward, and the optimizer update (the spec's Adam/SGD).
           The step is one tf.function call; the loss is fetched to the host, so the step has finished.
  predict  one forward pass over one batch with one weight sample (outputs fetched to the host), with
           training=False (batch normalization uses its moving averages, as bayesnet's prediction pass does).
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

    def keras_layer(l):
        if l.kind in ("conv_flipout", "affine_flipout"):
            common_args = dict(
                activation=_activation(tf, l.activation),
                kernel_prior_fn=prior_fn(*l.prior), kernel_divergence_fn=kl_fn(l.penalty_weight),
                bias_posterior_fn=tfp.layers.default_mean_field_normal_fn(is_singular=False),
                bias_prior_fn=prior_fn(*l.prior), bias_divergence_fn=kl_fn(l.penalty_weight))
            if l.kind == "affine_flipout":
                return tfp.layers.DenseFlipout(l.output_size, **common_args)
            cls = getattr(tfp.layers, "Convolution%dDFlipout" % l.rank)
            return cls(l.output_size, l.filter_shape, strides=l.strides, padding=l.padding,
                       dilation_rate=l.dilations, **common_args)
        if l.kind == "max_pool":
            return getattr(K, "MaxPooling%dD" % l.rank)(l.pool_size, l.strides, padding=l.padding)
        if l.kind == "avg_pool":
            return getattr(K, "AveragePooling%dD" % l.rank)(l.pool_size, l.strides, padding=l.padding)
        if l.kind == "flatten":
            return K.Flatten()
        if l.kind == "add":
            return K.Add()
        if l.kind == "concatenate":
            return K.Concatenate(axis=l.axis + 1)   # the IR's axis leaves out the batch
        if l.kind == "batch_norm":
            return K.BatchNormalization(axis=-1, momentum=l.momentum, epsilon=l.epsilon, center=l.center,
                                        scale=l.scale)
        if l.kind == "dropout":
            return K.Dropout(l.rate)
        if l.kind == "global_avg_pool":
            return getattr(K, "GlobalAveragePooling%dD" % l.rank)()
        if l.kind == "global_max_pool":
            return getattr(K, "GlobalMaxPooling%dD" % l.rank)()
        if l.kind == "activation":
            return K.Activation(_activation(tf, l.activation) or "linear")
        raise common.Unsupported("%s: no Keras layer for %s" % (l.describe(), l.kind))

    if w.graph:
        # The functional API, following the IR's edges.
        tensors = {"input": K.Input(shape=tuple(w.input_shape))}
        for l in w.layers:
            ins = [tensors[name] for name in l.inputs]
            tensors[l.name] = keras_layer(l)(ins if l.kind in ("add", "concatenate") else ins[0])
        model = tf_keras.Model(tensors["input"], tensors[w.layers[-1].name])
    else:
        model = tf_keras.Sequential([K.InputLayer(input_shape=tuple(w.input_shape))] + [keras_layer(l) for l in w.layers])
    # Counted as Keras and `bayesnet inspect` count them, beside the trainable variables.
    statistics = [v for layer in model.layers if isinstance(layer, K.BatchNormalization)
                  for v in (layer.moving_mean, layer.moving_variance)]

    def forward(x, training):
        # Flipout layers sample whatever `training` says; batch normalization and dropout follow it, as in
        # bayesnet, whose prediction pass normalizes with the moving averages.
        out = model(x, training=training)
        return out, tf.add_n(model.losses) if model.losses else tf.constant(0.0)

    return forward, lambda: model.trainable_variables, statistics


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

    def weight_layer(l):
        if l.kind == "affine_flipout":
            return tfn.AffineVariationalFlipout(l.input_size, l.output_size, make_prior_fn=prior_fn(*l.prior),
                                                activation_fn=_activation(tf, l.activation))
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
        return layer

    def pool(l):
        kind, size, stride, pad = ("MAX" if l.kind == "max_pool" else "AVG"), l.pool_size, l.strides, l.padding
        return lambda t: tf.nn.pool(t, size, kind, strides=stride, padding=pad)

    def flatten(l):
        n = l.output_shape[0]
        return lambda t: tf.reshape(t, [-1, n])

    variational = []
    if not w.graph:
        steps = []
        for l in w.layers:
            if l.kind in ("conv_flipout", "affine_flipout"):
                layer = weight_layer(l)
                steps.append(layer)
                variational.append((layer, l.penalty_weight))
            elif l.kind in ("max_pool", "avg_pool"):
                steps.append(pool(l))
            elif l.kind == "flatten":
                steps.append(flatten(l))
        model = tfn.Sequential(steps)
        run = lambda x, training: model(x)  # noqa: E731
        statistics = []
    else:
        model, run, statistics = _nn_graph(tf, w, weight_layer, pool, flatten, variational)
        notes.append("batch normalization, addition, concatenation, dropout, global pooling and activation "
                     "layers are tf.nn operations (tfp.experimental.nn has none of them)")

    def forward(x, training):
        out = run(x, training)
        kl = tf.constant(0.0)
        for layer, weight in variational:
            for q, p in zip(layer.posterior.model, layer.prior.model):
                kl += tfd.kl_divergence(q, p) * weight
        return out, kl

    return forward, lambda: model.trainable_variables, statistics, notes


def _nn_graph(tf, w, weight_layer, pool, flatten, variational):
    """A graph for tfp.experimental.nn: its variational layers, tf.nn operations between them, walked in the IR's
    order. Returns (a tf.Module holding every variable, run(x, training), the moving statistics)."""

    class BatchNormalization(tf.Module):
        """Keras's BatchNormalization on the last axis: batch statistics and moving averages in training, the
        moving averages otherwise; fused for 4-D tensors, as Keras fuses it."""

        def __init__(self, l):
            super().__init__()
            c = l.channels
            self.momentum, self.epsilon = l.momentum, l.epsilon
            self.gamma = tf.Variable(tf.ones([c]), name="gamma") if l.scale else None
            self.beta = tf.Variable(tf.zeros([c]), name="beta") if l.center else None
            self.ones, self.zeros = tf.ones([c]), tf.zeros([c])
            self.moving_mean = tf.Variable(tf.zeros([c]), trainable=False, name="moving_mean")
            self.moving_variance = tf.Variable(tf.ones([c]), trainable=False, name="moving_variance")

        def __call__(self, t, training):
            gamma = self.gamma if self.gamma is not None else self.ones
            beta = self.beta if self.beta is not None else self.zeros
            if t.shape.rank == 4:
                if not training:
                    return tf.compat.v1.nn.fused_batch_norm(t, gamma, beta, mean=self.moving_mean,
                                                            variance=self.moving_variance, epsilon=self.epsilon,
                                                            is_training=False)[0]
                y, mean, variance = tf.compat.v1.nn.fused_batch_norm(t, gamma, beta, epsilon=self.epsilon)
            else:
                if not training:
                    return tf.nn.batch_normalization(t, self.moving_mean, self.moving_variance, beta, gamma,
                                                     self.epsilon)
                mean, variance = tf.nn.moments(t, list(range(t.shape.rank - 1)))
                y = tf.nn.batch_normalization(t, mean, variance, beta, gamma, self.epsilon)
            self.moving_mean.assign_sub((self.moving_mean - mean) * (1 - self.momentum))
            self.moving_variance.assign_sub((self.moving_variance - variance) * (1 - self.momentum))
            return y

    class Graph(tf.Module):
        def __init__(self, parts):
            super().__init__()
            self.parts = parts

    ops, parts, statistics = [], [], []
    for l in w.layers:
        if l.kind in ("conv_flipout", "affine_flipout"):
            layer = weight_layer(l)
            parts.append(layer)
            variational.append((layer, l.penalty_weight))
            op = lambda ts, training, f=layer: f(ts[0])  # noqa: E731
        elif l.kind in ("max_pool", "avg_pool"):
            op = lambda ts, training, f=pool(l): f(ts[0])  # noqa: E731
        elif l.kind == "flatten":
            op = lambda ts, training, f=flatten(l): f(ts[0])  # noqa: E731
        elif l.kind == "batch_norm":
            bn = BatchNormalization(l)
            parts.append(bn)
            statistics += [bn.moving_mean, bn.moving_variance]
            op = lambda ts, training, f=bn: f(ts[0], training)  # noqa: E731
        elif l.kind == "add":
            op = lambda ts, training: tf.add_n(ts)  # noqa: E731
        elif l.kind == "concatenate":
            op = lambda ts, training, axis=l.axis + 1: tf.concat(ts, axis)  # noqa: E731
        elif l.kind == "dropout":
            op = lambda ts, training, r=l.rate: tf.nn.dropout(ts[0], r) if training else ts[0]  # noqa: E731
        elif l.kind in ("global_avg_pool", "global_max_pool"):
            reduce = tf.reduce_mean if l.kind == "global_avg_pool" else tf.reduce_max
            op = lambda ts, training, f=reduce, axes=list(range(1, l.rank + 1)): f(ts[0], axes)  # noqa: E731
        elif l.kind == "activation":
            act = _activation(tf, l.activation) or (lambda t: t)
            op = lambda ts, training, f=act: f(ts[0])  # noqa: E731
        else:
            raise common.Unsupported("%s: no tfp-nn form for %s" % (l.describe(), l.kind))
        ops.append((l.name, l.inputs, op))
    drops = common.last_reads(w)

    def run(x, training):
        values = {"input": x}
        for (name, inputs, op), drop in zip(ops, drops):
            values[name] = op([values[i] for i in inputs], training)
            for d in drop:
                del values[d]
        return values[w.layers[-1].name]

    return Graph(parts), run, statistics


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
        forward, variables, statistics = _keras_model(tf, tfp, tf_keras, w)
    else:
        forward, variables, statistics, notes = _nn_model(tf, tfp, w)

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
        out, _ = forward(inp, False)
        return out

    @tf.function
    def train_step(inp):
        with tf.GradientTape() as tape:
            out, kl = forward(inp, True)
            loss = nll(out) + kl
        vs = variables()
        opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
        return loss

    out = predict_step(x).numpy()   # builds the variables
    parameters = int(sum(int(np.prod(v.shape)) for v in list(variables()) + statistics))
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
