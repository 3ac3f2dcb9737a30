/* cosine.c — cosine annealing: half a cosine from 1 to `min_factor` over
 * the steps after an optional linear warmup (one cycle, no restart).
 *
 *   W = warmup * S, T = steps of the run   (S steps per epoch)
 *   p(t) = clamp((t - W) / (T - W), 0, 1)  (1 when T <= W)
 *   factor(t) = (m + (1 - m) (1 + cos(pi p(t))) / 2) * w(t),
 *   w(t) = (t + 1) / W for t < W, else 1   (t = steps done before this one)
 *
 * Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
 * Restarts", 2017; warmup: Goyal et al., 2017. Version 1 reproduces, bit for
 * bit, the cosine schedule the engine computed itself before schedules were
 * plugins (the quickstart's numbers do not move).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { MIN_FACTOR, WARMUP, N_HP };

static const tb_hparam hparams[N_HP] = {
    [MIN_FACTOR] = TBU_HP_REAL("min_factor", 0, 0, 1, 0, "the factor at the end of the run"),
    [WARMUP] = TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0,
                            "epochs of linear warmup (fractions allowed)"),
};

static int create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  return (*state = tbu_hp_state(init->hp, N_HP, err, errlen)) ? 0 : 1;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  const double *hp = state;
  const double prog = tbu_sched_progress(ctx, hp[WARMUP] * (double)ctx->steps_per_epoch);
  return tbu_warmup(hp[MIN_FACTOR] + (1.0 - hp[MIN_FACTOR]) * 0.5 * (1.0 + cos(M_PI * prog)), ctx,
                    hp[WARMUP]);
}

static const tb_schedule_def cosine = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "cosine", .version = "1",
    .summary = "half a cosine from 1 to min_factor after an optional linear warmup",
    .reference = "Loshchilov & Hutter, SGDR: Stochastic Gradient Descent with Warm Restarts, 2017",
    .hparams = hparams, .n_hparams = N_HP,
    .create = create, .factor = factor, .destroy = free,
};
static const tb_schedule_def *const schedules[] = {&cosine, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
