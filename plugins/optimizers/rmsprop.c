/*
 * rmsprop.c — RMSprop with optional momentum, centering and L2 weight decay,
 * step for step as PyTorch 1.13's torch.optim.RMSprop (float32 state and
 * arithmetic).
 *
 * Provides the optimizer "rmsprop" through tb_plugin_entry.
 */
#include <math.h>
#include <stdint.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Hinton, Srivastava & Swersky, "Neural Networks for Machine Learning",
 * lecture 6e (2012); the centered form from Graves, "Generating Sequences
 * With Recurrent Neural Networks" (2013). With lr_t = lr * schedule factor:
 *
 *   g <- g + weight_decay * theta                    (if weight_decay != 0)
 *   v <- alpha * v + (1 - alpha) * g^2
 *   a <- alpha * a + (1 - alpha) * g;  s = sqrt(v - a^2) + eps   (centered)
 *                                      s = sqrt(v) + eps         (otherwise)
 *   b <- momentum * b + g / s;  theta <- theta - lr_t * b   (if momentum > 0)
 *   theta <- theta - lr_t * g / s                           (otherwise)
 *
 * v, a and b start at zero; eps is added after the square root, as PyTorch
 * does. A tensor marked TB_TENSOR_NO_DECAY gets weight_decay 0.
 */
enum { HP_LR, HP_ALPHA, HP_EPS, HP_MOMENTUM, HP_CENTERED, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = TBU_HP_REAL("lr", 1e-2, 0, 10, 1, "learning rate"),
    [HP_ALPHA] = TBU_HP_REAL("alpha", 0.99, 0, 1, 0, "decay rate of the squared-gradient average"),
    [HP_EPS] = TBU_HP_REAL("eps", 1e-8, 0, 1, 1,
                           "added to the root of the squared-gradient average"),
    [HP_MOMENTUM] = TBU_HP_REAL("momentum", 0, 0, 1, 0,
                                "momentum factor of the buffer of normalized steps; 0 disables it"),
    [HP_CENTERED] = TBU_HP_BOOL("centered", 0,
                                "normalize by an estimate of the gradient's variance instead"),
    [HP_WEIGHT_DECAY] = TBU_HP_REAL("weight_decay", 0, 0, 1, 1,
                                    "L2 penalty coefficient added to the gradient"),
};

/* One allocation (TBU_OPT_ALLOC): this header, then the slots v and, when
 * used, a (centered) and b (momentum) of every element. */
typedef struct rmsprop_state {
  double lr, alpha, eps, momentum, weight_decay;
  int slot_a, slot_b; /* slot of a and of b, or -1 */
  tbu_slots slots;
} rmsprop_state;

static int rmsprop_create(const tb_optimizer_init *init, void **state, char *err,
                          size_t errlen) {
  const double *hp = init->hp;
  const int centered = hp[HP_CENTERED] != 0, use_buf = hp[HP_MOMENTUM] > 0;
  rmsprop_state *s =
      TBU_OPT_ALLOC(rmsprop_state, slots, init, 1 + centered + use_buf, err, errlen);
  if (!s) return 1;
  s->lr = hp[HP_LR];
  s->alpha = hp[HP_ALPHA];
  s->eps = hp[HP_EPS];
  s->momentum = hp[HP_MOMENTUM];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->slot_a = centered ? 1 : -1;
  s->slot_b = use_buf ? 1 + centered : -1;
  *state = s;
  return 0;
}

enum { DECAY = 1u, CENTERED = 2u, MOMENTUM = 4u };

/* One tensor's update, p, g, v, a, b [n]; `mode` is a constant at each call
 * (TBU_SPECIALIZE3), so every loop below is branch-free. */
TBU_INLINE void rmsprop_tensor(float *TBU_RESTRICT p, const float *TBU_RESTRICT g,
                               float *TBU_RESTRICT v, float *TBU_RESTRICT a,
                               float *TBU_RESTRICT b, int64_t n, float neg_lr, float al,
                               float c, float eps, float mu, float wd, unsigned mode) {
  for (int64_t j = 0; j < n; j++) {
    float gj = g[j];
    if (mode & DECAY) gj = gj + wd * p[j];
    const float vj = v[j] * al + c * gj * gj;
    v[j] = vj;
    float r;
    if (mode & CENTERED) {
      const float aj = a[j] * al + c * gj;
      a[j] = aj;
      r = sqrtf(vj - aj * aj);
    } else {
      r = sqrtf(vj);
    }
    r = r + eps;
    if (mode & MOMENTUM) {
      const float bj = b[j] * mu + gj / r;
      b[j] = bj;
      p[j] = p[j] + neg_lr * bj;
    } else {
      p[j] = p[j] + neg_lr * gj / r;
    }
  }
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
TBU_VECTOR_CLONES
static int rmsprop_step(void *state, tb_tensor *params, const tb_tensor *grads,
                        const tb_step_ctx *ctx) {
  rmsprop_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  const float neg_lr = (float)-(s->lr * ctx->lr_factor);
  const float al = (float)s->alpha, c = (float)(1.0 - s->alpha);
  const float eps = (float)s->eps, mu = (float)s->momentum;
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    const double wd = tbu_weight_decay(s->weight_decay, t.t);
    const unsigned mode = (wd != 0 ? DECAY : 0u) | (s->slot_a >= 0 ? CENTERED : 0u) |
                          (s->slot_b >= 0 ? MOMENTUM : 0u);
    float *v = tbu_slot(&s->slots, 0, i);
    float *a = s->slot_a >= 0 ? tbu_slot(&s->slots, s->slot_a, i) : NULL;
    float *b = s->slot_b >= 0 ? tbu_slot(&s->slots, s->slot_b, i) : NULL;
#define RUN(md) rmsprop_tensor(t.p, t.g, v, a, b, t.n, neg_lr, al, c, eps, mu, (float)wd, md)
    TBU_SPECIALIZE3(mode, RUN);
#undef RUN
  }
  return 0;
}

static const tb_optimizer_def rmsprop_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "rmsprop",
    .version = "1",
    .summary = "RMSprop with optional momentum, centering and L2 weight decay (PyTorch "
               "semantics)",
    .reference = "Hinton, Neural Networks for Machine Learning, lecture 6e (2012); centered: "
                 "Graves, Generating Sequences With Recurrent Neural Networks (2013)",
    .services = 0,
    .hparams = hparams,
    .n_hparams = N_HP,
    .validate = NULL,
    .create = rmsprop_create,
    .step = rmsprop_step,
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def *const optimizers[] = {&rmsprop_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
