/*
 * mathx.c — the helper table the host hands to plugins (tb_host_api):
 * numerically stable softmax / log-softmax / logsumexp over one row of
 * logits, draws from host random streams, and small float32 vector ops whose
 * reductions accumulate in double.
 */
#include <math.h>

#include "host.h"
#include "rng.h"
#include "trainbench/plugin.h"

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

static void h_softmax(double *p, const double *z, int k) {
  double m = -INFINITY;
  for (int j = 0; j < k; j++)
    if (z[j] > m) m = z[j];
  double s = 0;
  for (int j = 0; j < k; j++) {
    p[j] = exp(z[j] - m);
    s += p[j];
  }
  for (int j = 0; j < k; j++) p[j] /= s;
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
    .rng_u64 = tb_rng_u64,
    .rng_uniform = tb_rng_uniform,
    .rng_normal = tb_rng_normal,
    .dot = h_dot,
    .nrm2 = h_nrm2,
    .axpy = h_axpy,
    .scal = h_scal,
};

const tb_host_api *tb_host_api_get(void) { return &host_api; }
