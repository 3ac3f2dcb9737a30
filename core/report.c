/*
 * report.c — reading results: any read-only SQL printed as an aligned
 * table, CSV or JSON (`trainbench query`), and the summary of a sweep
 * (`trainbench summary`): one row per configuration, its mean validation and
 * test accuracy over seeds, the best of each loss and optimizer marked.
 *
 * A query is read-only: every statement is prepared and checked before any
 * runs. An authorizer refuses ATTACH, DETACH, pragmas that set a value or
 * act (optimize, wal_checkpoint, ...), and every write, even to TEMP
 * tables; sqlite3_stmt_readonly() then catches what the authorizer never
 * sees (VACUUM INTO, BEGIN IMMEDIATE). A progress handler stops a query
 * that runs past its time limit.
 *
 * Output formats:
 *   table  aligned columns, header and separator line, reals as %.6g and
 *          non-finite reals as inf / -inf, NULL empty, numbers in columns
 *          named "..._at" as UTC times "2026-11-30 18:21:48" (unix seconds,
 *          cut to the second); on a terminal, cells longer than 40
 *          characters are cut with "…" and a note names the cut columns
 *          (never with --wide, never when the output is a file or a pipe);
 *          then "(N rows)";
 *   csv    RFC 4180 quoting, header line, reals in their shortest exact text
 *          (tb_fmt_real), times as stored, NULL as an empty field, lines end
 *          with "\n";
 *   json   an array of objects, one per row; finite reals as numbers,
 *          non-finite reals and stored 'NaN'/'Infinity' texts as strings,
 *          times as stored.
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
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "report.h"
#include "stages.h"
#include "store.h"
#include "util.h"

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
  unsigned char *cut;     /* [ncol] a cell of this column was cut */
  int truncate;           /* cut cells at CELL_MAX */
} table;

static void table_init(table *t, int ncol, int truncate) {
  memset(t, 0, sizeof *t);
  t->ncol = ncol;
  t->truncate = truncate;
  t->numeric = calloc((size_t)ncol, 1);
  t->seen = calloc((size_t)ncol, 1);
  t->cut = calloc((size_t)ncol, 1);
  if (!t->numeric || !t->seen || !t->cut) abort();
  memset(t->numeric, 1, (size_t)ncol);
}

static void table_free(table *t) {
  for (int i = 0; i < t->n; i++) free(t->cells[i]);
  free(t->cells);
  free(t->numeric);
  free(t->seen);
  free(t->cut);
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
 * the alignment), and long text is cut at a code point boundary (*cut = 1). */
