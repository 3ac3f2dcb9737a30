/*
 * rt_losses.c — test-only losses that use the run-time parts of ABI 2.0
 * correctly, for the end-to-end tests (tests/e2e/test_runtime.sh), the
 * allocation counter and `trainbench check` (which they must pass):
 *
 *   rt_temp_ce    cross-entropy at a learned temperature: a loss tensor
 *                 "log_temperature" (row form; reports the temperature)
 *   rt_dual_cap   cross-entropy with a constraint on the logits' size, as a
 *                 min-max problem: a dual variable "lambda" the core hands
 *                 to the optimizer as ASCENT and keeps NONNEG (batch form;
 *                 reports lambda and the constraint's mean violation)
 *   rt_ema_ce     a stateful loss: cross-entropy scaled by a factor that
 *                 follows a running mean of the training loss, updated in
 *                 TB_PHASE_TRAIN only (reports the factor)
 *   rt_sqmean_ce  not a mean of per-sample terms (TB_LOSS_NOT_MEAN): the
 *                 square of the mean cross-entropy
 *
 * Never installed; lives outside the plugin search path.
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 * With p = softmax(u), t the target (one-hot label or soft), w_i the sample
 * weight, CE(u) = logsumexp(u) - sum_j t_j u_j and dCE/du = p - t:
 *
 *   rt_temp_ce:   loss_i = CE(z_i / T), T = exp(tau);
 *                 d/dz = (p - t) / T,  d/dtau = -sum_j (p_j - t_j) u_j
 *   rt_dual_cap:  mean = (1/N) sum_i w_i (CE(z_i) + lambda g_i),
 *                 g_i = |z_i|^2 / K - cap;  d/dz_ij = (w_i/N)(p_ij - t_ij
 *                 + 2 lambda z_ij / K),  d/dlambda = (1/N) sum_i w_i g_i
 *                 (Lagrangian relaxation: the optimizer descends on the
 *                 model and, through the core's negation, ascends on lambda)
 *   rt_ema_ce:    mean = c (1/N) sum_i w_i CE(z_i), c = 1 + tanh(m) / 2,
 *                 after a TRAIN call m <- 0.9 m + 0.1 mean CE
 *   rt_sqmean_ce: L = M^2, M = (1/N) sum_i w_i CE(z_i);
 *                 d/dz_ij = 2 M (w_i/N)(p_ij - t_ij)
 * (Temperature scaling: Guo et al., "On Calibration of Modern Neural
 * Networks", 2017; the Lagrangian: Bertsekas, "Constrained Optimization and
 * Lagrange Multiplier Methods", 1982.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/* ---- the cross-entropy row all four share ------------------------------- */

/* CE of row u [K] against the label y or the soft target; p [K] = softmax(u). */
static double ce_row(const tb_host_api *h, const double *u, int k, int y, const double *target,
                     double *p) {
  h->softmax(p, u, k);
  const double lse = h->logsumexp(u, k);
  if (!target) return lse - u[y];
  double ce = 0;
  for (int j = 0; j < k; j++)
    if (target[j] != 0) ce += target[j] * (lse - u[j]);
  return ce;
}

static double tgt(const double *target, int y, int j) {
  return target ? target[j] : (double)(j == y);
}

/* ---- rt_temp_ce ------------------------------------------------------------- */

static const tb_hparam temp_hp[] = {
    TBU_HP_REAL("t0", 1.0, 0.05, 20, 1, "initial temperature"),
};

typedef struct temp_state {
  int idx;          /* of "log_temperature" in batch->tensors */
  tbu_scratch rows; /* u, p */
} temp_state;

static int temp_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  temp_state *s = TBU_LOSS_ALLOC(temp_state, rows, init, "rt_temp_ce", 2, err, errlen);
  if (!s) return 1;
  s->idx = init->add_tensor(init->host_ctx, "log_temperature", 0, NULL, log(init->hp[0]), 0);
  if (s->idx < 0) {
    snprintf(err, errlen, "add_tensor refused log_temperature");
    free(s);
    return 1;
  }
  *state = s;
  return 0;
}

