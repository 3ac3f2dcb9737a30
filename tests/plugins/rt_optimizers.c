/*
 * rt_optimizers.c — test-only optimizers that use the run-time parts of
 * ABI 2.0 correctly, for the end-to-end tests (tests/e2e/test_runtime.sh),
 * the allocation counter and `trainbench check` (which they must pass):
 *
 *   rt_avg_sgd     plain SGD that keeps the running mean of its iterates
 *                  (Polyak-Ruppert averaging) and shows evaluation passes,
 *                  through eval_params, the live parameters (eval = live),
 *                  the average (average) or the initial ones (initial);
 *                  reports the gradient's norm
 *   rt_esgd_probe  plain SGD with the step's own gradient that, before the
 *                  step (draw = true), draws two fresh batches with
 *                  next_batch and evaluates the loss and gradient on each
 *                  through eval, as Entropy-SGD's inner loop does, failing
 *                  the step if a fresh batch is the step's own (gradients
 *                  below 1e6); reports the fresh batches' loss
 *
 * Both step theta <- theta - lr_t g with lr_t = lr * lr_factor in float, so
 * their trajectories do not depend on eval, draw or what they report.
 * (Polyak & Juditsky, "Acceleration of Stochastic Approximation by
 * Averaging", 1992; Chaudhari et al., "Entropy-SGD: Biasing Gradient Descent
 * Into Wide Valleys", 2017.) Never installed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

static const char *const eval_choices[] = {"live", "average", "initial", NULL};

static const tb_hparam avg_hp[] = {
    TBU_HP_REAL("lr", 0.05, 0, 10, 1, "step size"),
    TBU_HP_CHOICE("eval", 1, eval_choices, "what evaluation passes see: live, average, initial"),
};

typedef struct avg_state {
  double lr;
  int eval;       /* 0 live, 1 average, 2 initial */
  int64_t t;      /* steps done */
  tbu_slots slots; /* 0: the running average, 1: the initial values */
} avg_state;

static int avg_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  avg_state *s = TBU_OPT_ALLOC(avg_state, slots, init, 2, err, errlen);
  if (!s) return 1;
  s->lr = init->hp[0];
  s->eval = (int)init->hp[1];
  for (int i = 0; i < init->n_params; i++) {
    const tb_tensor *p = TB_CTENSOR_AT(init->params, init->tensor_size, i);
    memcpy(tbu_slot(&s->slots, 0, i), p->data, sizeof(float) * (size_t)p->numel);
    memcpy(tbu_slot(&s->slots, 1, i), p->data, sizeof(float) * (size_t)p->numel);
  }
  *state = s;
  return 0;
}

static int avg_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  avg_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
  const float a = (float)(s->lr * ctx->lr_factor);
  s->t++;
  const float w = (float)(1.0 / (double)(s->t + 1)); /* the initial point counts as iterate 0 */
  double gg = 0;
  for (int i = 0; i < ctx->n_params; i++) {
    tbu_view v = tbu_view_at(params, grads, ctx, i);
    float *m = tbu_slot(&s->slots, 0, i);
    for (int64_t j = 0; j < v.n; j++) {
      gg += (double)v.g[j] * v.g[j];
      v.p[j] -= a * v.g[j];
      m[j] += w * (v.p[j] - m[j]);
    }
  }
  return ctx->report(ctx->host_ctx, "rt_avg_sgd.grad_norm", sqrt(gg));
}

static const float *avg_eval_params(void *state, int i) {
  avg_state *s = state;
  return s->eval == 0 ? NULL : tbu_slot(&s->slots, s->eval == 1 ? 0 : 1, i);
}

static const tb_optimizer_def avg_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "rt_avg_sgd",
    .version = "1",
    .summary = "SGD whose evaluation passes see the average of its iterates (eval_params)",
    .reference = "Polyak & Juditsky, \"Acceleration of Stochastic Approximation by Averaging\", "
                 "1992",
    .services = TB_SERVICE_REPORT,
    .hparams = avg_hp,
    .n_hparams = 2,
    .create = avg_create,
    .step = avg_step,
    .destroy = free,
    .eval_params = avg_eval_params,
};

/* ---- rt_esgd_probe ------------------------------------------------------------ */

static const tb_hparam esgd_hp[] = {
    TBU_HP_REAL("lr", 0.05, 0, 10, 1, "step size"),
    TBU_HP_BOOL("draw", 1, "draw two fresh batches per step and evaluate on them"),
};

typedef struct esgd_state {
  double lr;
  int draw;
  tbu_slots slots; /* 0: the fresh batch's gradient */
} esgd_state;

static int esgd_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  esgd_state *s = TBU_OPT_ALLOC(esgd_state, slots, init, 1, err, errlen);
  if (!s) return 1;
  s->lr = init->hp[0];
  s->draw = init->hp[1] != 0;
  *state = s;
  return 0;
}

#define MAXT 64

static int esgd_step(void *state, tb_tensor *params, const tb_tensor *grads,
                     const tb_step_ctx *ctx) {
  esgd_state *s = state;
  if (tbu_step_check(&s->slots, params, grads, ctx) || ctx->n_params > MAXT) return 1;
  if (s->draw) {
    float *G[MAXT];
    for (int i = 0; i < ctx->n_params; i++) G[i] = tbu_slot(&s->slots, 0, i);
    double fresh[2];
    for (int d = 0; d < 2; d++) {
      if (ctx->next_batch(ctx->host_ctx)) return 2;
      fresh[d] = ctx->eval(ctx->host_ctx, NULL, G);
      if (!isfinite(fresh[d])) return 3;
    }
    /* the last fresh gradient vs the step's own: another batch, another
     * gradient (where float32 can show it: not under `check`'s +-1e30) */
    int same = 1, huge = 0;
    for (int i = 0; i < ctx->n_params && same; i++) {
      tbu_view v = tbu_view_at(params, grads, ctx, i);
      same = memcmp(G[i], v.g, sizeof(float) * (size_t)v.n) == 0;
      for (int64_t j = 0; j < v.n; j++) huge |= !(fabsf(v.g[j]) < 1e6f);
    }
    if (!huge && (same || fresh[0] == fresh[1] || fresh[1] == ctx->loss)) {
      fprintf(stderr, "rt_esgd_probe: next_batch gave the step's own batch again\n");
      return 4;
    }
    if (ctx->report(ctx->host_ctx, "rt_esgd.fresh_loss", fresh[1])) return 5;
  }
  const float a = (float)(s->lr * ctx->lr_factor);
  for (int i = 0; i < ctx->n_params; i++) {
    tbu_view v = tbu_view_at(params, grads, ctx, i);
    for (int64_t j = 0; j < v.n; j++) v.p[j] -= a * v.g[j];
  }
  return 0;
}

static const tb_optimizer_def esgd_def = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "rt_esgd_probe",
    .version = "1",
    .summary = "SGD that draws fresh batches with next_batch and evaluates on them",
    .reference = "Chaudhari et al., \"Entropy-SGD: Biasing Gradient Descent Into Wide Valleys\", "
                 "2017 (its inner loop's use of fresh batches only)",
    .services = TB_SERVICE_NEXT_BATCH | TB_SERVICE_EVAL | TB_SERVICE_REPORT,
    .hparams = esgd_hp,
    .n_hparams = 2,
    .create = esgd_create,
    .step = esgd_step,
    .destroy = free,
};

static const tb_optimizer_def *const optimizers[] = {&avg_def, &esgd_def, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
