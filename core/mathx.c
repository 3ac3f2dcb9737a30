/*
 * mathx.c — the helper table the host hands to plugins (tb_host_api):
 * numerically stable softmax / log-softmax / logsumexp over one row of
 * logits, draws from host random streams, small float32 vector ops whose
 * reductions accumulate in double, sgemm and a symmetric eigendecomposition
 * (LAPACK's dsyev, from OpenBLAS).
 *
 * A component that did not declare TB_SERVICE_RNG is handed a NULL stream;
 * a draw from it returns 0 and records the misuse, which the caller of the
 * plugin turns into a failed run (tb_host_misuse).
 *
 * Provides: tb_host_api_get, tb_host_misuse, tb_host_misuse_clear, tb_softmax_lse,
 *           tb_exp.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "host.h"
#include "rng.h"
#include "tensor.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h" /* TBU_VECTOR_CLONES, as the optimizers' loops */

/* exps of a logsumexp row, a stack block at a time */
#define TB_ROW_STACK 64

static char misuse[256];

const char *tb_host_misuse(void) { return misuse[0] ? misuse : NULL; }
void tb_host_misuse_clear(void) { misuse[0] = 0; }

static int rng_declared(tb_rng *r) {
  if (r) return 1;
  if (!misuse[0])
    snprintf(misuse, sizeof misuse,
             "drew a random number without declaring TB_SERVICE_RNG");
  return 0;
}

static uint64_t h_rng_u64(tb_rng *r) { return rng_declared(r) ? tb_rng_u64(r) : 0; }
static double h_rng_uniform(tb_rng *r) { return rng_declared(r) ? tb_rng_uniform(r) : 0; }
static double h_rng_normal(tb_rng *r) { return rng_declared(r) ? tb_rng_normal(r) : 0; }

/* LAPACK (in OpenBLAS): eigenvalues and eigenvectors of a symmetric matrix */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info);

/* a[n][n] row-major and symmetric is its own column-major transpose; the
 * eigenvectors come back in LAPACK's columns, i.e. our rows */
static int h_syev(int n, double *a, double *w, double *work, int64_t work_n) {
  if (n < 1 || work_n < 3 * (int64_t)n || work_n > 0x7fffffff) return -1;
  int lwork = (int)work_n, info = 0;
  dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info);
  return info;
}

/* ---- exp of a row, vectorized -------------------------------------------------
 *
 * Every softmax, log-softmax and logsumexp of the host table (so of every
 * loss's rows and every evaluation row) takes k exps; libm's exp is called
 * one value at a time and took 15 % of a digits run. row_exp is an exp that
 * gcc vectorizes (4 doubles an AVX2 vector, 2 with SSE2), written here:
 *
 *   x = n ln2 + r, |r| <= ln2/2   (n = x/ln2 rounded to nearest; ln2 split in
 *                                  a 40-bit head, so n * LN2_HI is exact for
 *                                  |n| < 2^13, and the rest)
 *   exp(x) = 2^n exp(r),           exp(r) = 1 + r + r^2 (1/2! + r/3! + ... + r^11/13!)
 *
 * The Taylor series to r^13 leaves 4e-18 of exp(r) at |r| = ln2/2, so the
 * error is that of the double arithmetic: within 1 ulp of the true value
 * (tests/unit/test_mathx.c checks it against expl, rounded, at 2 x 10^6
 * points). 2^n is built from the exponent bits in two halves, 2^a 2^b
 * with a + b = n, so that results in the subnormal range round once and
 * e^x = inf past 709.78 comes out of the product itself. Only IEEE add,
 * multiply and bit operations, no fused multiply-add: the same bits in
 * every vector width and on every x86-64, so results stay the same
 * whichever clone the CPU runs.
 *
 * It is not libm's exp: a result can differ from libm's in the last bit,
 * so runs differ from those of builds before it (2026-12) in the last bits,
 * as they do between math backends (backend.c): the same within float
 * tolerance, which is why the engine's numerics version (util.h) stays. */
#define ROUNDER 0x1.8p52 /* x + ROUNDER - ROUNDER: x rounded to an integer */
#define LN2_HI 0x1.62e42fefa2000p-1
#define LN2_LO 0x1.9ef35793c7673p-41
#define INV_LN2 0x1.71547652b82fep+0

static inline uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}
static inline double of_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* 2^i of an integer-valued i in [-1022, 1023], from its exponent bits */
static inline double pow2i(double i) {
  return of_bits((bits_of(i + ROUNDER) - bits_of(ROUNDER) + 1023) << 52);
}

