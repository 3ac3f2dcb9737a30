/*
 * data.c — datasets: the shipped ones (digits, breast_cancer, iris, wine),
 * user CSV files, and synthetic Gaussian blobs; the stratified
 * train/val/test split and standardization fitted on the training split.
 *
 * Shapes: N = rows, D = features, K = classes. Features are float32,
 * row-major [N][D]; labels int32 in 0..K-1.
 *
 * A file is read into memory once; its content hash is taken over those
 * bytes (the compressed bytes of a .gz) and the same bytes are parsed, so a
 * run's hash is always the hash of the data it trained on, even if the file
 * changes meanwhile. tb_script_load loads every dataset this way once, in
 * the parent, and the workers inherit the result through fork.
 *
 * CSV rules, each enforced with a "FILE:LINE:COLUMN: field F: ..." error
 * (COLUMN counts characters from 1): comma-separated fields, whitespace and
 * one pair of double quotes around a field ignored; every row has as many
 * fields as the first line; features are finite numbers that fit a float32;
 * labels are either all class numbers (integers >= 0, numbered in numeric
 * order) or all names (numbered in byte order), at least two classes. A
 * blank first line, a blank line with data after it and a NUL byte are
 * errors; blank lines at the end are ignored. With a header, a first line
 * that reads as a data row is refused; without one, a first line of text
 * is refused. A .gz must end where its gzip data says (truncation and CRC
 * errors are caught).
 *
 * The datasets are components built into the core (builtin.c holds their
 * tables and reads an instance into the tb_data_spec used here).
 *
 * Provides: tb_data_dir, tb_data_spec_resolve, tb_data_load, tb_dataset_load,
 * tb_dataset_free, tb_split_make, tb_split_free.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "hash.h"
#include "rng.h"
#include "train.h"
#include "util.h"

#ifndef TB_SOURCE_DATA_DIR
#define TB_SOURCE_DATA_DIR "data"
#endif
#ifndef TB_DATADIR_REL
#define TB_DATADIR_REL "../share/trainbench/data"
#endif

/* Out of memory is not an error a caller can handle here: abort, as the rest
 * of the core does. */
static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) abort();
  return p;
}

static const struct {
  const char *name, *file;
} builtins[] = {
    {"digits", "digits.csv.gz"},
    {"breast_cancer", "breast_cancer.csv"},
    {"iris", "iris.csv"},
    {"wine", "wine_data.csv"},
};

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int tb_data_dir(char *out, size_t outlen) {
  const char *env = getenv("TRAINBENCH_DATA_DIR");
  if (env && *env) {
    snprintf(out, outlen, "%s", env);
    return 0;
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      char p[8192];
      snprintf(p, sizeof p, "%s/%s", exe, TB_DATADIR_REL);
      char r[4096];
      if (realpath(p, r) && is_dir(r)) {
        snprintf(out, outlen, "%s", r);
        return 0;
      }
    }
  }
  /* build tree (and tests): the source tree's data/ */
  if (is_dir(TB_SOURCE_DATA_DIR)) {
    snprintf(out, outlen, "%s", TB_SOURCE_DATA_DIR);
    return 0;
  }
  return -1;
}

static int is_blobs(const tb_data_spec *spec) { return strcmp(spec->name, "blobs") == 0; }

/* The identity of a blobs dataset: its parameters (it is generated from them). */
static void blobs_hash(const tb_data_spec *spec, char out[TB_HASHLEN]) {
  char buf[256];
  snprintf(buf, sizeof buf, "blobs n=%d classes=%d dim=%d separation=%.17g", spec->n,
           spec->classes, spec->dim, spec->separation);
  tb_hash_bytes(out, buf, strlen(buf));
}

