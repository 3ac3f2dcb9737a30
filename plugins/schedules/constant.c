/* constant.c — the constant schedule: the optimizer's `lr` as it is, after
 * an optional linear warmup.
 *
 *   W = warmup * S                 (S steps per epoch; fractions of an epoch allowed)
 *   factor(t) = (t + 1) / W        for t < W   (t = steps done before this one)
 *   factor(t) = 1                  otherwise
 *
 * Warmup: Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in
 * 1 Hour", 2017. Version 1 reproduces, bit for bit, the constant schedule
 * the engine computed itself before schedules were plugins.
 */
#include <float.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

enum { WARMUP, N_HP };

static const tb_hparam hparams[N_HP] = {
    [WARMUP] = TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0,
                            "epochs of linear warmup (fractions allowed)"),
};

static int create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  return (*state = tbu_hp_state(init->hp, N_HP, err, errlen)) ? 0 : 1;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  const double *hp = state;
  return tbu_warmup(1.0, ctx, hp[WARMUP]);
}

static const tb_schedule_def constant = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "constant", .version = "1",
    .summary = "the optimizer's lr unchanged, after an optional linear warmup",
    .reference = "warmup: Goyal et al., Accurate, Large Minibatch SGD, 2017",
    .hparams = hparams, .n_hparams = N_HP,
    .create = create, .factor = factor, .destroy = free,
};
static const tb_schedule_def *const schedules[] = {&constant, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
