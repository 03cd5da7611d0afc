#!/usr/bin/env bash
# Regenerates the seed corpora of the dimgrad CLI's loaders with the built CLI:
#   fuzz/corpus/model_file/  the presets as a run folder's config.json stores them
#                            (the resolved form), written by `dimgrad train`
#   fuzz/corpus/checkpoint/  real training checkpoints of tiny models (< 64 KiB,
#                            libFuzzer's -max_len), one per optimizer and schedule
# The hand-written model files in fuzz/corpus/model_file/ are kept as they are.
#
#   fuzz/make_seeds.sh [path/to/dimgrad]     (default: build/tools/dimgrad)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cli=${1:-$root/build/tools/dimgrad}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=$root/fuzz/corpus/model_file
ckpts=$root/fuzz/corpus/checkpoint
mkdir -p "$models" "$ckpts"

# A 4-feature, 3-class CSV (label = which of x0, x1, x2 is largest), train and test.
python3 - "$tmp" <<'PY'
import sys, random
random.seed(1)
for name, n in (("train.csv", 48), ("test.csv", 12)):
    with open(f"{sys.argv[1]}/{name}", "w") as f:
        f.write("x0,x1,x2,x3,label\n")
        for _ in range(n):
            x = [round(random.random(), 3) for _ in range(4)]
            f.write(",".join(map(str, x)) + f",{x[:3].index(max(x[:3]))}\n")
# A Fashion-MNIST-like IDX folder: 8 training and 4 test images of 28x28.
import struct
def idx(path, dims, data):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data))
d = f"{sys.argv[1]}/fmnist"
import os; os.makedirs(d)
idx(f"{d}/train-images-idx3-ubyte", [8, 28, 28], [random.randrange(256) for _ in range(8 * 784)])
idx(f"{d}/train-labels-idx1-ubyte", [8], [i % 10 for i in range(8)])
idx(f"{d}/t10k-images-idx3-ubyte", [4, 28, 28], [random.randrange(256) for _ in range(4 * 784)])
idx(f"{d}/t10k-labels-idx1-ubyte", [4], [i % 10 for i in range(4)])
PY
csv="csv:$tmp/train.csv,$tmp/test.csv"
common=(--epochs 1 --batch-size 8 --threads 1 --no-progress --val-split 0)

# The presets' resolved form, from config.json's "model" entry.
model_entry() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["model"], indent=1))' "$1"; }
for p in mlp two-layer; do
  "$cli" train --data "$csv" --model $p "${common[@]}" --out "$tmp/run-$p" >/dev/null
  model_entry "$tmp/run-$p/config.json" >"$models/preset-$p-csv.json"
done
for p in mlp cnn; do
  "$cli" train --data fashion-mnist --data-dir "$tmp/fmnist" --model $p "${common[@]}" --out "$tmp/run-img-$p" >/dev/null
  model_entry "$tmp/run-img-$p/config.json" >"$models/preset-$p-28x28.json"
done

# Checkpoints of tiny models: an MLP with batch norm and dropout on the CSV, and a
# small CNN on the images; each optimizer and schedule once.
cat >"$tmp/tiny-mlp.json" <<'J'
{"layers": [{"type": "linear", "out": 6}, {"type": "batchnorm1d"}, {"type": "relu"},
            {"type": "dropout", "p": 0.1}, {"type": "linear", "out": "classes"}]}
J
cat >"$tmp/tiny-cnn.json" <<'J'
{"layers": [{"type": "conv2d", "out": 2, "kernel": 3, "stride": 2}, {"type": "batchnorm2d"}, {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"}, {"type": "linear", "out": "classes"}]}
J
i=0
for opt_sched in "sgd cosine" "adam step" "adamw onecycle" "rmsprop plateau" "adagrad warmup-cosine" "sgd none"; do
  set -- $opt_sched
  "$cli" train --data "$csv" --model "$tmp/tiny-mlp.json" --optimizer $1 --schedule $2 "${common[@]}" \
    --out "$tmp/ck$i" >/dev/null
  cp "$tmp/ck$i/checkpoint.safetensors" "$ckpts/mlp-$1-$2.safetensors"
  i=$((i + 1))
done
"$cli" train --data fashion-mnist --data-dir "$tmp/fmnist" --model "$tmp/tiny-cnn.json" --optimizer adam \
  "${common[@]}" --out "$tmp/ck-cnn" >/dev/null
cp "$tmp/ck-cnn/checkpoint.safetensors" "$ckpts/cnn-adam-cosine.safetensors"
# Copies without dimgrad.checksum (the CRC of the tensor bytes, checked when
# present): mutated tensor bytes then reach the checkpoint checks instead of
# stopping at the checksum.
python3 - "$ckpts" <<'PY'
import json, struct, sys, glob
for path in sorted(glob.glob(f"{sys.argv[1]}/*.safetensors")):
    if path.endswith("-nocrc.safetensors"): continue
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    del h["__metadata__"]["dimgrad.checksum"]
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path.replace(".safetensors", "-nocrc.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + b[8 + n:])
PY
ls -l "$models" "$ckpts"