/* spec->path of a shipped dataset; a csv keeps the path it has. */
static int resolve_path(tb_data_spec *spec, char *err, size_t errlen) {
  if (strcmp(spec->name, "csv") == 0) return 0;
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
    if (strcmp(spec->name, builtins[i].name) == 0) {
      char dir[sizeof spec->path - 32];
      if (tb_data_dir(dir, sizeof dir)) {
        tb_errf(err, errlen, "cannot find the shipped data folder (set TRAINBENCH_DATA_DIR)");
        return -1;
      }
      snprintf(spec->path, sizeof spec->path, "%s/%s", dir, builtins[i].file);
      return 0;
    }
  tb_errf(err, errlen,
          "unknown dataset '%s' (valid: digits, breast_cancer, iris, wine, csv, blobs)",
          spec->name);
  return -1;
}

int tb_data_spec_resolve(tb_data_spec *spec, char *err, size_t errlen) {
  if (is_blobs(spec)) {
    spec->path[0] = 0;
    blobs_hash(spec, spec->content_hash);
    return 0;
  }
  if (resolve_path(spec, err, errlen)) return -1;
  char msg[TB_ERRLEN];
  if (tb_hash_file(spec->content_hash, spec->path, msg, sizeof msg)) {
    tb_errf(err, errlen, "dataset '%s': %s", spec->name, msg);
    return -1;
  }
  return 0;
}

/* ---- reading: the file's bytes, then its text ------------------------------ */

/* The whole file as it is on disk (NUL-terminated for convenience); a
 * regular file only (a FIFO or /dev/zero would block or never end). */
static char *read_bytes(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = tb_fopen_regular(path, "data file", err, errlen);
  if (!f) return NULL;
  const int fd = fileno(f);
  struct stat st;
  size_t cap = fstat(fd, &st) == 0 ? (size_t)st.st_size + 1 : 1 << 16;
  size_t n = 0;
  char *buf = xmalloc(cap + 1);
  for (;;) {
    if (n == cap) buf = xrealloc(buf, (cap *= 2) + 1);
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      tb_errf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
      fclose(f);
      free(buf);
      return NULL;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

/* Inflate gzip data (one or more members, as gzip writes them) from memory.
 * Stricter than gzread, which returns what it could read from a truncated
 * file and ignores bytes after the last member. */
static char *gunzip(const char *path, const unsigned char *in, size_t inlen, size_t *outlen,
                    char *err, size_t errlen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) abort(); /* only fails without memory */
  const size_t chunk = (size_t)1 << 30;                   /* avail_in/out are 32-bit */
  size_t cap = inlen * 4 + 4096, n = 0, fed = 0;
  char *out = xmalloc(cap + 1);
  const char *why = NULL;
  for (;;) {
    if (zs.avail_in == 0 && fed < inlen) {
      size_t take = inlen - fed < chunk ? inlen - fed : chunk;
      zs.next_in = (unsigned char *)in + fed;
      zs.avail_in = (uInt)take;
      fed += take;
    }
    if (n == cap) out = xrealloc(out, (cap *= 2) + 1);
    size_t room = cap - n < chunk ? cap - n : chunk;
    zs.next_out = (unsigned char *)out + n;
    zs.avail_out = (uInt)room;
    int rc = inflate(&zs, Z_NO_FLUSH);
    n += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      size_t left = zs.avail_in + (inlen - fed);
      if (left == 0) break;
      const unsigned char *next = zs.next_in;
      if (zs.avail_in == 0) next = in + fed; /* the rest is not fed yet */
      if (left >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
        inflateReset(&zs); /* another member follows, as `cat a.gz b.gz` makes */
        continue;
      }
      tb_errf(err, errlen, "%s: %zu unexpected bytes after the end of the gzip data", path,
              left);
      goto fail;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == inlen) {
      why = "truncated gzip data (unexpected end of file)";
    } else if (rc == Z_BUF_ERROR) {
      continue; /* the output was full: grow it */
    } else if (rc == Z_MEM_ERROR) {
      abort();
    } else {
      why = zs.msg ? zs.msg : "corrupt gzip data";
    }
    tb_errf(err, errlen, "%s: %s%s", path, why,
            strcmp(why, "incorrect data check") == 0 ? " (CRC mismatch: the file is corrupt)"
                                                     : "");
    goto fail;
  }
  inflateEnd(&zs);
  out[n] = 0;
  *outlen = n;
  return out;
fail:
  inflateEnd(&zs);
  free(out);
  return NULL;
}

