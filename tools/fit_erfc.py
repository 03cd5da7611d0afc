#!/usr/bin/python3
"""Fits the polynomial of kernels::fast_erfc (src/kernels/vec_math.hpp).

    /usr/bin/python3 tools/fit_erfc.py        # Debian's python3-torch: float64 least squares

erfc(x) = t · exp(−x² + P(t)), t = 1 / (1 + x/2), x ≥ 0. P of degree 9 is fitted
to log(erfc(x)/t) + x² on Chebyshev nodes in t over x ∈ [0, 10], by least
squares reweighted toward the minimax error (Lawson's iteration), and printed
with its maximum relative error for erfc (exact arithmetic; vec_math_test.cpp
measures the float32 code).
"""
import math

import torch

torch.set_default_dtype(torch.float64)
DEGREE = 9
LO, HI = 1.0 / 6.0, 1.0  # t at x = 10 and at x = 0
N = 4000

k = torch.arange(N)
t = 0.5 * (LO + HI) + 0.5 * (HI - LO) * torch.cos(math.pi * (k + 0.5) / N)
x = 2.0 * (1.0 / t - 1.0)
target = torch.tensor([math.log(math.erfc(v)) for v in x.tolist()]) + x * x - torch.log(t)
V = torch.stack([t**i for i in range(DEGREE + 1)], 1)
w = torch.ones(N)
for _ in range(60):
    c = torch.linalg.lstsq(V * w.sqrt()[:, None], target * w.sqrt()).solution
    err = (V @ c - target).abs()
    w = w * err / err.sum() * N

xs = torch.linspace(0, 10, 200001)
ts = 1 / (1 + xs / 2)
approx = ts * torch.exp(-xs * xs + sum(c[i] * ts**i for i in range(DEGREE + 1)))
exact = torch.tensor([math.erfc(v) for v in xs.tolist()])
print("max relative error %.3g" % ((approx - exact) / exact).abs().max().item())
print("coefficients, t^0 first:", ", ".join("%.9g" % v for v in c.tolist()))
