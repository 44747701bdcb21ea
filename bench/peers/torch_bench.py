#!/usr/bin/env python3
"""bayesian-torch's side of the bayesnet benchmark: any spec of specs/bench/, built from the spec itself.

Tool:
  bayesian-torch  bayesian_torch.layers.Conv{1,2,3}dFlipout and LinearFlipout (kernel and bias variational,
                  the spec's normal prior), torch.nn.functional pooling and flatten. torch runs channels-first,
                  so the inputs are laid out N, C, spatial... (the same numbers of multiply-adds as
                  channels-last). TensorFlow's SAME padding becomes the layer's symmetric padding, or an explicit
                  F.pad when the padding is uneven (stride > 1); SAME pooling pads with -inf (max) or divides by
                  the count of real elements (average), as TensorFlow and bayesnet do. A graph (read from
                  `bayesnet compile`'s IR) is an nn.Module that walks the layers in order, each reading the
                  outputs its `inputs` name: nn.BatchNorm{1,2,3}d, sums, torch.cat, F.dropout, means or maxima
                  over the spatial dimensions, activations. Batch norm's running mean and variance count as
                  parameters, as `bayesnet inspect` counts them.

What is timed, the same as `bayesnet bench` (Sources/BayesNet/Bench/Benchmark.swift):
  train    one training step on one batch: forward with one weight sample (return_kl=False), the mean NLL over
           the batch (softmax cross-entropy on random labels, or the normal likelihood on zero targets), plus
           every layer's kl_loss() times its penalty_weight, backward, and the optimizer update (the spec's
           Adam/SGD); the loss is fetched with .item().
  predict  one forward pass over one batch with one weight sample, under torch.no_grad(), in eval mode (batch
           norm uses its running averages, as bayesnet's prediction pass does).
The first call is not timed, then `--warmup` untimed steps, then `--steps` timed ones. Inputs are uniform in
[0, 1) with a fixed seed. torch.set_num_threads and set_num_interop_threads are both `--threads`.

Usage:
  python torch_bench.py SPEC... [--mode train,predict] [--steps 20] [--warmup 3] [--threads 2] [--json OUT]
  python torch_bench.py SPEC --tool bayesian-torch --mode train   one measurement here, one JSON line
  python torch_bench.py SPEC --check                              parameter counts and output shapes only
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TOOLS = ["bayesian-torch"]


def _build(torch, w):
    import inspect
    import torch.nn as nn
    import torch.nn.functional as F
    from bayesian_torch.layers import Conv1dFlipout, Conv2dFlipout, Conv3dFlipout, LinearFlipout

    conv_classes = {1: Conv1dFlipout, 2: Conv2dFlipout, 3: Conv3dFlipout}
    takes_return_kl = "return_kl" in inspect.signature(Conv2dFlipout.forward).parameters
    activations = {"linear": None, "relu": F.relu, "elu": F.elu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                   "softplus": F.softplus, "leaky_relu": lambda t: F.leaky_relu(t, 0.2)}

    def pads(l):
        """Per spatial dimension (before, after) of TensorFlow's SAME padding; zeros for VALID."""
        if l.padding != "SAME":
            return [(0, 0)] * l.rank
        return [l.same_padding(i) for i in range(l.rank)]

    def f_pad(p):
        """F.pad's argument: the last dimension first."""
        flat = []
        for before, after in reversed(p):
            flat += [before, after]
        return flat

    class Step(nn.Module):
        def __init__(self, layer, spec_layer):
            super().__init__()
            self.layer = layer
            self.kind = spec_layer.kind
            self.act = activations.get(spec_layer.activation) if layer is not None else None
            self.penalty_weight = spec_layer.penalty_weight
            self.spec_layer = spec_layer
            self.pre_pad = None
            self.divisor = None

        def forward(self, t):
            l = self.spec_layer
            if self.kind in ("conv_flipout", "affine_flipout"):
                if self.pre_pad is not None:
                    t = F.pad(t, self.pre_pad)
                t = self.layer(t, return_kl=False) if takes_return_kl else self.layer(t)[0]
                return self.act(t) if self.act is not None else t
            if self.kind == "flatten":
                return torch.flatten(t, 1)
            pool = getattr(F, ("max_pool%dd" if self.kind == "max_pool" else "avg_pool%dd") % l.rank)
            if self.pre_pad is not None:
                t = F.pad(t, self.pre_pad, value=float("-inf") if self.kind == "max_pool" else 0.0)
            t = pool(t, l.pool_size, l.strides)
            return t / self.divisor if self.divisor is not None else t

    def make_step(l):
        if l.kind == "affine_flipout":
            return Step(LinearFlipout(l.input_size, l.output_size, prior_mean=l.prior[0], prior_variance=l.prior[1]), l)
        if l.kind == "conv_flipout":
            p = pads(l)
            symmetric = all(b == a for b, a in p)
            # Conv1dFlipout sizes its kernel with an int; the others take one entry per dimension.
            dims = (lambda v: v[0]) if l.rank == 1 else tuple
            # prior_variance is the prior's standard deviation in bayesian-torch (it fills prior_weight_sigma).
            layer = conv_classes[l.rank](l.input_size, l.output_size, dims(l.filter_shape), stride=dims(l.strides),
                                         padding=dims([b for b, _ in p]) if symmetric else 0,
                                         dilation=dims(l.dilations), prior_mean=l.prior[0], prior_variance=l.prior[1])
            s = Step(layer, l)
            if not symmetric:
                s.pre_pad = f_pad(p)
            return s
        if l.kind in ("max_pool", "avg_pool"):
            s = Step(None, l)
            p = pads(l)
            if any(b or a for b, a in p):
                s.pre_pad = f_pad(p)
                if l.kind == "avg_pool":
                    # Share of real (unpadded) elements in each window: dividing by it turns the mean over the
                    # padded window into the mean over the real elements.
                    ones = torch.ones([1, 1] + l.input_shape[:-1])
                    pool = getattr(F, "avg_pool%dd" % l.rank)
                    s.divisor = pool(F.pad(ones, s.pre_pad), l.pool_size, l.strides)
            return s
        return Step(None, l)

    if w.graph:
        model, variational = _graph(torch, w, make_step, activations)
    else:
        steps = [make_step(l) for l in w.layers]
        variational = [s for s in steps if s.kind in ("conv_flipout", "affine_flipout")]
        model = nn.Sequential(*steps)

    def kl():
        return sum(s.layer.kl_loss() * s.penalty_weight for s in variational)

    return model, kl, takes_return_kl