/* ---- CSV ------------------------------------------------------------------ */

/* How the first line is read. */
enum first_line {
  FIRST_DATA = 0,  /* a row */
  FIRST_NAMES = 1, /* column names: counted as the first row's width, never parsed */
  FIRST_META = 2   /* the shipped files' "rows,features,class names" line: skipped */
};

typedef struct {
  const char *tok; /* the label's text (inside the file's buffer) */
  double num;      /* its value when labels are numbers */
} label_tok;

static int cmp_label_num(const void *a, const void *b) {
  double x = ((const label_tok *)a)->num, y = ((const label_tok *)b)->num;
  return (x > y) - (x < y);
}

static int cmp_label_str(const void *a, const void *b) {
  return strcmp(((const label_tok *)a)->tok, ((const label_tok *)b)->tok);
}

/* Whitespace around a field, then one pair of double quotes. */
static char *trim_field(char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\v' ||
                   e[-1] == '\f'))
    *--e = 0;
  if (e - s >= 2 && *s == '"' && e[-1] == '"') {
    e[-1] = 0;
    s++;
  }
  return s;
}

/* 1-based character column of p in a line starting at `line` (UTF-8: only
 * lead bytes count; the NULs that replaced commas count as characters). */
static long column_of(const char *line, const char *p) {
  long c = 1;
  for (const char *q = line; q < p; q++) c += ((unsigned char)*q & 0xC0) != 0x80;
  return c;
}

/* A field's text for a message, cut to a readable length. */
static const char *shown(const char *tok, char *buf, size_t n) {
  size_t len = strlen(tok);
  if (len + 1 <= n && len <= 40)
    snprintf(buf, n, "%s", tok);
  else
    snprintf(buf, n, "%.40s...", tok);
  return buf;
}

/* A number written in full: what strtod reads is the whole field. */
static int full_number(const char *tok, double *v) {
  char *end;
  errno = 0;
  *v = strtod(tok, &end);
  return *tok && end != tok && *end == 0;
}

typedef struct csv_parser {
  const char *path;
  char *err;
  size_t errlen;
  /* the line being read */
  long lineno;
  char *line;          /* its first character */
  char **fields;       /* raw starts of its fields */
  char **toks;         /* trimmed fields */
  int nf, fcap;
} csv_parser;

