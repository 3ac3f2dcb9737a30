/*
 * adagrad.c — Adagrad with learning-rate decay, an initial accumulator value
 * and L2 weight decay, step for step as PyTorch 1.13's torch.optim.Adagrad
 * (float32 state and arithmetic, the decayed rate in double).
 *
 * Provides the optimizer "adagrad" through tb_plugin_entry.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"

/*
 * Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
 * and Stochastic Optimization" (2011), diagonal form as in PyTorch. With
 * lr_t = lr * schedule factor, step t = 1, 2, ...:
 *
 *   g <- g + weight_decay * theta                    (if weight_decay != 0)
 *   clr <- lr_t / (1 + (t - 1) * lr_decay)
 *   S <- S + g^2                     (S starts at initial_accumulator_value)
 *   theta <- theta - clr * g / (sqrt(S) + eps)
 */
enum { HP_LR, HP_LR_DECAY, HP_EPS, HP_INITIAL_ACCUMULATOR_VALUE, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = {"lr", TB_HP_REAL, 1e-2, 0, 10, 1, NULL, "learning rate"},
    [HP_LR_DECAY] = {"lr_decay", TB_HP_REAL, 0, 0, 1, 1, NULL,
                     "step t uses lr / (1 + (t - 1) * lr_decay)"},
    [HP_EPS] = {"eps", TB_HP_REAL, 1e-10, 0, 1, 1, NULL,
                "added to the root of the accumulated squared gradients"},
    [HP_INITIAL_ACCUMULATOR_VALUE] = {"initial_accumulator_value", TB_HP_REAL, 0, 0, 10, 0,
                                      NULL, "starting value of the squared-gradient sum"},
    [HP_WEIGHT_DECAY] = {"weight_decay", TB_HP_REAL, 0, 0, 1, 1, NULL,
                         "L2 penalty coefficient added to the gradient"},
};

/* One allocation: this header, numel[n_params], then the sums of every
 * tensor back to back. */
typedef struct adagrad_state {
  double lr, lr_decay, eps, weight_decay;
  int n_params;
  int64_t t;      /* steps taken by this instance (PyTorch's state step) */
  int64_t *numel; /* [n_params] */
  float *sum;     /* [sum numel] */
} adagrad_state;

static int adagrad_create(const tb_optimizer_init *init, void **state, char *err,
                          size_t errlen) {
  const double *hp = init->hp;
  int64_t total = 0;
  for (int i = 0; i < init->n_params; i++) {
    int64_t n = init->params[i].numel;
    if (n < 0 || n > INT64_MAX / 16 - total) {
      snprintf(err, errlen, "tensor '%s' has an impossible size %lld", init->params[i].name,
               (long long)n);
      return 1;
    }
    total += n;
  }
  size_t bytes = sizeof(adagrad_state) + (size_t)init->n_params * sizeof(int64_t) +
                 (size_t)total * sizeof(float);
  adagrad_state *s = malloc(bytes);
  if (!s) {
    snprintf(err, errlen, "out of memory for the squared-gradient sums (%lld floats)",
             (long long)total);
    return 1;
  }
  s->lr = hp[HP_LR];
  s->lr_decay = hp[HP_LR_DECAY];
  s->eps = hp[HP_EPS];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->n_params = init->n_params;
  s->t = 0;
  s->numel = (int64_t *)(s + 1);
  for (int i = 0; i < init->n_params; i++) s->numel[i] = init->params[i].numel;
  s->sum = (float *)(s->numel + init->n_params);
  const float s0 = (float)hp[HP_INITIAL_ACCUMULATOR_VALUE];
  for (int64_t j = 0; j < total; j++) s->sum[j] = s0;
  *state = s;
  return 0;
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
static int adagrad_step(void *state, tb_tensor *params, const tb_tensor *grads,
                        const tb_step_ctx *ctx) {
  adagrad_state *s = state;
  for (int i = 0; i < s->n_params; i++)
    if (params[i].numel != s->numel[i] || grads[i].numel != s->numel[i]) return 1;
  s->t++;
  const double clr = s->lr * ctx->lr_factor / (1.0 + (double)(s->t - 1) * s->lr_decay);
  const float neg_clr = (float)-clr;
  const float eps = (float)s->eps, wd = (float)s->weight_decay;
  const int decay = s->weight_decay != 0;
  float *sum = s->sum;
  for (int i = 0; i < s->n_params; i++) {
    float *p = params[i].data;
    const float *g = grads[i].data;
    for (int64_t j = 0; j < s->numel[i]; j++) {
      float gj = g[j];
      if (decay) gj = gj + wd * p[j];
      sum[j] = sum[j] + gj * gj;
      float r = sqrtf(sum[j]) + eps;
      p[j] = p[j] + neg_clr * gj / r;
    }
    sum += s->numel[i];
  }
  return 0;
}

static void adagrad_destroy(void *state) { free(state); }

static const tb_optimizer_def adagrad_def = {
    .name = "adagrad",
    .version = "1",
    .summary = "Adagrad with lr decay, initial accumulator and L2 weight decay (PyTorch "
               "semantics)",
    .reference = "Duchi, Hazan & Singer, Adaptive Subgradient Methods for Online Learning and "
                 "Stochastic Optimization (2011)",
    .services = 0,
    .hparams = hparams,
    .n_hparams = N_HP,
    .validate = NULL,
    .create = adagrad_create,
    .step = adagrad_step,
    .destroy = adagrad_destroy,
};

static const tb_optimizer_def *const optimizers[] = {&adagrad_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, NULL, optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
