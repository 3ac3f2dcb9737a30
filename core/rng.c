/*
 * rng.c — random streams. Each purpose of a run (split, init, batch order,
 * plugin draws, ...) gets its own xoshiro256** stream whose state is derived
 * from (seed, purpose) alone with splitmix64, so the numbers a run sees never
 * depend on how many runs came before it or on which worker runs it.
 *
 * Provides: tb_rng_init, tb_rng_u64, tb_rng_uniform, tb_rng_normal,
 * tb_rng_below, tb_rng_shuffle.
 */
#include <math.h>
#include <string.h>

#include "rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void tb_rng_init(tb_rng *r, uint64_t seed, const char *purpose) {
  /* FNV-1a of the purpose, mixed with the seed through splitmix64 */
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)purpose; p && *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  uint64_t x = seed ^ 0x6a09e667f3bcc909ull;
  x = splitmix64(&x) ^ h;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0;
}

uint64_t tb_rng_u64(tb_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double tb_rng_uniform(tb_rng *r) { return (double)(tb_rng_u64(r) >> 11) * 0x1.0p-53; }

double tb_rng_normal(tb_rng *r) {
  /* Marsaglia's polar method; the spare value is kept in the stream state */
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * tb_rng_uniform(r) - 1.0;
    v = 2.0 * tb_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double m = sqrt(-2.0 * log(s) / s);
  r->spare = v * m;
  r->has_spare = 1;
  return u * m;
}

uint64_t tb_rng_below(tb_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  /* rejection on the top of the range keeps it unbiased */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = tb_rng_u64(r);
  while (x >= limit);
  return x % n;
}

void tb_rng_shuffle(tb_rng *r, int32_t *a, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)tb_rng_below(r, (uint64_t)i + 1);
    int32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
