/*
 * adam.c — Adam and AdamW, with the optional AMSGrad maximum, step for step as
 * PyTorch 1.13's torch.optim.Adam and torch.optim.AdamW (float32 state and
 * arithmetic, bias corrections in double). The two differ only in how the
 * weight decay enters, so one file provides both.
 *
 * Provides the optimizers "adam" and "adamw" through tb_plugin_entry.
 */
#include <math.h>
#include <stdint.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015); the
 * AMSGrad variant from Reddi, Kale & Kumar, "On the Convergence of Adam and
 * Beyond" (2018); AdamW from Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization" (2019). With lr_t = lr * schedule factor, step t = 1, 2, ...:
 *
 *   adam:  g <- g + weight_decay * theta                (coupled L2 penalty)
 *   adamw: theta <- theta * (1 - lr_t * weight_decay)   (decoupled decay, first)
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   v_max <- max(v_max, v); use v_max for v          (if amsgrad)
 *   theta <- theta - lr_t / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * eps is added after the bias-corrected square root, as PyTorch does; the
 * decoupled decay uses the scheduled lr_t, as PyTorch does when a scheduler
 * changes the group's lr. A tensor marked TB_TENSOR_NO_DECAY gets
 * weight_decay 0 (PyTorch: a parameter group without decay).
 */
enum { HP_LR, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY, HP_AMSGRAD, N_HP };

/* Betas must stay below 1 (the bias correction would divide by zero); the
 * inclusive range stops just short of it. */
#define BETA_MAX 0.999999999

/* adam and adamw share the table but for the default and meaning of
 * weight_decay. */
#define ADAM_HPARAMS(wd_def, wd_help)                                                          \
  {                                                                                            \
    [HP_LR] = TBU_HP_REAL("lr", 1e-3, 0, 10, 1, "learning rate"),                              \
    [HP_BETA1] = TBU_HP_REAL("beta1", 0.9, 0, BETA_MAX, 0,                                     \
                             "decay rate of the gradient average m (PyTorch betas[0]), "       \
                             "below 1"),                                                       \
    [HP_BETA2] = TBU_HP_REAL("beta2", 0.999, 0, BETA_MAX, 0,                                   \
                             "decay rate of the squared-gradient average v (PyTorch "          \
                             "betas[1]), below 1"),                                            \
    [HP_EPS] = TBU_HP_REAL("eps", 1e-8, 0, 1, 1,                                               \
                           "added to the bias-corrected sqrt(v) in the denominator"),          \
    [HP_WEIGHT_DECAY] = TBU_HP_REAL("weight_decay", wd_def, 0, 1, 1, wd_help),                 \
    [HP_AMSGRAD] = TBU_HP_BOOL("amsgrad", 0, "normalize by the running maximum of v (AMSGrad)"), \
  }

static const tb_hparam adam_hparams[N_HP] =
    ADAM_HPARAMS(0, "L2 penalty coefficient added to the gradient (coupled)");
static const tb_hparam adamw_hparams[N_HP] =
    ADAM_HPARAMS(1e-2, "decoupled decay: theta shrinks by lr * weight_decay each step");

/* One allocation (TBU_OPT_ALLOC): this header, then the slots m, v and (with
 * amsgrad) v_max of every element. */
typedef struct adam_state {
  double lr, beta1, beta2, eps, weight_decay;
  int amsgrad;
  int decoupled; /* adamw */
  int64_t t;     /* steps taken by this instance (PyTorch's state step) */
  tbu_slots slots;
} adam_state;

enum { SLOT_M, SLOT_V, SLOT_VMAX };

static int create(const tb_optimizer_init *init, int decoupled, void **state, char *err,
                  size_t errlen) {
  const double *hp = init->hp;
  const int amsgrad = hp[HP_AMSGRAD] != 0;
  adam_state *s = TBU_OPT_ALLOC(adam_state, slots, init, amsgrad ? 3 : 2, err, errlen);
  if (!s) return 1;
  s->lr = hp[HP_LR];
  s->beta1 = hp[HP_BETA1];
  s->beta2 = hp[HP_BETA2];
  s->eps = hp[HP_EPS];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->amsgrad = amsgrad;
  s->decoupled = decoupled;
  *state = s;
  return 0;
}

static int adam_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  return create(init, 0, state, err, errlen);
}

static int adamw_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  return create(init, 1, state, err, errlen);
}

