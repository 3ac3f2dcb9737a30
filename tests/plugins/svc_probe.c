/*
 * svc_probe.c — a test-only optimizer that exercises the host services from
 * inside `step` and fails the run (non-zero return, reason on stderr) if they
 * misbehave:
 *   - eval at the lent parameters reproduces the lent gradient;
 *   - eval at a candidate point leaves the lent parameters and gradient as
 *     they were (services use their own buffers);
 *   - the loss's directional derivative from two evals matches <g, v>;
 *   - jvp is linear in its direction and finite.
 * Then it takes a plain SGD step. Per step it makes 4 eval calls (2 with
 * gradients) and 2 JVP calls, so the core's counters can be checked.
 * `svc_undeclared` calls eval without declaring TB_SERVICE_EVAL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

#define MAXT 34

static const tb_hparam hp[] = {{.name = "lr", .type = TB_HP_REAL, .def = 0.05, .min = 0, .max = 10,
                                .log_scale = 1, .help = "step size"}};

typedef struct {
  int n;
  int64_t total;
  double lr;
  float *g0, *g1, *cand, *v, *p0, *jv_buf; /* flat copies, `total` floats each */
  double *jv1, *jv2;
  int jv_cap;
} probe;

static int create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  probe *s = calloc(1, sizeof *s);
  s->n = init->n_params;
  if (s->n > MAXT) {
    snprintf(err, errlen, "too many tensors");
    free(s);
    return 1;
  }
  for (int t = 0; t < s->n; t++)
    s->total += TB_CTENSOR_AT(init->params, init->tensor_size, t)->numel;
  s->lr = init->hp[0];
  float **bufs[] = {&s->g0, &s->g1, &s->cand, &s->v, &s->p0};
  for (int i = 0; i < 5; i++) *bufs[i] = calloc((size_t)s->total, sizeof(float));
  for (int64_t i = 0; i < s->total; i++) s->v[i] = (float)sin(0.7 * (double)i + 0.3);
  *state = s;
  return 0;
}

static void destroy(void *state) {
  probe *s = state;
  free(s->g0), free(s->g1), free(s->cand), free(s->v), free(s->p0);
  free(s->jv1), free(s->jv2);
  free(s);
}

/* Tensor t of a step's array (stride ctx->tensor_size). */
#define AT(arr, t) TB_TENSOR_AT(arr, ctx->tensor_size, t)
#define CAT(arr, t) TB_CTENSOR_AT(arr, ctx->tensor_size, t)

/* per-tensor pointer arrays into a flat buffer shaped like params */
static void views(const probe *s, const tb_tensor *params, const tb_step_ctx *ctx, float *flat,
                  float **out) {
  int64_t off = 0;
  for (int t = 0; t < s->n; t++) {
    out[t] = flat + off;
    off += CAT(params, t)->numel;
  }
}

#define FAIL(...)                       \
  do {                                  \
    fprintf(stderr, "svc_probe: ");     \
    fprintf(stderr, __VA_ARGS__);       \
    fprintf(stderr, "\n");              \
    return 1;                           \
  } while (0)

