/*
 * broken_losses.c — test-only losses with the mistakes `trainbench check`
 * must catch, one per build (meson builds this file once per macro):
 *   -DBAD_SIGN   "bad_sign":   the gradient has the wrong sign      (grad-fd)
 *   -DNO_MEAN    "no_mean":    the value is a mean, the gradient a sum,
 *                              i.e. it forgets the 1/N             (scale-1/N)
 *   -DNAN_BIG    "nan_big":    softmax without subtracting the max, NaN
 *                              once exp(z) overflows (|z| ~ 1e3)   (finite)
 *   -DRNG_SNEAK  "rng_sneak":  draws from the host rng in create
 *                              without declaring TB_SERVICE_RNG    (services)
 *   -DROW_MISMATCH "row_mismatch": has a row form too, whose gradient
 *                              forgets r->grad_scale, so the core's
 *                              row loop disagrees with eval        (row-form)
 *   -DBAD_TENSOR_GRAD "bad_tensor_grad": a learned temperature (a loss
 *                              tensor, T = exp(tau)) whose gradient
 *                              has the wrong sign                  (tensor-fd)
 *   -DEVAL_UPDATE "eval_update": a stateful loss (a factor following
 *                              a running mean of its value) that
 *                              updates in evaluation passes too,
 *                              not in TRAIN only                   (phase)
 *   -DREQUIRES_IDS "requires_ids": nothing wrong; requires sample ids and
 *                              reads them in TRAIN and PROBE calls,
 *                              where the contract promises them
 *   -DREQUIRES_UNKNOWN "requires_unknown": requires a flag no trainbench
 *                              defines (1 << 7)                    (requires)
 *   -DLBASE_UNDECLARED "lbase_undeclared": a wrapper (a `base` loss
 *                              hyperparameter) that calls eval_base
 *                              without declaring TB_SERVICE_BASE, and
 *                              computes its own value      (services, composition)
 *   -DLBASE_IGNORED "lbase_ignored": declares TB_SERVICE_BASE and has a
 *                              base it never runs           (composition)
 *   -DBAD_SCALE "bad_scale":   reads a cosine head and reports a scale
 *                              of 0 in EVAL calls            (head-scale)
 *   (the loader refuses every loss with `requires` until scenarios can
 *   provide what they ask: `check` reports the two files with its reason
 *   and must not crash; once it loads them, requires_ids passes every check
 *   — the checks' batches carry sample ids — and requires_unknown fails
 *   "requires")
 * Everything else about them is right, so the other checks must pass.
 * Never installed; lives outside the plugin search path.
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

#if defined(BAD_SIGN)
#define LOSS_NAME "bad_sign"
#elif defined(NO_MEAN)
#define LOSS_NAME "no_mean"
#elif defined(NAN_BIG)
#define LOSS_NAME "nan_big"
#elif defined(RNG_SNEAK)
#define LOSS_NAME "rng_sneak"
#elif defined(ROW_MISMATCH)
#define LOSS_NAME "row_mismatch"
#elif defined(BAD_TENSOR_GRAD)
#define LOSS_NAME "bad_tensor_grad"
#elif defined(EVAL_UPDATE)
#define LOSS_NAME "eval_update"
#elif defined(REQUIRES_IDS)
#define LOSS_NAME "requires_ids"
#elif defined(REQUIRES_UNKNOWN)
#define LOSS_NAME "requires_unknown"
#elif defined(LBASE_UNDECLARED)
#define LOSS_NAME "lbase_undeclared"
#elif defined(LBASE_IGNORED)
#define LOSS_NAME "lbase_ignored"
#elif defined(BAD_SCALE)
#define LOSS_NAME "bad_scale"
#else
#error "build with one of the macros listed at the top"
#endif

/*
 * Source: the log-loss of a softmax classifier, Bridle, "Probabilistic
 * Interpretation of Feedforward Classification Network Outputs, with
 * Relationships to Statistical Pattern Recognition", 1990. With y the label,
 * w_i the sample weight and p = softmax(z):
 *
 *   loss_i = logsumexp(z) - z_y,    mean = (1/N) sum_i w_i loss_i
 *   d mean / dz_ij = (w_i / N) (p_j - [j = y])
 *
 * bad_tensor_grad uses z / T for z (Guo et al., "On Calibration of Modern
 * Neural Networks", 2017): d/dz = (p - e_y) / T, d/dtau = -sum_j (p_j -
 * [j = y]) z_j / T. eval_update multiplies the mean by c = 1 + tanh(m) / 2,
 * m a running mean of the mean loss (a state that must move in TRAIN only).
 * (each variant breaks this in the one way named above)
 */
static const tb_hparam hparams[] = {
  {.name = "scale", .type = TB_HP_REAL, .def = 1.0, .min = 0.5, .max = 2.0,
   .help = "factor on the loss and its gradient"},
#if defined(LBASE_UNDECLARED) || defined(LBASE_IGNORED)
  {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_LOSS,
   .def_text = "cross_entropy", .help = "the base it should run"},
#endif
};

typedef struct bstate {
  const tb_host_api *host;
  int k;
  double scale;
  double *p; /* [K] scratch */
  int idx;   /* bad_tensor_grad: its tensor in batch->tensors */
  double m;  /* eval_update: the running mean */
} bstate;

static void b_destroy(void *state);

