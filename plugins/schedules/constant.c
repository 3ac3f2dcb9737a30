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

static const tb_hparam hparams[] = {
    TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0,
                            "epochs of linear warmup (fractions allowed)"),
};

typedef struct {
  double warmup;
} constant_state;

static int create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  constant_state *s = malloc(sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->warmup = init->hp[0];
  *state = s;
  return 0;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  const constant_state *s = state;
  const double W = s->warmup * (double)ctx->steps_per_epoch, t = (double)ctx->step;
  double f = 1.0;
  if (W > 0 && t < W) f *= (t + 1.0) / W;
  return f;
}

static const tb_schedule_def constant = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "constant", .version = "1",
    .summary = "the optimizer's lr unchanged, after an optional linear warmup",
    .reference = "warmup: Goyal et al., Accurate, Large Minibatch SGD, 2017",
    .hparams = hparams, .n_hparams = 1,
    .create = create, .factor = factor, .destroy = free,
};
static const tb_schedule_def *const schedules[] = {&constant, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
