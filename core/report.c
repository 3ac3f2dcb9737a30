/*
 * report.c — reading results: any SQL printed as an aligned table, CSV or
 * JSON (`trainbench query`), and the summary of a sweep (`trainbench
 * summary`): one row per configuration, its mean validation and test
 * accuracy over seeds, the best of each loss and optimizer marked.
 *
 * Output formats:
 *   table  aligned columns, header and separator line, reals as %.6g, NULL
 *          empty, cells cut at 40 characters with "…", then "(N rows)";
 *   csv    RFC 4180 quoting, header line, reals in their shortest exact text
 *          (tb_fmt_real), NULL as an empty field, lines end with "\n";
 *   json   an array of objects, one per row; finite reals as numbers,
 *          non-finite reals and stored 'NaN'/'Infinity' texts as strings.
 * A query of several statements prints one result set per statement that
 * returns columns, separated by a blank line (json: one array per line).
 *
 * Provides: tb_report_query, tb_report_summary.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

#define CELL_MAX 40 /* display columns of a table cell before it is cut */

/* ------------------------------------------------------------------------ */
/* An aligned text table held in memory (widths need every row first)       */
/* ------------------------------------------------------------------------ */

typedef struct table {
  int ncol;
  char **cells;           /* row-major, row 0 is the header; NULL prints empty */
  int n, cap;             /* cells used / allocated */
  unsigned char *numeric; /* [ncol] 1 while every non-NULL cell is a number */
  unsigned char *seen;    /* [ncol] a non-NULL body cell was added */
  int truncate;           /* cut cells at CELL_MAX */
} table;

static void table_init(table *t, int ncol, int truncate) {
  memset(t, 0, sizeof *t);
  t->ncol = ncol;
  t->truncate = truncate;
  t->numeric = calloc((size_t)ncol, 1);
  t->seen = calloc((size_t)ncol, 1);
  if (!t->numeric || !t->seen) abort();
  memset(t->numeric, 1, (size_t)ncol);
}

static void table_free(table *t) {
  for (int i = 0; i < t->n; i++) free(t->cells[i]);
  free(t->cells);
  free(t->numeric);
  free(t->seen);
  memset(t, 0, sizeof *t);
}

/* Display width of UTF-8 text: one column per code point. */
static size_t utf8_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

/* Copy for display: control characters become spaces (a newline would break
 * the alignment), and long text is cut at a code point boundary. */
static char *display_copy(const char *s, int truncate) {
  size_t len = strlen(s), w = 0;
  char *d = malloc(len + 4);
  if (!d) abort();
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) != 0x80) {
      if (truncate && w == CELL_MAX - 1 && utf8_width(s + i) > 1) {
        memcpy(d + o, "\xe2\x80\xa6", 3); /* … */
        o += 3;
        break;
      }
      w++;
    }
    d[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
  }
  d[o] = '\0';
  return d;
}

/* Add the next cell (header cells first). `text` NULL is an empty cell. */
static void table_add(table *t, const char *text, int numeric) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->cells = realloc(t->cells, sizeof(char *) * (size_t)t->cap);
    if (!t->cells) abort();
  }
  int col = t->n % t->ncol;
  if (t->n >= t->ncol && text) {
    t->seen[col] = 1;
    if (!numeric) t->numeric[col] = 0;
  }
  t->cells[t->n++] = text ? display_copy(text, t->truncate) : NULL;
}

static void put_padded(FILE *out, const char *s, size_t width, int right, int last) {
  size_t w = utf8_width(s);
  if (right)
    for (size_t i = w; i < width; i++) fputc(' ', out);
  fputs(s, out);
  if (!right && !last)
    for (size_t i = w; i < width; i++) fputc(' ', out);
}