static double temp_row(void *state, const tb_loss_row *r) {
  temp_state *s = state;
  if (!tbu_row_ok(&s->rows, r)) return NAN;
  const tb_loss_batch *b = r->batch;
  const double tau = TB_CTENSOR_AT(b->tensors, b->tensor_size, s->idx)->data[0];
  const double T = exp(tau);
  const int k = r->k;
  double *u = tbu_scratch_row(&s->rows, 0), *p = tbu_scratch_row(&s->rows, 1);
  for (int j = 0; j < k; j++) u[j] = r->z[j] / T;
  const double loss = ce_row(s->rows.host, u, k, r->y, r->target, p);
  if (r->dz) {
    double dtau = 0;
    for (int j = 0; j < k; j++) {
      const double d = p[j] - tgt(r->target, r->y, j);
      r->dz[j] = r->grad_scale * d / T;
      dtau -= d * u[j];
    }
    /* rows accumulate: the core zeroed dtensors before the batch */
    TB_TENSOR_AT(b->dtensors, b->tensor_size, s->idx)->data[0] += (float)(r->grad_scale * dtau);
  }
  /* one report per training batch: the first row is the batch's first logits */
  if (r->phase == TB_PHASE_TRAIN && r->z == b->logits)
    b->report(b->host_ctx, "rt_temp_ce.temperature", T);
  return loss;
}

static const tb_loss_def temp_def = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "rt_temp_ce",
    .version = "1",
    .summary = "cross-entropy at a learned temperature (a loss tensor)",
    .reference = "Guo et al., \"On Calibration of Modern Neural Networks\", 2017",
    .services = TB_SERVICE_REPORT,
    .hparams = temp_hp,
    .n_hparams = 1,
    .create = temp_create,
    .row = temp_row,
    .destroy = free,
};

/* ---- rt_dual_cap ---------------------------------------------------------------- */

static const tb_hparam dual_hp[] = {
    TBU_HP_REAL("cap", 1.0, 0, 1e4, 0, "bound on the mean squared logit"),
};

typedef struct dual_state {
  int idx;
  double cap;
  tbu_scratch rows; /* p */
} dual_state;

static int dual_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  dual_state *s = TBU_LOSS_ALLOC(dual_state, rows, init, "rt_dual_cap", 1, err, errlen);
  if (!s) return 1;
  const int64_t shape[1] = {1};
  s->idx = init->add_tensor(init->host_ctx, "lambda", 1, shape, 0.0,
                            TB_TENSOR_ASCENT | TB_TENSOR_NONNEG);
  if (s->idx < 0) {
    snprintf(err, errlen, "add_tensor refused lambda");
    free(s);
    return 1;
  }
  s->cap = init->hp[0];
  *state = s;
  return 0;
}

static double dual_eval(void *state, const tb_loss_batch *b) {
  dual_state *s = state;
  const int n = b->n, k = b->k;
  if (k != s->rows.k) return NAN;
  if (n <= 0) return 0;
  const double lambda = TB_CTENSOR_AT(b->tensors, b->tensor_size, s->idx)->data[0];
  double *p = tbu_scratch_row(&s->rows, 0);
  double total = 0, dl = 0, viol = 0;
  for (int i = 0; i < n; i++) {
    const double w = b->weights ? b->weights[i] : 1.0;
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    if (w == 0) {
      if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
      continue;
    }
    const double *z = b->logits + (size_t)i * k;
    const double *t = b->targets ? b->targets + (size_t)i * k : NULL;
    const double ce = ce_row(s->rows.host, z, k, b->labels[i], t, p);
    double sq = 0;
    for (int j = 0; j < k; j++) sq += z[j] * z[j];
    const double g = sq / k - s->cap;
    total += w * (ce + lambda * g);
    dl += w * g;
    viol += g;
    if (dz)
      for (int j = 0; j < k; j++)
        dz[j] = (w / n) * (p[j] - tgt(t, b->labels[i], j) + 2 * lambda * z[j] / k);
  }
  if (b->dlogits) TB_TENSOR_AT(b->dtensors, b->tensor_size, s->idx)->data[0] = (float)(dl / n);
  if (b->phase == TB_PHASE_TRAIN) {
    b->report(b->host_ctx, "rt_dual_cap.lambda", lambda);
    b->report(b->host_ctx, "rt_dual_cap.violation", viol / n);
  }
  return total / n;
}

