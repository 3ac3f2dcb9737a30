/*
 * test_sqlfn.c — the statistics aggregates of sqlfn.c (stdev, variance,
 * median, quantile) on real SQLite connections.
 *
 * Expected values were computed once, independently, with Python's
 * `statistics` module (exact rational arithmetic) and, for quantile, R's
 * type 7 evaluated on fractions.Fraction; they are committed here so the
 * test needs no Python. Checks: values against those references, a data
 * set where the textbook sum-of-squares formula gives a negative variance,
 * NULLs skipped, text and blobs refused by name, the q argument checked,
 * infinities, GROUP BY, and that `trainbench query` has the functions.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "sqlfn.h"
#include "store.h"
#include "util.h"
#include "store_check.h"

static sqlite3 *db;
static char last_error[512];

/* The single value `sql` returns: its type (SQLITE_NULL, SQLITE_FLOAT, ...)
 * and *x; -1 with last_error set when the statement fails. */
static int value_of(const char *sql, double *x) {
  sqlite3_stmt *s = NULL;
  last_error[0] = '\0';
  *x = NAN;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    snprintf(last_error, sizeof last_error, "%s", sqlite3_errmsg(db));
    return -1;
  }
  int rc = sqlite3_step(s), type = -1;
  if (rc == SQLITE_ROW) {
    type = sqlite3_column_type(s, 0);
    *x = sqlite3_column_double(s, 0);
  } else {
    snprintf(last_error, sizeof last_error, "%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(s);
  return type;
}

static void check_int(int line, const char *sql, int64_t want) {
  double x;
  int type = value_of(sql, &x);
  if (type != SQLITE_INTEGER || x != (double)want) {
    fprintf(stderr, "%s:%d: %s\n  got %.17g (type %d%s%s), want the integer %lld\n", __FILE__,
            line, sql, x, type, last_error[0] ? ": " : "", last_error, (long long)want);
    failures++;
  }
}
#define CHECK_INT(sql, want) check_int(__LINE__, sql, want)

/* |got - want| within 1e-12 relative (exact for infinities) */
static void check_value(int line, const char *sql, double want) {
  double x;
  int type = value_of(sql, &x);
  int ok = type == SQLITE_FLOAT &&
           (isinf(want) ? x == want : fabs(x - want) <= 1e-12 * fmax(1, fabs(want)));
  if (!ok) {
    fprintf(stderr, "%s:%d: %s\n  got %.17g (type %d%s%s), want %.17g\n", __FILE__, line, sql, x,
            type, last_error[0] ? ": " : "", last_error, want);
    failures++;
  }
}
#define CHECK_VALUE(sql, want) check_value(__LINE__, sql, want)

static void check_null(int line, const char *sql) {
  double x;
  int type = value_of(sql, &x);
  if (type != SQLITE_NULL) {
    fprintf(stderr, "%s:%d: %s\n  got type %d (%.17g%s%s), want NULL\n", __FILE__, line, sql,
            type, x, last_error[0] ? ": " : "", last_error);
    failures++;
  }
}
#define CHECK_NULL(sql) check_null(__LINE__, sql)

static void check_error(int line, const char *sql, const char *want) {
  double x;
  int type = value_of(sql, &x);
  if (type != -1 || strcmp(last_error, want) != 0) {
    fprintf(stderr, "%s:%d: %s\n  got type %d, error '%s', want the error '%s'\n", __FILE__,
            line, sql, type, last_error, want);
    failures++;
  }
}
#define CHECK_ERROR(sql, want) check_error(__LINE__, sql, want)

static void exec(const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "test setup failed: %s: %s\n", sql, msg);
    exit(1);
  }
}

