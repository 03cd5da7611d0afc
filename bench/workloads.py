#!/usr/bin/python3
"""The four end-to-end workloads of docs/performance.md, in PyTorch: a line-by-
line mirror of bench/workloads.cpp (dimgrad), which documents them;
bench/libtorch_workloads.cpp is the same program in LibTorch.

  /usr/bin/python3 bench/workloads.py W1|W2|W2-infer|W3|W4 --threads N [--repeats R] [--batch B] [--width H] [--steps S]

Run with Debian's python3-torch (/usr/bin/python3). The gzip'ed IDX files are
read with gzip + numpy and kept as uint8, as dg::data::load_fashion_mnist(...,
kUInt8) does; each batch becomes float32 v / 255 when it is picked.
"""
import gzip
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK = (1 << 64) - 1


# ------------------------------------------------------------ shared logic
def permutation(n, seed):
    """Fisher-Yates with SplitMix64, exactly as in the C++ programs."""
    p = list(range(n))
    s = seed
    for i in range(n - 1, 0, -1):
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z = z ^ (z >> 31)
        j = z % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    return -1.0


def reset_peak_rss():
    """Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak reported
    is the workload's (data in memory included), not the file decoder's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# -------------------------------------------------------------------- data
def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndims = b[3]
    dims = [int.from_bytes(b[4 + 4 * d:8 + 4 * d], "big") for d in range(ndims)]
    start = 4 + 4 * ndims
    if len(b) != start + math.prod(dims):
        raise ValueError(path + ": wrong length")
    return np.frombuffer(b, dtype=np.uint8, offset=start).reshape(dims)


def load_fashion_mnist(train):
    d = "/usr/share/datasets/fashion-mnist/"
    split = "train" if train else "t10k"
    images = read_idx_gz(d + split + "-images-idx3-ubyte.gz")
    labels = read_idx_gz(d + split + "-labels-idx1-ubyte.gz")
    features = torch.from_numpy(images.copy()).reshape(-1, 1, 28, 28)
    targets = torch.from_numpy(labels.astype(np.int64))
    return features, targets


# ------------------------------------------------------------------ models
def make_model(w, width):
    if w == "W1":
        return nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))
    if w == "W3":
        return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    if w == "W4":
        return nn.Sequential(nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 256),
                             nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    # W2, W2-infer
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


# ----------------------------------------------------------------- one run
def train(c, X, Y):
    r = {}
    r["batch"] = c["batch"] or (128 if c["workload"] in ("W1", "W4") else 64)
    n = X.size(0)
    r["steps"] = min(c["steps"], n // r["batch"]) if c["steps"] else 300 if c["workload"] == "W2" else n // r["batch"]
    warmup = min(20, r["steps"] // 5)
    r["timed_steps"] = r["steps"] - warmup
    last = min(50, r["steps"])

    torch.manual_seed(0)
    model = make_model(c["workload"], c["width"])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    perm = torch.tensor(permutation(n, 0))

    t0 = time.perf_counter()
    t_warm, loss_sum = t0, 0.0
    for s in range(r["steps"]):
        if s == warmup:
            t_warm = time.perf_counter()
        idx = perm.narrow(0, s * r["batch"], r["batch"])
        x, y = X.index_select(0, idx).to(torch.float32).div_(255), Y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)  # dimgrad's default (and PyTorch 2.x's)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if s == 0:
            r["initial_loss"] = loss.item()
        if s >= r["steps"] - last:
            loss_sum += loss.item()
    t1 = time.perf_counter()
    r["total_s"] = t1 - t0
    r["samples_per_s"] = r["timed_steps"] * r["batch"] / (t1 - t_warm)
    r["final_loss"] = loss_sum / last
    r["ok"] = math.isfinite(r["final_loss"]) and r["final_loss"] < 0.6 * math.log(10.0)
    return r


def infer(c, X, Y):
    """W2-infer: two untimed batches, then one timed pass over the test set."""
    r = {}
    r["batch"] = c["batch"] or 1000
    n, warmup = X.size(0), 2
    per_pass = n // r["batch"]
    r["steps"] = warmup + per_pass
    r["timed_steps"] = per_pass

    torch.manual_seed(0)
    model = make_model(c["workload"], c["width"])
    model.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        t_warm, loss_sum = t0, 0.0
        for s in range(r["steps"]):
            if s == warmup:
                t_warm = time.perf_counter()
            b = (s - warmup + per_pass) % per_pass
            x = X.narrow(0, b * r["batch"], r["batch"]).to(torch.float32).div_(255)
            y = Y.narrow(0, b * r["batch"], r["batch"])
            loss = F.cross_entropy(model(x), y)
            if s == 0:
                r["initial_loss"] = loss.item()
            if s >= warmup:
                loss_sum += loss.item()
        t1 = time.perf_counter()
    r["total_s"] = t1 - t0
    r["samples_per_s"] = r["timed_steps"] * r["batch"] / (t1 - t_warm)
    r["final_loss"] = loss_sum / per_pass
    r["ok"] = math.isfinite(r["final_loss"])
    return r


def usage():
    print("usage: workloads.py W1|W2|W2-infer|W3|W4 --threads N [--repeats R] [--batch B] [--width H] [--steps S]", file=sys.stderr)
    return 2


def main(argv):
    if len(argv) < 2:
        return usage()
    c = {"workload": argv[1], "threads": 1, "repeats": 1, "batch": 0, "width": 512, "steps": 0}
    if c["workload"] not in ("W1", "W2", "W2-infer", "W3", "W4"):
        return usage()
    for i in range(2, len(argv) - 1, 2):
        key = argv[i].lstrip("-")
        if key not in ("threads", "repeats", "batch", "width", "steps"):
            return usage()
        c[key] = int(argv[i + 1])
    torch.set_num_threads(c["threads"])

    inference = c["workload"] == "W2-infer"
    image = c["workload"].startswith("W2")
    features, targets = load_fashion_mnist(not inference)
    # uint8 [N, 1, 28, 28]; the MLPs take [N, 784]. Contiguous, in memory.
    X = features.contiguous() if image else features.reshape(features.size(0), 784).contiguous()
    Y = targets
    del features, targets
    load_peak = peak_rss_mb()
    reset_peak_rss()

    all_ok = True
    for rep in range(c["repeats"]):
        r = infer(c, X, Y) if inference else train(c, X, Y)
        all_ok = all_ok and r["ok"]
        out = {"framework": "pytorch", "workload": c["workload"], "threads": c["threads"], "repeat": rep,
               "batch": r["batch"], "width": c["width"], "steps": r["steps"], "timed_steps": r["timed_steps"],
               "samples_per_s": round(r["samples_per_s"], 1), "total_s": round(r["total_s"], 3),
               "initial_loss": round(r["initial_loss"], 4), "final_loss": round(r["final_loss"], 4),
               "peak_rss_mb": round(peak_rss_mb(), 1), "load_peak_rss_mb": round(load_peak, 1), "ok": r["ok"]}
        print(json.dumps(out), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
