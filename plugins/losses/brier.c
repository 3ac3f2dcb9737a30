/*
 * brier.c — the Brier score (squared error between the softmax probabilities
 * and the target distribution) used as a training loss.
 *
 * Provides: tb_plugin_entry, with one loss, "brier" (row-wise form).
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: Brier, "Verification of forecasts expressed in terms of
 * probability", 1950. With y the one-hot label (or the soft target row) and
 * p = softmax(z), g_k = p_k - y_k:
 *
 *   loss = sum_k g_k^2
 *   dloss/dz_j = 2 p_j (g_j - sum_k g_k p_k)
 *
 * Numerics: at most one class d has p_d > 1/2; for it 1 - p_d is taken as the
 * sum of the other probabilities (tbu_softmax_top), so g_d = (1 - y_d) - u_d
 * and the factor (1 - p_d) of its gradient keep their relative accuracy for
 * confident rows.
 *
 * No hyperparameters.
 */

typedef struct brier_state {
  tbu_scratch rows; /* [2][K]: p and g of a row */
} brier_state;

static int brier_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  brier_state *st = TBU_LOSS_ALLOC(brier_state, rows, init, "brier", 2, err, errlen);
  if (!st) return -1;
  *state = st;
  return 0;
}

/* One row: the core skips zero-weight rows (zero gradient), so not even a NaN
 * of theirs reaches the mean. */
static double brier_row(void *state, const tb_loss_row *r) {
  brier_state *st = state;
  if (!tbu_row_ok(&st->rows, r)) return NAN; /* another K, or a label out of range */
  const int k = r->k;
  double *p = tbu_scratch_row(&st->rows, 0), *g = tbu_scratch_row(&st->rows, 1);
  st->rows.host->softmax(p, r->z, k);
  double ud;
  const int d = tbu_softmax_top(p, k, &ud);
  double loss = 0, gp_rest = 0;
  for (int j = 0; j < k; j++) {
    const double q = tbu_target(r, j);
    g[j] = j == d ? (1 - q) - ud : p[j] - q;
    loss += g[j] * g[j];
    if (j != d) gp_rest += g[j] * p[j];
  }
  if (r->dz) {
    const double s = 2 * r->grad_scale, gp = gp_rest + (d >= 0 ? g[d] * p[d] : 0);
    for (int j = 0; j < k; j++)
      /* for d: g_d - sum g p = g_d u_d - sum_{k != d} g_k p_k */
      r->dz[j] = s * p[j] * (j == d ? g[d] * ud - gp_rest : g[j] - gp);
  }
  return loss;
}

static const tb_loss_def brier = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "brier",
  .version = "1",
  .summary = "Brier score: squared error between softmax probabilities and the target",
  .reference = "Brier, \"Verification of forecasts expressed in terms of probability\", 1950",
  .services = 0,
  .flags = TB_LOSS_SOFT_TARGETS, /* tbu_target: the soft target row when given */
  .hparams = NULL,
  .n_hparams = 0,
  .validate = NULL,
  .create = brier_create,
  .eval = NULL, /* the row-wise form: the core walks the batch */
  .row = brier_row,
  .destroy = free, /* one allocation (TBU_LOSS_ALLOC) */
};

static const tb_loss_def *const losses[] = {&brier, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
