/*
 * focal.c — the focal loss, which down-weights well-classified samples by
 * (1 - p_y)^gamma; gamma = 0 is the cross-entropy.
 *
 * Provides: tb_plugin_entry, with one loss, "focal".
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

/*
 * Source: Lin et al., "Focal Loss for Dense Object Detection", 2017 (the
 * multiclass softmax form, without the alpha class weights). With q the
 * one-hot label (or the soft target row), p = softmax(z), u_k = 1 - p_k:
 *
 *   loss = -sum_k q_k u_k^gamma log p_k        (one-hot: -(1 - p_y)^gamma log p_y)
 *   c_k  = u_k^gamma (gamma p_k r_k - 1),      r_k = log(p_k) / u_k
 *   dloss/dz_j = q_j c_j - p_j sum_k q_k c_k
 *
 * Numerics: at most one class d has p_d > 1/2; for it u_d is the sum of the
 * other probabilities (1 - p_d would cancel to 0 long before u_d underflows),
 * log p_d is log1p(-u_d) (z_d - logsumexp(z) rounds to 0 as soon as u_d <
 * 1e-16), r_d -> -1 as u_d -> 0, and its gradient uses u_d in place of
 * 1 - p_d. Writing c_k with r_k, not u_k^(gamma-1) log p_k, keeps gamma < 1
 * finite when u_k underflows to 0.
 */
static const tb_hparam hparams[] = {
  {"gamma", TB_HP_REAL, 2.0, 0.0, 10.0, 0, NULL,
   "focusing exponent on (1 - p_y); 0 gives the cross-entropy"},
};

typedef struct focal_state {
  const tb_host_api *host;
  int k;
  double gamma;
  double *p, *lp, *c; /* [K] scratch each, one allocation */
} focal_state;

static int focal_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss 'focal' needs at least 1 class, got %d", init->n_classes);
    return -1;
  }
  const size_t k = (size_t)init->n_classes;
  focal_state *st = calloc(1, sizeof *st);
  double *buf = calloc(3 * k, sizeof *buf);
  if (!st || !buf) {
    free(st);
    free(buf);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->host = init->host;
  st->k = init->n_classes;
  st->gamma = init->hp[0];
  st->p = buf;
  st->lp = buf + k;
  st->c = buf + 2 * k;
  *state = st;
  return 0;
}

static void focal_destroy(void *state) {
  focal_state *st = state;
  if (!st) return;
  free(st->p); /* the one allocation behind p, lp and c */
  free(st);
}

/* A zero-weight row is skipped (zero gradient) so it cannot add even a NaN. */
static double focal_eval(void *state, const tb_loss_batch *b) {
  focal_state *st = state;
  const int n = b->n, k = b->k;
  if (k != st->k) return NAN; /* not the K this state was created for */
  if (n <= 0) return 0;
  const double gamma = st->gamma;
  double *p = st->p, *lp = st->lp, *c = st->c;
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
    st->host->log_softmax(lp, z, k);
    int d = -1;
    for (int j = 0; j < k; j++)
      if (p[j] > 0.5) d = j;
    double ud = 0;
    if (d >= 0) {
      for (int j = 0; j < k; j++)
        if (j != d) ud += p[j];
      lp[d] = log1p(-ud);
    }
    double loss = 0, qc_d = 0, qc_rest = 0;
    for (int j = 0; j < k; j++) {
      const double q = t ? t[j] : (double)(j == y);
      if (q == 0) {
        c[j] = 0;
        continue;
      }
      const double u = j == d ? ud : 1 - p[j];
      const double r = u > 0 ? lp[j] / u : -1; /* log(p)/(1-p) -> -1 as p -> 1 */
      const double ug = pow(u, gamma);         /* pow(0, 0) = 1: gamma 0 is CE */
      loss -= q * ug * lp[j];
      c[j] = ug * (gamma * p[j] * r - 1);
      if (j == d)
        qc_d = q * c[j];
      else
        qc_rest += q * c[j];
    }
    total += w * loss;
    if (dz) {
      const double s = w / n, qc = qc_d + qc_rest;
      for (int j = 0; j < k; j++) {
        const double q = t ? t[j] : (double)(j == y);
        /* for d: q_d c_d - p_d sum q c = q_d c_d u_d - p_d sum_{k != d} q_k c_k */
        dz[j] = s * (j == d ? qc_d * ud - p[d] * qc_rest : q * c[j] - p[j] * qc);
      }
    }
  }
  return total / n;
}

static const tb_loss_def focal = {
  .name = "focal",
  .version = "1",
  .summary = "focal loss: cross-entropy scaled by (1 - p_y)^gamma to focus on hard samples",
  .reference = "Lin et al., \"Focal Loss for Dense Object Detection\", 2017",
  .services = 0,
  .hparams = hparams,
  .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
  .validate = NULL,
  .create = focal_create,
  .eval = focal_eval,
  .destroy = focal_destroy,
};

static const tb_loss_def *const losses[] = {&focal, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, losses, NULL};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
