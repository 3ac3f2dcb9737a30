/*
 * rt_misuse.c — test-only components that misuse the run-time services of
 * ABI 2.x, each in one way a run must refuse with a message naming it
 * (tests/e2e/test_runtime.sh). Otherwise softmax cross-entropy (Bridle,
 * 1990: loss_i = logsumexp(z_i) - z_iy, gradient (p - e_y)/N) and plain SGD:
 *
 *   loss rt_report_eval        reports in every call, evaluation passes included
 *   loss rt_report_undeclared  reports without declaring TB_SERVICE_REPORT
 *   loss rt_report_badname     reports a series named "Bad-Name"
 *   loss rt_tensor_bad         add_tensor with a shape entry of 0
 *   loss rt_tensor_late        add_tensor from its first training call
 *   loss rt_scale_nan          reads a cosine head (cross-entropy of 4 cos theta)
 *                              and reports the scale NaN from its second epoch
 *   optimizer rt_next_undeclared  next_batch without declaring TB_SERVICE_NEXT_BATCH
 *   optimizer rt_report_clash     reports "rt_dual_cap.lambda", a series the loss
 *                                 rt_dual_cap reports
 *   optimizer rt_report_many      reports 17 series names (a run keeps 16)
 *
 * Never installed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

enum { REPORT_EVAL = 1, REPORT_UNDECLARED, REPORT_BADNAME, TENSOR_BAD, TENSOR_LATE, SCALE_NAN };

#define SCALE 4.0 /* rt_scale_nan: the cosine head's scale, while it answers one */

typedef struct ce_state {
  int mode;
  const tb_host_api *host;
  int k;
  double *p; /* [K] */
  int (*add_tensor)(void *, const char *, int, const int64_t *, double, uint32_t);
  void *host_ctx;
} ce_state;

static int ce_create(const tb_loss_init *init, void **state, char *err, size_t errlen, int mode) {
  ce_state *s = calloc(1, sizeof *s);
  if (!s || !(s->p = calloc((size_t)init->n_classes, sizeof(double)))) {
    free(s);
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->mode = mode;
  s->host = init->host;
  s->k = init->n_classes;
  s->add_tensor = init->add_tensor;
  s->host_ctx = init->host_ctx;
  if (mode == TENSOR_BAD) {
    const int64_t shape[2] = {3, 0};
    init->add_tensor(init->host_ctx, "margins", 2, shape, 0.5, 0); /* refused, not checked */
  }
  *state = s;
  return 0;
}

static void ce_destroy(void *state) {
  ce_state *s = state;
  free(s->p);
  free(s);
}

static double ce_eval(void *state, const tb_loss_batch *b) {
  ce_state *s = state;
  if (b->k != s->k || b->n <= 0) return NAN;
  /* rt_scale_nan: the cross-entropy of SCALE z (z = cos theta), gradient SCALE (p - e_y)/N */
  const double f = s->mode == SCALE_NAN ? SCALE : 1.0;
  double total = 0, zs[64];
  if (b->k > 64) return NAN;
  for (int i = 0; i < b->n; i++) {
    const double *z = b->logits + (size_t)i * b->k;
    for (int j = 0; j < b->k; j++) zs[j] = f * z[j];
    s->host->softmax(s->p, zs, b->k);
    total += s->host->logsumexp(zs, b->k) - zs[b->labels[i]];
    if (b->dlogits)
      for (int j = 0; j < b->k; j++)
        b->dlogits[(size_t)i * b->k + j] = f * (s->p[j] - (j == b->labels[i])) / b->n;
  }
  switch (s->mode) {
  case REPORT_EVAL: b->report(b->host_ctx, "rt_report_eval.value", total / b->n); break;
  case REPORT_UNDECLARED:
    if (b->phase == TB_PHASE_TRAIN) b->report(b->host_ctx, "rt_undeclared.value", total / b->n);
    break;
  case REPORT_BADNAME:
    if (b->phase == TB_PHASE_TRAIN) b->report(b->host_ctx, "Bad-Name", total / b->n);
    break;
  case TENSOR_LATE:
    if (b->phase == TB_PHASE_TRAIN) s->add_tensor(s->host_ctx, "late", 0, NULL, 1.0, 0);
    break;
  }
  return total / b->n;
}

#define CE_CREATE(fn, mode)                                                               \
  static int fn(const tb_loss_init *init, void **state, char *err, size_t errlen) {       \
    return ce_create(init, state, err, errlen, mode);                                     \
  }
CE_CREATE(create_report_eval, REPORT_EVAL)
CE_CREATE(create_report_undeclared, REPORT_UNDECLARED)
CE_CREATE(create_report_badname, REPORT_BADNAME)
CE_CREATE(create_tensor_bad, TENSOR_BAD)
CE_CREATE(create_tensor_late, TENSOR_LATE)
CE_CREATE(create_scale_nan, SCALE_NAN)

static double scale_nan(void *state, const tb_loss_batch *b) {
  (void)state;
  return b->epoch >= 1 && b->phase == TB_PHASE_TRAIN ? NAN : SCALE;
}

#define CE_DEF(var, name_, services_, create_)                                            \
  static const tb_loss_def var = {                                                        \
      TB_DEF_SIZES(tb_loss_def), .name = name_, .version = "1",                           \
      .summary = "cross-entropy that misuses a run-time service (test)",                  \
      .reference = "Bridle, 1990 (test plugin)", .services = services_,                    \
      .create = create_, .eval = ce_eval, .destroy = ce_destroy}
CE_DEF(report_eval, "rt_report_eval", TB_SERVICE_REPORT, create_report_eval);
CE_DEF(report_undeclared, "rt_report_undeclared", 0, create_report_undeclared);
CE_DEF(report_badname, "rt_report_badname", TB_SERVICE_REPORT, create_report_badname);
CE_DEF(tensor_bad, "rt_tensor_bad", 0, create_tensor_bad);
CE_DEF(tensor_late, "rt_tensor_late", 0, create_tensor_late);
static const tb_loss_def scale_nan_def = {
    TB_DEF_SIZES(tb_loss_def), .name = "rt_scale_nan", .version = "1",
    .summary = "cross-entropy of 4 cos theta whose scale turns NaN at epoch 2 (test)",
    .reference = "Bridle, 1990 (test plugin)", .requires = TB_REQ_COSINE_HEAD,
    .create = create_scale_nan, .eval = ce_eval, .destroy = ce_destroy,
    .head_scale = scale_nan};

/* ---- optimizers ------------------------------------------------------------- */

enum { NEXT_UNDECLARED = 1, REPORT_CLASH, REPORT_MANY };

static const tb_hparam sgd_hp[] = {{.name = "lr", .type = TB_HP_REAL, .def = 0.05, .min = 0,
                                    .max = 10, .log_scale = 1, .help = "step size"}};

typedef struct sgd_state {
  int mode;
  double lr;
} sgd_state;

static int sgd_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen,
                      int mode) {
  sgd_state *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->mode = mode;
  s->lr = init->hp[0];
  *state = s;
  return 0;
}

