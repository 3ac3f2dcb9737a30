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
    "  count(CASE WHEN score = top THEN 1 END)"
    "   OVER (PARTITION BY scenario, loss_config, optimizer), in_scenario"
    " FROM k ORDER BY scenario,"
    "  max(top) OVER (PARTITION BY scenario, loss_config, optimizer) IS NULL,"
    "  max(top) OVER (PARTITION BY scenario, loss_config, optimizer) DESC, loss_config,"
    "  optimizer,"
    "  score IS NULL, score DESC, group_hash";

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

/* The config column: per configuration of a scenario (its example run), the
 * settings that tell it apart from the scenario's other configurations,
 * the seed and the data's content hash aside, over every setting of every
 * configuration of the scenario:
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
 * parts in their order with each part's name first, then the run's.
 *
 * This was one SQL statement per scenario (commit d13d2e8); it is computed
 * here, in C, from the params rows of the example runs read once, because
 * the statement's eight passes over every setting of every configuration
 * took seconds on 100 000 runs. Values compare as SQLite compares them
 * (numbers by value, texts byte for byte, a number never equal to a text,
 * NULL equal only to NULL where SQL says IS), and store-views checks the
 * labels against those the statement printed. */

/* Interned strings: equal texts are one pointer, so that roles, keys and
 * component names compare and hash as pointers. */
typedef struct interned {
  char **v;
  size_t cap, n;
} interned;

static uint64_t hash_text(const char *t) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *t; t++) h = (h ^ (unsigned char)*t) * 1099511628211ull;
  return h;
}

static const char *intern(interned *in, const char *t) {
  if (!t) return NULL;
  if (2 * (in->n + 1) > in->cap) {
    size_t cap = in->cap ? 2 * in->cap : 256;
    char **v = calloc(cap, sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < in->cap; i++)
      if (in->v[i]) {
        size_t j = hash_text(in->v[i]) & (cap - 1);
        while (v[j]) j = (j + 1) & (cap - 1);
        v[j] = in->v[i];
      }
    free(in->v);
    in->v = v;
    in->cap = cap;
  }
  size_t j = hash_text(t) & (in->cap - 1);
  while (in->v[j] && strcmp(in->v[j], t) != 0) j = (j + 1) & (in->cap - 1);
  if (!in->v[j]) {
    in->v[j] = strdup(t);
    if (!in->v[j]) abort();
    in->n++;
  }
  return in->v[j];
}

static void intern_free(interned *in) {
  for (size_t i = 0; i < in->cap; i++) free(in->v[i]);
  free(in->v);
  memset(in, 0, sizeof *in);
}

/* A tuple of up to four words (pointers, numbers) mapped to a count or an
 * index: open addressing, grown at half full. */
typedef struct tmap_entry {
  uint64_t k[4];
  int64_t v;
  int used;
} tmap_entry;
typedef struct tmap {
  tmap_entry *e;
  size_t cap, n;
} tmap;

static uint64_t hash_key(const uint64_t *k) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 4; i++) {
    h = (h ^ k[i]) * 0xff51afd7ed558ccdull;
    h ^= h >> 31;
  }
  return h;
}

/* The value slot of key k, added as 0 when new (*fresh = 1 then). */
static int64_t *tmap_slot(tmap *m, uint64_t a, uint64_t b, uint64_t c, uint64_t d, int *fresh) {
  const uint64_t k[4] = {a, b, c, d};
  if (2 * (m->n + 1) > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    tmap_entry *e = calloc(cap, sizeof *e);
    if (!e) abort();
    for (size_t i = 0; i < m->cap; i++)
      if (m->e[i].used) {
        size_t j = hash_key(m->e[i].k) & (cap - 1);
        while (e[j].used) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
      }
    free(m->e);
    m->e = e;
    m->cap = cap;
  }
  size_t j = hash_key(k) & (m->cap - 1);
  while (m->e[j].used && memcmp(m->e[j].k, k, sizeof k) != 0) j = (j + 1) & (m->cap - 1);
  if (fresh) *fresh = !m->e[j].used;
  if (!m->e[j].used) {
    memcpy(m->e[j].k, k, sizeof k);
    m->e[j].v = 0;
    m->e[j].used = 1;
    m->n++;
  }
  return &m->e[j].v;
}