static int csv_fail(csv_parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int csv_fail(csv_parser *p, const char *at, const char *fmt, ...) {
  char msg[TB_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tb_errf(p->err, p->errlen, "%s:%ld:%ld: %s", p->path, p->lineno, column_of(p->line, at), msg);
  return -1;
}

/* Split p->line at commas into p->fields / p->toks. */
static void split_line(csv_parser *p) {
  p->nf = 0;
  for (char *s = p->line;;) {
    if (p->nf == p->fcap) {
      p->fcap = p->fcap ? 2 * p->fcap : 64;
      p->fields = xrealloc(p->fields, sizeof(char *) * (size_t)p->fcap);
      p->toks = xrealloc(p->toks, sizeof(char *) * (size_t)p->fcap);
    }
    p->fields[p->nf++] = s;
    char *c = strchr(s, ',');
    if (!c) break;
    *c = 0;
    s = c + 1;
  }
  for (int f = 0; f < p->nf; f++) p->toks[f] = trim_field(p->fields[f]);
}

/* Parse rows of fields with the label at column label_col (-1 = last). */
static int parse_csv(const char *path, char *text, size_t len, int first, int label_col,
                     tb_dataset *ds, char *err, size_t errlen) {
  csv_parser p = {.path = path, .err = err, .errlen = errlen};
  char *end = text + len;
  int rc = -1;
  char *nul = memchr(text, 0, len);
  if (nul) {
    /* what follows a NUL would be silently cut off by the string functions */
    char *ls = text;
    p.lineno = 1;
    for (char *q = text; q < nul; q++)
      if (*q == '\n') p.lineno++, ls = q + 1;
    *nul = '?';
    p.line = ls;
    return csv_fail(&p, nul, "a NUL byte: this is not a text file");
  }
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3; /* a UTF-8 BOM */

  int64_t rows = 0, rows_cap = 0;
  float *x = NULL;
  label_tok *labels = NULL;
  int width = -1;         /* fields per row, from the first line */
  long width_line = 0;
  int d = 0, lc = -1;
  long blank = 0;         /* first blank line after the start, 0 if none yet */
  /* the column names (FIRST_NAMES), kept to see whether they look like data */
  char **names = NULL;
  int label_numeric = -1; /* labels are numbers (1) or names (0); -1 before the first */
  long first_label_line = 0;
  const char *first_label = NULL;
  int first_data_label_row = -1; /* row index of line 1 when it is data (FIRST_DATA) */

  for (char *line = text, *next; line < end; line = next) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    next = nl ? nl + 1 : end;
    if (nl) *nl = 0;
    p.lineno++;
    p.line = line;
    /* trailing whitespace (and the \r of CRLF files) */
    char *e = nl ? nl : end;
    while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\v' ||
                        e[-1] == '\f'))
      *--e = 0;
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) {
      if (p.lineno == 1) {
        csv_fail(&p, line,
                 "the first line is blank (expected %s)",
                 first == FIRST_NAMES ? "the header" : "the first row");
        goto done;
      }
      if (!blank) blank = p.lineno;
      continue;
    }
    if (blank) {
      tb_errf(err, errlen, "%s:%ld:1: blank line between rows (line %ld has data again)", path,
              blank, p.lineno);
      goto done;
    }
    if (p.lineno == 1 && first == FIRST_META) continue;

    split_line(&p);
    if (width < 0) {
      width = p.nf;
      width_line = p.lineno;
      if (p.nf < 2) {
        csv_fail(&p, e, "found 1 field, expected at least 2 (features and a label) "
                        "separated by commas");
        goto done;
      }
      lc = label_col < 0 ? p.nf - 1 : label_col;
      if (lc >= p.nf) {
        csv_fail(&p, e, "the label column %d does not exist: this line has %d fields", lc + 1,
                 p.nf);
        goto done;
      }
      d = p.nf - 1;
    } else if (p.nf != width) {
      if (p.nf > width)
        csv_fail(&p, p.fields[width], "field %d: this row has %d fields, line %ld has %d",
                 width + 1, p.nf, width_line, width);
      else
        csv_fail(&p, e, "this row has %d field%s, line %ld has %d (field %d is missing)", p.nf,
                 p.nf == 1 ? "" : "s", width_line, width, p.nf + 1);
      goto done;
    }
    if (p.lineno == 1 && first == FIRST_NAMES) {
      names = xmalloc(sizeof(char *) * (size_t)p.nf);
      memcpy(names, p.toks, sizeof(char *) * (size_t)p.nf);
      continue;
    }

    /* a data row */
    if ((rows + 1) * (int64_t)d > TB_MAX_DATA_VALUES) {
      csv_fail(&p, line, "row %lld takes the data past the limit of %lld values (rows x "
               "features)", (long long)rows + 1, (long long)TB_MAX_DATA_VALUES);
      goto done;
    }
    if (rows == rows_cap) {
      /* doubling, but never past the limit: a row may be very wide */
      rows_cap = rows_cap ? 2 * rows_cap : 256;
      if (rows_cap > TB_MAX_DATA_VALUES / d) rows_cap = TB_MAX_DATA_VALUES / d;
      labels = xrealloc(labels, sizeof(label_tok) * (size_t)rows_cap);
      x = xrealloc(x, sizeof(float) * (size_t)rows_cap * (size_t)d);
    }
    float *xr = x + (size_t)rows * (size_t)d;
    char shown_buf[64];
    for (int f = 0, j = 0; f < p.nf; f++) {
      const char *tok = p.toks[f];
      const char *at = *tok ? tok : p.fields[f];
      double v;
      if (f == lc) {
        if (!*tok) {
          csv_fail(&p, at, "field %d: the label is empty", f + 1);
          goto done;
        }
        int numeric = full_number(tok, &v);
        if (numeric) {
          const char *bad = !isfinite(v)   ? "is not a finite number"
                            : v != floor(v) ? "is not an integer"
                            : v < 0         ? "is negative"
                                            : NULL;
          if (bad) {
            csv_fail(&p, at,
                     "field %d: label '%s' %s (a numeric label is a class number: an "
                     "integer >= 0)",
                     f + 1, shown(tok, shown_buf, sizeof shown_buf), bad);
            goto done;
          }
        }
        if (label_numeric < 0) {
          label_numeric = numeric;
          first_label_line = p.lineno;
          first_label = tok;
        } else if (numeric != label_numeric) {
          char b2[64];
          csv_fail(&p, at,
                   "field %d: label '%s' is %s but the label on line %ld ('%s') is %s: the "
                   "labels must be all class numbers or all class names",
                   f + 1, shown(tok, shown_buf, sizeof shown_buf),
                   numeric ? "a number" : "a name", first_label_line,
                   shown(first_label, b2, sizeof b2), numeric ? "a name" : "a number");
          goto done;
        }
        labels[rows].tok = tok;
        labels[rows].num = numeric ? v : 0;
        continue;
      }
      if (!*tok) {
        csv_fail(&p, at, "field %d is empty", f + 1);
        goto done;
      }
      if (!full_number(tok, &v)) {
        int hint = p.lineno == 1 && first == FIRST_DATA;
        csv_fail(&p, at, "field %d: '%s' is not a number%s", f + 1,
                 shown(tok, shown_buf, sizeof shown_buf),
                 hint ? " (is line 1 a header? then set header = true)" : "");
        goto done;
      }
      if (!isfinite(v)) {
        csv_fail(&p, at, "field %d: '%s' is not a finite number", f + 1,
                 shown(tok, shown_buf, sizeof shown_buf));
        goto done;
      }
      float fv = (float)v;
      if (!isfinite(fv)) {
        csv_fail(&p, at, "field %d: '%s' is too large for a float32 feature (|x| > 3.4e38)",
                 f + 1, shown(tok, shown_buf, sizeof shown_buf));
        goto done;
      }
      xr[j++] = fv;
    }
    if (p.lineno == 1) first_data_label_row = (int)rows;
    rows++;
  }
  if (rows == 0) {
    tb_errf(err, errlen, "%s: no data rows%s", path,
            end == text ? " (the file is empty)" : names ? " (only the header line)" : "");
    goto done;
  }
  /* rows <= TB_MAX_DATA_VALUES < INT_MAX from here */

  /* number the classes: sorted (numerically for numbers), then ranked */
  int (*cmp)(const void *, const void *) = label_numeric ? cmp_label_num : cmp_label_str;
  label_tok *sorted = xmalloc(sizeof(label_tok) * (size_t)rows);
  memcpy(sorted, labels, sizeof(label_tok) * (size_t)rows);
  qsort(sorted, (size_t)rows, sizeof *sorted, cmp);
  int k = 0;
  for (int64_t i = 0; i < rows; i++)
    if (i == 0 || cmp(&sorted[k - 1], &sorted[i]) != 0) sorted[k++] = sorted[i];
  char shown_buf[64];
  if (k < 2) {
    tb_errf(err, errlen, "%s: the label column (field %d) has a single class ('%s' on all %lld "
            "rows); a classification benchmark needs at least 2",
            path, lc + 1, shown(sorted[0].tok, shown_buf, sizeof shown_buf), (long long)rows);
    free(sorted);
    goto done;
  }
  /* A header line that reads as a row: numbers in every feature field and, as
   * label, one of the classes of the data. Then the first row would be lost. */
  if (names) {
    int data_like = 1;
    double v;
    for (int f = 0; f < width && data_like; f++)
      if (f != lc) data_like = full_number(names[f], &v) && isfinite(v);
    if (data_like) {
      label_tok key = {names[lc], 0};
      int numeric = full_number(names[lc], &key.num);
      data_like = numeric == label_numeric &&
                  bsearch(&key, sorted, (size_t)k, sizeof *sorted, cmp) != NULL;
    }
    if (data_like) {
      tb_errf(err, errlen,
              "%s:1:1: line 1 reads as a data row, not as column names (numbers, and '%s' "
              "is one of the classes): if the file has no header, set header = false",
              path, shown(names[lc], shown_buf, sizeof shown_buf));
      free(sorted);
      goto done;
    }
  }
  int32_t *y = xmalloc(sizeof(int32_t) * (size_t)rows);
  for (int64_t i = 0; i < rows; i++) {
    label_tok *hit = bsearch(&labels[i], sorted, (size_t)k, sizeof *sorted, cmp);
    y[i] = (int32_t)(hit - sorted);
  }
  /* Without a header, a first line of column names whose label field is a
   * name would pass as a row of its own class: refuse a class that only
   * line 1 has. */
  if (first == FIRST_DATA && first_data_label_row >= 0 && !label_numeric) {
    int32_t c = y[first_data_label_row];
    int64_t members = 0;
    for (int64_t i = 0; i < rows && members < 2; i++) members += y[i] == c;
    if (members == 1) {
      const char *tok = labels[first_data_label_row].tok;
      tb_errf(err, errlen,
              "%s:1:%ld: field %d: line 1 is the only row of class '%s': if it is a header, "
              "set header = true",
              path, column_of(text, tok), lc + 1, shown(tok, shown_buf, sizeof shown_buf));
      free(y);
      free(sorted);
      goto done;
    }
  }
  free(sorted);
  ds->n = (int)rows;
  ds->d = d;
  ds->k = k;
  ds->x = x;
  ds->y = y;
  x = NULL;
  rc = 0;
