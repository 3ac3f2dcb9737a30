/*
 * check.h — a minimal assertion kit for the C tests: each CHECK prints one
 * line (ok / FAIL with the figures) and the program exits non-zero when any
 * failed. Header-only on purpose: the tests include it, nothing else does.
 */
#ifndef TB_CHECK_H
#define TB_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond, ...)                                  \
  do {                                                    \
    check_count++;                                        \
    if (cond) {                                           \
      printf("ok    ");                                   \
    } else {                                              \
      check_failures++;                                   \
      printf("FAIL  %s:%d: ", __FILE__, __LINE__);        \
    }                                                     \
    printf(__VA_ARGS__);                                  \
    printf("\n");                                         \
  } while (0)

/* |a - b| <= atol + rtol * |b| */
static inline int close_to(double a, double b, double rtol, double atol) {
  if (isnan(a) || isnan(b)) return 0;
  return fabs(a - b) <= atol + rtol * fabs(b);
}

static inline int check_done(void) {
  printf("%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}
#endif
