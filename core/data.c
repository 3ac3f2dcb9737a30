/*
 * data.c — datasets: the shipped ones (digits, breast_cancer, iris, wine),
 * user CSV files, and synthetic Gaussian blobs; the stratified
 * train/val/test split and standardization fitted on the training split.
 *
 * Shapes: N = rows, D = features, K = classes. Features are float32,
 * row-major [N][D]; labels int32 in 0..K-1.
 *
 * Provides: tb_data_dir, tb_data_spec_resolve, tb_dataset_load,
 * tb_dataset_free, tb_split_make, tb_split_free.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tb.h"
#include "train.h"

#ifndef TB_SOURCE_DATA_DIR
#define TB_SOURCE_DATA_DIR "data"
#endif
#ifndef TB_DATADIR_REL
#define TB_DATADIR_REL "../share/trainbench/data"
#endif

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

int tb_data_spec_resolve(tb_data_spec *spec, char *err, size_t errlen) {
  if (strcmp(spec->name, "blobs") == 0) {
    char buf[256];
    snprintf(buf, sizeof buf, "blobs n=%d classes=%d dim=%d separation=%.17g", spec->n,
             spec->classes, spec->dim, spec->separation);
    spec->path[0] = 0;
    tb_hash_bytes(spec->content_hash, buf, strlen(buf));
    return 0;
  }
  if (strcmp(spec->name, "csv") != 0) {
    int found = 0;
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
      if (strcmp(spec->name, builtins[i].name) == 0) {
        char dir[sizeof spec->path - 32];
        if (tb_data_dir(dir, sizeof dir)) {
          tb_errf(err, errlen, "cannot find the shipped data folder (set TRAINBENCH_DATA_DIR)");
          return -1;
        }
        snprintf(spec->path, sizeof spec->path, "%s/%s", dir, builtins[i].file);
        found = 1;
      }
    if (!found) {
      tb_errf(err, errlen,
              "unknown dataset '%s' (valid: digits, breast_cancer, iris, wine, csv, blobs)",
              spec->name);
      return -1;
    }
  }
  char msg[TB_ERRLEN];
  if (tb_hash_file(spec->content_hash, spec->path, msg, sizeof msg)) {
    tb_errf(err, errlen, "dataset '%s': %s", spec->name, msg);
    return -1;
  }
  return 0;
}

/* ---- CSV ------------------------------------------------------------------ */

/* Read a whole (possibly gzip-compressed) file; zlib reads plain files too. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    tb_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    int got = gzread(f, buf + n, (unsigned)(cap - n));
    if (got < 0) {
      int zerr;
      tb_errf(err, errlen, "cannot read '%s': %s", path, gzerror(f, &zerr));
      gzclose(f);
      free(buf);
      return NULL;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  gzclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

typedef struct {
  char *text;
  const char *label;
  double numeric;
  int is_numeric;
} label_tok;

static int cmp_label(const void *a, const void *b) {
  const label_tok *x = a, *y = b;
  if (x->is_numeric && y->is_numeric)
    return (x->numeric > y->numeric) - (x->numeric < y->numeric);
  return strcmp(x->label, y->label);
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  if (e - s >= 2 && *s == '"' && e[-1] == '"') {
    e[-1] = 0;
    s++;
  }
  return s;
}

/* Parse rows of "f1,f2,...,label" (label at column label_col, -1 = last).
 * Class indices: labels sorted (numerically if all numeric), then numbered. */
