#!/usr/bin/env python3
"""TFP's Bayesian LeNet-5 MNIST example (tfp_mnist.py) rebuilt with bayesian-torch's Flipout layers, for
bayesnet's MNIST comparison (bench/peers/mnist_compare.sh).

  Conv2dFlipout(6, 5x5, padding 2, relu) -> max_pool2d(2, 2) -> Conv2dFlipout(16, 5x5, padding 2, relu)
  -> max_pool2d(2, 2) -> Conv2dFlipout(120, 5x5, padding 2, relu) -> flatten
  -> LinearFlipout(84, relu) -> LinearFlipout(10)

Padding 2 is TensorFlow's SAME for a 5x5 window at stride 1, and 28 and 14 pool to 14 and 7 with no padding,
so the shapes are the example's (torch runs channels-first; the flattened order differs, the network does not).
Settings as in the example: inputs / 255, batches of 128 in a fresh shuffle per epoch, Adam at 1e-3, the KL
term divided by the number of training examples, and bayesian-torch's default posteriors and priors: kernel
and bias variational, loc ~ N(0, 0.1), rho ~ N(-3, 0.1) (scale = softplus(rho), about 0.049), an N(0, 1)
prior. The KL term is the sum of the layers' kl_loss(), which bayesian-torch defines as a mean over each
tensor's weights (TFP and bayesnet sum them). The predictive distribution is the mean of `--samples` (50)
softmax outputs over the test images, in batches of 1,000.

Prints one JSON line: accuracy, NLL and ECE (15 bins) of the predictive, training and evaluation seconds,
the process's wall seconds and peak RSS.

usage: torch_mnist.py [MNIST_DIR] [--epochs 10] [--seed 0] [--threads 2] [--limit N] [--json OUT]
"""
import os
import sys
import time

STARTED = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    a = common.mnist_arguments(__doc__)
    xtr, ytr, xte, yte = common.load_mnist_or_exit(a)
    import inspect
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import bayesian_torch
    from bayesian_torch.layers import Conv2dFlipout, LinearFlipout
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(a.threads)
    except RuntimeError:   # already set in this process
        pass

    xtr, xte = torch.from_numpy(xtr[:, None]), torch.from_numpy(xte[:, None])
    ytr = torch.from_numpy(ytr)
    torch.manual_seed(a.seed)
    shuffle = np.random.default_rng(a.seed)
    n = len(xtr)
    # bayesian-torch 0.5 takes return_kl; older releases always return (output, kl).
    takes_return_kl = "return_kl" in inspect.signature(Conv2dFlipout.forward).parameters

    def apply(layer, t):
        return layer(t, return_kl=False) if takes_return_kl else layer(t)[0]

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2dFlipout(1, 6, 5, padding=2)
            self.conv2 = Conv2dFlipout(6, 16, 5, padding=2)
            self.conv3 = Conv2dFlipout(16, 120, 5, padding=2)
            self.dense1 = LinearFlipout(120 * 7 * 7, 84)
            self.dense2 = LinearFlipout(84, 10)

        def forward(self, t):
            t = F.max_pool2d(F.relu(apply(self.conv1, t)), 2, 2)
            t = F.max_pool2d(F.relu(apply(self.conv2, t)), 2, 2)
            t = F.relu(apply(self.conv3, t))
            t = F.relu(apply(self.dense1, torch.flatten(t, 1)))
            return apply(self.dense2, t)

        def kl(self):
            return sum(m.kl_loss() for m in (self.conv1, self.conv2, self.conv3, self.dense1, self.dense2))

    model = LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    epoch_s = []
    train_started = time.perf_counter()
    model.train()
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        order = torch.from_numpy(shuffle.permutation(n))
        for i in range(0, n, 128):
            batch = order[i:i + 128]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xtr[batch]), ytr[batch]) + model.kl() / n
            loss.backward()
            optimizer.step()
        epoch_s.append(time.perf_counter() - t0)
        print("epoch %d: loss %.4f, %.1f s" % (epoch + 1, loss.item(), epoch_s[-1]), file=sys.stderr, flush=True)
    train_s = time.perf_counter() - train_started

    model.eval()
    eval_started = time.perf_counter()
    predictive = np.zeros((len(xte), 10))
    with torch.no_grad():
        for _ in range(a.samples):
            predictive += np.concatenate([F.softmax(model(xte[i:i + 1000]), 1).numpy()
                                          for i in range(0, len(xte), 1000)])
    predictive /= a.samples
    eval_s = time.perf_counter() - eval_started

    version = getattr(bayesian_torch, "__version__", None)
    if version is None:
        from importlib.metadata import version as installed
        version = installed("bayesian-torch")
    record = {"tool": "bayesian-torch", "library": "bayesian-torch Conv2dFlipout / LinearFlipout",
              "versions": {"torch": torch.__version__, "bayesian_torch": version},
              "training_examples": n, "epoch_s": epoch_s, "train_s": train_s, "eval_s": eval_s}
    common.finish_mnist(a, STARTED, record, predictive, yte)


if __name__ == "__main__":
    main()
