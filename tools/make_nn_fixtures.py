#!/usr/bin/python3
"""Writes the golden fixtures of the first half of dg::nn: tests/fixtures/nn/layers.json.

Run with Debian's python3-torch (not a pyenv without torch):

    /usr/bin/python3 tools/make_nn_fixtures.py

Each case names an op (tests/nn/golden_test.cpp maps the same name to the same
dimgrad call), its inputs (by position), its options, the outputs PyTorch
computed, a seeded upstream gradient for the first output and the gradients
PyTorch's autograd returned for the inputs listed in "requires_grad". A second
list, "batchnorm_runs", records BatchNorm running statistics after several
training steps. CI never runs this: the JSON file is committed.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20240229)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "nn", "layers.json")

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}


def enc(t):
    t = t.detach()
    data = t.reshape(-1).tolist()
    if t.dtype == torch.bool:
        data = [int(v) for v in data]
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype], "data": data}


def randn(*shape, dtype=torch.float64):
    return torch.randn(shape, dtype=torch.float64).to(dtype)


def away(x, eps=0.05):
    """Moves values away from 0 (the kink of relu-like functions)."""
    return torch.where(x.abs() < eps, torch.sign(x + 1e-12) * eps + x, x)


def red(a):
    return a.get("reduction", "mean")


def opt_tensor(x, i):
    return x[i] if len(x) > i and x[i] is not None else None


# name → function of (inputs list, args dict). tests/nn/golden_test.cpp has the same table.
OPS = {
    "linear": lambda x, a: F.linear(x[0], x[1], opt_tensor(x, 2)),
    "relu": lambda x, a: F.relu(x[0]),
    "leaky_relu": lambda x, a: F.leaky_relu(x[0], a["slope"]),
    "elu": lambda x, a: F.elu(x[0], a["alpha"]),
    "gelu": lambda x, a: F.gelu(x[0], approximate=a["approximate"]),
    "softplus": lambda x, a: F.softplus(x[0], a["beta"], a["threshold"]),
    "silu": lambda x, a: F.silu(x[0]),
    "cosine_similarity": lambda x, a: F.cosine_similarity(x[0], x[1], dim=a["dim"], eps=a["eps"]),
    "pairwise_distance": lambda x, a: F.pairwise_distance(x[0], x[1], p=a["p"], eps=a["eps"], keepdim=a["keepdim"]),
    "normalize": lambda x, a: F.normalize(x[0], p=a["p"], dim=a["dim"], eps=a["eps"]),
    "sigmoid": lambda x, a: torch.sigmoid(x[0]),
    "tanh": lambda x, a: torch.tanh(x[0]),
    "softmax": lambda x, a: F.softmax(x[0], a["dim"]),
    "log_softmax": lambda x, a: F.log_softmax(x[0], a["dim"]),
    # inputs: x, weight, bias, running_mean, running_var (the running tensors are
    # updated in place; the test compares them after the call too)
    "batch_norm": lambda x, a: F.batch_norm(x[0], opt_tensor(x, 3), opt_tensor(x, 4), opt_tensor(x, 1),
                                            opt_tensor(x, 2), a["training"], a["momentum"], a["eps"]),
    "layer_norm": lambda x, a: F.layer_norm(x[0], a["shape"], opt_tensor(x, 1), opt_tensor(x, 2), a["eps"]),
    "group_norm": lambda x, a: F.group_norm(x[0], a["groups"], opt_tensor(x, 1), opt_tensor(x, 2), a["eps"]),
    # inputs: weight, indices
    "embedding": lambda x, a: F.embedding(x[1], x[0], padding_idx=a.get("padding_idx"),
                                          scale_grad_by_freq=a.get("scale_grad_by_freq", False)),
    "flatten": lambda x, a: torch.flatten(x[0], a["start"], a["end"]),
    # losses: inputs input, target[, weight]
    "cross_entropy": lambda x, a: F.cross_entropy(x[0], x[1], weight=opt_tensor(x, 2), reduction=red(a),
                                                  ignore_index=a.get("ignore_index", -100),
                                                  label_smoothing=a.get("label_smoothing", 0.0)),
    "nll_loss": lambda x, a: F.nll_loss(x[0], x[1], weight=opt_tensor(x, 2), reduction=red(a),
                                        ignore_index=a.get("ignore_index", -100)),
    "multi_margin_loss": lambda x, a: F.multi_margin_loss(x[0], x[1], p=a["p"], margin=a["margin"],
                                                          weight=opt_tensor(x, 2), reduction=red(a)),
    "mse_loss": lambda x, a: F.mse_loss(x[0], x[1], reduction=red(a)),
    "l1_loss": lambda x, a: F.l1_loss(x[0], x[1], reduction=red(a)),
    "smooth_l1_loss": lambda x, a: F.smooth_l1_loss(x[0], x[1], reduction=red(a), beta=a["beta"]),
    "huber_loss": lambda x, a: F.huber_loss(x[0], x[1], reduction=red(a), delta=a["delta"]),
    "binary_cross_entropy": lambda x, a: F.binary_cross_entropy(x[0], x[1], weight=opt_tensor(x, 2),
                                                                reduction=red(a)),
    "binary_cross_entropy_with_logits": lambda x, a: F.binary_cross_entropy_with_logits(
        x[0], x[1], weight=opt_tensor(x, 2), reduction=red(a), pos_weight=opt_tensor(x, 3)),
    "kl_div": lambda x, a: F.kl_div(x[0], x[1], reduction=red(a), log_target=a.get("log_target", False)),
}

CASES = []


def case(name, op, inputs, grad, **args):
    """inputs: tensors (None for an absent optional one); grad: indices of inputs that require grad."""
    xs = [None if t is None else t.clone().requires_grad_(i in grad) for i, t in enumerate(inputs)]
    out = OPS[op](xs, args)
    entry = {"name": name, "op": op, "args": args,
             "inputs": [None if t is None else enc(t) for t in inputs], "requires_grad": grad,
             "outputs": [enc(out)]}
    # tensors changed in place by the op (batch norm's running statistics)
    entry["after"] = [None if t is None or t.requires_grad else enc(t) for t in xs]
    if grad:
        up = torch.randn(out.shape, dtype=torch.float64).to(out.dtype)
        gs = torch.autograd.grad([out], [xs[i] for i in grad], [up], allow_unused=True)
        entry["grad_output"] = enc(up)
        entry["grads"] = [None if g is None else enc(g) for g in gs]
    CASES.append(entry)


# ------------------------------------------------------------------ linear
case("linear_2d", "linear", [randn(5, 7), randn(4, 7), randn(4)], [0, 1, 2])
case("linear_3d_input", "linear", [randn(2, 3, 7), randn(4, 7), randn(4)], [0, 1, 2])
case("linear_no_bias", "linear", [randn(1, 6), randn(3, 6)], [0, 1])
case("linear_1d_input", "linear", [randn(6), randn(3, 6), randn(3)], [0, 1, 2])
case("linear_float32", "linear", [randn(9, 33, dtype=torch.float32), randn(17, 33, dtype=torch.float32),
                                  randn(17, dtype=torch.float32)], [0, 1, 2])

# -------------------------------------------------------------- activations
xa = away(randn(4, 6) * 2)
case("relu", "relu", [xa], [0])
case("leaky_relu", "leaky_relu", [xa], [0], slope=0.1)
case("elu", "elu", [xa], [0], alpha=1.3)
case("gelu", "gelu", [xa], [0], approximate="none")
case("gelu_tanh", "gelu", [xa], [0], approximate="tanh")
case("softplus", "softplus", [xa * 3], [0], beta=2.0, threshold=5.0)
case("sigmoid", "sigmoid", [xa], [0])
case("tanh", "tanh", [xa], [0])
case("softmax", "softmax", [xa], [0], dim=1)
case("log_softmax_dim0", "log_softmax", [xa], [0], dim=0)

# ------------------------------------------------------------ normalization
C = 4
case("batch_norm_1d_train", "batch_norm",
     [randn(6, C) * 2 + 1, randn(C), randn(C), torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)],
     [0, 1, 2], training=True, momentum=0.1, eps=1e-5)
case("batch_norm_1d_seq_train", "batch_norm",
     [randn(5, C, 3), randn(C), randn(C), randn(C), torch.rand(C, dtype=torch.float64) + 0.5],
     [0, 1, 2], training=True, momentum=0.3, eps=1e-3)
case("batch_norm_2d_train", "batch_norm",
     [randn(3, 3, 4, 5) * 1.5 - 0.5, randn(3), randn(3), randn(3), torch.rand(3, dtype=torch.float64) + 0.5],
     [0, 1, 2], training=True, momentum=0.1, eps=1e-5)
case("batch_norm_2d_eval", "batch_norm",
     [randn(2, 3, 3, 3), randn(3), randn(3), randn(3), torch.rand(3, dtype=torch.float64) + 0.5],
     [0, 1, 2], training=False, momentum=0.1, eps=1e-5)
case("batch_norm_no_affine_train", "batch_norm", [randn(8, 5), None, None, None, None], [0],
     training=True, momentum=0.1, eps=1e-5)
case("batch_norm_2d_float32", "batch_norm",
     [randn(4, 6, 5, 5, dtype=torch.float32) * 3 + 2, randn(6, dtype=torch.float32), randn(6, dtype=torch.float32),
      torch.zeros(6), torch.ones(6)], [0, 1, 2], training=True, momentum=0.1, eps=1e-5)
case("layer_norm", "layer_norm", [randn(3, 4, 5) * 2 + 1, randn(4, 5), randn(4, 5)], [0, 1, 2], shape=[4, 5], eps=1e-5)
case("layer_norm_last_dim", "layer_norm", [randn(6, 7), randn(7), randn(7)], [0, 1, 2], shape=[7], eps=1e-5)
case("layer_norm_no_affine", "layer_norm", [randn(2, 9)], [0], shape=[9], eps=1e-3)
case("group_norm", "group_norm", [randn(2, 6, 3, 3) + 0.5, randn(6), randn(6)], [0, 1, 2], groups=3, eps=1e-5)
case("group_norm_2d_input", "group_norm", [randn(3, 8), randn(8), randn(8)], [0, 1, 2], groups=2, eps=1e-5)

# ---------------------------------------------------------------- embedding
idx = torch.tensor([[1, 2, 1], [0, 9, 3]])
case("embedding", "embedding", [randn(10, 4), idx], [0])
case("embedding_padding", "embedding", [randn(10, 4), idx], [0], padding_idx=2)
case("embedding_freq", "embedding", [randn(10, 4), idx], [0], scale_grad_by_freq=True)
case("flatten", "flatten", [randn(2, 3, 4, 5)], [0], start=1, end=2)

# -------------------------------------------------------------------- losses
logits = randn(6, 5) * 2
tgt = torch.tensor([0, 4, 2, 2, 1, 3])
tgt_ign = torch.tensor([0, -100, 2, 2, 1, -100])
cw = torch.rand(5, dtype=torch.float64) + 0.5
for r in ["mean", "sum", "none"]:
    case(f"cross_entropy_{r}", "cross_entropy", [logits, tgt], [0], reduction=r)
    case(f"cross_entropy_weight_ignore_{r}", "cross_entropy", [logits, tgt_ign, cw], [0], reduction=r)
    case(f"cross_entropy_smooth_ignore_{r}", "cross_entropy", [logits, tgt_ign], [0], reduction=r,
         label_smoothing=0.2)
    case(f"cross_entropy_smooth_weight_{r}", "cross_entropy", [logits, tgt_ign, cw], [0], reduction=r,
         label_smoothing=0.15)
case("cross_entropy_ignore_3", "cross_entropy", [logits, tgt], [0], ignore_index=2)
case("cross_entropy_kdim", "cross_entropy", [randn(2, 4, 3, 2), torch.randint(0, 4, (2, 3, 2))], [0])
case("cross_entropy_kdim_smooth_none", "cross_entropy", [randn(2, 4, 3), torch.randint(0, 4, (2, 3))], [0],
     reduction="none", label_smoothing=0.1)
case("cross_entropy_unbatched", "cross_entropy", [randn(5), torch.tensor(3)], [0])
case("cross_entropy_probs", "cross_entropy", [logits, torch.softmax(randn(6, 5), 1)], [0])
case("cross_entropy_probs_smooth_weight_sum", "cross_entropy", [logits, torch.softmax(randn(6, 5), 1), cw], [0],
     reduction="sum", label_smoothing=0.3)
case("cross_entropy_float32", "cross_entropy", [randn(16, 10, dtype=torch.float32) * 3, torch.randint(0, 10, (16,))],
     [0])
logp = torch.log_softmax(randn(6, 5), 1)
for r in ["mean", "sum", "none"]:
    case(f"nll_loss_{r}", "nll_loss", [logp, tgt_ign, cw], [0], reduction=r)
case("nll_loss_ignore_1", "nll_loss", [logp, tgt], [0], ignore_index=1)
scores = randn(5, 4)
mtgt = torch.tensor([0, 3, 1, 1, 2])
case("multi_margin_p1", "multi_margin_loss", [scores, mtgt], [0], p=1, margin=1.0)
case("multi_margin_p2_weight", "multi_margin_loss", [scores, mtgt, torch.rand(4, dtype=torch.float64) + 0.5], [0],
     p=2, margin=0.7)
case("multi_margin_sum_none", "multi_margin_loss", [scores, mtgt], [0], p=1, margin=1.3, reduction="none")
a, b = randn(3, 4), randn(3, 4)
for r in ["mean", "sum", "none"]:
    case(f"mse_{r}", "mse_loss", [a, b], [0, 1], reduction=r)
case("l1", "l1_loss", [a, b], [0, 1])
case("smooth_l1", "smooth_l1_loss", [a, b], [0, 1], beta=0.5)
case("smooth_l1_sum", "smooth_l1_loss", [a, b], [0, 1], beta=1.0, reduction="sum")
case("huber", "huber_loss", [a, b], [0, 1], delta=0.7)
p = torch.rand(3, 4, dtype=torch.float64) * 0.9 + 0.05
t = torch.rand(3, 4, dtype=torch.float64)
case("bce", "binary_cross_entropy", [p, t], [0, 1])
case("bce_weight_sum", "binary_cross_entropy", [p, t, torch.rand(4, dtype=torch.float64)], [0, 1], reduction="sum")
case("bce_logits", "binary_cross_entropy_with_logits", [a * 3, t], [0, 1])
case("bce_logits_pos_weight", "binary_cross_entropy_with_logits",
     [a * 3, t, torch.rand(3, 1, dtype=torch.float64) + 0.5, torch.rand(4, dtype=torch.float64) * 3], [0, 1],
     reduction="none")
q = torch.log_softmax(randn(4, 5), 1)
pt = torch.softmax(randn(4, 5), 1)
for r in ["batchmean", "sum", "mean", "none"]:
    case(f"kl_div_{r}", "kl_div", [q, pt], [0, 1], reduction=r)
# A zero target contributes 0 (PyTorch's target gradient there is NaN: only the input's is compared).
pz = pt.clone()
pz[0, 1] = 0.0
case("kl_div_zero_target", "kl_div", [q, pz], [0], reduction="batchmean")
case("kl_div_log_target", "kl_div", [q, torch.log_softmax(randn(4, 5), 1)], [0, 1], reduction="batchmean",
     log_target=True)

# ------------------------------------------- batch norm running statistics
RUNS = []


def bn_run(name, module, shapes):
    """Several training steps (then one eval step) of a BatchNorm module."""
    batches = [randn(*s) * (i + 1) + i for i, s in enumerate(shapes)]
    module.train()
    for x in batches:
        module(x)
    module.eval()
    probe = randn(*shapes[0])
    RUNS.append({"name": name, "num_features": module.num_features, "momentum": module.momentum,
                 "eps": module.eps, "dims": len(shapes[0]), "batches": [enc(x) for x in batches],
                 "probe": enc(probe), "probe_out": enc(module(probe)),
                 "state": {k: enc(v) for k, v in module.state_dict().items()}})


bn_run("bn2d_momentum", torch.nn.BatchNorm2d(3, momentum=0.2).double(), [(4, 3, 2, 2)] * 5)
bn_run("bn1d_cumulative", torch.nn.BatchNorm1d(4, momentum=None).double(), [(6, 4), (3, 4), (5, 4), (2, 4)])
bn_run("bn1d_seq", torch.nn.BatchNorm1d(2, eps=1e-3).double(), [(3, 2, 5)] * 3)

# Cases added later go here, after every earlier draw from the seeded generator,
# so that the earlier cases' inputs stay as they were.
case("silu", "silu", [randn(4, 6) * 3], [0])
case("silu_float32", "silu", [randn(3, 40, dtype=torch.float32) * 8], [0])
# Distances and normalize (added after the silu draws).
case("cosine_similarity", "cosine_similarity", [randn(4, 5), randn(4, 5)], [0, 1], dim=1, eps=1e-8)
case("cosine_similarity_broadcast", "cosine_similarity", [randn(3, 1, 4), randn(2, 4)], [0, 1], dim=-1, eps=1e-8)
case("cosine_similarity_dim0_float32", "cosine_similarity",
     [randn(6, 3, dtype=torch.float32), randn(6, 3, dtype=torch.float32)], [0, 1], dim=0, eps=1e-8)
tiny = randn(2, 3)
tiny[0] *= 1e-10  # a norm below eps: clamped in value, its gradient the norm's own
case("cosine_similarity_tiny_norm", "cosine_similarity", [tiny, randn(2, 3)], [0, 1], dim=1, eps=1e-8)
case("pairwise_distance", "pairwise_distance", [randn(4, 5), randn(4, 5)], [0, 1], p=2.0, eps=1e-6, keepdim=False)
case("pairwise_distance_p1_keepdim", "pairwise_distance", [randn(3, 4), randn(3, 4)], [0, 1], p=1.0, eps=1e-6,
     keepdim=True)
case("pairwise_distance_p3_broadcast", "pairwise_distance", [randn(3, 4), randn(4)], [0, 1], p=3.0, eps=1e-6,
     keepdim=False)
case("pairwise_distance_float32", "pairwise_distance",
     [randn(5, 7, dtype=torch.float32), randn(5, 7, dtype=torch.float32)], [0, 1], p=2.0, eps=1e-6, keepdim=False)
case("normalize", "normalize", [randn(4, 5)], [0], p=2.0, dim=1, eps=1e-12)
case("normalize_p1_dim0", "normalize", [randn(3, 4, 2)], [0], p=1.0, dim=0, eps=1e-12)
zero_row = randn(3, 4)
zero_row[1] = 0  # clamped to eps: no gradient through its norm
case("normalize_zero_row", "normalize", [zero_row], [0], p=2.0, dim=1, eps=1e-12)
case("normalize_float32_last", "normalize", [randn(2, 3, 6, dtype=torch.float32)], [0], p=2.0, dim=-1, eps=1e-12)

# state-dict names of a small model, for interoperability
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2),
                            torch.nn.LayerNorm([2]), torch.nn.Embedding(5, 2))
STATE_KEYS = list(model.state_dict().keys())

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": CASES, "batchnorm_runs": RUNS,
               "state_dict_keys": STATE_KEYS}, f)
print(f"wrote {len(CASES)} cases and {len(RUNS)} batch norm runs to {os.path.relpath(OUT)}")
