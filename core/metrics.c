/*
 * metrics.c — what an evaluation pass measures on a split, accumulated
 * chunk by chunk in double: accuracy, NLL, Brier score and expected
 * calibration error (ECE) over 15 equal-width confidence bins.
 *
 *   nll   = mean_i −log p_{y_i}
 *   brier = mean_i Σ_k (p_ik − [k = y_i])²           (Brier, 1950)
 *   ece   = Σ_b (n_b / n) |acc_b − conf_b|, conf = max_k p_ik
 *           (Guo et al., "On Calibration of Modern Neural Networks", 2017)
 * A prediction is correct when the first index of the largest logit is the label.
 *
 * Provides: tb_eval_acc_* and tb_eval_{accuracy,nll,brier,ece}.
 */
#include <math.h>
#include <string.h>

#include "host.h"
#include "train.h"
#include "trainbench/plugin.h"

void tb_eval_acc_reset(tb_eval_acc *a) { memset(a, 0, sizeof *a); }

void tb_eval_acc_add(tb_eval_acc *a, const double *logits, const int32_t *y, int B, int K,
                     double *p) {
  const tb_host_api *h = tb_host_api_get();
  for (int i = 0; i < B; i++) {
    const double *z = logits + (size_t)i * K;
    int arg = 0;
    for (int k = 1; k < K; k++)
      if (z[k] > z[arg]) arg = k;
    double lse = h->logsumexp(z, K);
    h->softmax(p, z, K);
    double conf = p[arg], br = 0;
    for (int k = 0; k < K; k++) {
      double t = p[k] - (k == y[i]);
      br += t * t;
    }
    int ok = arg == y[i];
    a->n += 1;
    a->correct += ok;
    a->nll += lse - z[y[i]];
    a->brier += br;
    int bin = isfinite(conf) ? (int)(conf * 15) : 14;
    if (bin > 14) bin = 14;
    if (bin < 0) bin = 0;
    a->bin_n[bin] += 1;
    a->bin_conf[bin] += conf;
    a->bin_acc[bin] += ok;
  }
}

double tb_eval_accuracy(const tb_eval_acc *a) { return a->n ? a->correct / a->n : NAN; }
double tb_eval_nll(const tb_eval_acc *a) { return a->n ? a->nll / a->n : NAN; }
double tb_eval_brier(const tb_eval_acc *a) { return a->n ? a->brier / a->n : NAN; }
double tb_eval_ece(const tb_eval_acc *a) {
  if (!a->n) return NAN;
  double e = 0;
  for (int b = 0; b < 15; b++)
    if (a->bin_n[b] > 0) e += fabs(a->bin_acc[b] - a->bin_conf[b]) / a->n;
  return e;
}
