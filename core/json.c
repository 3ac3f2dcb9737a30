/*
 * json.c — run configurations as trees of instances, their views, and
 * their identity: canonical JSON (sorted keys, no spaces, reals in the
 * shortest text that reads back to the same double) holding each
 * instance's name, version and what differs from its defaults; and the
 * legacy identity, the JSON this file wrote before issue 7, kept byte for
 * byte to find the runs earlier versions recorded. See config.h.
 *
 * Provides: tb_fmt_real, tb_part_name, tb_part_kind, tb_config_set_part,
 * tb_config_derive, tb_config_canonicalize, tb_config_legacy_json, tb_config_legacy_hash,
 * tb_config_group_hash, tb_config_copy, tb_config_free, tb_value_json,
 * tb_activation_name, tb_init_name.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "stages.h"
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
  /* The fewest significant digits that read back to x. More digits than
   * that read back too, so past the short texts most values have (0.01,
   * 0.25) the least one is found by bisection: 5 tries instead of up to 17
   * (every configuration's identity and label goes through here). */
  for (int prec = 1; prec <= 4; prec++) {
    snprintf(out, outlen, "%.*g", prec, x);
    if (strtod(out, NULL) == x) return;
  }
  int lo = 5, hi = 17; /* hi always reads back */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    snprintf(out, outlen, "%.*g", mid, x);
    if (strtod(out, NULL) == x)
      hi = mid;
    else
      lo = mid + 1;
  }
  snprintf(out, outlen, "%.*g", hi, x);
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

/* ---- the tree and its views ------------------------------------------------------ */

static const char *const part_names[TB_N_PARTS] = {
    "data", "model", "loss", "optimizer", "schedule", "corruption", "transform", "reduction"};
static const int part_kinds[TB_N_PARTS] = {
    TB_KIND_DATASET, TB_KIND_MODEL, TB_KIND_LOSS, TB_KIND_OPTIMIZER, TB_KIND_SCHEDULE,
    TB_KIND_CORRUPTION, TB_KIND_TRANSFORM, TB_KIND_REDUCTION};

/* The training step's stages (stages.h) may be left unset: their first
 * component at its defaults, which changes nothing. */
static int is_stage_part(int p) { return p >= TB_PART_CORRUPTION; }

const char *tb_part_name(int part) {
  return part >= 0 && part < TB_N_PARTS ? part_names[part] : "?";
}
int tb_part_kind(int part) { return part >= 0 && part < TB_N_PARTS ? part_kinds[part] : 0; }

void tb_config_set_part(tb_run_config *cfg, int part, tb_instance *in) {
  tb_instance *old = cfg->parts[part];
  cfg->parts[part] = tb_instance_ref(in);
  tb_instance_unref(old);
}

