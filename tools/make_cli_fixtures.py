#!/usr/bin/python3
"""Writes the CLI's PyTorch interop fixtures into tests/fixtures/tools/:

  tiny_cnn.json                 a small model in dimgrad's JSON model format
  torch_tiny_cnn.safetensors    the state_dict of the same nn.Sequential, trained
                                briefly in PyTorch, written by the numpy-only
                                safetensors writer (no dimgrad metadata)
  torch_tiny_cnn_expected.json  PyTorch's softmax probabilities for Fashion-MNIST
                                test images 0..7 and its accuracy on the first 1000

The C++ test loads the weights with `dimgrad predict/eval --model tiny_cnn.json`
and must reproduce these numbers. Inputs are normalised as dimgrad does:
x = (pixels / 255 - 0.2860) / 0.3530.

    /usr/bin/python3 tools/make_cli_fixtures.py
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "interop"))
import safetensors_np  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "fixtures", "tools")
DATA = "/usr/share/datasets/fashion-mnist/"
MEAN, STD = 0.2860, 0.3530


def images(name):
    raw = np.frombuffer(gzip.open(DATA + name).read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return torch.tensor((raw.astype(np.float32) / 255 - MEAN) / STD)


def labels(name):
    return torch.tensor(np.frombuffer(gzip.open(DATA + name).read(), np.uint8, offset=8).astype(np.int64))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    spec = {"layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
                       {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"},
                       {"type": "linear", "out": "classes"}]}
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10))
    x, y = images("train-images-idx3-ubyte.gz")[:2000], labels("train-labels-idx1-ubyte.gz")[:2000]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(60):
        i = torch.arange(step * 100, step * 100 + 100) % 2000
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = images("t10k-images-idx3-ubyte.gz")[:1000], labels("t10k-labels-idx1-ubyte.gz")[:1000]
    with torch.no_grad():
        logits = model(xt)
    probs = torch.softmax(logits.double(), 1)
    expected = {
        "indices": list(range(8)),
        "probabilities": probs[:8].tolist(),
        "classes": logits[:8].argmax(1).tolist(),
        "accuracy_first_1000": float((logits.argmax(1) == yt).double().mean()),
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tiny_cnn.json"), "w") as f:
        json.dump(spec, f, indent=1)
    safetensors_np.write(os.path.join(OUT, "torch_tiny_cnn.safetensors"),
                         {k: v.numpy() for k, v in model.state_dict().items()}, checksum=False)
    with open(os.path.join(OUT, "torch_tiny_cnn_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("accuracy on the first 1000 test images:", expected["accuracy_first_1000"])


if __name__ == "__main__":
    main()
