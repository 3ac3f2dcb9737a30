/*
 * stages.c — the built-in components of the training step's stages (see
 * stages.h): corruptions of the training split, batch transforms and
 * reductions of the per-sample losses, each a table and a function.
 *
 * Provides: tb_corruption_components, tb_transform_components,
 * tb_reduction_components, tb_stage_is_default, tb_corrupt_labels,
 * tb_transform_batch, tb_reduce_weights, tb_reduction_needs_losses.
 */
/* qsort_r: _GNU_SOURCE comes from meson.build */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"
#include "trainbench/plugin.h"

/* ---- the tables ------------------------------------------------------------------ */

static const tb_hparam no_hp[1];

/*
 * label_noise. Han et al., "Co-teaching: Robust Training of Deep Neural
 * Networks with Extremely Noisy Labels", 2018, Section 4 (noise transition
 * matrices): each training label, independently with probability `rate`,
 * becomes
 *   symmetric: one of the other K - 1 classes, uniformly (T_ij = rate/(K-1), i != j)
 *   pair:      the next class, (y + 1) mod K          (T_i,i+1 = rate)
 * drawn from the run's stream "corruption". The validation and test splits
 * keep their labels.
 */
enum { LN_RATE, LN_KIND, LN_N };
static const char *const ln_kinds[] = {"symmetric", "pair", NULL};
static const tb_hparam label_noise_hp[LN_N] = {
    [LN_RATE] = {.name = "rate", .type = TB_HP_REAL, .def = 0.2, .min = 0, .max = 1,
                 .help = "probability that a training label is flipped"},
    [LN_KIND] = {.name = "kind", .type = TB_HP_CHOICE, .def = 0, .min = 0, .max = 1,
                 .choices = ln_kinds,
                 .help = "symmetric: to another class uniformly; pair: to the next class"},
};

static const tb_component corruption_defs[] = {
    {.kind = TB_KIND_CORRUPTION, .name = "none", .version = "1",
     .summary = "the training split as it is", .reference = "-",
     .hparams = (tb_hparam *)no_hp, .n_hparams = 0},
    {.kind = TB_KIND_CORRUPTION, .name = "label_noise", .version = "1",
     .summary = "flip training labels: symmetric or pair noise",
     .reference = "Han et al., Co-teaching, 2018 (symmetric and pair flipping)",
     .hparams = (tb_hparam *)label_noise_hp, .n_hparams = LN_N},
};

/*
 * mixup. Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk
 * Minimization", 2018: per batch, lambda ~ Beta(alpha, alpha) and a random
 * permutation pi of the batch's rows (stream "transform"), then
 *   x_i <- lambda x_i + (1 - lambda) x_pi(i)
 *   t_i <- lambda e_{y_i} + (1 - lambda) e_{y_pi(i)}
 * in float32 for x (as the model's inputs are) and double for t. The loss
 * must read soft targets (TB_LOSS_SOFT_TARGETS); its label is the argmax.
 */
enum { MU_ALPHA, MU_N };
static const tb_hparam mixup_hp[MU_N] = {
    [MU_ALPHA] = {.name = "alpha", .type = TB_HP_REAL, .def = 1.0, .min = 1e-3, .max = 100,
                  .log_scale = 1, .help = "lambda ~ Beta(alpha, alpha)"},
};

static const tb_component transform_defs[] = {
    {.kind = TB_KIND_TRANSFORM, .name = "none", .version = "1",
     .summary = "batches as sampled, one-hot labels", .reference = "-",
     .hparams = (tb_hparam *)no_hp, .n_hparams = 0},
    {.kind = TB_KIND_TRANSFORM, .name = "mixup", .version = "1",
     .summary = "convex combinations of pairs of rows and of their one-hot targets",
     .reference = "Zhang et al., mixup: Beyond Empirical Risk Minimization, 2018",
     .hparams = (tb_hparam *)mixup_hp, .n_hparams = MU_N},
};

/*
 * small_loss. The small-loss selection of Han et al., "Co-teaching", 2018
 * (one network: its own selection, without the exchange): at epoch T
 * (0-based) the fraction R(T) = 1 - min(T tau / T_k, tau) of the batch with
 * the smallest losses is kept, tau = `forget`, T_k = `ramp` epochs (0: tau
 * from the start). Kept rows get weight n / n_keep, the others 0, so the
 * mean is the mean over the kept rows. n_keep = n - floor((1 - R(T)) n), at
 * least 1. Ties keep the earlier row. A batch with a non-finite loss keeps
 * every row, so that its divergence shows.
 */
enum { SL_FORGET, SL_RAMP, SL_N };
static const tb_hparam small_loss_hp[SL_N] = {
    [SL_FORGET] = {.name = "forget", .type = TB_HP_REAL, .def = 0.2, .min = 0, .max = 0.99,
                   .help = "tau: the fraction of each batch dropped once ramped up"},
    [SL_RAMP] = {.name = "ramp", .type = TB_HP_REAL, .def = 10, .min = 0, .max = 1e6,
                 .help = "T_k: epochs over which the dropped fraction grows from 0 to tau"},
};

static const tb_component reduction_defs[] = {
    {.kind = TB_KIND_REDUCTION, .name = "mean", .version = "1",
     .summary = "the plain mean of the per-sample losses", .reference = "-",
     .hparams = (tb_hparam *)no_hp, .n_hparams = 0},
    {.kind = TB_KIND_REDUCTION, .name = "small_loss", .version = "1",
     .summary = "the mean over the rows of smallest loss: drop a growing fraction",
     .reference = "Han et al., Co-teaching, 2018 (small-loss selection, one network)",
     .hparams = (tb_hparam *)small_loss_hp, .n_hparams = SL_N},
};