static void table_print(const table *t, FILE *out) {
  int rows = t->n / t->ncol;
  size_t *width = calloc((size_t)t->ncol, sizeof(size_t));
  if (!width) abort();
  for (int i = 0; i < t->n; i++) {
    size_t w = t->cells[i] ? utf8_width(t->cells[i]) : 0;
    if (w > width[i % t->ncol]) width[i % t->ncol] = w;
  }
  char *line = NULL;
  size_t line_len = 0;
  for (int r = 0; r < rows; r++) {
    /* compose the line first so that trailing blanks can be trimmed */
    FILE *l = open_memstream(&line, &line_len);
    if (!l) abort();
    for (int c = 0; c < t->ncol; c++) {
      const char *s = t->cells[r * t->ncol + c];
      int right = t->numeric[c] && t->seen[c];
      if (c) fputs("  ", l);
      put_padded(l, s ? s : "", width[c], right, c == t->ncol - 1);
    }
    fclose(l);
    while (line_len > 0 && line[line_len - 1] == ' ') line[--line_len] = '\0';
    fputs(line, out);
    free(line);
    line = NULL;
    fputc('\n', out);
    if (r == 0) {
      for (int c = 0; c < t->ncol; c++) {
        if (c) fputs("  ", out);
        for (size_t i = 0; i < width[c]; i++) fputc('-', out);
      }
      fputc('\n', out);
    }
  }
  free(width);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static void fmt_nonfinite(char *buf, size_t len, double x) {
  snprintf(buf, len, "%s", isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
}

/* Blobs print as hex in every format. Returns a malloc'd string. */
static char *blob_hex(sqlite3_stmt *s, int c) {
  const unsigned char *b = sqlite3_column_blob(s, c);
  int n = sqlite3_column_bytes(s, c);
  char *h = malloc(2 * (size_t)n + 1);
  if (!h) abort();
  for (int i = 0; i < n; i++) snprintf(h + 2 * i, 3, "%02x", b[i]);
  h[2 * n] = '\0';
  return h;
}

static void csv_field(FILE *out, const char *s) {
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    default:
      if (c < 0x20)
        fprintf(out, "\\u%04x", c);
      else
        fputc(c, out);
    }
  }
  fputc('"', out);
}

/* ------------------------------------------------------------------------ */
/* Query                                                                    */
/* ------------------------------------------------------------------------ */

static int query_fail(char *err, size_t errlen, sqlite3 *db) {
  tb_errf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
  return -1;
}

static int print_table_set(sqlite3 *db, sqlite3_stmt *s, FILE *out, char *err, size_t errlen) {
  int ncol = sqlite3_column_count(s), rc;
  table t;
  table_init(&t, ncol, 1);
  for (int c = 0; c < ncol; c++) table_add(&t, sqlite3_column_name(s, c), 0);
  long rows = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rows++;
    for (int c = 0; c < ncol; c++) {
      char buf[64];
      switch (sqlite3_column_type(s, c)) {
      case SQLITE_NULL:
        table_add(&t, NULL, 0);
        break;
      case SQLITE_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(s, c));
        table_add(&t, buf, 1);
        break;
      case SQLITE_FLOAT: {
        double x = sqlite3_column_double(s, c);
        if (isfinite(x))
          snprintf(buf, sizeof buf, "%.6g", x);
        else
          fmt_nonfinite(buf, sizeof buf, x);
        table_add(&t, buf, 1);
        break;
      }
      case SQLITE_BLOB: {
        char *h = blob_hex(s, c);
        table_add(&t, h, 0);
        free(h);
        break;
      }
      default:
        table_add(&t, (const char *)sqlite3_column_text(s, c), 0);
      }
    }
  }
  if (rc != SQLITE_DONE) {
    table_free(&t);
    return query_fail(err, errlen, db);
  }
  table_print(&t, out);
  fprintf(out, "(%ld row%s)\n", rows, rows == 1 ? "" : "s");
  table_free(&t);
  return 0;
}

static int print_csv_set(sqlite3 *db, sqlite3_stmt *s, FILE *out, char *err, size_t errlen) {
  int ncol = sqlite3_column_count(s), rc;
  for (int c = 0; c < ncol; c++) {
    if (c) fputc(',', out);
    csv_field(out, sqlite3_column_name(s, c));
  }
  fputc('\n', out);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    for (int c = 0; c < ncol; c++) {
      char buf[64];
      if (c) fputc(',', out);
      switch (sqlite3_column_type(s, c)) {
      case SQLITE_NULL:
        break;
      case SQLITE_INTEGER:
        fprintf(out, "%lld", (long long)sqlite3_column_int64(s, c));
        break;
      case SQLITE_FLOAT:
        tb_fmt_real(buf, sizeof buf, sqlite3_column_double(s, c));
        fputs(buf, out);
        break;
      case SQLITE_BLOB: {
        char *h = blob_hex(s, c);
        fputs(h, out);
        free(h);
        break;
      }
      default:
        csv_field(out, (const char *)sqlite3_column_text(s, c));
      }
    }
    fputc('\n', out);
  }
  return rc == SQLITE_DONE ? 0 : query_fail(err, errlen, db);
}

