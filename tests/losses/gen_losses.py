#!/usr/bin/python3
"""
gen_losses.py — reference values and gradients of the bundled losses
(cross_entropy, focal, brier, hinge, and the wrapper logit_clip over
cross_entropy and focal), computed independently with PyTorch in float64,
written to tests/losses/reference.txt for test_losses.c.

Regenerate (needs Debian's python3-torch, i.e. /usr/bin/python3, not the
pyenv python3 on PATH), then check the new file in:

    /usr/bin/python3 tests/losses/gen_losses.py > tests/losses/reference.txt

The cases are fixed (numpy seed below). Inputs are written with their
shortest exact decimal (logits rounded to 4 decimals, soft targets multiples
of 1/64, weights rounded to 3 decimals), so C reads exactly the doubles torch
used; outputs are written with %.17g.

File format, one record per line, '#' lines are comments:
    case <loss> <id> <N> <K>
    hp <name> <value>              (zero or more)
    labels <N ints>
    logits <N*K reals>             (row-major)
    targets <N*K reals>            (optional: soft targets)
    weights <N reals>              (optional: per-sample weights)
    loss <real>                    (mean loss = sum_i w_i loss_i / N)
    dlogits <N*K reals>            (d mean loss / d logits)
    end

A wrapper's case (logit_clip) also names its base loss and the base's
hyperparameters, after its own `hp` lines (a wrapper's `hp` lines are its
own; a missing `hp delta` means the plugin's default, DEFAULT_DELTA here):
    base <loss>                    (the COMPONENT hyperparameter "base")
    basehp <name> <value>          (zero or more; the base's own settings)
The logit_clip cases come after the "# N cases" line of the others, in a
block of their own that ends with "# M logit_clip cases", so that adding
them left every line before it unchanged. They draw from their own
generator (seed LC_SEED), and their logits add a kind, "mixed": each row a
random direction with a norm log-uniform in [delta/4, 4 delta] (about 10 for
the large delta), so that rows on both sides of the bound occur.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
SEED = 20240611
SHAPES = [(1, 2), (4, 3), (8, 10), (3, 100)]
KINDS = ["normal", "onehot", "extreme"]
HPS = {
    "cross_entropy": [("label_smoothing", v) for v in (0.0, 0.1, 0.3)],
    "focal": [("gamma", v) for v in (0.0, 1.0, 2.0, 5.0)],
    "brier": [None],
    "hinge": [("margin", v) for v in (0.5, 1.0, 2.0)],
}
SOFT_OK = {"cross_entropy", "focal", "brier"}  # hinge has no target distribution


# ---- inputs -------------------------------------------------------------------

def make_logits(rng, kind, n, k, labels):
    if kind == "normal":
        z = rng.normal(size=(n, k)) * 3
    elif kind == "onehot":
        # one logit at +12, others ~0; on the label except every third row,
        # so both confident-right and confident-wrong rows occur
        z = rng.normal(size=(n, k)) * 0.1
        for i in range(n):
            hot = labels[i] if i % 3 != 2 else (labels[i] + 1) % k
            z[i, hot] = 12.0
    else:
        z = np.where(rng.random(size=(n, k)) < 0.5, -50.0, 50.0)
        # row 0: the label alone at +50 (p_y = 1 - O(e^-100))
        z[0, :] = -50.0
        z[0, labels[0]] = 50.0
    return np.round(z, 4)


def make_targets(rng, n, k):
    counts = np.stack([rng.multinomial(64, rng.dirichlet(np.ones(k) * 0.5)) for _ in range(n)])
    return counts / 64.0  # exact binary fractions: each row sums to exactly 1


def make_weights(rng, n):
    w = np.round(rng.uniform(0, 2, size=n), 3)
    if n > 1:
        w[1] = 0.0
    return w


# ---- losses, per sample, in torch ------------------------------------------------

def log_one_minus_p(z):
    """log(1 - p_k) = logsumexp_{m != k} z_m - logsumexp z, without cancellation."""
    n, k = z.shape
    eye = torch.eye(k, dtype=torch.bool)
    others = z.unsqueeze(1).expand(n, k, k).masked_fill(eye, float("-inf"))
    return torch.logsumexp(others, dim=2) - torch.logsumexp(z, dim=1, keepdim=True)


def accurate_log_p(z, u):
    """log p_k, using log1p(-u_k) where p_k is close to 1 (log_softmax rounds to 0)."""
    near_one = u < 0.5
    return torch.where(near_one, torch.log1p(-torch.clamp(u, max=0.5)), F.log_softmax(z, dim=1))


def target_dist(labels, targets, k):
    if targets is not None:
        return targets
    return F.one_hot(labels, k).to(torch.float64)


def loss_cross_entropy(z, labels, targets, hp):
    tgt = targets if targets is not None else labels
    return F.cross_entropy(z, tgt, reduction="none", label_smoothing=hp["label_smoothing"])


def loss_focal(z, labels, targets, hp):
    gamma = hp["gamma"]
    q = target_dist(labels, targets, z.shape[1])
    u = torch.exp(log_one_minus_p(z))
    lp = accurate_log_p(z, u)
    factor = u ** gamma if gamma != 0 else torch.ones_like(u)
    return -(q * factor * lp).sum(dim=1)


def loss_brier(z, labels, targets, hp):
    q = target_dist(labels, targets, z.shape[1])
    p = F.softmax(z, dim=1)
    u = torch.exp(log_one_minus_p(z))
    g = torch.where(u < 0.5, (1 - q) - u, p - q)  # p - q without cancelling p against 1
    return (g * g).sum(dim=1)


def loss_hinge(z, labels, targets, hp):
    n, k = z.shape
    zn = z.detach().numpy().copy()
    zn[np.arange(n), labels.numpy()] = -np.inf
    best = torch.from_numpy(np.argmax(zn, axis=1))  # numpy: first index of the max
    zy = z.gather(1, labels.view(-1, 1)).squeeze(1)
    zm = z.gather(1, best.view(-1, 1)).squeeze(1)
    return F.relu(hp["margin"] + zm - zy)  # relu'(0) = 0: subgradient 0 at the hinge


LOSSES = {
    "cross_entropy": loss_cross_entropy,
    "focal": loss_focal,
    "brier": loss_brier,
    "hinge": loss_hinge,
}


# ---- logit_clip: a base loss on logits clipped to an L2 norm of at most delta ---------

LC_SEED = SEED + 1
DEFAULT_DELTA = 10.0  # logit_clip.c's default (ours; the paper tunes its 1/tau)
# delta values: rows clipped hard, mixed, the default, and larger than every
# row norm of these inputs (at most 50 sqrt(100) = 500), i.e. the base itself
LC_DELTAS = [0.5, 3.0, None, 1000.0]
LC_BASES = [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
            ("focal", {"gamma": 2.0})]
LC_KINDS = KINDS + ["mixed"]
# the bases' defaults (the plugins'), for a base whose basehp lines leave one out
BASE_DEFAULTS = {"cross_entropy": {"label_smoothing": 0.0}, "focal": {"gamma": 2.0}}


def logit_clip(z, delta):
    """Wei et al., ICML 2023: z' = z min(1, delta / ||z||_2), row by row."""
    norm = torch.linalg.vector_norm(z, dim=1, keepdim=True)
    return z * torch.clamp(delta / norm, max=1.0)


