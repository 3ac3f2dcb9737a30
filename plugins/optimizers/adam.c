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
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"

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
 * changes the group's lr.
 */
enum { HP_LR, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY, HP_AMSGRAD, N_HP };

/* Betas must stay below 1 (the bias correction would divide by zero); the
 * inclusive range stops just short of it. */
#define BETA_MAX 0.999999999

static const tb_hparam adam_hparams[N_HP] = {
    [HP_LR] = {"lr", TB_HP_REAL, 1e-3, 0, 10, 1, NULL, "learning rate"},
    [HP_BETA1] = {"beta1", TB_HP_REAL, 0.9, 0, BETA_MAX, 0, NULL,
                  "decay rate of the gradient average m (PyTorch betas[0]), below 1"},
    [HP_BETA2] = {"beta2", TB_HP_REAL, 0.999, 0, BETA_MAX, 0, NULL,
                  "decay rate of the squared-gradient average v (PyTorch betas[1]), below 1"},
    [HP_EPS] = {"eps", TB_HP_REAL, 1e-8, 0, 1, 1, NULL,
                "added to the bias-corrected sqrt(v) in the denominator"},
    [HP_WEIGHT_DECAY] = {"weight_decay", TB_HP_REAL, 0, 0, 1, 1, NULL,
                         "L2 penalty coefficient added to the gradient (coupled)"},
    [HP_AMSGRAD] = {"amsgrad", TB_HP_BOOL, 0, 0, 1, 0, NULL,
                    "normalize by the running maximum of v (AMSGrad)"},
};

/* AdamW: the same table but for the default and meaning of weight_decay */
static const tb_hparam adamw_hparams[N_HP] = {
    [HP_LR] = {"lr", TB_HP_REAL, 1e-3, 0, 10, 1, NULL, "learning rate"},
    [HP_BETA1] = {"beta1", TB_HP_REAL, 0.9, 0, BETA_MAX, 0, NULL,
                  "decay rate of the gradient average m (PyTorch betas[0]), below 1"},
    [HP_BETA2] = {"beta2", TB_HP_REAL, 0.999, 0, BETA_MAX, 0, NULL,
                  "decay rate of the squared-gradient average v (PyTorch betas[1]), below 1"},
    [HP_EPS] = {"eps", TB_HP_REAL, 1e-8, 0, 1, 1, NULL,
                "added to the bias-corrected sqrt(v) in the denominator"},
    [HP_WEIGHT_DECAY] = {"weight_decay", TB_HP_REAL, 1e-2, 0, 1, 1, NULL,
                         "decoupled decay: theta shrinks by lr * weight_decay each step"},
    [HP_AMSGRAD] = {"amsgrad", TB_HP_BOOL, 0, 0, 1, 0, NULL,
                    "normalize by the running maximum of v (AMSGrad)"},
};

/* One allocation: this header, numel[n_params], then m, v and (with amsgrad)
 * v_max, each covering every tensor back to back. */
typedef struct adam_state {
  double lr, beta1, beta2, eps, weight_decay;
  int amsgrad;
  int decoupled;  /* adamw */
  int n_params;
  int64_t t;      /* steps taken by this instance (PyTorch's state step) */
  int64_t *numel; /* [n_params] */
  float *m, *v;   /* [sum numel] */
  float *vmax;    /* [sum numel] or NULL */
} adam_state;

static int create(const tb_optimizer_init *init, int decoupled, void **state, char *err,
                  size_t errlen) {
  const double *hp = init->hp;
  int amsgrad = hp[HP_AMSGRAD] != 0;
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
  size_t n_buf = amsgrad ? 3 : 2;
  size_t bytes = sizeof(adam_state) + (size_t)init->n_params * sizeof(int64_t) +
                 n_buf * (size_t)total * sizeof(float);
  adam_state *s = calloc(1, bytes);
  if (!s) {
    snprintf(err, errlen, "out of memory for the moment estimates (%zu x %lld floats)", n_buf,
             (long long)total);
    return 1;
  }
  s->lr = hp[HP_LR];
  s->beta1 = hp[HP_BETA1];
  s->beta2 = hp[HP_BETA2];
  s->eps = hp[HP_EPS];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->amsgrad = amsgrad;
  s->decoupled = decoupled;
  s->n_params = init->n_params;
  s->numel = (int64_t *)(s + 1);
  for (int i = 0; i < init->n_params; i++) s->numel[i] = init->params[i].numel;
  s->m = (float *)(s->numel + init->n_params);
  s->v = s->m + total;
  s->vmax = amsgrad ? s->v + total : NULL;
  *state = s;
  return 0;
}

static int adam_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  return create(init, 0, state, err, errlen);
}

static int adamw_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  return create(init, 1, state, err, errlen);
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
static int adam_step(void *state, tb_tensor *params, const tb_tensor *grads,
                     const tb_step_ctx *ctx) {
  adam_state *s = state;
  for (int i = 0; i < s->n_params; i++)
    if (params[i].numel != s->numel[i] || grads[i].numel != s->numel[i]) return 1;
  s->t++;
  const double bc1 = 1.0 - pow(s->beta1, (double)s->t);
  const double bc2 = 1.0 - pow(s->beta2, (double)s->t);
  const float neg_step = (float)-(s->lr * ctx->lr_factor / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  const float b1 = (float)s->beta1, c1 = (float)(1.0 - s->beta1);
  const float b2 = (float)s->beta2, c2 = (float)(1.0 - s->beta2);
  const float eps = (float)s->eps, wd = (float)s->weight_decay;
  const int coupled = !s->decoupled && s->weight_decay != 0;
  const float shrink = (float)(1.0 - s->lr * ctx->lr_factor * s->weight_decay);
  float *m = s->m, *v = s->v, *vmax = s->vmax;
  for (int i = 0; i < s->n_params; i++) {
    float *p = params[i].data;
    const float *g = grads[i].data;
    for (int64_t j = 0; j < s->numel[i]; j++) {
      float gj = g[j];
      if (s->decoupled) p[j] = p[j] * shrink;
      if (coupled) gj = gj + wd * p[j];
      m[j] = m[j] * b1 + c1 * gj;
      v[j] = v[j] * b2 + c2 * gj * gj;
      float vj = v[j];
      if (vmax) {
        if (!(vmax[j] >= vj)) vmax[j] = vj; /* a NaN in v propagates, as torch.maximum */
        vj = vmax[j];
      }
      float den = sqrtf(vj) / bc2_sqrt + eps;
      p[j] = p[j] + neg_step * m[j] / den;
    }
    m += s->numel[i];
    v += s->numel[i];
    if (vmax) vmax += s->numel[i];
  }
  return 0;
}

static void adam_destroy(void *state) { free(state); }

static const tb_optimizer_def adam_def = {
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
    .destroy = adam_destroy,
};

static const tb_optimizer_def adamw_def = {
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
    .destroy = adam_destroy,
};

static const tb_optimizer_def *const optimizers[] = {&adam_def, &adamw_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, NULL, optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