done:
  free(names);
  free(p.fields);
  free(p.toks);
  free(labels);
  free(x);
  return rc;
}

/* ---- blobs ------------------------------------------------------------------ */

static int make_blobs(const tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  if (spec->n < spec->classes || spec->classes < 2 || spec->dim < 1) {
    tb_errf(err, errlen, "blobs: need classes >= 2, dim >= 1 and n >= classes");
    return -1;
  }
  if ((int64_t)spec->n * spec->dim > TB_MAX_DATA_VALUES) {
    tb_errf(err, errlen, "blobs: n x dim = %lld values, more than the limit of %lld",
            (long long)spec->n * spec->dim, (long long)TB_MAX_DATA_VALUES);
    return -1;
  }
  /* The data set is fixed by its parameters (like a shipped file), so every
   * seed of a sweep sees the same points; seeds vary split, init and batches. */
  tb_rng r;
  tb_rng_init(&r, 0, "blobs");
  int n = spec->n, d = spec->dim, k = spec->classes;
  double *centers = xmalloc(sizeof(double) * (size_t)k * (size_t)d);
  for (int64_t i = 0; i < (int64_t)k * d; i++) centers[i] = spec->separation * tb_rng_normal(&r);
  ds->x = xmalloc(sizeof(float) * (size_t)n * (size_t)d);
  ds->y = xmalloc(sizeof(int32_t) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int c = i % k; /* balanced classes */
    ds->y[i] = c;
    for (int j = 0; j < d; j++)
      ds->x[(size_t)i * d + j] = (float)(centers[(size_t)c * d + j] + tb_rng_normal(&r));
  }
  free(centers);
  ds->n = n;
  ds->d = d;
  ds->k = k;
  return 0;
}