def make_mixed_logits(rng, n, k, ref):
    """Rows of a random direction and a norm log-uniform in [ref/4, 4 ref]."""
    d = rng.normal(size=(n, k))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    s = ref * np.exp(rng.uniform(np.log(0.25), np.log(4.0), size=(n, 1)))
    return np.round(d * s, 4)


def evaluate_clip(base, z_np, labels_np, targets_np, weights_np, base_hp, delta):
    z = torch.tensor(z_np, requires_grad=True)
    labels = torch.tensor(labels_np, dtype=torch.int64)
    targets = torch.tensor(targets_np) if targets_np is not None else None
    hp = dict(BASE_DEFAULTS[base], **base_hp)
    per = LOSSES[base](logit_clip(z, delta), labels, targets, hp)
    w = torch.tensor(weights_np) if weights_np is not None else torch.ones(z.shape[0])
    mean = (w * per).sum() / z.shape[0]
    (grad,) = torch.autograd.grad(mean, z)
    return mean.item(), grad.numpy()


def write_case(out, name, case_id, n, k, hp, labels, z, targets, weights, value, grad,
               base=None, base_hp=None):
    out.write("case %s %s %d %d\n" % (name, case_id, n, k))
    for key, v in hp.items():
        out.write("hp %s %s\n" % (key, repr(float(v))))
    if base is not None:
        out.write("base %s\n" % base)
        for key, v in base_hp.items():
            out.write("basehp %s %s\n" % (key, repr(float(v))))
    out.write("labels %s\n" % " ".join(str(int(v)) for v in labels))
    out.write("logits %s\n" % fmt_input(z))
    if targets is not None:
        out.write("targets %s\n" % fmt_input(targets))
    if weights is not None:
        out.write("weights %s\n" % fmt_input(weights))
    out.write("loss %s\n" % fmt([value]))
    out.write("dlogits %s\n" % fmt(grad))
    out.write("end\n")


