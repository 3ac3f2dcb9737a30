/* test_gemm.c — the matrix products against the naive triple loop (double
 * accumulation): tb_sgemm as dispatched, and each backend forced
 * (OpenBLAS; LIBXSMM when built in), for every transpose combination, beta
 * 0 and 1 (what the model uses) and other alpha/beta (what a plugin may
 * pass), contiguous and padded operands (leading dimensions past the
 * columns, the padding NaN so that a read outside the matrix shows, C's
 * padding checked untouched), on shapes from each row of tensor.c's rule
 * and from outside it. Within the float rounding bound of a k-term sum,
 * (k + 2) eps (|alpha| sum |a||b| + |beta c|); and tb_sgemm gives the bits of
 * the backend tb_sgemm_backend names, the same bits on every call. */
#include <float.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "tensor.h"

enum { DISPATCH = -1 };
static const char *const path_name[] = {"tb_sgemm", "openblas", "libxsmm"};

static tb_rng r;

/* a rows x cols matrix in a buffer of rows x ld, NaN past the columns */
static float *matrix(int rows, int cols, int ld) {
  float *p = malloc(sizeof(float) * (size_t)(rows ? rows : 1) * (size_t)ld);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < ld; j++) p[(size_t)i * ld + j] = j < cols ? (float)tb_rng_normal(&r) : NAN;
  return p;
}

static int call(int path, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (path == DISPATCH) {
    tb_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
  }
  return tb_sgemm_on(path, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* worst |c - ref| / bound over C, or +inf when C's padding changed; -1 when
 * the path cannot compute the call */
static double worst_error(int path, int ta, int tb, int m, int n, int k, float alpha, float beta,
                          int pad) {
  int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
  float *a = matrix(ar, ac, lda), *b = matrix(br, bc, ldb);
  float *c = matrix(m, n, ldc), *ref = malloc(sizeof(float) * (size_t)m * (size_t)ldc);
  float *c0 = malloc(sizeof(float) * (size_t)m * (size_t)ldc);
  for (int i = 0; i < m; i++)
    for (int j = n; j < ldc; j++) c[(size_t)i * ldc + j] = 12345.0f; /* C's padding */
  memcpy(ref, c, sizeof(float) * (size_t)m * (size_t)ldc);
  memcpy(c0, c, sizeof(float) * (size_t)m * (size_t)ldc);
  double worst = -1;
  if (call(path, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0) {
    tb_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
    worst = 0;
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
          double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
          s += fabs(av * bv);
        }
        double bound = (k + 2) * (double)FLT_EPSILON *
                       (fabs(alpha) * s + fabs((double)beta * c0[(size_t)i * ldc + j]));
        double e = fabs((double)c[(size_t)i * ldc + j] - ref[(size_t)i * ldc + j]) /
                   (bound > 0 ? bound : DBL_MIN);
        if (!(e <= worst)) worst = e; /* NaN counts as the worst */
      }
      for (int j = n; j < ldc; j++)
        if (c[(size_t)i * ldc + j] != 12345.0f) worst = INFINITY;
    }
  }
  free(a), free(b), free(c), free(ref), free(c0);
  return worst;
}

/* tb_sgemm and the backend it names give the same bits, twice */
static int same_bits_as_named(int ta, int tb, int m, int n, int k, float alpha, float beta) {
  int lda = ta ? m : k, ldb = tb ? k : n;
  float *a = matrix(ta ? k : m, lda, lda), *b = matrix(tb ? n : k, ldb, ldb);
  float *c = matrix(m, n, n);
  size_t bytes = sizeof(float) * (size_t)m * (size_t)n;
  float *c1 = malloc(bytes), *c2 = malloc(bytes), *c3 = malloc(bytes);
  memcpy(c1, c, bytes), memcpy(c2, c, bytes), memcpy(c3, c, bytes);
  int be = tb_sgemm_backend(ta, tb, m, n, k, alpha, lda, ldb, beta, n);
  tb_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, n);
  tb_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, n);
  int rc = tb_sgemm_on(be, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c3, n);
  int same = rc == 0 && memcmp(c1, c2, bytes) == 0 && memcmp(c1, c3, bytes) == 0;
  free(a), free(b), free(c), free(c1), free(c2), free(c3);
  return same;
}