/* ---- loading ------------------------------------------------------------------ */

/* Read spec's file (path already resolved), hash its bytes into `hash`, and
 * parse those bytes. */
static int load_file(const tb_data_spec *spec, tb_dataset *ds, char hash[TB_HASHLEN], char *err,
                     size_t errlen) {
  int first = spec->header ? FIRST_NAMES : FIRST_DATA, label_col = spec->label_col;
  if (strcmp(spec->name, "csv") != 0) {
    /* shipped files: label last; all but digits start with a "rows,features,names" line */
    first = strcmp(spec->name, "digits") != 0 ? FIRST_META : FIRST_DATA;
    label_col = -1;
  }
  size_t len;
  char *bytes = read_bytes(spec->path, &len, err, errlen);
  if (!bytes) return -1;
  tb_hash_bytes(hash, bytes, len);
  char *text = bytes;
  size_t tlen = len;
  if (len >= 2 && (unsigned char)bytes[0] == 0x1f && (unsigned char)bytes[1] == 0x8b) {
    text = gunzip(spec->path, (const unsigned char *)bytes, len, &tlen, err, errlen);
    free(bytes);
    bytes = NULL;
    if (!text) return -1;
  }
  int rc = parse_csv(spec->path, text, tlen, first, label_col, ds, err, errlen);
  free(text);
  return rc;
}

