/*
 * store_check.h — the assertions of the store tests: each failed check
 * prints where and what (a string compared, a needle not found) on stderr
 * and counts in `failures`; the test exits non-zero if any failed.
 * CHECK_CONTEXT (a string expression, "" unless the test defines it) is
 * printed before the message, e.g. which read-only method a case ran under.
 */
#ifndef TB_STORE_CHECK_H
#define TB_STORE_CHECK_H
#include <stdio.h>
#include <string.h>

#ifndef CHECK_CONTEXT
#define CHECK_CONTEXT ""
#endif

static int failures;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: %scheck failed: %s\n", __FILE__, __LINE__, CHECK_CONTEXT, \
              #cond);                                                                  \
      failures++;                                                                      \
    }                                                                                  \
  } while (0)

#define CHECK_STR(got, want)                                                          \
  do {                                                                                \
    const char *g_ = (got), *w_ = (want);                                             \
    if (!g_ || strcmp(g_, w_) != 0) {                                                 \
      fprintf(stderr, "%s:%d: %sgot\n---\n%s\n---\nwant\n---\n%s\n---\n", __FILE__,   \
              __LINE__, CHECK_CONTEXT, g_ ? g_ : "(null)", w_);                       \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

#define CHECK_HAS(hay, needle)                                                        \
  do {                                                                                \
    const char *h_ = (hay), *n_ = (needle);                                           \
    if (!h_ || !strstr(h_, n_)) {                                                     \
      fprintf(stderr, "%s:%d: %s'%s' not found in:\n%s\n", __FILE__, __LINE__,        \
              CHECK_CONTEXT, n_, h_ ? h_ : "(null)");                                 \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)
#endif