/* The value of key k, or NULL when absent. */
static const int64_t *tmap_get(const tmap *m, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  if (!m->cap) return NULL;
  const uint64_t k[4] = {a, b, c, d};
  size_t j = hash_key(k) & (m->cap - 1);
  while (m->e[j].used) {
    if (memcmp(m->e[j].k, k, sizeof k) == 0) return &m->e[j].v;
    j = (j + 1) & (m->cap - 1);
  }
  return NULL;
}

static void tmap_free(tmap *m) {
  free(m->e);
  memset(m, 0, sizeof *m);
}

#define P(x) ((uint64_t)(uintptr_t)(x))

/* A setting's value as SQLite holds it: NULL, a number (REAL) or a text. */
enum { V_NULL, V_NUM, V_TEXT };
typedef struct lvalue {
  int type;
  double num;
  const char *text; /* interned */
} lvalue;

static lvalue column_value(interned *in, sqlite3_stmt *s, int c) {
  switch (sqlite3_column_type(s, c)) {
  case SQLITE_NULL: return (lvalue){V_NULL, 0, NULL};
  case SQLITE_INTEGER:
  case SQLITE_FLOAT: return (lvalue){V_NUM, sqlite3_column_double(s, c), NULL};
  default: return (lvalue){V_TEXT, 0, intern(in, (const char *)sqlite3_column_text(s, c))};
  }
}

/* Equal as SQL's IS: numbers by value (0.0 is -0.0), texts byte for byte. */
static int lvalue_is(const lvalue *a, const lvalue *b) {
  if (a->type != b->type) return 0;
  if (a->type == V_NUM) return a->num == b->num;
  return a->text == b->text;
}

/* Two words that identify the value for a map key (equal values, equal words). */
static void lvalue_words(const lvalue *v, uint64_t *w0, uint64_t *w1) {
  double x = v->num == 0 ? 0 : v->num;
  uint64_t bits = 0;
  if (v->type == V_NUM) memcpy(&bits, &x, sizeof bits);
  *w0 = (uint64_t)v->type;
  *w1 = v->type == V_NUM ? bits : P(v->text);
}

/* "%.6g" for a number, "none" for NULL, a text as it is (as the statement's
 * rows printed them). */
static char *lvalue_text(const lvalue *v) {
  char buf[64];
  const char *t = buf;
  if (v->type == V_NUM)
    snprintf(buf, sizeof buf, "%.6g", v->num);
  else if (v->type == V_NULL)
    t = "none";
  else
    t = v->text;
  char *d = strdup(t);
  if (!d) abort();
  return d;
}

/* A setting of a configuration (the statement's `so` rows): its run (index
 * into the scenario's example runs), place, key, value, the rowid of its
 * params row (-1: filled in with a default, or a stage's default name), the
 * component at its place (NULL if none) and its root (loss, optimizer, NULL). */
typedef struct lset {
  int run;
  const char *role, *key;
  lvalue value;
  int64_t pos;
  const char *owner, *root;
  int order;  /* of the part: the run labels' order */
  int hp_pos; /* a filled-in default: its position in the component's table */
} lset;

/* The component at each place of one example run (the statement's `own`). */
typedef struct lown {
  int run;
  const char *role, *name;
  int stage_default; /* a stage left out: its default component */
} lown;

typedef struct lrun {
  int64_t id;
  const char *loss, *optimizer;
} lrun;

/* A params row of an example run. */
typedef struct lparam {
  int run;
  const char *role, *key;
  lvalue value;
  int64_t pos;  /* its rowid */
  int is_text;  /* in the `text` column */
} lparam;

