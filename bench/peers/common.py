"""What the peer benchmarks share: a reader of bayesnet bench specs, the step statistics and the child runner.

The reader covers the part of the spec language the peers can express (Flipout convolutions of rank 1-3,
Flipout affine layers, max and average pooling, flatten, a normal prior, a categorical or normal likelihood,
Adam or SGD). Anything else raises `Unsupported` naming the layer and the reason, so that a new spec in
specs/bench/ is either compared like for like or refused, never approximated. The spec is assumed to have
passed `bayesnet validate`; `specs/bench/compare.sh` checks the shapes and parameter counts found here
against `bayesnet compile` before it times anything.

A straight stack is read from the YAML here. A graph (`blocks:`, `inputs:`, or graph layers such as
BatchNormalization, Add, Concatenate, Dropout, global pooling and Activation) is read from `bayesnet
compile`'s IR (docs/ir-json.md), which has every layer's edges after the blocks are expanded; its layers keep
their names and `inputs`, and the peer scripts walk them in order. A peer that cannot build a readable spec
as bayesnet would raises `Unsupported` from its builder; under `--check` that is reported as the tool's
"unsupported" line, which compare.py shows as n/a.

Standard library only, apart from PyYAML for reading the spec (installed by setup.sh). The MNIST helpers at
the end (the IDX reader and the predictive's figures) also need numpy, which both environments have.
"""
import json
import math
import os
import subprocess
import sys
import time

KL_AUTO = "auto"


class Unsupported(Exception):
    """The spec asks for something the peer cannot build as bayesnet would."""


# -- spec reader ---------------------------------------------------------------------------------------------

# Type name -> (canonical type, fixed rank or None). Mirrors the spec language's catalog (docs/spec-language.md).
_TYPES = {"ConvolutionVariationalFlipout": ("conv_flipout", None), "AffineVariationalFlipout": ("affine_flipout", None),
          "DenseFlipout": ("affine_flipout", None), "MaxPool": ("max_pool", None), "AvgPool": ("avg_pool", None),
          "Flatten": ("flatten", None)}
for _r in (1, 2, 3):
    _TYPES["Conv%dDFlipout" % _r] = ("conv_flipout", _r)
    _TYPES["Convolution%dDFlipout" % _r] = ("conv_flipout", _r)
    for _n in ("MaxPool%dD", "MaxPooling%dD"):
        _TYPES[_n % _r] = ("max_pool", _r)
    for _n in ("AvgPool%dD", "AveragePooling%dD"):
        _TYPES[_n % _r] = ("avg_pool", _r)

# Types the spec language has and the peer scripts do not build.
_REFUSED = {
    "ConvolutionVariationalReparameterization": "reparameterization layers are not benchmarked against peers",
    "AffineVariationalReparameterization": "reparameterization layers are not benchmarked against peers",
    "DenseReparameterization": "reparameterization layers are not benchmarked against peers",
    "Convolution": "plain (non-Bayesian) convolutions are not benchmarked against peers",
    "Affine": "plain (non-Bayesian) affine layers are not benchmarked against peers",
    "Dense": "plain (non-Bayesian) affine layers are not benchmarked against peers",
}
for _r in (1, 2, 3):
    for _n in ("Conv%dDReparameterization", "Convolution%dDReparameterization"):
        _REFUSED[_n % _r] = "reparameterization layers are not benchmarked against peers"
    for _n in ("Conv%dD", "Convolution%dD"):
        _REFUSED[_n % _r] = "plain (non-Bayesian) convolutions are not benchmarked against peers"

# Keras spellings -> the canonical argument names.
_ARG_ALIASES = {"filters": "output_size", "units": "output_size", "kernel_size": "filter_shape",
                "dilation_rate": "dilations", "activation": "activation_fn", "make_prior_fn": "prior",
                "make_posterior_fn": "posterior", "posterior_value_fn": "posterior_value"}

ACTIVATIONS = ("linear", "relu", "elu", "tanh", "sigmoid", "softplus", "leaky_relu")