static char *display_copy(const char *s, int truncate, int *cut) {
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
        *cut = 1;
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
  int col = t->n % t->ncol, cut = 0;
  if (t->n >= t->ncol && text) {
    t->seen[col] = 1;
    if (!numeric) t->numeric[col] = 0;
  }
  t->cells[t->n++] = text ? display_copy(text, t->truncate, &cut) : NULL;
  if (cut) t->cut[col] = 1;
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

/* Columns named "..._at" (started_at, finished_at, created_at) hold unix
 * seconds: 1 for such a name. */
static int is_time_column(const char *name) {
  size_t n = name ? strlen(name) : 0;
  return n > 3 && strcasecmp(name + n - 3, "_at") == 0;
}

/* Unix seconds as "2026-11-30 18:21:48" UTC, cut to the second like
 * SQLite's datetime(x, 'unixepoch'). 0 if x is outside years 1..9999. */
static int fmt_time(char *buf, size_t len, double x) {
  if (!(x >= -62135596800.0 && x < 253402300800.0)) return 0;
  time_t t = (time_t)floor(x);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return 0;
  return strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) > 0;
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
/* Query: guards                                                            */
/* ------------------------------------------------------------------------ */

/* What the authorizer and the progress handler saw, for the messages. */
typedef struct guard {
  int denied;         /* the authorizer refused something */
  int deleting;       /* ... and it was a DELETE from a user table */
  int timed_out;      /* the progress handler stopped the query */
  double deadline;    /* on the tb_now_mono() clock */
} guard;

/* Pragmas that take an argument and only read. */
static const char *const pragmas_reading_with_arg[] = {
    "table_info", "table_xinfo",       "index_info",      "index_xinfo",     "index_list",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", NULL};
/* Pragmas that act even without an argument. */
static const char *const pragmas_acting[] = {"optimize", "shrink_memory", "wal_checkpoint",
                                              "incremental_vacuum", NULL};

static int in_list(const char *const *list, const char *name) {
  for (; *list; list++)
    if (strcasecmp(*list, name) == 0) return 1;
  return 0;
}

static int authorize(void *ud, int action, const char *a1, const char *a2, const char *db,
                     const char *trigger) {
  (void)db;
  (void)trigger;
  guard *g = ud;
  switch (action) {
  case SQLITE_SELECT:
  case SQLITE_READ:
  case SQLITE_FUNCTION:
  case SQLITE_RECURSIVE:
  case SQLITE_TRANSACTION: /* BEGIN IMMEDIATE is caught by sqlite3_stmt_readonly */
  case SQLITE_SAVEPOINT:
    return SQLITE_OK;
  case SQLITE_PRAGMA:
    if (a2 ? in_list(pragmas_reading_with_arg, a1) : !in_list(pragmas_acting, a1))
      return SQLITE_OK;
    break;
  case SQLITE_UPDATE:
    /* SQLite reports updates of its schema table when it sets up a
     * table-valued pragma such as pragma_table_info('runs'). A real schema
     * change also reports its CREATE, DROP or ALTER, refused below, and an
     * UPDATE of sqlite_master written by hand fails sqlite3_stmt_readonly() */
    if (a1 && (strcmp(a1, "sqlite_master") == 0 || strcmp(a1, "sqlite_temp_master") == 0))
      return SQLITE_OK;
    break;
  case SQLITE_DELETE:
    if (!g->denied && a1 && strncmp(a1, "sqlite_", 7) != 0) g->deleting = 1;
    break;
  }
  g->denied = 1;
  return SQLITE_DENY;
}

static int past_deadline(void *ud) {
  guard *g = ud;
  if (tb_now_mono() >= g->deadline) g->timed_out = 1;
  return g->timed_out;
}

/* The first words of a statement for a message: comments and runs of blanks
 * dropped, at most about 50 characters. */
static void statement_words(const char *sql, const char *end, char *out, size_t len) {
  size_t o = 0;
  int space = 0;
  char quote = 0; /* inside '...', "..." or `...`: copied as it is */
  const char *p = sql;
  while (p < end && o + 8 < len && o < 50) {
    if (quote) {
      unsigned char c = (unsigned char)*p++;
      if (c == (unsigned char)quote) quote = 0;
      out[o++] = c < ' ' ? ' ' : (char)c;
      continue;
    }
    if (p[0] == '-' && p + 1 < end && p[1] == '-') {
      while (p < end && *p != '\n') p++;
      space = 1;
      continue;
    }
    if (p[0] == '/' && p + 1 < end && p[1] == '*') {
      const char *close = strstr(p + 2, "*/");
      p = close && close + 2 <= end ? close + 2 : end;
      space = 1;
      continue;
    }
    unsigned char c = (unsigned char)*p++;
    if (c <= ' ') {
      space = 1;
      continue;
    }
    if (space && o) out[o++] = ' ';
    space = 0;
    if (c == '\'' || c == '"' || c == '`') quote = (char)c;
    out[o++] = (char)c;
  }
  while (o > 0 && (out[o - 1] == ';' || out[o - 1] == ' ')) o--;
  /* more to come (other than the closing ';'): cut at a word, say so */
  int more = 0;
  for (const char *q = p; q < end; q++)
    if ((unsigned char)*q > ' ' && *q != ';') more = 1;
  if (more) {
    size_t cut = o;
    while (cut > 20 && out[cut - 1] != ' ') cut--;
    if (cut > 20) o = cut - 1;
    while (o > 0 && ((unsigned char)out[o] & 0xC0) == 0x80) o--; /* whole characters */
    memcpy(out + o, "…", strlen("…"));
    o += strlen("…");
  }
  out[o] = '\0';
}

/* The end of the statement that starts at `sql`: after its ';' or at the
 * end of the text (SQLite stops parsing a statement at its first error). */
static const char *statement_end(const char *sql) {
  char *copy = strdup(sql);
  if (!copy) abort();
  const char *end = sql + strlen(sql);
  for (char *p = copy; (p = strchr(p, ';')) != NULL; p++) {
    char keep = p[1];
    p[1] = '\0';
    int complete = sqlite3_complete(copy);
    p[1] = keep;
    if (complete) {
      end = sql + (p + 1 - copy);
      break;
    }
  }
  free(copy);
  return end;
}

static int refuse(char *err, size_t errlen, const guard *g, const char *sql, const char *end,
                  const char *which) {
  char words[96];
  statement_words(sql, end, words, sizeof words);
  tb_errf(err, errlen, "query is read-only: refused \"%s\"%s%s", words, which,
          g->deleting ? "; to delete runs use trainbench rm --where \"CONDITION\"" : "");
  return -1;
}

/* A database read as an immutable file (tb_store_open_read, when its folder
 * cannot be written) is read without locks: if a writer changed the file
 * since it was opened, what was read may mix old and new pages. */
static int check_unchanged(sqlite3 *db, char *err, size_t errlen) {
  const char *file = sqlite3_db_filename(db, "main");
  if (!file || !sqlite3_uri_boolean(file, "immutable", 0)) return 0;
  struct stat sb;
  int same = stat(file, &sb) == 0 &&
             (sqlite3_int64)sb.st_ino == sqlite3_uri_int64(file, "tb_ino", -1) &&
             (sqlite3_int64)sb.st_size == sqlite3_uri_int64(file, "tb_size", -1) &&
             (sqlite3_int64)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec ==
                 sqlite3_uri_int64(file, "tb_mtime_ns", -1);
  if (same) return 0;
  tb_errf(err, errlen,
          "database '%s' changed while it was read (a writer is at work and the folder is "
          "read-only here); run the query again",
          file);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Query: printing                                                          */
/* ------------------------------------------------------------------------ */

typedef struct query_run {
  sqlite3 *db;
  const tb_query_opts *o;
  guard *g;
  FILE *out;
  char *err;
  size_t errlen;
} query_run;

static int query_fail(const query_run *q) {
  if (q->g->timed_out)
    tb_errf(q->err, q->errlen, "query stopped after %g s (--timeout)", q->o->timeout);
  else
    tb_errf(q->err, q->errlen, "query failed: %s", sqlite3_errmsg(q->db));
  return -1;
}

static int print_table_set(const query_run *q, sqlite3_stmt *s) {
  int ncol = sqlite3_column_count(s), rc;
  table t;
  table_init(&t, ncol, q->o->tty && !q->o->wide);
  unsigned char *time_col = calloc((size_t)ncol, 1);
  if (!time_col) abort();
  for (int c = 0; c < ncol; c++) {
    table_add(&t, sqlite3_column_name(s, c), 0);
    time_col[c] = (unsigned char)is_time_column(sqlite3_column_name(s, c));
  }
  long rows = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rows++;
    for (int c = 0; c < ncol; c++) {
      char buf[64];
      int type = sqlite3_column_type(s, c);
      if (time_col[c] && (type == SQLITE_INTEGER || type == SQLITE_FLOAT) &&
          fmt_time(buf, sizeof buf, sqlite3_column_double(s, c))) {
        table_add(&t, buf, 0);
        continue;
      }
      switch (type) {
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
          snprintf(buf, sizeof buf, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
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
  free(time_col);
  if (rc != SQLITE_DONE) {
    table_free(&t);
    return query_fail(q);
  }
  table_print(&t, q->out);
  fprintf(q->out, "(%ld row%s)\n", rows, rows == 1 ? "" : "s");
  int ncut = 0;
  for (int c = 0; c < ncol; c++) {
    if (!t.cut[c]) continue;
    fprintf(q->out, "%s%s", ncut++ ? ", " : "note: long cells cut to fit the terminal in ",
            sqlite3_column_name(s, c));
  }
  if (ncut) fputs("; see them whole with --wide, --csv or --json\n", q->out);
  table_free(&t);
  return 0;
}

static int print_csv_set(const query_run *q, sqlite3_stmt *s) {
  FILE *out = q->out;
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
  return rc == SQLITE_DONE ? 0 : query_fail(q);
}

static int print_json_set(const query_run *q, sqlite3_stmt *s) {
  FILE *out = q->out;
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
  return rc == SQLITE_DONE ? 0 : query_fail(q);
}

/* ------------------------------------------------------------------------ */
/* Query                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct prepared {
  sqlite3_stmt *s;
  const char *sql, *end; /* its text, for messages */
} prepared;

/* Prepare every statement of `sql` into *list and check that each only
 * reads; nothing runs yet. */
static int prepare_all(const query_run *q, const char *sql, prepared **list, int *n) {
  int cap = 0;
  const char *tail = sql;
  *list = NULL;
  *n = 0;
  while (tail && *tail) {
    sqlite3_stmt *s = NULL;
    const char *next = NULL;
    int rc = sqlite3_prepare_v2(q->db, tail, -1, &s, &next);
    if (rc != SQLITE_OK) {
      if (!q->g->denied) return query_fail(q);
      const char *end = statement_end(tail);
      int more = *n > 0;
      for (const char *p = end; !more && *p; p++) more = (unsigned char)*p > ' ';
      char which[64] = "";
      if (more) snprintf(which, sizeof which, " (statement %d; nothing was run)", *n + 1);
      return refuse(q->err, q->errlen, q->g, tail, end, which);
    }
    if (s) {
      if (*n == cap) {
        cap = cap ? 2 * cap : 8;
        *list = realloc(*list, sizeof **list * (size_t)cap);
        if (!*list) abort();
      }
      (*list)[(*n)++] = (prepared){s, tail, next};
    }
    tail = next;
  }
  for (int i = 0; i < *n; i++) {
    if (sqlite3_stmt_readonly((*list)[i].s)) continue;
    char which[64] = "";
    if (*n > 1) snprintf(which, sizeof which, " (statement %d; nothing was run)", i + 1);
    return refuse(q->err, q->errlen, q->g, (*list)[i].sql, (*list)[i].end, which);
  }
  if (*n == 0) {
    tb_errf(q->err, q->errlen, "query failed: no SQL statement given");
    return -1;
  }
  return 0;
}

static int run_all(const query_run *q, prepared *list, int n) {
  int sets = 0;
  for (int i = 0; i < n; i++) {
    sqlite3_stmt *s = list[i].s;
    int rc = 0;
    if (sqlite3_column_count(s) == 0) {
      int r;
      while ((r = sqlite3_step(s)) == SQLITE_ROW) {}
      if (r != SQLITE_DONE) rc = query_fail(q);
    } else {
      if (sets++ && q->o->format != TB_FMT_JSON) fputc('\n', q->out);
      rc = q->o->format == TB_FMT_TABLE ? print_table_set(q, s)
           : q->o->format == TB_FMT_CSV ? print_csv_set(q, s)
                                        : print_json_set(q, s);
    }
    if (rc) {
      /* a pragma function such as pragma_journal_mode('delete') is checked
       * only when it runs */
      if (q->g->denied) {
        char which[32] = "";
        if (n > 1) snprintf(which, sizeof which, " (statement %d)", i + 1);
        refuse(q->err, q->errlen, q->g, list[i].sql, list[i].end, which);
      }
      return rc;
    }
  }
  return 0;
}

int tb_report_query(tb_store *st, const char *sql, const tb_query_opts *o, FILE *out, char *err,
                    size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  if (o->format != TB_FMT_TABLE && o->format != TB_FMT_CSV && o->format != TB_FMT_JSON) {
    tb_errf(err, errlen, "unknown output format %d", o->format);
    return -1;
  }
  if (!(o->timeout >= 0) || isinf(o->timeout)) {
    tb_errf(err, errlen, "query time limit must be a number of seconds >= 0, got %g",
            o->timeout);
    return -1;
  }
  guard g = {0};
  if (o->timeout > 0) {
    g.deadline = tb_now_mono() + o->timeout;
    /* ~1000 virtual machine steps between clock reads: microseconds */
    sqlite3_progress_handler(db, 1000, past_deadline, &g);
  }
  sqlite3_set_authorizer(db, authorize, &g);
  query_run q = {db, o, &g, out, err, errlen};
  prepared *list = NULL;
  int n = 0;
  int rc = check_unchanged(db, err, errlen) || prepare_all(&q, sql, &list, &n) ||
           run_all(&q, list, n) || check_unchanged(db, err, errlen);
  for (int i = 0; i < n; i++) sqlite3_finalize(list[i].s);
  free(list);
  /* leave the connection as it was for whoever uses it next */
  sqlite3_set_authorizer(db, NULL, NULL);
  sqlite3_progress_handler(db, 0, NULL, NULL);
  return rc ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Summary                                                                  */
/* ------------------------------------------------------------------------ */

/* One row per configuration (scenario, group_hash: everything but the seed)
 * from the SELECTs behind the views `current_configs` (the configurations
 * the latest version of each scenario expands to) or `configs` (every run). A configuration is
 * scored by its mean validation accuracy over complete seeds (train accuracy
 * when the scenario has no validation split; never test). Within each
 * method — a scenario's loss with its own hyperparameters (label smoothing
 * 0.1 and 0.2 are two losses) and an optimizer by name (its hyperparameters
 * are what is tuned) — the best score is marked, and every configuration
 * that ties it. */
static const char summary_sql[] =
    "WITH run_scores AS (%s), cfg AS (%s),"
    " c AS (SELECT *, CASE WHEN n_val > 0 THEN val_accuracy ELSE train_accuracy END"
    "   AS score, n_val > 0 AS on_val FROM cfg WHERE ?1 IS NULL OR scenario = ?1),"
    " k AS (SELECT *, max(score) OVER w AS top, count(*) OVER (PARTITION BY scenario) AS"
    "   in_scenario FROM c WINDOW w AS (PARTITION BY scenario, loss_config, optimizer))"
    " SELECT scenario, coalesce(loss, ''), coalesce(optimizer, ''), example_run, on_val, score,"
    "  test_accuracy, n_test, test_accuracy_sd, complete, diverged, failed,"
    "  coalesce(val_accuracy_nonfinite, 0) + coalesce(test_accuracy_nonfinite, 0),"
    "  score IS NOT NULL AND score = top,"
    "  (SELECT count(*) FROM k k2 WHERE k2.scenario = k.scenario"
    "   AND k2.loss_config IS k.loss_config"
    "   AND k2.optimizer IS k.optimizer AND k2.score = k.top), in_scenario"
    " FROM k ORDER BY scenario,"
    "  max(top) OVER (PARTITION BY scenario, loss_config, optimizer) IS NULL,"
    "  max(top) OVER (PARTITION BY scenario, loss_config, optimizer) DESC, loss_config,"
    "  optimizer,"
    "  score IS NULL, score DESC, group_hash";

/* The config column: per configuration of a scenario (its example run), the
 * settings that tell it apart from the scenario's other configurations,
 * the seed and the data's content hash aside. One statement per scenario,
 * over every setting of every configuration:
 *   - a place (role path: "loss", "optimizer.base", "model", "transform")
 *     holds a component: the loss and the optimizer by their columns of
 *     `runs`, a nested one by its wrapper's value, the other parts by their
 *     `name` row; a stage left out (no rows: it was at its default) holds
 *     its default component (none, mean), and that is one more setting;
 *   - a setting the same component records in another configuration but
 *     this one does not (a value left out, or a hyperparameter an older
 *     build did not have) takes its default from that component's table,
 *     NULL when it has none ("none"); without a table row it stays out;
 * and a setting shows when
 *   (a) another configuration has another value for it at its place, or
 *   (b) it belongs to a part other than the loss and the optimizer (whose
 *       names have columns of their own, and whose settings are what is
 *       tuned) and another configuration's component there lacks it: the
 *       settings mixup has beside none, mlp beside linear; or
 *   (c) it is a loss's or optimizer's setting and the same component has
 *       another value for it at another place of another configuration: a
 *       base's lr beside the same optimizer unwrapped.
 * Loss and optimizer settings first (their bases' after each), then the
 * parts in their order with each part's name first, then the run's. */
static const char labels_sql[] =
    "WITH run_scores AS (%s), cfg AS (%s),"
    " ex(run_id) AS MATERIALIZED (SELECT example_run FROM cfg WHERE scenario = ?1),"
    " stage(role, name) AS (VALUES %s),"
    " own(run_id, role, name) AS MATERIALIZED ("
    "  SELECT r.id, 'loss', r.loss FROM runs r JOIN ex ON ex.run_id = r.id"
    "  UNION ALL SELECT r.id, 'optimizer', r.optimizer FROM runs r JOIN ex ON ex.run_id = r.id"
    "  UNION ALL SELECT p.run_id, p.component, p.value FROM params p"
    "   JOIN ex ON ex.run_id = p.run_id WHERE p.key = 'name'"
    "   AND p.component NOT IN ('loss', 'optimizer', 'run') AND instr(p.component, '.') = 0"
    "  UNION ALL SELECT p.run_id, p.component || '.' || p.key, p.text FROM params p"
    "   JOIN ex ON ex.run_id = p.run_id WHERE p.text IS NOT NULL AND EXISTS (SELECT 1"
    "   FROM params c WHERE c.run_id = p.run_id AND c.component = p.component || '.' || p.key)"
    "  UNION ALL SELECT ex.run_id, s.role, s.name FROM ex, stage s WHERE NOT EXISTS"
    "   (SELECT 1 FROM params p WHERE p.run_id = ex.run_id AND p.component = s.role)),"
    " rec(run_id, role, key, value, pos) AS MATERIALIZED ("
    "  SELECT p.run_id, p.component, p.key, p.value, p.rowid FROM params p"
    "   JOIN ex ON ex.run_id = p.run_id"
    "   WHERE NOT (p.component = 'run' AND p.key = 'seed') AND p.key <> 'content_hash'"
    "  UNION ALL SELECT o.run_id, o.role, 'name', o.name, NULL FROM own o"
    "   JOIN stage s ON s.role = o.role AND s.name = o.name"
    "   WHERE NOT EXISTS (SELECT 1 FROM params p WHERE p.run_id = o.run_id"
    "    AND p.component = o.role)),"
    " rk(role, owner, key, src) AS MATERIALIZED (SELECT r.role, o.name, r.key, min(r.run_id)"
    "  FROM rec r JOIN own o ON o.run_id = r.run_id AND o.role = r.role"
    "  WHERE r.pos IS NOT NULL GROUP BY 1, 2, 3),"
    " fill(run_id, role, key, value) AS ("
    "  SELECT o.run_id, k.role, k.key, coalesce(h.default_num, h.default_text)"
    "  FROM own o JOIN rk k ON k.role = o.role AND k.owner = o.name"
    "  JOIN run_components rc ON rc.run_id = k.src AND rc.role = k.role"
    "  JOIN component_hparams h ON h.component_id = rc.component_id AND h.name = k.key"
    "  WHERE NOT EXISTS (SELECT 1 FROM params p WHERE p.run_id = o.run_id"
    "   AND p.component = k.role AND p.key = k.key)),"
    " so(run_id, role, key, value, pos, owner, root) AS MATERIALIZED ("
    "  SELECT s.run_id, s.role, s.key, s.value, s.pos, o.name,"
    "   CASE WHEN s.role = 'loss' OR s.role GLOB 'loss.*' THEN 'loss'"
    "    WHEN s.role = 'optimizer' OR s.role GLOB 'optimizer.*' THEN 'optimizer' END"
    "  FROM (SELECT * FROM rec UNION ALL SELECT run_id, role, key, value, NULL FROM fill) s"
    "  LEFT JOIN own o ON o.run_id = s.run_id AND o.role = s.role),"
    " byk AS (SELECT role, key, count(DISTINCT value) + max(value IS NULL) AS nv,"
    "  count(*) AS n FROM so GROUP BY 1, 2),"
    " byo AS (SELECT role, name AS owner, count(*) AS n FROM own GROUP BY 1, 2),"
    " byok AS (SELECT role, owner, key, count(*) AS n FROM so GROUP BY 1, 2, 3),"
    " twice AS (SELECT root, owner, key FROM so WHERE root IS NOT NULL GROUP BY 1, 2, 3"
    "  HAVING count(DISTINCT role) > 1)"
    " SELECT s.run_id, s.role, s.key, s.value, s.owner, s.root IS NULL AND s.owner IS NOT NULL"
    " FROM so s JOIN byk k ON k.role = s.role AND k.key = s.key"
    " LEFT JOIN byo o ON o.role = s.role AND o.owner = s.owner"
    " LEFT JOIN byok ok ON ok.role = s.role AND ok.owner = s.owner AND ok.key = s.key"
    " WHERE k.nv > 1"
    "  OR (s.root IS NULL AND s.owner IS NOT NULL"
    "   AND (SELECT count(*) FROM ex) - k.n > o.n - ok.n)"
    "  OR (s.root IS NOT NULL AND (s.root, s.owner, s.key) IN (SELECT * FROM twice)"
    "   AND EXISTS (SELECT 1 FROM so x WHERE x.root = s.root AND x.owner = s.owner"
    "    AND x.key = s.key AND x.role <> s.role AND x.run_id <> s.run_id"
    "    AND x.value IS NOT s.value))"
    " ORDER BY s.run_id, CASE s.root WHEN 'loss' THEN 0 WHEN 'optimizer' THEN 1 ELSE 2 END,"
    "  %s, s.root IS NOT NULL OR s.key <> 'name', s.pos IS NULL, s.pos";

/* "VALUES" rows of each stage and its default component's name, and the
 * CASE that orders the parts as the run labels do; malloc'd by sqlite. */
static char *stage_defaults(void) {
  const tb_component *const *(*list[])(int *) = {tb_corruption_components,
                                                  tb_transform_components,
                                                  tb_reduction_components};
  char *v = NULL;
  for (int i = 0; i < 3; i++) {
    int n;
    const tb_component *const *c = list[i](&n);
    char *next = sqlite3_mprintf("%z%s(%Q, %Q)", v, i ? ", " : "",
                                 tb_part_name(TB_PART_CORRUPTION + i), c[0]->name);
    if (!next) abort();
    v = next;
  }
  return v;
}
static char *part_order(void) {
  char *c = sqlite3_mprintf("CASE s.role");
  for (int p = 0; c && p < TB_N_PARTS; p++)
    if (p != TB_PART_LOSS && p != TB_PART_OPTIMIZER)
      c = sqlite3_mprintf("%z WHEN %Q THEN %d", c, tb_part_name(p), p);
  c = c ? sqlite3_mprintf("%z ELSE %d END", c, TB_N_PARTS) : NULL;
  if (!c) abort();
  return c;
}

/* The labels of one scenario, by example run (ascending). */
typedef struct label {
  int64_t run;
  char *text;
} label;
typedef struct labels {
  label *v;
  int n, cap;
} labels;

static void labels_clear(labels *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i].text);
  l->n = 0;
}

static const char *label_of(const labels *l, int64_t run) {
  int lo = 0, hi = l->n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (l->v[mid].run == run) return l->v[mid].text;
    if (l->v[mid].run < run)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return "";
}

/* One shown setting of a configuration. */
typedef struct setting {
  char *role, *key, *value, *owner;
  int in_part; /* a part other than the loss and the optimizer, with its component */
} setting;

static int is_hp_role(const char *role) {
  return strcmp(role, "loss") == 0 || strcmp(role, "optimizer") == 0;
}

/* "lr=0.01 momentum=0.9 model=mlp(hidden=[8]) transform=mixup(alpha=0.4)":
 * loss and optimizer hyperparameters bare (prefixed with their component
 * when both have the name), a base's as "optimizer.base.lr", each other part
 * as part=component with its shown settings in parentheses (as the run
 * labels write them), the run's as "run.epochs". */
static char *render_label(const setting *s, int n) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) abort();
  for (int i = 0; i < n; i++) {
    if (i) fputc(' ', f);
    if (s[i].in_part) {
      const char *role = s[i].role;
      fprintf(f, "%s=%s", role, s[i].owner);
      int open = 0;
      for (; i < n && s[i].in_part && strcmp(s[i].role, role) == 0; i++) {
        if (strcmp(s[i].key, "name") == 0) continue;
        fprintf(f, "%s%s=%s", open ? "," : "(", s[i].key, s[i].value);
        open = 1;
      }
      if (open) fputc(')', f);
      i--;
      continue;
    }
    int clash = 0;
    for (int j = 0; j < n && is_hp_role(s[i].role) && !clash; j++)
      clash = j != i && is_hp_role(s[j].role) && strcmp(s[j].key, s[i].key) == 0;
    if (is_hp_role(s[i].role) && !clash)
      fprintf(f, "%s=%s", s[i].key, s[i].value);
    else
      fprintf(f, "%s.%s=%s", s[i].role, s[i].key, s[i].value);
  }
  fclose(f);
  return text;
}

static void settings_free(setting *s, int n) {
  for (int i = 0; i < n; i++) {
    free(s[i].role);
    free(s[i].key);
    free(s[i].value);
    free(s[i].owner);
  }
}

static char *column_text(sqlite3_stmt *v, int c) {
  char buf[64];
  const char *t;
  switch (sqlite3_column_type(v, c)) {
  case SQLITE_FLOAT:
    snprintf(buf, sizeof buf, "%.6g", sqlite3_column_double(v, c));
    t = buf;
    break;
  case SQLITE_NULL: t = "none"; break; /* a value left out with no default */
  default: t = (const char *)sqlite3_column_text(v, c);
  }
  char *d = strdup(t ? t : "");
  if (!d) abort();
  return d;
}

static void labels_add(labels *l, int64_t run, setting *s, int n) {
  if (n == 0) return;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = realloc(l->v, sizeof *l->v * (size_t)l->cap);
    if (!l->v) abort();
  }
  l->v[l->n++] = (label){run, render_label(s, n)};
  settings_free(s, n);
}

/* Fill `l` with the labels of the configurations of `scenario`. */
static int load_labels(sqlite3_stmt *v, const char *scenario, labels *l) {
  labels_clear(l);
  sqlite3_reset(v);
  sqlite3_bind_text(v, 1, scenario, -1, SQLITE_TRANSIENT);
  setting *s = NULL;
  int n = 0, cap = 0, rc;
  int64_t run = 0;
  while ((rc = sqlite3_step(v)) == SQLITE_ROW) {
    int64_t r = sqlite3_column_int64(v, 0);
    if (n && r != run) {
      labels_add(l, run, s, n);
      n = 0;
    }
    run = r;
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      s = realloc(s, sizeof *s * (size_t)cap);
      if (!s) abort();
    }
    s[n++] = (setting){column_text(v, 1), column_text(v, 2), column_text(v, 3),
                       column_text(v, 4), sqlite3_column_int(v, 5)};
  }
  labels_add(l, run, s, n);
  free(s);
  return rc == SQLITE_DONE ? 0 : -1;
}

