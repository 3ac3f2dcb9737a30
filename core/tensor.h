/*
 * tensor.h — matrix products (tensor.c), the only file of the core that
 * talks to BLAS: its products, its threads and what it says about itself.
 *
 * Provides: tb_sgemm, tb_sgemm_naive, tb_sgemm_backend, tb_sgemm_on,
 * tb_blas_set_threads, tb_blas_describe.
 */
#ifndef TB_TENSOR_H
#define TB_TENSOR_H

/* C[m][n] = alpha * op(A) op(B) + beta * C, row-major; op = transpose if t*.
 * OpenBLAS, or LIBXSMM where tensor.c's rule says so (a fixed function of
 * the arguments, so the same call gives the same bits in every process). */
void tb_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* The naive triple loop, kept as the test oracle (double accumulation). */
void tb_sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);

/* The backends behind tb_sgemm. */
enum { TB_GEMM_OPENBLAS = 0, TB_GEMM_LIBXSMM = 1 };
/* The backend tb_sgemm computes this call with. */
int tb_sgemm_backend(int ta, int tb, int m, int n, int k, float alpha, int lda, int ldb,
                     float beta, int ldc);
/* tb_sgemm on the named backend whatever the rule says, for the calibration
 * benchmark and the tests: 0, or -1 (nothing computed) when that backend
 * cannot compute the call (LIBXSMM: not in this build, alpha != 1, beta not
 * 0 or 1, k = 0, or no kernel for these sizes on this CPU). */
int tb_sgemm_on(int backend, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The threads BLAS may use in this process (workers use one each: a sweep's
 * parallelism is its worker processes). */
void tb_blas_set_threads(int n);

/* What computes the products, for the environment row of the results. */
typedef struct tb_blas_desc {
  char backend[32];  /* "openblas", or "openblas+libxsmm" */
  char version[64];  /* "0.3.21" or "0.3.21+1.17"; "unknown" where a version is not known */
  char kernel[128];  /* the kernels chosen for this CPU: "SkylakeX", "SkylakeX+cpx" */
} tb_blas_desc;
void tb_blas_describe(tb_blas_desc *d);

#endif /* TB_TENSOR_H */