static const tb_loss_def dual_def = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "rt_dual_cap",
    .version = "1",
    .summary = "cross-entropy with a bound on the logits' size through a dual variable",
    .reference = "Bertsekas, \"Constrained Optimization and Lagrange Multiplier Methods\", 1982",
    .services = TB_SERVICE_REPORT,
    .hparams = dual_hp,
    .n_hparams = 1,
    .create = dual_create,
    .eval = dual_eval,
    .destroy = free,
};

/* ---- rt_ema_ce and rt_sqmean_ce: the batch's weighted mean CE ---------------- */

typedef struct mean_state {
  double m;         /* rt_ema_ce: the running mean of the training loss */
  tbu_scratch rows; /* p */
} mean_state;

static int mean_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  mean_state *s = TBU_LOSS_ALLOC(mean_state, rows, init, "rt_mean", 1, err, errlen);
  if (!s) return 1;
  *state = s;
  return 0;
}

/* (1/N) sum_i w_i CE_i, and into dlogits f (w_i/N)(p - t) when set. */
static double mean_ce(mean_state *s, const tb_loss_batch *b, double f) {
  const int n = b->n, k = b->k;
  if (k != s->rows.k) return NAN;
  if (n <= 0) return 0;
  double *p = tbu_scratch_row(&s->rows, 0), total = 0;
  for (int i = 0; i < n; i++) {
    const double w = b->weights ? b->weights[i] : 1.0;
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    if (w == 0) {
      if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
      continue;
    }
    const double *t = b->targets ? b->targets + (size_t)i * k : NULL;
    total += w * ce_row(s->rows.host, b->logits + (size_t)i * k, k, b->labels[i], t, p);
    if (dz)
      for (int j = 0; j < k; j++) dz[j] = f * (w / n) * (p[j] - tgt(t, b->labels[i], j));
  }
  return total / n;
}

static double ema_eval(void *state, const tb_loss_batch *b) {
  mean_state *s = state;
  const double c = 1 + 0.5 * tanh(s->m);
  const double mean = mean_ce(s, b, c);
  if (b->phase == TB_PHASE_TRAIN) {
    b->report(b->host_ctx, "rt_ema_ce.factor", c);
    if (isfinite(mean)) s->m = 0.9 * s->m + 0.1 * mean; /* once per optimizer step */
  }
  return c * mean;
}

static const tb_loss_def ema_def = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "rt_ema_ce",
    .version = "1",
    .summary = "cross-entropy scaled by a running mean of the training loss (stateful)",
    .reference = "test plugin (no paper): a stateful loss that updates in TB_PHASE_TRAIN only",
    .services = TB_SERVICE_REPORT,
    .create = mean_create,
    .eval = ema_eval,
    .destroy = free,
};

static double sq_eval(void *state, const tb_loss_batch *b) {
  mean_state *s = state;
  if (!b->dlogits) {
    const double m = mean_ce(s, b, 1);
    return m * m;
  }
  /* the gradient needs M before it is known: a value pass, then the gradient pass */
  tb_loss_batch v = *b;
  v.dlogits = NULL;
  const double m = mean_ce(s, &v, 1);
  mean_ce(s, b, 2 * m);
  return m * m;
}

static const tb_loss_def sq_def = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "rt_sqmean_ce",
    .version = "1",
    .summary = "the square of the mean cross-entropy (not a mean of per-sample terms)",
    .reference = "test plugin (no paper): a loss with TB_LOSS_NOT_MEAN",
    .flags = TB_LOSS_NOT_MEAN,
    .create = mean_create,
    .eval = sq_eval,
    .destroy = free,
};

static const tb_loss_def *const losses[] = {&temp_def, &dual_def, &ema_def, &sq_def, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
