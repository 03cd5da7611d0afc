"""safetensors read/write with numpy only (no torch, no safetensors package).

The format: an 8-byte little-endian header length N, N bytes of JSON
({"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}),
padded with spaces to a multiple of 8, then the data buffer, which the tensors
tile exactly. dimgrad adds "dimgrad.checksum" (crc32 of the data buffer) to the
metadata; `read` verifies it when present.
"""
import json
import struct
import zlib

import numpy as np

# safetensors dtype name -> numpy dtype (little-endian). BF16 has no numpy
# type: it is read as its raw uint16 bits and widened to float32.
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
NAMES = {v: k for k, v in DTYPES.items() if k != "BF16"}


def read(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > 100_000_000 or 8 + n > len(blob):
        raise ValueError(f"{path}: bad header length {n}")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{path}: duplicate keys in the header")
        return dict(pairs)

    header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    buf = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    if "dimgrad.checksum" in meta:
        crc = "crc32:%08x" % (zlib.crc32(buf) & 0xFFFFFFFF)
        if crc != meta["dimgrad.checksum"]:
            raise ValueError(f"{path}: checksum mismatch ({meta['dimgrad.checksum']} stored, {crc} computed)")
    tensors, spans = {}, []
    for name, info in header.items():
        dt = DTYPES[info["dtype"]]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * dt.itemsize or end > len(buf):
            raise ValueError(f"{path}: tensor {name}: offsets do not match dtype and shape")
        a = np.frombuffer(buf[begin:end], dtype=dt, count=count).reshape(shape)
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = a.copy()
        spans.append((begin, end))
    pos = 0
    for begin, end in sorted(spans):
        if begin != pos:
            raise ValueError(f"{path}: tensors overlap or leave a hole at byte {pos}")
        pos = end
    if pos != len(buf):
        raise ValueError(f"{path}: trailing bytes after the last tensor")
    return tensors, meta


def write(path, tensors, metadata=None, checksum=True, dtype_overrides=None):
    """Writes a dict of numpy arrays. dtype_overrides maps a name to a dtype
    label for arrays whose numpy type has no safetensors name of its own
    (e.g. raw uint16 bits written as "BF16")."""
    dtype_overrides = dtype_overrides or {}
    arrays = {k: np.array(v, order="C", copy=False) for k, v in tensors.items()}  # keeps 0-d
    # Larger elements first, then by name: every tensor aligned to its element size.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header, chunks, offset = {}, [], 0
    for name in order:
        a = arrays[name]
        label = dtype_overrides.get(name) or NAMES[a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype]
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": label, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    buf = b"".join(chunks)
    meta = dict(metadata or {})
    if checksum:
        meta["dimgrad.checksum"] = "crc32:%08x" % (zlib.crc32(buf) & 0xFFFFFFFF)
        meta["dimgrad.format_version"] = "1"
    text = json.dumps({"__metadata__": meta, **header}, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(buf)
