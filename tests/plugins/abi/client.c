/*
 * client.c — a plugin built against the frozen copy of the 2.0 header
 * (tests/plugins/abi/frozen-2.0), never against core/include: one loss (row
 * form), one optimizer and one schedule with a hyperparameter each. The
 * ABI-growth test loads it into a loader compiled against a hypothetical next-minor
 * header whose structs have one more trailing field (grow_header.py).
 * Never installed.
 */
#include <stdlib.h>

#include "trainbench/plugin.h"

static const tb_hparam loss_hp[] = {
    {.name = "weight", .type = TB_HP_REAL, .def = 2, .min = 0, .max = 10, .help = "scale"}};

/* squared error against one-hot labels, times `weight` */
static double row(void *state, const tb_loss_row *r) {
  const double w = *(const double *)state;
  double v = 0;
  for (int j = 0; j < r->k; j++) {
    const double d = r->z[j] - (j == r->y);
    v += w * d * d;
    if (r->dz) r->dz[j] = r->grad_scale * 2 * w * d;
  }
  return v;
}

static int loss_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  (void)err, (void)errlen;
  double *w = malloc(sizeof *w);
  if (!w) return 1;
  *w = init->hp[0];
  *state = w;
  return 0;
}

static const tb_loss_def loss = {
    TB_DEF_SIZES(tb_loss_def), .name = "client_loss", .version = "1",
    .summary = "weighted squared error (ABI-growth test)", .reference = "none (test)",
    .hparams = loss_hp, .n_hparams = 1, .create = loss_create, .row = row, .destroy = free};

static const tb_hparam opt_hp[] = {
    {.name = "lr", .type = TB_HP_REAL, .def = 0.5, .min = 0, .max = 1, .help = "step"}};

/* theta <- theta - lr * g on every tensor, reached with the host's stride */
static int step(void *state, tb_tensor *params, const tb_tensor *grads, const tb_step_ctx *ctx) {
  const double lr = *(const double *)state * ctx->lr_factor;
  for (int i = 0; i < ctx->n_params; i++) {
    tb_tensor *p = TB_TENSOR_AT(params, ctx->tensor_size, i);
    const tb_tensor *g = TB_CTENSOR_AT(grads, ctx->tensor_size, i);
    for (int64_t j = 0; j < p->numel; j++) p->data[j] -= (float)lr * g->data[j];
  }
  return 0;
}

static int opt_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  (void)err, (void)errlen;
  double *lr = malloc(sizeof *lr);
  if (!lr) return 1;
  *lr = init->hp[0];
  *state = lr;
  return 0;
}

static const tb_optimizer_def opt = {
    TB_DEF_SIZES(tb_optimizer_def), .name = "client_opt", .version = "1",
    .summary = "gradient descent (ABI-growth test)", .reference = "none (test)",
    .hparams = opt_hp, .n_hparams = 1, .create = opt_create, .step = step, .destroy = free};

static const tb_hparam sched_hp[] = {
    {.name = "factor", .type = TB_HP_REAL, .def = 0.25, .min = 0, .max = 1, .help = "constant"}};

static int sched_create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  (void)err, (void)errlen;
  double *f = malloc(sizeof *f);
  if (!f) return 1;
  *f = init->hp[0];
  *state = f;
  return 0;
}

static double factor(void *state, const tb_schedule_ctx *ctx) {
  (void)ctx;
  return *(const double *)state;
}

static const tb_schedule_def sched = {
    TB_DEF_SIZES(tb_schedule_def), .name = "client_sched", .version = "1",
    .summary = "a constant factor (ABI-growth test)", .reference = "none (test)",
    .hparams = sched_hp, .n_hparams = 1, .create = sched_create, .factor = factor,
    .destroy = free};

static const tb_loss_def *const losses[] = {&loss, NULL};
static const tb_optimizer_def *const optimizers[] = {&opt, NULL};
static const tb_schedule_def *const schedules[] = {&sched, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers,
                                 .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
