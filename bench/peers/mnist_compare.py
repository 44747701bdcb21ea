#!/usr/bin/env python3
"""bayesnet's MNIST LeNet-5 run side by side with TFP's Bayesian LeNet-5 example and its bayesian-torch twin.

Run through bench/peers/mnist_compare.sh, which builds bayesnet in release and finds the peers' Python
environments. Per seed, each tool runs once in a process of its own, in an order that rotates from seed to
seed: `bayesnet run SPEC --seed S` (its figures from the run folder's summary.json), tfp_mnist.py and
torch_mnist.py (their figures from the JSON line they print). Wall time and peak RSS are measured the same way
for every tool, from outside: the child's lifetime and wait4's ru_maxrss. Prints a table with the machine and
the date, and writes every result as JSON.

With --limit N every tool trains and tests on the first N examples of each split: the peers read that many,
and bayesnet runs a temporary copy of the spec whose data are those examples as NPY files. Without --limit
the spec runs as it is.

Needs numpy and PyYAML (the TFP environment has both).
"""
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

TOOLS = ["bayesnet", "tfp", "bayesian-torch"]
PEER_SCRIPTS = {"tfp": "tfp_mnist.py", "bayesian-torch": "torch_mnist.py"}
DEFAULT_SPEC = os.path.join(common.REPOSITORY, "specs", "mnist-lenet5-flipout.yaml")
DEFAULT_EPOCHS = 10   # TFP's example; bayesnet keeps its spec's train.epochs unless --epochs is given
CHILD_TIMEOUT = 4 * 3600


def fail(message, code=1):
    print("mnist_compare: %s" % message, file=sys.stderr)
    sys.exit(code)


def parse(argv):
    ap = common.argument_parser(prog="bench/peers/mnist_compare.sh", description=__doc__)
    ap.add_argument("spec", nargs="?", default=DEFAULT_SPEC, metavar="SPEC",
                    help="bayesnet's spec (default specs/mnist-lenet5-flipout.yaml)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--epochs", type=int,
                    help="epochs for every tool (default: 10 for the peers, the spec's train.epochs for bayesnet)")
    ap.add_argument("--limit", type=int, metavar="N", help="train and test on the first N examples of each split")
    ap.add_argument("--threads", type=int, default=2, help="threads for every tool (default 2)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, from: " + ", ".join(TOOLS))
    ap.add_argument("--json", metavar="OUT", help="write the results here (default /tmp/bayesnet-mnist-compare-DATE.json)")
    ap.add_argument("--bayesnet", default=os.path.join(common.REPOSITORY, ".build", "release", "bayesnet"),
                    help="the bayesnet executable")
    ap.add_argument("--tf-python", help="python of the TFP environment (bench/peers/setup.sh prints it)")
    ap.add_argument("--torch-python", help="python of the bayesian-torch environment")
    a = ap.parse_args(argv)
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error("--seeds takes comma-separated non-negative integers, got %r" % a.seeds)
    if not a.seeds or any(s < 0 for s in a.seeds) or len(set(a.seeds)) != len(a.seeds):
        ap.error("--seeds takes distinct comma-separated non-negative integers")
    if (a.epochs is not None and a.epochs < 1) or a.threads < 1 or (a.limit is not None and a.limit < 1):
        ap.error("--epochs, --threads and --limit must be at least 1")
    a.tools = [t for t in a.tools.split(",") if t]
    for t in a.tools:
        if t not in TOOLS:
            ap.error("unknown tool %s (known: %s)" % (t, ", ".join(TOOLS)))
    if not a.tools:
        ap.error("--tools names no tool")
    if not os.path.isfile(a.spec):
        ap.error("no such spec file: %s" % a.spec)
    a.python_of = {"tfp": a.tf_python, "bayesian-torch": a.torch_python}
    for t in a.tools:
        if t == "bayesnet":
            if not os.access(a.bayesnet, os.X_OK):
                ap.error("no bayesnet executable at %s (swift build -c release)" % a.bayesnet)
        elif not a.python_of[t] or not os.access(a.python_of[t], os.X_OK):
            ap.error("no Python environment for %s (run bench/peers/setup.sh and pass --tf-python/--torch-python)" % t)
    return a


# -- the spec bayesnet runs -----------------------------------------------------------------------------------

def is_bundled_mnist(entry, split):
    return isinstance(entry, dict) and entry.get("builtin") == "mnist" and entry.get("split", split) == split


