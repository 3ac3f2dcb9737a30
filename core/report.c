/*
 * report.c — reading results: any SQL printed as an aligned table, CSV or
 * JSON (`trainbench query`), and the summary of a sweep (`trainbench
 * summary`): per (scenario, loss, optimizer), the configuration with the best
 * mean validation accuracy over its complete seeds and its test accuracy.
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

/* One row per (scenario, loss, optimizer). Within a group, runs that differ
 * only by seed share a configuration: the canonical JSON without "$.seed".
 * The accuracy of a run is the value of its curve at the last recorded
 * epoch; only finite numbers count (non-finite ones are stored as text). */
static const char summary_sql[] =
    "WITH r AS ("
    "  SELECT id, scenario, coalesce(loss, '') AS loss, coalesce(optimizer, '') AS optimizer,"
    "         status, json_remove(config, '$.seed') AS cfg"
    "  FROM runs WHERE ?1 IS NULL OR scenario = ?1),"
    " c AS ("
    "  SELECT r.*,"
    "   (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.split = 'val'"
    "     AND m.name = 'accuracy' AND typeof(m.value) IN ('integer', 'real')"
    "     ORDER BY m.epoch DESC LIMIT 1) AS val,"
    "   (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.split = 'train'"
    "     AND m.name = 'accuracy' AND typeof(m.value) IN ('integer', 'real')"
    "     ORDER BY m.epoch DESC LIMIT 1) AS train,"
    "   (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.split = 'test'"
    "     AND m.name = 'accuracy' AND typeof(m.value) IN ('integer', 'real')"
    "     ORDER BY m.epoch DESC LIMIT 1) AS test"
    "  FROM r WHERE status = 'complete'),"
    " cfgs AS ("
    "  SELECT scenario, loss, optimizer, cfg, min(id) AS rep, count(*) AS n,"
    "         avg(val) AS val_mean, count(val) AS n_val, avg(train) AS train_mean,"
    "         avg(test) AS test_mean, count(test) AS n_test"
    "  FROM c GROUP BY scenario, loss, optimizer, cfg),"
    /* configurations measured on val come first; without any, train decides */
    " ranked AS ("
    "  SELECT *, row_number() OVER (PARTITION BY scenario, loss, optimizer"
    "    ORDER BY n_val > 0 DESC, coalesce(val_mean, train_mean) DESC NULLS LAST, rep) AS rk"
    "  FROM cfgs),"
    " best AS (SELECT * FROM ranked WHERE rk = 1),"
    " spread AS ("
    "  SELECT b.scenario, b.loss, b.optimizer,"
    "         sum((c.test - b.test_mean) * (c.test - b.test_mean)) AS ss"
    "  FROM best b JOIN c ON c.scenario = b.scenario AND c.loss = b.loss"
    "   AND c.optimizer = b.optimizer AND c.cfg = b.cfg"
    "  WHERE c.test IS NOT NULL GROUP BY b.scenario, b.loss, b.optimizer),"
    " groups AS ("
    "  SELECT scenario, loss, optimizer, sum(status <> 'complete') AS failed"
    "  FROM r GROUP BY scenario, loss, optimizer)"
    " SELECT g.scenario, g.loss, g.optimizer, b.rep, b.n_val > 0,"
    "        coalesce(b.val_mean, b.train_mean) AS score, b.test_mean, b.n_test, s.ss,"
    "        coalesce(b.n, 0), g.failed"
    " FROM groups g LEFT JOIN best b USING (scenario, loss, optimizer)"
    " LEFT JOIN spread s USING (scenario, loss, optimizer)"
    " ORDER BY g.scenario, score IS NULL, score DESC, g.loss, g.optimizer";

/* Settings of the representative run `rep` that vary within its (scenario,
 * loss, optimizer) group, the seed aside: loss and optimizer hyperparameters
 * first, in table order, then other varying settings (model, data, ...). */
