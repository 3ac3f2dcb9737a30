#!/usr/bin/python3
"""
gen_losses.py — reference values and gradients of the bundled losses
(cross_entropy, focal, brier, hinge, the wrapper logit_clip over
cross_entropy and focal, and cosface on cosines), computed independently with
PyTorch in float64, written to tests/losses/reference.txt for test_losses.c.

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

The cosface cases come last, in the same way: a block after "# M logit_clip
cases" that ends with "# C cosface cases", from a generator of their own
(seed COS_SEED). Their logits are cosines in [-1, 1] (rounded to 4 decimals,
+-1 included), of the kinds in COS_KINDS: uniform, near +-1, the label's
cosine the row's top and its bottom, and ties. Their `hp` lines are s and m
(none: the plugin's defaults, s = 64, m = 0.35); m = 0 is F.cross_entropy of
s c. The value is F.cross_entropy of s (c - m onehot(y)), taken where the
label's probability is above 1/2 as -log1p(-u), u the sum of the other
probabilities, because log_softmax rounds -log p_y to 0 (and its gradient
p_y - 1 to 0) once u < 1e-16, a gap of the scaled cosines of only 37; the
gradient is autograd's, with respect to the cosines c.
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


# ---- cosface: CosFace / AM-Softmax on the cosines of a cosine head -----------------

COS_SEED = SEED + 2
COS_DEFAULTS = {"s": 64.0, "m": 0.35}  # cosface.c's defaults, the paper's
# (s, m): the defaults (no hp lines), m = 0 (cross-entropy of s c), a common
# smaller scale, a large scale and margin, a small scale (soft probabilities),
# and the table's top (s = 1024, m = 1)
COS_SETTINGS = [None, (64.0, 0.0), (30.0, 0.35), (128.0, 0.5), (4.0, 0.1), (1024.0, 1.0)]
COS_KINDS = ["uniform", "near1", "top", "bottom", "ties"]


def make_cosines(rng, kind, n, k, labels):
    """Rows of cosines in [-1, 1], rounded to 4 decimals (exact +-1 kept)."""
    if kind == "uniform":
        c = rng.uniform(-1, 1, size=(n, k))
    elif kind == "near1":
        # every cosine within 1e-3 of +-1, and some exactly +-1
        c = np.where(rng.random(size=(n, k)) < 0.5, -1.0, 1.0)
        c = c * (1 - rng.uniform(0, 1e-3, size=(n, k)) * (rng.random(size=(n, k)) < 0.7))
    elif kind == "top":
        # the label's cosine the row's top, by a gap from 0.01 to 1.9
        c = rng.uniform(-1, 0.9, size=(n, k))
        for i in range(n):
            others = np.delete(c[i], labels[i])
            c[i, labels[i]] = min(1.0, others.max() + rng.uniform(0.01, 1.9))
            if i == 0:  # the farthest: the label at 1, the others at -1
                c[i, :] = -1.0
                c[i, labels[i]] = 1.0
    elif kind == "bottom":
        c = rng.uniform(-0.9, 1, size=(n, k))
        for i in range(n):
            others = np.delete(c[i], labels[i])
            c[i, labels[i]] = max(-1.0, others.min() - rng.uniform(0.01, 1.9))
            if i == 0:
                c[i, :] = 1.0
                c[i, labels[i]] = -1.0
    else:
        # ties: all equal; the label tied with another class at the top; the
        # label tied at the bottom with the others tied above
        c = rng.uniform(-1, 1, size=(n, k))
        for i in range(n):
            v = rng.uniform(-1, 1)
            if i % 3 == 0:
                c[i, :] = v
            elif i % 3 == 1:
                c[i, :] = np.minimum(c[i, :], v - 0.5)
                c[i, labels[i]] = v
                c[i, (labels[i] + 1) % k] = v
            else:
                c[i, :] = v
                c[i, labels[i]] = v - 0.25
    return np.clip(np.round(c, 4), -1.0, 1.0)


def loss_cosface(c, labels, hp):
    """Wang et al., CVPR 2018: CE(s (c - m onehot(y)), y), per sample. Where
    p_y > 1/2, -log p_y as -log1p(-u), u = sum_{j != y} p_j (see the top)."""
    s, m = hp["s"], hp["m"]
    onehot = F.one_hot(labels, c.shape[1]).to(torch.float64)
    z = s * (c - m * onehot)
    ce = F.cross_entropy(z, labels, reduction="none")
    u = (F.softmax(z, dim=1) * (1 - onehot)).sum(dim=1)
    tail = -torch.log1p(-torch.clamp(u, max=0.5))
    return torch.where(u < 0.5, tail, ce)


def evaluate_cosface(c_np, labels_np, weights_np, hp):
    c = torch.tensor(c_np, requires_grad=True)
    labels = torch.tensor(labels_np, dtype=torch.int64)
    per = loss_cosface(c, labels, hp)
    w = torch.tensor(weights_np) if weights_np is not None else torch.ones(c.shape[0])
    mean = (w * per).sum() / c.shape[0]
    (grad,) = torch.autograd.grad(mean, c)
    return mean.item(), grad.numpy(), per.detach()


def cosface_self_check(rng):
    """loss_cosface is F.cross_entropy of s (c - m onehot) with autograd's
    gradient wherever log_softmax is accurate, and the textbook formula on
    tame rows; m = 0 is F.cross_entropy of s c; its tail is the closed form
    for K = 2 (softplus of the scaled gap)."""
    for k in (2, 5, 30):
        c = np.round(rng.uniform(-1, 1, size=(6, k)), 4)
        labels = rng.integers(0, k, size=6)
        lab = torch.tensor(labels)
        for s, m in ((1.0, 0.0), (4.0, 0.35), (16.0, 0.2), (64.0, 0.0)):
            ct = torch.tensor(c, requires_grad=True)
            a = loss_cosface(ct, lab, {"s": s, "m": m})
            z = s * (ct - m * F.one_hot(lab, k).to(torch.float64))
            b = F.cross_entropy(z, lab, reduction="none")
            ga = torch.autograd.grad(a.sum(), ct)[0]
            gb = torch.autograd.grad(b.sum(), ct)[0]
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-14), (k, s, m)
            assert torch.allclose(ga, gb, rtol=1e-10, atol=1e-12), (k, s, m)
            if s <= 16:  # tame: the textbook quotient
                e = torch.exp(z)
                naive = -torch.log(e.gather(1, lab.view(-1, 1)).squeeze(1) / e.sum(dim=1))
                assert torch.allclose(a, naive, rtol=1e-12, atol=1e-14), (k, s, m)
            if m == 0:
                ce = F.cross_entropy(s * ct, lab, reduction="none")
                assert torch.allclose(a, ce, rtol=1e-12, atol=1e-14), (k, s)
    # K = 2, label 0, c = (a, b): loss = softplus(s (b - a + m)), to 1e-13 in the tail
    for s, m, a, b in ((64.0, 0.35, 1.0, -1.0), (1024.0, 0.0, 0.5, 0.4), (30.0, 0.1, 0.9, -0.2)):
        x = s * (b - a + m)
        want = np.log1p(np.exp(x)) if x < 0 else x + np.log1p(np.exp(-x))
        got = loss_cosface(torch.tensor([[a, b]]), torch.tensor([0]), {"s": s, "m": m}).item()
        assert abs(got - want) <= 1e-13 * want, (s, m, a, b, got, want)


def cosface_cases(out):
    """Every shape and kind of cosines with three (s, m) settings each,
    rotating so that each kind meets every setting over the shapes; every
    other case has per-sample weights (one of them 0)."""
    rng = np.random.default_rng(COS_SEED)
    cosface_self_check(rng)
    count = tail_rows = 0
    seen = set()
    for si, (n, k) in enumerate(SHAPES):
        for ki, kind in enumerate(COS_KINDS):
            for t in range(3):
                setting = COS_SETTINGS[(si + ki + 2 * t) % len(COS_SETTINGS)]
                variant = "weighted" if (si + ki + t) % 2 else "plain"
                hp = dict(COS_DEFAULTS)
                if setting is not None:
                    hp["s"], hp["m"] = setting
                labels = rng.integers(0, k, size=n)
                weights = make_weights(rng, n) if variant == "weighted" else None
                c = make_cosines(rng, kind, n, k, labels)
                assert np.all(np.abs(c) <= 1.0), kind
                value, grad, per = evaluate_cosface(c, labels, weights, hp)
                assert np.isfinite(value) and np.all(np.isfinite(grad)), (kind, hp)
                # CE of an affine map of c: each gradient row sums to 0
                assert np.all(np.abs(grad.sum(axis=1)) <= 1e-12 * (np.abs(grad).sum(axis=1)
                                                                      + 1.0 / n)), (kind, hp)
                tail_rows += int(np.sum(per.numpy() < 1e-16))
                seen.add((kind, setting))
                case_hp = {} if setting is None else {"s": hp["s"], "m": hp["m"]}
                case_id = "%s-N%dK%d-s=%g-m=%g%s-%s" % (
                    kind, n, k, hp["s"], hp["m"], "-default" if setting is None else "", variant)
                write_case(out, "cosface", case_id, n, k, case_hp, labels, c, None, weights,
                           value, grad)
                count += 1
    # every kind with every setting, and rows where -log p_y is below 1e-16
    assert len(seen) == len(COS_KINDS) * len(COS_SETTINGS), len(seen)
    assert tail_rows >= 5, tail_rows
    sys.stderr.write("cosface: %d cases, %d rows in the tail (loss < 1e-16)\n"
                     % (count, tail_rows))
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
    out.write("# cosface on cosines in [-1, 1] (hp s and m; none: the defaults)\n")
    out.write("# %d cosface cases\n" % cosface_cases(out))


if __name__ == "__main__":
    main()
