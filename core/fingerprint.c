/*
 * fingerprint.c — numeric fingerprints of losses, optimizers and schedules.
 *
 * A run is identified by its components' names and versions, so a plugin
 * rebuilt with other numbers but the same version would silently be taken
 * for the old one. Its fingerprint is what it computes on fixed inputs,
 * never its file: a rebuild with other flags (-O0, -O3, an ASan build, FMA
 * contraction, another path) keeps it, a change of the numbers changes it.
 *
 * The probe (version TB_FP_VERSION; every input comes from tb_rng streams
 * with a fixed seed, so it is the same in every process and build):
 *
 *   Settings of the hyperparameters, each accepted by tb_hparams_check:
 *   the defaults; "all moved" (every hyperparameter moved in table order,
 *   a move kept only if the validate hook still accepts the whole); then
 *   each hyperparameter moved alone. A real one moves inside its range: x4
 *   (or /4) on a log scale; a default of 0 to a tenth of the range's top,
 *   at most 1; else x1.5 (or x0.5); failing those, halfway to its farther
 *   end. An int moves by 1, a bool flips, a choice takes each other option.
 *   A single move the validate hook rejects is retried with one other
 *   hyperparameter moved too, the first such pair it accepts. For sgd:
 *   the defaults, all moved, lr=0.04, momentum=0.1, dampening=0.1,
 *   nesterov=true with momentum=0.1, weight_decay=0.1. Settings come in
 *   that order until TB_FP_MAXV values are used (21 settings for a loss,
 *   22 for an optimizer).
 *
 *   Losses, per setting, for K = 2, 5, 10 (N = 6 rows, logits of scale 0.5
 *   to 8, uneven priors): created once per K; then (a) training, no
 *   weights, with dlogits, at epoch 0 step 0; (b) training, weights in
 *   [0.25, 2], with dlogits, at epoch 6 step 137; (c) an evaluation pass
 *   (an evaluation pass) without dlogits, at epoch 9 step 200. Values per K:
 *   status (1 created, -1 create refused: the rest NaN), L_a, G+_a, G-_a,
 *   L_b, G+_b, G-_b, L_c, where G+ = sum_j r_j max(g_j, 0) and G- = sum_j
 *   r'_j max(-g_j, 0) over the gradient's N K entries, with fixed r, r' in
 *   [0.5, 1.5]: 24 values per setting.
 *
 *   Optimizers, per setting: create on the 67 float32 parameters of
 *   probe.c's small mlp, then 6 steps with lr_factor 0.5, 1, 1, 0.25, 1,
 *   0.75 (epoch = (step - 1) / 2) on f = sum 1/2 a_i theta_i^2 + b_i theta_i,
 *   with probe.c's eval and jvp services. Parameters start at s N(0, 1),
 *   s = the default lr, so each step moves them about their own size (a
 *   displacement far below the parameters' size would drown in their
 *   float32 rounding); a_i = sigma_t (0.2 + U) / s and b_i = sigma_t N(0, 1)
 *   keep gradients of size sigma_t = 1, 1e-3, 1e-6, 1e-9 in the four
 *   tensors, so that an epsilon of 1e-8 matters somewhere. (The values are
 *   not divided by s: Adam is invariant under that rescaling, and a change
 *   of its default lr would vanish.) Values: status (steps completed, -1
 *   create refused), P+ and P- of all parameters after each step (12), P+
 *   and P- of each tensor after the last (8), eval calls, jvp calls, where
 *   P+ = sum_i r_i max(theta_i, 0) and P- = sum_i r'_i max(-theta_i, 0):
 *   23 values per setting.
 *
 *   Schedules, per setting: status (1 created, -1 refused), then the factor
 *   at steps 0, 1, 2, 4, 9, 10, 19, 25, 50, 75, 99 of a run of 10 steps per
 *   epoch and 10 epochs, and at steps 0, 3, 6, 13, 20 of one of 7 x 3
 *   (probe_sched.c gives made-up metrics as the last evaluation): 17 values
 *   per setting.
 *
 *   v[0] is the number of settings probed.
 *
 *   Components that declare TB_SERVICE_RNG draw from a fixed stream
 *   (tb_rng_init(TB_FP_SEED, "fingerprint:plugin")); a loss's is put back
 *   before each evaluation. The whole probe takes well under a millisecond
 *   per setting.
 *
 * Why sums of positive and negative parts: they are sums of same-signed
 * terms, so their relative error is at most that of their terms (a plain
 * sum or a projection could cancel to a value made of rounding noise), and
 * the fixed weights r make them see positions, signs and scale.
 *
 * Comparison (tb_fingerprint_same): a and b are the same when they come
 * from one probe version, have as many values, and every pair agrees:
 * |a_i - b_i| <= FP_RTOL max(|a_i|, |b_i|) + FP_FLOOR m, with m the median
 * of the finite non-zero |values| of both; NaN matches NaN and an infinity
 * the same infinity. FP_RTOL = 1e-5 is about 100 float32 roundings: -O0 vs
 * -O2, vectorization and FMA contraction move values by a few (the tests
 * build each plugin those ways); a loss scaled by 1.001 moves them 100
 * times the tolerance. The floor, FP_FLOOR = 1e-6 of the typical value,
 * lets a sum that is float32 rounding noise around 0 in one build match a 0
 * in the other; taking the median keeps it proportional to the component's
 * own scale (a loss 1e-12 times smaller is compared as finely). Not caught:
 * changes below ~1e-5 relative on these inputs, changes that show only on
 * inputs the probe does not make (K > 10, soft targets, zero weights,
 * thousands of steps, other tensor shapes, hyperparameter combinations
 * other than those above), and changes of ranges or help texts (not
 * numbers).
 *
 * The hash is informative (a short name for the store and the messages):
 * XXH3-128 of "fp<version>:" and each value printed with "%.5e" (6
 * significant digits; -0 as 0, NaN as "nan"). Equal hashes mean the same
 * fingerprint; different hashes need not mean different ones (a value on a
 * rounding boundary), which is why the comparison ignores them.
 *
 * Text form: "fp<version>:<hash>:<v0>,<v1>,...", each value in the
 * shortest form that reads back exactly (tb_fmt_real: "0.25", "-3", "NaN",
 * "Infinity", "-Infinity"); no spaces. Decoding checks the hash.
 *
 * Containment: the probe runs plugin code, so it runs in a child process
 * (child.c), one for all the components of a call, reporting over a pipe:
 *   "S\t<i>"          component i starts
 *   "W\t<where>"      the plugin call about to be made ("lr=0.04: step 3")
 *   "F\t<i>\t<text>"  component i's fingerprint
 *   "E"               all done
 * A crash or a timeout fails the component in progress, naming it, its file,
 * the call it was in and how the process ended; a new child carries on with
 * the next component.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "fingerprint.h"
#include "hash.h"
#include "probe.h"
#include "probe_sched.h"
#include "registry.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"

#define TB_FP_SEED 0x66696e6765727072ull /* "fingerpr" */
#define FP_RTOL 1e-5
#define FP_FLOOR 1e-6

