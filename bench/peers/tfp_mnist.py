#!/usr/bin/env python3
"""TensorFlow Probability's Bayesian LeNet-5 on MNIST, as its examples/bayesian_neural_network.py (TF2) builds it:
the anchor of bayesnet's MNIST comparison (bench/peers/mnist_compare.sh).

  Convolution2DFlipout(6, 5x5, SAME, relu) -> MaxPooling2D(2, 2, SAME)
  -> Convolution2DFlipout(16, 5x5, SAME, relu) -> MaxPooling2D(2, 2, SAME)
  -> Convolution2DFlipout(120, 5x5, SAME, relu) -> Flatten -> DenseFlipout(84, relu) -> DenseFlipout(10)

Settings as in the example: inputs / 255, batches of 128 in a fresh shuffle per epoch, Adam at 1e-3, every
layer's KL divergence divided by the number of training examples (kernel_divergence_fn), and tfp.layers'
default posteriors and priors: a mean-field normal kernel (loc ~ N(0, 0.1), softplus scale whose
untransformed value starts near -3), a point-estimate bias, an N(0, 1) kernel prior. The predictive
distribution is the mean of `--samples` (50) softmax outputs over the test images, in batches of 1,000.

Prints one JSON line: accuracy, NLL and ECE (15 bins) of the predictive, training and evaluation seconds,
the process's wall seconds and peak RSS.

usage: tfp_mnist.py [MNIST_DIR] [--epochs 10] [--seed 0] [--threads 2] [--limit N] [--json OUT]
"""
import os
import sys
import time

STARTED = time.perf_counter()
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    a = common.mnist_arguments(__doc__)
    xtr, ytr, xte, yte = common.load_mnist_or_exit(a)
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    import tensorflow_probability as tfp
    import tf_keras

    xtr, xte = xtr[..., None], xte[..., None]
    ytr = ytr.astype(np.int32)
    tf.random.set_seed(a.seed)
    shuffle = np.random.default_rng(a.seed)
    n = len(xtr)

    def divergence(q, p, _):
        return tfp.distributions.kl_divergence(q, p) / tf.cast(n, tf.float32)

    layers = tfp.layers
    model = tf_keras.Sequential([
        tf_keras.layers.InputLayer(input_shape=(28, 28, 1)),
        layers.Convolution2DFlipout(6, 5, padding="SAME", activation=tf.nn.relu, kernel_divergence_fn=divergence),
        tf_keras.layers.MaxPooling2D([2, 2], [2, 2], padding="SAME"),
        layers.Convolution2DFlipout(16, 5, padding="SAME", activation=tf.nn.relu, kernel_divergence_fn=divergence),
        tf_keras.layers.MaxPooling2D([2, 2], [2, 2], padding="SAME"),
        layers.Convolution2DFlipout(120, 5, padding="SAME", activation=tf.nn.relu, kernel_divergence_fn=divergence),
        tf_keras.layers.Flatten(),
        layers.DenseFlipout(84, activation=tf.nn.relu, kernel_divergence_fn=divergence),
        layers.DenseFlipout(10, kernel_divergence_fn=divergence),
    ])
    optimizer = tf_keras.optimizers.Adam(learning_rate=1e-3)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1]), tf.TensorSpec([None], tf.int32)])
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            nll = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            loss = nll + tf.add_n(model.losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1])])
    def probabilities(x):
        return tf.nn.softmax(model(x, training=False))

    epoch_s = []
    train_started = time.perf_counter()
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        order = shuffle.permutation(n)
        for i in range(0, n, 128):
            batch = order[i:i + 128]
            loss = train_step(xtr[batch], ytr[batch])
        epoch_s.append(time.perf_counter() - t0)
        print("epoch %d: loss %.4f, %.1f s" % (epoch + 1, float(loss), epoch_s[-1]), file=sys.stderr, flush=True)
    train_s = time.perf_counter() - train_started

    eval_started = time.perf_counter()
    predictive = np.zeros((len(xte), 10))
    for _ in range(a.samples):
        predictive += np.concatenate([probabilities(xte[i:i + 1000]).numpy() for i in range(0, len(xte), 1000)])
    predictive /= a.samples
    eval_s = time.perf_counter() - eval_started

    record = {"tool": "tfp", "library": "tfp.layers (tf-keras), examples/bayesian_neural_network.py",
              "versions": {"tensorflow": tf.__version__, "tensorflow_probability": tfp.__version__},
              "training_examples": n, "epoch_s": epoch_s, "train_s": train_s, "eval_s": eval_s}
    common.finish_mnist(a, STARTED, record, predictive, yte)


if __name__ == "__main__":
    main()