def limited_spec(spec, limit, folder):
    """A copy of `spec` whose train and test data are the first `limit` examples of the bundled MNIST, written
    as uint8 NPY files with the builtin's scale, so that bayesnet sees what the peers see. Refuses a spec whose
    data are anything else: there would be nothing comparable to cut."""
    import numpy as np
    import yaml
    with open(spec) as f:
        doc = yaml.safe_load(f)
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or set(data) != {"train", "test"} or not all(
            is_bundled_mnist(data[s], s) for s in ("train", "test")):
        fail("--limit needs a spec whose data are exactly {train: {builtin: mnist, split: train}, "
             "test: {builtin: mnist, split: test}}; %s has %r" % (spec, data), 64)
    for split in ("train", "test"):
        try:
            images, labels = common.mnist_split(common.BUNDLED_MNIST, split, limit)
        except common.DataFileError as e:
            fail(str(e))
        x, y = os.path.join(folder, "%s-x.npy" % split), os.path.join(folder, "%s-y.npy" % split)
        np.save(x, images[..., None])
        np.save(y, labels.astype(np.uint8))
        data[split] = {"format": "npy", "x": x, "y": y, "scale": 1 / 255}
    out = os.path.join(folder, "limited-" + os.path.basename(spec))
    with open(out, "w") as f:
        f.write("# %s with its data cut to the first %d examples of each split (bench/peers/mnist_compare.py)\n"
                % (spec, limit))
        yaml.safe_dump(doc, f, sort_keys=False, default_flow_style=None, width=120)
    return out


def check_spec(a, spec):
    code, _, err, _ = common.run_child([a.bayesnet, "validate", spec])
    if code != 0:
        fail("bayesnet validate %s failed (exit %d):\n%s" % (spec, code, err.strip()))


# -- one measurement ------------------------------------------------------------------------------------------

def measure(a, tool, seed, spec, work):
    """Runs one tool once; returns its record, with the wall time and peak RSS measured from outside."""
    if tool == "bayesnet":
        out = os.path.join(work, "run-seed%d" % seed)
        cmd = [a.bayesnet, "run", spec, "--seed", str(seed), "--out", out, "--threads", str(a.threads), "--quiet"]
        if a.epochs is not None:
            cmd += ["--epochs", str(a.epochs)]
        env = None
    else:
        cmd = [a.python_of[tool], os.path.join(HERE, PEER_SCRIPTS[tool]), common.BUNDLED_MNIST, "--seed", str(seed),
               "--threads", str(a.threads), "--epochs", str(a.epochs or DEFAULT_EPOCHS)]
        if a.limit is not None:
            cmd += ["--limit", str(a.limit)]
        env = common.thread_env(a.threads)
    load_before = common.machine()["load_average"]
    started = time.perf_counter()
    code, stdout, stderr, rss = common.run_child(cmd, env, timeout=CHILD_TIMEOUT)
    wall = time.perf_counter() - started
    if code != 0:
        return {"tool": tool, "seed": seed, "failed": "exit %d: %s" % (code, stderr.strip()[-2000:]), "command": cmd}

    if tool == "bayesnet":
        try:
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            predictive = summary["evaluation"]["predictive"]
            record = {"tool": tool, "accuracy": predictive["accuracy"], "nll": predictive["nll"],
                      "ece": predictive["ece"], "train_s": summary["train_seconds"],
                      # summary.json times the run from its start; what follows training is the evaluation
                      # and the writing of the run folder.
                      "eval_s": summary["wall_seconds"] - summary["train_seconds"],
                      "epochs": summary["epochs"], "training_examples": summary["training_examples"],
                      "test_examples": summary["evaluation"]["examples"], "samples": summary["evaluation"]["samples"],
                      "run_wall_s": summary["wall_seconds"], "threads": summary["threads"]}
        except (OSError, KeyError, TypeError, ValueError) as e:
            return {"tool": tool, "seed": seed, "failed": "cannot read %s/summary.json: %s" % (out, e), "command": cmd}
        shutil.rmtree(out, ignore_errors=True)
    else:
        lines = [l for l in stdout.splitlines() if l.startswith("{")]
        try:
            record = json.loads(lines[-1])
        except (IndexError, ValueError):
            return {"tool": tool, "seed": seed, "failed": "no JSON result on standard output", "command": cmd}
        record["script_wall_s"] = record.pop("wall_s")
        record["script_peak_resident_bytes"] = record.pop("peak_resident_bytes")
    record.update({"tool": tool, "seed": seed, "wall_s": wall, "peak_resident_bytes": rss, "command": cmd,
                   "load_before": load_before, "load_after": common.machine()["load_average"]})
    return record


# -- the table ------------------------------------------------------------------------------------------------

COLUMNS = ("accuracy", "nll", "ece", "train_s", "eval_s", "wall_s", "peak_mib")


def mean_row(rows):
    ok = [r for r in rows if "failed" not in r]
    if not ok:
        return None
    return {c: sum(r[c] for r in ok) / len(ok) for c in COLUMNS} | {"runs": len(ok)}


