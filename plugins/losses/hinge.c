/*
 * hinge.c — the multiclass hinge loss of Crammer and Singer (the margin of
 * the true class over the best other class, clipped at 0).
 *
 * Provides: tb_plugin_entry, with one loss, "hinge" (row-wise form).
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <string.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: Crammer & Singer, "On the Algorithmic Implementation of Multiclass
 * Kernel-based Vector Machines", 2001. With y the label:
 *
 *   m    = argmax_{k != y} z_k                 (ties: the lowest index k)
 *   loss = max(0, margin + z_m - z_y)
 *   dloss/dz = e_m - e_y if margin + z_m - z_y > 0, else 0
 *
 * The subgradient chosen at the hinge point (margin + z_m - z_y = 0) is 0, and
 * at ties of the max the whole gradient goes to the lowest index, so the
 * result never depends on anything but the logits. The formula has no target
 * distribution: with soft targets it uses the label (their argmax). With
 * K = 1 there is no other class and the loss is 0.
 */
enum { HP_MARGIN, N_HP };

static const tb_hparam hparams[N_HP] = {
  [HP_MARGIN] = TBU_HP_REAL("margin", 1.0, 0.0, 100.0, 0,
    "required gap between the true class logit and the best other logit"),
};

typedef struct hinge_state {
  double margin;
  tbu_scratch rows; /* no rows: K, to refuse a row of another K */
} hinge_state;

static int hinge_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  hinge_state *st = TBU_LOSS_ALLOC(hinge_state, rows, init, "hinge", 0, err, errlen);
  if (!st) return -1;
  st->margin = init->hp[HP_MARGIN];
  *state = st;
  return 0;
}

/* One row: the core skips zero-weight rows (zero gradient), so not even a NaN
 * of theirs reaches the mean. */
static double hinge_row(void *state, const tb_loss_row *r) {
  hinge_state *st = state;
  const int k = r->k, y = r->y;
  double *dz = r->dz;
  const double *z = r->z;
  if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
  /* the label, even with soft targets: it is all the formula reads */
  if (!tbu_row_ok(&st->rows, r) || y < 0 || y >= k) return NAN;
  int m = -1, bad = isnan(z[y]);
  for (int j = 0; j < k; j++) {
    if (j == y) continue;
    bad |= isnan(z[j]); /* a NaN logit must not vanish in the comparisons */
    if (m < 0 || z[j] > z[m]) m = j; /* strict: ties keep the lowest index */
  }
  if (bad) return NAN;
  if (m < 0) return 0;
  const double h = st->margin + z[m] - z[y];
  if (isnan(h)) return NAN; /* +inf logits on both sides */
  if (h <= 0) return 0;     /* at or past the margin: loss and subgradient 0 */
  if (dz) {
    dz[m] = r->grad_scale;
    dz[y] = -r->grad_scale;
  }
  return h;
}

static const tb_loss_def hinge = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "hinge",
  .version = "1",
  .summary = "multiclass hinge loss (Crammer-Singer): margin of the true class over the best other",
  .reference = "Crammer & Singer, \"On the Algorithmic Implementation of Multiclass "
               "Kernel-based Vector Machines\", 2001",
  .services = 0,
  .hparams = hparams,
  .n_hparams = N_HP,
  .validate = NULL,
  .create = hinge_create,
  .eval = NULL, /* the row-wise form: the core walks the batch */
  .row = hinge_row,
  .destroy = free, /* one allocation (TBU_LOSS_ALLOC) */
};

static const tb_loss_def *const losses[] = {&hinge, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