static int print_json_set(sqlite3 *db, sqlite3_stmt *s, FILE *out, char *err, size_t errlen) {
  int ncol = sqlite3_column_count(s), rc;
  long rows = 0;
  fputc('[', out);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    fputs(rows++ ? ",\n{" : "\n{", out);
    for (int c = 0; c < ncol; c++) {
      char buf[64];
      if (c) fputc(',', out);
      json_string(out, sqlite3_column_name(s, c));
      fputc(':', out);
      switch (sqlite3_column_type(s, c)) {
      case SQLITE_NULL:
        fputs("null", out);
        break;
      case SQLITE_INTEGER:
        fprintf(out, "%lld", (long long)sqlite3_column_int64(s, c));
        break;
      case SQLITE_FLOAT: {
        /* JSON has no NaN or infinity: those become strings as in the store */
        double x = sqlite3_column_double(s, c);
        tb_fmt_real(buf, sizeof buf, x);
        if (isfinite(x))
          fputs(buf, out);
        else
          json_string(out, buf);
        break;
      }
      case SQLITE_BLOB: {
        char *h = blob_hex(s, c);
        json_string(out, h);
        free(h);
        break;
      }
      default:
        json_string(out, (const char *)sqlite3_column_text(s, c));
      }
    }
    fputc('}', out);
  }
  fputs(rows ? "\n]\n" : "]\n", out);
  return rc == SQLITE_DONE ? 0 : query_fail(err, errlen, db);
}