int tb_report_summary(tb_store *st, const tb_summary_opts *opts, FILE *out, char *err,
                      size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  char *configs = sqlite3_mprintf(tb_sql_configs, opts->all_versions ? "" : "WHERE current");
  if (!configs) abort();
  char *ssql = sqlite3_mprintf(summary_sql, tb_sql_run_scores, configs);
  char *stages = stage_defaults(), *order = part_order();
  char *vsql = sqlite3_mprintf(labels_sql, tb_sql_run_scores, configs, stages, order);
  sqlite3_free(configs);
  sqlite3_free(stages);
  sqlite3_free(order);
  if (!ssql || !vsql) abort();
  labels lab = {0};
  char *lab_scenario = NULL; /* the scenario whose labels `lab` holds */
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
    char val[64] = "", test[96] = "", n[32], nf[32], div[32], failed[32];
    if (!lab_scenario || strcmp(lab_scenario, scen) != 0) {
      free(lab_scenario);
      lab_scenario = strdup(scen);
      if (!lab_scenario) abort();
      if (load_labels(v, scen, &lab)) {
        rc = SQLITE_ERROR;
        break;
      }
    }
    const char *config = label_of(&lab, sqlite3_column_int64(s, 3));
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
  } else if (check_unchanged(db, err, errlen)) {
    rc = SQLITE_ERROR;
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
          "loss (with the loss's own settings) and optimizer, = tied with another\n",
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
  labels_clear(&lab);
  free(lab.v);
  free(lab_scenario);
  return rc == SQLITE_DONE ? 0 : -1;
}
