/*
 * test_mathx.c — the exp of the host's softmax family (mathx.c's row_exp,
 * tb_exp for one value): within 1 ulp of the true value (expl, 64 bits of
 * mantissa, rounded to double) over the whole range, the special values
 * exactly, and the vectorized row loop giving the scalar kernel's bits (so
 * the AVX2 and baseline copies, and every row length, agree).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "host.h"
#include "rng.h"

/* |got - want| in units of the last place of want */
static double ulps(double got, long double want) {
  double w = (double)want;
  if (w == 0) return got == 0 ? 0 : got / 0x1p-1074;
  int e;
  frexp(w, &e);
  long double ulp = ldexpl(1.0L, (e - 53 < -1074 ? -1074 : e - 53));
  return (double)(fabsl((long double)got - want) / ulp);
}

int main(void) {
  tb_rng r;
  tb_rng_init(&r, 7, "mathx-test");

  /* 10^6 points over exp's whole finite range, and 10^6 in the range a
   * softmax sees (x - max in [-40, 0]) */
  double worst = 0, worst_x = 0, worst_sm = 0;
  for (int i = 0; i < 1000000; i++) {
    double x = -745.0 + tb_rng_uniform(&r) * (709.7 + 745.0);
    double u = ulps(tb_exp(x), expl((long double)x));
    if (u > worst) worst = u, worst_x = x;
    x = -40.0 * tb_rng_uniform(&r);
    u = ulps(tb_exp(x), expl((long double)x));
    if (u > worst_sm) worst_sm = u;
  }
  CHECK(worst <= 1.0, "exp over [-745, 709.7]: worst %.3f ulp (at %.17g)", worst, worst_x);
  CHECK(worst_sm <= 1.0, "exp over [-40, 0]: worst %.3f ulp", worst_sm);

  /* the range's ends, the subnormal results and the special values */
  CHECK(tb_exp(0) == 1 && tb_exp(-0.0) == 1, "exp(0) = 1 exactly");
  CHECK(tb_exp(-INFINITY) == 0 && !signbit(tb_exp(-INFINITY)), "exp(-inf) = +0");
  CHECK(isinf(tb_exp(INFINITY)) && tb_exp(INFINITY) > 0, "exp(+inf) = +inf");
  CHECK(isnan(tb_exp(NAN)) && isnan(tb_exp(-NAN)), "exp(NaN) is NaN");
  CHECK(isinf(tb_exp(709.79)) && ulps(tb_exp(709.78), expl((long double)709.78)) <= 1.0,
        "overflow past log(DBL_MAX) = 709.7827: exp(709.79) = %g, exp(709.78) = %g",
        tb_exp(709.79), tb_exp(709.78));
  CHECK(tb_exp(-746) == 0 && tb_exp(-1e300) == 0, "exp(-746) and exp(-1e300) round to 0");
  double sub = 0;
  for (double x = -745.1; x < -708.0; x += 0.0137) {
    double u = ulps(tb_exp(x), expl((long double)x));
    if (u > sub) sub = u;
  }
  CHECK(sub <= 1.0, "subnormal and near-subnormal results, [-745.1, -708]: worst %.3f ulp", sub);
  CHECK(tb_exp(-745.13) == 0x1p-1074, "exp(-745.13) is the least subnormal");

  /* the row loop (vectorized, in the clone the CPU runs) gives tb_exp's
   * bits, for every row length from 1 to 70 (vector bodies and tails) */
  const tb_host_api *h = tb_host_api_get();
  int same = 1, bad_k = 0;
  double z[70], p[70], lp[70];
  for (int k = 1; k <= 70 && same; k++) {
    double m = -INFINITY;
    for (int j = 0; j < k; j++) {
      z[j] = 30 * tb_rng_normal(&r);
      if (z[j] > m) m = z[j];
    }
    double e[70], s = 0;
    for (int j = 0; j < k; j++) s += e[j] = tb_exp(z[j] - m);
    h->softmax(p, z, k);
    h->log_softmax(lp, z, k);
    const double lse = m + log(s);
    for (int j = 0; j < k; j++)
      if (p[j] != e[j] / s || lp[j] != z[j] - lse) same = 0, bad_k = k;
    if (h->logsumexp(z, k) != lse || tb_softmax_lse(p, z, k) != lse) same = 0, bad_k = k;
    double p2[70];
    if (h->softmax_lse(p2, z, k) != lse) same = 0, bad_k = k;
    for (int j = 0; j < k; j++)
      if (p2[j] != p[j]) same = 0, bad_k = k;
  }
  CHECK(same, "softmax, log_softmax, logsumexp and softmax_lse (ABI 2.2) are tb_exp's bits "
        "(rows of 1 to 70; first difference at k = %d)", bad_k);

  /* a NaN logit makes the whole softmax NaN (never a quiet 0); -inf logits
   * are classes with probability 0 */
  double zn[5] = {1, 2, NAN, 0, -1}, pn[5];
  h->softmax(pn, zn, 5);
  int all_nan = 1;
  for (int j = 0; j < 5; j++) all_nan &= isnan(pn[j]);
  CHECK(all_nan, "a NaN logit makes every probability NaN");
  double zi[4] = {-INFINITY, 0, -INFINITY, 0}, pi[4];
  h->softmax(pi, zi, 4);
  CHECK(pi[0] == 0 && pi[2] == 0 && pi[1] == 0.5 && pi[3] == 0.5,
        "-inf logits get probability 0 (%g %g %g %g)", pi[0], pi[1], pi[2], pi[3]);
  CHECK(isinf(h->logsumexp(zi, 4)) == 0 && h->logsumexp(zi, 4) == log(2.0),
        "logsumexp skips -inf terms: %g", h->logsumexp(zi, 4));
  return check_done();
}