static void test_reference_values(void) {
  exec("CREATE TABLE a(x); INSERT INTO a VALUES (2), (4), (4), (4), (5), (5), (7), (9)");
  CHECK_VALUE("SELECT variance(x) FROM a", 4.571428571428571);
  CHECK_VALUE("SELECT stdev(x) FROM a", 2.138089935299395);
  CHECK_VALUE("SELECT median(x) FROM a", 4.5);
  CHECK_VALUE("SELECT quantile(x, 0.25) FROM a", 4.0);
  CHECK_VALUE("SELECT quantile(x, 0.9) FROM a", 7.6000000000000005);
  CHECK_VALUE("SELECT quantile(x, 0) FROM a", 2);
  CHECK_VALUE("SELECT quantile(x, 1) FROM a", 9);
  /* the order of the rows does not matter */
  CHECK_VALUE("SELECT median(x) FROM (SELECT x FROM a ORDER BY x DESC)", 4.5);

  /* 1e9 + {4, 7, 13, 16}: sum(x^2) - n mean^2 loses every digit here (it
   * gives -170.67 in doubles); Welford's update keeps the exact 30 */
  exec("CREATE TABLE b(x); INSERT INTO b VALUES (1e9 + 4), (1e9 + 7), (1e9 + 13), (1e9 + 16)");
  CHECK_VALUE("SELECT variance(x) FROM b", 30.0);
  CHECK_VALUE("SELECT stdev(x) FROM b", 5.477225575051661);
  CHECK_VALUE("SELECT median(x) FROM b", 1000000010.0);

  /* 999 values ((i * 7919) % 1009) / 8 + 1e6, i = 1..999 */
  exec("CREATE TABLE big(x); WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i"
       " WHERE n < 999) INSERT INTO big SELECT ((n * 7919) % 1009) / 8.0 + 1000000 FROM i");
  CHECK_VALUE("SELECT variance(x) FROM big", 1325.0744219294445);
  CHECK_VALUE("SELECT stdev(x) FROM big", 36.40157169586836);
  CHECK_VALUE("SELECT median(x) FROM big", 1000063.25);
  CHECK_VALUE("SELECT quantile(x, 0.1) FROM big", 1000012.725);
  CHECK_VALUE("SELECT quantile(x, 0.37) FROM big", 1000046.9075);
  CHECK_VALUE("SELECT quantile(x, 0.99) FROM big", 1000124.7525);

  /* per group, as a report would use them */
  exec("CREATE TABLE g(k, x); INSERT INTO g VALUES ('a', 0.91), ('a', 0.93), ('a', 0.97),"
       " ('b', 0.5), ('b', 0.75), ('c', 0.25)");
  CHECK_VALUE("SELECT stdev(x) FROM g WHERE k = 'a' GROUP BY k", 0.030550504633038898);
  CHECK_VALUE("SELECT variance(x) FROM g GROUP BY k HAVING k = 'a'", 0.0009333333333333313);
  CHECK_VALUE("SELECT stdev(x) FROM g GROUP BY k HAVING k = 'b'", 0.1767766952966369);
  CHECK_VALUE("SELECT median(x) FROM g GROUP BY k HAVING k = 'b'", 0.625);
  CHECK_VALUE("SELECT median(x) FROM g GROUP BY k HAVING k = 'a'", 0.93);
  CHECK_NULL("SELECT stdev(x) FROM g GROUP BY k HAVING k = 'c'");
  CHECK_VALUE("SELECT median(x) FROM g GROUP BY k HAVING k = 'c'", 0.25);
  CHECK_VALUE("SELECT sum(sd) FROM (SELECT k, stdev(x) AS sd FROM g GROUP BY k)",
              0.030550504633038898 + 0.1767766952966369);
  /* and as window functions: over a partition, and over a sliding frame
   * where rows leave (b's 0.5 sits in the frame of a's 0.97 only) */
  CHECK_VALUE("SELECT sd FROM (SELECT k, stdev(x) OVER (PARTITION BY k) AS sd FROM g)"
              " WHERE k = 'b' LIMIT 1",
              0.1767766952966369);
  CHECK_INT("SELECT group_concat(m, ' ') = '0.93 0.95 0.735 0.625 0.5' FROM"
              " (SELECT median(x) OVER (ORDER BY rowid ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
              "  AS m FROM g WHERE rowid > 1)",
              1);
  CHECK_INT("SELECT group_concat(round(v, 12), ' ') = '0.0002 0.0008 0.11045 0.03125' FROM"
              " (SELECT variance(x) OVER (ORDER BY rowid ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
              "  AS v FROM g WHERE rowid < 6)",
              1);
  /* quantile over a frame that holds NULLs and then only NULLs */
  CHECK_INT("SELECT group_concat(coalesce(q, 'null'), ' ') = '1.0 1.5 2.0 null' FROM"
              " (SELECT quantile(x, 0.5) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
              "  AS q FROM (SELECT 1 AS i, 1 AS x UNION ALL SELECT 2, 2 UNION ALL SELECT 3, NULL"
              "  UNION ALL SELECT 4, NULL))",
              1);
}