int tb_report_query(tb_store *st, const char *sql, int format, FILE *out, char *err,
                    size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  if (format != TB_FMT_TABLE && format != TB_FMT_CSV && format != TB_FMT_JSON) {
    tb_errf(err, errlen, "unknown output format %d", format);
    return -1;
  }
  const char *tail = sql;
  int statements = 0, sets = 0;
  while (tail && *tail) {
    sqlite3_stmt *s = NULL;
    const char *next = NULL;
    if (sqlite3_prepare_v2(db, tail, -1, &s, &next) != SQLITE_OK)
      return query_fail(err, errlen, db);
    tail = next;
    if (!s) continue; /* only whitespace or a comment was left */
    statements++;
    int rc = 0;
    if (sqlite3_column_count(s) == 0) {
      int r;
      while ((r = sqlite3_step(s)) == SQLITE_ROW) {}
      if (r != SQLITE_DONE) rc = query_fail(err, errlen, db);
    } else {
      if (sets++ && format != TB_FMT_JSON) fputc('\n', out);
      rc = format == TB_FMT_TABLE ? print_table_set(db, s, out, err, errlen)
           : format == TB_FMT_CSV ? print_csv_set(db, s, out, err, errlen)
                                  : print_json_set(db, s, out, err, errlen);
    }
    sqlite3_finalize(s);
    if (rc) return rc;
  }
  if (statements == 0) {
    tb_errf(err, errlen, "query failed: no SQL statement given");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Summary                                                                  */
/* ------------------------------------------------------------------------ */

/* One row per configuration (scenario, group_hash: everything but the seed)
 * from the views `current_configs` (the configurations the latest version
 * of each scenario expands to) or `configs` (every run). A configuration is
 * scored by its mean validation accuracy over complete seeds (train accuracy
 * when the scenario has no validation split; never test); within each
 * (scenario, loss, optimizer) the best score is marked, and every
 * configuration that ties it. */
static const char summary_sql[] =
    "WITH c AS (SELECT *, CASE WHEN n_val > 0 THEN val_accuracy ELSE train_accuracy END"
    "   AS score, n_val > 0 AS on_val FROM %s WHERE ?1 IS NULL OR scenario = ?1),"
    " k AS (SELECT *, max(score) OVER w AS top, count(*) OVER (PARTITION BY scenario) AS"
    "   in_scenario FROM c WINDOW w AS (PARTITION BY scenario, loss, optimizer))"
    " SELECT scenario, coalesce(loss, ''), coalesce(optimizer, ''), example_run, on_val, score,"
    "  test_accuracy, n_test, test_accuracy_sd, complete, diverged, failed,"
    "  coalesce(val_accuracy_nonfinite, 0) + coalesce(test_accuracy_nonfinite, 0),"
    "  score IS NOT NULL AND score = top,"
    "  (SELECT count(*) FROM k k2 WHERE k2.scenario = k.scenario AND k2.loss IS k.loss"
    "   AND k2.optimizer IS k.optimizer AND k2.score = k.top), in_scenario"
    " FROM k ORDER BY scenario, max(top) OVER (PARTITION BY scenario, loss, optimizer)"
    "  IS NULL, max(top) OVER (PARTITION BY scenario, loss, optimizer) DESC, loss, optimizer,"
    "  score IS NULL, score DESC, example_run";

/* Settings of the representative run `rep` that take another value in some
 * other configuration of its scenario (among those that have the setting),
 * the seed and content hashes aside: loss and optimizer hyperparameters
 * first, in table order, then the rest. */
static const char varying_sql[] =
    "SELECT p.component, p.key, p.value FROM params p"
    " WHERE p.run_id = ?1 AND NOT (p.component = 'run' AND p.key = 'seed')"
    "  AND p.key <> 'content_hash'"
    "  AND EXISTS (SELECT 1 FROM %s o JOIN params q ON q.run_id = o.example_run"
    "   AND q.component = p.component AND q.key = p.key"
    "   WHERE o.scenario = ?2 AND q.value IS NOT p.value)"
    " ORDER BY CASE p.component WHEN 'loss' THEN 0 WHEN 'optimizer' THEN 1 ELSE 2 END,"
    "  p.rowid";

/* "lr=0.01 momentum=0.9": bare names for loss and optimizer hyperparameters
 * (prefixed when both have the name), "component.key" for the rest. */
static int describe_config(sqlite3_stmt *v, int64_t rep, const char *scenario, char *out,
                           size_t len) {
  sqlite3_reset(v);
  sqlite3_bind_int64(v, 1, rep);
  sqlite3_bind_text(v, 2, scenario, -1, SQLITE_TRANSIENT);
  enum { MAXP = 2 * TB_MAX_HP + 64 };
  char comp[MAXP][16], key[MAXP][64], val[MAXP][128];
  int n = 0, rc;
  while ((rc = sqlite3_step(v)) == SQLITE_ROW) {
    if (n == MAXP) continue;
    snprintf(comp[n], sizeof comp[n], "%s", (const char *)sqlite3_column_text(v, 0));
    snprintf(key[n], sizeof key[n], "%s", (const char *)sqlite3_column_text(v, 1));
    switch (sqlite3_column_type(v, 2)) {
    case SQLITE_FLOAT:
      snprintf(val[n], sizeof val[n], "%.6g", sqlite3_column_double(v, 2));
      break;
    case SQLITE_NULL:
      snprintf(val[n], sizeof val[n], "null");
      break;
    default:
      snprintf(val[n], sizeof val[n], "%s", (const char *)sqlite3_column_text(v, 2));
    }
    n++;
  }
  if (rc != SQLITE_DONE) return -1;
  size_t o = 0;
  out[0] = '\0';
  for (int i = 0; i < n && o < len; i++) {
    int hp = strcmp(comp[i], "loss") == 0 || strcmp(comp[i], "optimizer") == 0;
    int clash = 0;
    for (int j = 0; j < n && hp && !clash; j++)
      clash = j != i && strcmp(key[j], key[i]) == 0 &&
              (strcmp(comp[j], "loss") == 0 || strcmp(comp[j], "optimizer") == 0);
    if (hp && !clash)
      o += (size_t)snprintf(out + o, len - o, "%s%s=%s", o ? " " : "", key[i], val[i]);
    else
      o += (size_t)snprintf(out + o, len - o, "%s%s.%s=%s", o ? " " : "", comp[i], key[i],
                            val[i]);
  }
  return 0;
}

int tb_report_summary(tb_store *st, const tb_summary_opts *opts, FILE *out, char *err,
                      size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  const char *view = opts->all_versions ? "configs" : "current_configs";
  char *ssql = sqlite3_mprintf(summary_sql, view);
  char *vsql = sqlite3_mprintf(varying_sql, view);
  if (!ssql || !vsql) abort();
  sqlite3_stmt *s = NULL, *v = NULL;
  int rc = SQLITE_ERROR;
  if (sqlite3_prepare_v2(db, ssql, -1, &s, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, vsql, -1, &v, NULL) != SQLITE_OK) {
    tb_errf(err, errlen, "cannot summarize: %s", sqlite3_errmsg(db));
    goto done;
  }
  if (opts->scenario) sqlite3_bind_text(s, 1, opts->scenario, -1, SQLITE_TRANSIENT);

  static const char *const head[] = {"scenario", "loss", "optimizer", "config", "val acc",
                                     "test acc (mean ± sd)", "n", "nan/inf", "diverged",
                                     "failed", "best"};
  enum { NCOL = sizeof head / sizeof *head };
  table t;
  table_init(&t, NCOL, 0);
  for (int c = 0; c < NCOL; c++) table_add(&t, head[c], 0);
  int rows = 0, shown = 0, fallback = 0, ties = 0, nonfinite = 0, collapsed = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rows++;
    int is_best = sqlite3_column_int(s, 13), n_top = sqlite3_column_int(s, 14);
    int in_scenario = sqlite3_column_int(s, 15);
    int best_only = opts->best_only || (opts->max_rows > 0 && in_scenario > opts->max_rows);
    if (best_only && !is_best) {
      collapsed = 1;
      continue;
    }
    shown++;
    const char *scen = (const char *)sqlite3_column_text(s, 0);
    char config[2048] = "", val[64] = "", test[96] = "", n[32], nf[32], div[32], failed[32];
    if (describe_config(v, sqlite3_column_int64(s, 3), scen, config, sizeof config)) {
      rc = SQLITE_ERROR;
      break;
    }
    if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
      int on_val = sqlite3_column_int(s, 4);
      snprintf(val, sizeof val, "%.4f%s", sqlite3_column_double(s, 5), on_val ? "" : "†");
      if (!on_val) fallback = 1;
    }
    int n_test = sqlite3_column_int(s, 7);
    if (n_test > 0) {
      double mean = sqlite3_column_double(s, 6);
      if (n_test > 1 && sqlite3_column_type(s, 8) != SQLITE_NULL)
        snprintf(test, sizeof test, "%.4f ± %.4f", mean, sqlite3_column_double(s, 8));
      else
        snprintf(test, sizeof test, "%.4f", mean);
    }
    snprintf(n, sizeof n, "%d", sqlite3_column_int(s, 9));
    int nfv = sqlite3_column_int(s, 12);
    nonfinite += nfv;
    snprintf(nf, sizeof nf, "%d", nfv);
    snprintf(div, sizeof div, "%d", sqlite3_column_int(s, 10));
    snprintf(failed, sizeof failed, "%d", sqlite3_column_int(s, 11));
    if (is_best && n_top > 1) ties = 1;
    table_add(&t, scen, 0);
    table_add(&t, (const char *)sqlite3_column_text(s, 1), 0);
    table_add(&t, (const char *)sqlite3_column_text(s, 2), 0);
    table_add(&t, config, 0);
    table_add(&t, val, 1);
    table_add(&t, test, 1);
    table_add(&t, n, 1);
    table_add(&t, nf, 1);
    table_add(&t, div, 1);
    table_add(&t, failed, 1);
    table_add(&t, !is_best ? "" : n_top > 1 ? "=" : "*", 0);
  }
  if (rc != SQLITE_DONE) {
    tb_errf(err, errlen, "cannot summarize: %s", sqlite3_errmsg(db));
  } else if (rows == 0 && opts->scenario) {
    tb_errf(err, errlen, "no runs for scenario '%s'", opts->scenario);
    rc = SQLITE_ERROR;
  } else if (rows == 0) {
    fputs("no runs recorded yet\n", out);
  } else {
    table_print(&t, out);
    fputs("one row per configuration (all settings but the seed); val acc: mean final "
          "validation accuracy over its complete seeds; n: complete seeds in the means; "
          "nan/inf: non-finite values left out of them; best: * the highest val acc of its "
          "loss and optimizer, = tied with another\n",
          out);
    if (ties) fputs("= several configurations tie for the best val acc of their loss and "
                    "optimizer\n", out);
    if (fallback) fputs("† no validation split: train accuracy instead\n", out);
    if (collapsed)
      fprintf(out, "%d of %d configurations shown (the best of each loss and optimizer); "
              "`trainbench summary%s%s` lists them all\n",
              shown, rows, opts->scenario ? " --scenario " : "",
              opts->scenario ? opts->scenario : "");
    if (!opts->all_versions)
      fputs("configurations of the latest version of each scenario (--all: every recorded "
            "run)\n", out);
    (void)nonfinite;
  }
  table_free(&t);
done:
  sqlite3_finalize(s);
  sqlite3_finalize(v);
  sqlite3_free(ssql);
  sqlite3_free(vsql);
  return rc == SQLITE_DONE ? 0 : -1;
}
