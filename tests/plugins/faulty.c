/*
 * faulty.c — a test-only plugin whose components misbehave on purpose, so the
 * end-to-end tests can show that a sweep contains them: each optimizer
 * behaves like plain SGD until its third step, then segfaults, aborts, calls
 * exit(0), hangs, or floods stdout/stderr with garbage (and then finishes);
 * the loss `fault_nan` returns NaN from the second training step on;
 * `fault_overflow` writes past a heap buffer (tested under ASan only);
 * `fault_rng` draws a random number at its third step without declaring
 * TB_SERVICE_RNG, which must fail the run.
 * Never installed; lives outside the default plugin search path.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainbench/plugin.h"

enum { SEGV, ABORT, EXIT0, HANG, GARBAGE, OVERFLOW, RNG };

static const tb_hparam opt_hp[] = {
    {.name = "lr", .type = TB_HP_REAL, .def = 0.1, .min = 0, .max = 10, .log_scale = 1,
     .help = "step size"},
};

typedef struct {
  int mode, n;
  double lr;
  const tb_host_api *host;
  tb_rng *rng;
} fstate;

static int create_mode(int mode, const tb_optimizer_init *init, void **state) {
  fstate *s = malloc(sizeof *s);
  s->mode = mode;
  s->n = init->n_params;
  s->lr = init->hp[0];
  s->host = init->host;
  s->rng = init->rng;
  *state = s;
  return 0;
}

#define CREATE(NAME, MODE)                                                                    \
  static int NAME(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {    \
    (void)err, (void)errlen;                                                                 \
    return create_mode(MODE, init, state);                                                   \
  }
CREATE(create_segv, SEGV)
CREATE(create_abort, ABORT)
CREATE(create_exit0, EXIT0)
CREATE(create_hang, HANG)
CREATE(create_garbage, GARBAGE)
CREATE(create_overflow, OVERFLOW)
CREATE(create_rng, RNG)

static void fault(const fstate *s) {
  switch (s->mode) {
  case RNG: s->host->rng_uniform(s->rng); break;
  case SEGV: raise(SIGSEGV); break;
  case ABORT: abort();
  case EXIT0: exit(0);
  case HANG:
    for (;;) pause();
  case GARBAGE: {
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131 + 7);
    for (int r = 0; r < 64; r++) {
      fwrite(junk, 1, sizeof junk, stdout);
      fwrite(junk, 1, sizeof junk, stderr);
    }
    /* lines that look like the worker protocol must not be taken for it */
    printf("\nEND\nR 1 0 0 0 0 0 0\nM 1 val accuracy 1\n");
    fflush(stdout);
    break;
  }
  case OVERFLOW: { /* a heap overflow: only meaningful under AddressSanitizer */
    volatile char *p = malloc(8);
    volatile int past = 8;
    p[past] = 1;
    free((void *)p);
    break;
  }
  }
}

/* plain SGD on every tensor, after the fault at step 3 */
static int step_sgd(void *state, tb_tensor *params, const tb_tensor *grads, const tb_step_ctx *ctx) {
  fstate *s = state;
  if (ctx->step == 3) fault(s);
  float a = (float)(s->lr * ctx->lr_factor);
  for (int t = 0; t < s->n; t++) {
    tb_tensor *p = TB_TENSOR_AT(params, ctx->tensor_size, t);
    const tb_tensor *g = TB_CTENSOR_AT(grads, ctx->tensor_size, t);
    for (int64_t i = 0; i < p->numel; i++) p->data[i] -= a * g->data[i];
  }
  return 0;
}

static void destroy(void *state) { free(state); }

#define OPT(VAR, NAME, CREATE_FN, SUMMARY)                                                    \
  static const tb_optimizer_def VAR = {TB_DEF_SIZES(tb_optimizer_def), .name = NAME,            \
                                       .version = "1", .summary = SUMMARY,                      \
                                       .reference = "test plugin (no paper)", .hparams = opt_hp, \
                                       .n_hparams = 1, .create = CREATE_FN, .step = step_sgd,   \
                                       .destroy = destroy};
OPT(o_segv, "fault_segv", create_segv, "segfaults at step 3")
OPT(o_abort, "fault_abort", create_abort, "aborts at step 3")
OPT(o_exit0, "fault_exit0", create_exit0, "calls exit(0) at step 3")
OPT(o_hang, "fault_hang", create_hang, "hangs at step 3")
OPT(o_garbage, "fault_garbage", create_garbage, "prints garbage at step 3, then carries on")
OPT(o_overflow, "fault_overflow", create_overflow, "writes past a heap buffer at step 3 (for ASan builds)")
OPT(o_rng, "fault_rng", create_rng, "draws a random number at step 3 without declaring the rng")

/* ---- a loss that diverges ---- */
static int nan_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  (void)err, (void)errlen;
  *state = (void *)init->host;
  return 0;
}

static double nan_eval(void *state, const tb_loss_batch *b) {
  const tb_host_api *h = state;
  if (b->phase == TB_PHASE_TRAIN && b->step >= 1) return 0.0 / 0.0;
  double total = 0, p[1024];
  for (int i = 0; i < b->n; i++) {
    const double *z = b->logits + (size_t)i * b->k;
    double lse = h->logsumexp(z, b->k);
    total += lse - z[b->labels[i]];
    if (b->dlogits) {
      h->softmax(p, z, b->k);
      for (int k = 0; k < b->k; k++)
        b->dlogits[(size_t)i * b->k + k] = (p[k] - (k == b->labels[i])) / b->n;
    }
  }
  return total / b->n;
}

static const tb_loss_def l_nan = {TB_DEF_SIZES(tb_loss_def), .name = "fault_nan", .version = "1",
                                  .summary = "cross-entropy that turns NaN at step 2",
                                  .reference = "test plugin (no paper)", .create = nan_create,
                                  .eval = nan_eval};

static const tb_loss_def *const losses[] = {&l_nan, NULL};
static const tb_optimizer_def *const optimizers[] = {&o_segv, &o_abort, &o_exit0, &o_hang,
                                                     &o_garbage, &o_overflow, &o_rng, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