def _graph(torch, w, make_step, activations):
    """An nn.Module that walks the IR's layers in order, each reading the outputs its `inputs` name.
    Returns (the module, the variational steps)."""
    import torch.nn as nn
    import torch.nn.functional as F

    def channel_dim(l):
        """torch's dimension of a channels-last axis of one example: the channels are dimension 1."""
        rank = len(l.input_shape)
        return 1 if l.axis == rank - 1 else l.axis + 2

    class Node(nn.Module):
        """One graph layer that is not a weight layer, pooling or flatten."""

        def __init__(self, l):
            super().__init__()
            self.kind = l.kind
            self.spec_layer = l
            if l.kind == "batch_norm":
                if l.center != l.scale:
                    raise common.Unsupported("%s: center %s with scale %s; torch's batch norm learns both or neither"
                                             % (l.describe(), l.center, l.scale))
                spatial = len(l.input_shape) - 1
                cls = getattr(nn, "BatchNorm%dd" % max(spatial, 1))
                # torch's momentum is the weight of the new statistics, Keras's that of the moving average.
                self.norm = cls(l.channels, eps=l.epsilon, momentum=1 - l.momentum, affine=l.center)
            elif l.kind == "concatenate":
                self.dim = channel_dim(l)
            elif l.kind in ("global_avg_pool", "global_max_pool"):
                self.dims = tuple(range(2, 2 + l.rank))
            elif l.kind == "activation":
                self.act = activations[l.activation]

        def forward(self, ts):
            l = self.spec_layer
            if self.kind == "add":
                out = ts[0]
                for t in ts[1:]:
                    out = out + t
                return out
            if self.kind == "concatenate":
                return torch.cat(ts, self.dim)
            t = ts[0]
            if self.kind == "batch_norm":
                return self.norm(t)
            if self.kind == "dropout":
                return F.dropout(t, l.rate, self.training)
            if self.kind == "global_avg_pool":
                return t.mean(self.dims)
            if self.kind == "global_max_pool":
                return t.amax(self.dims)
            if self.kind == "activation":
                return self.act(t) if self.act is not None else t
            raise common.Unsupported("%s: no torch form for %s" % (l.describe(), l.kind))

    class Graph(nn.Module):
        def __init__(self, nodes):
            super().__init__()
            self.nodes = nn.ModuleList(nodes)
            self.reads = [l.inputs for l in w.layers]
            self.names = [l.name for l in w.layers]
            self.drops = common.last_reads(w)

        def forward(self, x):
            values = {"input": x}
            for node, name, reads, drops in zip(self.nodes, self.names, self.reads, self.drops):
                ts = [values[i] for i in reads]
                values[name] = node(ts) if isinstance(node, Node) else node(ts[0])
                for d in drops:
                    del values[d]
            return values[self.names[-1]]

    nodes = [make_step(l) if l.kind in ("conv_flipout", "affine_flipout", "max_pool", "avg_pool", "flatten")
             else Node(l) for l in w.layers]
    return Graph(nodes), [n for n in nodes if n.kind in ("conv_flipout", "affine_flipout")]