int main(void) {
  tb_blas_set_threads(1);
  tb_rng_init(&r, 7, "gemm-test");
  /* {m, n, k}: from each row of the rule (read as the model's shapes) and
   * from the regions it leaves to OpenBLAS, and a few degenerate ones */
  const int sizes[][3] = {
      {1, 1, 1},     {3, 5, 7},      {5, 1, 300},    {128, 128, 1}, {17, 33, 129},
      {64, 128, 64}, {64, 10, 128},  {300, 10, 100}, {129, 20, 70}, {5, 300, 20},
      {3, 4, 40},    {600, 16, 16},  {10, 128, 64},  {128, 64, 64}, {40, 10, 64},
      {12, 9, 33},   {30, 300, 50},  {100, 300, 50}, {64, 128, 10}, {256, 512, 10},
      {100, 300, 100}, {5, 3, 20},   {2, 2, 2}};
  const int nsizes = (int)(sizeof sizes / sizeof *sizes);
  int used[2] = {0, 0};
  int have_xsmm = tb_sgemm_on(TB_GEMM_LIBXSMM, 0, 0, 1, 1, 1, 1.0f, (float[]){1}, 1, (float[]){1},
                              1, 0.0f, (float[]){0}, 1) == 0;
  printf("LIBXSMM %s\n", have_xsmm ? "built in" : "not in this build");
  for (int s = 0; s < nsizes; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        for (int path = DISPATCH; path <= TB_GEMM_LIBXSMM; path++) {
          /* beta 0 and 1 with alpha 1 (the model's), then alpha 0.5 with
           * beta 0.5 (a plugin's; LIBXSMM cannot) */
          const float ab[][2] = {{1, 0}, {1, 1}, {0.5f, 0.5f}, {-1, 0}};
          double worst = 0;
          int computed = 0;
          for (int v = 0; v < 4; v++)
            for (int pad = 0; pad <= 3; pad += 3) {
              double e = worst_error(path, ta, tb, m, n, k, ab[v][0], ab[v][1], pad);
              if (e < 0) continue;
              computed++;
              if (!(e <= worst)) worst = e;
            }
          if (path == TB_GEMM_LIBXSMM && !have_xsmm) continue;
          /* LIBXSMM takes alpha 1 with beta 0 or 1: two of four, padded or not */
          int expect = path == TB_GEMM_LIBXSMM ? 4 : 8;
          CHECK(computed == expect && worst <= 1.0,
                "%s %dx%dx%d ta=%d tb=%d: %d of 8 calls computed, worst error %.3g of the "
                "rounding bound",
                path_name[path + 1], m, n, k, ta, tb, computed, worst);
        }
        for (int beta = 0; beta <= 1; beta++) {
          int lda = ta ? m : k, ldb = tb ? k : n;
          used[tb_sgemm_backend(ta, tb, m, n, k, 1.0f, lda, ldb, (float)beta, n)]++;
          CHECK(same_bits_as_named(ta, tb, m, n, k, 1.0f, (float)beta),
                "tb_sgemm %dx%dx%d ta=%d tb=%d beta=%d: the bits of the backend it names, twice",
                m, n, k, ta, tb, beta);
        }
      }
  /* the rule sends some of these to each backend, or one path goes untested */
  CHECK(used[TB_GEMM_OPENBLAS] > 0 && (!have_xsmm || used[TB_GEMM_LIBXSMM] > 0),
        "the dispatch uses OpenBLAS for %d and LIBXSMM for %d of these calls",
        used[TB_GEMM_OPENBLAS], used[TB_GEMM_LIBXSMM]);
  /* what LIBXSMM cannot compute it refuses, computing nothing */
  float c = 7;
  CHECK(tb_sgemm_on(TB_GEMM_LIBXSMM, 0, 0, 1, 1, 1, 0.5f, (float[]){1}, 1, (float[]){1}, 1, 0.0f,
                    &c, 1) == -1 &&
            c == 7,
        "LIBXSMM refuses alpha 0.5 and leaves C alone");
  return check_done();
}