typedef struct lctx {
  sqlite3 *db;
  sqlite3_stmt *run, *params, *dflt;
  interned in;
  const char *s_loss, *s_optimizer, *s_run, *s_seed, *s_name, *s_content_hash;
  const char *stage_role[3], *stage_name[3];
  const char *part_role[TB_N_PARTS];
} lctx;

static int lctx_open(lctx *c, sqlite3 *db) {
  memset(c, 0, sizeof *c);
  c->db = db;
  if (sqlite3_prepare_v2(db, "SELECT loss, optimizer FROM runs WHERE id = ?1", -1, &c->run,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT component, key, value, rowid, text IS NOT NULL FROM params"
                         " WHERE run_id = ?1",
                         -1, &c->params, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT coalesce(h.default_num, h.default_text), h.position"
                         " FROM run_components rc"
                         " JOIN component_hparams h ON h.component_id = rc.component_id"
                         " AND h.name = ?3 WHERE rc.run_id = ?1 AND rc.role = ?2",
                         -1, &c->dflt, NULL) != SQLITE_OK)
    return -1;
  c->s_loss = intern(&c->in, "loss");
  c->s_optimizer = intern(&c->in, "optimizer");
  c->s_run = intern(&c->in, "run");
  c->s_seed = intern(&c->in, "seed");
  c->s_name = intern(&c->in, "name");
  c->s_content_hash = intern(&c->in, "content_hash");
  const tb_component *const *(*list[])(int *) = {tb_corruption_components,
                                                  tb_transform_components,
                                                  tb_reduction_components};
  for (int i = 0; i < 3; i++) {
    int n;
    c->stage_role[i] = intern(&c->in, tb_part_name(TB_PART_CORRUPTION + i));
    c->stage_name[i] = intern(&c->in, list[i](&n)[0]->name);
  }
  for (int p = 0; p < TB_N_PARTS; p++)
    c->part_role[p] = p == TB_PART_LOSS || p == TB_PART_OPTIMIZER ? NULL
                                                                   : intern(&c->in, tb_part_name(p));
  return 0;
}

static void lctx_close(lctx *c) {
  sqlite3_finalize(c->run);
  sqlite3_finalize(c->params);
  sqlite3_finalize(c->dflt);
  intern_free(&c->in);
}

/* role == "loss" or starts with "loss." (GLOB 'loss.*') */
static int role_under(const char *role, const char *root) {
  size_t n = strlen(root);
  return strncmp(role, root, n) == 0 && (role[n] == 0 || role[n] == '.');
}

static int cmp_lset(const void *pa, const void *pb) {
  const lset *a = pa, *b = pb;
  if (a->run != b->run) return a->run < b->run ? -1 : 1;
  int ra = a->root ? (strcmp(a->root, "loss") == 0 ? 0 : 1) : 2;
  int rb = b->root ? (strcmp(b->root, "loss") == 0 ? 0 : 1) : 2;
  if (ra != rb) return ra - rb;
  if (a->order != b->order) return a->order - b->order;
  int na = a->root != NULL || strcmp(a->key, "name") != 0;
  int nb = b->root != NULL || strcmp(b->key, "name") != 0;
  if (na != nb) return na - nb;
  if ((a->pos < 0) != (b->pos < 0)) return a->pos < 0 ? 1 : -1;
  if (a->pos != b->pos) return a->pos < b->pos ? -1 : 1;
  /* settings without a params row of one place: in the component's table's order */
  if (a->hp_pos != b->hp_pos) return a->hp_pos < b->hp_pos ? -1 : 1;
  return strcmp(a->key, b->key);
}

typedef struct lvec {
  void *v;
  size_t n, cap, size;
} lvec;

