/*
 * sqlfn.c — statistics as SQL aggregate functions, registered on every
 * connection trainbench opens (so `trainbench query` and the reports can
 * say "mean ± sd" or "median" in one SELECT):
 *
 *   variance(x)     sample variance, divided by n - 1 (Welford's update, so
 *                   values far from zero lose nothing to cancellation);
 *                   NULL for fewer than two values
 *   stdev(x)        sample standard deviation, sqrt(variance(x))
 *   quantile(x, q)  linear interpolation between the order statistics
 *                   x(lo) and x(lo+1) at h = (n - 1) q, lo = floor(h): R's
 *                   type 7 and numpy's default; q in [0, 1], the same for
 *                   every row of a group; NULL for no values
 *   median(x)       quantile(x, 0.5)
 *
 * Values: NULL is skipped, as avg() skips it. INTEGER and REAL count. TEXT
 * and BLOB are an error naming the function and the value ("stdev:
 * non-numeric value 'abc'"): SQLite's own avg() reads 'abc' as 0, and a
 * typo or a non-finite metric stored as the text 'NaN' would become a
 * plausible wrong number.
 *
 * Infinities: SQLite has no NaN (a NaN result turns into NULL, which reads
 * as "no values"), so where IEEE arithmetic would give NaN we say:
 *   - variance and stdev of a group holding an infinite value are +inf (the
 *     spread is unbounded), even for {inf, inf};
 *   - a quantile that interpolates between a finite value and an infinity
 *     is that infinity; between -inf and +inf it is an error.
 *
 * Provides: tb_sql_register.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlfn.h"

enum fn_kind { FN_VARIANCE, FN_STDEV, FN_QUANTILE, FN_MEDIAN };

typedef struct fn_def {
  const char *name;
  int kind;
  int nargs;
} fn_def;

/* ------------------------------------------------------------------------ */
/* Reading one argument                                                      */
/* ------------------------------------------------------------------------ */

/* 1 and *x for a number, 0 for NULL; -1 after setting the error for TEXT
 * and BLOB. */
static int numeric_arg(sqlite3_context *ctx, sqlite3_value *v, double *x) {
  const fn_def *fn = sqlite3_user_data(ctx);
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL:
    return 0;
  case SQLITE_INTEGER:
  case SQLITE_FLOAT:
    *x = sqlite3_value_double(v);
    return 1;
  case SQLITE_TEXT: {
    const char *t = (const char *)sqlite3_value_text(v);
    int n = sqlite3_value_bytes(v), shown = n;
    /* show at most 40 bytes, cut at a UTF-8 character boundary */
    if (shown > 40) {
      shown = 40;
      while (shown > 0 && ((unsigned char)t[shown] & 0xC0) == 0x80) shown--;
    }
    char *msg = sqlite3_mprintf("%s: non-numeric value '%.*s%s'", fn->name, shown, t,
                                shown < n ? "…" : "");
    sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
    sqlite3_free(msg);
    return -1;
  }
  default: {
    char *msg = sqlite3_mprintf("%s: non-numeric value (a blob of %d bytes)", fn->name,
                                sqlite3_value_bytes(v));
    sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
    sqlite3_free(msg);
    return -1;
  }
  }
}

/* ------------------------------------------------------------------------ */
/* variance, stdev                                                          */
/* ------------------------------------------------------------------------ */

typedef struct moments {
  int64_t n;      /* finite values seen */
  double mean, m2; /* Welford: running mean and sum of squared deviations */
  int64_t n_inf;  /* infinite values seen (kept out of mean and m2) */
  int failed;
} moments;

static void moments_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  moments *m = sqlite3_aggregate_context(ctx, sizeof *m);
  if (!m) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (m->failed) return;
  double x;
  int got = numeric_arg(ctx, argv[0], &x);
  if (got < 0) m->failed = 1;
  if (got <= 0) return;
  if (isinf(x)) {
    m->n_inf++;
    return;
  }
  m->n++;
  double delta = x - m->mean;
  m->mean += delta / (double)m->n;
  m->m2 += delta * (x - m->mean);
}

