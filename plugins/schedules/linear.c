/* linear.c — linear decay: from 1 to `end_factor` in a straight line over
 * the steps after an optional linear warmup.
 *
 *   W = warmup * S, T = steps of the run   (S steps per epoch)
 *   p(t) = clamp((t - W) / (T - W), 0, 1)  (1 when T <= W)
 *   factor(t) = ((1 - p(t)) + e p(t)) * w(t),
 *   w(t) = (t + 1) / W for t < W, else 1   (t = steps done before this one)
 *
 * Written as (1 - p) + e p so that both ends are exact (1 at p = 0, e at
 * p = 1). Linear decay to zero: Defazio et al., "When, Why and How Much?
 * Adaptive Learning Rate Scheduling by Refinement", 2023; warmup: Goyal et
 * al., 2017.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

enum { END_FACTOR, WARMUP, N_HP };

static const tb_hparam hparams[N_HP] = {
    [END_FACTOR] = TBU_HP_REAL("end_factor", 0, 0, 1, 0, "the factor at the end of the run"),
    [WARMUP] = TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0,
                            "epochs of linear warmup (fractions allowed)"),
};

static int create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  return (*state = tbu_hp_state(init->hp, N_HP, err, errlen)) ? 0 : 1;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  const double *hp = state;
  const double prog = tbu_sched_progress(ctx, hp[WARMUP] * (double)ctx->steps_per_epoch);
  return tbu_warmup((1.0 - prog) + hp[END_FACTOR] * prog, ctx, hp[WARMUP]);
}

static const tb_schedule_def linear = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "linear", .version = "1",
    .summary = "a straight line from 1 to end_factor after an optional linear warmup",
    .reference = "Defazio et al., When, Why and How Much? Adaptive Learning Rate Scheduling "
                 "by Refinement, 2023",
    .hparams = hparams, .n_hparams = N_HP,
    .create = create, .factor = factor, .destroy = free,
};
static const tb_schedule_def *const schedules[] = {&linear, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
