/*
 * sgd.c — stochastic gradient descent with optional momentum, dampening,
 * Nesterov momentum and L2 weight decay, step for step as PyTorch 1.13's
 * torch.optim.SGD (float32 state and arithmetic, scalars in double).
 *
 * Provides the optimizer "sgd" through tb_plugin_entry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"

/*
 * Robbins & Monro, "A Stochastic Approximation Method" (1951); momentum and
 * Nesterov momentum in PyTorch's form of Sutskever, Martens, Dahl & Hinton,
 * "On the importance of initialization and momentum in deep learning" (2013).
 * With lr_t = lr * schedule factor, step t = 1, 2, ...:
 *
 *   g <- g + weight_decay * theta                   (if weight_decay != 0)
 *   b <- g  at t = 1,  else  momentum * b + (1 - dampening) * g
 *   d <- g + momentum * b  if nesterov,  else  b    (d = g if momentum = 0)
 *   theta <- theta - lr_t * d
 *
 * The buffer starts as the first gradient, undampened, as in PyTorch.
 */
enum { HP_LR, HP_MOMENTUM, HP_DAMPENING, HP_NESTEROV, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = {"lr", TB_HP_REAL, 0.01, 0, 10, 1, NULL,
               "learning rate (PyTorch has no default; 0.01 here)"},
    [HP_MOMENTUM] = {"momentum", TB_HP_REAL, 0, 0, 1, 0, NULL,
                     "momentum factor; 0 disables the momentum buffer"},
    [HP_DAMPENING] = {"dampening", TB_HP_REAL, 0, 0, 1, 0, NULL,
                      "dampening of the gradient added to the momentum buffer"},
    [HP_NESTEROV] = {"nesterov", TB_HP_BOOL, 0, 0, 1, 0, NULL,
                     "Nesterov momentum (needs momentum > 0 and dampening 0)"},
    [HP_WEIGHT_DECAY] = {"weight_decay", TB_HP_REAL, 0, 0, 1, 1, NULL,
                         "L2 penalty coefficient added to the gradient"},
};

/* PyTorch refuses the same combination in SGD.__init__. */
static int sgd_validate(const double *hp, char *err, size_t errlen) {
  if (hp[HP_NESTEROV] != 0 && (hp[HP_MOMENTUM] <= 0 || hp[HP_DAMPENING] != 0)) {
    snprintf(err, errlen, "'nesterov' requires 'momentum' > 0 and 'dampening' = 0 (got "
             "momentum %g, dampening %g)", hp[HP_MOMENTUM], hp[HP_DAMPENING]);
    return 1;
  }
  return 0;
}

/* One allocation: this header, then numel[n_params], then the momentum
 * buffers of every tensor back to back (absent without momentum). */
typedef struct sgd_state {
  double lr, momentum, dampening, weight_decay;
  int nesterov;
  int n_params;
  int64_t t;      /* steps taken by this instance (PyTorch's state step) */
  int64_t *numel; /* [n_params] */
  float *buf;     /* [sum numel] or NULL */
} sgd_state;

static int sgd_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  const double *hp = init->hp;
  int use_buf = hp[HP_MOMENTUM] != 0;
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
  size_t bytes = sizeof(sgd_state) + (size_t)init->n_params * sizeof(int64_t) +
                 (use_buf ? (size_t)total * sizeof(float) : 0);
  sgd_state *s = calloc(1, bytes);
  if (!s) {
    snprintf(err, errlen, "out of memory for the momentum buffers (%lld floats)",
             (long long)total);
    return 1;
  }
  s->lr = hp[HP_LR];
  s->momentum = hp[HP_MOMENTUM];
  s->dampening = hp[HP_DAMPENING];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->nesterov = hp[HP_NESTEROV] != 0;
  s->n_params = init->n_params;
  s->numel = (int64_t *)(s + 1);
  for (int i = 0; i < init->n_params; i++) s->numel[i] = init->params[i].numel;
  s->buf = use_buf ? (float *)(s->numel + init->n_params) : NULL;
  *state = s;
  return 0;
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps rather than drifting by the precision of a different formula. */
static int sgd_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  sgd_state *s = state;
  for (int i = 0; i < s->n_params; i++)
    if (params[i].numel != s->numel[i] || grads[i].numel != s->numel[i]) return 1;
  s->t++;
  const int first = s->t == 1;
  const float neg_lr = (float)-(s->lr * ctx->lr_factor);
  const float wd = (float)s->weight_decay, mu = (float)s->momentum;
  const float keep = (float)(1.0 - s->dampening);
  const int decay = s->weight_decay != 0;
  float *b = s->buf;
  for (int i = 0; i < s->n_params; i++) {
    float *p = params[i].data;
    const float *g = grads[i].data;
    for (int64_t j = 0; j < s->numel[i]; j++) {
      float d = g[j];
      if (decay) d = d + wd * p[j];
      if (b) {
        float bj = first ? d : b[j] * mu + keep * d;
        b[j] = bj;
        d = s->nesterov ? d + mu * bj : bj;
      }
      p[j] = p[j] + neg_lr * d;
    }
    if (b) b += s->numel[i];
  }
  return 0;
}

static void sgd_destroy(void *state) { free(state); }

static const tb_optimizer_def sgd_def = {
    .name = "sgd",
    .version = "1",
    .summary = "stochastic gradient descent with momentum, Nesterov and L2 weight decay "
               "(PyTorch semantics)",
    .reference = "Robbins & Monro, A Stochastic Approximation Method (1951); momentum and "
                 "Nesterov: Sutskever et al., On the importance of initialization and "
                 "momentum in deep learning (2013)",
    .services = 0,
    .hparams = hparams,
    .n_hparams = N_HP,
    .validate = sgd_validate,
    .create = sgd_create,
    .step = sgd_step,
    .destroy = sgd_destroy,
};

static const tb_optimizer_def *const optimizers[] = {&sgd_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, NULL, optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
