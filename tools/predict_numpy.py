#!/usr/bin/python3
"""Predictions of a dimgrad model file with numpy alone (no torch, no dimgrad):
reads model.safetensors (weights under PyTorch's names, the model and data
description in its metadata), runs the forward pass, and prints the predicted
class and probability of test images — to compare with `dimgrad predict --json`.

    /usr/bin/python3 tools/predict_numpy.py runs/X/model.safetensors --index 0,1,2
    /usr/bin/python3 tools/predict_numpy.py runs/X/model.safetensors --index 0,1,2 --compare dimgrad.json

Supports the layers of dimgrad's JSON model format except batch norm in
training mode (evaluation uses running statistics, as dimgrad eval does).
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop"))
from safetensors_np import read  # noqa: E402


def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    k = w.shape[2]
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    cols = np.empty((n, c, k, k, oh, ow), x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    y = np.einsum("nckluv,ockl->nouv", cols, w, optimize=True)
    return y + (b[None, :, None, None] if b is not None else 0)


def pool2d(x, k, stride, pad, kind):
    n, c, h, w = x.shape
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    win = np.stack([x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(k) for j in range(k)])
    return win.max(0) if kind == "max" else win.mean(0)


def forward(layers, t, x):
    for i, l in enumerate(layers):
        ty, p = l["type"], str(i)
        if ty == "linear":
            x = x @ t[p + ".weight"].T + (t[p + ".bias"] if l.get("bias", True) else 0)
        elif ty == "conv2d":
            x = conv2d(x, t[p + ".weight"], t.get(p + ".bias"), l["stride"], l["padding"])
        elif ty in ("maxpool2d", "avgpool2d"):
            x = pool2d(x, l["kernel"], l["stride"], l["padding"], ty[:3])
        elif ty in ("batchnorm1d", "batchnorm2d"):
            shape = (1, -1) + (1,) * (x.ndim - 2)
            m, v = t[p + ".running_mean"].reshape(shape), t[p + ".running_var"].reshape(shape)
            x = (x - m) / np.sqrt(v + l["eps"]) * t[p + ".weight"].reshape(shape) + t[p + ".bias"].reshape(shape)
        elif ty == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif ty == "relu":
            x = np.maximum(x, 0)
        elif ty == "leaky_relu":
            x = np.where(x > 0, x, x * l["negative_slope"])
        elif ty == "tanh":
            x = np.tanh(x)
        elif ty == "sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif ty == "gelu":
            from math import erf
            x = 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))
        elif ty != "dropout":
            raise ValueError(f"layer {i}: unsupported type {ty}")
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--index", default="0,1,2,3,4,5,6,7")
    ap.add_argument("--images", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--compare", help="output of `dimgrad predict --json` for the same indices")
    a = ap.parse_args()
    tensors, meta = read(a.model)
    spec, data = json.loads(meta["dimgrad.model"]), json.loads(meta["dimgrad.data"])
    idx = [int(i) for i in a.index.split(",")]
    raw = np.frombuffer(gzip.open(a.images).read(), np.uint8, offset=16).reshape(-1, *data["example_shape"])[idx]
    mean = np.array(data["mean"]).reshape(1, -1, 1, 1)
    std = np.array(data["std"]).reshape(1, -1, 1, 1)
    x = (raw.astype(np.float64) * data["scale"] - mean) / std
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    z = forward(spec["layers"], t, x)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    worst = 0.0
    theirs = json.load(open(a.compare)) if a.compare else None
    for k, i in enumerate(idx):
        c = int(p[k].argmax())
        line = f"image {i}: {data['class_names'][c]} ({100 * p[k, c]:.2f}%)"
        if theirs:
            d = np.abs(np.array(theirs[k]["probabilities"]) - p[k]).max()
            worst = max(worst, d)
            line += f"  dimgrad: class {theirs[k]['class']}, max |Δp| {d:.2e}"
            if theirs[k]["class"] != c:
                line += "  DIFFERENT CLASS"
        print(line)
    if theirs:
        print(f"largest probability difference: {worst:.2e}")
        return 0 if worst < 1e-4 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
