/*
 * ema.c — an exponential moving average of the weights over the steps of any
 * base optimizer; evaluation passes see the average, training goes on with
 * the base's weights.
 *
 * Provides the optimizer "ema" through tb_plugin_entry.
 */
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Averaging the iterates: Polyak & Juditsky, "Acceleration of Stochastic
 * Approximation by Averaging" (1992); its exponential form as PyTorch's
 * torch.optim.swa_utils.AveragedModel with avg_fn = decay * avg + (1 -
 * decay) * param (see also Izmailov et al., "Averaging Weights Leads to
 * Wider Optima and Better Generalization", 2018). After the base's step t:
 *
 *   avg_1 = theta_1,   avg_t = decay * avg_{t-1} + (1 - decay) * theta_t   (t > 1)
 *
 * in float32 with decay and 1 - decay rounded to float, as AveragedModel
 * computes it. Before the first step evaluation sees the weights
 * themselves. No learning rate of its own: the schedule's factor reaches the
 * base through the step context.
 */
enum { HP_BASE, HP_DECAY, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_BASE] = {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_OPTIMIZER,
                 .def_text = "adam", .help = "the optimizer whose iterates are averaged"},
    [HP_DECAY] = TBU_HP_REAL("decay", 0.999, 0, 1, 0,
                             "weight of the old average at each step (0: the last iterate)"),
};

static int ema_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  if (!(v[HP_DECAY].num < 1)) {
    snprintf(err, errlen, "'decay' must be < 1 (1 never moves the average)");
    return 1;
  }
  return 0;
}

typedef struct ema_state {
  float decay, keep; /* decay and 1 - decay, as floats */
  int64_t t;         /* steps taken */
  tbu_slots slots;   /* the average */
} ema_state;

static int ema_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  ema_state *s = TBU_OPT_ALLOC(ema_state, slots, init, 1, err, errlen);
  if (!s) return 1;
  s->decay = (float)init->hp[HP_DECAY];
  s->keep = (float)(1.0 - init->hp[HP_DECAY]);
  *state = s;
  return 0;
}

/* avg, p [n]: the first step copies, later ones average */
TBU_INLINE void ema_tensor(float *TBU_RESTRICT avg, const float *TBU_RESTRICT p, int64_t n,
                           float decay, float keep, int first) {
  if (first) {
    for (int64_t j = 0; j < n; j++) avg[j] = p[j];
    return;
  }
  for (int64_t j = 0; j < n; j++) avg[j] = decay * avg[j] + keep * p[j];
}

TBU_VECTOR_CLONES
static int ema_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  ema_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  int rc = ctx->step_base(ctx->host_ctx, HP_BASE, params, grads);
  if (rc) return rc;
  const int first = ++s->t == 1;
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    ema_tensor(tbu_slot(&s->slots, 0, i), t.p, t.n, s->decay, s->keep, first);
  }
  return 0;
}

/* the average once there is one; before, the weights themselves */
static const float *ema_eval_params(void *state, int i) {
  ema_state *s = state;
  return s->t > 0 && i < s->slots.n_params ? tbu_slot(&s->slots, 0, i) : NULL;
}

static const tb_optimizer_def ema_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "ema",
    .version = "1",
    .summary = "an exponential moving average of any base optimizer's weights, which "
               "evaluation sees",
    .reference = "Polyak & Juditsky, Acceleration of Stochastic Approximation by Averaging "
                 "(1992); exponential form as PyTorch's AveragedModel",
    .services = TB_SERVICE_BASE,
    .hparams = hparams,
    .n_hparams = N_HP,
    .validate = ema_validate,
    .create = ema_create,
    .step = ema_step,
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
    .eval_params = ema_eval_params,
};

static const tb_optimizer_def *const optimizers[] = {&ema_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
