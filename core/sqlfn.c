/*
 * sqlfn.c — statistics as SQL aggregate functions, registered on every
 * connection trainbench opens (so `trainbench query` and the reports can
 * say "mean ± sd" or "median" in one SELECT):
 *
 *   variance(x)     sample variance, divided by n - 1 (Welford's update:
 *                   values far from zero lose nothing to the cancellation
 *                   of sum(x^2) - n mean^2); NULL for fewer than two values
 *   stdev(x)        sample standard deviation, sqrt(variance(x))
 *   quantile(x, q)  linear interpolation between the order statistics
 *                   x(lo) and x(lo+1) at h = (n - 1) q, lo = floor(h): R's
 *                   type 7 and numpy's default; q in [0, 1], the same for
 *                   every row of a group; NULL for no values
 *   median(x)       quantile(x, 0.5)
 *
 * All four work as aggregates and as window functions (`OVER (...)`); each
 * keeps the values of its group, 8 bytes a row.
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
/* The values of a group (or of a window frame)                              */
/* ------------------------------------------------------------------------ */

/* Every function keeps the group's values: quantiles need them all, and as
 * window functions (`stdev(x) OVER (...)`) rows also leave the frame, oldest
 * first, which running sums cannot undo without drift. */
typedef struct sample {
  double *v;          /* values in arrival order; the frame is v[start..n) */
  int64_t start, n, cap;
  double q;           /* quantile: q of the first row */
  int has_q;
  int failed;         /* an error was raised: no result */
} sample;

static void sample_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const fn_def *fn = sqlite3_user_data(ctx);
  sample *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->failed) return;
  if (argc == 2) {
    int t = sqlite3_value_type(argv[1]);
    double q = sqlite3_value_double(argv[1]);
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
    s->q = q;
    s->has_q = 1;
  }
  double x;
  int got = numeric_arg(ctx, argv[0], &x);
  if (got < 0) s->failed = 1;
  if (got <= 0) {
    /* a NULL still occupies a row of the frame: keep its place as NaN, which
     * SQLite values never are, and skip it when computing */
    if (got == 0) x = NAN;
    else return;
  }
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

/* A row leaves the window frame: always the oldest one still in it. */
static void sample_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sample *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (s && !s->failed && s->start < s->n) s->start++;
}

/* Sample variance of the finite values of v[0..n) by Welford's update;
 * +inf if any value is infinite; NAN (no result) for fewer than 2 values. */
static double variance_of(const double *v, int64_t n) {
  int64_t count = 0, infinite = 0;
  double mean = 0, m2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = v[i];
    if (isnan(x)) continue; /* a NULL */
    if (isinf(x)) {
      infinite++;
      continue;
    }
    count++;
    double delta = x - mean;
    mean += delta / (double)count;
    m2 += delta * (x - mean);
  }
  if (count + infinite < 2) return NAN;
  return infinite ? INFINITY : m2 / (double)(count - 1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Type 7 quantile of v[0..n), which it sorts after dropping NULLs (NaN).
 * 0 and *out; 1 for no values; -1 for -inf and inf on both sides of q. */
static int quantile_of(double *v, int64_t n, double q, double *out) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!isnan(v[i])) v[m++] = v[i];
  if (m == 0) return 1;
  qsort(v, (size_t)m, sizeof *v, cmp_double);
  double h = (double)(m - 1) * q;
  int64_t lo = (int64_t)floor(h), hi = lo + 1 < m ? lo + 1 : lo;
  double f = h - (double)lo, a = v[lo], b = v[hi];
  if (f == 0 || a == b) {
    *out = a;
  } else if (isinf(a) && isinf(b)) {
    return -1;
  } else if (isinf(a) || isinf(b)) {
    *out = isinf(a) ? a : b;
  } else {
    /* b - a overflows only when a and b have opposite signs */
    double d = b - a;
    *out = isinf(d) ? (1 - f) * a + f * b : a + f * d;
  }
  return 0;
}

/* The result for the current frame; `scratch` 1 when v may be reordered
 * (the last call, from xFinal). */
static void sample_result(sqlite3_context *ctx, sample *s, int scratch) {
  const fn_def *fn = sqlite3_user_data(ctx);
  if (!s || s->failed || s->start >= s->n) return; /* NULL */
  const double *v = s->v + s->start;
  int64_t n = s->n - s->start;
  if (fn->kind == FN_VARIANCE || fn->kind == FN_STDEV) {
    double var = variance_of(v, n);
    if (!isnan(var)) sqlite3_result_double(ctx, fn->kind == FN_STDEV ? sqrt(var) : var);
    return;
  }
  double *work = s->v + s->start;
  if (!scratch) {
    work = sqlite3_malloc64((sqlite3_uint64)n * sizeof *work);
    if (!work) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    memcpy(work, v, (size_t)n * sizeof *work);
  }
  double x;
  int rc = quantile_of(work, n, fn->kind == FN_MEDIAN ? 0.5 : s->q, &x);
  if (rc == 0) {
    sqlite3_result_double(ctx, x);
  } else if (rc < 0) {
    char *msg = sqlite3_mprintf("%s: undefined between -inf and inf", fn->name);
    sqlite3_result_error(ctx, msg ? msg : fn->name, -1);
    sqlite3_free(msg);
  }
  if (!scratch) sqlite3_free(work);
}

static void sample_value(sqlite3_context *ctx) {
  sample_result(ctx, sqlite3_aggregate_context(ctx, sizeof(sample)), 0);
}

static void sample_final(sqlite3_context *ctx) {
  sample *s = sqlite3_aggregate_context(ctx, 0);
  sample_result(ctx, s, 1);
  if (s) {
    sqlite3_free(s->v);
    s->v = NULL;
  }
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
    int rc = sqlite3_create_window_function(db, fns[i].name, fns[i].nargs, flags,
                                            (void *)&fns[i], sample_step, sample_final,
                                            sample_value, sample_inverse, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
