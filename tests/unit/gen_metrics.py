#!/usr/bin/python3
"""gen_metrics.py — reference values of the evaluation metrics (core/metrics.c),
computed independently with scikit-learn and numpy, for tests/unit/test_metrics.c.

Regenerate (Debian 12: apt-get install python3-sklearn; the system python, not a
pyenv one without sklearn) from the source root:

    /usr/bin/python3 tests/unit/gen_metrics.py > tests/unit/metrics_reference.txt

The cases are fixed random logits and labels (numpy's default_rng with fixed
seeds): several K, N not a multiple of any chunking the test uses (1, 7, 512),
classes absent from the labels (some predicted, some neither), ties in the
largest logit, near-one-hot and extreme logits, a single class predicted.

Conventions (those of trainbench, written out here so that the references do not
borrow them from the C code):
  prediction       the first index of the largest logit (numpy's argmax)
  accuracy         sklearn.metrics.accuracy_score
  balanced_accuracy  sklearn.metrics.balanced_accuracy_score: mean recall over the
                   classes present in y_true (sklearn warns about, and leaves out,
                   classes only predicted)
  macro_f1         sklearn.metrics.f1_score(average='macro', zero_division=0), its
                   labels y_true ∪ y_pred: F1 = 0 for a class only predicted or only
                   present, no term for a class that is neither
  worst_class_accuracy  min of sklearn.metrics.recall_score(average=None) over the
                   classes present in y_true
  nll              sklearn.metrics.log_loss(labels=range(K)) on float64 softmax
                   probabilities where no probability is clipped by its eps (1.2:
                   machine epsilon); where one is (near-one-hot and extreme logits,
                   where log_loss's clipping changes the value), the textbook
                   -mean log_softmax(z)[y] with scipy.special.log_softmax. Both are
                   computed wherever both apply and must agree to 1e-12.
  brier            numpy: mean over rows of sum_k (p_k - [k = y])^2 (multiclass,
                   summed over classes; sklearn's brier_score_loss is binary only)
  ece, mce         numpy, textbook (Guo et al. 2017; Naeini et al. 2015): conf =
                   max_k p_k, 15 equal-width bins b = min(floor(15 conf), 14);
                   ece = sum_b n_b/N |acc_b - conf_b|, mce = max over non-empty bins
                   of |acc_b - conf_b|, acc_b and conf_b means over the bin
  confusion        sklearn.metrics.confusion_matrix(labels=range(K))
Logits are written with 17 significant digits (they read back exactly).
"""
import sys
import warnings

import numpy as np
import scipy.special
import sklearn
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                             f1_score, log_loss, recall_score)

BINS = 15


def softmax(z):
    return scipy.special.softmax(z, axis=1)


def nll(z, y, k):
    lsm = -np.mean(scipy.special.log_softmax(z, axis=1)[np.arange(len(y)), y])
    p = softmax(z)
    eps = np.finfo(p.dtype).eps
    if p.min() >= eps and p.max() <= 1 - eps:
        ll = log_loss(y, p, labels=list(range(k)))
        assert abs(ll - lsm) <= 1e-12 * abs(lsm), (ll, lsm)
        return ll, "log_loss"
    return lsm, "log_softmax"


def calibration(p, pred, y):
    conf = p[np.arange(len(y)), pred]
    b = np.minimum(np.floor(conf * BINS).astype(int), BINS - 1)
    ece, mce = 0.0, 0.0
    for i in range(BINS):
        m = b == i
        if not m.any():
            continue
        gap = abs(np.mean(pred[m] == y[m]) - np.mean(conf[m]))
        ece += m.sum() / len(y) * gap
        mce = max(mce, gap)
    return ece, mce


def case(name, z, y, k, out):
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    pred = np.argmax(z, axis=1)
    p = softmax(z)
    present = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        values = {
            "accuracy": accuracy_score(y, pred),
            "balanced_accuracy": balanced_accuracy_score(y, pred),
            "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
            "worst_class_accuracy": recall_score(y, pred, labels=present, average=None,
                                                 zero_division=0).min(),
        }
    values["nll"], source = nll(z, y, k)
    onehot = np.eye(k)[y]
    values["brier"] = np.mean(np.sum((p - onehot) ** 2, axis=1))
    values["ece"], values["mce"] = calibration(p, pred, y)
    cm = confusion_matrix(y, pred, labels=list(range(k)))
    out.write(f"case {name} {k} {n} nll:{source}\n")
    for i in range(n):
        out.write(f"row {y[i]} " + " ".join(repr(float(v)) for v in z[i]) + "\n")
    for key in ("accuracy", "nll", "brier", "ece", "balanced_accuracy", "macro_f1",
                "worst_class_accuracy", "mce"):
        out.write(f"value {key} {float(values[key])!r}\n")
    out.write("confusion " + " ".join(str(int(c)) for c in cm.ravel()) + "\n")
    out.write("end\n")


def main():
    out = sys.stdout
    out.write(f"# tests/unit/gen_metrics.py (scikit-learn {sklearn.__version__}, numpy "
              f"{np.__version__}): reference metrics; see its docstring\n")
    rng = np.random.default_rng(20260801)
    # K = 3, a few rows
    case("k3_small", rng.normal(0, 2, (23, 3)), rng.integers(0, 3, 23), 3, out)
    # K = 10, N prime (no chunking divides it)
    case("k10_1031", rng.normal(0, 3, (1031, 10)), rng.integers(0, 10, 1031), 10, out)
    # binary
    case("k2_binary", rng.normal(0, 1, (101, 2)), rng.integers(0, 2, 101), 2, out)
    # K = 6, labels only in {0, 1, 3}; class 4 strongly predicted (absent from y),
    # classes 2 and 5 neither present nor predicted
    z = rng.normal(0, 1, (97, 6))
    z[:, 2] -= 20
    z[:, 5] -= 20
    z[rng.random(97) < 0.3, 4] += 5
    case("k6_absent", z, rng.choice([0, 1, 3], 97), 6, out)
    # ties in the largest logit: small integers, and rows of equal logits
    z = rng.integers(-2, 3, (61, 4)).astype(np.float64)
    z[:10] = 1.0
    case("k4_ties", z, rng.integers(0, 4, 61), 4, out)
    # near-one-hot logits, mostly right (confidence close to 1)
    y = rng.integers(0, 5, 203)
    z = rng.normal(0, 0.5, (203, 5))
    z[np.arange(203), np.where(rng.random(203) < 0.9, y, (y + 1) % 5)] += 25
    case("k5_near_one_hot", z, y, 5, out)
    # extreme logits (±50 and ±1e3): probabilities that underflow to 0
    z = rng.choice([-1e3, -50.0, 0.0, 50.0, 1e3], (77, 7)) + rng.normal(0, 1, (77, 7))
    case("k7_extreme", z, rng.integers(0, 7, 77), 7, out)
    # one class predicted for every row; every class present
    z = rng.normal(0, 1, (40, 4))
    z[:, 2] += 100
    case("k4_one_prediction", z, np.arange(40) % 4, 4, out)


if __name__ == "__main__":
    main()
