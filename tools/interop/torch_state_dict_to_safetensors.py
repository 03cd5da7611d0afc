#!/usr/bin/python3
"""PyTorch state_dict -> safetensors, written by the numpy-only writer
(safetensors_np.write), so that dimgrad can load weights trained in PyTorch.

    # convert a saved state_dict (torch.save(model.state_dict(), "m.pt")):
    /usr/bin/python3 tools/interop/torch_state_dict_to_safetensors.py m.pt m.safetensors
    # regenerate the committed test fixtures under tests/fixtures/io/:
    /usr/bin/python3 tools/interop/torch_state_dict_to_safetensors.py --make-fixtures tests/fixtures/io

The fixtures: torch_written.safetensors (a small model's state_dict) with
torch_written.json (every tensor's values, plus an input and the model's output
in eval mode); numpy_dtypes.safetensors (every dtype dimgrad reads, 0-d and
empty tensors, no dimgrad checksum as from a foreign tool) with
numpy_dtypes.json; npy/*.npy written by numpy.save with npy.json.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402


def describe(a, label=None):
    """JSON record of an array: dtype name, shape, flat values (exact as doubles)."""
    a = np.asarray(a)
    if label == "BF16":
        vals = ((a.astype(np.uint32) << 16).view(np.float32)).reshape(-1).tolist()
    else:
        vals = a.reshape(-1).tolist()
    return {"dtype": label or str(a.dtype), "shape": list(a.shape), "values": vals}


def state_dict_arrays(sd):
    return {k: v.detach().cpu().contiguous().numpy() for k, v in sd.items()}


def make_torch_fixture(out_dir):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
    # One training-mode pass so the batch-norm running statistics are not their defaults.
    model.train()
    model(torch.randn(8, 4))
    model.eval()
    x = torch.randn(2, 4)
    with torch.no_grad():
        y = model(x)
    arrays = state_dict_arrays(model.state_dict())
    safetensors_np.write(os.path.join(out_dir, "torch_written.safetensors"), arrays,
                         metadata={"format": "pt", "written_by": "torch " + torch.__version__}, checksum=False)
    record = {"tensors": {k: describe(v) for k, v in arrays.items()},
              "input": describe(x.numpy()), "output": describe(y.numpy()),
              "model": "Sequential(Linear(4,5), BatchNorm1d(5), ReLU(), Linear(5,3)), eval mode"}
    with open(os.path.join(out_dir, "torch_written.json"), "w") as f:
        json.dump(record, f, indent=1)


def make_numpy_fixtures(out_dir):
    rng = np.random.default_rng(7)
    arrays = {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal((3,)),
        "i64": np.array([[-5, 0, 7], [2 ** 40, -(2 ** 62), 1]], dtype=np.int64),
        "bool": np.array([True, False, True, True]),
        "scalar": np.array(3.25, dtype=np.float64),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "f16": np.array([1.5, -0.0009765625, 65504.0, 6.0e-8], dtype=np.float16),
        "bf16": np.array([0x3FC0, 0xC2F7, 0x0001], dtype=np.uint16),  # 1.5, -123.5, a subnormal
        "i32": np.array([-2 ** 31, 2 ** 31 - 1], dtype=np.int32),
        "i16": np.array([-300, 300], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255], dtype=np.uint8),
        "u16": np.array([65535], dtype=np.uint16),
        "u32": np.array([2 ** 32 - 1], dtype=np.uint32),
    }
    labels = {"bf16": "BF16"}
    safetensors_np.write(os.path.join(out_dir, "numpy_dtypes.safetensors"), arrays, checksum=False,
                         dtype_overrides=labels)
    with open(os.path.join(out_dir, "numpy_dtypes.json"), "w") as f:
        json.dump({k: describe(v, labels.get(k)) for k, v in arrays.items()}, f, indent=1)

    npy_dir = os.path.join(out_dir, "npy")
    os.makedirs(npy_dir, exist_ok=True)
    npys = {
        "f4_2x3": rng.standard_normal((2, 3)).astype(np.float32),
        "f8_fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(2, 3, 2) / 8),
        "i8": np.array([-1, 0, 2 ** 50], dtype=np.int64),
        "b1": np.array([[True, False], [False, True]]),
        "scalar": np.array(-2.5, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "i4": np.array([-7, 9], dtype=np.int32),
        "f2": np.array([0.5, -2.0], dtype=np.float16),
        "u1": np.array([0, 200, 255], dtype=np.uint8),
    }
    for name, a in npys.items():
        np.save(os.path.join(npy_dir, name + ".npy"), a)
    with open(os.path.join(out_dir, "npy.json"), "w") as f:
        json.dump({k: describe(v) for k, v in npys.items()}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state_dict", nargs="?", help="a file written by torch.save(model.state_dict(), ...)")
    ap.add_argument("output", nargs="?", help="the safetensors file to write")
    ap.add_argument("--make-fixtures", metavar="DIR", help="write the test fixtures into DIR")
    args = ap.parse_args()
    if args.make_fixtures:
        os.makedirs(args.make_fixtures, exist_ok=True)
        make_torch_fixture(args.make_fixtures)
        make_numpy_fixtures(args.make_fixtures)
        return 0
    if not (args.state_dict and args.output):
        ap.error("give STATE_DICT OUTPUT, or --make-fixtures DIR")
    import torch
    sd = torch.load(args.state_dict, map_location="cpu")
    if not isinstance(sd, dict):
        sd = sd.state_dict()
    safetensors_np.write(args.output, state_dict_arrays(sd), metadata={"format": "pt"})
    print(f"wrote {len(sd)} tensors to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
