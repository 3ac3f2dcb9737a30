/* step.c — step decay: the factor is multiplied by `gamma` every `every`
 * epochs, after an optional linear warmup.
 *
 *   E = every * S, W = warmup * S  (S steps per epoch; fractions allowed)
 *   factor(t) = gamma ^ floor(t / E) * w(t),   w(t) = (t + 1) / W for t < W, else 1
 *
 * (t = steps done before this one.) Step decay as in He et al., "Deep
 * Residual Learning for Image Recognition", 2016 (lr / 10 at fixed epochs);
 * warmup: Goyal et al., 2017. Version 1 reproduces, bit for bit, the step
 * schedule the engine computed itself before schedules were plugins.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

enum { EVERY, GAMMA, WARMUP, N_HP };

static const tb_hparam hparams[N_HP] = {
    /* required: `def` is only the example value probes and checks use */
    [EVERY] = {.name = "every", .type = TB_HP_REAL, .def = 1, .min = 0, .max = DBL_MAX,
               .flags = TB_HPF_REQUIRED, .help = "epochs between two decays (> 0)"},
    [GAMMA] = TBU_HP_REAL("gamma", 0.1, 0, DBL_MAX, 1, "factor of each decay (> 0)"),
    [WARMUP] = TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0,
                            "epochs of linear warmup (fractions allowed)"),
};

/* The ranges are closed; these two are open at 0 (a step every 0 epochs, a
 * factor of 0 are no schedule). */
static int validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  if (!(v[EVERY].num > 0)) {
    snprintf(err, errlen, "'every' must be > 0");
    return 1;
  }
  if (!(v[GAMMA].num > 0)) {
    snprintf(err, errlen, "'gamma' must be > 0");
    return 1;
  }
  return 0;
}

static int create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  return (*state = tbu_hp_state(init->hp, N_HP, err, errlen)) ? 0 : 1;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  const double *hp = state;
  const double S = (double)ctx->steps_per_epoch, t = (double)ctx->step;
  const double every = hp[EVERY] * S;
  return tbu_warmup(every > 0 ? pow(hp[GAMMA], floor(t / every)) : 1.0, ctx, hp[WARMUP]);
}

static const tb_schedule_def step = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "step", .version = "1",
    .summary = "multiply the lr by gamma every `every` epochs, after an optional warmup",
    .reference = "He et al., Deep Residual Learning for Image Recognition, 2016",
    .hparams = hparams, .n_hparams = N_HP, .validate = validate,
    .create = create, .factor = factor, .destroy = free,
};
static const tb_schedule_def *const schedules[] = {&step, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