static const char varying_sql[] =
    "SELECT p.component, p.key, p.value FROM params p"
    " WHERE p.run_id = ?1 AND NOT (p.component = 'run' AND p.key = 'seed')"
    "  AND p.key <> 'content_hash'"
    "  AND EXISTS (SELECT 1 FROM runs o JOIN params q ON q.run_id = o.id"
    "   AND q.component = p.component AND q.key = p.key"
    "   WHERE o.scenario = ?2 AND coalesce(o.loss, '') = ?3"
    "    AND coalesce(o.optimizer, '') = ?4 AND q.value IS NOT p.value)"
    " ORDER BY CASE p.component WHEN 'loss' THEN 0 WHEN 'optimizer' THEN 1 ELSE 2 END,"
    "  p.rowid";

/* "lr=0.01 momentum=0.9": bare names for loss and optimizer hyperparameters
 * (prefixed when both have the name), "component.key" for the rest. */
static int describe_config(sqlite3_stmt *v, int64_t rep, const char *scenario,
                           const char *loss, const char *opt, char *out, size_t len) {
  sqlite3_reset(v);
  sqlite3_bind_int64(v, 1, rep);
  sqlite3_bind_text(v, 2, scenario, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(v, 3, loss, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(v, 4, opt, -1, SQLITE_TRANSIENT);
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

int tb_report_summary(tb_store *st, const char *scenario, FILE *out, char *err,
                      size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  sqlite3_stmt *s = NULL, *v = NULL;
  if (sqlite3_prepare_v2(db, summary_sql, -1, &s, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, varying_sql, -1, &v, NULL) != SQLITE_OK) {
    tb_errf(err, errlen, "cannot summarize: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return -1;
  }
  if (scenario) sqlite3_bind_text(s, 1, scenario, -1, SQLITE_TRANSIENT);

  static const char *const head[] = {"scenario", "loss", "optimizer", "best config",
                                     "val acc", "test acc (mean ± sd)", "n", "failed"};
  table t;
  table_init(&t, 8, 0);
  for (int c = 0; c < 8; c++) table_add(&t, head[c], 0);
  int rows = 0, fallback = 0, rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rows++;
    const char *scen = (const char *)sqlite3_column_text(s, 0);
    const char *loss = (const char *)sqlite3_column_text(s, 1);
    const char *opt = (const char *)sqlite3_column_text(s, 2);
    char config[2048] = "", val[64] = "", test[96] = "", n[32], failed[32];
    if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
        describe_config(v, sqlite3_column_int64(s, 3), scen, loss, opt, config,
                        sizeof config)) {
      rc = SQLITE_ERROR;
      break;
    }
    if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
      int on_val = sqlite3_column_int(s, 4);
      snprintf(val, sizeof val, "%.4f%s", sqlite3_column_double(s, 5), on_val ? "" : "*");
      if (!on_val) fallback = 1;
    }
    int n_test = sqlite3_column_int(s, 7);
    if (n_test > 0) {
      double mean = sqlite3_column_double(s, 6);
      if (n_test > 1)
        snprintf(test, sizeof test, "%.4f ± %.4f", mean,
                 sqrt(sqlite3_column_double(s, 8) / (n_test - 1)));
      else
        snprintf(test, sizeof test, "%.4f", mean);
    }
    snprintf(n, sizeof n, "%d", sqlite3_column_int(s, 9));
    snprintf(failed, sizeof failed, "%d", sqlite3_column_int(s, 10));
    table_add(&t, scen, 0);
    table_add(&t, loss, 0);
    table_add(&t, opt, 0);
    table_add(&t, config, 0);
    table_add(&t, val, 1);
    table_add(&t, test, 1);
    table_add(&t, n, 1);
    table_add(&t, failed, 1);
  }
  if (rc != SQLITE_DONE) {
    tb_errf(err, errlen, "cannot summarize: %s", sqlite3_errmsg(db));
  } else if (rows == 0 && scenario) {
    tb_errf(err, errlen, "no runs for scenario '%s'", scenario);
    rc = SQLITE_ERROR;
  } else if (rows == 0) {
    fputs("no runs recorded yet\n", out);
  } else {
    table_print(&t, out);
    fputs("best config: highest mean val accuracy over complete seeds; "
          "n: its complete seeds; failed: runs not complete\n",
          out);
    if (fallback)
      fputs("* no val split: selected on train accuracy instead\n", out);
  }
  table_free(&t);
  sqlite3_finalize(s);
  sqlite3_finalize(v);
  return rc == SQLITE_DONE ? 0 : -1;
}