static int b_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss '" LOSS_NAME "' needs at least 1 class");
    return -1;
  }
  bstate *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->p = calloc((size_t)init->n_classes, sizeof *s->p);
  if (!s->p) {
    free(s);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->host = init->host;
  s->k = init->n_classes;
  s->scale = init->hp[0];
#ifdef RNG_SNEAK
  (void)init->host->rng_uniform(init->rng); /* the undeclared draw */
#endif
#ifdef BAD_TENSOR_GRAD
  s->idx = init->add_tensor(init->host_ctx, "log_temperature", 0, NULL, 0.0, 0);
  if (s->idx < 0) {
    snprintf(err, errlen, "add_tensor refused log_temperature");
    b_destroy(s);
    return -1;
  }
#endif
  *state = s;
  return 0;
}

static void b_destroy(void *state) {
  bstate *s = state;
  free(s->p);
  free(s);
}

static double b_eval(void *state, const tb_loss_batch *b) {
  bstate *s = state;
  const int n = b->n, k = b->k;
  if (k != s->k || n <= 0) return NAN;
  double total = 0, T = 1, dtau = 0;
#ifdef BAD_TENSOR_GRAD
  T = exp(TB_CTENSOR_AT(b->tensors, b->tensor_size, s->idx)->data[0]);
  double u[256];
  if (k > 256) return NAN;
#endif
#ifdef EVAL_UPDATE
  const double c = 1 + 0.5 * tanh(s->m);
#else
  const double c = 1;
#endif
#ifdef REQUIRES_IDS
  int64_t id_sum = 0;
#endif
#ifdef LBASE_UNDECLARED
  tb_loss_batch bb = *b;
  bb.dlogits = NULL;
  (void)b->eval_base(b->host_ctx, 1, &bb); /* undeclared; its value is not used */
#endif
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k;
    const double w = (b->weights ? b->weights[i] : 1.0) * s->scale * c;
    const int y = b->labels[i];
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    double li;
#ifdef REQUIRES_IDS
    if (b->phase != TB_PHASE_EVAL) id_sum += b->sample_ids[i]; /* what it requires */
#endif
#ifdef BAD_TENSOR_GRAD
    for (int j = 0; j < k; j++) u[j] = z[j] / T;
    z = u;
#endif
#ifdef NAN_BIG
    double sum = 0;
    for (int j = 0; j < k; j++) sum += s->p[j] = exp(z[j]); /* overflows at |z| ~ 710 */
    for (int j = 0; j < k; j++) s->p[j] /= sum;
    li = -log(s->p[y]);
#else
    s->host->softmax(s->p, z, k);
    li = s->host->logsumexp(z, k) - z[y];
#endif
    if (w == 0) {
      if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
      continue;
    }
    total += w * li;
    if (!dz) continue;
#if defined(BAD_SIGN)
    const double f = -w / n;
#elif defined(NO_MEAN)
    const double f = w;
#else
    const double f = w / n;
#endif
    for (int j = 0; j < k; j++) dz[j] = f * (s->p[j] - (j == y)) / T;
    for (int j = 0; j < k; j++) dtau += f * (s->p[j] - (j == y)) * z[j]; /* the sign: + */
  }
#ifdef BAD_TENSOR_GRAD
  if (b->dlogits) TB_TENSOR_AT(b->dtensors, b->tensor_size, s->idx)->data[0] = (float)dtau;
#else
  (void)dtau;
#endif
#ifdef EVAL_UPDATE
  if (b->phase != TB_PHASE_PROBE) s->m = 0.9 * s->m + 0.1 * total / n; /* EVAL too: the bug */
#endif
#ifdef REQUIRES_IDS
  if (id_sum < 0) return NAN;
#endif
  return total / n;
}

#ifdef ROW_MISMATCH
/* One row, the same formula; the gradient forgets r->grad_scale (the bug). */
static double b_row(void *state, const tb_loss_row *r) {
  bstate *s = state;
  if (r->k != s->k) return NAN;
  s->host->softmax(s->p, r->z, r->k);
  const double li = s->scale * (s->host->logsumexp(r->z, r->k) - r->z[r->y]);
  if (r->dz)
    for (int j = 0; j < r->k; j++) r->dz[j] = s->scale * (s->p[j] - (j == r->y));
  return li;
}
#endif

#ifdef BAD_SCALE
/* The cosine head's scale: 1, but 0 in EVAL calls (the bug). */
static double b_head_scale(void *state, const tb_loss_batch *b) {
  (void)state;
  return b->phase == TB_PHASE_EVAL ? 0.0 : 1.0;
}
#endif

static const tb_loss_def loss = {
  TB_DEF_SIZES(tb_loss_def),
  .name = LOSS_NAME,
  .version = "1",
  .summary = "softmax cross-entropy, broken on purpose for the checker's tests",
  .reference = "Bridle, \"Probabilistic Interpretation of Feedforward Classification Network "
               "Outputs\", 1990",
#ifdef LBASE_IGNORED
  .services = TB_SERVICE_BASE,
#else
  .services = 0,
#endif
#if defined(REQUIRES_IDS)
  .requires = TB_REQ_SAMPLE_IDS,
#elif defined(REQUIRES_UNKNOWN)
  .requires = 1u << 7,
#elif defined(BAD_SCALE)
  .requires = TB_REQ_COSINE_HEAD,
  .head_scale = b_head_scale,
#endif
  .hparams = hparams,
  .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
  .validate = NULL,
  .create = b_create,
  .eval = b_eval,
#ifdef ROW_MISMATCH
  .row = b_row,
#endif
  .destroy = b_destroy,
};

static const tb_loss_def *const losses[] = {&loss, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
