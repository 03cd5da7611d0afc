#!/usr/bin/python3
"""Writes the golden fixtures of conv, pooling and the recurrent layers:
tests/fixtures/nn/conv_cases.json, pool_cases.json and rnn_cases.json.

Run with Debian's python3-torch (not a pyenv without torch):

    /usr/bin/python3 tools/make_nn2_fixtures.py

Every case holds its configuration, the inputs and weights (float64), a seeded
upstream gradient for each output, the outputs PyTorch computed and the
gradients its autograd returned for the input and every parameter. The C++
tests (tests/nn/test_conv_golden.cpp, test_pool_golden.cpp, test_rnn_golden.cpp)
load the same values into dimgrad and compare. CI never runs this script: the
JSON files are committed.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20240611)
torch.set_default_dtype(torch.float64)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "nn")


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def save(name, cases):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump({"generator": "tools/make_nn2_fixtures.py", "torch": torch.__version__, "cases": cases}, f,
                  separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(path), len(cases), "cases")


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


# ------------------------------------------------------------------------ conv
def conv_case(name, n, c, h, w, k, kernel, stride=1, padding=0, dilation=1, groups=1, bias=True):
    kh, kw = pair(kernel)
    x = torch.randn(n, c, h, w, requires_grad=True)
    wt = (torch.randn(k, c // groups, kh, kw) * 0.5).requires_grad_()
    b = torch.randn(k, requires_grad=True) if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    gy = torch.randn_like(y)
    y.backward(gy)
    case = {"name": name, "stride": pair(stride), "dilation": pair(dilation), "groups": groups,
            "x": enc(x), "weight": enc(wt), "grad_y": enc(gy), "y": enc(y), "grad_x": enc(x.grad),
            "grad_weight": enc(wt.grad)}
    case["padding"] = padding if isinstance(padding, str) else pair(padding)
    if bias:
        case["bias"] = enc(b)
        case["grad_bias"] = enc(b.grad)
    return case


def conv_cases():
    return [
        conv_case("basic_3to4_k3_p1", 2, 3, 7, 6, 4, 3, padding=1),
        conv_case("batch1_nonsquare_k2x3_s2x1_p1x0", 1, 2, 6, 7, 3, (2, 3), stride=(2, 1), padding=(1, 0)),
        conv_case("s2_p1_d2_groups2", 2, 4, 9, 9, 6, 3, stride=2, padding=1, dilation=2, groups=2),
        conv_case("groups3_k3x1_nobias", 3, 3, 5, 4, 3, (3, 1), padding=(1, 0), groups=3, bias=False),
        conv_case("pointwise_1x1", 2, 5, 4, 3, 2, 1),
        conv_case("same_even_kernel_k4", 2, 2, 6, 5, 3, 4, padding="same"),
        conv_case("same_dilation2_k3", 1, 2, 5, 5, 2, 3, padding="same", dilation=2),
        conv_case("valid_s3_odd_tail", 2, 3, 8, 10, 2, 3, stride=3, padding="valid"),
        # The small CNN's layers, scaled down to keep the file small (full sizes are
        # checked against the im2col reference route in tests/nn/test_conv.cpp).
        conv_case("cnn_1to8_k3_p1_12", 2, 1, 12, 12, 8, 3, padding=1),
        conv_case("cnn_8to16_k3_p1_6", 2, 8, 6, 6, 16, 3, padding=1),
    ]


# ------------------------------------------------------------------------ pool
def distinct(shape):
    """Values with no ties inside any window: a shuffled ramp plus small noise."""
    numel = 1
    for s in shape:
        numel *= s
    ramp = torch.randperm(numel).to(torch.float64) * 0.1
    return (ramp + torch.rand(numel) * 0.01 - numel * 0.05).reshape(shape)


def pool_case(name, kind, shape, **kw):
    x = distinct(shape).requires_grad_()
    if kind == "max":
        y = F.max_pool2d(x, **kw)
    elif kind == "avg":
        y = F.avg_pool2d(x, **kw)
    else:
        y = F.adaptive_avg_pool2d(x, **kw)
    gy = torch.randn_like(y)
    y.backward(gy)
    args = {}
    for key, v in kw.items():
        args[key] = pair(v) if key in ("kernel_size", "stride", "padding", "dilation", "output_size") else v
    return {"name": name, "kind": kind, "args": args, "x": enc(x), "grad_y": enc(gy), "y": enc(y),
            "grad_x": enc(x.grad)}


def pool_cases():
    return [
        pool_case("max_k2", "max", (2, 3, 6, 6), kernel_size=2),
        pool_case("max_k3_s2_p1", "max", (1, 2, 7, 8), kernel_size=3, stride=2, padding=1),
        pool_case("max_k2x3_s1x2", "max", (2, 2, 5, 7), kernel_size=(2, 3), stride=(1, 2)),
        pool_case("max_k3_d2_s1", "max", (1, 2, 8, 7), kernel_size=3, stride=1, dilation=2),
        pool_case("max_k3_s2_ceil", "max", (2, 1, 8, 6), kernel_size=3, stride=2, ceil_mode=True),
        pool_case("max_k2_s2_p1_ceil_3d", "max", (3, 5, 5), kernel_size=2, stride=2, padding=1, ceil_mode=True),
        pool_case("avg_k2", "avg", (2, 3, 6, 6), kernel_size=2),
        pool_case("avg_k3_s2_p1_incl", "avg", (1, 2, 7, 8), kernel_size=3, stride=2, padding=1),
        pool_case("avg_k3_s2_p1_excl", "avg", (1, 2, 7, 8), kernel_size=3, stride=2, padding=1,
                  count_include_pad=False),
        pool_case("avg_k3_s2_p1_ceil", "avg", (2, 1, 8, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True),
        pool_case("avg_k2x3_divisor5", "avg", (1, 2, 4, 6), kernel_size=(2, 3), divisor_override=5),
        pool_case("adaptive_7to3", "adaptive", (2, 2, 7, 7), output_size=3),
        pool_case("adaptive_5x9to2x4", "adaptive", (1, 3, 5, 9), output_size=(2, 4)),
        pool_case("adaptive_to1", "adaptive", (2, 4, 3, 5), output_size=1),
        pool_case("adaptive_3to5_upsample", "adaptive", (1, 1, 3, 3), output_size=5),
    ]


# ------------------------------------------------------------------------- rnn
def rnn_case(name, kind, input_size, hidden, layers, seq, batch, batch_first=False, bias=True, init_state=False,
             nonlinearity="tanh", bidirectional=False):
    if kind == "lstm":
        m = torch.nn.LSTM(input_size, hidden, num_layers=layers, bias=bias, batch_first=batch_first,
                          bidirectional=bidirectional)
    else:
        m = torch.nn.RNN(input_size, hidden, num_layers=layers, bias=bias, batch_first=batch_first,
                         nonlinearity=nonlinearity, bidirectional=bidirectional)
    shape = (batch, seq, input_size) if batch_first else (seq, batch, input_size)
    x = torch.randn(*shape, requires_grad=True)
    states = layers * (2 if bidirectional else 1)
    h0 = torch.randn(states, batch, hidden, requires_grad=True) if init_state else None
    c0 = torch.randn(states, batch, hidden, requires_grad=True) if init_state and kind == "lstm" else None
    if kind == "lstm":
        out, (hn, cn) = m(x, (h0, c0)) if init_state else m(x)
    else:
        out, hn = m(x, h0) if init_state else m(x)
        cn = None
    g_out, g_h = torch.randn_like(out), torch.randn_like(hn)
    loss = (out * g_out).sum() + (hn * g_h).sum()
    case = {"name": name, "kind": kind, "nonlinearity": nonlinearity, "input_size": input_size, "hidden_size": hidden,
            "num_layers": layers, "batch_first": batch_first, "bias": bias, "bidirectional": bidirectional, "x": enc(x),
            "params": {k: enc(v) for k, v in m.named_parameters()}}
    if cn is not None:
        g_c = torch.randn_like(cn)
        loss = loss + (cn * g_c).sum()
        case["grad_c_n"] = enc(g_c)
        case["c_n"] = enc(cn)
    loss.backward()
    case.update({"grad_output": enc(g_out), "grad_h_n": enc(g_h), "output": enc(out), "h_n": enc(hn),
                 "grad_x": enc(x.grad), "grad_params": {k: enc(v.grad) for k, v in m.named_parameters()}})
    if init_state:
        case["h0"] = enc(h0)
        case["grad_h0"] = enc(h0.grad)
        if c0 is not None:
            case["c0"] = enc(c0)
            case["grad_c0"] = enc(c0.grad)
    return case


def cell_case(name, kind, input_size, hidden, batch, bias=True, init_state=True):
    m = torch.nn.LSTMCell(input_size, hidden, bias=bias) if kind == "lstm_cell" else \
        torch.nn.RNNCell(input_size, hidden, bias=bias)
    x = torch.randn(batch, input_size, requires_grad=True)
    h0 = torch.randn(batch, hidden, requires_grad=True) if init_state else None
    c0 = torch.randn(batch, hidden, requires_grad=True) if init_state and kind == "lstm_cell" else None
    case = {"name": name, "kind": kind, "input_size": input_size, "hidden_size": hidden, "bias": bias, "x": enc(x),
            "params": {k: enc(v) for k, v in m.named_parameters()}}
    if kind == "lstm_cell":
        h, c = m(x, (h0, c0)) if init_state else m(x)
        g_h, g_c = torch.randn_like(h), torch.randn_like(c)
        ((h * g_h).sum() + (c * g_c).sum()).backward()
        case.update({"h": enc(h), "c": enc(c), "grad_h": enc(g_h), "grad_c": enc(g_c)})
    else:
        h = m(x, h0) if init_state else m(x)
        g_h = torch.randn_like(h)
        (h * g_h).sum().backward()
        case.update({"h": enc(h), "grad_h": enc(g_h)})
    case.update({"grad_x": enc(x.grad), "grad_params": {k: enc(v.grad) for k, v in m.named_parameters()}})
    if init_state:
        case["h0"] = enc(h0)
        case["grad_h0"] = enc(h0.grad)
        if c0 is not None:
            case["c0"] = enc(c0)
            case["grad_c0"] = enc(c0.grad)
    return case


def rnn_cases():
    return [
        rnn_case("rnn_tanh_1layer", "rnn", 3, 4, 1, 5, 2),
        rnn_case("rnn_relu_2layer_batch_first_h0", "rnn", 3, 5, 2, 4, 3, batch_first=True, init_state=True,
                 nonlinearity="relu"),
        rnn_case("rnn_tanh_2layer_nobias_h0", "rnn", 2, 3, 2, 6, 1, bias=False, init_state=True),
        rnn_case("lstm_1layer", "lstm", 3, 4, 1, 5, 2),
        rnn_case("lstm_2layer_batch_first_h0c0", "lstm", 4, 3, 2, 6, 2, batch_first=True, init_state=True),
        rnn_case("lstm_2layer_seq_first_h0c0", "lstm", 2, 5, 2, 3, 3, init_state=True),
        rnn_case("lstm_1layer_nobias_batch_first", "lstm", 3, 2, 1, 4, 2, batch_first=True, bias=False),
        rnn_case("lstm_2layer_bidirectional_h0c0", "lstm", 3, 2, 2, 4, 2, init_state=True, bidirectional=True),
        rnn_case("rnn_tanh_bidirectional_batch_first", "rnn", 2, 3, 1, 5, 2, batch_first=True, bidirectional=True),
        cell_case("rnn_cell", "rnn_cell", 3, 4, 2),
        cell_case("lstm_cell", "lstm_cell", 3, 4, 2),
        cell_case("lstm_cell_zero_state", "lstm_cell", 2, 3, 3, init_state=False),
    ]


if __name__ == "__main__":
    save("conv_cases.json", conv_cases())
    save("pool_cases.json", pool_cases())
    save("rnn_cases.json", rnn_cases())
