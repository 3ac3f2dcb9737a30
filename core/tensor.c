/*
 * tensor.c — matrix products for the model: OpenBLAS sgemm in row-major
 * layout, and the naive triple loop kept beside it as the test oracle. The
 * only file of the core that includes the BLAS headers: the sweep sets the
 * BLAS threads and the store describes the backend through it.
 *
 * Provides: tb_sgemm, tb_sgemm_naive, tb_blas_set_threads, tb_blas_describe.
 */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "tensor.h"

/* C[m][n] = alpha * op(A)[m][k] op(B)[k][n] + beta * C */
void tb_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
              n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void tb_sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) {
        double av = ta ? a[p * lda + i] : a[i * lda + p];
        double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      double prev = beta == 0 ? 0 : (double)beta * c[i * ldc + j];
      c[i * ldc + j] = (float)(alpha * s + prev);
    }
}

void tb_blas_set_threads(int n) { openblas_set_num_threads(n); }

/* The version from OpenBLAS's configuration string "OpenBLAS 0.3.21
 * DYNAMIC_ARCH ..." */
void tb_blas_describe(tb_blas_desc *d) {
  snprintf(d->backend, sizeof d->backend, "openblas");
  const char *c = openblas_get_config();
  snprintf(d->version, sizeof d->version, "unknown");
  if (c && strncmp(c, "OpenBLAS ", 9) == 0) {
    size_t n = strcspn(c + 9, " ");
    if (n > 0 && n < sizeof d->version)
      snprintf(d->version, sizeof d->version, "%.*s", (int)n, c + 9);
  }
  const char *core = openblas_get_corename();
  snprintf(d->kernel, sizeof d->kernel, "%s", core ? core : "unknown");
}
