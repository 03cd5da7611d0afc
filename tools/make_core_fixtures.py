#!/usr/bin/python3
"""Writes the golden fixtures of the core ops: tests/fixtures/core/ops.json.

Run with Debian's python3-torch (not a pyenv without torch):

    /usr/bin/python3 tools/make_core_fixtures.py

Each case names an op (tests/ops/golden_test.cpp maps the same name to the same
call in dimgrad), its inputs, its scalar arguments, the outputs PyTorch computed,
a seeded upstream gradient for the first output and the gradient PyTorch's
autograd returned for every input that requires grad. CI never runs this: the
JSON file is committed.
"""
import json
import os

import torch

torch.manual_seed(1234)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "core", "ops.json")

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.bool: "bool"}


def values(shape, dtype=torch.float64, low=-2.0, high=2.0, away=0.0):
    """Uniform values in [low, high]; with away > 0, |x| >= away (no kinks near 0)."""
    x = torch.rand(shape, dtype=torch.float64) * (high - low) + low
    if away > 0:
        x = torch.where(x.abs() < away, torch.sign(x + 1e-12) * away + x, x)
    return x.to(dtype)


def positive(shape, dtype=torch.float64):
    return values(shape, dtype, 0.3, 2.5)


def ints(shape, low=-5, high=6):
    return torch.randint(low, high, shape, dtype=torch.int64)


def enc(t):
    t = t.detach()
    data = t.reshape(-1).tolist()
    if t.dtype == torch.bool:
        data = [int(v) for v in data]
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype], "data": data}