def logit_clip_cases(out):
    """Every shape and kind of logits with each base; the delta and the
    variant (weights, soft targets) rotate over bases, kinds and shapes."""
    rng = np.random.default_rng(LC_SEED)
    variants = ["plain", "weighted", "soft", "soft+weighted"]
    count = clipped_rows = kept_rows = both = 0
    for si, (n, k) in enumerate(SHAPES):
        for ki, kind in enumerate(LC_KINDS):
            for bi, (base, base_hp) in enumerate(LC_BASES):
                delta_opt = LC_DELTAS[(bi + ki + si) % len(LC_DELTAS)]
                delta = DEFAULT_DELTA if delta_opt is None else delta_opt
                variant = variants[(bi + 2 * ki + si) % len(variants)]
                targets = make_targets(rng, n, k) if "soft" in variant else None
                labels = (np.argmax(targets, axis=1) if targets is not None
                          else rng.integers(0, k, size=n))
                weights = make_weights(rng, n) if "weighted" in variant else None
                if kind == "mixed":
                    z = make_mixed_logits(rng, n, k, delta if delta < 100 else DEFAULT_DELTA)
                else:
                    z = make_logits(rng, kind, n, k, labels)
                norms = np.linalg.norm(z, axis=1)
                # no row on the bound itself, where the clip has no derivative
                assert np.all(np.abs(norms / delta - 1) > 1e-6), (kind, n, k, delta)
                if delta_opt == 1000.0:
                    assert np.all(norms < delta)
                clipped_rows += int(np.sum(norms > delta))
                kept_rows += int(np.sum(norms <= delta))
                both += int(np.any(norms > delta) and np.any(norms <= delta))
                value, grad = evaluate_clip(base, z, labels, targets, weights, base_hp, delta)
                assert np.isfinite(value) and np.all(np.isfinite(grad)), (base, kind)
                if np.all(norms <= delta):  # nothing clipped: exactly the base
                    bv, bg, _ = evaluate(base, z, labels, targets, weights,
                                         dict(BASE_DEFAULTS[base], **base_hp))
                    assert bv == value and np.array_equal(bg, grad), (base, kind)
                hp = {} if delta_opt is None else {"delta": delta}
                base_id = "-".join("%s=%g" % kv for kv in base_hp.items())
                case_id = "%s-N%dK%d-delta=%s-%s%s-%s" % (
                    kind, n, k, "default" if delta_opt is None else "%g" % delta, base,
                    "-" + base_id if base_id else "", variant)
                write_case(out, "logit_clip", case_id, n, k, hp, labels, z, targets, weights,
                           value, grad, base, base_hp)
                count += 1
    # the cases must exercise both sides of the bound, within cases too
    assert clipped_rows >= 20 and kept_rows >= 20 and both >= 8, (clipped_rows, kept_rows, both)
    sys.stderr.write("logit_clip: %d cases, %d rows clipped, %d kept, %d cases with both\n"
                     % (count, clipped_rows, kept_rows, both))
    return count


def naive(name, z, labels, targets, hp):
    """Textbook formulas, used only to check the stable ones on tame logits."""
    q = target_dist(labels, targets, z.shape[1])
    p = F.softmax(z, dim=1)
    if name == "focal":
        return -(q * (1 - p) ** hp["gamma"] * torch.log(p)).sum(dim=1)
    if name == "brier":
        return ((p - q) ** 2).sum(dim=1)
    return None


def evaluate(name, z_np, labels_np, targets_np, weights_np, hp):
    z = torch.tensor(z_np, requires_grad=True)
    labels = torch.tensor(labels_np, dtype=torch.int64)
    targets = torch.tensor(targets_np) if targets_np is not None else None
    per = LOSSES[name](z, labels, targets, hp)
    w = torch.tensor(weights_np) if weights_np is not None else torch.ones(z.shape[0])
    mean = (w * per).sum() / z.shape[0]
    (grad,) = torch.autograd.grad(mean, z)
    return mean.item(), grad.numpy(), per.detach()


