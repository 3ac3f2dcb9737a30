/*
 * fp_variant.c — one test-only loss and one optimizer, compiled several ways
 * under the same names and versions for the fingerprint tests: builds that
 * differ only in compiler flags must keep their fingerprint, builds whose
 * numbers differ must not. Never installed.
 *
 *   fp_loss: softmax cross-entropy with label smoothing, times SCALE:
 *     loss = SCALE * sum_k -q_k log p_k,  q = (1 - eps) e_y + eps / K,
 *     d loss / d z = SCALE (p - q).
 *     -DSCALE=1.01 or 1.001: other numbers everywhere;
 *     -DSMOOTH_KM1: eps spread over the K - 1 wrong classes, a change that
 *     shows only when 'smoothing' is moved off its default 0.
 *   fp_opt: Adam (Kingma & Ba, 2015) with optional bias correction:
 *     m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 *     theta -= lr_t mhat / (sqrt(vhat) + eps).
 *     -DDEF_LR=2e-3: another default lr;
 *     -DEPS_INSIDE: sqrt(vhat + eps), which matters only where gradients
 *     are as small as sqrt(eps);
 *     -DALT_NOBC: without bias correction (not the default) the first
 *     moment skips its (1 - b1) factor;
 *     -DSIGN_RULE: another update rule, lr_t sign(m).
 *   -DCRASH_AT=T / -DHANG_AT=T: the same numbers, but the optimizer raises
 *     SIGSEGV / hangs at its step T, past the fingerprint probe's 6 steps: a
 *     rebuild that a sweep's probe accepts and whose runs then die (the
 *     forced-rerun test, test_force.sh).
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

#ifndef SCALE
#define SCALE 1.0
#endif
#ifndef DEF_LR
#define DEF_LR 1e-3
#endif

/* ---- fp_loss ---------------------------------------------------------------- */

static const tb_hparam loss_hp[] = {
    {.name = "smoothing", .type = TB_HP_REAL, .def = 0, .min = 0, .max = 1,
     .help = "label smoothing epsilon"},
};

typedef struct {
  const tb_host_api *host;
  double eps;
  int k;
  double *lp; /* [K] scratch */
} lstate;

static int loss_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  lstate *s = calloc(1, sizeof *s);
  if (!s || !(s->lp = calloc((size_t)init->n_classes, sizeof(double)))) {
    free(s);
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->host = init->host;
  s->eps = init->hp[0];
  s->k = init->n_classes;
  *state = s;
  return 0;
}

static double loss_eval(void *state, const tb_loss_batch *b) {
  lstate *s = state;
  const int k = b->k;
#ifdef SMOOTH_KM1
  const double off = k > 1 ? s->eps / (k - 1) : 0, on = 1 - s->eps;
#else
  const double off = s->eps / k, on = 1 - s->eps + s->eps / k;
#endif
  double total = 0;
  for (int i = 0; i < b->n; i++) {
    const double *z = b->logits + (size_t)i * k;
    const double w = b->weights ? b->weights[i] : 1.0;
    s->host->log_softmax(s->lp, z, k);
    double l = 0;
    for (int j = 0; j < k; j++) {
      const double q = j == b->labels[i] ? on : off;
      l -= q * s->lp[j];
      if (b->dlogits)
        b->dlogits[(size_t)i * k + j] = SCALE * w * (exp(s->lp[j]) - q) / b->n;
    }
    total += w * l;
  }
  return SCALE * total / b->n;
}

static void loss_destroy(void *state) {
  lstate *s = state;
  free(s->lp);
  free(s);
}

static const tb_loss_def fp_loss = {
    TB_DEF_SIZES(tb_loss_def), .name = "fp_loss", .version = "1",
    .summary = "scaled cross-entropy with label smoothing (fingerprint tests)",
    .reference = "test plugin (no paper)", .hparams = loss_hp, .n_hparams = 1,
    .create = loss_create, .eval = loss_eval, .destroy = loss_destroy};

/* ---- fp_opt ----------------------------------------------------------------- */