int tb_config_derive(tb_run_config *cfg, char *err, size_t errlen) {
  for (int p = TB_PART_CORRUPTION; p < TB_N_PARTS; p++)
    if (!cfg->parts[p]) {
      int n;
      const tb_component *const *list =
          p == TB_PART_CORRUPTION  ? tb_corruption_components(&n)
          : p == TB_PART_TRANSFORM ? tb_transform_components(&n)
                                   : tb_reduction_components(&n);
      cfg->parts[p] = tb_instance_new(NULL, list[0], err, errlen);
      if (!cfg->parts[p]) return -1;
    }
  for (int p = 0; p < TB_N_PARTS; p++)
    if (!cfg->parts[p] || cfg->parts[p]->comp->kind != part_kinds[p]) {
      tb_errf(err, errlen, "the configuration has no %s", part_names[p]);
      return -1;
    }
  char hash[TB_HASHLEN];
  const struct tb_dataset *loaded = cfg->data.loaded;
  memcpy(hash, cfg->data.content_hash, TB_HASHLEN);
  if (tb_data_spec_from(cfg->parts[TB_PART_DATA], &cfg->data, err, errlen)) return -1;
  memcpy(cfg->data.content_hash, hash, TB_HASHLEN);
  cfg->data.loaded = loaded;
  tb_model_spec_from(cfg->parts[TB_PART_MODEL], &cfg->model);
  cfg->loss = cfg->parts[TB_PART_LOSS]->comp;
  cfg->opt = cfg->parts[TB_PART_OPTIMIZER]->comp;
  cfg->sched = cfg->parts[TB_PART_SCHEDULE]->comp;
  cfg->loss_hp = cfg->parts[TB_PART_LOSS]->hp;
  cfg->opt_hp = cfg->parts[TB_PART_OPTIMIZER]->hp;
  return 0;
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

/* ---- the identity --------------------------------------------------------------------- */

/* A real as the identity writes it: -0 as 0 (the same number to every
 * formula, and equal as a double), the rest as tb_fmt_real. */
static void id_real(sbuf *b, double x) { sb_real(b, x == 0 ? 0.0 : x); }

static void id_num(sbuf *b, double x, int integer) {
  if (integer) {
    char t[64];
    snprintf(t, sizeof t, "%.0f", x == 0 ? 0.0 : x); /* exact: |x| <= 2^53, checked */
    sb_str(b, t);
  } else {
    id_real(b, x);
  }
}

static void instance_json(sbuf *b, const tb_instance *in, const char *content_hash);

static void value_json(sbuf *b, const tb_hparam *h, const tb_value *v, const tb_instance *child) {
  const int integer = h->type == TB_HP_INT || (h->flags & TB_HPF_INTEGER);
  switch (h->type) {
  case TB_HP_REAL:
  case TB_HP_INT: id_num(b, v->num, integer); return;
  case TB_HP_BOOL: sb_str(b, v->num != 0 ? "true" : "false"); return;
  case TB_HP_CHOICE:
  case TB_HP_STRING: sb_qstr(b, v->text ? v->text : ""); return;
  case TB_HP_COMPONENT:
    if (child)
      instance_json(b, child, NULL);
    else
      sb_qstr(b, v->text ? v->text : "");
    return;
  case TB_HP_RECORD: {
    /* fields by name, as every object of the identity */
    int order[TB_HP_MAX_FIELDS], n = 0;
    for (int i = 0; i < v->n && n < TB_HP_MAX_FIELDS; i++) {
      int j = n++;
      while (j > 0 && strcmp(h->choices[order[j - 1]], h->choices[i]) > 0) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
    }
    int f = 1;
    sb_put(b, "{", 1);
    for (int i = 0; i < n; i++) {
      sb_key(b, &f, h->choices[order[i]]);
      id_num(b, v->list[order[i]], integer);
    }
    sb_put(b, "}", 1);
    return;
  }
  case TB_HP_MATRIX:
    sb_put(b, "[", 1);
    for (int64_t r = 0; r < v->rows; r++) {
      sb_str(b, r ? ",[" : "[");
      for (int64_t c = 0; c < v->cols; c++) {
        if (c) sb_put(b, ",", 1);
        id_num(b, v->list[r * v->cols + c], integer);
      }
      sb_put(b, "]", 1);
    }
    sb_put(b, "]", 1);
    return;
  default: /* LIST */
    sb_put(b, "[", 1);
    for (int64_t i = 0; i < v->n; i++) {
      if (i) sb_put(b, ",", 1);
      id_num(b, v->list[i], integer);
    }
    sb_put(b, "]", 1);
  }
}

char *tb_value_json(const tb_hparam *h, const tb_value *v, const tb_instance *child) {
  sbuf b = {0};
  if (tb_value_absent(h, v))
    sb_str(&b, "null");
  else
    value_json(&b, h, v, child);
  return b.s;
}

static int cmp_hp_name(const void *a, const void *b) {
  return strcmp((*(const tb_hparam *const *)a)->name, (*(const tb_hparam *const *)b)->name);
}

/* {"content_hash":..,"hp":{what differs from the defaults},"name":..,"version":..} */
static void instance_json(sbuf *b, const tb_instance *in, const char *content_hash) {
  const tb_component *c = in->comp;
  const tb_hparam *sorted[TB_MAX_HP];
  for (int i = 0; i < in->n; i++) sorted[i] = &c->hparams[i];
  qsort(sorted, (size_t)in->n, sizeof *sorted, cmp_hp_name);
  int f = 1, g = 1;
  sb_put(b, "{", 1);
  if (content_hash) {
    sb_key(b, &f, "content_hash");
    sb_qstr(b, content_hash);
  }
  for (int s = 0; s < in->n; s++) {
    const tb_hparam *h = sorted[s];
    const int i = (int)(h - c->hparams);
    if ((h->flags & TB_HPF_NOT_IDENTITY) || tb_value_is_default(h, &in->values[i])) continue;
    if (g) {
      sb_key(b, &f, "hp");
      sb_put(b, "{", 1);
    }
    sb_key(b, &g, h->name);
    if (tb_value_absent(h, &in->values[i]))
      sb_str(b, "null");
    else
      value_json(b, h, &in->values[i], in->child[i]);
  }
  if (!g) sb_put(b, "}", 1);
  sb_key(b, &f, "name");
  sb_qstr(b, c->name);
  sb_key(b, &f, "version");
  sb_qstr(b, c->version);
  sb_put(b, "}", 1);
}

int tb_config_canonicalize(tb_run_config *cfg, char *err, size_t errlen) {
  for (int p = 0; p < TB_N_PARTS; p++)
    if (!cfg->parts[p]) {
      tb_errf(err, errlen, "the configuration has no %s", part_names[p]);
      return -1;
    }
  sbuf b = {0};
  int top = 1;
  sb_put(&b, "{", 1);
  sb_key(&b, &top, "batch_size");
  sb_int(&b, cfg->batch_size);
  /* a stage at its default changes nothing: left out, so that every run
   * recorded before the stages existed keeps its identity */
  if (!tb_stage_is_default(cfg->parts[TB_PART_CORRUPTION])) {
    sb_key(&b, &top, "corruption");
    instance_json(&b, cfg->parts[TB_PART_CORRUPTION], NULL);
  }
  sb_key(&b, &top, "data");
  instance_json(&b, cfg->parts[TB_PART_DATA], cfg->data.content_hash);
  sb_key(&b, &top, "epochs");
  sb_int(&b, cfg->epochs);
  sb_key(&b, &top, "loss");
  instance_json(&b, cfg->parts[TB_PART_LOSS], NULL);
  sb_key(&b, &top, "model");
  instance_json(&b, cfg->parts[TB_PART_MODEL], NULL);
  sb_key(&b, &top, "optimizer");
  instance_json(&b, cfg->parts[TB_PART_OPTIMIZER], NULL);
  if (!tb_stage_is_default(cfg->parts[TB_PART_REDUCTION])) {
    sb_key(&b, &top, "reduction");
    instance_json(&b, cfg->parts[TB_PART_REDUCTION], NULL);
  }
  sb_key(&b, &top, "scenario");
  sb_qstr(&b, cfg->scenario);
  sb_key(&b, &top, "schedule");
  instance_json(&b, cfg->parts[TB_PART_SCHEDULE], NULL);
  sb_key(&b, &top, "seed");
  sb_int(&b, cfg->seed);
  /* the engine's numerics version: bumped when the core's training changes numbers */
  sb_key(&b, &top, "trainbench");
  sb_qstr(&b, TB_ENGINE_VERSION);
  if (!tb_stage_is_default(cfg->parts[TB_PART_TRANSFORM])) {
    sb_key(&b, &top, "transform");
    instance_json(&b, cfg->parts[TB_PART_TRANSFORM], NULL);
  }
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

/* ---- the legacy identity ------------------------------------------------------------ */

/* What json.c wrote before issue 7, byte for byte: every hyperparameter of
 * a loss or optimizer listed (reals, ints, bools, choices: the only types
 * there were), the dataset and model in their own layouts, the three
 * schedules built into the engine with the fields each used. */

static void legacy_hp_value(sbuf *b, const tb_hparam *h, double v) {
  switch (h->type) {
  case TB_HP_INT: sb_int(b, (int64_t)v); break;
  case TB_HP_BOOL: sb_str(b, v != 0 ? "true" : "false"); break;
  case TB_HP_CHOICE: sb_qstr(b, h->choices[(int)v]); break;
  default: sb_real(b, v);
  }
}

/* 0, or -1 when the instance has no legacy form (a type or a child that
 * did not exist then). */
static int legacy_component(sbuf *b, const tb_instance *in) {
  const tb_component *c = in->comp;
  const tb_hparam *sorted[TB_MAX_HP];
  for (int i = 0; i < in->n; i++) {
    if (c->hparams[i].type < TB_HP_REAL || c->hparams[i].type > TB_HP_CHOICE) return -1;
    sorted[i] = &c->hparams[i];
  }
  qsort(sorted, (size_t)in->n, sizeof *sorted, cmp_hp_name);
  int first = 1, f2 = 1;
  sb_put(b, "{", 1);
  sb_key(b, &first, "hp");
  sb_put(b, "{", 1);
  for (int i = 0; i < in->n; i++) {
    sb_key(b, &f2, sorted[i]->name);
    legacy_hp_value(b, sorted[i], in->hp[sorted[i] - c->hparams]);
  }
  sb_put(b, "}", 1);
  sb_key(b, &first, "name");
  sb_qstr(b, c->name);
  sb_key(b, &first, "version");
  sb_qstr(b, c->version);
  sb_put(b, "}", 1);
  return 0;
}

/* The built-in schedules of before and the fields each wrote besides kind
 * and warmup: their plugins of version 1 give the same numbers. */
static int legacy_schedule(sbuf *b, const tb_instance *in) {
  const tb_component *c = in->comp;
  const int step = strcmp(c->name, "step") == 0, cosine = strcmp(c->name, "cosine") == 0;
  if (strcmp(c->version, "1") != 0 || !(step || cosine || strcmp(c->name, "constant") == 0))
    return -1;
  /* exactly the hyperparameters of then, all reals */
  static const char *const fields[3][4] = {
      {"warmup", NULL}, {"every", "gamma", "warmup", NULL}, {"min_factor", "warmup", NULL}};
  const char *const *want = fields[step ? 1 : cosine ? 2 : 0];
  int n_want = 0;
  for (; want[n_want]; n_want++) {
    int i = tb_instance_at(in, want[n_want]);
    if (i < 0 || c->hparams[i].type != TB_HP_REAL) return -1;
  }
  if (in->n != n_want) return -1;
  int f = 1;
  sb_put(b, "{", 1);
  if (step) {
    sb_key(b, &f, "every");
    sb_real(b, tb_instance_num(in, "every"));
    sb_key(b, &f, "gamma");
    sb_real(b, tb_instance_num(in, "gamma"));
  }
  sb_key(b, &f, "kind");
  sb_qstr(b, c->name);
  if (cosine) {
    sb_key(b, &f, "min_factor");
    sb_real(b, tb_instance_num(in, "min_factor"));
  }
  sb_key(b, &f, "warmup");
  sb_real(b, tb_instance_num(in, "warmup"));
  sb_put(b, "}", 1);
  return 0;
}

char *tb_config_legacy_json(const tb_run_config *cfg) {
  for (int p = 0; p < TB_N_PARTS; p++)
    if (!cfg->parts[p] || (is_stage_part(p) && !tb_stage_is_default(cfg->parts[p])))
      return NULL; /* the stages came after the legacy identity */
  const tb_instance *data = cfg->parts[TB_PART_DATA], *model = cfg->parts[TB_PART_MODEL];
  if (strcmp(data->comp->version, "1") != 0 || strcmp(model->comp->version, "1") != 0)
    return NULL;
  /* the legacy model JSON has no head: a cosine head did not exist then, and
   * must not match an old run of the same widths */
  if (cfg->model.head == TB_HEAD_COSINE) return NULL;
  sbuf b = {0};
  int top = 1, f;
  sb_put(&b, "{", 1);
  sb_key(&b, &top, "batch_size");
  sb_int(&b, cfg->batch_size);

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
  if (legacy_component(&b, cfg->parts[TB_PART_LOSS])) goto none;

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
  if (legacy_component(&b, cfg->parts[TB_PART_OPTIMIZER])) goto none;
  sb_key(&b, &top, "scenario");
  sb_qstr(&b, cfg->scenario);
  sb_key(&b, &top, "schedule");
  if (legacy_schedule(&b, cfg->parts[TB_PART_SCHEDULE])) goto none;
  sb_key(&b, &top, "seed");
  sb_int(&b, cfg->seed);
  sb_key(&b, &top, "trainbench");
  sb_qstr(&b, TB_ENGINE_VERSION);
  sb_put(&b, "}", 1);
  return b.s;
none:
  free(b.s);
  return NULL;
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

int tb_config_legacy_hash(const tb_run_config *cfg, char out[TB_HASHLEN]) {
  char *legacy = tb_config_legacy_json(cfg);
  out[0] = 0;
  if (!legacy) return -1;
  tb_hash_bytes(out, legacy, strlen(legacy));
  free(legacy);
  return 0;
}

void tb_config_copy(tb_run_config *dst, const tb_run_config *src) {
  *dst = *src;
  for (int p = 0; p < TB_N_PARTS; p++) tb_instance_ref(dst->parts[p]);
  if (src->json) {
    dst->json = strdup(src->json);
    if (!dst->json) abort();
  }
}

void tb_config_free(tb_run_config *cfg) {
  free(cfg->json);
  cfg->json = NULL;
  for (int p = 0; p < TB_N_PARTS; p++) {
    tb_instance_unref(cfg->parts[p]);
    cfg->parts[p] = NULL;
  }
}
