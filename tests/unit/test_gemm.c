/* test_gemm.c — the OpenBLAS sgemm paths the model uses against the naive
 * triple loop, for every transpose combination and awkward sizes. */
#include <string.h>

#include "check.h"
#include "rng.h"
#include "tensor.h"

int main(void) {
  tb_blas_set_threads(1);
  tb_rng r;
  tb_rng_init(&r, 7, "gemm-test");
  const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {64, 10, 64}, {17, 33, 129}, {128, 128, 1}, {5, 1, 300}};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int beta = 0; beta < 2; beta++) {
          int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
          float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
          float *c1 = malloc(sizeof(float) * m * n), *c2 = malloc(sizeof(float) * m * n);
          for (int i = 0; i < m * k; i++) a[i] = (float)tb_rng_normal(&r);
          for (int i = 0; i < k * n; i++) b[i] = (float)tb_rng_normal(&r);
          for (int i = 0; i < m * n; i++) c1[i] = c2[i] = (float)tb_rng_normal(&r);
          int lda = ta ? m : k, ldb = tb ? k : n;
          tb_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, (float)beta, c1, n);
          tb_sgemm_naive(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, (float)beta, c2, n);
          double worst = 0;
          for (int i = 0; i < m * n; i++) {
            double e = fabs((double)c1[i] - c2[i]) / (1 + fabs((double)c2[i]));
            if (e > worst) worst = e;
          }
          CHECK(worst < 1e-5 * sqrt((double)k), "sgemm %dx%dx%d ta=%d tb=%d beta=%d: worst rel err %.2g", m,
                n, k, ta, tb, beta, worst);
          free(a), free(b), free(c1), free(c2);
        }
  return check_done();
}
