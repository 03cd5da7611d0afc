#!/usr/bin/python3
"""Runs the workloads of docs/performance.md in dimgrad, PyTorch and LibTorch,
interleaved (dimgrad, PyTorch, LibTorch, dimgrad, ...), each process with
real-time priority where allowed (chrt -f 10, as bench/quiet.sh), and prints
Markdown tables of samples/s: median [min-max] over the rounds.

  bench/run_workloads.py compare [--build build] [--rounds 3] [--workloads W1,W2,W2-infer,W3,W4]
  bench/run_workloads.py sweep   [--rounds 3] [--workloads W1,W3]    PyTorch thread/BLAS settings
  bench/run_workloads.py scaling [--rounds 3] [--batches 16,64,256,1024]   W1, 1 thread

compare: dimgrad with 1 and 2 threads (dg::set_num_threads), PyTorch and
LibTorch with 1 and 2 threads under the environment that `sweep` found best
for that thread count (--env1 / --env2 override it); the best of each
framework's settings per workload, and the ratios dimgrad / best PyTorch and
dimgrad / best LibTorch. Every JSON line is kept in --out (default
/tmp/dg-workloads). A run whose final loss is not well below ln(10) is
reported as a failure.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"  # Debian's python3-torch

# PyTorch's (and LibTorch's: the same OpenBLAS) best settings per thread count,
# from `sweep` (docs/performance.md). "-VAR" unsets VAR.
DEFAULT_ENV = {
    1: "-OPENBLAS_NUM_THREADS -OMP_NUM_THREADS -OPENBLAS_CORETYPE",
    2: "OPENBLAS_NUM_THREADS=1 -OMP_NUM_THREADS -OPENBLAS_CORETYPE",
}

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


def command(args, framework, workload, threads, batch=0):
    if framework == "dimgrad":
        cmd = [os.path.join(args.build, "bench", "dg_workloads")]
    elif framework == "libtorch":
        cmd = [os.path.join(args.build, "bench", "libtorch_workloads")]
    else:
        cmd = [PY, os.path.join(HERE, "workloads.py")]
    cmd += [workload, "--threads", str(threads)]
    if batch:
        cmd += ["--batch", str(batch)]
    return (["chrt", "-f", "10"] if CHRT else []) + cmd


def run_one(args, key, framework, workload, threads, env_spec="", batch=0):
    cmd = command(args, framework, workload, threads, batch)
    p = subprocess.run(cmd, env=make_env(env_spec), capture_output=True, text=True)
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        r = {"ok": False, "samples_per_s": float("nan"), "error": p.stderr.strip()[-500:]}
    r["key"], r["env"], r["returncode"] = key, env_spec, p.returncode
    r["loadavg"] = open("/proc/loadavg").read().split()[0]
    with open(os.path.join(args.out, "results.jsonl"), "a") as f:
        f.write(json.dumps(r) + "\n")
    status = "ok" if r.get("ok") else "FAILED"
    print(f"# {time.strftime('%H:%M:%S')} {key:<28} {workload:<8} {r['samples_per_s']:>10.1f} samples/s  "
          f"loss {r.get('final_loss', float('nan')):.3f} {status}  load {r['loadavg']}", file=sys.stderr, flush=True)
    return r


def summary(rs):
    v = [r["samples_per_s"] for r in rs if r.get("ok")]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v),
            "rss": statistics.median(r["peak_rss_mb"] for r in rs if r.get("ok")),
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
    env = {1: args.env1, 2: args.env2}
    runs = [("dimgrad", 1), ("pytorch", 1), ("libtorch", 1), ("dimgrad", 2), ("pytorch", 2), ("libtorch", 2)]
    have_lt = os.access(os.path.join(args.build, "bench", "libtorch_workloads"), os.X_OK)
    if not have_lt:
        runs = [r for r in runs if r[0] != "libtorch"]
    res = {}
    for _ in range(args.rounds):
        for w in workloads:
            for fw, t in runs:
                e = "" if fw == "dimgrad" else env[t]
                res.setdefault((w, fw, t), []).append(run_one(args, f"{fw} t{t}", fw, w, t, e))

    print(f"PyTorch/LibTorch environment: 1 thread `{env[1]}`, 2 threads `{env[2]}`; "
          f"{args.rounds} rounds; {'chrt -f 10' if CHRT else 'no real-time priority'}.\n")
    print("samples/s, median [min–max]:\n")
    print("| workload | " + " | ".join(f"{fw} {t} thr" for fw, t in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for w in workloads:
        print(f"| {w} | " + " | ".join(cell(summary(res[(w, fw, t)])) for fw, t in runs) + " |")

    def best(w, fw):
        c = [(summary(res[(w, f, t)]), t) for f, t in runs if f == fw]
        c = [(s, t) for s, t in c if s]
        return max(c, key=lambda x: x[0]["median"]) if c else (None, 0)

    print("\nBest setting of each framework; ratios of medians; peak RSS (MB, median):\n")
    print("| workload | dimgrad | PyTorch | LibTorch | dimgrad / PyTorch | dimgrad / LibTorch | peak RSS dimgrad / PyTorch / LibTorch |")
    print("|---|---|---|---|---|---|---|")
    for w in workloads:
        (d, dt), (p, pt), (l, lt) = best(w, "dimgrad"), best(w, "pytorch"), best(w, "libtorch")
        ratio = lambda a, b: f"{a['median'] / b['median']:.2f}" if a and b else "–"
        rss = " / ".join(f"{s['rss']:.0f}" if s else "–" for s in (d, p, l))
        print(f"| {w} | {cell(d)} ({dt} thr) | {cell(p)} ({pt} thr) | "
              f"{cell(l) + f' ({lt} thr)' if l else '–'} | {ratio(d, p)} | {ratio(d, l)} | {rss} |")


# ----------------------------------------------------------------- scaling
def scaling(args):
    batches = [int(b) for b in args.batches.split(",")]
    res = {}
    for _ in range(args.rounds):
        for b in batches:
            for fw in ("dimgrad", "pytorch"):
                e = "" if fw == "dimgrad" else args.env1
                res.setdefault((b, fw), []).append(run_one(args, f"{fw} t1 b{b}", fw, "W1", 1, e, batch=b))
    print("W1, 1 thread, samples/s median [min–max]:\n")
    print("| batch | dimgrad | PyTorch | dimgrad / PyTorch |")
    print("|---|---|---|---|")
    for b in batches:
        d, p = summary(res[(b, "dimgrad")]), summary(res[(b, "pytorch")])
        ratio = f"{d['median'] / p['median']:.2f}" if d and p else "–"
        print(f"| {b} | {cell(d)} | {cell(p)} | {ratio} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["compare", "sweep", "scaling"])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default=None)
    ap.add_argument("--batches", default="16,64,256,1024")
    ap.add_argument("--env1", default=DEFAULT_ENV[1], help="environment of PyTorch/LibTorch with 1 thread")
    ap.add_argument("--env2", default=DEFAULT_ENV[2], help="environment of PyTorch/LibTorch with 2 threads")
    ap.add_argument("--out", default="/tmp/dg-workloads")
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