static int step(void *state, tb_tensor *params, const tb_tensor *grads, const tb_step_ctx *ctx) {
  probe *s = state;
  float *G1[MAXT], *C[MAXT], *V[MAXT];
  const float *P[MAXT];
  views(s, params, ctx, s->g1, G1);
  views(s, params, ctx, s->cand, C);
  views(s, params, ctx, s->v, V);
  int64_t off = 0;
  for (int t = 0; t < s->n; t++) {
    const size_t bytes = sizeof(float) * (size_t)CAT(params, t)->numel;
    P[t] = CAT(params, t)->data;
    memcpy(s->g0 + off, CAT(grads, t)->data, bytes);
    memcpy(s->p0 + off, CAT(params, t)->data, bytes);
    off += CAT(params, t)->numel;
  }
  /* 1. eval at the lent parameters reproduces the lent gradient */
  double l0 = ctx->eval(ctx->host_ctx, P, G1);
  if (!isfinite(l0)) FAIL("eval returned %g", l0);
  for (int64_t i = 0; i < s->total; i++)
    if (fabsf(s->g1[i] - s->g0[i]) > 1e-6f * (1 + fabsf(s->g0[i])))
      FAIL("eval gradient differs from the lent gradient at %lld", (long long)i);
  /* 2. directional derivative along v from evals at p +- h v */
  const double h = 1e-3;
  double gv = 0, vv = 0;
  for (int64_t i = 0; i < s->total; i++) gv += (double)s->g0[i] * s->v[i], vv += (double)s->v[i] * s->v[i];
  double lp, lm;
  for (int64_t i = 0; i < s->total; i++) s->cand[i] = (float)(s->p0[i] + h * s->v[i]);
  lp = ctx->eval(ctx->host_ctx, (const float *const *)C, G1);
  for (int64_t i = 0; i < s->total; i++) s->cand[i] = (float)(s->p0[i] - h * s->v[i]);
  lm = ctx->eval(ctx->host_ctx, (const float *const *)C, NULL);
  double fd = (lp - lm) / (2 * h);
  if (fabs(fd - gv) > 5e-2 * (fabs(gv) + sqrt(vv) * 1e-2))
    FAIL("directional derivative %g from eval vs <g, v> %g", fd, gv);
  /* 3. nothing lent was overwritten */
  off = 0;
  for (int t = 0; t < s->n; t++) {
    const size_t bytes = sizeof(float) * (size_t)CAT(params, t)->numel;
    if (memcmp(CAT(grads, t)->data, s->g0 + off, bytes) ||
        memcmp(CAT(params, t)->data, s->p0 + off, bytes))
      FAIL("a service overwrote the lent buffers of '%s'", CAT(params, t)->name);
    off += CAT(params, t)->numel;
  }
  /* 4. jvp: linear in the direction, finite */
  int nk = ctx->batch_n * ctx->n_classes;
  if (nk > s->jv_cap) {
    s->jv1 = realloc(s->jv1, sizeof(double) * (size_t)nk);
    s->jv2 = realloc(s->jv2, sizeof(double) * (size_t)nk);
    s->jv_cap = nk;
  }
  if (ctx->jvp(ctx->host_ctx, NULL, (const float *const *)V, s->jv1)) FAIL("jvp failed");
  for (int64_t i = 0; i < s->total; i++) s->cand[i] = 2 * s->v[i];
  if (ctx->jvp(ctx->host_ctx, P, (const float *const *)C, s->jv2)) FAIL("jvp failed");
  for (int i = 0; i < nk; i++)
    if (!isfinite(s->jv1[i]) || fabs(s->jv2[i] - 2 * s->jv1[i]) > 1e-4 * (1 + fabs(s->jv1[i])))
      FAIL("jvp is not linear in its direction at %d: %g vs 2 x %g", i, s->jv2[i], s->jv1[i]);
  /* 5. one more eval without gradient at the lent point, then SGD */
  double l1 = ctx->eval(ctx->host_ctx, P, NULL);
  if (l1 != l0) FAIL("eval is not deterministic: %.17g vs %.17g", l1, l0);
  float a = (float)(s->lr * ctx->lr_factor);
  for (int t = 0; t < s->n; t++)
    for (int64_t i = 0; i < CAT(params, t)->numel; i++)
      AT(params, t)->data[i] -= a * CAT(grads, t)->data[i];
  return 0;
}

static int step_undeclared(void *state, tb_tensor *params, const tb_tensor *grads,
                           const tb_step_ctx *ctx) {
  probe *s = state;
  const float *P[MAXT];
  for (int t = 0; t < s->n; t++) P[t] = CAT(params, t)->data;
  ctx->eval(ctx->host_ctx, P, NULL);
  (void)grads;
  return 0;
}

static const tb_optimizer_def probe_def = {
    TB_DEF_SIZES(tb_optimizer_def), .name = "svc_probe", .version = "1",
    .summary = "checks the host services from inside step, then SGD",
    .reference = "test plugin (no paper)", .services = TB_SERVICE_EVAL | TB_SERVICE_JVP,
    .hparams = hp, .n_hparams = 1, .create = create, .step = step, .destroy = destroy};
static const tb_optimizer_def undeclared_def = {
    TB_DEF_SIZES(tb_optimizer_def), .name = "svc_undeclared", .version = "1",
    .summary = "calls eval without declaring it", .reference = "test plugin (no paper)",
    .hparams = hp, .n_hparams = 1, .create = create, .step = step_undeclared, .destroy = destroy};
static const tb_optimizer_def *const optimizers[] = {&probe_def, &undeclared_def, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
