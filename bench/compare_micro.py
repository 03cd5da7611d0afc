#!/usr/bin/python3
"""Side-by-side table of dg_micro and libtorch_micro results (Google Benchmark JSON).

    bench/compare_micro.py dg1.json [dg2.json ...] -- torch1.json [torch2.json ...]

Each file comes from --benchmark_repetitions=N --benchmark_out_format=json; the
median of each file's repetitions is taken, then the median over files (rounds
run alternately, A B A B, so that drifting machine load hits both sides alike).
Prints a Markdown table: time per iteration (or per op, or GFLOP/s), and the
speed-up of dimgrad over LibTorch (> 1: dimgrad faster).
"""
import json
import statistics
import sys


def load(paths):
    runs = {}
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
                continue
            name = b["run_name"]
            runs.setdefault(name, []).append(b)
    return runs


def metric(b):
    """(value, unit, higher_is_better) of one benchmark result."""
    if "GFLOPS" in b:
        return b["GFLOPS"], "GFLOP/s", True
    if "per_op" in b:
        return b["per_op"] * 1e9, "ns/op", False
    t = b["real_time"]
    unit = b.get("time_unit", "ns")
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    return t * scale / 1e3, "µs", False


def median_metric(results):
    vals = [metric(b)[0] for b in results]
    _, unit, hib = metric(results[0])
    return statistics.median(vals), unit, hib


def torch_name(dg_name):
    return dg_name.replace("BM_DgMm/", "BM_TorchMm/")


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    i = argv.index("--")
    dg, torch = load(argv[1:i]), load(argv[i + 1:])
    print("| benchmark | dimgrad | LibTorch | dimgrad speed-up |")
    print("|---|---|---|---|")
    for name, res in dg.items():
        v, unit, hib = median_metric(res)
        label = res[0].get("label", "")
        shown = name + (f" ({label})" if label else "")
        tn = torch_name(name)
        if tn in torch:
            tv, _, _ = median_metric(torch[tn])
            ratio = v / tv if hib else tv / v
            print(f"| {shown} | {v:.4g} {unit} | {tv:.4g} {unit} | {ratio:.2f}× |")
        else:
            print(f"| {shown} | {v:.4g} {unit} | – | – |")


if __name__ == "__main__":
    main(sys.argv)
