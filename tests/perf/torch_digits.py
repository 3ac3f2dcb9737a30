"""torch_digits.py — the PyTorch baseline of tests/perf/digits_grid.lua.

The same 18 runs as trainbench trains them: digits (data/digits.csv.gz),
a stratified 0.6/0.2/0.2 split cut per class as core/data.c cuts it (the same
sizes: 1078/360/359; not the same rows, other random numbers), features
standardized on the training split (constant columns 0), an MLP 64-128-10
with ReLU and nn.Linear's default initialization (trainbench's "default"),
cross-entropy, Adam at lr 3e-4, 1e-3 and 3e-3 for seeds 1..6, batch 64 with
the last partial batch of each epoch kept, 30 epochs, and before training
and after every epoch one pass over each split computing what trainbench's
evaluation computes (loss, accuracy, nll, brier, ece, balanced accuracy,
macro F1, worst-class accuracy, mce; in double, from the confusion counts and
15 confidence bins), kept in memory. One thread (torch.set_num_threads(1)), as
a trainbench worker uses one BLAS thread.

usage: /usr/bin/python3 torch_digits.py DIGITS_CSV_GZ [--shard I/N]

It prints one line per run and then
  torch: RUNS runs, in-loop median MS ms, loop total S s, import S s, mean test accuracy A
(in-loop: from the model's creation to the last evaluation of a run). With
--shard I/N it trains runs I, I+N, ... of the 18 (for N processes at once).
"""
import sys
import time

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

t_import = time.perf_counter() - t_start

LRS = [0.0003, 0.001, 0.003]
SEEDS = range(1, 7)
EPOCHS, BATCH, HIDDEN, BINS = 30, 64, 128, 15


def load(path):
    a = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return a[:, :-1].astype(np.float32), a[:, -1].astype(np.int64)


def split(x, y, seed):
    """Stratified: each class shuffled and cut at round(0.6 m), round(0.8 m)."""
    rng = np.random.default_rng(seed)
    parts = [[], [], []]
    for c in np.unique(y):
        m = np.flatnonzero(y == c)
        rng.shuffle(m)
        cut1 = int(np.floor(0.6 * len(m) + 0.5))
        cut2 = int(np.floor(0.8 * len(m) + 0.5))
        parts[0].append(m[:cut1])
        parts[1].append(m[cut1:cut2])
        parts[2].append(m[cut2:])
    idx = [np.sort(np.concatenate(p)) for p in parts]
    mean = x[idx[0]].astype(np.float64).mean(0)
    sd = x[idx[0]].astype(np.float64).std(0)
    safe = np.where(sd > 0, sd, 1.0)
    out = []
    for i in idx:
        z = np.where(sd > 0, (x[i] - mean) / safe, 0.0).astype(np.float32)
        out.append((torch.from_numpy(z), torch.from_numpy(y[i])))
    return out


def evaluate(model, x, yy, k):
    """Every metric trainbench's evaluation computes, in double."""
    with torch.no_grad():
        z = model(x).double()
    n = len(yy)
    loss = F.cross_entropy(z, yy).item()
    p = torch.softmax(z, 1)
    conf, pred = p.max(1)
    brier = ((p - F.one_hot(yy, k).double()) ** 2).sum(1).mean().item()
    cm = torch.bincount(yy * k + pred, minlength=k * k).reshape(k, k)
    tp = cm.diag().double()
    support, predicted = cm.sum(1).double(), cm.sum(0).double()
    present = support > 0
    recall = tp[present] / support[present]
    seen = present | (predicted > 0)
    f1 = 2 * tp[seen] / (support[seen] + predicted[seen])
    b = (conf * BINS).floor().clamp(max=BINS - 1).long()
    right = (pred == yy).double()
    count = torch.bincount(b, minlength=BINS).double()
    correct = torch.bincount(b, weights=right, minlength=BINS)
    csum = torch.bincount(b, weights=conf, minlength=BINS)
    ne = count > 0
    return {
        "loss": loss,
        "accuracy": right.mean().item(),
        "nll": loss,
        "brier": brier,
        "ece": ((correct - csum).abs().sum() / n).item(),
        "balanced_accuracy": recall.mean().item(),
        "macro_f1": f1.mean().item(),
        "worst_class_accuracy": recall.min().item(),
        "mce": ((correct[ne] - csum[ne]).abs() / count[ne]).max().item(),
    }


def train(parts, lr, seed, k):
    torch.manual_seed(seed)
    d = parts[0][0].shape[1]
    model = torch.nn.Sequential(
        torch.nn.Linear(d, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, k)
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    names = ("train", "val", "test")
    curves = [(0, s, evaluate(model, x, yy, k)) for s, (x, yy) in zip(names, parts)]
    xt, yt = parts[0]
    losses = []
    for epoch in range(1, EPOCHS + 1):
        order = torch.randperm(len(yt))
        for off in range(0, len(yt), BATCH):
            i = order[off : off + BATCH]
            loss = F.cross_entropy(model(xt[i]), yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        curves += [(epoch, s, evaluate(model, x, yy, k)) for s, (x, yy) in zip(names, parts)]
    return curves, losses


def main():
    args = sys.argv[1:]
    shard, nshards = 1, 1
    if "--shard" in args:
        i = args.index("--shard")
        shard, nshards = (int(v) for v in args[i + 1].split("/"))
        del args[i : i + 2]
    if len(args) != 1:
        sys.exit("usage: torch_digits.py DIGITS_CSV_GZ [--shard I/N]")
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    x, y = load(args[0])
    k = int(y.max()) + 1
    grid = [(lr, s) for lr in LRS for s in SEEDS][shard - 1 :: nshards]
    times, accs = [], []
    t_loop = time.perf_counter()
    for lr, seed in grid:
        parts = split(x, y, seed)
        t0 = time.perf_counter()
        curves, _ = train(parts, lr, seed, k)
        times.append(time.perf_counter() - t0)
        last = {s: m for e, s, m in curves if e == EPOCHS}
        accs.append(last["test"]["accuracy"])
        print(
            f"lr={lr:g} seed={seed} n={[len(p[1]) for p in parts]} "
            f"{times[-1] * 1e3:.1f} ms val acc {last['val']['accuracy']:.4f} "
            f"test acc {last['test']['accuracy']:.4f}"
        )
    print(
        f"torch: {len(times)} runs, in-loop median {np.median(times) * 1e3:.1f} ms, "
        f"loop total {time.perf_counter() - t_loop:.2f} s, import {t_import:.2f} s, "
        f"mean test accuracy {np.mean(accs):.4f} "
        f"(torch {torch.__version__}, {torch.get_num_threads()} thread)"
    )


if __name__ == "__main__":
    main()
