/*
 * test_host.c — the helper table plugins get (mathx.c) beyond the softmax
 * family: sgemm against the naive oracle, syev against A v = lambda v and a
 * closed form, and a random draw from the NULL stream of a component that did
 * not declare TB_SERVICE_RNG (it returns 0 and is recorded as misuse).
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "host.h"
#include "rng.h"
#include "tensor.h"

int main(void) {
  const tb_host_api *h = tb_host_api_get();
  CHECK(h->abi_major == TB_ABI_MAJOR && h->abi_minor == TB_ABI_MINOR &&
            h->size == sizeof(tb_host_api) && h->sgemm && h->syev && h->softmax_lse,
        "the table is the header's (2.%d) and has sgemm, syev and softmax_lse", TB_ABI_MINOR);

  /* sgemm: C = A^T B with A [5][3], B [5][4] against the naive loop */
  float a[15], b[20], c[12], c0[12];
  tb_rng r;
  tb_rng_init(&r, 3, "host-test");
  for (int i = 0; i < 15; i++) a[i] = (float)tb_rng_normal(&r);
  for (int i = 0; i < 20; i++) b[i] = (float)tb_rng_normal(&r);
  h->sgemm(1, 0, 3, 4, 5, 1.0f, a, 3, b, 4, 0.0f, c, 4);
  tb_sgemm_naive(1, 0, 3, 4, 5, 1.0f, a, 3, b, 4, 0.0f, c0, 4);
  double worst = 0;
  for (int i = 0; i < 12; i++) worst = fmax(worst, fabs(c[i] - c0[i]));
  CHECK(worst < 1e-5, "sgemm agrees with the naive oracle (worst %g)", worst);

  /* syev: [[2,1,0],[1,2,0],[0,0,5]] has eigenvalues 1, 3, 5 */
  double m[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, w[3], work[64];
  int rc = h->syev(3, m, w, work, 64);
  CHECK(rc == 0 && fabs(w[0] - 1) < 1e-12 && fabs(w[1] - 3) < 1e-12 && fabs(w[2] - 5) < 1e-12,
        "syev: eigenvalues 1, 3, 5 in ascending order (got %g %g %g)", w[0], w[1], w[2]);
  /* row i of m is the eigenvector of w[i]: A v = w v, unit length */
  double a3[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, err = 0;
  for (int i = 0; i < 3; i++) {
    double norm = 0;
    for (int j = 0; j < 3; j++) {
      double av = 0;
      for (int k = 0; k < 3; k++) av += a3[j * 3 + k] * m[i * 3 + k];
      err = fmax(err, fabs(av - w[i] * m[i * 3 + j]));
      norm += m[i * 3 + j] * m[i * 3 + j];
    }
    err = fmax(err, fabs(norm - 1));
  }
  CHECK(err < 1e-12, "syev: row i is a unit eigenvector of eigenvalue i (worst %g)", err);
  CHECK(h->syev(3, m, w, work, 5) != 0, "syev refuses a work area under 3n");

  /* a draw from the NULL stream is a recorded misuse, never a crash */
  tb_host_misuse_clear();
  CHECK(tb_host_misuse() == NULL, "no misuse to begin with");
  double u = h->rng_uniform(NULL);
  CHECK(u == 0 && tb_host_misuse() && strstr(tb_host_misuse(), "TB_SERVICE_RNG"),
        "an undeclared draw returns 0 and is recorded: %s",
        tb_host_misuse() ? tb_host_misuse() : "(nothing)");
  tb_host_misuse_clear();
  CHECK(h->rng_u64(&r) != 0 && tb_host_misuse() == NULL, "a declared stream draws normally");

  /* tb_softmax_lse (the metrics' one pass) is the host's softmax and
   * logsumexp to the bit, on random, extreme, tied, infinite and NaN rows */
  {
    enum { K = 37, ROWS = 400 };
    double z[K], p1[K], p2[K];
    long diff = 0;
    for (int row = 0; row < ROWS; row++) {
      const int k = 1 + row % K;
      for (int j = 0; j < k; j++) {
        double v = h->rng_normal(&r) * (row % 4 == 0 ? 300 : 3);
        if (row % 7 == 1) v = 5.0; /* ties */
        if (row % 11 == 2 && j == k / 2) v = row % 3 ? INFINITY : -INFINITY;
        if (row % 13 == 3 && j == 0) v = NAN;
        if (row % 17 == 4) v = -INFINITY;
        z[j] = v;
      }
      h->softmax(p1, z, k);
      const double l1 = h->logsumexp(z, k), l2 = tb_softmax_lse(p2, z, k);
      diff += memcmp(&l1, &l2, sizeof l1) != 0 || memcmp(p1, p2, sizeof(double) * (size_t)k) != 0;
    }
    CHECK(diff == 0, "tb_softmax_lse: the host's softmax and logsumexp to the bit (%ld of %d rows "
          "differ)", diff, ROWS);
  }
  return check_done();
}