int tb_data_load(tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  memset(ds, 0, sizeof *ds);
  if (is_blobs(spec)) {
    spec->path[0] = 0;
    blobs_hash(spec, spec->content_hash);
    if (make_blobs(spec, ds, err, errlen)) return -1;
  } else {
    if (resolve_path(spec, err, errlen)) return -1;
    if (load_file(spec, ds, spec->content_hash, err, errlen)) return -1;
  }
  memcpy(ds->content_hash, spec->content_hash, TB_HASHLEN);
  return 0;
}

int tb_dataset_load(const tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  memset(ds, 0, sizeof *ds);
  if (is_blobs(spec)) {
    blobs_hash(spec, ds->content_hash);
    return make_blobs(spec, ds, err, errlen);
  }
  tb_data_spec s = *spec;
  if (!s.path[0] && resolve_path(&s, err, errlen)) return -1;
  if (load_file(&s, ds, ds->content_hash, err, errlen)) return -1;
  /* The run's identity names the bytes its spec was hashed from: training on
   * other bytes would file this run's numbers under another dataset. */
  if (spec->content_hash[0] && strcmp(spec->content_hash, ds->content_hash) != 0) {
    tb_errf(err, errlen,
            "%s changed since the run was configured (content hash %.12s, now %.12s)",
            s.path, spec->content_hash, ds->content_hash);
    tb_dataset_free(ds);
    return -1;
  }
  return 0;
}

void tb_dataset_free(tb_dataset *ds) {
  free(ds->x);
  free(ds->y);
  memset(ds, 0, sizeof *ds);
}

/* ---- split and standardization -------------------------------------------- */

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

