#!/usr/bin/python3
"""Reads a safetensors file (e.g. a dimgrad model.safetensors) with numpy only
and prints each tensor's name, dtype, shape and a few values.

    /usr/bin/python3 tools/interop/read_safetensors_numpy.py run/model.safetensors
    /usr/bin/python3 tools/interop/read_safetensors_numpy.py FILE --npz out.npz   # also save as .npz

Import it to use the arrays: `from safetensors_np import read`.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import read  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--npz", help="also write every tensor to this .npz file")
    args = ap.parse_args()
    try:
        tensors, meta = read(args.file)
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for k, v in sorted(meta.items()):
        print(f"metadata {k} = {v}")
    for name in sorted(tensors):
        a = tensors[name]
        flat = a.reshape(-1)
        preview = np.array2string(flat[:4], precision=6, separator=", ")
        print(f"{name}: {a.dtype} {list(a.shape)} {preview}{' ...' if flat.size > 4 else ''}")
    if args.npz:
        np.savez(args.npz, **tensors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
