#!/usr/bin/python3
"""Writes the gzip test fixtures of the data readers into tests/fixtures/data/.

    /usr/bin/python3 tools/interop/make_data_fixtures.py tests/fixtures/data

The C++ tests write raw IDX, CIFAR-10 and CSV files themselves; gzip streams
come from here (Python's gzip module, i.e. zlib) so the tests need no zlib:
  tiny-images-idx3-ubyte.gz   3 images of 4x5, pixel (n, y, x) = 50n + 5y + x
  tiny-labels-idx1-ubyte.gz   labels 7, 0, 3
  tiny-images-multimember.gz  the same images as two concatenated gzip members
  truncated.gz                the images stream cut short (no end marker)
  corrupt.gz                  the images stream with damaged deflate data
  longer.gz                   an IDX header for 2 labels followed by 3 label bytes
  bomb.gz                     a header announcing 4 GB of images over 1 MB of zeros
"""
import gzip
import os
import struct
import sys
import zlib


def idx(magic_type, dims, payload):
    return struct.pack(">BBBB", 0, 0, magic_type, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data):
    # mtime=0: the bytes do not depend on when the fixtures were made.
    return gzip.compress(data, compresslevel=9, mtime=0)


def main(out):
    os.makedirs(out, exist_ok=True)
    pixels = bytes(50 * n + 5 * y + x for n in range(3) for y in range(4) for x in range(5))
    images = idx(0x08, [3, 4, 5], pixels)
    labels = idx(0x08, [3], bytes([7, 0, 3]))
    files = {
        "tiny-images-idx3-ubyte.gz": gz(images),
        "tiny-labels-idx1-ubyte.gz": gz(labels),
        "tiny-images-multimember.gz": gz(images[:30]) + gz(images[30:]),
        "truncated.gz": gz(images)[:-12],
        "longer.gz": gz(idx(0x08, [2], bytes([1, 2, 3]))),
        "bomb.gz": gz(idx(0x08, [1000000, 64, 64], bytes(1 << 20))),
    }
    damaged = bytearray(gz(images))
    for i in range(12, 20):  # inside the deflate data, after the 10-byte gzip header
        damaged[i] ^= 0xA5
    files["corrupt.gz"] = bytes(damaged)
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    # Sanity: the intact streams decompress to what they claim.
    assert zlib.decompress(files["tiny-images-idx3-ubyte.gz"], 16 + zlib.MAX_WBITS) == images
    print(f"wrote {len(files)} files to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/data")