static void test_nulls_and_types(void) {
  exec("CREATE TABLE n(x); INSERT INTO n VALUES (1), (NULL), (2.5), (NULL), (4)");
  /* NULLs skipped, integers and reals mixed: {1, 2.5, 4} */
  CHECK_VALUE("SELECT variance(x) FROM n", 2.25);
  CHECK_VALUE("SELECT stdev(x) FROM n", 1.5);
  CHECK_VALUE("SELECT median(x) FROM n", 2.5);
  CHECK_VALUE("SELECT quantile(x, 0.75) FROM n", 3.25);
  /* fewer than two values: no spread; no values: nothing at all */
  CHECK_NULL("SELECT stdev(x) FROM n WHERE x = 4");
  CHECK_NULL("SELECT variance(x) FROM n WHERE x = 4");
  CHECK_VALUE("SELECT median(x) FROM n WHERE x = 4", 4);
  CHECK_VALUE("SELECT quantile(x, 0.3) FROM n WHERE x = 4", 4);
  CHECK_NULL("SELECT stdev(x) FROM n WHERE x IS NULL");
  CHECK_NULL("SELECT median(x) FROM n WHERE x IS NULL");
  CHECK_NULL("SELECT quantile(x, 0.5) FROM n WHERE 0");
  CHECK_NULL("SELECT variance(x) FROM n WHERE 0");

  /* text is never read as 0 (avg() would say 2.5 / 2 here) */
  exec("CREATE TABLE t(x); INSERT INTO t VALUES (2.5), ('abc')");
  CHECK_ERROR("SELECT stdev(x) FROM t", "stdev: non-numeric value 'abc'");
  CHECK_ERROR("SELECT variance(x) FROM t", "variance: non-numeric value 'abc'");
  CHECK_ERROR("SELECT median(x) FROM t", "median: non-numeric value 'abc'");
  CHECK_ERROR("SELECT quantile(x, 0.5) FROM t", "quantile: non-numeric value 'abc'");
  /* not even text that looks like a number, or the store's 'NaN' */
  CHECK_ERROR("SELECT stdev(x) FROM (SELECT '0.5' AS x UNION ALL SELECT 1)",
              "stdev: non-numeric value '0.5'");
  CHECK_ERROR("SELECT median(x) FROM (SELECT 'NaN' AS x UNION ALL SELECT 1)",
              "median: non-numeric value 'NaN'");
  CHECK_ERROR("SELECT stdev(x) FROM (SELECT x'0102' AS x UNION ALL SELECT 1)",
              "stdev: non-numeric value (a blob of 2 bytes)");
  CHECK_ERROR("SELECT stdev(printf('%.60c', 'y'))",
              "stdev: non-numeric value 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy…'");
}