/* ------------------------------------------------------------------------ */
/* Hash, text form, comparison                                              */
/* ------------------------------------------------------------------------ */

/* The text of one value for the hash: 6 significant digits. */
static void rounded(char *out, size_t len, double x) {
  if (isnan(x))
    snprintf(out, len, "nan");
  else if (isinf(x))
    snprintf(out, len, x > 0 ? "inf" : "-inf");
  else
    snprintf(out, len, "%.5e", x == 0 ? 0.0 : x); /* -0 as 0 */
}

static void fp_hash(const tb_fingerprint *fp, char out[TB_HASHLEN]) {
  size_t cap = 32 + (size_t)fp->n * 24, k = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  k += (size_t)snprintf(buf, cap, "fp%d:", fp->version);
  for (int i = 0; i < fp->n; i++) {
    char t[40];
    rounded(t, sizeof t, fp->v[i]);
    k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? "," : "", t);
  }
  tb_hash_bytes(out, buf, k);
  free(buf);
}

int tb_fingerprint_encode(const tb_fingerprint *fp, char *out, size_t outlen) {
  if (fp->n <= 0 || fp->n > TB_FP_MAXV) return -1;
  size_t k = (size_t)snprintf(out, outlen, "fp%d:%s:", fp->version, fp->hash);
  for (int i = 0; i < fp->n && k < outlen; i++) {
    char t[40];
    tb_fmt_real(t, sizeof t, fp->v[i]);
    k += (size_t)snprintf(out + k, outlen - k, "%s%s", i ? "," : "", t);
  }
  return k < outlen ? 0 : -1;
}

