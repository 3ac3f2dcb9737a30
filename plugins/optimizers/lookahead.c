/*
 * lookahead.c — the Lookahead wrapper: any base optimizer takes k fast steps,
 * then the slow weights move a fraction alpha towards the fast ones and the
 * fast weights restart from them.
 *
 * Provides the optimizer "lookahead" through tb_plugin_entry.
 */
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Zhang, Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1 step
 * back" (2019), Algorithm 1. With phi the slow weights (phi_0 = theta_0) and
 * theta the fast ones, each step is one step of the base on theta; after
 * every k-th:
 *
 *   phi   <- phi + alpha * (theta - phi)
 *   theta <- phi
 *
 * in float32. The base keeps its own state (Adam's moments are not reset,
 * as in the paper's experiments); the schedule's factor reaches it through
 * the step context, so lookahead has no learning rate of its own.
 * Evaluation sees the fast weights (at every k-th step they are the slow
 * ones), or the base's own eval_params if it has some.
 */
enum { HP_BASE, HP_K, HP_ALPHA, N_HP };

static const tb_hparam hparams[N_HP] = {
    [HP_BASE] = {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_OPTIMIZER,
                 .def_text = "adam", .help = "the optimizer that takes the fast steps"},
    [HP_K] = TBU_HP_INT("k", 5, 1, 1000, 0, "fast steps between two slow updates"),
    [HP_ALPHA] = TBU_HP_REAL("alpha", 0.5, 0, 1, 0,
                             "slow step size: the fraction of the way to the fast weights"),
};

static int lookahead_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  if (!(v[HP_ALPHA].num > 0)) {
    snprintf(err, errlen, "'alpha' must be > 0 (0 never moves the slow weights)");
    return 1;
  }
  return 0;
}

typedef struct lookahead_state {
  int k;
  float alpha;
  int64_t t; /* fast steps taken */
  tbu_slots slots; /* the slow weights */
} lookahead_state;

static int lookahead_create(const tb_optimizer_init *init, void **state, char *err,
                            size_t errlen) {
  lookahead_state *s = TBU_OPT_ALLOC(lookahead_state, slots, init, 1, err, errlen);
  if (!s) return 1;
  s->k = (int)init->hp[HP_K];
  s->alpha = (float)init->hp[HP_ALPHA];
  for (int i = 0; i < s->slots.n_params; i++) {
    const tb_tensor *p = TB_CTENSOR_AT(init->params, init->tensor_size, i);
    float *slow = tbu_slot(&s->slots, 0, i);
    for (int64_t j = 0; j < p->numel; j++) slow[j] = p->data[j];
  }
  *state = s;
  return 0;
}

/* slow, fast [n]: the slow step, then the fast weights restart from it */
TBU_INLINE void sync_tensor(float *TBU_RESTRICT slow, float *TBU_RESTRICT fast, int64_t n,
                            float alpha) {
  for (int64_t j = 0; j < n; j++) {
    slow[j] = slow[j] + alpha * (fast[j] - slow[j]);
    fast[j] = slow[j];
  }
}

TBU_VECTOR_CLONES
static int lookahead_step(void *state, tb_tensor *params, const tb_tensor *grads,
                          const tb_step_ctx *ctx) {
  lookahead_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  int rc = ctx->step_base(ctx->host_ctx, HP_BASE, params, grads);
  if (rc) return rc;
  if (++s->t % s->k != 0) return 0;
  for (int i = 0; i < s->slots.n_params; i++) {
    const tbu_view t = tbu_view_at(params, grads, ctx, i);
    sync_tensor(tbu_slot(&s->slots, 0, i), t.p, t.n, s->alpha);
  }
  return 0;
}

static const tb_optimizer_def lookahead_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "lookahead",
    .version = "1",
    .summary = "Lookahead: k fast steps of any base optimizer, then one slow step back",
    .reference = "Zhang, Lucas, Hinton & Ba, Lookahead Optimizer: k steps forward, 1 step "
                 "back (2019)",
    .services = TB_SERVICE_BASE,
    .hparams = hparams,
    .n_hparams = N_HP,
    .validate = lookahead_validate,
    .create = lookahead_create,
    .step = lookahead_step,
    .destroy = free, /* one allocation (TBU_OPT_ALLOC) */
};

static const tb_optimizer_def *const optimizers[] = {&lookahead_def, NULL};

static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