static void *lvec_push(lvec *x) {
  if (x->n == x->cap) {
    x->cap = x->cap ? 2 * x->cap : 256;
    x->v = realloc(x->v, x->size * x->cap);
    if (!x->v) abort();
  }
  return (char *)x->v + x->size * x->n++;
}

/* Fill `l` with the labels of the configurations whose example runs are
 * ex[0..n) (ascending). */
static int compute_labels(lctx *c, const int64_t *ex, int n, labels *l) {
  labels_clear(l);
  if (n == 0) return 0;
  lrun *runs = calloc((size_t)n, sizeof *runs);
  lvec own = {.size = sizeof(lown)}, rec = {.size = sizeof(lset)};
  tmap own_at = {0};    /* (run, role) -> index into own */
  tmap roles = {0};     /* (run, component) -> 1: the run has params rows there */
  tmap has_key = {0};   /* (run, role, key) -> 1: a params row (pos not NULL) */
  tmap rk = {0};        /* (role, owner, key) -> the first run recording it */
  tmap byk_n = {0}, byk_vals = {0}, byk_nv = {0}, byo = {0}, byok = {0};
  tmap twice_roles = {0}, twice_n = {0}, groups = {0};
  lvec params = {.size = sizeof(lparam)}, shown = {.size = sizeof(lset)};
  int *members = NULL, *gstart = NULL;
  int rc = -1;
  if (!runs) abort();
  /* the example runs' own columns and their params rows */
  for (int i = 0; i < n; i++) {
    runs[i].id = ex[i];
    sqlite3_reset(c->run);
    sqlite3_bind_int64(c->run, 1, ex[i]);
    if (sqlite3_step(c->run) == SQLITE_ROW) {
      runs[i].loss = intern(&c->in, (const char *)sqlite3_column_text(c->run, 0));
      runs[i].optimizer = intern(&c->in, (const char *)sqlite3_column_text(c->run, 1));
    }
    sqlite3_reset(c->params);
    sqlite3_bind_int64(c->params, 1, ex[i]);
    int r;
    while ((r = sqlite3_step(c->params)) == SQLITE_ROW) {
      lparam *p = lvec_push(&params);
      p->run = i;
      p->role = intern(&c->in, (const char *)sqlite3_column_text(c->params, 0));
      p->key = intern(&c->in, (const char *)sqlite3_column_text(c->params, 1));
      p->value = column_value(&c->in, c->params, 2);
      p->pos = sqlite3_column_int64(c->params, 3);
      p->is_text = sqlite3_column_int(c->params, 4);
      *tmap_slot(&roles, (uint64_t)i, P(p->role), 0, 0, NULL) = 1;
    }
    if (r != SQLITE_DONE) goto out;
  }
  /* own: the component at each place */
#define OWN(run_, role_, name_, stage_)                                                     \
  do {                                                                                   \
    lown *o_ = lvec_push(&own);                                                          \
    *o_ = (lown){(run_), (role_), (name_), (stage_)};                                    \
    *tmap_slot(&own_at, (uint64_t)(run_), P(role_), 0, 0, NULL) = (int64_t)own.n;        \
  } while (0)
  for (int i = 0; i < n; i++) {
    OWN(i, c->s_loss, runs[i].loss, 0);
    OWN(i, c->s_optimizer, runs[i].optimizer, 0);
  }
  const lparam *pv = params.v;
  for (size_t j = 0; j < params.n; j++) {
    const lparam *p = &pv[j];
    if (p->key == c->s_name && p->role != c->s_loss && p->role != c->s_optimizer &&
        p->role != c->s_run && !strchr(p->role, '.') && p->value.type != V_NULL) {
      char *t = lvalue_text(&p->value);
      if (p->value.type == V_NUM) { /* SQLite's own text of a number */
        char buf[64];
        sqlite3_snprintf(sizeof buf, buf, "%!.15g", p->value.num);
        free(t);
        t = strdup(buf);
        if (!t) abort();
      }
      OWN(p->run, p->role, intern(&c->in, t), 0);
      free(t);
    }
    if (p->is_text) { /* a nested component's name when rows sit under role.key */
      char *sub;
      if (asprintf(&sub, "%s.%s", p->role, p->key) < 0) abort();
      const char *role = intern(&c->in, sub);
      free(sub);
      if (tmap_get(&roles, (uint64_t)p->run, P(role), 0, 0))
        OWN(p->run, role, p->value.text, 0);
    }
  }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 3; k++)
      if (!tmap_get(&roles, (uint64_t)i, P(c->stage_role[k]), 0, 0))
        OWN(i, c->stage_role[k], c->stage_name[k], 1);
