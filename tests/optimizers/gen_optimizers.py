"""gen_optimizers.py — reference trajectories of torch.optim for test_optimizers.c.

An independent implementation to check the optimizer plugins against: PyTorch
1.13's torch.optim (SGD, Adam, AdamW, RMSprop, Adagrad) runs 5 steps on two
float32 tensors, "fc.weight" (3x4) and "fc.bias" (3), and the parameters after
every step are written to reference.txt beside this file.

The problem, which test_optimizers.c reproduces from the file's own lines:
  - initial values, and coefficients a and c per element (float32);
  - at step t = 1..5 the gradient of each element is computed in double from
    the current float32 parameter th and rounded once to float32:
        g = float32(a * th + c + 0.1 * sin(th * t))
    (libm's sin on both sides, so the C test gets the same bits);
  - the learning rate of step t is lr * factors[t-1], set as group['lr']
    before the step, the way the host's schedule scales it.

The wrappers run a torch.optim base the same way: lookahead as Algorithm 1
of Zhang et al. (2019) written out below (torch 1.13 has no Lookahead), ema
through torch.optim.swa_utils.AveragedModel with the exponential avg_fn; for
ema the averaged parameters after each step are written too ("eval" lines:
what evaluation passes see).

Each case names a plugin and the hyperparameters it sets (a wrapper's base
as base:PLUGIN and its settings as base.KEY=VALUE); everything else
keeps its default (PyTorch's own defaults on this side: the "defaults" cases
thus also check that the plugin defaults match torch's). The script checks
that each set option changes the trajectory, so the C test can catch an
option that is ignored.

Regenerate (Debian's python3-torch 1.13 is /usr/bin/python3; plain python3
on PATH may lack torch):
    /usr/bin/python3 tests/optimizers/gen_optimizers.py
and commit the new reference.txt.
"""
import math
import os
import sys

import numpy as np
import torch

FACTORS = [1.0, 0.5, 1.0, 0.25, 1.0]
SHAPES = [("fc.weight", (3, 4)), ("fc.bias", (3,))]

# (case name, plugin, hyperparameters by plugin name)
CASES = [
    ("sgd_defaults", "sgd", {}),
    ("sgd_lr", "sgd", {"lr": 0.1}),
    ("sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd_dampening", "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("sgd_nesterov", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": 1}),
    ("sgd_weight_decay", "sgd", {"lr": 0.1, "weight_decay": 0.1}),
    ("sgd_all", "sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": 1, "weight_decay": 0.05}),
    ("adam_defaults", "adam", {}),
    ("adam_lr", "adam", {"lr": 0.1}),
    ("adam_betas_eps", "adam", {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 0.1}),
    ("adam_weight_decay", "adam", {"lr": 0.1, "weight_decay": 0.5}),
    ("adam_amsgrad", "adam", {"lr": 0.1, "beta2": 0.5, "amsgrad": 1}),
    ("adamw_defaults", "adamw", {}),
    ("adamw_weight_decay", "adamw", {"lr": 0.1, "weight_decay": 0.5}),
    ("adamw_amsgrad", "adamw", {"lr": 0.1, "beta2": 0.5, "amsgrad": 1}),
    ("rmsprop_defaults", "rmsprop", {}),
    ("rmsprop_momentum", "rmsprop", {"momentum": 0.9}),
    ("rmsprop_centered", "rmsprop", {"centered": 1}),
    ("rmsprop_weight_decay", "rmsprop", {"weight_decay": 0.5}),
    ("rmsprop_all", "rmsprop", {"lr": 0.05, "alpha": 0.9, "eps": 0.1, "momentum": 0.5,
                                "centered": 1, "weight_decay": 0.05}),
    ("adagrad_defaults", "adagrad", {}),
    ("adagrad_lr_decay", "adagrad", {"lr": 0.1, "lr_decay": 0.5}),
    ("adagrad_initial_accumulator", "adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("adagrad_weight_decay", "adagrad", {"lr": 0.1, "weight_decay": 0.5}),
    ("adagrad_eps", "adagrad", {"lr": 0.1, "eps": 0.1}),
    ("lookahead_sgd", "lookahead", {"k": 2, "alpha": 0.3,
                                    "base": ("sgd", {"lr": 0.1, "momentum": 0.9})}),
    ("lookahead_adam", "lookahead", {"k": 3, "alpha": 0.8, "base": ("adam", {"lr": 0.1})}),
    ("ema_adam", "ema", {"decay": 0.9, "base": ("adam", {"lr": 0.1})}),
    ("ema_sgd", "ema", {"decay": 0.5, "base": ("sgd", {"lr": 0.1})}),
]


def f32(x):
    return float(np.float32(x))


def problem():
    """Initial values and coefficients, float32-exact, per tensor."""
    init, coef_a, coef_c = {}, {}, {}
    k = 0
    for name, shape in SHAPES:
        n = int(np.prod(shape))
        init[name] = [f32(0.8 * math.sin(1.7 * (k + i) + 0.3)) for i in range(n)]
        coef_a[name] = [f32(0.5 + ((k + i) * 7 % 11) / 7.0) for i in range(n)]
        coef_c[name] = [f32(((k + i) * 5 % 9 - 4) / 5.0) for i in range(n)]
        k += n
    return init, coef_a, coef_c


