#!/usr/bin/python3
"""Golden fixtures for dg::optim and dg::nn::utils clipping, from PyTorch 1.13.

Run with Debian's python3-torch:  /usr/bin/python3 tools/make_optim_fixtures.py
Writes tests/fixtures/optim/{optimizers,schedulers,clip}.json (read by tests/optim).

optimizers.json: three parameters W [2, 3], b [3], c [2] with fixed initial
values; at step t the gradient is  g = H * p + noise[t]  (elementwise, fixed H
and noise), computed the same way in the C++ test. c gets a gradient on even
steps only (its grad is None on odd steps: the optimizer must skip it). Every
case records the parameters after each of 20 steps.

schedulers.json: an optimizer with two parameter groups (lr 0.1 and 0.05); each
case records every group's lr after construction and after each of 30 steps
(and the momentum / beta1 for OneCycleLR).

clip.json: gradients of three parameters (one without a gradient), the total
norm clip_grad_norm_ returns and the clipped gradients, for several norm types;
and clip_grad_value_.
"""
import json
import math
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "optim")
STEPS = 20
SCHED_STEPS = 30

SHAPES = {"W": [2, 3], "b": [3], "c": [2]}
NAMES = ["W", "b", "c"]


def rounded(values):
    return [float(v) for v in values]


def make_problem():
    g = torch.Generator().manual_seed(1234)
    init = {n: rounded((torch.rand(SHAPES[n], generator=g, dtype=torch.float64) * 2 - 1).flatten()) for n in NAMES}
    H = {n: rounded((torch.rand(SHAPES[n], generator=g, dtype=torch.float64) * 1.5 + 0.5).flatten()) for n in NAMES}
    noise = {n: [rounded((torch.rand(SHAPES[n], generator=g, dtype=torch.float64) * 2 - 1).flatten())
                 for _ in range(STEPS)] for n in NAMES}
    return init, H, noise


def run_optimizer(case, init, H, noise):
    dtype = torch.float64 if case["dtype"] == "float64" else torch.float32
    params = {n: torch.tensor(init[n], dtype=dtype).reshape(SHAPES[n]).requires_grad_() for n in NAMES}
    Hs = {n: torch.tensor(H[n], dtype=dtype).reshape(SHAPES[n]) for n in NAMES}
    cls = getattr(torch.optim, case["optimizer"])

    def kwargs(opts):
        out = dict(opts)
        if "betas" in out:
            out["betas"] = tuple(out["betas"])
        if case["optimizer"] != "Adagrad":
            out["foreach"] = False  # the single-tensor path (what dimgrad fuses)
        return out

    if "groups" in case:
        groups = [dict(params=[params[n] for n in g["params"]], **kwargs(g["options"])) for g in case["groups"]]
        opt = cls(groups, **kwargs(case["defaults"]))
    else:
        opt = cls([params[n] for n in NAMES], **kwargs(case["defaults"]))
    trajectory = []
    for t in range(STEPS):
        for n in NAMES:
            p = params[n]
            if n == "c" and t % 2 == 1:
                p.grad = None
            else:
                nz = torch.tensor(noise[n][t], dtype=dtype).reshape(SHAPES[n])
                p.grad = (Hs[n] * p.detach() + nz)
        opt.step()
        trajectory.append({n: rounded(params[n].detach().flatten().tolist()) for n in NAMES})
    out = dict(case)
    out["trajectory"] = trajectory
    return out


