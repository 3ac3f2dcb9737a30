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
 * Provides: tb_host_api_get, tb_host_misuse, tb_host_misuse_clear, tb_softmax_lse.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "rng.h"
#include "tensor.h"
#include "trainbench/plugin.h"

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

static double h_logsumexp(const double *z, int k) {
  double m = -INFINITY;
  for (int j = 0; j < k; j++)
    if (z[j] > m) m = z[j];
  if (!isfinite(m)) return m; /* all -inf, or a +inf/NaN present */
  double s = 0;
  for (int j = 0; j < k; j++) s += exp(z[j] - m);
  return m + log(s);
}

static void h_log_softmax(double *lp, const double *z, int k) {
  double lse = h_logsumexp(z, k);
  for (int j = 0; j < k; j++) lp[j] = z[j] - lse;
}

/* p = softmax(z); the row's maximum in *max and the sum of the exps, which
 * logsumexp's are too (the same terms in the same order) */
static double softmax_sum(double *p, const double *z, int k, double *max) {
  double m = -INFINITY;
  for (int j = 0; j < k; j++)
    if (z[j] > m) m = z[j];
  double s = 0;
  for (int j = 0; j < k; j++) {
    p[j] = exp(z[j] - m);
    s += p[j];
  }
  for (int j = 0; j < k; j++) p[j] /= s;
  *max = m;
  return s;
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
};

const tb_host_api *tb_host_api_get(void) { return &host_api; }
