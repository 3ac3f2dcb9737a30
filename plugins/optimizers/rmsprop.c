/*
 * rmsprop.c — RMSprop with optional momentum, centering and L2 weight decay,
 * step for step as PyTorch 1.13's torch.optim.RMSprop (float32 state and
 * arithmetic).
 *
 * Provides the optimizer "rmsprop" through tb_plugin_entry.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"

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
 * v, a and b start at zero; eps is added after the square root, as PyTorch does.
 */
enum { HP_LR, HP_ALPHA, HP_EPS, HP_MOMENTUM, HP_CENTERED, HP_WEIGHT_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_LR] = {"lr", TB_HP_REAL, 1e-2, 0, 10, 1, NULL, "learning rate"},
    [HP_ALPHA] = {"alpha", TB_HP_REAL, 0.99, 0, 1, 0, NULL,
                  "decay rate of the squared-gradient average"},
    [HP_EPS] = {"eps", TB_HP_REAL, 1e-8, 0, 1, 1, NULL,
                "added to the root of the squared-gradient average"},
    [HP_MOMENTUM] = {"momentum", TB_HP_REAL, 0, 0, 1, 0, NULL,
                     "momentum factor of the buffer of normalized steps; 0 disables it"},
    [HP_CENTERED] = {"centered", TB_HP_BOOL, 0, 0, 1, 0, NULL,
                     "normalize by an estimate of the gradient's variance instead"},
    [HP_WEIGHT_DECAY] = {"weight_decay", TB_HP_REAL, 0, 0, 1, 1, NULL,
                         "L2 penalty coefficient added to the gradient"},
};

/* One allocation: this header, numel[n_params], then v and, when used, a
 * (centered) and b (momentum), each covering every tensor back to back. */
typedef struct rmsprop_state {
  double lr, alpha, eps, momentum, weight_decay;
  int n_params;
  int64_t *numel;  /* [n_params] */
  float *v;        /* [sum numel] */
  float *a;        /* [sum numel] or NULL */
  float *b;        /* [sum numel] or NULL */
} rmsprop_state;

static int rmsprop_create(const tb_optimizer_init *init, void **state, char *err,
                          size_t errlen) {
  const double *hp = init->hp;
  int centered = hp[HP_CENTERED] != 0, use_buf = hp[HP_MOMENTUM] > 0;
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
  size_t n_buf = 1 + (size_t)centered + (size_t)use_buf;
  size_t bytes = sizeof(rmsprop_state) + (size_t)init->n_params * sizeof(int64_t) +
                 n_buf * (size_t)total * sizeof(float);
  rmsprop_state *s = calloc(1, bytes);
  if (!s) {
    snprintf(err, errlen, "out of memory for the running averages (%zu x %lld floats)", n_buf,
             (long long)total);
    return 1;
  }
  s->lr = hp[HP_LR];
  s->alpha = hp[HP_ALPHA];
  s->eps = hp[HP_EPS];
  s->momentum = hp[HP_MOMENTUM];
  s->weight_decay = hp[HP_WEIGHT_DECAY];
  s->n_params = init->n_params;
  s->numel = (int64_t *)(s + 1);
  for (int i = 0; i < init->n_params; i++) s->numel[i] = init->params[i].numel;
  float *next = (float *)(s->numel + init->n_params);
  s->v = next;
  next += total;
  if (centered) {
    s->a = next;
    next += total;
  }
  if (use_buf) s->b = next;
  *state = s;
  return 0;
}

/* Arithmetic follows PyTorch's single-tensor path in float32, scalars
 * rounded to float where PyTorch rounds them, so trajectories agree to a few
 * ulps. */
static int rmsprop_step(void *state, tb_tensor *params, const tb_tensor *grads,
                        const tb_step_ctx *ctx) {
  rmsprop_state *s = state;
  for (int i = 0; i < s->n_params; i++)
    if (params[i].numel != s->numel[i] || grads[i].numel != s->numel[i]) return 1;
  const float neg_lr = (float)-(s->lr * ctx->lr_factor);
  const float al = (float)s->alpha, c = (float)(1.0 - s->alpha);
  const float eps = (float)s->eps, mu = (float)s->momentum, wd = (float)s->weight_decay;
  const int decay = s->weight_decay != 0;
  float *v = s->v, *a = s->a, *b = s->b;
  for (int i = 0; i < s->n_params; i++) {
    float *p = params[i].data;
    const float *g = grads[i].data;
    for (int64_t j = 0; j < s->numel[i]; j++) {
      float gj = g[j];
      if (decay) gj = gj + wd * p[j];
      v[j] = v[j] * al + c * gj * gj;
      float r;
      if (a) {
        a[j] = a[j] * al + c * gj;
        r = sqrtf(v[j] - a[j] * a[j]);
      } else {
        r = sqrtf(v[j]);
      }
      r = r + eps;
      if (b) {
        b[j] = b[j] * mu + gj / r;
        p[j] = p[j] + neg_lr * b[j];
      } else {
        p[j] = p[j] + neg_lr * gj / r;
      }
    }
    v += s->numel[i];
    if (a) a += s->numel[i];
    if (b) b += s->numel[i];
  }
  return 0;
}

static void rmsprop_destroy(void *state) { free(state); }

static const tb_optimizer_def rmsprop_def = {
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
    .destroy = rmsprop_destroy,
};

static const tb_optimizer_def *const optimizers[] = {&rmsprop_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, NULL, optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