int tb_fingerprint_decode(const char *text, tb_fingerprint *fp, char *err, size_t errlen) {
  memset(fp, 0, sizeof *fp);
  const char *p = text;
  if (!p || strncmp(p, "fp", 2) != 0 || p[2] < '1' || p[2] > '9') {
    tb_errf(err, errlen, "not a fingerprint (expected 'fp<version>:<hash>:<values>')");
    return -1;
  }
  char *end;
  long version = strtol(p + 2, &end, 10);
  if (*end != ':' || version > 1000000) {
    tb_errf(err, errlen, "not a fingerprint: bad version after 'fp'");
    return -1;
  }
  p = end + 1;
  char hash[TB_HASHLEN];
  for (int i = 0; i < TB_HASHLEN - 1; i++) {
    if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
      tb_errf(err, errlen, "fingerprint: the hash is not 32 lowercase hex digits");
      return -1;
    }
    hash[i] = p[i];
  }
  hash[TB_HASHLEN - 1] = 0;
  p += TB_HASHLEN - 1;
  if (*p != ':') {
    tb_errf(err, errlen, "fingerprint: ':' expected after the hash");
    return -1;
  }
  p++;
  int n = 0;
  for (;;) {
    if (n == TB_FP_MAXV) {
      tb_errf(err, errlen, "fingerprint: more than %d values", TB_FP_MAXV);
      return -1;
    }
    /* strtod skips leading blanks and reads "nan(...)": accept neither */
    if (!*p || *p == ',' || *p == ' ' || *p == '\t' || *p == '\n') {
      tb_errf(err, errlen, "fingerprint: value %d is empty", n + 1);
      return -1;
    }
    errno = 0;
    double x = strtod(p, &end);
    if (end == p || (*end && *end != ',') || memchr(p, '(', (size_t)(end - p))) {
      tb_errf(err, errlen, "fingerprint: value %d is not a number: '%.*s'", n + 1,
              (int)strcspn(p, ","), p);
      return -1;
    }
    fp->v[n++] = x;
    if (!*end) break;
    p = end + 1;
  }
  fp->version = (int)version;
  fp->n = n;
  fp_hash(fp, fp->hash);
  if (strcmp(fp->hash, hash) != 0) {
    tb_errf(err, errlen, "fingerprint: the hash %s does not match its %d values (they hash to %s)",
            hash, n, fp->hash);
    fp->n = 0;
    return -1;
  }
  return 0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* The absolute floor of the comparison: FP_FLOOR times the median of the
 * finite non-zero |values| of both vectors (the median, so that neither a
 * few large values nor the small integers of the bookkeeping set it). */
static double floor_of(const tb_fingerprint *a, const tb_fingerprint *b) {
  double m[2 * TB_FP_MAXV];
  int n = 0;
  for (int i = 0; i < a->n; i++) {
    if (isfinite(a->v[i]) && a->v[i] != 0) m[n++] = fabs(a->v[i]);
    if (isfinite(b->v[i]) && b->v[i] != 0) m[n++] = fabs(b->v[i]);
  }
  if (n == 0) return 0;
  qsort(m, (size_t)n, sizeof m[0], cmp_double);
  return FP_FLOOR * m[n / 2];
}

static int value_same(double x, double y, double floor_) {
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  if (isinf(x) || isinf(y)) return x == y;
  return fabs(x - y) <= FP_RTOL * fmax(fabs(x), fabs(y)) + floor_;
}

int tb_fingerprint_same(const tb_fingerprint *a, const tb_fingerprint *b) {
  if (a->n <= 0 || b->n <= 0 || a->version != b->version) return -1;
  if (a->n != b->n) return 0;
  const double floor_ = floor_of(a, b);
  for (int i = 0; i < a->n; i++)
    if (!value_same(a->v[i], b->v[i], floor_)) return 0;
  return 1;
}

void tb_fingerprint_diff(const tb_fingerprint *a, const tb_fingerprint *b, char *out,
                         size_t outlen) {
  int same = tb_fingerprint_same(a, b);
  if (same == 1) {
    snprintf(out, outlen, "%s", "");
    return;
  }
  if (same < 0) {
    if (a->n <= 0 || b->n <= 0)
      snprintf(out, outlen, "one of the fingerprints is empty");
    else
      snprintf(out, outlen, "made by probe versions %d and %d", a->version, b->version);
    return;
  }
  if (a->n != b->n) {
    snprintf(out, outlen, "%d values vs %d", a->n, b->n);
    return;
  }
  const double floor_ = floor_of(a, b);
  int n_diff = 0, first = -1;
  for (int i = 0; i < a->n; i++)
    if (!value_same(a->v[i], b->v[i], floor_)) {
      n_diff++;
      if (first < 0) first = i;
    }
  char x[40], y[40];
  tb_fmt_real(x, sizeof x, a->v[first]);
  tb_fmt_real(y, sizeof y, b->v[first]);
  double rel = fabs(a->v[first] - b->v[first]) / fmax(fabs(a->v[first]), fabs(b->v[first]));
  snprintf(out, outlen, "%d of %d values differ, the first at #%d: %s vs %s (relative %.2g)",
           n_diff, a->n, first, x, y, rel);
}

