/*
 * sgd.c — stochastic gradient descent with optional momentum, dampening,
 * Nesterov momentum and L2 weight decay, step for step as PyTorch 1.13's
 * torch.optim.SGD (float32 state and arithmetic, scalars in double).
 *
 * Provides the optimizer "sgd" through tb_plugin_entry.
 */
#include <stdint.h>
#include <stdio.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

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
 * The buffer starts as the first gradient, undampened, as in PyTorch. A
 * tensor marked TB_TENSOR_NO_DECAY gets weight_decay 0.
 */
enum { HP_LR, HP_MOMENTUM, HP_DAMPENING, HP_NESTEROV, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = TBU_HP_REAL("lr", 0.01, 0, 10, 1,
                          "learning rate (PyTorch has no default; 0.01 here)"),
    [HP_MOMENTUM] = TBU_HP_REAL("momentum", 0, 0, 1, 0,
                                "momentum factor; 0 disables the momentum buffer"),
    [HP_DAMPENING] = TBU_HP_REAL("dampening", 0, 0, 1, 0,
                                 "dampening of the gradient added to the momentum buffer"),
    [HP_NESTEROV] = TBU_HP_BOOL("nesterov", 0,
                                "Nesterov momentum (needs momentum > 0 and dampening 0)"),
    [HP_WEIGHT_DECAY] = TBU_HP_REAL("weight_decay", 0, 0, 1, 1,
                                    "L2 penalty coefficient added to the gradient"),
};

/* PyTorch refuses the same combination in SGD.__init__. */
static int sgd_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  const double momentum = v[HP_MOMENTUM].num, dampening = v[HP_DAMPENING].num;
  if (v[HP_NESTEROV].num != 0 && (momentum <= 0 || dampening != 0)) {
    snprintf(err, errlen, "'nesterov' requires 'momentum' > 0 and 'dampening' = 0 (got "
             "momentum %g, dampening %g)", momentum, dampening);
    return 1;
  }
  return 0;
}

/* One allocation (TBU_OPT_ALLOC): this header, then the momentum buffer of
 * every element (no slot without momentum). */
typedef struct sgd_state {
  double lr, momentum, dampening, weight_decay;
  int nesterov;
  int64_t t; /* steps taken by this instance (PyTorch's state step) */
  tbu_slots slots;
} sgd_state;

static int sgd_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  const double *hp = init->hp;
  sgd_state *s = TBU_OPT_ALLOC(sgd_state, slots, init, hp[HP_MOMENTUM] != 0, err, errlen);
  if (!s) return 1;
  s->lr = hp[HP_LR];
  s->momentum = hp[HP_MOMENTUM];
  s->dampening = hp[HP_DAMPENING];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->nesterov = hp[HP_NESTEROV] != 0;
  *state = s;
  return 0;
}

enum { DECAY = 1u, MOMENTUM = 2u, NESTEROV = 4u, FIRST = 8u };

/* One tensor's update, p, g, b [n]; `mode` is a constant at each call
 * (TBU_SPECIALIZE4), so every loop below is branch-free. */
TBU_INLINE void sgd_tensor(float *TBU_RESTRICT p, const float *TBU_RESTRICT g,
                           float *TBU_RESTRICT b, int64_t n, float neg_lr, float wd, float mu,
                           float keep, unsigned mode) {
  for (int64_t j = 0; j < n; j++) {
    float d = g[j];
    if (mode & DECAY) d = d + wd * p[j];
    if (mode & MOMENTUM) {
      const float bj = (mode & FIRST) ? d : b[j] * mu + keep * d;
      b[j] = bj;
      d = (mode & NESTEROV) ? d + mu * bj : bj;
    }
    p[j] = p[j] + neg_lr * d;
  }
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps rather than drifting by the precision of a different formula. */
TBU_VECTOR_CLONES
static int sgd_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  sgd_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  s->t++;
  const float neg_lr = (float)-(s->lr * ctx->lr_factor);
  const float mu = (float)s->momentum, keep = (float)(1.0 - s->dampening);
  const unsigned momentum = s->slots.n_slots ? MOMENTUM | (s->nesterov ? NESTEROV : 0u) |
                                                   (s->t == 1 ? FIRST : 0u)
                                             : 0u;
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    const double wd = tbu_weight_decay(s->weight_decay, t.t);
    float *b = momentum ? tbu_slot(&s->slots, 0, i) : NULL;
#define RUN(md) sgd_tensor(t.p, t.g, b, t.n, neg_lr, (float)wd, mu, keep, md)
    TBU_SPECIALIZE4(momentum | (wd != 0 ? DECAY : 0u), RUN);
#undef RUN
  }
  return 0;
}

static const tb_optimizer_def sgd_def = {
    TB_DEF_SIZES(tb_optimizer_def),
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
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def *const optimizers[] = {&sgd_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