static int sgd_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  sgd_state *s = state;
  switch (s->mode) {
  case NEXT_UNDECLARED: ctx->next_batch(ctx->host_ctx); break;
  case REPORT_CLASH: ctx->report(ctx->host_ctx, "rt_dual_cap.lambda", 1.0); break;
  case REPORT_MANY:
    for (int i = 0; i < 17; i++) {
      char name[32];
      snprintf(name, sizeof name, "rt_many.s%d", i);
      ctx->report(ctx->host_ctx, name, i);
    }
    break;
  }
  const float a = (float)(s->lr * ctx->lr_factor);
  for (int i = 0; i < ctx->n_params; i++) {
    tb_tensor *p = TB_TENSOR_AT(params, ctx->tensor_size, i);
    const tb_tensor *g = TB_CTENSOR_AT(grads, ctx->tensor_size, i);
    for (int64_t j = 0; j < p->numel; j++) p->data[j] -= a * g->data[j];
  }
  return 0;
}

#define SGD_CREATE(fn, mode)                                                              \
  static int fn(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {  \
    return sgd_create(init, state, err, errlen, mode);                                    \
  }
SGD_CREATE(create_next_undeclared, NEXT_UNDECLARED)
SGD_CREATE(create_report_clash, REPORT_CLASH)
SGD_CREATE(create_report_many, REPORT_MANY)

#define SGD_DEF(var, name_, services_, create_)                                           \
  static const tb_optimizer_def var = {                                                   \
      TB_DEF_SIZES(tb_optimizer_def), .name = name_, .version = "1",                      \
      .summary = "SGD that misuses a run-time service (test)",                            \
      .reference = "Robbins & Monro, 1951 (test plugin)", .services = services_,           \
      .hparams = sgd_hp, .n_hparams = 1, .create = create_, .step = sgd_step,             \
      .destroy = free}
SGD_DEF(next_undeclared, "rt_next_undeclared", 0, create_next_undeclared);
SGD_DEF(report_clash, "rt_report_clash", TB_SERVICE_REPORT, create_report_clash);
SGD_DEF(report_many, "rt_report_many", TB_SERVICE_REPORT, create_report_many);

static const tb_loss_def *const losses[] = {&report_eval, &report_undeclared, &report_badname,
                                            &tensor_bad, &tensor_late, &scale_nan_def, NULL};
static const tb_optimizer_def *const optimizers[] = {&next_undeclared, &report_clash,
                                                     &report_many, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