#undef OWN
  const lown *ov = own.v;
  /* rec: the params rows but the seed and the data's content hash, and the
   * name of each stage left out */
  for (size_t j = 0; j < params.n; j++) {
    const lparam *p = &pv[j];
    if ((p->role == c->s_run && p->key == c->s_seed) || p->key == c->s_content_hash) continue;
    *(lset *)lvec_push(&rec) =
        (lset){.run = p->run, .role = p->role, .key = p->key, .value = p->value, .pos = p->pos};
    *tmap_slot(&has_key, (uint64_t)p->run, P(p->role), P(p->key), 0, NULL) = 1;
  }
  for (size_t j = 0; j < own.n; j++)
    if (ov[j].stage_default) {
      lset *p = lvec_push(&rec);
      *p = (lset){.run = ov[j].run, .role = ov[j].role, .key = c->s_name,
                  .value = {V_TEXT, 0, ov[j].name}, .pos = -1};
    }
  /* rk: per (place, component, key) the first run that records it */
  size_t n_rec = rec.n;
  for (size_t j = 0; j < n_rec; j++) {
    const lset *p = (lset *)rec.v + j;
    const int64_t *o = tmap_get(&own_at, (uint64_t)p->run, P(p->role), 0, 0);
    if (p->pos < 0 || !o || !ov[*o - 1].name) continue;
    int fresh;
    int64_t *src = tmap_slot(&rk, P(p->role), P(ov[*o - 1].name), P(p->key), 0, &fresh);
    if (fresh || runs[p->run].id < runs[*src].id) *src = p->run;
  }
  /* fill: a key a component records elsewhere, missing here, at its default */
  for (size_t e = 0; e < rk.cap; e++) {
    if (!rk.e[e].used) continue;
    const char *role = (const char *)(uintptr_t)rk.e[e].k[0];
    const char *owner = (const char *)(uintptr_t)rk.e[e].k[1];
    const char *key = (const char *)(uintptr_t)rk.e[e].k[2];
    sqlite3_reset(c->dflt);
    sqlite3_bind_int64(c->dflt, 1, runs[rk.e[e].v].id);
    sqlite3_bind_text(c->dflt, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->dflt, 3, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(c->dflt);
    if (r != SQLITE_ROW) {
      if (r != SQLITE_DONE) goto out;
      continue; /* no table row: it stays out */
    }
    lvalue d = column_value(&c->in, c->dflt, 0);
    int hp_pos = sqlite3_column_int(c->dflt, 1);
    for (size_t j = 0; j < own.n; j++) {
      if (ov[j].role != role || ov[j].name != owner ||
          tmap_get(&has_key, (uint64_t)ov[j].run, P(role), P(key), 0))
        continue;
      lset *p = lvec_push(&rec);
      *p = (lset){.run = ov[j].run, .role = role, .key = key, .value = d, .pos = -1,
                  .hp_pos = hp_pos};
    }
  }
  /* so: every setting with the component at its place and its root */
  lset *sv = rec.v;
  for (size_t j = 0; j < rec.n; j++) {
    lset *p = &sv[j];
    const int64_t *o = tmap_get(&own_at, (uint64_t)p->run, P(p->role), 0, 0);
    p->owner = o ? ov[*o - 1].name : NULL;
    p->root = role_under(p->role, "loss")        ? c->s_loss
              : role_under(p->role, "optimizer") ? c->s_optimizer
                                                 : NULL;
    p->order = TB_N_PARTS;
    for (int q = 0; q < TB_N_PARTS; q++)
      if (c->part_role[q] == p->role) p->order = q;
    /* byk: distinct values (NULL counts once) and rows per (place, key) */
    uint64_t w0, w1;
    lvalue_words(&p->value, &w0, &w1);
    int fresh;
    (*tmap_slot(&byk_n, P(p->role), P(p->key), 0, 0, NULL))++;
    tmap_slot(&byk_vals, P(p->role), P(p->key), w0, w1, &fresh);
    if (fresh) (*tmap_slot(&byk_nv, P(p->role), P(p->key), 0, 0, NULL))++;
    (*tmap_slot(&byok, P(p->role), P(p->owner), P(p->key), 0, NULL))++;
    if (p->root && p->owner) {
      tmap_slot(&twice_roles, P(p->root), P(p->owner), P(p->key), P(p->role), &fresh);
      if (fresh) (*tmap_slot(&twice_n, P(p->root), P(p->owner), P(p->key), 0, NULL))++;
    }
  }
  for (size_t j = 0; j < own.n; j++)
    (*tmap_slot(&byo, P(ov[j].role), P(ov[j].name), 0, 0, NULL))++;
  /* the settings of each (root, component, key) held at two places or more,
   * group g's in members[gstart[g] .. gstart[g + 1]) */
  int n_groups = 0;
  for (size_t j = 0; j < rec.n; j++) {
    const lset *p = &sv[j];
    const int64_t *t = p->root && p->owner
                           ? tmap_get(&twice_n, P(p->root), P(p->owner), P(p->key), 0)
                           : NULL;
    int fresh;
    if (t && *t > 1) {
      int64_t *g = tmap_slot(&groups, P(p->root), P(p->owner), P(p->key), 0, &fresh);
      if (fresh) *g = n_groups++;
    }
  }
  gstart = calloc((size_t)n_groups + 1, sizeof *gstart);
  int *gfill = calloc((size_t)n_groups + 1, sizeof *gfill);
  if (!gstart || !gfill) abort();
  for (size_t j = 0; j < rec.n; j++) {
    const lset *p = &sv[j];
    const int64_t *g = p->root && p->owner
                           ? tmap_get(&groups, P(p->root), P(p->owner), P(p->key), 0)
                           : NULL;
    if (g) gstart[*g + 1]++;
  }
  for (int g = 0; g < n_groups; g++) gstart[g + 1] += gstart[g];
  members = malloc(sizeof *members * (size_t)(gstart[n_groups] ? gstart[n_groups] : 1));
  if (!members) abort();
  for (size_t j = 0; j < rec.n; j++) {
    const lset *p = &sv[j];
    const int64_t *g = p->root && p->owner
                           ? tmap_get(&groups, P(p->root), P(p->owner), P(p->key), 0)
                           : NULL;
    if (g) members[gstart[*g] + gfill[*g]++] = (int)j;
  }
  free(gfill);
  /* which settings show */
  for (size_t j = 0; j < rec.n; j++) {
    const lset *p = &sv[j];
    int show = *tmap_get(&byk_nv, P(p->role), P(p->key), 0, 0) > 1;
    if (!show && !p->root && p->owner) {
      int64_t kn = *tmap_get(&byk_n, P(p->role), P(p->key), 0, 0);
      int64_t on = *tmap_get(&byo, P(p->role), P(p->owner), 0, 0);
      int64_t okn = *tmap_get(&byok, P(p->role), P(p->owner), P(p->key), 0);
      show = n - kn > on - okn;
    }
    const int64_t *g = !show && p->root && p->owner
                           ? tmap_get(&groups, P(p->root), P(p->owner), P(p->key), 0)
                           : NULL;
    if (g) {
      for (int x = gstart[*g]; x < gstart[*g + 1] && !show; x++) {
        const lset *q = &sv[members[x]];
        show = q->role != p->role && q->run != p->run && !lvalue_is(&q->value, &p->value);
      }
    }
    if (show) *(lset *)lvec_push(&shown) = *p;
  }
  if (shown.n) qsort(shown.v, shown.n, sizeof(lset), cmp_lset);
  /* one label per run, in the order of the runs */
  setting *set = calloc(shown.n ? shown.n : 1, sizeof *set);
  if (!set) abort();
  const lset *hv = shown.v;
  for (size_t j = 0; j < shown.n;) {
    size_t k = j;
    int m = 0;
    for (; k < shown.n && hv[k].run == hv[j].run; k++) {
      lvalue owner = {hv[k].owner ? V_TEXT : V_NULL, 0, hv[k].owner};
      set[m] = (setting){strdup(hv[k].role), strdup(hv[k].key), lvalue_text(&hv[k].value),
                         lvalue_text(&owner), !hv[k].root && hv[k].owner};
      if (!set[m].role || !set[m].key) abort();
      m++;
    }
    labels_add(l, runs[hv[j].run].id, set, m);
    j = k;
  }
  free(set);
  rc = 0;
out:
  free(runs);
  free(own.v);
  free(rec.v);
  free(params.v);
  free(shown.v);
  free(members);
  free(gstart);
  tmap_free(&groups);
  tmap_free(&own_at);
  tmap_free(&roles);
  tmap_free(&has_key);
  tmap_free(&rk);
  tmap_free(&byk_n);
  tmap_free(&byk_vals);
  tmap_free(&byk_nv);
  tmap_free(&byo);
  tmap_free(&byok);
  tmap_free(&twice_roles);
  tmap_free(&twice_n);
  return rc;
}