# name → function of (inputs list, args dict). The C++ test has the same table.
OPS = {
    "add": lambda x, a: x[0] + x[1],
    "add_alpha": lambda x, a: torch.add(x[0], x[1], alpha=a["alpha"]),
    "sub": lambda x, a: x[0] - x[1],
    "mul": lambda x, a: x[0] * x[1],
    "div": lambda x, a: x[0] / x[1],
    "add_scalar": lambda x, a: x[0] + a["s"],
    "sub_scalar": lambda x, a: x[0] - a["s"],
    "mul_scalar": lambda x, a: x[0] * a["s"],
    "div_scalar": lambda x, a: x[0] / a["s"],
    "rsub_scalar": lambda x, a: a["s"] - x[0],
    "rdiv_scalar": lambda x, a: a["s"] / x[0],
    "neg": lambda x, a: -x[0],
    "pow": lambda x, a: x[0].pow(a["p"]),
    "maximum": lambda x, a: torch.maximum(x[0], x[1]),
    "minimum": lambda x, a: torch.minimum(x[0], x[1]),
    "where": lambda x, a: torch.where(x[0], x[1], x[2]),
    "exp": lambda x, a: x[0].exp(),
    "log": lambda x, a: x[0].log(),
    "sqrt": lambda x, a: x[0].sqrt(),
    "rsqrt": lambda x, a: x[0].rsqrt(),
    "abs": lambda x, a: x[0].abs(),
    "tanh": lambda x, a: x[0].tanh(),
    "sigmoid": lambda x, a: x[0].sigmoid(),
    "relu": lambda x, a: x[0].relu(),
    "clamp": lambda x, a: x[0].clamp(a.get("lo"), a.get("hi")),
    "sum": lambda x, a: x[0].sum(),
    "sum_dims": lambda x, a: x[0].sum(a["dims"], keepdim=a["keepdim"]),
    "mean": lambda x, a: x[0].mean(),
    "mean_dims": lambda x, a: x[0].mean(a["dims"], keepdim=a["keepdim"]),
    "var": lambda x, a: x[0].var(unbiased=a["unbiased"]),
    "var_dims": lambda x, a: x[0].var(a["dims"], unbiased=a["unbiased"], keepdim=a["keepdim"]),
    "std": lambda x, a: x[0].std(),
    "max": lambda x, a: x[0].max(),
    "min": lambda x, a: x[0].min(),
    "max_dim": lambda x, a: tuple(x[0].max(a["dim"], keepdim=a["keepdim"])),
    "min_dim": lambda x, a: tuple(x[0].min(a["dim"], keepdim=a["keepdim"])),
    "argmax": lambda x, a: x[0].argmax(),
    "argmax_dim": lambda x, a: x[0].argmax(a["dim"], keepdim=a["keepdim"]),
    "mm": lambda x, a: torch.mm(x[0], x[1]),
    "mm_tA": lambda x, a: torch.mm(x[0].t(), x[1]),
    "bmm": lambda x, a: torch.bmm(x[0], x[1]),
    "matmul": lambda x, a: torch.matmul(x[0], x[1]),
    "reshape": lambda x, a: x[0].reshape(a["shape"]),
    "permute": lambda x, a: x[0].permute(a["dims"]),
    "transpose": lambda x, a: x[0].transpose(a["d0"], a["d1"]),
    "t": lambda x, a: x[0].t(),
    "expand": lambda x, a: x[0].expand(a["shape"]),
    "narrow": lambda x, a: x[0].narrow(a["dim"], a["start"], a["length"]),
    "select": lambda x, a: x[0].select(a["dim"], a["index"]),
    "unsqueeze": lambda x, a: x[0].unsqueeze(a["dim"]),
    "squeeze": lambda x, a: x[0].squeeze(),
    "squeeze_dim": lambda x, a: x[0].squeeze(a["dim"]),
    "flatten": lambda x, a: x[0].flatten(a["start"], a["end"]),
    "contiguous_t": lambda x, a: x[0].t().contiguous(),
    "to_float64": lambda x, a: x[0].to(torch.float64),
    "to_float32": lambda x, a: x[0].to(torch.float32),
    "to_int64": lambda x, a: x[0].to(torch.int64),
    "index_select": lambda x, a: x[0].index_select(a["dim"], x[1]),
    "gather": lambda x, a: x[0].gather(a["dim"], x[1]),
    "cat": lambda x, a: torch.cat(x, a["dim"]),
    "stack": lambda x, a: torch.stack(x, a["dim"]),
    "softmax": lambda x, a: x[0].softmax(a["dim"]),
    "log_softmax": lambda x, a: x[0].log_softmax(a["dim"]),
    "gt": lambda x, a: x[0] > x[1],
    "lt": lambda x, a: x[0] < x[1],
    "ge": lambda x, a: x[0] >= x[1],
    "le": lambda x, a: x[0] <= x[1],
    "eq": lambda x, a: x[0] == x[1],
    "ne": lambda x, a: x[0] != x[1],
    "gt_scalar": lambda x, a: x[0] > a["s"],
    "amax": lambda x, a: x[0].amax(a["dims"], keepdim=a["keepdim"]),
    "amin": lambda x, a: x[0].amin(a["dims"], keepdim=a["keepdim"]),
    "logsumexp": lambda x, a: x[0].logsumexp(a["dims"], keepdim=a["keepdim"]),
    "prod": lambda x, a: x[0].prod(),
    "prod_dim": lambda x, a: x[0].prod(a["dim"], keepdim=a["keepdim"]),
    "cumsum": lambda x, a: x[0].cumsum(a["dim"]),
    # p as a string: "inf" and "-inf" are not JSON numbers
    "norm": lambda x, a: torch.linalg.vector_norm(x[0], float(a["p"]), dim=a["dims"] or None, keepdim=a["keepdim"]),
}

CASES = []


