/* test_rng.c — random streams depend only on (seed, purpose). */
#include <string.h>

#include "check.h"
#include "rng.h"

int main(void) {
  tb_rng a, b, c, d;
  tb_rng_init(&a, 1, "init");
  tb_rng_init(&b, 1, "init");
  tb_rng_init(&c, 1, "batches");
  tb_rng_init(&d, 2, "init");
  int same = 1, diff_purpose = 0, diff_seed = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = tb_rng_u64(&a), y = tb_rng_u64(&b), z = tb_rng_u64(&c), w = tb_rng_u64(&d);
    same &= x == y;
    diff_purpose += x != z;
    diff_seed += x != w;
  }
  CHECK(same, "one (seed, purpose) gives one sequence");
  CHECK(diff_purpose == 1000, "another purpose gives another sequence (%d/1000 differ)", diff_purpose);
  CHECK(diff_seed == 1000, "another seed gives another sequence (%d/1000 differ)", diff_seed);

  /* drawing from one stream does not move another: streams are independent objects */
  tb_rng s1, s2, t1;
  tb_rng_init(&s1, 9, "split");
  tb_rng_init(&t1, 9, "init");
  for (int i = 0; i < 50; i++) tb_rng_u64(&t1);
  tb_rng_init(&s2, 9, "split");
  CHECK(tb_rng_u64(&s1) == tb_rng_u64(&s2), "a stream is unaffected by draws from other streams");

  tb_rng u;
  tb_rng_init(&u, 3, "uniform");
  double mn = 1, mx = 0, sum = 0, sum2 = 0;
  const int N = 200000;
  for (int i = 0; i < N; i++) {
    double x = tb_rng_uniform(&u);
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    sum += x;
  }
  CHECK(mn >= 0 && mx < 1, "uniform in [0, 1): min %g max %g", mn, mx);
  CHECK(fabs(sum / N - 0.5) < 0.005, "uniform mean %.4f", sum / N);
  sum = 0;
  for (int i = 0; i < N; i++) {
    double x = tb_rng_normal(&u);
    sum += x;
    sum2 += x * x;
  }
  CHECK(fabs(sum / N) < 0.01 && fabs(sum2 / N - 1) < 0.02, "normal mean %.4f var %.4f", sum / N,
        sum2 / N);

  int counts[7] = {0};
  for (int i = 0; i < 70000; i++) counts[tb_rng_below(&u, 7)]++;
  int ok = 1;
  for (int i = 0; i < 7; i++) ok &= abs(counts[i] - 10000) < 500;
  CHECK(ok, "below(7) is near uniform (%d %d %d ...)", counts[0], counts[1], counts[2]);

  int32_t p[100];
  for (int i = 0; i < 100; i++) p[i] = i;
  tb_rng_shuffle(&u, p, 100);
  int seen[100] = {0}, moved = 0;
  for (int i = 0; i < 100; i++) {
    seen[p[i]]++;
    moved += p[i] != i;
  }
  ok = 1;
  for (int i = 0; i < 100; i++) ok &= seen[i] == 1;
  CHECK(ok && moved > 80, "shuffle is a permutation (%d of 100 moved)", moved);
  return check_done();
}