/* ------------------------------------------------------------------------ */
/* The probe (in the child)                                                 */
/* ------------------------------------------------------------------------ */

static int g_fd = -1;

/* Say which plugin call comes next, so a crash in it can be named. */
static void where(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void where(const char *fmt, ...) {
  char line[400];
  int k = snprintf(line, sizeof line, "W\t");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + k, sizeof line - (size_t)k - 1, fmt, ap);
  va_end(ap);
  for (char *s = line + k; *s; s++)
    if (*s == '\t' || *s == '\n') *s = ' ';
  size_t n = strlen(line);
  line[n++] = '\n';
  tb_child_send(g_fd, line, n);
}

typedef struct setting {
  double hp[TB_MAX_HP];
  char label[200];
} setting;

static void hp_text(const tb_hparam *h, double v, char *out, size_t len) {
  if (h->type == TB_HP_BOOL)
    snprintf(out, len, "%s", v != 0 ? "true" : "false");
  else if (h->type == TB_HP_CHOICE)
    snprintf(out, len, "%s", h->choices[(int)v]);
  else
    tb_fmt_real(out, len, v);
}

/* The moved values of one hyperparameter (see the top of the file). */
static int moves(const tb_hparam *h, double *vals, int max) {
  const double d = h->def, lo = h->min, hi = h->max;
  int n = 0;
  switch (h->type) {
  case TB_HP_REAL: {
    if (!(hi > lo)) return 0;
    double v;
    if (h->log_scale && d > 0) {
      v = d * 4;
      if (v > hi) v = d / 4;
    } else if (d == 0) {
      v = hi > 0 ? fmin(0.1 * hi, 1) : -fmin(-0.1 * lo, 1);
    } else {
      v = d * 1.5;
      if (v > hi || v < lo) v = d * 0.5;
    }
    if (!(v >= lo && v <= hi) || v == d) v = d - lo > hi - d ? (lo + d) / 2 : (d + hi) / 2;
    if (v != d && v >= lo && v <= hi) vals[n++] = v;
    break;
  }
  case TB_HP_INT:
    if (d + 1 <= hi)
      vals[n++] = d + 1;
    else if (d - 1 >= lo)
      vals[n++] = d - 1;
    break;
  case TB_HP_BOOL: vals[n++] = d != 0 ? 0 : 1; break;
  case TB_HP_CHOICE:
    for (int j = 0; h->choices && h->choices[j] && n < max; j++)
      if (j != (int)d) vals[n++] = j;
    break;
  }
  return n;
}

static int accepted(const tb_component *c, const double *hp) {
  char err[TB_ERRLEN];
  return tb_hparams_check(c, hp, -1, err, sizeof err) == 0;
}

/* The settings to probe, at most max (see the top of the file). */
static int make_settings(const tb_component *c, setting *out, int max) {
  const int nh = c->n_hparams;
  int n = 0;
  setting s;
  tb_hparams_defaults(c, s.hp);
  snprintf(s.label, sizeof s.label, "the defaults");
  if (n < max && accepted(c, s.hp)) out[n++] = s;

  /* all moved, greedily */
  tb_hparams_defaults(c, s.hp);
  snprintf(s.label, sizeof s.label, "all moved");
  int n_moved = 0;
  for (int i = 0; i < nh; i++) {
    double v[64];
    if (moves(&c->hparams[i], v, 64) < 1) continue;
    double keep = s.hp[i];
    s.hp[i] = v[0];
    if (accepted(c, s.hp))
      n_moved++;
    else
      s.hp[i] = keep;
  }
  if (n_moved >= 2 && n < max) out[n++] = s;

  /* each alone, or with the first other move that makes it valid */
  for (int i = 0; i < nh && n < max; i++) {
    const tb_hparam *h = &c->hparams[i];
    double v[64];
    const int nv = moves(h, v, 64);
    for (int a = 0; a < nv && n < max; a++) {
      char t[64];
      tb_hparams_defaults(c, s.hp);
      s.hp[i] = v[a];
      hp_text(h, v[a], t, sizeof t);
      snprintf(s.label, sizeof s.label, "%s=%s", h->name, t);
      int ok = accepted(c, s.hp);
      for (int j = 0; !ok && j < nh; j++) {
        double w[64];
        if (j == i || moves(&c->hparams[j], w, 64) < 1) continue;
        tb_hparams_defaults(c, s.hp);
        s.hp[i] = v[a];
        s.hp[j] = w[0];
        ok = accepted(c, s.hp);
        if (ok) {
          char u[64];
          hp_text(&c->hparams[j], w[0], u, sizeof u);
          snprintf(s.label, sizeof s.label, "%s=%s %s=%s", h->name, t, c->hparams[j].name, u);
        }
      }
      if (ok) out[n++] = s;
    }
  }
  return n;
}

