/*
 * tensor.c — matrix products for the model: OpenBLAS sgemm in row-major
 * layout, and the naive triple loop kept beside it as the test oracle.
 *
 * Provides: tb_sgemm, tb_sgemm_naive.
 */
#include <cblas.h>

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
