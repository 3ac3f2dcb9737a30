/*
 * broken_optimizers.c — test-only optimizers for `trainbench check`, one
 * per build (meson builds this file once per macro). Each is heavy-ball SGD
 * and right in every way but the one named:
 *   -DSHARED_STATE  "shared_state": every instance uses one static state, so
 *                   two live instances step each other's momentum
 *                   (no-shared-state)
 *   -DCRASH_STEP    "crash_step": step writes through a null pointer (SIGSEGV)
 *   -DHANG_STEP     "hang_step": step never returns
 *   -DSNEAKY_EVAL   "sneaky_eval": step calls the eval service without
 *                   declaring TB_SERVICE_EVAL (services)
 *   -DLEAKY         "leaky": destroy forgets to free the state (a leak only
 *                   valgrind or LeakSanitizer sees)
 *   -DSVC_USER      "svc_user": nothing wrong; declares rng, eval and jvp and
 *                   checks the checker's services from inside step (eval
 *                   reproduces the lent gradient, jvp returns the direction,
 *                   the step size backtracks on eval), failing the step if
 *                   they misbehave
 *   -DSNEAKY_REPORT "sneaky_report": step reports a series without
 *                   declaring TB_SERVICE_REPORT (services)
 *   -DEVAL_MOVES    "eval_moves": eval_params hands out its momentum-free
 *                   "average" by writing it into the live parameters, so
 *                   asking for the evaluation's values moves the training
 *                   (eval-params)
 *   -DBASE_UNDECLARED "base_undeclared": a wrapper (a `base` optimizer
 *                   hyperparameter) whose step calls step_base without
 *                   declaring TB_SERVICE_BASE, then steps itself when refused
 *                   (services, composition)
 *   -DBASE_BAD_SLOT "base_bad_slot": declares TB_SERVICE_BASE but calls
 *                   step_base with the slot of `lr`, which is no base
 *                   (services, composition)
 *   -DBASE_IGNORED  "base_ignored": declares TB_SERVICE_BASE and has a base it
 *                   never runs (composition)
 *   -DNO_ENTRY      no tb_plugin_entry at all (the loader refuses the file)
 * Never installed; lives outside the plugin search path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainbench/plugin.h"

#if defined(SHARED_STATE)
#define OPT_NAME "shared_state"
#elif defined(CRASH_STEP)
#define OPT_NAME "crash_step"
#elif defined(HANG_STEP)
#define OPT_NAME "hang_step"
#elif defined(SNEAKY_EVAL)
#define OPT_NAME "sneaky_eval"
#elif defined(LEAKY)
#define OPT_NAME "leaky"
#elif defined(SVC_USER)
#define OPT_NAME "svc_user"
#elif defined(SNEAKY_REPORT)
#define OPT_NAME "sneaky_report"
#elif defined(EVAL_MOVES)
#define OPT_NAME "eval_moves"
#elif defined(BASE_UNDECLARED)
#define OPT_NAME "base_undeclared"
#elif defined(BASE_BAD_SLOT)
#define OPT_NAME "base_bad_slot"
#elif defined(BASE_IGNORED)
#define OPT_NAME "base_ignored"
#elif defined(NO_ENTRY)
#define OPT_NAME "no_entry"
#else
#error "build with one of the macros listed at the top"
#endif

#if defined(BASE_UNDECLARED) || defined(BASE_BAD_SLOT) || defined(BASE_IGNORED)
#define WRAPPER 1
#endif

#ifdef SVC_USER
#define SERVICES (TB_SERVICE_RNG | TB_SERVICE_EVAL | TB_SERVICE_JVP)
#elif defined(BASE_BAD_SLOT) || defined(BASE_IGNORED)
#define SERVICES TB_SERVICE_BASE
#else
#define SERVICES 0u
#endif

/*
 * Polyak, "Some methods of speeding up the convergence of iteration
 * methods", 1964 (heavy ball), in PyTorch's form. With lr_t = lr * schedule
 * factor:
 *
 *   b <- momentum * b + g       (b = 0 before the first step)
 *   theta <- theta - lr_t * b
 *
 * svc_user scales lr_t by a draw u in [0.5, 1) and halves it (up to 20 times)
 * while eval says the candidate is worse than the current parameters.
 */