static void push(tb_fingerprint *fp, double x) {
  if (fp->n < TB_FP_MAXV) fp->v[fp->n++] = x;
}

/* sum_i r_i max(sign x_i, 0) over n entries */
static double part(const double *x, const double *r, int n, int sign) {
  double s = 0;
  for (int i = 0; i < n; i++) s += r[i] * fmax(sign * x[i], 0);
  return s;
}

/* ---- losses --------------------------------------------------------------- */

#define FP_N 6
#define FP_NK 3
#define FP_MAXK 10
static const int fp_ks[FP_NK] = {2, 5, 10};
#define LOSS_PER_K 8
#define LOSS_PER_SETTING (FP_NK * LOSS_PER_K)

typedef struct loss_inputs {
  double z[FP_N * FP_MAXK], w[FP_N];
  int32_t y[FP_N];
  double r[FP_N * FP_MAXK], rn[FP_N * FP_MAXK]; /* weights of G+ and G- */
} loss_inputs;

static void loss_inputs_make(loss_inputs *in, int k) {
  static const double scale[FP_N] = {0.5, 1, 2, 3, 5, 8};
  char purpose[64];
  snprintf(purpose, sizeof purpose, "fingerprint:loss:K=%d", k);
  tb_rng r;
  tb_rng_init(&r, TB_FP_SEED, purpose);
  for (int i = 0; i < FP_N; i++) {
    in->y[i] = (int32_t)tb_rng_below(&r, (uint64_t)k);
    in->w[i] = 0.25 + 1.75 * tb_rng_uniform(&r);
    for (int j = 0; j < k; j++) in->z[i * k + j] = scale[i] * tb_rng_normal(&r);
  }
  for (int i = 0; i < FP_N * k; i++) {
    in->r[i] = 0.5 + tb_rng_uniform(&r);
    in->rn[i] = 0.5 + tb_rng_uniform(&r);
  }
}

static void probe_loss(const tb_component *c, const setting *s, tb_fingerprint *fp) {
  tb_rng stream;
  tb_rng_init(&stream, TB_FP_SEED, "fingerprint:plugin");
  for (int a = 0; a < FP_NK; a++) {
    const int k = fp_ks[a];
    loss_inputs in;
    loss_inputs_make(&in, k);
    tb_probe_loss li;
    char err[TB_ERRLEN];
    where("%s, K=%d: create", s->label, k);
    if (tb_probe_loss_open(&li, c, s->hp, k, &stream, err, sizeof err)) {
      push(fp, -1);
      for (int i = 1; i < LOSS_PER_K; i++) push(fp, NAN);
      continue;
    }
    push(fp, 1);
    double dz[FP_N * FP_MAXK];
    const int nk = FP_N * k;
    /* (a) and (b): training steps with dlogits, without and with weights */
    for (int b = 0; b < 2; b++) {
      memset(dz, 0, sizeof dz);
      tb_loss_batch bt = {.n = FP_N, .logits = in.z, .labels = in.y,
                          .weights = b ? in.w : NULL, .epoch = b ? 6 : 0, .n_epochs = 10,
                          .step = b ? 137 : 0, .n_steps = 200, .phase = TB_PHASE_TRAIN, .dlogits = dz};
      where("%s, K=%d: eval (training%s)", s->label, k, b ? ", weighted" : "");
      push(fp, tb_probe_loss_eval(&li, &bt));
      push(fp, part(dz, in.r, nk, 1));
      push(fp, part(dz, in.rn, nk, -1));
    }
    /* (c): an evaluation pass, value only */
    tb_loss_batch bt = {.n = FP_N, .logits = in.z, .labels = in.y, .epoch = 9, .n_epochs = 10,
                        .step = 200, .n_steps = 200, .phase = TB_PHASE_EVAL, .dlogits = NULL};
    where("%s, K=%d: eval (evaluation pass)", s->label, k);
    push(fp, tb_probe_loss_eval(&li, &bt));
    where("%s, K=%d: destroy", s->label, k);
    tb_probe_loss_close(&li);
  }
}

/* ---- optimizers ------------------------------------------------------------ */

