/*
 * adagrad.c — Adagrad with learning-rate decay, an initial accumulator value
 * and L2 weight decay, step for step as PyTorch 1.13's torch.optim.Adagrad
 * (float32 state and arithmetic, the decayed rate in double).
 *
 * Provides the optimizer "adagrad" through tb_plugin_entry.
 */
#include <math.h>
#include <stdint.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
 * and Stochastic Optimization" (2011), diagonal form as in PyTorch. With
 * lr_t = lr * schedule factor, step t = 1, 2, ...:
 *
 *   g <- g + weight_decay * theta                    (if weight_decay != 0)
 *   clr <- lr_t / (1 + (t - 1) * lr_decay)
 *   S <- S + g^2                     (S starts at initial_accumulator_value)
 *   theta <- theta - clr * g / (sqrt(S) + eps)
 *
 * A tensor marked TB_TENSOR_NO_DECAY gets weight_decay 0.
 */
enum { HP_LR, HP_LR_DECAY, HP_EPS, HP_INITIAL_ACCUMULATOR_VALUE, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = TBU_HP_REAL("lr", 1e-2, 0, 10, 1, "learning rate"),
    [HP_LR_DECAY] = TBU_HP_REAL("lr_decay", 0, 0, 1, 1,
                                "step t uses lr / (1 + (t - 1) * lr_decay)"),
    [HP_EPS] = TBU_HP_REAL("eps", 1e-10, 0, 1, 1,
                           "added to the root of the accumulated squared gradients"),
    [HP_INITIAL_ACCUMULATOR_VALUE] = TBU_HP_REAL("initial_accumulator_value", 0, 0, 10, 0,
                                                 "starting value of the squared-gradient sum"),
    [HP_WEIGHT_DECAY] = TBU_HP_REAL("weight_decay", 0, 0, 1, 1,
                                    "L2 penalty coefficient added to the gradient"),
};

/* One allocation (TBU_OPT_ALLOC): this header, then the sum S of every
 * element. */
typedef struct adagrad_state {
  double lr, lr_decay, eps, weight_decay;
  int64_t t; /* steps taken by this instance (PyTorch's state step) */
  tbu_slots slots;
} adagrad_state;

static int adagrad_create(const tb_optimizer_init *init, void **state, char *err,
                          size_t errlen) {
  const double *hp = init->hp;
  adagrad_state *s = TBU_OPT_ALLOC(adagrad_state, slots, init, 1, err, errlen);
  if (!s) return 1;
  s->lr = hp[HP_LR];
  s->lr_decay = hp[HP_LR_DECAY];
  s->eps = hp[HP_EPS];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  const float s0 = (float)hp[HP_INITIAL_ACCUMULATOR_VALUE];
  for (int64_t j = 0; j < s->slots.total; j++) s->slots.data[j] = s0;
  *state = s;
  return 0;
}

enum { DECAY = 1u };

/* One tensor's update, p, g, sum [n]; `mode` is a constant at each call
 * (TBU_SPECIALIZE1), so the loop is branch-free. */
TBU_INLINE void adagrad_tensor(float *TBU_RESTRICT p, const float *TBU_RESTRICT g,
                               float *TBU_RESTRICT sum, int64_t n, float neg_clr, float eps,
                               float wd, unsigned mode) {
  for (int64_t j = 0; j < n; j++) {
    float gj = g[j];
    if (mode & DECAY) gj = gj + wd * p[j];
    const float sj = sum[j] + gj * gj;
    sum[j] = sj;
    const float r = sqrtf(sj) + eps;
    p[j] = p[j] + neg_clr * gj / r;
  }
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
TBU_VECTOR_CLONES
static int adagrad_step(void *state, tb_tensor *params, const tb_tensor *grads,
                        const tb_step_ctx *ctx) {
  adagrad_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  s->t++;
  const double clr = s->lr * ctx->lr_factor / (1.0 + (double)(s->t - 1) * s->lr_decay);
  const float neg_clr = (float)-clr, eps = (float)s->eps;
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    const double wd = tbu_weight_decay(s->weight_decay, t.t);
    float *sum = tbu_slot(&s->slots, 0, i);
#define RUN(md) adagrad_tensor(t.p, t.g, sum, t.n, neg_clr, eps, (float)wd, md)
    TBU_SPECIALIZE1(wd != 0 ? DECAY : 0u, RUN);
#undef RUN
  }
  return 0;
}

static const tb_optimizer_def adagrad_def = {
    TB_DEF_SIZES(tb_optimizer_def),
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
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def *const optimizers[] = {&adagrad_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