def make_optimizer(plugin, params, hp):
    """torch.optim object for a plugin's hyperparameters (torch defaults elsewhere)."""
    kw = dict(hp)
    if "beta1" in kw or "beta2" in kw:
        kw["betas"] = (kw.pop("beta1", 0.9), kw.pop("beta2", 0.999))
    for key in ("nesterov", "amsgrad", "centered"):
        if key in kw:
            kw[key] = bool(kw[key])
    if plugin == "sgd":
        kw.setdefault("lr", 0.01)  # torch has no default; the plugin's is 0.01
        return torch.optim.SGD(params, **kw)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[plugin]
    return cls(params, **kw)


class Holder(torch.nn.Module):
    """The parameters as a module, for AveragedModel."""

    def __init__(self, params):
        super().__init__()
        self.ps = torch.nn.ParameterList([torch.nn.Parameter(p) for p in params])


def trajectory(plugin, hp, init, coef_a, coef_c, evals=None):
    """Parameters after each step: [step][tensor name] -> list of floats; for
    ema, the averaged ones after each step are appended to `evals`."""
    params = [torch.tensor(init[name], dtype=torch.float32).reshape(shape).requires_grad_()
              for name, shape in SHAPES]
    hp = dict(hp)
    base = hp.pop("base", None)
    holder = None
    if base is None:
        opt = make_optimizer(plugin, params, hp)
    else:
        holder = Holder(params)
        params = list(holder.ps)
        opt = make_optimizer(base[0], params, base[1])
    if plugin == "lookahead":
        k, alpha = int(hp.get("k", 5)), f32(hp.get("alpha", 0.5))
        slow = [p.detach().clone() for p in params]
    if plugin == "ema":
        decay = hp.get("decay", 0.999)
        averaged = torch.optim.swa_utils.AveragedModel(
            holder, avg_fn=lambda avg, p, n: decay * avg + (1 - decay) * p)
    base_lr = opt.param_groups[0]["lr"]
    out = []
    for t in range(1, len(FACTORS) + 1):
        for p, (name, shape) in zip(params, SHAPES):
            th = p.detach().reshape(-1).tolist()
            g = [f32(a * x + c + 0.1 * math.sin(x * t))
                 for x, a, c in zip(th, coef_a[name], coef_c[name])]
            p.grad = torch.tensor(g, dtype=torch.float32).reshape(shape)
        opt.param_groups[0]["lr"] = base_lr * FACTORS[t - 1]
        opt.step()
        if plugin == "lookahead" and t % k == 0:
            with torch.no_grad():
                for p, sl in zip(params, slow):
                    sl.copy_(sl + alpha * (p - sl))
                    p.copy_(sl)
        if plugin == "ema":
            averaged.update_parameters(holder)
            evals.append({name: q.detach().reshape(-1).tolist()
                          for q, (name, _) in zip(averaged.module.ps, SHAPES)})
        out.append({name: p.detach().reshape(-1).tolist() for p, (name, _) in zip(params, SHAPES)})
    return out


def max_diff(x, y):
    return max(abs(u - v)
               for sx, sy in zip(x, y) for name in sx for u, v in zip(sx[name], sy[name]))


def fmt(values):
    return " ".join("%.9g" % v for v in values)


def main():
    torch.set_num_threads(1)
    init, coef_a, coef_c = problem()
    lines = [
        "# reference trajectories for test_optimizers.c: parameters after each step",
        "# generated by gen_optimizers.py with torch %s, float32; do not edit" % torch.__version__,
        "# tensor NAME DIMS... | init/coef_a/coef_c NAME VALUES... | factors F1..F5",
        "# case NAME PLUGIN [HP=VALUE]... [base:PLUGIN [base.HP=VALUE]...] then param STEP NAME",
        "# VALUES... per step and tensor (and eval STEP NAME VALUES...: what evaluation sees)",
    ]
    for name, shape in SHAPES:
        lines.append("tensor %s %s" % (name, " ".join(str(d) for d in shape)))
    for key, table in (("init", init), ("coef_a", coef_a), ("coef_c", coef_c)):
        for name, _ in SHAPES:
            lines.append("%s %s %s" % (key, name, fmt(table[name])))
    lines.append("factors " + " ".join(repr(f) for f in FACTORS))
    for case, plugin, hp in CASES:
        evals = []
        traj = trajectory(plugin, hp, init, coef_a, coef_c, evals)
        for st in traj:
            for vals in st.values():
                assert all(math.isfinite(v) for v in vals), case
        # every option that is set must move the trajectory, or a plugin
        # ignoring it would still pass
        for key in hp:
            if key == "base":
                continue
            rest = {k: v for k, v in hp.items() if k != key}
            try:
                other_evals = []
                other = trajectory(plugin, rest, init, coef_a, coef_c, other_evals)
            except ValueError:  # e.g. nesterov without momentum
                continue
            d = max(max_diff(traj, other), max_diff(evals, other_evals) if evals else 0)
            if d < 1e-4:
                sys.exit("case %s: option '%s' changes the parameters by only %g" % (case, key, d))
        words = ["%s=%r" % (k, float(v)) for k, v in hp.items() if k != "base"]
        if "base" in hp:
            words.append("base:" + hp["base"][0])
            words += ["base.%s=%r" % (k, float(v)) for k, v in hp["base"][1].items()]
        lines.append(("case %s %s " % (case, plugin) + " ".join(words)).rstrip())
        for t, st in enumerate(traj, 1):
            for name, vals in st.items():
                lines.append("param %d %s %s" % (t, name, fmt(vals)))
        for t, st in enumerate(evals, 1):
            for name, vals in st.items():
                lines.append("eval %d %s %s" % (t, name, fmt(vals)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d cases)" % (path, len(CASES)))


if __name__ == "__main__":
    main()