#define FP_STEPS 6
static const double lr_factors[FP_STEPS] = {0.5, 1, 1, 0.25, 1, 0.75};
#define OPT_PER_SETTING (1 + 2 * FP_STEPS + 2 * TB_PROBE_NT + 2)

typedef struct opt_inputs {
  double s; /* the scale of the parameters: the default lr */
  float theta0[TB_PROBE_P];
  tb_probe_problem pb;
  double r[TB_PROBE_P], rn[TB_PROBE_P];
} opt_inputs;

static void opt_inputs_make(const tb_component *c, opt_inputs *in) {
  static const double sigma[TB_PROBE_NT] = {1, 1e-3, 1e-6, 1e-9};
  int lr = tb_hparam_index(c, "lr");
  double d = lr >= 0 ? c->hparams[lr].def : 0;
  in->s = d > 0 && isfinite(d) ? d : 1;
  tb_rng r;
  tb_rng_init(&r, TB_FP_SEED, "fingerprint:optimizer");
  int o = 0;
  for (int t = 0; t < TB_PROBE_NT; t++)
    for (int64_t j = 0; j < tb_probe_tensor_numel(t); j++, o++) {
      in->theta0[o] = (float)(in->s * tb_rng_normal(&r));
      in->pb.a[o] = sigma[t] * (0.2 + tb_rng_uniform(&r)) / in->s;
      in->pb.b[o] = sigma[t] * tb_rng_normal(&r);
      in->r[o] = 0.5 + tb_rng_uniform(&r);
      in->rn[o] = 0.5 + tb_rng_uniform(&r);
    }
}

static void probe_opt(const tb_component *c, const setting *s, const opt_inputs *in,
                      tb_fingerprint *fp) {
  tb_rng stream;
  tb_rng_init(&stream, TB_FP_SEED, "fingerprint:plugin");
  tb_probe_opt o;
  char err[TB_ERRLEN];
  where("%s: create", s->label);
  if (tb_probe_opt_open(&o, c, s->hp, in->theta0, &in->pb, &stream, err, sizeof err)) {
    push(fp, -1);
    for (int i = 1; i < OPT_PER_SETTING; i++) push(fp, NAN);
    return;
  }
  const int at = fp->n;
  push(fp, 0); /* the status, filled in below */
  float th[TB_PROBE_P];
  double x[TB_PROBE_P];
  int done = 0;
  for (int t = 0; t < FP_STEPS; t++) {
    if (done == t) {
      o.ctx.lr_factor = lr_factors[t];
      o.ctx.epoch = t / 2;
      where("%s: step %d", s->label, t + 1);
      if (tb_probe_opt_step(&o) == 0) done++;
    }
    if (done == t + 1) {
      tb_probe_opt_get(&o, th);
      for (int i = 0; i < TB_PROBE_P; i++) x[i] = th[i];
      push(fp, part(x, in->r, TB_PROBE_P, 1));
      push(fp, part(x, in->rn, TB_PROBE_P, -1));
    } else {
      push(fp, NAN), push(fp, NAN);
    }
  }
  for (int t = 0, off = 0; t < TB_PROBE_NT; off += (int)tb_probe_tensor_numel(t), t++) {
    const int n = (int)tb_probe_tensor_numel(t);
    push(fp, done == FP_STEPS ? part(x + off, in->r + off, n, 1) : NAN);
    push(fp, done == FP_STEPS ? part(x + off, in->rn + off, n, -1) : NAN);
  }
  push(fp, (double)o.n_eval);
  push(fp, (double)o.n_jvp);
  fp->v[at] = done;
  where("%s: destroy", s->label);
  tb_probe_opt_close(&o);
}

/* ---- schedules ------------------------------------------------------------- */

/* Per setting: the status (1 created, -1 refused: the rest NaN), then the
 * factor at fixed steps of two runs — 10 steps per epoch for 10 epochs
 * (warmup, the first decays, the middle, the end) and 7 for 3 (an epoch that
 * does not divide evenly) — with made-up metrics as the last evaluation. */
static const int64_t sched_steps_a[] = {0, 1, 2, 4, 9, 10, 19, 25, 50, 75, 99};
static const int64_t sched_steps_b[] = {0, 3, 6, 13, 20};
#define N_SA (int)(sizeof sched_steps_a / sizeof *sched_steps_a)
#define N_SB (int)(sizeof sched_steps_b / sizeof *sched_steps_b)
#define SCHED_PER_SETTING (1 + N_SA + N_SB)