#define LIST(fn, defs)                                                                      \
  const tb_component *const *fn(int *n) {                                                   \
    enum { N = (int)(sizeof defs / sizeof *defs) };                                         \
    static const tb_component *list[N];                                                     \
    if (!list[0])                                                                           \
      for (int i = 0; i < N; i++) list[i] = &defs[i];                                       \
    *n = N;                                                                                 \
    return list;                                                                            \
  }
LIST(tb_corruption_components, corruption_defs)
LIST(tb_transform_components, transform_defs)
LIST(tb_reduction_components, reduction_defs)

int tb_stage_is_default(const tb_instance *in) {
  int n;
  const tb_component *const *first =
      in->comp->kind == TB_KIND_CORRUPTION  ? tb_corruption_components(&n)
      : in->comp->kind == TB_KIND_TRANSFORM ? tb_transform_components(&n)
                                            : tb_reduction_components(&n);
  return in->comp == first[0] && tb_instance_is_default(in);
}

static int named(const tb_instance *in, const char *name) {
  return strcmp(in->comp->name, name) == 0;
}

/* ---- corruption ------------------------------------------------------------------ */

int64_t tb_corrupt_labels(const tb_instance *in, int32_t *y, int64_t n, int k, tb_rng *r) {
  if (!named(in, "label_noise") || k < 2) return 0;
  const double rate = in->hp[LN_RATE];
  const int pair = (int)in->hp[LN_KIND] == 1;
  int64_t changed = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!(tb_rng_uniform(r) < rate)) continue;
    if (pair) {
      y[i] = (y[i] + 1) % k;
    } else {
      int32_t o = (int32_t)tb_rng_below(r, (uint64_t)k - 1); /* another class */
      y[i] = o >= y[i] ? o + 1 : o;
    }
    changed++;
  }
  return changed;
}

/* ---- transform ------------------------------------------------------------------- */

/* Gamma(a, 1): Marsaglia & Tsang, "A Simple Method for Generating Gamma
 * Variables", 2000; for a < 1, Gamma(a + 1) U^(1/a). */
static double gamma_draw(tb_rng *r, double a) {
  if (a < 1) {
    double u = tb_rng_uniform(r);
    return gamma_draw(r, a + 1) * pow(u > 0 ? u : 1e-300, 1 / a);
  }
  const double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      x = tb_rng_normal(r);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = tb_rng_uniform(r);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
  }
}

int tb_transform_batch(const tb_instance *in, const float *x, float *xout, int32_t *y,
                       double *targets, int32_t *perm, int n, int d, int k, tb_rng *r) {
  if (!named(in, "mixup")) return 0;
  const double alpha = in->hp[MU_ALPHA];
  const double g1 = gamma_draw(r, alpha), g2 = gamma_draw(r, alpha);
  const double lam = g1 + g2 > 0 ? g1 / (g1 + g2) : 0.5;
  for (int i = 0; i < n; i++) perm[i] = i;
  tb_rng_shuffle(r, perm, n);
  const float lf = (float)lam, mf = (float)(1 - lam);
  for (int i = 0; i < n; i++) {
    const float *a = x + (size_t)i * d, *b = x + (size_t)perm[i] * d;
    float *o = xout + (size_t)i * d;
    for (int j = 0; j < d; j++) o[j] = lf * a[j] + mf * b[j];
    double *t = targets + (size_t)i * k;
    memset(t, 0, sizeof *t * (size_t)k);
    t[y[i]] += lam;
    t[y[perm[i]]] += 1 - lam;
  }
  for (int i = 0; i < n; i++) { /* labels from the targets, now that every row has read y */
    const double *t = targets + (size_t)i * k;
    int arg = 0;
    for (int j = 1; j < k; j++)
      if (t[j] > t[arg]) arg = j;
    y[i] = arg;
  }
  return 1;
}

/* ---- reduction ------------------------------------------------------------------- */

int tb_reduction_needs_losses(const tb_instance *in) { return named(in, "small_loss"); }

static int by_loss(const void *a, const void *b, void *losses) {
  const double *l = losses;
  const int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
  return l[i] < l[j] ? -1 : l[i] > l[j] ? 1 : (i > j) - (i < j);
}

int tb_reduce_weights(const tb_instance *in, const double *losses, double *w, int32_t *order,
                      int n, int epoch) {
  for (int i = 0; i < n; i++) w[i] = 1;
  if (!named(in, "small_loss")) return 0;
  for (int i = 0; i < n; i++)
    if (!isfinite(losses[i])) return 0; /* keep them all: the divergence must show */
  const double tau = in->hp[SL_FORGET], ramp = in->hp[SL_RAMP];
  const double drop = ramp > 0 ? fmin((double)epoch * tau / ramp, tau) : tau;
  int n_drop = (int)floor(drop * n);
  if (n_drop > n - 1) n_drop = n - 1;
  if (n_drop <= 0) return 0;
  for (int i = 0; i < n; i++) order[i] = i;
  qsort_r(order, (size_t)n, sizeof *order, by_loss, (void *)losses);
  const double keep_w = (double)n / (double)(n - n_drop);
  for (int i = 0; i < n - n_drop; i++) w[order[i]] = keep_w;
  for (int i = n - n_drop; i < n; i++) w[order[i]] = 0;
  return n_drop;
}