static inline double exp_one(double x) {
  /* e^-746 rounds to 0 and e^710 overflows: clamping there changes no
   * result and keeps n in range; a NaN passes (both tests are false) */
  x = x < -746.0 ? -746.0 : x;
  x = x > 710.0 ? 710.0 : x;
  const double n = (x * INV_LN2 + ROUNDER) - ROUNDER;
  const double r = (x - n * LN2_HI) - n * LN2_LO;
  double q = 0x1.6124613a86d09p-33; /* 1/13! */
  q = q * r + 0x1.1eed8eff8d898p-29; /* 1/12! */
  q = q * r + 0x1.ae64567f544e4p-26; /* 1/11! */
  q = q * r + 0x1.27e4fb7789f5cp-22; /* 1/10! */
  q = q * r + 0x1.71de3a556c734p-19; /* 1/9! */
  q = q * r + 0x1.a01a01a01a01ap-16; /* 1/8! */
  q = q * r + 0x1.a01a01a01a01ap-13; /* 1/7! */
  q = q * r + 0x1.6c16c16c16c17p-10; /* 1/6! */
  q = q * r + 0x1.1111111111111p-7;  /* 1/5! */
  q = q * r + 0x1.5555555555555p-5;  /* 1/4! */
  q = q * r + 0x1.5555555555555p-3;  /* 1/3! */
  q = q * r + 0.5;
  const double er = 1.0 + (r + r * r * q);
  /* n = a + b, both halves within a double's normal exponents */
  const double a = (n * 0.5 + ROUNDER) - ROUNDER;
  return er * pow2i(a) * pow2i(n - a);
}

/* y[j] = exp(x[j] - m) for j < k (y may be x) */
/* compiled for the x86-64 baseline and AVX2, no FMA: the same bits either way */
TBU_VECTOR_CLONES static void row_exp(double *y, const double *x, double m, int k) {
  for (int j = 0; j < k; j++) y[j] = exp_one(x[j] - m);
}

double tb_exp(double x) { return exp_one(x); }

static double row_max(const double *z, int k) {
  double m = -INFINITY;
  for (int j = 0; j < k; j++)
    if (z[j] > m) m = z[j];
  return m;
}

/* p = softmax(z); the row's maximum in *max and the sum of the exps, which
 * logsumexp's are too (the same terms in the same order). A row whose
 * maximum is not finite (all -inf, or +inf/NaN present) gives NaN/inf
 * through the arithmetic, as before. */
static double softmax_sum(double *p, const double *z, int k, double *max) {
  const double m = row_max(z, k);
  row_exp(p, z, m, k);
  double s = 0;
  for (int j = 0; j < k; j++) s += p[j];
  for (int j = 0; j < k; j++) p[j] /= s;
  *max = m;
  return s;
}

static double h_logsumexp(const double *z, int k) {
  const double m = row_max(z, k);
  if (!isfinite(m)) return m; /* all -inf, or a +inf/NaN present */
  double e[TB_ROW_STACK];
  double s = 0;
  for (int j0 = 0; j0 < k; j0 += TB_ROW_STACK) {
    const int n = k - j0 < TB_ROW_STACK ? k - j0 : TB_ROW_STACK;
    row_exp(e, z + j0, m, n);
    for (int j = 0; j < n; j++) s += e[j];
  }
  return m + log(s);
}

static void h_log_softmax(double *lp, const double *z, int k) {
  double lse = h_logsumexp(z, k);
  for (int j = 0; j < k; j++) lp[j] = z[j] - lse;
}

static void h_softmax(double *p, const double *z, int k) {
  double m;
  softmax_sum(p, z, k, &m);
}

double tb_softmax_lse(double *p, const double *z, int k) {
  /* h_softmax's pass; its maximum and sum are h_logsumexp's, so both
   * results are theirs to the bit */
  double m;
  const double s = softmax_sum(p, z, k, &m);
  return isfinite(m) ? m + log(s) : m;
}

static double h_dot(const float *x, const float *y, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * y[i];
  return s;
}

static double h_nrm2(const float *x, int64_t n) {
  /* scaled to avoid overflow of the squares for huge entries */
  double scale = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = fabs((double)x[i]);
    if (a > scale) scale = a;
  }
  if (scale == 0 || !isfinite(scale)) return scale;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i] / scale;
    s += v * v;
  }
  return scale * sqrt(s);
}

static void h_axpy(float *y, float a, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void h_scal(float *x, float a, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] *= a;
}

static const tb_host_api host_api = {
    .abi_major = TB_ABI_MAJOR,
    .abi_minor = TB_ABI_MINOR,
    .size = sizeof(tb_host_api),
    .softmax = h_softmax,
    .log_softmax = h_log_softmax,
    .logsumexp = h_logsumexp,
    .rng_u64 = h_rng_u64,
    .rng_uniform = h_rng_uniform,
    .rng_normal = h_rng_normal,
    .dot = h_dot,
    .nrm2 = h_nrm2,
    .axpy = h_axpy,
    .scal = h_scal,
    .sgemm = tb_sgemm,
    .syev = h_syev,
    .softmax_lse = tb_softmax_lse,
};

const tb_host_api *tb_host_api_get(void) { return &host_api; }