/* The float32 constants of one step (and tensor: wd and shrink). */
typedef struct adam_consts {
  float neg_step, bc2_sqrt, b1, c1, b2, c2, eps, wd, shrink;
} adam_consts;

enum { DECOUPLED = 1u, COUPLED = 2u, AMSGRAD = 4u };

/* One tensor's update, p, g, m, v, vmax [n]; `mode` is a constant at each
 * call (TBU_SPECIALIZE3), so every loop below is branch-free. */
TBU_INLINE void adam_tensor(float *TBU_RESTRICT p, const float *TBU_RESTRICT g,
                            float *TBU_RESTRICT m, float *TBU_RESTRICT v,
                            float *TBU_RESTRICT vmax, int64_t n, const adam_consts *k,
                            unsigned mode) {
  const float neg_step = k->neg_step, bc2_sqrt = k->bc2_sqrt, b1 = k->b1, c1 = k->c1;
  const float b2 = k->b2, c2 = k->c2, eps = k->eps, wd = k->wd, shrink = k->shrink;
  for (int64_t j = 0; j < n; j++) {
    float gj = g[j], pj = p[j];
    if (mode & DECOUPLED) pj = pj * shrink;
    if (mode & COUPLED) gj = gj + wd * pj;
    const float mj = m[j] * b1 + c1 * gj;
    const float vj = v[j] * b2 + c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    float vd = vj;
    if (mode & AMSGRAD) {
      vd = vmax[j] >= vj ? vmax[j] : vj; /* a NaN in v propagates, as torch.maximum */
      vmax[j] = vd;
    }
    const float den = sqrtf(vd) / bc2_sqrt + eps;
    p[j] = pj + neg_step * mj / den;
  }
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
TBU_VECTOR_CLONES
static int adam_step(void *state, tb_tensor *params, const tb_tensor *grads,
                     const tb_step_ctx *ctx) {
  adam_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  s->t++;
  const double lr_t = s->lr * ctx->lr_factor;
  const double bc1 = 1.0 - pow(s->beta1, (double)s->t);
  const double bc2 = 1.0 - pow(s->beta2, (double)s->t);
  adam_consts k = {
      .neg_step = (float)-(lr_t / bc1),
      .bc2_sqrt = (float)sqrt(bc2),
      .b1 = (float)s->beta1,
      .c1 = (float)(1.0 - s->beta1),
      .b2 = (float)s->beta2,
      .c2 = (float)(1.0 - s->beta2),
      .eps = (float)s->eps,
  };
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    const double wd = tbu_weight_decay(s->weight_decay, t.t);
    k.wd = (float)wd;
    k.shrink = (float)(1.0 - lr_t * wd);
    const unsigned mode = (s->decoupled ? DECOUPLED : wd != 0 ? COUPLED : 0u) |
                          (s->amsgrad ? AMSGRAD : 0u);
    float *m = tbu_slot(&s->slots, SLOT_M, i), *v = tbu_slot(&s->slots, SLOT_V, i);
    float *vmax = s->amsgrad ? tbu_slot(&s->slots, SLOT_VMAX, i) : NULL;
#define RUN(md) adam_tensor(t.p, t.g, m, v, vmax, t.n, &k, md)
    TBU_SPECIALIZE3(mode, RUN);
#undef RUN
  }
  return 0;
}

static const tb_optimizer_def adam_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "adam",
    .version = "1",
    .summary = "Adam with coupled L2 weight decay and optional AMSGrad (PyTorch semantics)",
    .reference = "Kingma & Ba, Adam: A Method for Stochastic Optimization (2015); AMSGrad: "
                 "Reddi et al., On the Convergence of Adam and Beyond (2018)",
    .services = 0,
    .hparams = adam_hparams,
    .n_hparams = N_HP,
    .validate = NULL,
    .create = adam_create,
    .step = adam_step,
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def adamw_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "adamw",
    .version = "1",
    .summary = "Adam with decoupled weight decay and optional AMSGrad (PyTorch semantics)",
    .reference = "Loshchilov & Hutter, Decoupled Weight Decay Regularization (2019); Adam: "
                 "Kingma & Ba (2015); AMSGrad: Reddi et al., On the Convergence of Adam and "
                 "Beyond (2018)",
    .services = 0,
    .hparams = adamw_hparams,
    .n_hparams = N_HP,
    .validate = NULL,
    .create = adamw_create,
    .step = adam_step,
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def *const optimizers[] = {&adam_def, &adamw_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