class Layer:
    """One resolved layer: `kind` is conv_flipout, affine_flipout, max_pool, avg_pool or flatten."""

    def __init__(self, index, type_name, kind, args, input_shape):
        self.index = index
        self.type_name = type_name
        self.kind = kind
        self.args = args
        self.input_shape = list(input_shape)
        self.output_shape = None
        self.parameters = 0
        # Set for weight layers:
        self.rank = None
        self.filter_shape = self.strides = self.dilations = None
        self.padding = "VALID"
        self.input_size = self.output_size = None
        self.activation = "linear"
        self.prior = None            # (loc, scale)
        self.penalty_weight = None   # a number, resolved against the batch for `auto`
        self.pool_size = None
        # Set for graphs (read from the IR):
        self.name = None
        self.inputs = None           # names of the layers read, "input" for the network's input
        self.channels = self.momentum = self.epsilon = self.center = self.scale = None   # batch_norm
        self.axis = None             # concatenate: index into one example's channels-last shape
        self.rate = None             # dropout

    def describe(self):
        if self.name is not None:
            return "layer %d (%s, %s)" % (self.index, self.name, self.type_name)
        return "layer %d (%s)" % (self.index, self.type_name)

    def same_padding(self, spatial_index):
        """TensorFlow's SAME padding of one spatial dimension: (before, after); before gets the smaller half."""
        size = self.input_shape[spatial_index]
        window = self.filter_shape[spatial_index] if self.filter_shape else self.pool_size[spatial_index]
        dilation = self.dilations[spatial_index] if self.dilations else 1
        stride = self.strides[spatial_index]
        out = -(-size // stride)
        total = max((out - 1) * stride + (window - 1) * dilation + 1 - size, 0)
        return total // 2, total - total // 2


class Workload:
    def __init__(self, path, name, input_shape, layers, batch, likelihood, optimizer, dtype):
        self.path = path
        self.name = name
        self.input_shape = input_shape
        self.layers = layers
        self.batch = batch
        self.likelihood = likelihood     # ("categorical",) or ("normal", scale)
        self.optimizer = optimizer       # ("adam", lr, beta1, beta2, eps) or ("sgd", lr, momentum)
        self.dtype = dtype

    # A stack's layers each read the one before; a graph's (read from the IR) name their inputs.
    graph = False

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def parameters(self):
        return sum(l.parameters for l in self.layers)

    def summary(self):
        return {"name": self.name, "batch": self.batch, "input_shape": self.input_shape,
                "output_shape": self.output_shape, "parameters": self.parameters,
                "layers": [{"type": l.type_name, "output_shape": l.output_shape, "parameters": l.parameters}
                           if l.name is None else
                           {"name": l.name, "type": l.type_name, "inputs": l.inputs, "output_shape": l.output_shape,
                            "parameters": l.parameters} for l in self.layers]}


def _number(value, what):
    """A number as the spec writes it: 0.5, 1e-3 or a fraction such as 1/60000."""
    if isinstance(value, bool):
        raise Unsupported("%s: expected a number, got %r" % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if "/" in text:
                num, den = text.split("/", 1)
                return float(num) / float(den)
            return float(text)
        except ValueError:
            pass
    raise Unsupported("%s: expected a number, got %r" % (what, value))


def _per_dim(value, rank, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * rank
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        if len(value) == 1:
            return value * rank
        if len(value) == rank:
            return list(value)
    raise Unsupported("%s: expected an integer or a list of 1 or %d integers, got %r" % (what, rank, value))


def _one_key(node, what):
    """`name` or `{name: {args}}` -> (name, args)."""
    if isinstance(node, str):
        return node, {}
    if isinstance(node, dict) and len(node) == 1:
        (key, value), = node.items()
        return key, (value or {})
    raise Unsupported("%s: expected a name or a one-key mapping, got %r" % (what, node))


def _prior(value, where):
    if value is None:
        raise Unsupported("%s: the default prior (spike_and_slab, a scale mixture) is not expressible in "
                          "bayesian-torch; give `prior: {normal: {loc: 0, scale: 1}}`" % where)
    name, args = _one_key(value, where + " prior")
    if name != "normal":
        raise Unsupported("%s: prior `%s` is not expressible in every peer (bayesian-torch takes only a normal "
                          "prior); use `prior: {normal: {loc: L, scale: S}}`" % (where, name))
    return _number(args.get("loc", 0), where + " prior loc"), _number(args.get("scale", 1), where + " prior scale")


def _canonical_args(args):
    return {_ARG_ALIASES.get(k, k): v for k, v in (args or {}).items()}


def read_spec(path, batch=None, bayesnet=None):
    """Reads a bayesnet spec into a Workload; `batch` overrides train.batch_size (as `bench --batch`).

    A straight stack of the layer types above is read here; a graph (`blocks:`, a layer with `inputs:`, or a
    layer type the stack reader does not know) is read from `bayesnet compile`'s IR instead (`bayesnet` is the
    executable), so the blocks are expanded and the edges resolved by bayesnet itself."""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        raise Unsupported("%s: not a spec (no top-level mapping)" % path)
    if _is_graph(doc):
        return read_graph(path, compile_ir(path, bayesnet), batch)
    name = doc.get("name") or os.path.splitext(os.path.basename(path))[0]
    dtype = doc.get("dtype", "float32")
    if dtype != "float32":
        raise Unsupported("%s: dtype %s; the peer benchmarks run float32 only" % (path, dtype))
    inp = doc.get("input") or {}
    if inp.get("layout", "channels_last") != "channels_last":
        raise Unsupported("%s: input layout %s; the peer benchmarks take channels-last specs" % (path, inp["layout"]))
    input_shape = [int(s) for s in inp["shape"]]
    train = doc.get("train") or {}
    if int(train.get("samples", 1)) != 1:
        raise Unsupported("%s: train.samples > 1; the peer steps draw one weight sample" % path)
    batch = int(batch or train.get("batch_size", 32))

    opt_name, opt_args = _one_key(train.get("optimizer", "adam"), path + " train.optimizer")
    if opt_name == "adam":
        optimizer = ("adam", _number(opt_args.get("learning_rate", 0.001), "learning_rate"),
                     _number(opt_args.get("beta_1", 0.9), "beta_1"), _number(opt_args.get("beta_2", 0.999), "beta_2"),
                     _number(opt_args.get("epsilon", 1e-7), "epsilon"))
    elif opt_name == "sgd":
        optimizer = ("sgd", _number(opt_args.get("learning_rate", 0.01), "learning_rate"),
                     _number(opt_args.get("momentum", 0), "momentum"))
    else:
        raise Unsupported("%s: optimizer `%s`" % (path, opt_name))

    lik = doc.get("likelihood")
    if lik is None:
        likelihood = None
    else:
        lname, largs = _one_key(lik, path + " likelihood")
        if lname == "categorical":
            likelihood = ("categorical",)
        elif lname == "normal":
            likelihood = ("normal", _number(largs.get("scale", 1), "likelihood scale"))
        else:
            raise Unsupported("%s: likelihood `%s`" % (path, lname))

    # defaults: keyed by any alias, applied by canonical type; a rank in defaults does not override an alias's.
    defaults = {}
    for key, value in (doc.get("defaults") or {}).items():
        if key in _TYPES:
            defaults[_TYPES[key][0]] = _canonical_args(value)

    layers, shape = [], list(input_shape)
    for index, item in enumerate(doc.get("layers") or []):
        type_name, own = _one_key(item, "%s layer %d" % (path, index))
        if type_name in _REFUSED:
            raise Unsupported("%s layer %d (%s): %s" % (path, index, type_name, _REFUSED[type_name]))
        if type_name not in _TYPES:
            raise Unsupported("%s layer %d: unknown layer type `%s`" % (path, index, type_name))
        kind, fixed_rank = _TYPES[type_name]
        args = dict(defaults.get(kind, {}))
        if fixed_rank is not None:
            args.pop("rank", None)
        args.update(_canonical_args(own))
        layer = Layer(index, type_name, kind, args, shape)
        where = "%s %s" % (path, layer.describe())
        _resolve(layer, fixed_rank, batch, where)
        layers.append(layer)
        shape = layer.output_shape
    return Workload(path, name, input_shape, layers, batch, likelihood, optimizer, dtype)


def _resolve(layer, fixed_rank, batch, where):
    a, shape = layer.args, layer.input_shape
    if layer.kind == "flatten":
        layer.output_shape = [math.prod(shape)]
        return
    if layer.kind in ("max_pool", "avg_pool"):
        rank = len(shape) - 1
        if rank not in (1, 2, 3) or (fixed_rank is not None and fixed_rank != rank):
            raise Unsupported("%s: pooling over an input of shape %s" % (where, shape))
        layer.rank = rank
        layer.pool_size = _per_dim(a.get("pool_size", 2), rank, where + " pool_size")
        layer.strides = _per_dim(a.get("strides", layer.pool_size), rank, where + " strides")
        layer.padding = str(a.get("padding", "VALID")).upper()
        layer.output_shape = _spatial_out(layer, shape[:-1], layer.pool_size, [1] * rank) + [shape[-1]]
        return

    if a.get("posterior_value", "sample") != "sample":
        raise Unsupported("%s: posterior_value %s; the peers always sample the weights" % (where, a["posterior_value"]))
    posterior = a.get("posterior", "normal_diag")
    if _one_key(posterior, where + " posterior")[0] != "normal_diag":
        raise Unsupported("%s: posterior %r" % (where, posterior))
    layer.activation = a.get("activation_fn", "linear")
    if layer.activation not in ACTIVATIONS:
        raise Unsupported("%s: activation %s" % (where, layer.activation))
    layer.prior = _prior(a.get("prior"), where)
    pw = a.get("penalty_weight", KL_AUTO)
    # `bayesnet bench` trains on one batch of random data, so `auto` (1 / training examples) is 1 / batch.
    layer.penalty_weight = 1.0 / batch if pw == KL_AUTO else _number(pw, where + " penalty_weight")
    layer.output_size = int(a["output_size"])

    if layer.kind == "affine_flipout":
        if len(shape) != 1:
            raise Unsupported("%s: an affine layer needs a flat input (put Flatten before it), got %s" % (where, shape))
        layer.input_size = shape[0]
        layer.output_shape = [layer.output_size]
        layer.parameters = 2 * (layer.input_size * layer.output_size + layer.output_size)
        return

    rank = fixed_rank or int(a.get("rank", 2))
    if len(shape) != rank + 1:
        raise Unsupported("%s: a rank-%d convolution over an input of shape %s" % (where, rank, shape))
    layer.rank = rank
    layer.input_size = shape[-1]
    layer.filter_shape = _per_dim(a["filter_shape"], rank, where + " filter_shape")
    layer.strides = _per_dim(a.get("strides", 1), rank, where + " strides")
    layer.dilations = _per_dim(a.get("dilations", 1), rank, where + " dilations")
    layer.padding = str(a.get("padding", "VALID")).upper()
    if layer.padding not in ("SAME", "VALID"):
        raise Unsupported("%s: padding %s" % (where, layer.padding))
    layer.output_shape = _spatial_out(layer, shape[:-1], layer.filter_shape, layer.dilations) + [layer.output_size]
    weights = math.prod(layer.filter_shape) * layer.input_size * layer.output_size + layer.output_size
    layer.parameters = 2 * weights


def _spatial_out(layer, spatial, window, dilations):
    out = []
    for size, w, d, s in zip(spatial, window, dilations, layer.strides):
        if layer.padding == "SAME":
            out.append(-(-size // s))
        else:
            out.append(-(-(size - (w - 1) * d) // s))
    if any(o < 1 for o in out):
        raise Unsupported("%s: empty output %s" % (layer.describe(), out))
    return out


# -- graph reader (bayesnet compile's IR) ---------------------------------------------------------------------

class CompileError(Exception):
    """`bayesnet compile` could not be run or refused the spec."""


# IR ops -> Layer kinds, apart from convolution and affine (Flipout only, checked in _resolve_ir).
_GRAPH_OPS = {"max_pool": "max_pool", "avg_pool": "avg_pool", "flatten": "flatten", "add": "add",
              "concatenate": "concatenate", "batch_normalization": "batch_norm", "dropout": "dropout",
              "global_avg_pool": "global_avg_pool", "global_max_pool": "global_max_pool", "activation": "activation"}


def default_bayesnet():
    """The bayesnet executable the graph reader runs: $BAYESNET, else the repository's release build."""
    return os.environ.get("BAYESNET") or os.path.join(REPOSITORY, ".build", "release", "bayesnet")


def _is_graph(doc):
    if doc.get("blocks"):
        return True
    for item in doc.get("layers") or []:
        if isinstance(item, dict) and len(item) == 1:
            (type_name, args), = item.items()
            if isinstance(args, dict) and "inputs" in args:
                return True
        elif isinstance(item, str):
            type_name = item
        else:
            continue
        if type_name not in _TYPES and type_name not in _REFUSED:
            return True
    return False


def compile_ir(path, bayesnet=None):
    """`bayesnet compile PATH` as a dict (docs/ir-json.md)."""
    exe = bayesnet or default_bayesnet()
    try:
        p = subprocess.run([exe, "compile", path], capture_output=True, text=True)
    except OSError as e:
        raise CompileError("%s is a graph, read through `bayesnet compile`, and %s cannot run: %s (build it with "
                           "`swift build -c release`, or pass --bayesnet)" % (path, exe, e))
    if p.returncode != 0:
        raise CompileError("bayesnet compile %s failed (exit %d):\n%s" % (path, p.returncode, p.stderr.strip()))
    ir = json.loads(p.stdout)
    if ir.get("format") != "bayesnet-ir" or ir.get("format_version") != 1:
        raise CompileError("%s: bayesnet compile wrote IR format %r version %r; this reader knows bayesnet-ir 1"
                           % (path, ir.get("format"), ir.get("format_version")))
    return ir


def read_graph(path, ir, batch=None):
    """A Workload of every layer of the IR, in its (topological) order, each with its `inputs`.

    The layers' settings come from the IR; their parameter counts are computed here from those settings, so
    that compare.py's layer-by-layer check against the IR's counts still tests something."""
    if ir["dtype"] != "float32":
        raise Unsupported("%s: dtype %s; the peer benchmarks run float32 only" % (path, ir["dtype"]))
    if ir["input"]["layout"] != "channels_last":
        raise Unsupported("%s: input layout %s; the peer benchmarks take channels-last specs"
                          % (path, ir["input"]["layout"]))
    train = ir["train"]
    if train["samples"] != 1:
        raise Unsupported("%s: train.samples > 1; the peer steps draw one weight sample" % path)
    batch = int(batch or train["batch_size"])
    o = train["optimizer"]
    if o["name"] == "adam":
        optimizer = ("adam", float(o["learning_rate"]), float(o["beta_1"]), float(o["beta_2"]), float(o["epsilon"]))
    elif o["name"] == "sgd":
        optimizer = ("sgd", float(o["learning_rate"]), float(o["momentum"]))
    else:
        raise Unsupported("%s: optimizer `%s`" % (path, o["name"]))
    lik = ir["likelihood"]
    if lik is None:
        likelihood = None
    elif lik["name"] == "categorical":
        likelihood = ("categorical",)
    elif lik["name"] == "normal":
        likelihood = ("normal", float(lik["scale"]))
    else:
        raise Unsupported("%s: likelihood `%s`" % (path, lik["name"]))

    layers = []
    for index, d in enumerate(ir["layers"]):
        op = d["op"]
        if op == "convolution":
            kind = "conv_flipout"
        elif op == "affine":
            kind = "affine_flipout"
        elif op in _GRAPH_OPS:
            kind = _GRAPH_OPS[op]
        else:
            raise Unsupported("%s layer %d (%s): op `%s` is not built by the peer scripts" % (path, index, d["name"], op))
        layer = Layer(index, d["type_name"], kind, d, d["input_shape"])
        layer.name = d["name"]
        layer.inputs = list(d["inputs"])
        layer.output_shape = list(d["output_shape"])
        where = "%s %s" % (path, layer.describe())
        _resolve_ir(layer, d, batch, where)
        layers.append(layer)
    w = Workload(path, ir["name"], list(ir["input"]["shape"]), layers, batch, likelihood, optimizer, ir["dtype"])
    w.graph = True
    return w


def _resolve_ir(layer, d, batch, where):
    kind = layer.kind
    if kind in ("conv_flipout", "affine_flipout"):
        if d["estimator"] != "flipout":
            raise Unsupported("%s: %s layers are not benchmarked against peers" % (where, d["estimator"]))
        v = d["variational"]
        if v["posterior"]["name"] != "normal_diag":
            raise Unsupported("%s: posterior %r" % (where, v["posterior"]))
        if v["posterior_value"] != "sample":
            raise Unsupported("%s: posterior_value %s; the peers always sample the weights" % (where, v["posterior_value"]))
        if v["prior"]["name"] != "normal":
            raise Unsupported("%s: prior `%s` is not expressible in every peer (bayesian-torch takes only a normal "
                              "prior); use `prior: {normal: {loc: L, scale: S}}`" % (where, v["prior"]["name"]))
        layer.prior = (float(v["prior"]["loc"]), float(v["prior"]["scale"]))
        pw = v["penalty_weight"]
        # As in the stack reader: `bench` trains on one batch, so `auto` is 1 / batch.
        layer.penalty_weight = 1.0 / batch if pw == KL_AUTO else float(pw)
        layer.activation = d["activation"]
        if layer.activation not in ACTIVATIONS:
            raise Unsupported("%s: activation %s" % (where, layer.activation))
        layer.input_size, layer.output_size = d["input_size"], d["output_size"]
        weights = layer.input_size * layer.output_size + layer.output_size
        if kind == "conv_flipout":
            layer.rank = d["rank"]
            layer.filter_shape, layer.strides, layer.dilations = d["filter_shape"], d["strides"], d["dilations"]
            layer.padding = d["padding"]
            weights = math.prod(layer.filter_shape) * layer.input_size * layer.output_size + layer.output_size
        layer.parameters = 2 * weights
    elif kind in ("max_pool", "avg_pool"):
        layer.rank, layer.pool_size, layer.strides, layer.padding = d["rank"], d["pool_size"], d["strides"], d["padding"]
    elif kind in ("global_avg_pool", "global_max_pool"):
        layer.rank = d["rank"]
    elif kind == "batch_norm":
        layer.channels, layer.momentum, layer.epsilon = d["channels"], float(d["momentum"]), float(d["epsilon"])
        layer.center, layer.scale = d["center"], d["scale"]
        # As Keras and `bayesnet inspect` count: the moving mean and variance, plus beta and gamma when learnt.
        layer.parameters = layer.channels * (2 + int(layer.center) + int(layer.scale))
    elif kind == "concatenate":
        layer.axis = d["axis"]
    elif kind == "dropout":
        layer.rate = float(d["rate"])
    elif kind == "activation":
        layer.activation = d["activation"]
        if layer.activation not in ACTIVATIONS:
            raise Unsupported("%s: activation %s" % (where, layer.activation))


def last_reads(workload):
    """For each layer of a graph, the names whose last reader it is, so that a walker can drop them after it."""
    last = {}
    for l in workload.layers:
        for name in l.inputs:
            last[name] = l.index
    drops = [[] for _ in workload.layers]
    output = workload.layers[-1].name
    for name, index in last.items():
        if name != output:
            drops[index].append(name)
    return drops


# -- statistics, memory, machine --------------------------------------------------------------------------

def quantile(values, q):
    """Linear interpolation between order statistics (numpy's default), as `bayesnet bench` computes it."""
    s = sorted(values)
    if not s:
        return 0.0
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def time_steps(fn, warmup, steps):
    """Runs `fn` warmup times untimed, then `steps` times timed; milliseconds per step."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times


def peak_rss_bytes():
    """VmHWM of this process: its peak resident memory since it started."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def result(tool, workload, mode, times, threads, parameters, output_shape, versions, extra=None):
    """The JSON line a child prints: the same fields `bayesnet bench --json` writes per mode."""
    median = quantile(times, 0.5)
    r = {"tool": tool, "spec": workload.name, "path": workload.path, "mode": mode, "batch": workload.batch,
         "threads": threads, "steps": len(times), "median_ms": median, "p25_ms": quantile(times, 0.25),
         "p75_ms": quantile(times, 0.75), "min_ms": min(times), "max_ms": max(times),
         "images_per_second": workload.batch * 1000.0 / median if median > 0 else 0.0,
         "parameters": parameters, "output_shape": list(output_shape),
         "peak_resident_bytes": peak_rss_bytes(), "versions": versions, "step_ms": times}
    if extra:
        r.update(extra)
    return r


def thread_env(threads):
    """Environment for a child: every thread pool the frameworks might start is held to `threads`."""
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(threads)
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_child(cmd, env=None, timeout=1800):
    """Runs one measurement process; returns (exit code, stdout, stderr, its peak RSS in bytes).

    The peak comes from wait4's rusage of that child alone, so every tool's figure is measured the same way:
    the whole process's peak resident memory, from start to exit."""
    import tempfile
    import threading
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), usage.ru_maxrss * 1024


# AMD's families and models by core generation: a virtual machine's model name ("AMD EPYC") hides it.
AMD_CORES = [(25, range(0x00, 0x10), "Zen 3"), (25, range(0x10, 0x20), "Zen 4"), (25, range(0x20, 0x30), "Zen 3"),
             (25, range(0x40, 0x60), "Zen 3"), (25, range(0x60, 0x80), "Zen 4"), (25, range(0xA0, 0xB0), "Zen 4c"),
             (26, range(0x00, 0x100), "Zen 5")]


def machine():
    """The CPU model (with its core generation where the family says it) and core count from /proc/cpuinfo, and
    the load when asked."""
    model, cores, family, number, vendor, flags = None, 0, None, None, None, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    cores += 1
                    model = model or value
                elif key == "cpu family" and family is None:
                    family = int(value)
                elif key == "model" and number is None:
                    number = int(value)
                elif key == "vendor_id" and vendor is None:
                    vendor = value
                elif key == "flags" and not flags:
                    flags = value
    except (OSError, ValueError):
        pass
    if model and family is not None and number is not None:
        generation = next((g for f, models, g in AMD_CORES if vendor == "AuthenticAMD" and f == family
                           and number in models), None)
        model = "%s (family %d model %d%s%s)" % (model, family, number, ", " + generation if generation else "",
                                                  ", AVX-512" if " avx512f" in " " + flags else "")
    try:
        with open("/proc/loadavg") as f:
            load = [float(x) for x in f.read().split()[:3]]
    except OSError:
        load = None
    return {"cpu": model, "cores": cores or os.cpu_count(), "load_average": load}


def argument_parser(**kwargs):
    """argparse, exiting with 64 on bad command-line use as bayesnet does (argparse's own code is 2)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            self.print_usage(sys.stderr)
            print("%s: error: %s" % (self.prog, message), file=sys.stderr)
            sys.exit(64)

    return Parser(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def child_main(measure, argv, tool_names):
    """The command line both peer scripts share.

    `SCRIPT SPEC --tool T --mode M [--steps N --warmup N --threads N --batch N]` measures one (tool, spec,
    mode) in this process and prints one JSON line. Without --tool/--mode (or with lists), the script runs
    every combination, each in a child process of its own, and prints a table and, with --json, the results."""
    ap = argument_parser(description=sys.modules["__main__"].__doc__)
    ap.add_argument("specs", nargs="+", metavar="SPEC", help="bayesnet spec files (YAML)")
    ap.add_argument("--tool", default=",".join(tool_names), help="comma-separated, from: " + ", ".join(tool_names))
    ap.add_argument("--mode", default="train,predict", help="train, predict or both, comma-separated")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first, after the first call (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="intra- and inter-op threads (default 2)")
    ap.add_argument("--batch", type=int, help="examples per step (default: the spec's train.batch_size)")
    ap.add_argument("--json", metavar="OUT", help="write the results here (parent mode)")
    ap.add_argument("--bayesnet", default=default_bayesnet(),
                    help="bayesnet executable, to compile graph specs (default $BAYESNET or .build/release/bayesnet)")
    ap.add_argument("--check", action="store_true",
                    help="build the networks and print their parameter counts and output shapes; time nothing")
    a = ap.parse_args(argv)
    tools = [t for t in a.tool.split(",") if t]
    modes = [m for m in a.mode.split(",") if m]
    for t in tools:
        if t not in tool_names:
            ap.error("unknown tool %s (known: %s)" % (t, ", ".join(tool_names)))
    for m in modes:
        if m not in ("train", "predict"):
            ap.error("unknown mode %s (train or predict)" % m)
    if a.steps < 1 or a.warmup < 0 or a.threads < 1 or (a.batch is not None and a.batch < 1):
        ap.error("--steps and --threads must be at least 1, --warmup not negative")
    for spec in a.specs:
        try:
            read_spec(spec, a.batch, a.bayesnet)
        except (Unsupported, CompileError) as e:
            print("error: %s" % e, file=sys.stderr)
            sys.exit(1)
        except (OSError, KeyError, TypeError, ValueError) as e:
            print("error: %s: cannot read the spec: %s" % (spec, e), file=sys.stderr)
            sys.exit(1)

    if a.check or (len(tools) == 1 and len(modes) == 1 and len(a.specs) == 1):
        for spec in a.specs:
            for tool in tools:
                workload = read_spec(spec, a.batch, a.bayesnet)
                for mode in (["check"] if a.check else modes):
                    try:
                        r = measure(tool, workload, mode, a.steps, a.warmup, a.threads)
                    except Unsupported as e:
                        if not a.check:
                            raise
                        # The spec is readable but this tool cannot build it as bayesnet would: "n/a", not a failure.
                        r = {"tool": tool, "spec": workload.name, "path": workload.path, "mode": "check",
                             "unsupported": str(e)}
                    print(json.dumps(r), flush=True)
        return

    results, failed = [], False
    print("%-16s %-12s %-8s %9s %17s %10s %9s %11s" % ("tool", "spec", "mode", "ms/step", "p25-p75",
                                                      "images/s", "peak MiB", "parameters"))
    for spec in a.specs:
        for mode in modes:
            for tool in tools:
                cmd = [sys.executable, os.path.abspath(sys.argv[0]), spec, "--tool", tool, "--mode", mode,
                       "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads),
                       "--bayesnet", a.bayesnet]
                if a.batch:
                    cmd += ["--batch", str(a.batch)]
                code, out, err, rss = run_child(cmd, thread_env(a.threads))
                lines = [l for l in out.splitlines() if l.startswith("{")]
                if code != 0 or not lines:
                    failed = True
                    print("%-16s %-12s %-8s failed (exit %d): %s" % (tool, spec, mode, code, err.strip()[-2000:]))
                    continue
                r = json.loads(lines[-1])
                r["peak_resident_bytes"] = rss
                results.append(r)
                print("%-16s %-12s %-8s %9.2f %8.2f-%-8.2f %10.0f %9.0f %11d" % (
                    tool, r["spec"], mode, r["median_ms"], r["p25_ms"], r["p75_ms"], r["images_per_second"],
                    rss / 1048576, r["parameters"]), flush=True)
    if a.json:
        write_json_atomically(a.json, {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                       "results": results})
    sys.exit(1 if failed else 0)


def write_json_atomically(path, document):
    """Writes to a temporary file beside `path`, then renames, so a reader never sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# -- MNIST side by side (tfp_mnist.py, torch_mnist.py, mnist_compare.py) ------------------------------------

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUNDLED_MNIST = os.path.join(REPOSITORY, "Sources", "BayesNet", "Resources", "mnist")
MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
ECE_BINS = 15
PROBABILITY_FLOOR = 1e-12   # Metrics.probabilityFloor: the NLL of a probability of 0 is finite


class DataFileError(Exception):
    """A data file that is missing, truncated or not what its name says."""


def read_idx(path):
    """An IDX file (plain or gzip-compressed, as MNIST is distributed) as a numpy array of its element type."""
    import gzip
    import numpy as np
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataFileError("%s: %s" % (path, e))
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in types:
        raise DataFileError("%s: not an IDX file (bad magic number)" % path)
    rank = raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataFileError("%s: IDX header cut short" % path)
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    dtype = np.dtype(types[raw[2]])
    if len(raw) - header != math.prod(shape) * dtype.itemsize:
        raise DataFileError("%s: IDX header says shape %s but the file holds %d bytes of data"
                            % (path, shape, len(raw) - header))
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def mnist_split(folder, split, limit=None):
    """(uint8 images [N, 28, 28], int64 labels [N]) of one split; the first `limit` examples when given."""
    import numpy as np
    images_file, labels_file = MNIST_FILES[split]
    images = read_idx(os.path.join(folder, images_file))
    labels = read_idx(os.path.join(folder, labels_file))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise DataFileError("%s: MNIST %s files of shapes %s and %s" % (folder, split, images.shape, labels.shape))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels.astype(np.int64)


def classification_figures(probabilities, labels, bins=ECE_BINS):
    """Accuracy, NLL and ECE of predictive probabilities [N, classes], defined as bayesnet's
    Sources/BayesNet/Evaluation/Metrics.swift defines them: the NLL floors each probability at 1e-12; ECE bins
    are equal-width over (lower, upper], the first also taking confidence 0."""
    import numpy as np
    p = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels)
    n = len(labels)
    predicted = p.argmax(1)
    confidence = p[np.arange(n), predicted]
    correct = (predicted == labels).astype(np.float64)
    nll = -np.log(np.maximum(p[np.arange(n), labels], PROBABILITY_FLOOR)).mean()
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count:
            ece += count / n * abs(correct[members].mean() - confidence[members].mean())
    return {"accuracy": float(correct.mean()), "nll": float(nll), "ece": float(ece)}


def mnist_arguments(description):
    """The command line both MNIST peer scripts share."""
    ap = argument_parser(description=description)
    ap.add_argument("mnist", nargs="?", default=BUNDLED_MNIST, metavar="MNIST_DIR",
                    help="folder of the four MNIST .gz IDX files (default: the bundled copy)")
    ap.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--threads", type=int, default=2, help="intra- and inter-op threads (default 2)")
    ap.add_argument("--samples", type=int, default=50, help="weight samples in the predictive (default 50)")
    ap.add_argument("--limit", type=int, metavar="N", help="train and test on the first N examples of each split")
    ap.add_argument("--json", metavar="OUT", help="also write the result here")
    a = ap.parse_args()
    if a.epochs < 1 or a.threads < 1 or a.samples < 1 or a.seed < 0 or (a.limit is not None and a.limit < 1):
        ap.error("--epochs, --threads, --samples and --limit must be at least 1, --seed not negative")
    return a


def load_mnist_or_exit(a):
    """Both splits as float32 in [0, 1] (inputs / 255, as the TFP example scales them) and int64 labels."""
    import numpy as np
    try:
        (xtr, ytr), (xte, yte) = mnist_split(a.mnist, "train", a.limit), mnist_split(a.mnist, "test", a.limit)
    except DataFileError as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
    scale = lambda x: (x / 255.0).astype(np.float32)  # noqa: E731
    return scale(xtr), ytr, scale(xte), yte


def finish_mnist(a, started, record, probabilities, labels):
    """Adds the figures, the process's wall time and peak RSS to `record`, prints it as one JSON line, and
    writes it to --json."""
    record.update(classification_figures(probabilities, labels))
    record.update({"epochs": a.epochs, "seed": a.seed, "threads": a.threads, "samples": a.samples,
                   "limit": a.limit, "test_examples": len(labels),
                   "wall_s": time.perf_counter() - started, "peak_resident_bytes": peak_rss_bytes()})
    print(json.dumps(record), flush=True)
    if a.json:
        write_json_atomically(a.json, record)