def measure(tool, w, mode, steps, warmup, threads):
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    try:
        from importlib.metadata import version
        bt_version = version("bayesian-torch")
    except Exception:
        bt_version = "?"
    versions = {"torch": torch.__version__, "bayesian_torch": bt_version,
                "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()}
    model, kl, takes_return_kl = _build(torch, w)

    # channels-first: N, C, spatial...
    first = [w.batch, w.input_shape[-1]] + w.input_shape[:-1]
    x = torch.from_numpy(rng.random(first, dtype=np.float32))
    categorical = w.likelihood is not None and w.likelihood[0] == "categorical"
    with torch.no_grad():
        out = model(x)
    channels_last = list(out.shape[2:]) + [out.shape[1]] if out.dim() > 2 else list(out.shape[1:])
    if categorical:
        y = torch.from_numpy(rng.integers(0, w.output_shape[-1], size=(w.batch,)).astype(np.int64))
    else:
        y = torch.zeros_like(out)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # Batch norm's moving statistics count, as Keras and `bayesnet inspect` count them.
    parameters += sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules()
                      if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats)
    if mode == "check":
        return {"tool": tool, "spec": w.name, "path": w.path, "mode": "check", "batch": w.batch,
                "parameters": parameters, "output_shape": channels_last, "reader": w.summary(), "versions": versions}

    if w.optimizer[0] == "adam":
        _, lr, b1, b2, eps = w.optimizer
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    else:
        _, lr, momentum = w.optimizer
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def nll(out):
        if categorical:
            return F.cross_entropy(out, y)
        return (0.5 * ((out - y) / w.likelihood[1]).pow(2)).sum() / w.batch

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = nll(model(x)) + kl()
        loss.backward()
        opt.step()
        return loss.item()

    def predict_step():
        with torch.no_grad():
            return model(x)

    # Batch norm and dropout follow the module's mode, as bayesnet's training step and prediction pass do.
    if mode == "train":
        if w.likelihood is None:
            raise common.Unsupported("%s has no likelihood, so a training step has no loss" % w.path)
        model.train()
        fn = train_step
    else:
        model.eval()
        fn = predict_step
    fn()
    times = common.time_steps(fn, warmup, steps)
    return common.result(tool, w, mode, times, threads, parameters, channels_last, versions,
                         {"forward_return_kl_arg": takes_return_kl})


if __name__ == "__main__":
    try:
        common.child_main(measure, sys.argv[1:], TOOLS)
    except common.Unsupported as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