def case(name, op, inputs, grad=None, **args):
    """inputs: tensors; grad: indices of inputs that require grad (default: every floating input)."""
    if grad is None:
        grad = [i for i, t in enumerate(inputs) if t.is_floating_point()]
    xs = [t.clone().requires_grad_(i in grad) for i, t in enumerate(inputs)]
    out = OPS[op](xs, args)
    outs = list(out) if isinstance(out, tuple) else [out]
    entry = {"name": name, "op": op, "args": args, "inputs": [enc(t) for t in inputs], "requires_grad": grad,
             "outputs": [enc(o) for o in outs]}
    if grad and outs[0].requires_grad:
        up = torch.randn(outs[0].shape, dtype=torch.float64).to(outs[0].dtype)
        gs = torch.autograd.grad([outs[0]], [xs[i] for i in grad], [up], allow_unused=True)
        entry["grad_output"] = enc(up)
        entry["grads"] = [None if g is None else enc(g) for g in gs]
    CASES.append(entry)


def main():
    f64, f32 = torch.float64, torch.float32
    for dt, tag in ((f64, "f64"), (f32, "f32")):
        # Broadcasting binary ops: 4×1×3 with 2×3, [3] with [2,3], a 0-d operand.
        for op in ("add", "sub", "mul", "div"):
            case(f"{op}_{tag}_4x1x3_2x3", op, [values([4, 1, 3], dt), values([2, 3], dt, away=0.5)])
            case(f"{op}_{tag}_3_2x3", op, [values([3], dt), values([2, 3], dt, away=0.5)])
            case(f"{op}_{tag}_2x3_scalar", op, [values([2, 3], dt), values([], dt, away=0.5)])
        case(f"add_alpha_{tag}", "add_alpha", [values([2, 3], dt), values([3], dt)], alpha=-2.5)
        for op, s in (("add_scalar", 1.5), ("sub_scalar", 2), ("mul_scalar", -3.0), ("div_scalar", 4),
                      ("rsub_scalar", 1), ("rdiv_scalar", 2.0)):
            x = values([2, 3], dt, away=0.4)
            case(f"{op}_{tag}", op, [x], s=s)
        case(f"neg_{tag}", "neg", [values([3, 2], dt)])
        for p in (2, 3, 0.5, -1.5):
            case(f"pow_{p}_{tag}", "pow", [positive([2, 3], dt)], p=p)
        case(f"maximum_{tag}", "maximum", [values([2, 3], dt), values([3], dt)])
        case(f"minimum_{tag}", "minimum", [values([4, 1], dt), values([2, 4, 3], dt)])
        case(f"where_{tag}", "where", [values([2, 3], f64) > 0, values([2, 3], dt), values([3], dt)])
        for op in ("exp", "tanh", "sigmoid", "neg"):
            case(f"{op}_{tag}_2x3", op, [values([2, 3], dt)])
        for op in ("log", "sqrt", "rsqrt"):
            case(f"{op}_{tag}", op, [positive([3, 2], dt)])
        case(f"abs_{tag}", "abs", [values([2, 3], dt, away=0.2)])
        case(f"relu_{tag}", "relu", [values([2, 3], dt, away=0.2)])
        case(f"clamp_{tag}", "clamp", [values([3, 3], dt, -3, 3)], lo=-1.0, hi=1.5)
        case(f"clamp_min_{tag}", "clamp", [values([5], dt, -3, 3)], lo=0.5)
        case(f"clamp_max_{tag}", "clamp", [values([5], dt, -3, 3)], hi=-0.5)
        # Reductions.
        x = values([3, 4, 2], dt)
        case(f"sum_{tag}", "sum", [x])
        for dims in ([0], [1], [2], [-1], [0, 2]):
            for keep in (False, True):
                case(f"sum_dims_{dims}_{keep}_{tag}", "sum_dims", [x], dims=dims, keepdim=keep)
                case(f"mean_dims_{dims}_{keep}_{tag}", "mean_dims", [x], dims=dims, keepdim=keep)
        case(f"mean_{tag}", "mean", [x])
        case(f"var_unbiased_{tag}", "var", [x], unbiased=True)
        case(f"var_biased_{tag}", "var", [x], unbiased=False)
        case(f"var_dims_{tag}", "var_dims", [x], dims=[1], unbiased=True, keepdim=False)
        case(f"var_dims_keep_{tag}", "var_dims", [x], dims=[0, 2], unbiased=False, keepdim=True)
        case(f"std_{tag}", "std", [x])
        case(f"max_{tag}", "max", [x])
        case(f"min_{tag}", "min", [x])
        for d in (0, 1, -1):
            for keep in (False, True):
                case(f"max_dim_{d}_{keep}_{tag}", "max_dim", [x], dim=d, keepdim=keep)
                case(f"min_dim_{d}_{keep}_{tag}", "min_dim", [x], dim=d, keepdim=keep)
        case(f"argmax_{tag}", "argmax", [x])
        case(f"argmax_dim_{tag}", "argmax_dim", [x], dim=1, keepdim=True)
        # Matrix products, every matmul form.
        case(f"mm_{tag}", "mm", [values([3, 4], dt), values([4, 2], dt)])
        case(f"mm_tA_{tag}", "mm_tA", [values([4, 3], dt), values([4, 2], dt)])
        case(f"bmm_{tag}", "bmm", [values([2, 3, 4], dt), values([2, 4, 5], dt)])
        for sa, sb in (([4], [4]), ([3, 4], [4]), ([4], [4, 2]), ([3, 4], [4, 2]), ([2, 3, 4], [2, 4, 5]),
                       ([2, 3, 4], [4, 5]), ([2, 3, 4], [4]), ([4], [2, 4, 5]), ([2, 1, 3, 4], [5, 4, 2])):
            case(f"matmul_{sa}_{sb}_{tag}", "matmul", [values(sa, dt), values(sb, dt)])
        # Shape ops.
        y = values([2, 3, 4], dt)
        case(f"reshape_{tag}", "reshape", [y], shape=[4, -1])
        case(f"permute_{tag}", "permute", [y], dims=[2, 0, 1])
        case(f"transpose_{tag}", "transpose", [y], d0=0, d1=2)
        case(f"t_{tag}", "t", [values([2, 3], dt)])
        case(f"expand_{tag}", "expand", [values([3, 1], dt)], shape=[2, 3, 4])
        case(f"narrow_{tag}", "narrow", [y], dim=2, start=1, length=2)
        case(f"select_{tag}", "select", [y], dim=1, index=-1)
        case(f"unsqueeze_{tag}", "unsqueeze", [y], dim=-1)
        case(f"squeeze_{tag}", "squeeze", [values([2, 1, 3, 1], dt)])
        case(f"squeeze_dim_{tag}", "squeeze_dim", [values([2, 1, 3], dt)], dim=1)
        case(f"flatten_{tag}", "flatten", [y], start=1, end=2)
        case(f"contiguous_t_{tag}", "contiguous_t", [values([3, 4], dt)])
        # Indexing and joining.
        case(f"index_select_{tag}", "index_select", [values([4, 3], dt), torch.tensor([3, 0, 3, 1])], dim=0)
        case(f"index_select_d1_{tag}", "index_select", [values([2, 4, 3], dt), torch.tensor([2, 2, 0])], dim=1)
        case(f"gather_{tag}", "gather", [values([3, 4], dt), torch.tensor([[0, 3], [1, 1], [2, 0]])], dim=1)
        case(f"gather_d0_{tag}", "gather", [values([3, 4], dt), torch.tensor([[2, 0, 1, 1], [0, 0, 2, 1]])], dim=0)
        case(f"cat_{tag}", "cat", [values([2, 3], dt), values([1, 3], dt), values([3, 3], dt)], dim=0)
        case(f"cat_d1_{tag}", "cat", [values([2, 3], dt), values([2, 1], dt)], dim=-1)
        case(f"stack_{tag}", "stack", [values([2, 3], dt), values([2, 3], dt)], dim=1)
        for d in (0, 1, -1):
            case(f"softmax_{d}_{tag}", "softmax", [values([3, 4, 2], dt, -4, 4)], dim=d)
            case(f"log_softmax_{d}_{tag}", "log_softmax", [values([3, 4, 2], dt, -4, 4)], dim=d)
    # Softmax stays finite for large inputs (the max is subtracted).
    case("softmax_large", "softmax", [torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]])], dim=1)
    case("log_softmax_large", "log_softmax", [torch.tensor([[1000.0, 1001.0, 999.0]])], dim=1)
    # Dtype conversions with gradient.
    case("to_float64", "to_float64", [values([2, 3], f32)])
    case("to_float32", "to_float32", [values([2, 3], f64)])
    case("to_int64", "to_int64", [values([2, 3], f32, -5, 5)], grad=[])

    # Dtype promotion and integer arithmetic (no gradients).
    i, j = ints([2, 3]), ints([3], 1, 6)
    case("promote_int_plus_f32", "add", [i, values([3], f32)], grad=[])
    case("promote_f32_plus_f64", "add", [values([2, 3], f32), values([3], f64)], grad=[])
    case("promote_f32_times_f64_grad", "mul", [values([2, 3], f32), values([3], f64)])
    case("promote_int_times_f64", "mul", [i, values([2, 3], f64)], grad=[])
    case("promote_bool_plus_int", "add", [values([2, 3], f64) > 0, i], grad=[])
    case("int_add", "add", [i, j], grad=[])
    case("int_sub", "sub", [i, j], grad=[])
    case("int_mul", "mul", [i, j], grad=[])
    case("int_div_is_float", "div", [i, j], grad=[])
    case("int_plus_int_scalar", "add_scalar", [i], grad=[], s=3)
    case("int_plus_float_scalar", "add_scalar", [i], grad=[], s=0.5)
    case("int_times_float_scalar", "mul_scalar", [i], grad=[], s=1.5)
    case("int_div_int_scalar", "div_scalar", [i], grad=[], s=2)
    case("int_rdiv_scalar", "rdiv_scalar", [j], grad=[], s=1)
    case("int_neg", "neg", [i], grad=[])
    case("int_abs", "abs", [i], grad=[])
    case("int_relu", "relu", [i], grad=[])
    case("int_pow", "pow", [i], grad=[], p=2)
    case("int_exp_is_float", "exp", [ints([4], -2, 3)], grad=[])
    case("int_sum", "sum", [i], grad=[])
    case("bool_sum", "sum", [values([2, 3], f64) > 0], grad=[])
    case("int_sum_dims", "sum_dims", [i], grad=[], dims=[1], keepdim=False)
    case("int_max_dim", "max_dim", [i], grad=[], dim=1, keepdim=False)
    case("int_maximum", "maximum", [i, j], grad=[])
    case("int_clamp", "clamp", [i], grad=[], lo=-1, hi=2)
    case("int_clamp_float", "clamp", [i], grad=[], lo=-1.5)
    case("int_cat", "cat", [i, ints([1, 3])], grad=[], dim=0)
    case("mixed_cat", "cat", [i, values([1, 3], f32)], grad=[], dim=0)
    case("int_index_select", "index_select", [i, torch.tensor([1, 1, 0])], grad=[], dim=0)
    # Comparisons give bool, with promotion and broadcasting.
    a, b = values([2, 3], f32), values([3], f64)
    b[0] = a[0, 0]  # one tie, for eq/ne/ge/le
    for op in ("gt", "lt", "ge", "le", "eq", "ne"):
        case(f"{op}_promote", op, [a, b], grad=[])
    case("gt_int_float", "gt", [i, values([3], f32, -5, 5)], grad=[])
    case("gt_int_float_scalar", "gt_scalar", [i], grad=[], s=0.5)
    case("eq_int", "eq", [i, j], grad=[])

    # amax/amin, logsumexp, prod, cumsum (added after every earlier draw, so no
    # earlier case changed).
    for dt, tag in ((f64, "f64"), (f32, "f32")):
        x = values([3, 4, 2], dt)
        for dims, keep in (([], False), ([1], False), ([0, 2], True), ([-1], True)):
            case(f"amax_{dims}_{keep}_{tag}", "amax", [x], dims=dims, keepdim=keep)
            case(f"amin_{dims}_{keep}_{tag}", "amin", [x], dims=dims, keepdim=keep)
            if dims:
                case(f"logsumexp_{dims}_{keep}_{tag}", "logsumexp", [values([3, 4, 2], dt, -5, 5)], dims=dims,
                     keepdim=keep)
        tied = torch.tensor([[1.0, 3.0, 3.0], [-2.0, -2.0, -2.0]], dtype=dt)  # the gradient split between ties
        case(f"amax_ties_{tag}", "amax", [tied], dims=[1], keepdim=False)
        case(f"amin_ties_{tag}", "amin", [tied], dims=[], keepdim=False)
        case(f"logsumexp_large_{tag}", "logsumexp", [torch.tensor([[1000.0, 1001.0], [-1000.0, -1e30]], dtype=dt)],
             dims=[1], keepdim=False)
        p = values([2, 3, 4], dt, 0.5, 1.5)
        case(f"prod_{tag}", "prod", [p])
        for d, keep in ((0, False), (1, True), (-1, False)):
            case(f"prod_dim_{d}_{keep}_{tag}", "prod_dim", [p], dim=d, keepdim=keep)
        zeros = values([3, 4], dt)
        zeros[0, 1] = 0  # one zero in a row
        zeros[2, 0] = zeros[2, 3] = 0  # two zeros in a row: every gradient of that row is 0
        case(f"prod_dim_zeros_{tag}", "prod_dim", [zeros], dim=1, keepdim=False)
        for d in (0, 1, -1):
            case(f"cumsum_{d}_{tag}", "cumsum", [values([3, 4, 2], dt)], dim=d)
    case("int_amax", "amax", [i], grad=[], dims=[1], keepdim=False)
    case("int_prod_dim", "prod_dim", [ints([2, 3], -3, 4)], grad=[], dim=1, keepdim=True)
    case("bool_prod", "prod", [values([2, 3], f64) > -1.5], grad=[])
    case("int_cumsum", "cumsum", [i], grad=[], dim=1)
    case("bool_cumsum", "cumsum", [values([2, 3], f64) > 0], grad=[], dim=0)

    # p-norms (added after every earlier draw, so no earlier case changed).
    for dt, tag in ((f64, "f64"), (f32, "f32")):
        x = values([3, 4, 2], dt)
        for p in ("2", "1", "3", "0.5", "inf", "-inf", "0"):
            for dims, keep in (([], False), ([1], False), ([0, 2], True), ([-1], True)):
                case(f"norm_{p}_{dims}_{keep}_{tag}", "norm", [x], p=p, dims=dims, keepdim=keep)
        # A zero row: Y = 0, where LibTorch's gradient is 0 for p >= 1. A zero
        # element under p < 1: |A|^(p-1) is infinite there, the gradient 0.
        z = values([3, 4], dt)
        z[1] = 0
        z[2, 1] = 0
        for p in ("2", "1", "3", "0.5", "inf"):
            case(f"norm_zeros_{p}_{tag}", "norm", [z], p=p, dims=[1], keepdim=False)
        tied = torch.tensor([[1.0, -3.0, 3.0], [-2.0, 2.0, -2.0]], dtype=dt)  # the inf-norm's ties
        case(f"norm_ties_inf_{tag}", "norm", [tied], p="inf", dims=[1], keepdim=False)
        case(f"norm_ties_-inf_{tag}", "norm", [tied], p="-inf", dims=[], keepdim=False)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tools/make_core_fixtures.py", "torch": torch.__version__, "cases": CASES}, f,
                  separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(CASES)} cases to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