enum { HP_LR, HP_BETA1, HP_BETA2, HP_EPS, HP_BC, N_HP };
#define REAL(n, d, lo, hi, lg, h) \
  {.name = n, .type = TB_HP_REAL, .def = d, .min = lo, .max = hi, .log_scale = lg, .help = h}
static const tb_hparam opt_hp[N_HP] = {
    [HP_LR] = REAL("lr", DEF_LR, 0, 10, 1, "learning rate"),
    [HP_BETA1] = REAL("beta1", 0.9, 0, 0.999, 0, "first-moment decay"),
    [HP_BETA2] = REAL("beta2", 0.999, 0, 0.9999, 0, "second-moment decay"),
    [HP_EPS] = REAL("eps", 1e-8, 0, 1, 1, "denominator epsilon"),
    [HP_BC] = {.name = "bias_correction", .type = TB_HP_BOOL, .def = 1, .min = 0, .max = 1,
               .help = "correct the moments' bias"},
};

typedef struct {
  double lr, b1, b2, eps;
  int bc, n;
  int64_t t, total;
  float *m, *v; /* [total] each */
} ostate;

static int opt_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  ostate *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  for (int i = 0; i < init->n_params; i++)
    s->total += TB_CTENSOR_AT(init->params, init->tensor_size, i)->numel;
  s->m = calloc((size_t)s->total, sizeof(float));
  s->v = calloc((size_t)s->total, sizeof(float));
  if (!s->m || !s->v) {
    free(s->m), free(s->v), free(s);
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->lr = init->hp[HP_LR], s->b1 = init->hp[HP_BETA1], s->b2 = init->hp[HP_BETA2];
  s->eps = init->hp[HP_EPS], s->bc = init->hp[HP_BC] != 0, s->n = init->n_params;
  *state = s;
  return 0;
}

static int opt_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  ostate *s = state;
  s->t++;
#ifdef CRASH_AT
  if (s->t == CRASH_AT) raise(SIGSEGV);
#endif
#ifdef HANG_AT
  if (s->t == HANG_AT)
    for (;;) pause();
#endif
  const double lr = s->lr * ctx->lr_factor;
  const double c1 = s->bc ? 1 - pow(s->b1, (double)s->t) : 1;
  const double c2 = s->bc ? 1 - pow(s->b2, (double)s->t) : 1;
  const float b1 = (float)s->b1, b2 = (float)s->b2;
#ifdef ALT_NOBC
  const float k1 = s->bc ? 1 - b1 : 1;
#else
  const float k1 = 1 - b1;
#endif
  int64_t o = 0;
  for (int i = 0; i < s->n; i++) {
    float *p = TB_TENSOR_AT(params, ctx->tensor_size, i)->data;
    const float *gi = TB_CTENSOR_AT(grads, ctx->tensor_size, i)->data;
    for (int64_t j = 0; j < TB_CTENSOR_AT(params, ctx->tensor_size, i)->numel; j++, o++) {
      const float g = gi[j];
      s->m[o] = b1 * s->m[o] + k1 * g;
      s->v[o] = b2 * s->v[o] + (1 - b2) * g * g;
      const double mh = s->m[o] / c1;
#if defined(SIGN_RULE)
      const double d = (mh > 0) - (mh < 0);
      (void)c2;
#elif defined(EPS_INSIDE)
      const double d = mh / sqrt(s->v[o] / c2 + s->eps);
#else
      const double d = mh / (sqrt(s->v[o] / c2) + s->eps);
#endif
      p[j] = (float)(p[j] - lr * d);
    }
  }
  return 0;
}

static void opt_destroy(void *state) {
  ostate *s = state;
  free(s->m), free(s->v), free(s);
}

static const tb_optimizer_def fp_opt = {
    TB_DEF_SIZES(tb_optimizer_def), .name = "fp_opt", .version = "1",
    .summary = "Adam with optional bias correction (fingerprint tests)",
    .reference = "Kingma & Ba, Adam: A Method for Stochastic Optimization, 2015",
    .hparams = opt_hp, .n_hparams = N_HP, .create = opt_create, .step = opt_step,
    .destroy = opt_destroy};

static const tb_loss_def *const losses[] = {&fp_loss, NULL};
static const tb_optimizer_def *const optimizers[] = {&fp_opt, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
