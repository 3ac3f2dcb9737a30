/*
 * brier.c — the Brier score (squared error between the softmax probabilities
 * and the target distribution) used as a training loss.
 *
 * Provides: tb_plugin_entry, with one loss, "brier".
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

/*
 * Source: Brier, "Verification of forecasts expressed in terms of
 * probability", 1950. With y the one-hot label (or the soft target row) and
 * p = softmax(z), g_k = p_k - y_k:
 *
 *   loss = sum_k g_k^2
 *   dloss/dz_j = 2 p_j (g_j - sum_k g_k p_k)
 *
 * Numerics: at most one class d has p_d > 1/2; for it 1 - p_d is taken as the
 * sum of the other probabilities, so g_d = (1 - y_d) - u_d and the factor
 * (1 - p_d) of its gradient keep their relative accuracy for confident rows.
 *
 * No hyperparameters.
 */

typedef struct brier_state {
  const tb_host_api *host;
  int k;
  double *p, *g; /* [K] scratch each, one allocation */
} brier_state;

static int brier_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss 'brier' needs at least 1 class, got %d", init->n_classes);
    return -1;
  }
  const size_t k = (size_t)init->n_classes;
  brier_state *st = calloc(1, sizeof *st);
  double *buf = calloc(2 * k, sizeof *buf);
  if (!st || !buf) {
    free(st);
    free(buf);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->host = init->host;
  st->k = init->n_classes;
  st->p = buf;
  st->g = buf + k;
  *state = st;
  return 0;
}

static void brier_destroy(void *state) {
  brier_state *st = state;
  if (!st) return;
  free(st->p); /* the one allocation behind p and g */
  free(st);
}

/* A zero-weight row is skipped (zero gradient) so it cannot add even a NaN. */
static double brier_eval(void *state, const tb_loss_batch *b) {
  brier_state *st = state;
  const int n = b->n, k = b->k;
  if (k != st->k) return NAN; /* not the K this state was created for */
  if (n <= 0) return 0;
  double *p = st->p, *g = st->g;
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k;
    const double *t = b->targets ? b->targets + (size_t)i * k : NULL;
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    const double w = b->weights ? b->weights[i] : 1.0;
    const int y = b->labels[i];
    if (w == 0) {
      if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
      continue;
    }
    if (!t && (y < 0 || y >= k)) return NAN;
    st->host->softmax(p, z, k);
    int d = -1;
    for (int j = 0; j < k; j++)
      if (p[j] > 0.5) d = j;
    double ud = 0;
    if (d >= 0)
      for (int j = 0; j < k; j++)
        if (j != d) ud += p[j];
    double loss = 0, gp_rest = 0;
    for (int j = 0; j < k; j++) {
      const double q = t ? t[j] : (double)(j == y);
      g[j] = j == d ? (1 - q) - ud : p[j] - q;
      loss += g[j] * g[j];
      if (j != d) gp_rest += g[j] * p[j];
    }
    total += w * loss;
    if (dz) {
      const double s = 2 * w / n, gp = gp_rest + (d >= 0 ? g[d] * p[d] : 0);
      for (int j = 0; j < k; j++)
        /* for d: g_d - sum g p = g_d u_d - sum_{k != d} g_k p_k */
        dz[j] = s * p[j] * (j == d ? g[d] * ud - gp_rest : g[j] - gp);
    }
  }
  return total / n;
}

static const tb_loss_def brier = {
  .name = "brier",
  .version = "1",
  .summary = "Brier score: squared error between softmax probabilities and the target",
  .reference = "Brier, \"Verification of forecasts expressed in terms of probability\", 1950",
  .services = 0,
  .hparams = NULL,
  .n_hparams = 0,
  .validate = NULL,
  .create = brier_create,
  .eval = brier_eval,
  .destroy = brier_destroy,
};

static const tb_loss_def *const losses[] = {&brier, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, losses, NULL};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