static void probe_sched(const tb_component *c, const setting *s, tb_fingerprint *fp) {
  static const struct {
    int64_t S;
    int E;
    const int64_t *t;
    int n;
  } runs[2] = {{10, 10, sched_steps_a, N_SA}, {7, 3, sched_steps_b, N_SB}};
  tb_probe_sched ps[2];
  char err[TB_ERRLEN];
  int ok = 1;
  for (int r = 0; r < 2; r++) {
    where("%s, %lld steps x %d epochs: create", s->label, (long long)runs[r].S, runs[r].E);
    if (tb_probe_sched_open(&ps[r], c, s->hp, runs[r].S, runs[r].E, err, sizeof err)) {
      for (int q = 0; q < r; q++) tb_probe_sched_close(&ps[q]);
      ok = 0;
      break;
    }
  }
  push(fp, ok ? 1 : -1);
  for (int r = 0; r < 2; r++)
    for (int i = 0; i < runs[r].n; i++) {
      if (ok) where("%s: factor at step %lld", s->label, (long long)runs[r].t[i]);
      push(fp, ok ? tb_probe_sched_factor(&ps[r], runs[r].t[i]) : NAN);
    }
  if (!ok) return;
  where("%s: destroy", s->label);
  for (int r = 0; r < 2; r++) tb_probe_sched_close(&ps[r]);
}

static void probe(const tb_component *c, tb_fingerprint *fp) {
  memset(fp, 0, sizeof *fp);
  fp->version = TB_FP_VERSION;
  const int per = c->kind == TB_KIND_LOSS        ? LOSS_PER_SETTING
                  : c->kind == TB_KIND_SCHEDULE ? SCHED_PER_SETTING
                                                : OPT_PER_SETTING;
  const int max = (TB_FP_MAXV - 1) / per;
  setting *ss = malloc(sizeof *ss * (size_t)max);
  if (!ss) abort();
  const int ns = make_settings(c, ss, max);
  push(fp, ns);
  opt_inputs oin;
  if (c->kind == TB_KIND_OPTIMIZER) opt_inputs_make(c, &oin);
  for (int i = 0; i < ns; i++) {
    if (c->kind == TB_KIND_LOSS)
      probe_loss(c, &ss[i], fp);
    else if (c->kind == TB_KIND_SCHEDULE)
      probe_sched(c, &ss[i], fp);
    else
      probe_opt(c, &ss[i], &oin, fp);
  }
  free(ss);
  fp_hash(fp, fp->hash);
}

