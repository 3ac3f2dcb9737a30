/*
 * tensor.h — matrix products (tensor.c), the only file of the core that
 * talks to BLAS: its products, its threads and what it says about itself.
 *
 * Provides: tb_sgemm, tb_sgemm_naive, tb_blas_set_threads, tb_blas_describe.
 */
#ifndef TB_TENSOR_H
#define TB_TENSOR_H

/* C[m][n] = alpha * op(A) op(B) + beta * C, row-major; op = transpose if t*. */
void tb_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* The naive triple loop, kept as the test oracle (double accumulation). */
void tb_sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);

/* The threads BLAS may use in this process (workers use one each: a sweep's
 * parallelism is its worker processes). */
void tb_blas_set_threads(int n);

/* What computes the products, for the environment row of the results. */
typedef struct tb_blas_desc {
  char backend[16];  /* "openblas" */
  char version[64];  /* "0.3.21", or "unknown" */
  char kernel[128];  /* the kernels chosen for this CPU ("Haswell"), or "unknown" */
} tb_blas_desc;
void tb_blas_describe(tb_blas_desc *d);

#endif /* TB_TENSOR_H */
