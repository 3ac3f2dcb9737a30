/*
 * cross_entropy.c — the multinomial cross-entropy loss, with label smoothing
 * exactly as torch.nn.functional.cross_entropy(..., label_smoothing=eps).
 *
 * Provides: tb_plugin_entry, with one loss, "cross_entropy".
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

/*
 * Source: the standard log-loss of a softmax classifier; label smoothing from
 * Szegedy et al., "Rethinking the Inception Architecture for Computer
 * Vision", 2016. With t the one-hot label (or the soft target row):
 *
 *   q_k    = (1 - eps) t_k + eps / K          (smoothing spreads over all K)
 *   loss   = -sum_k q_k log p_k,              p = softmax(z)
 *   dloss/dz_j = p_j sum_k q_k - q_j
 *
 * The gradient keeps sum_k q_k rather than assuming 1, so it stays the exact
 * derivative even when a soft target row does not sum to 1 exactly.
 */
static const tb_hparam hparams[] = {
  {"label_smoothing", TB_HP_REAL, 0.0, 0.0, 1.0, 0, NULL,
   "weight eps of the uniform distribution mixed into the target (0 = none)"},
};

typedef struct ce_state {
  const tb_host_api *host;
  int k;
  double eps;
  double *p, *lp; /* [K] scratch each, one allocation: softmax and log softmax of a row */
} ce_state;

static int ce_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss 'cross_entropy' needs at least 1 class, got %d", init->n_classes);
    return -1;
  }
  ce_state *st = calloc(1, sizeof *st);
  double *buf = calloc(2 * (size_t)init->n_classes, sizeof *buf);
  if (!st || !buf) {
    free(st);
    free(buf);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->host = init->host;
  st->k = init->n_classes;
  st->eps = init->hp[0];
  st->p = buf;
  st->lp = buf + init->n_classes;
  *state = st;
  return 0;
}

static void ce_destroy(void *state) {
  ce_state *st = state;
  if (!st) return;
  free(st->p); /* the one allocation behind p and lp */
  free(st);
}

/* Rows are independent, so the batch is walked row by row with a scratch of
 * K doubles: no allocation here whatever N is. A zero-weight row is skipped
 * entirely (and gets a zero gradient) so it cannot contribute even a NaN. */
static double ce_eval(void *state, const tb_loss_batch *b) {
  ce_state *st = state;
  const int n = b->n, k = b->k;
  if (k != st->k) return NAN; /* not the K this state was created for */
  if (n <= 0) return 0;
  const double eps = st->eps, spread = eps / k;
  double *p = st->p, *lp = st->lp;
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
    st->host->log_softmax(lp, z, k);
    double loss = 0, qsum = 0;
    for (int j = 0; j < k; j++) {
      double q = (1 - eps) * (t ? t[j] : (double)(j == y)) + spread;
      /* skip q = 0 so that a -inf logit of an untargeted class stays harmless */
      if (q != 0) loss -= q * lp[j];
      qsum += q;
    }
    total += w * loss;
    if (dz) {
      /* p from softmax, not exp(lp): z - logsumexp(z) carries the rounding of
       * the larger of the two, which at |z| ~ 1e3 is 1e-13 relative in p */
      st->host->softmax(p, z, k);
      const double s = w / n;
      for (int j = 0; j < k; j++) {
        double q = (1 - eps) * (t ? t[j] : (double)(j == y)) + spread;
        dz[j] = s * (p[j] * qsum - q);
      }
    }
  }
  return total / n;
}

static const tb_loss_def cross_entropy = {
  .name = "cross_entropy",
  .version = "1",
  .summary = "softmax cross-entropy with optional label smoothing (as in PyTorch)",
  .reference = "log-loss; label smoothing: Szegedy et al., \"Rethinking the Inception "
               "Architecture for Computer Vision\", 2016",
  .services = 0,
  .hparams = hparams,
  .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
  .validate = NULL,
  .create = ce_create,
  .eval = ce_eval,
  .destroy = ce_destroy,
};

static const tb_loss_def *const losses[] = {&cross_entropy, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, losses, NULL};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