static const tb_hparam hparams[] = {
    {.name = "lr", .type = TB_HP_REAL, .def = 0.01, .min = 0, .max = 1, .log_scale = 1,
     .help = "learning rate"},
    {.name = "momentum", .type = TB_HP_REAL, .def = 0.9, .min = 0, .max = 0.99,
     .help = "momentum factor"},
#ifdef WRAPPER
    {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_OPTIMIZER,
     .def_text = "adam", .help = "the base it should run"},
#endif
};

#define MAXP 64 /* tensors */

typedef struct hb_state {
  const tb_host_api *host;
  tb_rng *rng;
  double lr, momentum;
  int n;
  int64_t total;
  int64_t numel[MAXP];
  float *buf;                /* [total] momentum */
  float *scratch, *scratch2; /* [total] each: svc_user's candidate and eval gradient */
  double *jv;                /* [total] svc_user's jvp output */
  float *live[MAXP];         /* eval_moves: the parameters it was created with */
} hb_state;

#ifdef SHARED_STATE
static hb_state shared;        /* the bug: one state for every instance */
static float shared_buf[4096];
#endif

static int hb_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  if (init->n_params > MAXP) {
    snprintf(err, errlen, "at most %d tensors", MAXP);
    return 1;
  }
  int64_t total = 0;
  for (int i = 0; i < init->n_params; i++)
    total += TB_CTENSOR_AT(init->params, init->tensor_size, i)->numel;
#ifdef SHARED_STATE
  if (total > 4096) {
    snprintf(err, errlen, "at most 4096 parameters");
    return 1;
  }
  hb_state *s = &shared;
  memset(s, 0, sizeof *s);
  memset(shared_buf, 0, sizeof shared_buf);
  s->buf = shared_buf;
#else
  hb_state *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  s->buf = calloc((size_t)total + 1, sizeof(float));
  s->scratch = calloc((size_t)total + 1, sizeof(float));
  s->scratch2 = calloc((size_t)total + 1, sizeof(float));
  s->jv = calloc((size_t)total + 1, sizeof(double));
#endif
  s->host = init->host;
  s->rng = init->rng;
  s->lr = init->hp[0];
  s->momentum = init->hp[1];
  s->n = init->n_params;
  s->total = total;
  for (int i = 0; i < s->n; i++) {
    s->numel[i] = TB_CTENSOR_AT(init->params, init->tensor_size, i)->numel;
    s->live[i] = TB_CTENSOR_AT(init->params, init->tensor_size, i)->data;
  }
  *state = s;
  return 0;
}

static void hb_destroy(void *state) {
#if defined(SHARED_STATE) || defined(LEAKY)
  (void)state; /* shared: nothing to free; leaky: the bug */
#else
  hb_state *s = state;
  free(s->buf);
  free(s->scratch);
  free(s->scratch2);
  free(s->jv);
  free(s);
#endif
}

/* Tensor i of a step's params and grads (stride ctx->tensor_size). */
#define PARAM(i) TB_TENSOR_AT(params, ctx->tensor_size, i)
#define GRAD(i) TB_CTENSOR_AT(grads, ctx->tensor_size, i)

#ifdef SVC_USER
/* Per-tensor views of a flat buffer. */
static void views(const hb_state *s, float *flat, float **out) {
  int64_t o = 0;
  for (int i = 0; i < s->n; i++) out[i] = flat + o, o += s->numel[i];
}

/* The checks svc_user makes of the host's services; non-zero on a mismatch. */
static int probe_services(hb_state *s, tb_tensor *params, const tb_tensor *grads,
                          const tb_step_ctx *ctx) {
  float *G[MAXP];
  views(s, s->scratch2, G);
  double f0 = ctx->eval(ctx->host_ctx, NULL, G);
  if (f0 != f0) return 2;
  for (int i = 0; i < s->n; i++)
    for (int64_t j = 0; j < s->numel[i]; j++)
      if (G[i][j] != GRAD(i)->data[j]) return 3; /* eval must reproduce the lent gradient */
  const float *D[MAXP];
  for (int i = 0; i < s->n; i++) D[i] = GRAD(i)->data;
  if (ctx->jvp(ctx->host_ctx, NULL, D, s->jv)) return 4;
  int64_t o = 0;
  for (int i = 0; i < s->n; i++)
    for (int64_t j = 0; j < s->numel[i]; j++, o++)
      if (s->jv[o] != (double)GRAD(i)->data[j]) return 5; /* jvp of the identity */
  (void)params;
  return 0;
}
#endif

