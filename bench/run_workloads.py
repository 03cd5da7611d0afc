#!/usr/bin/python3
"""Runs the workloads of docs/performance.md in dimgrad, PyTorch and LibTorch,
interleaved (dimgrad, PyTorch, LibTorch, dimgrad, ...), each process with
real-time priority where allowed (chrt -f 10, as bench/quiet.sh), and prints
Markdown tables of samples/s: median [min-max] over the rounds.

  bench/run_workloads.py compare [--build build] [--rounds 3] [--workloads W1,W2,W2-infer,W3,W4]
  bench/run_workloads.py sweep   [--rounds 3] [--workloads W1,W3]    PyTorch thread/BLAS settings
  bench/run_workloads.py scaling [--rounds 3] [--batches 16,64,256,1024] [--widths 256,...,4096]
                                 W1 against batch size and width, 1 and 2 threads

compare: dimgrad with 1 and 2 threads (dg::set_num_threads); PyTorch and
LibTorch in the three settings `sweep` found worth keeping (SETTINGS below):
one core (torch.set_num_threads(1), OpenBLAS 1 thread), the defaults with
torch.set_num_threads(1) (OpenBLAS keeps its own pool of 2 threads for
products), and torch.set_num_threads(2) with OpenBLAS 1 thread (2 OpenMP
threads + 2 OpenBLAS threads on 2 cores was 5-30x slower). Then the best
setting of each framework per workload, and the ratios dimgrad / best
PyTorch and dimgrad / best LibTorch. Every JSON line is kept in --out
(default /tmp/dg-workloads; --append adds rounds to those already there).
A training run whose final loss is not well below ln(10) is reported as a
failure (scaling: only marked, since 58 steps of batch 1024 do not get there).
After each run, bench/dg_pingpong (when built) measures how far apart the host
has put the first two CPUs (a cache line's round trip), and compare ends with
dimgrad's 2-thread results against the other framework's best, split by it.

scaling runs W1 at each batch size (one epoch) and each hidden width
(784-H-H-10, batch 128, --width-steps steps), one core each (PyTorch with
torch.set_num_threads(1) and OPENBLAS_NUM_THREADS=1: without the latter,
OpenBLAS still multiplies on 2 threads) and two cores each (dimgrad 2
threads, LibTorch 1+BLAS2).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"  # Debian's python3-torch

# PyTorch's and LibTorch's settings (the same OpenBLAS in both): label, torch
# threads, environment ("-VAR" unsets VAR). OPENBLAS_CORETYPE=Haswell made no
# consistent difference in `sweep`, so it is unset throughout.
SETTINGS = [
    ("1", 1, "OPENBLAS_NUM_THREADS=1 -OMP_NUM_THREADS -OPENBLAS_CORETYPE"),
    ("1+BLAS2", 1, "-OPENBLAS_NUM_THREADS -OMP_NUM_THREADS -OPENBLAS_CORETYPE"),
    ("2", 2, "OPENBLAS_NUM_THREADS=1 -OMP_NUM_THREADS -OPENBLAS_CORETYPE"),
]
ONE_CORE_ENV = SETTINGS[0][2]

SWEEP_ENVS = [
    "-OPENBLAS_NUM_THREADS -OMP_NUM_THREADS -OPENBLAS_CORETYPE",
    "-OPENBLAS_NUM_THREADS -OMP_NUM_THREADS OPENBLAS_CORETYPE=Haswell",
    "OPENBLAS_NUM_THREADS=1 -OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell",
    "OPENBLAS_NUM_THREADS=2 -OPENBLAS_CORETYPE",
    "OMP_NUM_THREADS=1 -OPENBLAS_NUM_THREADS -OPENBLAS_CORETYPE",
]


def have_chrt():
    try:
        return subprocess.run(["chrt", "-f", "10", "true"], stderr=subprocess.DEVNULL).returncode == 0
    except FileNotFoundError:
        return False


CHRT = have_chrt()


def make_env(spec):
    env = dict(os.environ)
    for tok in spec.split():
        if tok.startswith("-"):
            env.pop(tok[1:], None)
        else:
            k, v = tok.split("=", 1)
            env[k] = v
    return env


def command(args, framework, workload, threads, batch=0, width=0, steps=0):
    if framework == "dimgrad":
        cmd = [os.path.join(args.build, "bench", "dg_workloads")]
    elif framework == "libtorch":
        cmd = [os.path.join(args.build, "bench", "libtorch_workloads")]
    else:
        cmd = [PY, os.path.join(HERE, "workloads.py")]
    cmd += [workload, "--threads", str(threads)]
    if batch:
        cmd += ["--batch", str(batch)]
    if width:
        cmd += ["--width", str(width)]
    if steps:
        cmd += ["--steps", str(steps)]
    return (["chrt", "-f", "10"] if CHRT else []) + cmd


def run_one(args, key, framework, workload, threads, env_spec="", batch=0, width=0, steps=0):
    cmd = command(args, framework, workload, threads, batch, width, steps)
    env = make_env(env_spec)
    if framework == "dimgrad":
        # libdimgrad.so from --build first: a copy of the build (see --build) stays
        # consistent while someone rebuilds the tree.
        env["LD_LIBRARY_PATH"] = os.path.abspath(args.build) + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        r = {"ok": False, "samples_per_s": float("nan"), "error": p.stderr.strip()[-500:]}
    r["key"], r["env"], r["returncode"] = key, env_spec, p.returncode
    r.setdefault("workload", workload)
    r["loadavg"] = open("/proc/loadavg").read().split()[0]
    r["round_trip_ns"] = round_trip_ns(args)
    with open(os.path.join(args.out, "results.jsonl"), "a") as f:
        f.write(json.dumps(r) + "\n")
    status = "ok" if r.get("ok") else "FAILED"
    print(f"# {time.strftime('%H:%M:%S')} {key:<28} {workload:<8} {r['samples_per_s']:>10.1f} samples/s  "
          f"loss {r.get('final_loss', float('nan')):.3f} {status}  load {r['loadavg']}  "
          f"round trip {r['round_trip_ns']} ns", file=sys.stderr, flush=True)
    return r


# A cache line's round trip between the first two CPUs (bench/cacheline_pingpong.cpp),
# measured right after each run: on this VM the host places the two vCPUs near
# (50-60 ns) or far apart (320-360 ns), and every 2-thread result follows it.
NEAR_NS = 150


def round_trip_ns(args):
    exe = os.path.join(args.build, "bench", "dg_pingpong")
    if not os.access(exe, os.X_OK):
        return None
    p = subprocess.run([exe, "50000"], capture_output=True, text=True)
    try:
        return json.loads(p.stdout)["round_trip_ns"]
    except (json.JSONDecodeError, KeyError):
        return None


def summary(rs, require_ok=True):
    good = [r for r in rs if "peak_rss_mb" in r and (r.get("ok") or not require_ok)]
    if not good:
        return None
    v = [r["samples_per_s"] for r in good]
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v),
            "rss": statistics.median(r["peak_rss_mb"] for r in good),
            "loss": statistics.median(r["final_loss"] for r in good),
            "failed": sum(1 for r in rs if not r.get("ok"))}


def cell(s):
    if s is None:
        return "failed"
    txt = f"{s['median']:,.0f} [{s['min']:,.0f}–{s['max']:,.0f}]"
    return txt + (f" ({s['failed']} failed)" if s["failed"] else "")


# ------------------------------------------------------------------- sweep
def sweep(args):
    workloads = args.workloads.split(",")
    configs = [(t, e) for t in (1, 2) for e in SWEEP_ENVS]
    res = {}
    for _ in range(args.rounds):
        for w in workloads:
            for t, e in configs:
                key = f"pytorch t{t} {e}"
                res.setdefault((w, t, e), []).append(run_one(args, key, "pytorch", w, t, e))
    print("| torch threads | environment | " + " | ".join(f"{w} samples/s" for w in workloads) + " |")
    print("|---|---|" + "---|" * len(workloads))
    for t, e in configs:
        cells = [cell(summary(res[(w, t, e)])) for w in workloads]
        print(f"| {t} | `{e}` | " + " | ".join(cells) + " |")


# ----------------------------------------------------------------- compare
def compare(args):
    workloads = args.workloads.split(",")
    have_lt = os.access(os.path.join(args.build, "bench", "libtorch_workloads"), os.X_OK)
    runs = [("dimgrad", "1", 1, ""), ("dimgrad", "2", 2, "")]
    for fw in ("pytorch", "libtorch") if have_lt else ("pytorch",):
        runs += [(fw, label, t, e) for label, t, e in SETTINGS]
    # Interleaved: dimgrad, PyTorch, LibTorch, dimgrad, ...
    order = sorted(range(len(runs)), key=lambda i: (runs[i][1] != "1", runs[i][1]))
    res = {}
    if args.append:  # earlier rounds kept in --out count too
        path = os.path.join(args.out, "results.jsonl")
        for r in map(json.loads, open(path) if os.path.exists(path) else []):
            fw, _, label = r["key"].partition(" ")
            if (fw, label) in {(f, lb) for f, lb, _, _ in runs} and r["workload"] in workloads:
                res.setdefault((r["workload"], fw, label), []).append(r)
    else:
        open(os.path.join(args.out, "results.jsonl"), "w").close()
    for _ in range(args.rounds):
        for w in workloads:
            for i in order:
                fw, label, t, e = runs[i]
                res.setdefault((w, fw, label), []).append(run_one(args, f"{fw} {label}", fw, w, t, e))

    rounds = max(len(v) for v in res.values())
    print(f"{rounds} rounds; {'chrt -f 10' if CHRT else 'no real-time priority'}. Settings: "
          + "; ".join(f"`{label}` = torch threads {t}, `{e}`" for label, t, e in SETTINGS) + "\n")
    print("samples/s, median [min–max]:\n")
    print("| workload | " + " | ".join(f"{fw} {label}" for fw, label, _, _ in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for w in workloads:
        print(f"| {w} | " + " | ".join(cell(summary(res[(w, fw, label)])) for fw, label, _, _ in runs) + " |")

    def best(w, fw):
        c = [(summary(res[(w, f, label)]), label) for f, label, _, _ in runs if f == fw]
        c = [(s, label) for s, label in c if s]
        return max(c, key=lambda x: x[0]["median"]) if c else (None, "")

    ratio = lambda a, b: f"{a['median'] / b['median']:.2f}" if a and b else "–"
    print("\nBest setting of each framework; ratios of medians; peak RSS (MB, median); final loss:\n")
    print("| workload | dimgrad | PyTorch | LibTorch | dimgrad / PyTorch | dimgrad / LibTorch | "
          "dimgrad 1 / PyTorch 1 (one core each) | peak RSS dimgrad / PyTorch / LibTorch | final loss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in workloads:
        (d, dl), (p, pl), (l, ll) = best(w, "dimgrad"), best(w, "pytorch"), best(w, "libtorch")
        d1, p1 = summary(res[(w, "dimgrad", "1")]), summary(res[(w, "pytorch", "1")])
        rss = " / ".join(f"{s['rss']:.0f}" if s else "–" for s in (d, p, l))
        loss = " / ".join(f"{s['loss']:.3f}" if s else "–" for s in (d, p, l))
        print(f"| {w} | {cell(d)} ({dl}) | {cell(p)} ({pl}) | "
              f"{cell(l) + f' ({ll})' if l else '–'} | {ratio(d, p)} | {ratio(d, l)} | {ratio(d1, p1)} | {rss} | {loss} |")
    by_placement(res, workloads, best)


def by_placement(res, workloads, best):
    """dimgrad on 2 threads against LibTorch's (else PyTorch's) best setting, with the
    runs split by where the host had put the two vCPUs during each run."""
    print(f"\nBy placement of the two vCPUs (round trip < {NEAR_NS} ns: near), samples/s median [runs]:\n")
    print("| workload | other | dimgrad 2, near | other, near | ratio near | dimgrad 2, far | other, far | ratio far |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workloads:
        _, label = best(w, "libtorch")
        fw = "libtorch" if label else "pytorch"
        if not label:
            _, label = best(w, "pytorch")
        cells = []
        for near in (True, False):
            meds = []
            for key in (("dimgrad", "2"), (fw, label)):
                v = [r["samples_per_s"] for r in res.get((w,) + key, []) if r.get("ok") and
                     r.get("round_trip_ns") is not None and (r["round_trip_ns"] < NEAR_NS) == near]
                meds.append(statistics.median(v) if v else None)
                cells.append(f"{meds[-1]:,.0f} [{len(v)}]" if v else "–")
            cells.append(f"{meds[0] / meds[1]:.2f}" if None not in meds else "–")
        print(f"| {w} | {fw} {label} | " + " | ".join(cells) + " |")


# ----------------------------------------------------------------- scaling
# W1 at other batch sizes and widths, four ways: one core each (dimgrad 1
# thread, PyTorch with torch.set_num_threads(1) and OPENBLAS_NUM_THREADS=1), and
# two cores each (dimgrad 2 threads, LibTorch 1+BLAS2: its best W1 setting).
SCALING_RUNS = [
    ("dimgrad 1", "dimgrad", 1, ""),
    ("pytorch 1", "pytorch", 1, ONE_CORE_ENV),
    ("dimgrad 2", "dimgrad", 2, ""),
    ("libtorch 1+BLAS2", "libtorch", 1, SETTINGS[1][2]),
]


def scaling(args):
    points = [("batch", int(b), {"batch": int(b)}) for b in args.batches.split(",") if b] + \
             [("width", int(w), {"width": int(w), "steps": args.width_steps}) for w in args.widths.split(",") if w]
    res = {}
    for _ in range(args.rounds):
        for kind, v, kw in points:
            for label, fw, threads, env in SCALING_RUNS:
                res.setdefault((kind, v, label), []).append(
                    run_one(args, f"{label} {kind} {v}", fw, "W1", threads, env, **kw))
    print(f"W1 (784-H-H-10), samples/s median [min–max]. One core: dimgrad 1 thread, PyTorch "
          f"`{ONE_CORE_ENV}`. Two cores: dimgrad 2 threads, LibTorch `{SETTINGS[1][2]}` (its best W1 setting). "
          f"Widths: batch 128, {args.width_steps} steps.\n")
    for kind in ("batch", "width"):
        vals = [v for k, v, _ in points if k == kind]
        if not vals:
            continue
        print(f"| {kind} | steps | dimgrad 1 | PyTorch 1 | ratio | dimgrad 2 | LibTorch 1+BLAS2 | ratio | "
              f"dimgrad 2 / dimgrad 1 | final loss dimgrad / PyTorch |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for v in vals:
            s = {label: summary(res[(kind, v, label)], False) for label, *_ in SCALING_RUNS}
            def ratio(a, b):
                return f"{s[a]['median'] / s[b]['median']:.2f}" if s[a] and s[b] else "–"
            steps = res[(kind, v, "dimgrad 1")][0].get("steps", "?")
            loss = " / ".join(f"{s[k]['loss']:.3f}" if s[k] else "–" for k in ("dimgrad 1", "pytorch 1"))
            cells = [cell(s[label]).split(" (")[0] for label, *_ in SCALING_RUNS]
            print(f"| {v} | {steps} | {cells[0]} | {cells[1]} | {ratio('dimgrad 1', 'pytorch 1')} | {cells[2]} | "
                  f"{cells[3]} | {ratio('dimgrad 2', 'libtorch 1+BLAS2')} | {ratio('dimgrad 2', 'dimgrad 1')} | {loss} |")
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["compare", "sweep", "scaling"])
    ap.add_argument("--build", default="build",
                    help="build folder with bench/dg_workloads, bench/libtorch_workloads and libdimgrad.so.0 (or a "
                         "copy of those three, so that a rebuild of the tree during the runs changes nothing)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default=None)
    ap.add_argument("--batches", default="16,64,256,1024")
    ap.add_argument("--widths", default="256,512,1024,2048,4096")
    ap.add_argument("--width-steps", type=int, default=100,
                    help="scaling: SGD steps per width run (a 4096-wide epoch takes minutes on one core)")
    ap.add_argument("--out", default="/tmp/dg-workloads")
    ap.add_argument("--append", action="store_true",
                    help="compare: add these rounds to those already in --out/results.jsonl")
    args = ap.parse_args()
    if args.workloads is None:
        args.workloads = "W1,W3" if args.mode == "sweep" else "W1,W2,W2-infer,W3,W4"
    os.makedirs(args.out, exist_ok=True)
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} load average "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}; "
          f"{'chrt -f 10' if CHRT else 'chrt not permitted: timings share the CPU'}", file=sys.stderr)
    {"compare": compare, "sweep": sweep, "scaling": scaling}[args.mode](args)


if __name__ == "__main__":
    main()