def speedups(bayesnet_row, peer_rows):
    """Each peer's wall time over bayesnet's: above 1, bayesnet finished sooner."""
    return {peer: (row["wall_s"] / bayesnet_row["wall_s"] if row and bayesnet_row and "failed" not in row
                   and "failed" not in bayesnet_row else None) for peer, row in peer_rows.items()}


def print_table(a, results, means, ratios):
    peers = [t for t in a.tools if t != "bayesnet"]
    ratio_heads = "".join(" %9s" % ("vs " + ("torch" if p == "bayesian-torch" else p)) for p in peers)
    head = "%-15s %-5s %8s %7s %7s %9s %8s %8s %9s" % ("tool", "seed", "accuracy", "NLL", "ECE", "train s",
                                                       "eval s", "wall s", "peak MiB")
    print(head + (ratio_heads if "bayesnet" in a.tools else ""))

    def line(tool, seed, r, ratio):
        if r is None or "failed" in r:
            print("%-15s %-5s failed: %s" % (tool, seed, (r or {}).get("failed", "no run")))
            return
        text = "%-15s %-5s %8.4f %7.4f %7.4f %9.1f %8.1f %8.1f %9.0f" % (
            tool, seed, r["accuracy"], r["nll"], r["ece"], r["train_s"], r["eval_s"], r["wall_s"], r["peak_mib"])
        if tool == "bayesnet" and ratio is not None:
            text += "".join(" %9s" % ("%.2fx" % ratio[p] if ratio.get(p) else "-") for p in peers)
        print(text)

    for tool in a.tools:
        for seed in a.seeds:
            r = results.get((tool, seed))
            line(tool, seed, r, ratios.get(seed))
        if len(a.seeds) > 1:
            line(tool, "mean", means.get(tool) or {"failed": "every run failed"}, ratios.get("mean"))


def main(argv):
    a = parse(argv)
    info = common.machine()
    date = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    work = tempfile.mkdtemp(prefix="bayesnet-mnist-compare-")
    try:
        spec = a.spec
        if "bayesnet" in a.tools:
            check_spec(a, a.spec)
            if a.limit is not None:
                spec = limited_spec(a.spec, a.limit, work)
                check_spec(a, spec)
        print("machine: %s, %d cores; %s; load %s" % (info["cpu"], info["cores"], date, info["load_average"]))
        print("spec: %s%s; seeds %s; epochs %s; %d threads%s" % (
            a.spec, " (data cut to the first %d examples of each split)" % a.limit if a.limit else "",
            ",".join(map(str, a.seeds)),
            a.epochs if a.epochs is not None else "%d for the peers, the spec's for bayesnet" % DEFAULT_EPOCHS,
            a.threads, "; SMOKE RUN (--limit): not the published figures" if a.limit else ""), flush=True)

        results = {}
        for i, seed in enumerate(a.seeds):
            k = i % len(a.tools)
            for tool in a.tools[k:] + a.tools[:k]:
                print("  running %s, seed %d ..." % (tool, seed), end="", flush=True)
                r = measure(a, tool, seed, spec, work)
                if "failed" not in r:
                    r["peak_mib"] = r["peak_resident_bytes"] / 1048576
                    print(" %.1f s" % r["wall_s"], flush=True)
                else:
                    print(" failed", flush=True)
                results[(tool, seed)] = r
    finally:
        shutil.rmtree(work, ignore_errors=True)

    means = {t: mean_row([results[(t, s)] for s in a.seeds]) for t in a.tools}
    peers = [t for t in a.tools if t != "bayesnet"]
    ratios = {}
    if "bayesnet" in a.tools:
        for seed in a.seeds:
            ratios[seed] = speedups(results[("bayesnet", seed)], {p: results[(p, seed)] for p in peers})
        ratios["mean"] = speedups(means["bayesnet"], {p: means[p] for p in peers})
    print()
    print_table(a, results, means, ratios)
    high = [r for r in results.values() if r.get("load_before") and r["load_before"][0] > a.threads + 1]
    if high:
        print("warning: the 1-minute load average exceeded %d before %d of the %d runs: the machine was busy, "
              "the times are not results" % (a.threads + 1, len(high), len(results)))

    out = a.json or "/tmp/bayesnet-mnist-compare-%s.json" % time.strftime("%Y%m%d-%H%M%S")
    common.write_json_atomically(out, {
        "machine": info, "date": date, "spec": a.spec, "limit": a.limit, "seeds": a.seeds, "epochs": a.epochs,
        "threads": a.threads, "tools": a.tools,
        "results": [results[(t, s)] for t in a.tools for s in a.seeds],
        "means": means, "wall_ratios": {str(k): v for k, v in ratios.items()}})
    print("results: %s" % out)
    sys.exit(1 if any("failed" in r for r in results.values()) else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