def self_check(rng):
    """The stable torch formulas agree with the naive ones where those are
    accurate, and focal with gamma = 0 is F.cross_entropy."""
    for k in (2, 5, 30):
        z = np.round(rng.normal(size=(6, k)) * 2, 4)
        labels = rng.integers(0, k, size=6)
        for soft in (None, make_targets(rng, 6, k)):
            lab = labels if soft is None else np.argmax(soft, axis=1)
            for name, hp in (("focal", {"gamma": 0.0}), ("focal", {"gamma": 2.5}),
                             ("brier", {})):
                zt = torch.tensor(z, requires_grad=True)
                st = torch.tensor(soft) if soft is not None else None
                a = LOSSES[name](zt, torch.tensor(lab), st, hp)
                b = naive(name, zt, torch.tensor(lab), st, hp)
                ga = torch.autograd.grad(a.sum(), zt)[0]
                gb = torch.autograd.grad(b.sum(), zt)[0]
                assert torch.allclose(a, b, rtol=1e-12, atol=1e-14), (name, hp)
                assert torch.allclose(ga, gb, rtol=1e-10, atol=1e-14), (name, hp)
            zt = torch.tensor(z)
            st = torch.tensor(soft) if soft is not None else None
            f0 = loss_focal(zt, torch.tensor(lab), st, {"gamma": 0.0})
            ce = loss_cross_entropy(zt, torch.tensor(lab), st, {"label_smoothing": 0.0})
            assert torch.allclose(f0, ce, rtol=1e-13, atol=1e-15)


def fmt(values):
    return " ".join("%.17g" % v for v in np.asarray(values).ravel())


def fmt_input(values):
    return " ".join(repr(float(v)) for v in np.asarray(values).ravel())


def main():
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    self_check(rng)
    out = sys.stdout
    out.write("# generated by tests/losses/gen_losses.py (torch %s, float64); do not edit\n"
              % torch.__version__)
    count = 0
    for si, (n, k) in enumerate(SHAPES):
        for ki, kind in enumerate(KINDS):
            for name, hps in HPS.items():
                variants = ["plain", "weighted", "soft", "soft+weighted"]
                if name not in SOFT_OK:
                    variants = ["plain", "weighted"]
                # rotate the variants over hyperparameters, kinds and shapes so
                # every loss sees each variant with each kind of logits; a loss
                # with one setting (brier) gets two variants per shape and kind
                picks = [(hi, hpv, variants[(hi + ki + si) % len(variants)])
                         for hi, hpv in enumerate(hps)]
                if len(hps) == 1:
                    picks.append((0, hps[0], variants[(ki + si + 2) % len(variants)]))
                for hi, hpv, variant in picks:
                    targets = make_targets(rng, n, k) if "soft" in variant else None
                    labels = (np.argmax(targets, axis=1) if targets is not None
                              else rng.integers(0, k, size=n))
                    weights = make_weights(rng, n) if "weighted" in variant else None
                    z = make_logits(rng, kind, n, k, labels)
                    hp = dict([hpv]) if hpv else {}
                    value, grad, _ = evaluate(name, z, labels, targets, weights, hp)
                    assert np.isfinite(value) and np.all(np.isfinite(grad)), name
                    hp_id = "-".join("%s=%g" % kv for kv in hp.items()) or "default"
                    out.write("case %s %s-N%dK%d-%s-%s %d %d\n"
                              % (name, kind, n, k, hp_id, variant, n, k))
                    for key, v in hp.items():
                        out.write("hp %s %s\n" % (key, repr(float(v))))
                    out.write("labels %s\n" % " ".join(str(int(v)) for v in labels))
                    out.write("logits %s\n" % fmt_input(z))
                    if targets is not None:
                        out.write("targets %s\n" % fmt_input(targets))
                    if weights is not None:
                        out.write("weights %s\n" % fmt_input(weights))
                    out.write("loss %s\n" % fmt([value]))
                    out.write("dlogits %s\n" % fmt(grad))
                    out.write("end\n")
                    count += 1
    out.write("# %d cases\n" % count)
    out.write("# logit_clip over cross_entropy and focal (base and basehp lines)\n")
    out.write("# %d logit_clip cases\n" % logit_clip_cases(out))


if __name__ == "__main__":
    main()