static int parse_csv(const char *path, int skip_header, int label_col, tb_dataset *ds,
                     char *err, size_t errlen) {
  size_t len;
  char *text = slurp(path, &len, err, errlen);
  if (!text) return -1;
  int rows_cap = 256, rows = 0, d = -1, rc = -1;
  float *x = NULL;
  label_tok *labels = malloc(sizeof(label_tok) * (size_t)rows_cap);
  int lineno = 0;
  char **fields = NULL;
  int fcap = 0;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    char *s = trim(line);
    if (!*s) continue;
    if (skip_header && lineno == 1) continue;
    int nf = 0;
    for (char *p = s;;) {
      if (nf == fcap) fields = realloc(fields, sizeof(char *) * (size_t)(fcap = fcap ? 2 * fcap : 64));
      fields[nf++] = p;
      char *c = strchr(p, ',');
      if (!c) break;
      *c = 0;
      p = c + 1;
    }
    if (nf < 2) {
      tb_errf(err, errlen, "%s:%d: expected at least 2 columns, found %d", path, lineno, nf);
      goto done;
    }
    int lc = label_col < 0 ? nf - 1 : label_col;
    if (lc >= nf) {
      tb_errf(err, errlen, "%s:%d: label column %d does not exist (%d columns)", path, lineno,
              lc + 1, nf);
      goto done;
    }
    if (d < 0) {
      d = nf - 1;
    } else if (nf - 1 != d) {
      tb_errf(err, errlen, "%s:%d: expected %d columns, found %d", path, lineno, d + 1, nf);
      goto done;
    }
    if (rows == rows_cap) labels = realloc(labels, sizeof(label_tok) * (size_t)(rows_cap *= 2));
    x = realloc(x, sizeof(float) * (size_t)(rows + 1) * (size_t)d);
    int j = 0;
    for (int f = 0; f < nf; f++) {
      char *tok = trim(fields[f]);
      if (f == lc) {
        label_tok *lt = &labels[rows];
        lt->label = tok;
        char *end;
        lt->numeric = strtod(tok, &end);
        lt->is_numeric = *tok && *end == 0;
        continue;
      }
      char *end;
      double v = strtod(tok, &end);
      if (!*tok || *end) {
        tb_errf(err, errlen, "%s:%d: column %d: '%s' is not a number", path, lineno, f + 1,
                tok);
        goto done;
      }
      x[(size_t)rows * (size_t)d + (size_t)j++] = (float)v;
    }
    labels[rows].text = NULL;
    rows++;
  }
  if (rows == 0) {
    tb_errf(err, errlen, "%s: no data rows", path);
    goto done;
  }
  /* number the classes */
  {
    int all_numeric = 1;
    for (int i = 0; i < rows; i++) all_numeric &= labels[i].is_numeric;
    for (int i = 0; i < rows; i++) labels[i].is_numeric = all_numeric;
    label_tok *sorted = malloc(sizeof(label_tok) * (size_t)rows);
    memcpy(sorted, labels, sizeof(label_tok) * (size_t)rows);
    qsort(sorted, (size_t)rows, sizeof *sorted, cmp_label);
    int k = 0;
    for (int i = 0; i < rows; i++)
      if (i == 0 || cmp_label(&sorted[i - 1], &sorted[i]) != 0) sorted[k++] = sorted[i];
    ds->y = malloc(sizeof(int32_t) * (size_t)rows);
    for (int i = 0; i < rows; i++) {
      label_tok *hit = bsearch(&labels[i], sorted, (size_t)k, sizeof *sorted, cmp_label);
      ds->y[i] = (int32_t)(hit - sorted);
    }
    free(sorted);
    if (k < 2) {
      tb_errf(err, errlen, "%s: the label column has a single class", path);
      free(ds->y);
      ds->y = NULL;
      goto done;
    }
    ds->n = rows;
    ds->d = d;
    ds->k = k;
    ds->x = x;
    x = NULL;
    rc = 0;
  }
done:
  free(fields);
  free(labels);
  free(x);
  free(text);
  return rc;
}

static int make_blobs(const tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  if (spec->n < spec->classes || spec->classes < 2 || spec->dim < 1) {
    tb_errf(err, errlen, "blobs: need classes >= 2, dim >= 1 and n >= classes");
    return -1;
  }
  /* The data set is fixed by its parameters (like a shipped file), so every
   * seed of a sweep sees the same points; seeds vary split, init and batches. */
  tb_rng r;
  tb_rng_init(&r, 0, "blobs");
  int n = spec->n, d = spec->dim, k = spec->classes;
  double *centers = malloc(sizeof(double) * (size_t)k * (size_t)d);
  for (int i = 0; i < k * d; i++) centers[i] = spec->separation * tb_rng_normal(&r);
  ds->x = malloc(sizeof(float) * (size_t)n * (size_t)d);
  ds->y = malloc(sizeof(int32_t) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int c = i % k; /* balanced classes */
    ds->y[i] = c;
    for (int j = 0; j < d; j++)
      ds->x[(size_t)i * d + j] = (float)(centers[c * d + j] + tb_rng_normal(&r));
  }
  free(centers);
  ds->n = n;
  ds->d = d;
  ds->k = k;
  return 0;
}

int tb_dataset_load(const tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  memset(ds, 0, sizeof *ds);
  if (strcmp(spec->name, "blobs") == 0) return make_blobs(spec, ds, err, errlen);
  int header = spec->header, label_col = spec->label_col;
  if (strcmp(spec->name, "csv") != 0) {
    /* shipped files: label last; all but digits start with a "rows,features,names" line */
    header = strcmp(spec->name, "digits") != 0;
    label_col = -1;
  }
  return parse_csv(spec->path, header, label_col, ds, err, errlen);
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
  for (int s = 0; s < 3; s++) idx[s] = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  int32_t *members = malloc(sizeof(int32_t) * (size_t)n);
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
  double *mean = calloc((size_t)d, sizeof(double)), *sd = calloc((size_t)d, sizeof(double));
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
  static const char *names[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; s++) {
    tb_split_part *p = &sp->part[s];
    p->name = names[s];
    p->n = cnt[s];
    p->x = malloc(sizeof(float) * (size_t)(cnt[s] ? cnt[s] : 1) * (size_t)d);
    p->y = malloc(sizeof(int32_t) * (size_t)(cnt[s] ? cnt[s] : 1));
    for (int i = 0; i < cnt[s]; i++) {
      const float *src = ds->x + (size_t)idx[s][i] * d;
      float *dst = p->x + (size_t)i * d;
      for (int j = 0; j < d; j++) {
        if (!spec->standardize)
          dst[j] = src[j];
        else /* constant columns stay at 0, never NaN */
          dst[j] = sd[j] > 0 ? (float)((src[j] - mean[j]) / sd[j]) : 0.0f;
      }
      p->y[i] = ds->y[idx[s][i]];
    }
    free(idx[s]);
  }
  free(mean);
  free(sd);
  sp->d = d;
  sp->k = k;
  sp->priors = calloc((size_t)k, sizeof(double));
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