static void test_quantile_argument(void) {
  CHECK_ERROR("SELECT quantile(x, 1.5) FROM a", "quantile: q must be a number in [0, 1], got 1.5");
  CHECK_ERROR("SELECT quantile(x, -0.1) FROM a",
              "quantile: q must be a number in [0, 1], got -0.1");
  CHECK_ERROR("SELECT quantile(x, 'half') FROM a",
              "quantile: q must be a number in [0, 1], got 'half'");
  CHECK_ERROR("SELECT quantile(x, NULL) FROM a", "quantile: q must be a number in [0, 1], got NULL");
  CHECK_ERROR("SELECT quantile(x, x / 10.0) FROM a",
              "quantile: q must be the same for every row of a group, got 0.2 and then 0.4");
  CHECK_ERROR("SELECT quantile(x) FROM a", "wrong number of arguments to function quantile()");
  /* an integer q is a number */
  CHECK_VALUE("SELECT quantile(x, 1) FROM a", 9);
}

static void test_infinities(void) {
  /* SQLite gives 9e999 as +inf; a NaN result would turn into NULL */
  CHECK_VALUE("SELECT stdev(x) FROM (SELECT 1 AS x UNION ALL SELECT 9e999)", INFINITY);
  CHECK_VALUE("SELECT variance(x) FROM (SELECT 9e999 AS x UNION ALL SELECT 9e999)", INFINITY);
  CHECK_VALUE("SELECT stdev(x) FROM (SELECT -9e999 AS x UNION ALL SELECT 2 UNION ALL SELECT 3)",
              INFINITY);
  CHECK_NULL("SELECT stdev(x) FROM (SELECT 9e999 AS x)");
  CHECK_VALUE("SELECT median(x) FROM (SELECT 1 AS x UNION ALL SELECT 9e999)", INFINITY);
  CHECK_VALUE("SELECT median(x) FROM (SELECT -9e999 AS x UNION ALL SELECT 1 UNION ALL SELECT 2)",
              1);
  CHECK_VALUE("SELECT quantile(x, 0.5) FROM (SELECT -9e999 AS x UNION ALL SELECT 1)", -INFINITY);
  CHECK_VALUE("SELECT quantile(x, 0) FROM (SELECT 1 AS x UNION ALL SELECT 9e999)", 1);
  CHECK_VALUE("SELECT median(x) FROM (SELECT 9e999 AS x UNION ALL SELECT 9e999)", INFINITY);
  CHECK_ERROR("SELECT median(x) FROM (SELECT -9e999 AS x UNION ALL SELECT 9e999)",
              "median: undefined between -inf and inf");
  /* finite values whose difference overflows still interpolate */
  CHECK_VALUE("SELECT median(x) FROM (SELECT -1e308 AS x UNION ALL SELECT 1e308)", 0);
}

/* The functions are there on the connection `trainbench query` reads with. */
static void test_on_store(void) {
  char dir[] = "/tmp/tb-sqlfn-XXXXXX", path[600], err[TB_ERRLEN] = "";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    failures++;
    return;
  }
  snprintf(path, sizeof path, "%s/r.db", dir);
  tb_store *st = NULL;
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  tb_store_close(st);
  st = NULL;
  CHECK(tb_store_open_read(&st, path, err, sizeof err) == 0);
  if (st) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tb_query_opts o = {.format = TB_FMT_CSV, .timeout = 60};
    int rc = tb_report_query(st,
                             "SELECT stdev(x) AS sd, variance(x) AS var, median(x) AS med,"
                             " quantile(x, 0.25) AS q1 FROM (SELECT 1 AS x UNION ALL SELECT 3"
                             " UNION ALL SELECT 5)",
                             &o, f, err, sizeof err);
    fclose(f);
    CHECK(rc == 0);
    CHECK_STR(text, "sd,var,med,q1\n2,4,3,2\n");
    free(text);
    tb_store_close(st);
  }
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || tb_sql_register(db) != SQLITE_OK) {
    fprintf(stderr, "cannot set up the connection\n");
    return 1;
  }
  test_reference_values();
  test_nulls_and_types();
  test_quantile_argument();
  test_infinities();
  sqlite3_close(db);
  test_on_store();
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("sqlfn: all checks passed\n");
  return failures ? 1 : 0;
}