static void child_main(const tb_component *const *cs, int first, int n, int fd) {
  g_fd = fd;
  char *text = malloc(TB_FP_TEXTMAX + 64);
  tb_fingerprint *fp = malloc(sizeof *fp);
  if (!text || !fp) _exit(5);
  for (int i = first; i < n; i++) {
    char line[32];
    int k = snprintf(line, sizeof line, "S\t%d\n", i);
    tb_child_send(g_fd, line, (size_t)k);
    probe(cs[i], fp);
    k = snprintf(text, 64, "F\t%d\t", i);
    if (tb_fingerprint_encode(fp, text + k, TB_FP_TEXTMAX)) _exit(6);
    size_t len = strlen(text);
    text[len++] = '\n';
    tb_child_send(g_fd, text, len);
  }
  tb_child_send(g_fd, "E\n", 2);
  close(fd);
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */
/* ------------------------------------------------------------------------ */

typedef struct run {
  tb_child ch;
  const tb_component *const *cs;
  int n;
  tb_fingerprint *out;
  int *ok;
  int cur;          /* the component in progress, -1 before the first */
  double started;   /* when it started */
  char where[300];  /* the last plugin call announced */
  int got_end;
  char bad[300];    /* a protocol problem */
} run;

static void on_line(void *ud, char *line) {
  run *r = ud;
  if (line[0] == 'S' && line[1] == '\t') {
    int i = atoi(line + 2);
    if (i >= 0 && i < r->n) {
      r->cur = i;
      r->started = tb_now_mono();
      r->where[0] = 0;
    }
  } else if (line[0] == 'W' && line[1] == '\t') {
    snprintf(r->where, sizeof r->where, "%s", line + 2);
  } else if (line[0] == 'F' && line[1] == '\t') {
    char *tab = strchr(line + 2, '\t');
    int i = atoi(line + 2);
    char err[TB_ERRLEN];
    if (!tab || i != r->cur) {
      snprintf(r->bad, sizeof r->bad, "a garbled report from the probe");
      return;
    }
    if (tb_fingerprint_decode(tab + 1, &r->out[i], err, sizeof err)) {
      snprintf(r->bad, sizeof r->bad, "a garbled report from the probe (%.200s)", err);
      return;
    }
    r->ok[i] = 1;
  } else if (line[0] == 'E' && line[1] == 0) {
    r->got_end = 1;
  }
}

static void add_failure(char *err, size_t errlen, int *n_failed, const tb_component *c,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_failure(char *err, size_t errlen, int *n_failed, const tb_component *c,
                        const char *fmt, ...) {
  char why[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  size_t k = *n_failed ? strlen(err) : 0;
  if (k < errlen)
    snprintf(err + k, errlen - k, "%s%s '%s' (%s): %s", *n_failed ? "; " : "",
             tb_kind_name(c->kind), c->name, c->file ? c->file : "?", why);
  (*n_failed)++;
}

int tb_fingerprint_components(const tb_component *const *cs, int n, double timeout,
                              tb_fingerprint *out, char *err, size_t errlen) {
  if (errlen) err[0] = 0;
  int n_failed = 0;
  int *ok = calloc(n > 0 ? (size_t)n : 1, sizeof *ok);
  if (!ok) abort();
  for (int i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
    if (!cs[i] || !((cs[i]->kind == TB_KIND_LOSS && cs[i]->loss) ||
                    (cs[i]->kind == TB_KIND_OPTIMIZER && cs[i]->opt) ||
                    (cs[i]->kind == TB_KIND_SCHEDULE && cs[i]->sched))) {
      tb_errf(err, errlen, "component %d is not a loss, an optimizer or a schedule", i + 1);
      free(ok);
      return -1;
    }
  }
  int next = 0;
  while (next < n) {
    run r;
    memset(&r, 0, sizeof r);
    r.cs = cs, r.n = n, r.out = out, r.ok = ok, r.cur = -1, r.started = tb_now_mono();
    int msg_fd;
    char ferr[TB_ERRLEN];
    int rc = tb_child_fork(&r.ch, &msg_fd, NULL, 0, ferr, sizeof ferr);
    if (rc < 0) {
      for (int i = next; i < n; i++)
        add_failure(err, errlen, &n_failed, cs[i], "cannot start the fingerprint probe: %s", ferr);
      break;
    }
    if (rc == 0) {
      child_main(cs, next, n, msg_fd);
      _exit(0); /* not exit(): atexit handlers and stdio buffers belong to the parent */
    }
    int wstatus;
    const int reaped = tb_child_wait(&r.ch, timeout > 0 ? r.started + timeout : 0, on_line, &r,
                                     -1, &wstatus),
              timed_out = reaped < 0;
    tb_child_close(&r.ch);
    if (r.got_end && !timed_out && !r.bad[0]) break;
    /* the component in progress failed; the ones before it are done */
    int cur = r.cur >= 0 ? r.cur : next;
    if (ok[cur]) { /* it died between two components: nothing of the next one ran */
      next = cur + 1;
      continue;
    }
    char tail[400], how[160], in[340] = "";
    tb_child_tail_text(&r.ch, tail, sizeof tail, 300);
    if (r.where[0]) snprintf(in, sizeof in, " in %s", r.where);
    if (r.bad[0]) {
      add_failure(err, errlen, &n_failed, cs[cur], "the fingerprint probe sent %s", r.bad);
    } else if (timed_out) {
      add_failure(err, errlen, &n_failed, cs[cur],
                  "the fingerprint probe timed out%s: still running after %g s, killed%s%s", in,
                  timeout, tail[0] ? "; output: " : "", tail);
    } else {
      if (reaped == 0)
        snprintf(how, sizeof how, "ended (its status was collected elsewhere)");
      else
        tb_wait_status_text(wstatus, how, sizeof how);
      /* a sanitizer reports a SEGV and exits 1: a crash all the same */
      const int signaled =
          (reaped > 0 && WIFSIGNALED(wstatus)) || strncmp(tail, "SUMMARY: ", 9) == 0;
      add_failure(err, errlen, &n_failed, cs[cur], "the fingerprint probe %s%s: %s%s%s",
                  signaled ? "crashed" : "ended early", in, how, tail[0] ? "; output: " : "",
                  tail);
    }
    ok[cur] = 0;
    memset(&out[cur], 0, sizeof out[cur]);
    next = cur + 1;
  }
  free(ok);
  return n_failed ? -1 : 0;
}

int tb_fingerprint_component(const tb_component *c, double timeout, tb_fingerprint *out,
                             char *err, size_t errlen) {
  const tb_component *cs[1] = {c};
  return tb_fingerprint_components(cs, 1, timeout, out, err, errlen);
}
