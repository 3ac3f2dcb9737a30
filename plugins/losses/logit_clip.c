/*
 * logit_clip.c — LogitClip, a loss wrapper: each row of logits is scaled
 * down onto the ball of L2 radius delta (when it lies outside), then any
 * base loss is taken on the clipped logits.
 *
 * Provides: tb_plugin_entry, with one loss, "logit_clip" (batch form; it runs
 * its base through the host's eval_base service, TB_SERVICE_BASE).
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: Wei et al., "Mitigating Memorization of Noisy Labels by Clipping
 * the Model Prediction", ICML 2023 (LogitClip; the paper writes the bound
 * as 1/tau, here delta). Per row, with s = ||z||_2:
 *
 *   z'   = z min(1, delta / s)
 *   loss = base(z', y)                       (targets, weights, phase passed through)
 *
 * and with g' = d(mean loss)/dz' from the base:
 *
 *   s <= delta:  dloss/dz = g'
 *   s >  delta:  dloss/dz = (delta / s) (g' - u (u . g')),   u = z / s
 *
 * (the Jacobian of delta z / s is (delta / s)(I - u u^T), symmetric). Writing
 * it with the unit vector u rather than z (z^T g') / s^2 keeps huge rows
 * finite; s itself is computed with a rescaling when sum z^2 overflows.
 * A row whose g' is all zero (a zero-weight row the base skipped) gets a
 * zero gradient without looking at its logits, so not even a NaN of theirs
 * reaches dlogits. The paper's code adds 1e-7 to s; this file does not (it
 * divides by s only when s > delta > 0).
 *
 * The wrapper is a mean of per-sample terms exactly when its base is; it
 * owns no tensors (the base gets none) and allocates scratch for z' and g'
 * [N][K] only when N K grows beyond what it holds.
 */
enum { HP_BASE, HP_DELTA, N_HP };

static const tb_hparam hparams[N_HP] = {
  [HP_BASE] = {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_LOSS,
               .def_text = "cross_entropy", .help = "the loss taken on the clipped logits"},
  [HP_DELTA] = TBU_HP_REAL("delta", 10.0, 0.1, 1000.0, 1,
                           "bound on each logit row's L2 norm (1/tau in the paper; the "
                           "default 10 is ours, not the paper's)"),
};

typedef struct clip_state {
  double delta;
  size_t cap;    /* doubles in each of zc and gc */
  double *zc;    /* [cap] clipped logits z' */
  double *gc;    /* [cap] d(mean loss)/dz' from the base */
} clip_state;

static int clip_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  clip_state *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->delta = init->hp[HP_DELTA];
  *state = st;
  return 0;
}

static void clip_destroy(void *state) {
  clip_state *st = state;
  if (!st) return;
  free(st->zc);
  free(st->gc);
  free(st);
}

/* Room for n doubles in zc and gc (grow-only); 0, or -1 out of memory (the
 * state then holds nothing). */
static int clip_reserve(clip_state *st, size_t n) {
  if (n <= st->cap) return 0;
  free(st->zc);
  free(st->gc);
  st->zc = malloc(sizeof *st->zc * n);
  st->gc = malloc(sizeof *st->gc * n);
  if (!st->zc || !st->gc) {
    free(st->zc);
    free(st->gc);
    st->zc = st->gc = NULL;
    st->cap = 0;
    return -1;
  }
  st->cap = n;
  return 0;
}

/* ||z||_2 of one row [k]; rescaled by max |z_j| when the plain sum of
 * squares overflows or underflows (never for ordinary logits). */
static double row_norm(const double *z, int k) {
  double ss = 0;
  for (int j = 0; j < k; j++) ss += z[j] * z[j];
  if (isfinite(ss) && ss > 1e-280) return sqrt(ss);
  double m = 0;
  for (int j = 0; j < k; j++) m = fmax(m, fabs(z[j]));
  if (!(m > 0) || !isfinite(m)) return ss != ss ? NAN : m; /* 0, inf or NaN */
  double s2 = 0;
  for (int j = 0; j < k; j++) {
    const double x = z[j] / m;
    s2 += x * x;
  }
  return m * sqrt(s2);
}

static double clip_eval(void *state, const tb_loss_batch *b) {
  clip_state *st = state;
  if (!b->eval_base) return NAN; /* a host without the base service */
  const int n = b->n, k = b->k;
  tb_loss_batch bb = *b;
  bb.tensors = NULL; /* the wrapper owns no tensors, so neither does its base */
  bb.dtensors = NULL;
  bb.n_tensors = 0;
  if (n <= 0 || k <= 0) { /* nothing to clip: the base's own answer */
    bb.dlogits = NULL;
    return b->eval_base(b->host_ctx, HP_BASE, &bb);
  }
  const size_t nk = (size_t)n * (size_t)k;
  if (clip_reserve(st, nk)) return NAN;
  const double delta = st->delta;
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k;
    double *zc = st->zc + (size_t)i * k;
    const double s = row_norm(z, k);
    if (s > delta) {
      const double c = delta / s; /* z' = delta u, u = z / s */
      for (int j = 0; j < k; j++) zc[j] = z[j] * c;
    } else {
      for (int j = 0; j < k; j++) zc[j] = z[j]; /* NaN rows too: the base decides */
    }
  }
  bb.logits = st->zc;
  bb.dlogits = b->dlogits ? st->gc : NULL;
  const double loss = b->eval_base(b->host_ctx, HP_BASE, &bb);
  if (!isfinite(loss) || !b->dlogits) return loss;
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k, *g = st->gc + (size_t)i * k;
    double *dz = b->dlogits + (size_t)i * k;
    int zero = 1;
    for (int j = 0; j < k && zero; j++) zero = g[j] == 0;
    if (zero) { /* J^T 0 = 0, whatever the row's logits */
      for (int j = 0; j < k; j++) dz[j] = 0;
      continue;
    }
    const double s = row_norm(z, k);
    if (!(s > delta)) {
      for (int j = 0; j < k; j++) dz[j] = g[j];
      continue;
    }
    const double inv = 1 / s, c = delta / s;
    double ug = 0; /* u . g' */
    for (int j = 0; j < k; j++) ug += z[j] * inv * g[j];
    for (int j = 0; j < k; j++) dz[j] = c * (g[j] - z[j] * inv * ug);
  }
  return loss;
}

static const tb_loss_def logit_clip = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "logit_clip",
  .version = "1",
  .summary = "LogitClip: any base loss on logits clipped to an L2 norm of at most delta",
  .reference = "Wei et al., \"Mitigating Memorization of Noisy Labels by Clipping the Model "
               "Prediction\", ICML 2023 (delta = 1/tau; the default delta 10 is ours)",
  .services = TB_SERVICE_BASE,
  /* soft targets pass through to the base (which must read them too); a mean of
     per-sample terms exactly when the base is (the core reads the tree) */
  .flags = TB_LOSS_SOFT_TARGETS,
  .requires = 0,
  .hparams = hparams,
  .n_hparams = N_HP,
  .validate = NULL,
  .create = clip_create,
  .eval = clip_eval, /* the batch form: the base runs on the whole clipped batch */
  .row = NULL,
  .destroy = clip_destroy,
};

static const tb_loss_def *const losses[] = {&logit_clip, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
