/*
 * rng.h — random streams (rng.c): xoshiro256** streams derived only from
 * (seed, purpose), so every random purpose of a run (the split, the initial
 * weights, the batch order, the plugins' draws) has its own stream whatever
 * the order in which runs are dispatched.
 *
 * Provides: tb_rng_init, tb_rng_u64, tb_rng_uniform, tb_rng_normal,
 * tb_rng_below, tb_rng_shuffle.
 */
#ifndef TB_RNG_H
#define TB_RNG_H

#include <stdint.h>

#include "trainbench/plugin.h" /* the tb_rng typedef plugins see */

struct tb_rng {
  uint64_t s[4];
  int has_spare;
  double spare;
};

/* A stream for one purpose ("split", "init", "batches", "plugin", ...):
 * derived only from (seed, purpose), never from dispatch order. */
void tb_rng_init(tb_rng *r, uint64_t seed, const char *purpose);
uint64_t tb_rng_u64(tb_rng *r);
double tb_rng_uniform(tb_rng *r);              /* [0, 1) */
double tb_rng_normal(tb_rng *r);               /* N(0, 1) */
uint64_t tb_rng_below(tb_rng *r, uint64_t n);  /* uniform in [0, n), unbiased */
void tb_rng_shuffle(tb_rng *r, int32_t *a, int64_t n); /* Fisher–Yates */

#endif /* TB_RNG_H */
