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
#else
#error "build with one of -DBAD_SIGN, -DNO_MEAN, -DNAN_BIG, -DRNG_SNEAK"
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
 * (each variant breaks this in the one way named above)
 */
static const tb_hparam hparams[] = {
  {.name = "scale", .type = TB_HP_REAL, .def = 1.0, .min = 0.5, .max = 2.0,
   .help = "factor on the loss and its gradient"},
};

typedef struct bstate {
  const tb_host_api *host;
  int k;
  double scale;
  double *p; /* [K] scratch */
} bstate;

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
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k;
    const double w = (b->weights ? b->weights[i] : 1.0) * s->scale;
    const int y = b->labels[i];
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    double li;
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
    for (int j = 0; j < k; j++) dz[j] = f * (s->p[j] - (j == y));
  }
  return total / n;
}

static const tb_loss_def loss = {
  TB_DEF_SIZES(tb_loss_def),
  .name = LOSS_NAME,
  .version = "1",
  .summary = "softmax cross-entropy, broken on purpose for the checker's tests",
  .reference = "Bridle, \"Probabilistic Interpretation of Feedforward Classification Network "
               "Outputs\", 1990",
  .services = 0,
  .hparams = hparams,
  .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
  .validate = NULL,
  .create = b_create,
  .eval = b_eval,
  .destroy = b_destroy,
};

static const tb_loss_def *const losses[] = {&loss, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