static int hb_step(void *state, tb_tensor *params, const tb_tensor *grads,
                   const tb_step_ctx *ctx) {
  hb_state *s = state;
#ifdef CRASH_STEP
  int *volatile nowhere = NULL;
  *nowhere = 1;
#endif
#ifdef HANG_STEP
  for (;;) sleep(1);
#endif
#ifdef SNEAKY_EVAL
  (void)ctx->eval(ctx->host_ctx, NULL, NULL); /* undeclared */
#endif
#ifdef SNEAKY_REPORT
  (void)ctx->report(ctx->host_ctx, "sneaky_report.lr", s->lr); /* undeclared */
#endif
#ifdef BASE_UNDECLARED
  if (ctx->step_base(ctx->host_ctx, 2, params, grads) == 0) return 0; /* undeclared */
#endif
#ifdef BASE_BAD_SLOT
  if (ctx->step_base(ctx->host_ctx, 0, params, grads) == 0) return 0; /* slot 0 is lr */
#endif
  for (int i = 0; i < s->n; i++)
    if (PARAM(i)->numel != s->numel[i] || GRAD(i)->numel != s->numel[i]) return 1;
  double lr = s->lr * ctx->lr_factor;
  const float mu = (float)s->momentum;
  float *b = s->buf;
  for (int i = 0; i < s->n; i++) {
    for (int64_t j = 0; j < s->numel[i]; j++) b[j] = mu * b[j] + GRAD(i)->data[j];
    b += s->numel[i];
  }
#ifdef SVC_USER
  int rc = probe_services(s, params, grads, ctx);
  if (rc) return rc;
  lr *= 0.5 + 0.5 * s->host->rng_uniform(s->rng);
  float *C[MAXP];
  views(s, s->scratch, C);
  const double f0 = ctx->eval(ctx->host_ctx, NULL, NULL);
  for (int tries = 0; tries < 20; tries++, lr *= 0.5) {
    b = s->buf;
    for (int i = 0; i < s->n; i++) {
      for (int64_t j = 0; j < s->numel[i]; j++) C[i][j] = PARAM(i)->data[j] - (float)lr * b[j];
      b += s->numel[i];
    }
    if (ctx->eval(ctx->host_ctx, (const float *const *)C, NULL) <= f0) break;
  }
#endif
  b = s->buf;
  for (int i = 0; i < s->n; i++) {
    for (int64_t j = 0; j < s->numel[i]; j++) PARAM(i)->data[j] -= (float)lr * b[j];
    b += s->numel[i];
  }
  return 0;
}

#ifdef EVAL_MOVES
/* The "average" of tensor i, made in place: the live parameters are halved
 * (the bug: a pointer to its own copy was wanted). */
static const float *hb_eval_params(void *state, int i) {
  hb_state *s = state;
  for (int64_t j = 0; j < s->numel[i]; j++) s->live[i][j] *= 0.5f;
  return s->live[i];
}
#endif

static const tb_optimizer_def opt = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = OPT_NAME,
    .version = "1",
    .summary = "heavy-ball SGD, broken on purpose for the checker's tests",
    .reference = "Polyak, \"Some methods of speeding up the convergence of iteration methods\", "
                 "1964",
    .services = SERVICES,
    .hparams = hparams,
    .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
    .validate = NULL,
    .create = hb_create,
    .step = hb_step,
    .destroy = hb_destroy,
#ifdef EVAL_MOVES
    .eval_params = hb_eval_params,
#endif
};

static const tb_optimizer_def *const optimizers[] = {&opt, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .optimizers = optimizers};

#ifndef NO_ENTRY
TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
#else
/* no entry point; keep the descriptor referenced so the file still compiles cleanly */
TB_EXPORT const tb_plugin *tb_plugin_descriptor(void) { return &plugin; }
#endif