static void moments_final(sqlite3_context *ctx) {
  const fn_def *fn = sqlite3_user_data(ctx);
  moments *m = sqlite3_aggregate_context(ctx, 0);
  if (!m || m->failed || m->n + m->n_inf < 2) return; /* NULL */
  double var = m->n_inf > 0 ? INFINITY : m->m2 / (double)(m->n - 1);
  sqlite3_result_double(ctx, fn->kind == FN_STDEV ? sqrt(var) : var);
}

/* ------------------------------------------------------------------------ */
/* quantile, median                                                         */
/* ------------------------------------------------------------------------ */

typedef struct sample {
  double *v;
  int64_t n, cap;
  double q;
  int has_q;
  int failed;
} sample;

static void sample_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const fn_def *fn = sqlite3_user_data(ctx);
  sample *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->failed) return;
  double q = 0.5;
  if (argc == 2) {
    int t = sqlite3_value_type(argv[1]);
    q = sqlite3_value_double(argv[1]);
    if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !(q >= 0 && q <= 1)) {
      const char *text = (const char *)sqlite3_value_text(argv[1]);
      char *msg = sqlite3_mprintf("%s: q must be a number in [0, 1], got %s%s%s", fn->name,
                                  t == SQLITE_TEXT ? "'" : "", text ? text : "NULL",
                                  t == SQLITE_TEXT ? "'" : "");
      sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
      sqlite3_free(msg);
      s->failed = 1;
      return;
    }
    if (s->has_q && q != s->q) {
      char *msg = sqlite3_mprintf("%s: q must be the same for every row of a group, got %.15g "
                                  "and then %.15g",
                                  fn->name, s->q, q);
      sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
      sqlite3_free(msg);
      s->failed = 1;
      return;
    }
  }
  s->q = q;
  s->has_q = 1;
  double x;
  int got = numeric_arg(ctx, argv[0], &x);
  if (got < 0) s->failed = 1;
  if (got <= 0) return;
  if (s->n == s->cap) {
    int64_t cap = s->cap ? 2 * s->cap : 64;
    double *v = sqlite3_realloc64(s->v, (sqlite3_uint64)cap * sizeof *v);
    if (!v) {
      sqlite3_result_error_nomem(ctx);
      s->failed = 1;
      return;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void sample_final(sqlite3_context *ctx) {
  const fn_def *fn = sqlite3_user_data(ctx);
  sample *s = sqlite3_aggregate_context(ctx, 0);
  if (!s) return; /* no rows: NULL */
  if (!s->failed && s->n > 0) {
    qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_double);
    double h = (double)(s->n - 1) * s->q;
    int64_t lo = (int64_t)floor(h), hi = lo + 1 < s->n ? lo + 1 : lo;
    double f = h - (double)lo, a = s->v[lo], b = s->v[hi];
    if (f == 0 || a == b) {
      sqlite3_result_double(ctx, a);
    } else if (isinf(a) && isinf(b)) {
      char *msg = sqlite3_mprintf("%s: undefined between -inf and inf", fn->name);
      sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
      sqlite3_free(msg);
    } else if (isinf(a) || isinf(b)) {
      sqlite3_result_double(ctx, isinf(a) ? a : b);
    } else {
      /* b - a overflows only when a and b have opposite signs */
      double d = b - a;
      sqlite3_result_double(ctx, isinf(d) ? (1 - f) * a + f * b : a + f * d);
    }
  }
  sqlite3_free(s->v);
  s->v = NULL;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                             */
/* ------------------------------------------------------------------------ */

static const fn_def fns[] = {
    {"variance", FN_VARIANCE, 1},
    {"stdev", FN_STDEV, 1},
    {"quantile", FN_QUANTILE, 2},
    {"median", FN_MEDIAN, 1},
};

int tb_sql_register(sqlite3 *db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    const fn_def *fn = &fns[i];
    int moments_fn = fn->kind == FN_VARIANCE || fn->kind == FN_STDEV;
    int rc = sqlite3_create_function_v2(db, fn->name, fn->nargs, flags, (void *)fn, NULL,
                                        moments_fn ? moments_step : sample_step,
                                        moments_fn ? moments_final : sample_final, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