/* One row of summary_sql, kept until its scenario's labels are known. */
typedef struct srow {
  char *scenario, *loss, *optimizer;
  int64_t example_run;
  int on_val, has_score, n_test, has_sd, complete, diverged, failed, nonfinite;
  int is_best, n_top, in_scenario;
  double score, test, sd;
} srow;

static char *dup_column(sqlite3_stmt *s, int c) {
  const char *t = (const char *)sqlite3_column_text(s, c);
  char *d = strdup(t ? t : "");
  if (!d) abort();
  return d;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int tb_report_summary(tb_store *st, const tb_summary_opts *opts, FILE *out, char *err,
                      size_t errlen) {
  sqlite3 *db = tb_store_db(st);
  char *configs = sqlite3_mprintf(tb_sql_configs, opts->all_versions ? "" : "WHERE current");
  if (!configs) abort();
  char *ssql = sqlite3_mprintf(summary_sql, tb_sql_run_scores, configs);
  sqlite3_free(configs);
  if (!ssql) abort();
  labels lab = {0};
  lctx lc;
  sqlite3_stmt *s = NULL;
  srow *row = NULL;
  int64_t *ex = NULL;
  int rc = SQLITE_ERROR, n_rows = 0, cap = 0, lc_open = lctx_open(&lc, db) == 0;
  if (!lc_open || sqlite3_prepare_v2(db, ssql, -1, &s, NULL) != SQLITE_OK) {
    tb_errf(err, errlen, "cannot summarize: %s", sqlite3_errmsg(db));
    goto done;
  }
  if (opts->scenario) sqlite3_bind_text(s, 1, opts->scenario, -1, SQLITE_TRANSIENT);
  /* every configuration first: a scenario's labels need all of its configurations */
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (n_rows == cap) {
      cap = cap ? 2 * cap : 256;
      row = realloc(row, sizeof *row * (size_t)cap);
      if (!row) abort();
    }
    srow *r = &row[n_rows++];
    *r = (srow){dup_column(s, 0), dup_column(s, 1), dup_column(s, 2),
                sqlite3_column_int64(s, 3), sqlite3_column_int(s, 4),
                sqlite3_column_type(s, 5) != SQLITE_NULL, sqlite3_column_int(s, 7),
                sqlite3_column_type(s, 8) != SQLITE_NULL, sqlite3_column_int(s, 9),
                sqlite3_column_int(s, 10), sqlite3_column_int(s, 11),
                sqlite3_column_int(s, 12), sqlite3_column_int(s, 13),
                sqlite3_column_int(s, 14), sqlite3_column_int(s, 15),
                sqlite3_column_double(s, 5), sqlite3_column_double(s, 6),
                sqlite3_column_double(s, 8)};
  }

  static const char *const head[] = {"scenario", "loss", "optimizer", "config", "val acc",
                                     "test acc (mean ± sd)", "n", "nan/inf", "diverged",
                                     "failed", "best"};
  enum { NCOL = sizeof head / sizeof *head };
  table t;
  table_init(&t, NCOL, 0);
  for (int c = 0; c < NCOL; c++) table_add(&t, head[c], 0);
  int rows = n_rows, shown = 0, fallback = 0, ties = 0, collapsed = 0;
  ex = malloc(sizeof *ex * (size_t)(n_rows ? n_rows : 1));
  if (!ex) abort();
  for (int i = 0, j; rc == SQLITE_DONE && i < n_rows; i = j) {
    /* the rows of one scenario: [i, j) */
    for (j = i; j < n_rows && strcmp(row[j].scenario, row[i].scenario) == 0; j++)
      ex[j - i] = row[j].example_run;
    qsort(ex, (size_t)(j - i), sizeof *ex, cmp_i64);
    if (compute_labels(&lc, ex, j - i, &lab)) {
      rc = SQLITE_ERROR;
      break;
    }
    for (int k = i; k < j; k++) {
      const srow *r = &row[k];
      int best_only = opts->best_only || (opts->max_rows > 0 && r->in_scenario > opts->max_rows);
      if (best_only && !r->is_best) {
        collapsed = 1;
        continue;
      }
      shown++;
      char val[64] = "", test[96] = "", n[32], nf[32], div[32], failed[32];
      if (r->has_score) {
        snprintf(val, sizeof val, "%.4f%s", r->score, r->on_val ? "" : "†");
        if (!r->on_val) fallback = 1;
      }
      if (r->n_test > 0) {
        if (r->n_test > 1 && r->has_sd)
          snprintf(test, sizeof test, "%.4f ± %.4f", r->test, r->sd);
        else
          snprintf(test, sizeof test, "%.4f", r->test);
      }
      snprintf(n, sizeof n, "%d", r->complete);
      snprintf(nf, sizeof nf, "%d", r->nonfinite);
      snprintf(div, sizeof div, "%d", r->diverged);
      snprintf(failed, sizeof failed, "%d", r->failed);
      if (r->is_best && r->n_top > 1) ties = 1;
      table_add(&t, r->scenario, 0);
      table_add(&t, r->loss, 0);
      table_add(&t, r->optimizer, 0);
      table_add(&t, label_of(&lab, r->example_run), 0);
      table_add(&t, val, 1);
      table_add(&t, test, 1);
      table_add(&t, n, 1);
      table_add(&t, nf, 1);
      table_add(&t, div, 1);
      table_add(&t, failed, 1);
      table_add(&t, !r->is_best ? "" : r->n_top > 1 ? "=" : "*", 0);
    }
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
  }
  table_free(&t);
done:
  sqlite3_finalize(s);
  sqlite3_free(ssql);
  lctx_close(&lc);
  labels_clear(&lab);
  free(lab.v);
  for (int i = 0; i < n_rows; i++) {
    free(row[i].scenario);
    free(row[i].loss);
    free(row[i].optimizer);
  }
  free(row);
  free(ex);
  return rc == SQLITE_DONE ? 0 : -1;
}
