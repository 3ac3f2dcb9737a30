/*
 * tensor.h — matrix products (tensor.c), the only place that calls BLAS.
 *
 * Provides: tb_sgemm, tb_sgemm_naive.
 */
#ifndef TB_TENSOR_H
#define TB_TENSOR_H

/* C[m][n] = alpha * op(A) op(B) + beta * C, row-major; op = transpose if t*. */
void tb_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* The naive triple loop, kept as the test oracle (double accumulation). */
void tb_sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);

#endif /* TB_TENSOR_H */
