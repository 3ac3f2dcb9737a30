/*
 * json.c — canonical JSON for run configurations: sorted keys, no spaces,
 * reals in the shortest text that reads back to the same double.
 *
 * Provides: tb_fmt_real, tb_config_canonicalize, tb_config_group_hash,
 * tb_config_free.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

void tb_fmt_real(char *out, size_t outlen, double x) {
  if (isnan(x)) {
    snprintf(out, outlen, "NaN");
    return;
  }
  if (isinf(x)) {
    snprintf(out, outlen, x > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (x == floor(x) && fabs(x) < 1e15) { /* whole numbers as integers: 20, not 2e+01 */
    snprintf(out, outlen, "%.0f", x);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, outlen, "%.*g", prec, x);
    if (strtod(out, NULL) == x) return;
  }
}

/* ---- a growing string buffer ------------------------------------------------ */

typedef struct {
  char *s;
  size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 512;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_qstr(sbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      sb_put(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      sb_str(b, esc);
    } else {
      sb_put(b, (const char *)p, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static void sb_real(sbuf *b, double x) {
  char t[64];
  tb_fmt_real(t, sizeof t, x);
  if (isfinite(x))
    sb_str(b, t);
  else
    sb_qstr(b, t); /* JSON has no NaN/Infinity literals */
}

static void sb_int(sbuf *b, int64_t x) {
  char t[32];
  snprintf(t, sizeof t, "%lld", (long long)x);
  sb_str(b, t);
}

/* "key": — keys are written in sorted order by the callers */
static void sb_key(sbuf *b, int *first, const char *key) {
  if (!*first) sb_put(b, ",", 1);
  *first = 0;
  sb_qstr(b, key);
  sb_put(b, ":", 1);
}

/* ---- canonical configuration ---------------------------------------------- */

static int cmp_hp_name(const void *a, const void *b) {
  return strcmp((*(const tb_hparam *const *)a)->name, (*(const tb_hparam *const *)b)->name);
}

/* Write a hyperparameter value the way a user wrote it: reals as numbers,
 * ints as integers, bools as true/false, choices as the option's name. */

static void tb_json_hp_value(sbuf *b, const tb_hparam *h, double v) {
  switch (h->type) {
  case TB_HP_INT: sb_int(b, (int64_t)v); break;
  case TB_HP_BOOL: sb_str(b, v != 0 ? "true" : "false"); break;
  case TB_HP_CHOICE: sb_qstr(b, h->choices[(int)v]); break;
  default: sb_real(b, v);
  }
}

static void component_json(sbuf *b, const tb_component *c, const double *hp) {
  const tb_hparam *sorted[TB_MAX_HP];
  for (int i = 0; i < c->n_hparams; i++) sorted[i] = &c->hparams[i];
  qsort(sorted, (size_t)c->n_hparams, sizeof *sorted, cmp_hp_name);
  int first = 1, f2 = 1;
  sb_put(b, "{", 1);
  sb_key(b, &first, "hp");
  sb_put(b, "{", 1);
  for (int i = 0; i < c->n_hparams; i++) {
    sb_key(b, &f2, sorted[i]->name);
    tb_json_hp_value(b, sorted[i], hp[sorted[i] - c->hparams]);
  }
  sb_put(b, "}", 1);
  sb_key(b, &first, "name");
  sb_qstr(b, c->name);
  sb_key(b, &first, "version");
  sb_qstr(b, c->version);
  sb_put(b, "}", 1);
}

const char *tb_activation_name(int a) {
  return a == TB_ACT_RELU ? "relu" : a == TB_ACT_TANH ? "tanh" : a == TB_ACT_GELU ? "gelu" : "?";
}
const char *tb_init_name(int i) {
  return i == TB_INIT_DEFAULT ? "default"
         : i == TB_INIT_ZEROS ? "zeros"
         : i == TB_INIT_HE    ? "he"
         : i == TB_INIT_GLOROT ? "glorot"
                               : "?";
}
const char *tb_sched_name(int s) {
  return s == TB_SCHED_CONSTANT ? "constant"
         : s == TB_SCHED_STEP   ? "step"
         : s == TB_SCHED_COSINE ? "cosine"
                                : "?";
}

int tb_config_canonicalize(tb_run_config *cfg, char *err, size_t errlen) {
  if (!cfg->loss || !cfg->opt) {
    tb_errf(err, errlen, "configuration has no loss or optimizer");
    return -1;
  }
  sbuf b = {0};
  int top = 1, f;
  sb_put(&b, "{", 1);
  sb_key(&b, &top, "batch_size");
  sb_int(&b, cfg->batch_size);

  /* data */
  const tb_data_spec *d = &cfg->data;
  sb_key(&b, &top, "data");
  f = 1;
  sb_put(&b, "{", 1);
  int is_blobs = strcmp(d->name, "blobs") == 0, is_csv = strcmp(d->name, "csv") == 0;
  if (is_blobs) {
    sb_key(&b, &f, "classes");
    sb_int(&b, d->classes);
  }
  sb_key(&b, &f, "content_hash");
  sb_qstr(&b, d->content_hash);
  if (is_blobs) {
    sb_key(&b, &f, "dim");
    sb_int(&b, d->dim);
  }
  if (is_csv) {
    sb_key(&b, &f, "header");
    sb_str(&b, d->header ? "true" : "false");
    sb_key(&b, &f, "label_col");
    sb_int(&b, d->label_col);
  }
  if (is_blobs) {
    sb_key(&b, &f, "n");
    sb_int(&b, d->n);
  }
  sb_key(&b, &f, "name");
  sb_qstr(&b, d->name);
  if (is_blobs) {
    sb_key(&b, &f, "separation");
    sb_real(&b, d->separation);
  }
  sb_key(&b, &f, "split");
  sb_put(&b, "{", 1);
  {
    int g = 1;
    sb_key(&b, &g, "test");
    sb_real(&b, d->split[2]);
    sb_key(&b, &g, "train");
    sb_real(&b, d->split[0]);
    sb_key(&b, &g, "val");
    sb_real(&b, d->split[1]);
  }
  sb_put(&b, "}", 1);
  if (d->has_split_seed) {
    sb_key(&b, &f, "split_seed");
    sb_int(&b, d->split_seed);
  }
  sb_key(&b, &f, "standardize");
  sb_str(&b, d->standardize ? "true" : "false");
  sb_put(&b, "}", 1);

  sb_key(&b, &top, "epochs");
  sb_int(&b, cfg->epochs);
  sb_key(&b, &top, "loss");
  component_json(&b, cfg->loss, cfg->loss_hp);

  /* model */
  const tb_model_spec *m = &cfg->model;
  sb_key(&b, &top, "model");
  f = 1;
  sb_put(&b, "{", 1);
  if (m->kind == TB_MODEL_MLP) {
    sb_key(&b, &f, "activation");
    sb_qstr(&b, tb_activation_name(m->activation));
    sb_key(&b, &f, "hidden");
    sb_put(&b, "[", 1);
    for (int i = 0; i < m->n_hidden; i++) {
      if (i) sb_put(&b, ",", 1);
      sb_int(&b, m->hidden[i]);
    }
    sb_put(&b, "]", 1);
  }
  sb_key(&b, &f, "init");
  sb_qstr(&b, tb_init_name(m->init));
  sb_key(&b, &f, "kind");
  sb_qstr(&b, m->kind == TB_MODEL_MLP ? "mlp" : "linear");
  sb_put(&b, "}", 1);

  sb_key(&b, &top, "optimizer");
  component_json(&b, cfg->opt, cfg->opt_hp);
  sb_key(&b, &top, "scenario");
  sb_qstr(&b, cfg->scenario);

  /* schedule: only the fields its kind uses */
  const tb_sched_spec *s = &cfg->sched;
  sb_key(&b, &top, "schedule");
  f = 1;
  sb_put(&b, "{", 1);
  if (s->kind == TB_SCHED_STEP) {
    sb_key(&b, &f, "every");
    sb_real(&b, s->every);
    sb_key(&b, &f, "gamma");
    sb_real(&b, s->gamma);
  }
  sb_key(&b, &f, "kind");
  sb_qstr(&b, tb_sched_name(s->kind));
  if (s->kind == TB_SCHED_COSINE) {
    sb_key(&b, &f, "min_factor");
    sb_real(&b, s->min_factor);
  }
  sb_key(&b, &f, "warmup");
  sb_real(&b, s->warmup);
  sb_put(&b, "}", 1);

  sb_key(&b, &top, "seed");
  sb_int(&b, cfg->seed);
  /* the engine's numerics version: bumped when the core's training changes numbers */
  sb_key(&b, &top, "trainbench");
  sb_qstr(&b, TB_ENGINE_VERSION);
  sb_put(&b, "}", 1);

  free(cfg->json);
  cfg->json = b.s;
  tb_hash_bytes(cfg->hash, b.s, b.n);
  if (tb_config_group_hash(cfg->json, cfg->group_hash)) {
    tb_errf(err, errlen, "canonical configuration has no seed");
    return -1;
  }
  return 0;
}

/* Scan canonical JSON (no spaces, strings with \-escapes only) for the
 * top-level member "seed": everything outside strings at depth 1. */
int tb_config_group_hash(const char *json, char out[TB_HASHLEN]) {
  static const char key[] = "\"seed\":";
  int depth = 0;
  size_t n = strlen(json);
  for (size_t i = 0; i < n; i++) {
    char c = json[i];
    if (c == '"') {
      if (depth == 1 && (json[i - 1] == '{' || json[i - 1] == ',') &&
          strncmp(json + i, key, sizeof key - 1) == 0) {
        /* the member runs to the next ',' or '}' at this depth: seeds are integers */
        size_t end = i + sizeof key - 1;
        while (end < n && json[end] != ',' && json[end] != '}') end++;
        if (end >= n) return -1;
        /* drop the member with one of its commas: ",seed" or "seed," */
        size_t from = i, to = end;
        if (json[end] == ',')
          to = end + 1;
        else if (json[i - 1] == ',')
          from = i - 1;
        char *g = malloc(n + 1);
        if (!g) abort();
        memcpy(g, json, from);
        memcpy(g + from, json + to, n - to + 1);
        tb_hash_bytes(out, g, strlen(g));
        free(g);
        return 0;
      }
      for (i++; i < n && json[i] != '"'; i++)
        if (json[i] == '\\') i++;
      continue;
    }
    if (c == '{' || c == '[') depth++;
    if (c == '}' || c == ']') depth--;
  }
  return -1;
}

void tb_config_free(tb_run_config *cfg) {
  free(cfg->json);
  cfg->json = NULL;
}