def optimizer_cases():
    c = []

    def add(name, optimizer, defaults, dtype="float64", groups=None):
        case = {"name": name, "optimizer": optimizer, "dtype": dtype, "defaults": defaults}
        if groups:
            case["groups"] = groups
        c.append(case)

    # SGD: every option and their combinations.
    add("sgd_plain", "SGD", {"lr": 0.1})
    add("sgd_momentum", "SGD", {"lr": 0.1, "momentum": 0.9})
    add("sgd_dampening", "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3})
    add("sgd_nesterov", "SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True})
    add("sgd_weight_decay", "SGD", {"lr": 0.1, "weight_decay": 0.05})
    add("sgd_all", "SGD", {"lr": 0.05, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.02})
    add("sgd_nesterov_wd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1})
    # Adam
    add("adam_default", "Adam", {"lr": 0.05})
    add("adam_weight_decay", "Adam", {"lr": 0.05, "weight_decay": 0.1})
    add("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True})
    add("adam_betas_eps", "Adam", {"lr": 0.02, "betas": [0.8, 0.95], "eps": 1e-3})
    add("adam_amsgrad_wd", "Adam", {"lr": 0.03, "betas": [0.5, 0.9], "weight_decay": 0.2, "amsgrad": True})
    # AdamW
    add("adamw_default", "AdamW", {"lr": 0.05})
    add("adamw_wd_amsgrad", "AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True})
    add("adamw_betas_eps", "AdamW", {"lr": 0.01, "betas": [0.7, 0.99], "eps": 1e-4, "weight_decay": 0.0})
    # RMSprop
    add("rmsprop_default", "RMSprop", {"lr": 0.01})
    add("rmsprop_alpha", "RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6})
    add("rmsprop_momentum", "RMSprop", {"lr": 0.01, "momentum": 0.9})
    add("rmsprop_centered", "RMSprop", {"lr": 0.01, "centered": True})
    add("rmsprop_all", "RMSprop", {"lr": 0.005, "alpha": 0.95, "momentum": 0.5, "centered": True,
                                   "weight_decay": 0.1})
    add("rmsprop_weight_decay", "RMSprop", {"lr": 0.01, "weight_decay": 0.2})
    # Adagrad
    add("adagrad_default", "Adagrad", {"lr": 0.1})
    add("adagrad_lr_decay", "Adagrad", {"lr": 0.1, "lr_decay": 0.05})
    add("adagrad_weight_decay", "Adagrad", {"lr": 0.1, "weight_decay": 0.1})
    add("adagrad_initial_acc", "Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5})
    add("adagrad_all", "Adagrad", {"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.05,
                                   "initial_accumulator_value": 0.1, "eps": 1e-3})
    # Parameter groups with their own options.
    add("sgd_groups", "SGD", {"lr": 0.1, "momentum": 0.9},
        groups=[{"params": ["W"], "options": {"lr": 0.05, "momentum": 0.9, "dampening": 0.2}},
                {"params": ["b", "c"], "options": {"lr": 0.1, "momentum": 0.5, "nesterov": True,
                                                   "weight_decay": 0.1}}])
    add("adam_groups", "Adam", {"lr": 0.01},
        groups=[{"params": ["W", "c"], "options": {"lr": 0.05, "amsgrad": True}},
                {"params": ["b"], "options": {"lr": 0.02, "betas": [0.5, 0.6], "weight_decay": 0.1}}])
    add("rmsprop_groups", "RMSprop", {"lr": 0.01},
        groups=[{"params": ["W"], "options": {"lr": 0.01, "centered": True}},
                {"params": ["b", "c"], "options": {"lr": 0.02, "momentum": 0.8}}])
    add("adagrad_groups", "Adagrad", {"lr": 0.1},
        groups=[{"params": ["b"], "options": {"lr": 0.1, "initial_accumulator_value": 1.0}},
                {"params": ["W", "c"], "options": {"lr": 0.3, "lr_decay": 0.1}}])
    add("adamw_groups", "AdamW", {"lr": 0.01},
        groups=[{"params": ["c"], "options": {"lr": 0.05, "weight_decay": 0.0}},
                {"params": ["W", "b"], "options": {"lr": 0.05, "weight_decay": 0.5}}])
    # float32: the same updates in single precision.
    add("f32_sgd_nesterov_wd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        dtype="float32")
    add("f32_adam_amsgrad_wd", "Adam", {"lr": 0.03, "weight_decay": 0.2, "amsgrad": True}, dtype="float32")
    add("f32_adamw", "AdamW", {"lr": 0.05, "weight_decay": 0.1}, dtype="float32")
    add("f32_rmsprop_all", "RMSprop", {"lr": 0.005, "alpha": 0.95, "momentum": 0.5, "centered": True,
                                       "weight_decay": 0.1}, dtype="float32")
    add("f32_adagrad_all", "Adagrad", {"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.05,
                                       "initial_accumulator_value": 0.1}, dtype="float32")
    return c


# ------------------------------------------------------------------ schedulers
def make_scheduler(opt, spec):
    kind, a = spec["type"], spec["args"]
    S = torch.optim.lr_scheduler
    if kind == "StepLR":
        return S.StepLR(opt, step_size=a["step_size"], gamma=a.get("gamma", 0.1))
    if kind == "MultiStepLR":
        return S.MultiStepLR(opt, milestones=a["milestones"], gamma=a.get("gamma", 0.1))
    if kind == "ExponentialLR":
        return S.ExponentialLR(opt, gamma=a["gamma"])
    if kind == "CosineAnnealingLR":
        return S.CosineAnnealingLR(opt, T_max=a["T_max"], eta_min=a.get("eta_min", 0))
    if kind == "LinearLR":
        return S.LinearLR(opt, **a)
    if kind == "OneCycleLR":
        return S.OneCycleLR(opt, **a)
    if kind == "ReduceLROnPlateau":
        return S.ReduceLROnPlateau(opt, **a)
    raise ValueError(kind)


def run_scheduler(case):
    p0 = torch.zeros(2, requires_grad=True)
    p1 = torch.zeros(3, requires_grad=True)
    lrs0 = case["group_lrs"]
    if case["optimizer"] == "SGD":
        opt = torch.optim.SGD([{"params": [p0], "lr": lrs0[0]}, {"params": [p1], "lr": lrs0[1]}],
                              lr=lrs0[0], momentum=0.9)
    else:
        opt = torch.optim.Adam([{"params": [p0], "lr": lrs0[0]}, {"params": [p1], "lr": lrs0[1]}], lr=lrs0[0])
    scheds = [make_scheduler(opt, s) for s in case["schedulers"]]

    def momenta():
        if case["optimizer"] == "SGD":
            return [g["momentum"] for g in opt.param_groups]
        return [g["betas"][0] for g in opt.param_groups]

    lrs = [[g["lr"] for g in opt.param_groups]]
    moms = [momenta()]
    for t in range(SCHED_STEPS):
        opt.step()  # no gradients: only keeps PyTorch's call-order check quiet
        for s, spec in zip(scheds, case["schedulers"]):
            if spec["type"] == "ReduceLROnPlateau":
                s.step(case["metrics"][t])
            else:
                s.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(momenta())
    out = dict(case)
    out["lrs"] = lrs
    out["momenta"] = moms
    return out


def scheduler_cases():
    c = []

    def add(name, schedulers, optimizer="SGD", metrics=None):
        case = {"name": name, "optimizer": optimizer, "group_lrs": [0.1, 0.05], "schedulers": schedulers}
        if metrics is not None:
            case["metrics"] = metrics
        c.append(case)

    def s(kind, **args):
        return {"type": kind, "args": args}

    add("step_3_half", [s("StepLR", step_size=3, gamma=0.5)])
    add("step_7_default_gamma", [s("StepLR", step_size=7)])
    add("multistep_repeat", [s("MultiStepLR", milestones=[3, 7, 7, 15], gamma=0.3)])
    add("exponential", [s("ExponentialLR", gamma=0.9)])
    add("cosine_10_eta", [s("CosineAnnealingLR", T_max=10, eta_min=0.001)])
    add("cosine_7", [s("CosineAnnealingLR", T_max=7)])
    add("linear_warmup", [s("LinearLR", start_factor=0.25, end_factor=1.0, total_iters=8)])
    add("linear_decay", [s("LinearLR", start_factor=1.0, end_factor=0.1, total_iters=10)])
    add("linear_default", [s("LinearLR")])
    add("onecycle_cos_sgd", [s("OneCycleLR", max_lr=0.8, total_steps=30)])
    add("onecycle_linear_three_phase_adam",
        [s("OneCycleLR", max_lr=[0.5, 0.2], total_steps=30, pct_start=0.4, anneal_strategy="linear",
           div_factor=10.0, final_div_factor=100.0, three_phase=True, base_momentum=0.8, max_momentum=0.9)],
        optimizer="Adam")
    add("onecycle_no_momentum", [s("OneCycleLR", max_lr=1.0, total_steps=31, pct_start=0.25, cycle_momentum=False)])
    # Chained: two schedulers stepped on one optimizer compose multiplicatively.
    add("chained_exp_step", [s("ExponentialLR", gamma=0.9), s("StepLR", step_size=4, gamma=0.5)])
    add("chained_warmup_cosine", [s("LinearLR", start_factor=0.1, total_iters=5), s("CosineAnnealingLR", T_max=6)])
    metrics = [1.0, 0.9, 0.95, 0.91, 0.9, 0.92, 0.93, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49995, 0.6, 0.7,
               0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.29, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37]
    add("plateau_min_rel", [s("ReduceLROnPlateau", mode="min", factor=0.5, patience=2)], metrics=metrics)
    add("plateau_min_abs_cooldown",
        [s("ReduceLROnPlateau", mode="min", factor=0.3, patience=1, threshold=0.05, threshold_mode="abs",
           cooldown=2, min_lr=[0.01, 0.02])], metrics=metrics)
    add("plateau_max_rel", [s("ReduceLROnPlateau", mode="max", factor=0.1, patience=0, threshold=0.01,
                              min_lr=0.001)], metrics=metrics)
    add("plateau_max_abs_eps", [s("ReduceLROnPlateau", mode="max", factor=0.5, patience=3, threshold=0.1,
                                  threshold_mode="abs", cooldown=1, eps=0.02)], metrics=metrics)
    return c


# ------------------------------------------------------------------- clipping
def clip_cases():
    g = torch.Generator().manual_seed(99)
    out = []
    shapes = [[3, 4], [5], [2, 2]]
    for dtype in ["float64", "float32"]:
        td = torch.float64 if dtype == "float64" else torch.float32
        base = [(torch.randn(s, generator=g, dtype=torch.float64) * 2).to(td) for s in shapes]
        for norm_type in [2.0, 1.0, "inf", 3.5, 0.0]:
            for max_norm in [0.5, 1e3]:
                params = [torch.zeros(s, dtype=td, requires_grad=True) for s in shapes]
                for p, b in zip(params[:2], base[:2]):
                    p.grad = b.clone()
                nt = math.inf if norm_type == "inf" else norm_type
                total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=nt)
                out.append({"kind": "norm", "dtype": dtype, "shapes": shapes, "norm_type": norm_type,
                            "max_norm": max_norm,
                            "grads": [rounded(b.flatten().tolist()) for b in base[:2]] + [None],
                            "total": float(total),
                            "clipped": [rounded(p.grad.flatten().tolist()) for p in params[:2]] + [None]})
        for clip_value in [0.7, 2.5]:
            params = [torch.zeros(s, dtype=td, requires_grad=True) for s in shapes]
            for p, b in zip(params[:2], base[:2]):
                p.grad = b.clone()
            torch.nn.utils.clip_grad_value_(params, clip_value)
            out.append({"kind": "value", "dtype": dtype, "shapes": shapes, "clip_value": clip_value,
                        "grads": [rounded(b.flatten().tolist()) for b in base[:2]] + [None],
                        "clipped": [rounded(p.grad.flatten().tolist()) for p in params[:2]] + [None]})
    return out


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    init, H, noise = make_problem()
    cases = [run_optimizer(c, init, H, noise) for c in optimizer_cases()]
    dump("optimizers.json", {"torch_version": torch.__version__, "steps": STEPS, "shapes": SHAPES, "init": init,
                             "H": H, "noise": noise, "cases": cases})
    dump("schedulers.json", {"torch_version": torch.__version__, "steps": SCHED_STEPS,
                             "cases": [run_scheduler(c) for c in scheduler_cases()]})
    dump("clip.json", {"torch_version": torch.__version__, "cases": clip_cases()})


if __name__ == "__main__":
    main()