int tb_split_make(const tb_dataset *ds, const tb_data_spec *spec, int64_t seed,
                  tb_split *sp, char *err, size_t errlen) {
  memset(sp, 0, sizeof *sp);
  int n = ds->n, d = ds->d, k = ds->k;
  tb_rng r;
  tb_rng_init(&r, (uint64_t)(spec->has_split_seed ? spec->split_seed : seed), "split");
  int32_t *idx[3];
  int cnt[3] = {0, 0, 0};
  for (int s = 0; s < 3; s++) idx[s] = xmalloc(sizeof(int32_t) * (size_t)n);
  int32_t *members = xmalloc(sizeof(int32_t) * (size_t)n);
  /* stratified: each class is shuffled and cut by the cumulative fractions */
  for (int c = 0; c < k; c++) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (ds->y[i] == c) members[m++] = i;
    tb_rng_shuffle(&r, members, m);
    int cut1 = (int)floor(spec->split[0] * m + 0.5);
    int cut2 = (int)floor((spec->split[0] + spec->split[1]) * m + 0.5);
    if (cut2 > m) cut2 = m;
    if (spec->split[2] == 0) cut2 = m;
    if (spec->split[1] == 0) cut2 = cut1;
    for (int i = 0; i < m; i++) {
      int s = i < cut1 ? 0 : i < cut2 ? 1 : 2;
      idx[s][cnt[s]++] = members[i];
    }
  }
  free(members);
  if (cnt[0] == 0) {
    for (int s = 0; s < 3; s++) free(idx[s]);
    tb_errf(err, errlen, "the training split is empty");
    return -1;
  }
  /* keep original row order inside each split (order-free: batches are shuffled) */
  for (int s = 0; s < 3; s++) qsort(idx[s], (size_t)cnt[s], sizeof(int32_t), cmp_i32);

  /* standardization statistics from the training split only */
  double *mean = xcalloc((size_t)d, sizeof(double)), *sd = xcalloc((size_t)d, sizeof(double));
  if (spec->standardize) {
    for (int i = 0; i < cnt[0]; i++)
      for (int j = 0; j < d; j++) mean[j] += ds->x[(size_t)idx[0][i] * d + j];
    for (int j = 0; j < d; j++) mean[j] /= cnt[0];
    for (int i = 0; i < cnt[0]; i++)
      for (int j = 0; j < d; j++) {
        double v = ds->x[(size_t)idx[0][i] * d + j] - mean[j];
        sd[j] += v * v;
      }
    for (int j = 0; j < d; j++) sd[j] = sqrt(sd[j] / cnt[0]);
  }
  /* constant columns stay at 0, never NaN: they are divided like the
   * others (so that the loop below is one vector loop, a division of two
   * doubles a cycle or so instead of one a few), then zeroed */
  int *flat = xmalloc(sizeof(int) * (size_t)d), n_flat = 0;
  for (int j = 0; j < d && spec->standardize; j++)
    if (!(sd[j] > 0)) flat[n_flat++] = j;
  static const char *names[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; s++) {
    tb_split_part *p = &sp->part[s];
    p->name = names[s];
    p->n = cnt[s];
    p->x = xmalloc(sizeof(float) * (size_t)cnt[s] * (size_t)d);
    p->y = xmalloc(sizeof(int32_t) * (size_t)cnt[s]);
    for (int i = 0; i < cnt[s]; i++) {
      const float *restrict src = ds->x + (size_t)idx[s][i] * d;
      float *restrict dst = p->x + (size_t)i * d;
      if (!spec->standardize) {
        memcpy(dst, src, sizeof(float) * (size_t)d);
      } else {
        for (int j = 0; j < d; j++) dst[j] = (float)((src[j] - mean[j]) / sd[j]);
        for (int c = 0; c < n_flat; c++) dst[flat[c]] = 0.0f;
      }
      p->y[i] = ds->y[idx[s][i]];
    }
    free(idx[s]);
  }
  free(flat);
  free(mean);
  free(sd);
  sp->d = d;
  sp->k = k;
  sp->priors = xcalloc((size_t)k, sizeof(double));
  for (int i = 0; i < cnt[0]; i++) sp->priors[sp->part[0].y[i]] += 1.0 / cnt[0];
  return 0;
}

void tb_split_free(tb_split *sp) {
  for (int s = 0; s < 3; s++) {
    free(sp->part[s].x);
    free(sp->part[s].y);
  }
  free(sp->priors);
  memset(sp, 0, sizeof *sp);
}
