#!/usr/bin/env python3
"""Times bayesnet and its peers side by side on bench specs, alternating them in one run.

Run through specs/bench/compare.sh, which builds bayesnet in release and finds the peers' Python environments.
For each round, spec and mode, every tool runs once, each measurement in a process of its own, in an order
that rotates from round to round; each tool keeps its best median over the rounds. Before timing anything,
every peer builds each spec and its parameter count and output shape must equal bayesnet's (`bayesnet
compile`, the numbers `bayesnet inspect` prints), layer by layer for the peers' spec reader. A peer that
reads a spec but cannot build it as bayesnet would says so in the check; it shows as n/a for that spec and
is not timed on it.

Standard library only (the child scripts need the frameworks, this driver does not).
"""
import glob
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

PEERS = {"tfp-keras": "tfp_bench.py", "tfp-nn": "tfp_bench.py", "bayesian-torch": "torch_bench.py"}
TOOLS = ["bayesnet"] + list(PEERS)


def fail(message, code=1):
    print("compare: %s" % message, file=sys.stderr)
    sys.exit(code)


def parse(argv):
    ap = common.argument_parser(prog="specs/bench/compare.sh", description=__doc__)
    ap.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (default: specs/bench/*.yaml)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over every tool (default 3)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every tool (default 2)")
    ap.add_argument("--batch", type=int, help="examples per step (default: each spec's train.batch_size)")
    ap.add_argument("--modes", default="train,predict", help="train,predict (default both)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, from: " + ", ".join(TOOLS))
    ap.add_argument("--json", metavar="OUT", help="write the results here (default /tmp/bayesnet-compare-DATE.json)")
    ap.add_argument("--bayesnet", default=".build/release/bayesnet", help="the bayesnet executable")
    ap.add_argument("--tf-python", help="python of the TFP environment (bench/peers/setup.sh prints it)")
    ap.add_argument("--torch-python", help="python of the bayesian-torch environment")
    a = ap.parse_args(argv)
    if a.rounds < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 1 or (a.batch is not None and a.batch < 1):
        ap.error("--rounds, --steps, --threads and --batch must be at least 1, --warmup not negative")
    a.tools = [t for t in a.tools.split(",") if t]
    a.modes = [m for m in a.modes.split(",") if m]
    for t in a.tools:
        if t not in TOOLS:
            ap.error("unknown tool %s (known: %s)" % (t, ", ".join(TOOLS)))
    for m in a.modes:
        if m not in ("train", "predict"):
            ap.error("unknown mode %s (train or predict)" % m)
    if not a.specs:
        a.specs = sorted(glob.glob("specs/bench/*.yaml"))
        if not a.specs:
            ap.error("no specs given and none in specs/bench/")
    for spec in a.specs:
        if not os.path.isfile(spec):
            ap.error("no such spec file: %s" % spec)
    python_of = {"tfp-keras": a.tf_python, "tfp-nn": a.tf_python, "bayesian-torch": a.torch_python}
    for t in a.tools:
        if t == "bayesnet":
            if not os.access(a.bayesnet, os.X_OK):
                ap.error("no bayesnet executable at %s (swift build -c release)" % a.bayesnet)
        elif not python_of[t] or not os.access(python_of[t], os.X_OK):
            ap.error("no Python environment for %s (run bench/peers/setup.sh and pass --tf-python/--torch-python)" % t)
    a.python_of = python_of
    return a


def compile_spec(a, spec):
    code, out, err, _ = common.run_child([a.bayesnet, "compile", spec])
    if code != 0:
        fail("bayesnet compile %s failed (exit %d):\n%s" % (spec, code, err.strip()))
    return json.loads(out)


def peer_command(a, tool, spec, mode):
    cmd = [a.python_of[tool], os.path.join(HERE, PEERS[tool]), spec, "--tool", tool, "--steps", str(a.steps),
           "--warmup", str(a.warmup), "--threads", str(a.threads), "--bayesnet", a.bayesnet]
    cmd += ["--check"] if mode == "check" else ["--mode", mode]
    if a.batch:
        cmd += ["--batch", str(a.batch)]
    return cmd


def json_line(out):
    lines = [l for l in out.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def check(a, spec, ir):
    """Every peer builds the spec; its counts must equal bayesnet's. Returns ({tool: parameters}, {tool: why
    it cannot build the spec}) for the tools asked for."""
    counts = {"bayesnet": ir["totals"]["parameters"]}
    unsupported = {}
    ir_out = ir["layers"][-1]["output_shape"] if ir["layers"] else ir["input"]["shape"]
    problems = []
    reports = {}
    for script in sorted({PEERS[t] for t in a.tools if t != "bayesnet"}):
        tools = [t for t in a.tools if PEERS.get(t) == script]
        # One process per script builds all of its tools: the frameworks take long to import.
        cmd = peer_command(a, tools[0], spec, "check")
        cmd[cmd.index("--tool") + 1] = ",".join(tools)
        code, out, err, _ = common.run_child(cmd, common.thread_env(a.threads))
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        if code != 0 or len(lines) != len(tools):
            fail("%s cannot build %s (exit %d):\n%s" % (", ".join(tools), spec, code, err.strip()[-3000:]))
        reports.update((r["tool"], r) for r in lines)
    for tool, r in reports.items():
        if "unsupported" in r:
            unsupported[tool] = r["unsupported"]
            continue
        counts[tool] = r["parameters"]
        if r["parameters"] != counts["bayesnet"]:
            problems.append("%s has %d parameters, bayesnet %d" % (tool, r["parameters"], counts["bayesnet"]))
        if r["output_shape"] != ir_out:
            problems.append("%s's output shape is %s, bayesnet's %s" % (tool, r["output_shape"], ir_out))
        reader = r["reader"]["layers"]
        if len(reader) != len(ir["layers"]):
            problems.append("the peers' reader finds %d layers, bayesnet %d" % (len(reader), len(ir["layers"])))
        for i, (mine, theirs) in enumerate(zip(reader, ir["layers"])):
            if "name" in mine and mine["name"] != theirs["name"]:
                problems.append("layer %d: the peers' reader names it %s, bayesnet %s" % (i, mine["name"], theirs["name"]))
            if mine["output_shape"] != theirs["output_shape"] or mine["parameters"] != theirs["parameters"]:
                problems.append("layer %d: the peers' reader gives shape %s and %d parameters, bayesnet %s and %d" % (
                    i, mine["output_shape"], mine["parameters"], theirs["output_shape"], theirs["parameters"]))
    if problems:
        fail("%s: the peers would not compute bayesnet's workload:\n  %s" % (spec, "\n  ".join(sorted(set(problems)))))
    return counts, unsupported


def measure(a, tool, spec, mode):
    """One measurement in a fresh process: the result dict, with the process's peak RSS, or an error dict."""
    load_before = common.machine()["load_average"]
    if tool == "bayesnet":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.json")
            cmd = [a.bayesnet, "bench", spec, "--mode", mode, "--threads", str(a.threads), "--steps", str(a.steps),
                   "--warmup", str(a.warmup), "--json", path]
            if a.batch:
                cmd += ["--batch", str(a.batch)]
            code, out, err, rss = common.run_child(cmd)
            r = None
            if code == 0 and os.path.exists(path):
                with open(path) as f:
                    doc = json.load(f)
                r = dict(doc["results"][0])
                r["own_peak_resident_bytes"] = r.pop("peak_resident_bytes", None)
    else:
        code, out, err, rss = common.run_child(peer_command(a, tool, spec, mode), common.thread_env(a.threads))
        r = json_line(out) if code == 0 else None
    if r is None:
        return {"error": "exit %d" % code, "stderr": err.strip()[-3000:]}
    r["peak_resident_bytes"] = rss
    r["load_average_before"] = load_before
    r["load_average_after"] = common.machine()["load_average"]
    return r


def main(argv):
    a = parse(argv)
    started = time.time()
    info = common.machine()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print("machine: %s, %d cores; %s; load average %s" % (info["cpu"], info["cores"], date, info["load_average"]))
    print("settings: %d round(s), %d steps after %d warm-up, %d threads, tools %s" % (
        a.rounds, a.steps, a.warmup, a.threads, ", ".join(a.tools)))

    workloads = []
    for spec in a.specs:
        ir = compile_spec(a, spec)
        counts, unsupported = check(a, spec, ir)
        batch = a.batch or ir["train"]["batch_size"]
        print("%s (%s): batch %d, parameters %s" % (ir["name"], spec, batch,
                                                     ", ".join("%s %d" % kv for kv in counts.items())))
        for tool, why in unsupported.items():
            print("%s: %s n/a: %s" % (ir["name"], tool, why))
        workloads.append((spec, ir["name"], counts, unsupported))

    checked = time.time()
    runs = {}  # (spec, mode, tool) -> [result per round]
    failed = False
    for rnd in range(a.rounds):
        for spec, name, _, unsupported in workloads:
            for mode in a.modes:
                order = a.tools[rnd % len(a.tools):] + a.tools[:rnd % len(a.tools)]
                for tool in order:
                    if tool in unsupported:
                        continue
                    r = measure(a, tool, spec, mode)
                    runs.setdefault((spec, mode, tool), []).append(r)
                    if "error" in r:
                        failed = True
                        print("round %d %-12s %-8s %-15s failed (%s): %s" % (
                            rnd + 1, name, mode, tool, r["error"], r["stderr"]), file=sys.stderr)
                    else:
                        print("round %d %-12s %-8s %-15s %9.2f ms/step" % (rnd + 1, name, mode, tool, r["median_ms"]),
                              file=sys.stderr, flush=True)
    finished = time.time()

    header = "%-12s %-8s %-15s %9s %17s %9s %9s  %s" % ("workload", "mode", "tool", "ms/step", "p25-p75", "images/s",
                                                      "peak MiB", "bayesnet speed-up vs fastest peer")
    print()
    print("machine: %s, %d cores; %s" % (info["cpu"], info["cores"], date))
    print(header)
    print("-" * len(header))
    table = []
    for spec, name, counts, unsupported in workloads:
        for mode in a.modes:
            best = {}
            for tool in a.tools:
                ok = [r for r in runs.get((spec, mode, tool), []) if "error" not in r]
                if ok:
                    best[tool] = min(ok, key=lambda r: r["median_ms"])
            peers = [t for t in best if t != "bayesnet"]
            fastest = min(peers, key=lambda t: best[t]["median_ms"]) if peers else None
            speedup = (best[fastest]["median_ms"] / best["bayesnet"]["median_ms"]
                       if fastest and "bayesnet" in best else None)
            for tool in a.tools:
                r = best.get(tool)
                note = ""
                if tool == "bayesnet" and speedup is not None:
                    note = "%.2fx (vs %s)" % (speedup, fastest)
                if tool == "bayesnet" and r is not None and r.get("peak_fraction") is not None:
                    note += "%swork %.0f GFLOP/s, %.0f%% of FMA peak" % (
                        "; " if note else "", r["work_gflops"], 100 * r["peak_fraction"])
                if r is None:
                    print("%-12s %-8s %-15s %9s" % (name, mode, tool, "n/a" if tool in unsupported else "failed"))
                    continue
                print("%-12s %-8s %-15s %9.2f %8.2f-%-8.2f %9.0f %9.0f  %s" % (
                    name, mode, tool, r["median_ms"], r["p25_ms"], r["p75_ms"], r["images_per_second"],
                    r["peak_resident_bytes"] / 1048576, note))
            table.append({
                "spec": name, "path": spec, "mode": mode, "parameters": counts,
                "tools": {t: {"median_ms": r["median_ms"], "p25_ms": r["p25_ms"], "p75_ms": r["p75_ms"],
                              "images_per_second": r["images_per_second"],
                              "peak_resident_mib": r["peak_resident_bytes"] / 1048576,
                              "work_gflops": r.get("work_gflops"), "peak_fraction": r.get("peak_fraction"),
                              "round_medians_ms": [x.get("median_ms") for x in runs[(spec, mode, t)]]}
                          for t, r in best.items()},
                "not_applicable": unsupported, "fastest_peer": fastest, "bayesnet_speedup_vs_fastest_peer": speedup})
    print("ms/step: best median over the rounds; p25-p75 of that run's steps; images/s = batch / median;")
    print("peak MiB: the measuring process's peak resident memory; speed-up: fastest peer's ms/step / bayesnet's;")
    print("work: the multiply-adds of the products bayesnet ran (x2), per second, and their share of the FMA loop's")
    print("rate on the same threads at once, measured by `bayesnet bench` before it timed that mode.")
    if any(w[3] for w in workloads):
        print("n/a: the peer cannot build that spec as bayesnet would (the reason is printed above the rounds).")
    loads = [r["load_average_before"][0] for rs in runs.values() for r in rs
             if "error" not in r and r.get("load_average_before")]
    # The run itself keeps about `threads` runnable, so more than that plus one means other work competed.
    if loads and max(loads) > a.threads + 1:
        print("warning: the 1-minute load average reached %.1f on %d cores before a measurement: other work was "
              "running, and OpenMP-based peers (torch) slow down most under contention; rerun on a quiet machine"
              % (max(loads), info["cores"]))
    print("the check took %.0f s, the rounds %.0f s (%.0f s per round)" % (
        checked - started, finished - checked, (finished - checked) / a.rounds))

    out = a.json or "/tmp/bayesnet-compare-%s.json" % time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    common.write_json_atomically(out, {
        "machine": info, "date": date, "load_average_after": common.machine()["load_average"],
        "settings": {"rounds": a.rounds, "steps": a.steps, "warmup": a.warmup, "threads": a.threads,
                     "batch": a.batch, "tools": a.tools, "modes": a.modes, "specs": a.specs},
        "seconds": {"check": checked - started, "rounds": finished - checked}, "table": table,
        "runs": [{"spec": s, "mode": m, "tool": t, "rounds": rs} for (s, m, t), rs in runs.items()]})
    print("wrote %s" % out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
