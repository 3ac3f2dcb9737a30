/*
 * hparam.c — one validator for the hyperparameters of every component
 * (plugins and built-ins alike): the rules of a table, the check of a value
 * of each type, and instances (a component with its values, the nodes of a
 * run's configuration tree). See hparam.h for the contract.
 *
 * Why one place: a range, an integer or a choice checked in two places
 * drifts, and a value that passes one check and not the other is a run that
 * computes something the configuration does not say.
 *
 * Provides: tb_hparam_table_check, tb_value_*, tb_hp_type_name,
 * tb_hp_value_text, tb_component_label, tb_instance_*, and the scalar views
 * of registry.h: tb_hparams_defaults, tb_hparams_check, tb_hparams_values,
 * tb_hparam_index.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

/* ---- small helpers ------------------------------------------------------------ */

const char *tb_hp_type_name(int type) {
  switch (type) {
  case TB_HP_REAL: return "real";
  case TB_HP_INT: return "int";
  case TB_HP_BOOL: return "bool";
  case TB_HP_CHOICE: return "choice";
  case TB_HP_STRING: return "string";
  case TB_HP_LIST: return "list";
  case TB_HP_RECORD: return "record";
  case TB_HP_MATRIX: return "matrix";
  case TB_HP_COMPONENT: return "component";
  }
  return "?";
}

/* "a loss", "an optimizer" */
static const char *a_kind(int kind) {
  const char *k = tb_kind_name(kind);
  return strchr("aeiou", k[0]) ? "an" : "a";
}

static int is_scalar(int type) { return type >= TB_HP_REAL && type <= TB_HP_CHOICE; }
static int has_list(int type) {
  return type == TB_HP_LIST || type == TB_HP_RECORD || type == TB_HP_MATRIX;
}

static int n_names(const char *const *names) {
  int n = 0;
  while (names && names[n]) n++;
  return n;
}

static int identifier(const char *s) {
  if (!s || !(islower((unsigned char)*s) || *s == '_')) return 0;
  for (; *s; s++)
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* An element of h's range written for a message: integers as integers. */
static void fmt_num(char *out, size_t len, double x) {
  if (isfinite(x) && x == floor(x) && fabs(x) <= TB_HP_INT_LIMIT)
    snprintf(out, len, "%.0f", x);
  else
    tb_fmt_real(out, len, x);
}

/* "is out of range [a, b]", or "must be >= a" for an open-ended range. */
static void range_text(char *out, size_t len, double lo, double hi) {
  char a[64], b[64];
  fmt_num(a, sizeof a, lo);
  fmt_num(b, sizeof b, hi);
  if (hi >= DBL_MAX && lo <= -DBL_MAX)
    snprintf(out, len, "must be finite");
  else if (hi >= DBL_MAX)
    snprintf(out, len, "must be >= %s", a);
  else if (lo <= -DBL_MAX)
    snprintf(out, len, "must be <= %s", b);
  else
    snprintf(out, len, "is out of range [%s, %s]", a, b);
}

/* One number of row h (a scalar, or an element when `what` names it, e.g.
 * "at position 2" or "'split.train'"): finite, an integer where the type or
 * flags say so, and in [min, max]. */
static int check_number(const tb_hparam *h, double x, int integer, const char *what, char *err,
                        size_t errlen) {
  char v[64], r[160], name[160];
  fmt_num(v, sizeof v, x);
  if (what && what[0] == '\'')
    snprintf(name, sizeof name, "%s = %s", what, v);
  else
    snprintf(name, sizeof name, "'%s' = %s%s%s", h->name, v, what ? " " : "", what ? what : "");
  if (!isfinite(x)) {
    tb_errf(err, errlen, "%s is not a finite number", name);
    return -1;
  }
  if (integer && (x != floor(x) || fabs(x) > TB_HP_INT_LIMIT)) {
    tb_errf(err, errlen, "%s is not an integer%s", name,
            x == floor(x) ? " that a double holds exactly (|x| <= 2^53)" : "");
    return -1;
  }
  if (x < h->min || x > h->max) {
    range_text(r, sizeof r, h->min, h->max);
    tb_errf(err, errlen, "%s %s", name, r);
    return -1;
  }
  return 0;
}

/* ---- values ---------------------------------------------------------------------- */

void tb_value_default(const tb_hparam *h, tb_value *v) {
  memset(v, 0, sizeof *v);
  v->num = NAN;
  if (h->flags & (TB_HPF_REQUIRED | TB_HPF_OPTIONAL)) return;
  switch (h->type) {
  case TB_HP_REAL:
  case TB_HP_INT:
  case TB_HP_BOOL: v->num = h->def; break;
  case TB_HP_CHOICE:
    v->num = h->def;
    if (h->def >= 0 && h->def < n_names(h->choices)) v->text = h->choices[(int)h->def];
    break;
  case TB_HP_STRING: v->text = h->def_text; break;
  case TB_HP_LIST:
  case TB_HP_RECORD:
  case TB_HP_MATRIX:
    v->list = h->def_list;
    v->n = h->def_n;
    v->cols = h->type == TB_HP_MATRIX ? h->def_cols : h->def_n;
    v->rows = h->type == TB_HP_MATRIX ? (h->def_cols > 0 ? h->def_n / h->def_cols : 0) : 1;
    break;
  case TB_HP_COMPONENT: break; /* an instance: tb_instance_new */
  }
}

int tb_value_absent(const tb_hparam *h, const tb_value *v) {
  if (h->type == TB_HP_COMPONENT) return v->text == NULL;
  if (!(h->flags & (TB_HPF_REQUIRED | TB_HPF_OPTIONAL))) return 0;
  if (is_scalar(h->type)) return isnan(v->num);
  if (h->type == TB_HP_STRING) return v->text == NULL;
  return v->list == NULL;
}

int tb_value_check(const tb_hparam *h, const tb_value *v, int k, char *err, size_t errlen) {
  if (tb_value_absent(h, v)) return 0;
  char what[160];
  switch (h->type) {
  case TB_HP_REAL: return check_number(h, v->num, 0, NULL, err, errlen);
  case TB_HP_INT: return check_number(h, v->num, 1, NULL, err, errlen);
  case TB_HP_BOOL:
    if (v->num != 0 && v->num != 1) {
      tb_errf(err, errlen, "'%s' must be a boolean", h->name);
      return -1;
    }
    return 0;
  case TB_HP_CHOICE:
    if (v->num != floor(v->num) || v->num < 0 || v->num >= n_names(h->choices)) {
      tb_errf(err, errlen, "'%s' has no option number %g", h->name, v->num);
      return -1;
    }
    return 0;
  case TB_HP_STRING:
    if (!v->text) {
      tb_errf(err, errlen, "'%s' must be a text", h->name);
      return -1;
    }
    return 0;
  case TB_HP_COMPONENT: return 0; /* through its instance */
  }
  /* LIST, RECORD, MATRIX */
  const int integer = (h->flags & TB_HPF_INTEGER) != 0;
  if (v->n < 0 || v->n > TB_HP_MAX_ELEMENTS || (v->n > 0 && !v->list) ||
      v->rows * v->cols != v->n) {
    tb_errf(err, errlen, "'%s' has a malformed value (%lld elements, %lld x %lld)", h->name,
            (long long)v->n, (long long)v->rows, (long long)v->cols);
    return -1;
  }
  if (h->type == TB_HP_RECORD) {
    const int nf = n_names(h->choices);
    if (v->n != nf) {
      tb_errf(err, errlen, "'%s' must have %d fields, got %lld", h->name, nf, (long long)v->n);
      return -1;
    }
    for (int i = 0; i < nf; i++) {
      snprintf(what, sizeof what, "'%s.%s'", h->name, h->choices[i]);
      if (check_number(h, v->list[i], integer, what, err, errlen)) return -1;
    }
    return 0;
  }
  const int k_sized = (h->flags & TB_HPF_K) != 0;
  if (h->type == TB_HP_LIST) {
    if (h->max_n > 0 && (v->n < h->min_n || v->n > h->max_n)) {
      if (h->min_n == h->max_n)
        tb_errf(err, errlen, "'%s' must have %d entries, got %lld", h->name, h->min_n,
                (long long)v->n);
      else
        tb_errf(err, errlen, "'%s' must have %d to %d entries, got %lld", h->name, h->min_n,
                h->max_n, (long long)v->n);
      return -1;
    }
    if (k_sized && k >= 0 && v->n != 0 && v->n != k) {
      tb_errf(err, errlen, "'%s' must have K = %d entries (one per class), got %lld", h->name,
              k, (long long)v->n);
      return -1;
    }
  } else if (k_sized && k >= 0 && v->n != 0 && (v->rows != k || v->cols != k)) {
    tb_errf(err, errlen, "'%s' must be K x K = %d x %d (one row and column per class), got "
            "%lld x %lld", h->name, k, k, (long long)v->rows, (long long)v->cols);
    return -1;
  }
  for (int64_t i = 0; i < v->n; i++) {
    if (h->type == TB_HP_MATRIX)
      snprintf(what, sizeof what, "at row %lld, column %lld", (long long)(i / v->cols + 1),
               (long long)(i % v->cols + 1));
    else
      snprintf(what, sizeof what, "at position %lld", (long long)i + 1);
    if (check_number(h, v->list[i], integer, what, err, errlen)) return -1;
  }
  return 0;
}

int tb_value_equal(const tb_hparam *h, const tb_value *a, const tb_value *b,
                   const tb_instance *ca, const tb_instance *cb) {
  const int aa = tb_value_absent(h, a), ab = tb_value_absent(h, b);
  if (aa || ab) return aa == ab;
  switch (h->type) {
  case TB_HP_REAL:
  case TB_HP_INT:
  case TB_HP_BOOL:
  case TB_HP_CHOICE: return a->num == b->num;
  case TB_HP_STRING: return strcmp(a->text, b->text) == 0;
  case TB_HP_COMPONENT:
    if (!ca || !cb) return ca == cb && strcmp(a->text, b->text) == 0;
    return tb_instance_same(ca, cb);
  }
  if (a->n != b->n || a->rows != b->rows || a->cols != b->cols) return 0;
  for (int64_t i = 0; i < a->n; i++)
    if (a->list[i] != b->list[i]) return 0;
  return 1;
}

int tb_value_is_default(const tb_hparam *h, const tb_value *v) {
  if (h->type == TB_HP_COMPONENT) return 0;
  tb_value d;
  tb_value_default(h, &d);
  if (h->flags & TB_HPF_REQUIRED) return 0; /* no default: always given */
  return tb_value_equal(h, v, &d, NULL, NULL);
}

/* ---- text ------------------------------------------------------------------------ */

typedef struct tbuf {
  char *s;
  size_t len, at;
} tbuf;

static void tput(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(tbuf *b, const char *fmt, ...) {
  if (b->at >= b->len) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->s + b->at, b->len - b->at, fmt, ap);
  va_end(ap);
  if (n > 0) b->at += (size_t)n;
  if (b->at >= b->len) b->at = b->len; /* cut */
}

static void tnum(tbuf *b, double x, int integer) {
  char t[64];
  if (integer && x == floor(x) && fabs(x) <= TB_HP_INT_LIMIT)
    snprintf(t, sizeof t, "%.0f", x);
  else
    tb_fmt_real(t, sizeof t, x);
  tput(b, "%s", t);
}

static void instance_text(tbuf *b, const tb_instance *in);

static void value_text(tbuf *b, const tb_hparam *h, const tb_value *v, const tb_instance *child) {
  if (tb_value_absent(h, v)) {
    tput(b, "-");
    return;
  }
  const int integer = h->type == TB_HP_INT || (h->flags & TB_HPF_INTEGER);
  switch (h->type) {
  case TB_HP_REAL:
  case TB_HP_INT: tnum(b, v->num, integer); return;
  case TB_HP_BOOL: tput(b, "%s", v->num != 0 ? "true" : "false"); return;
  case TB_HP_CHOICE:
    tput(b, "%s", v->num >= 0 && v->num < n_names(h->choices) ? h->choices[(int)v->num] : "?");
    return;
  case TB_HP_STRING: tput(b, "%s", v->text); return;
  case TB_HP_COMPONENT:
    if (child)
      instance_text(b, child);
    else
      tput(b, "%s", v->text);
    return;
  case TB_HP_RECORD:
    tput(b, "{");
    for (int64_t i = 0; i < v->n; i++) {
      tput(b, "%s%s=", i ? "," : "", h->choices[i]);
      tnum(b, v->list[i], integer);
    }
    tput(b, "}");
    return;
  case TB_HP_MATRIX:
    tput(b, "[");
    for (int64_t r = 0; r < v->rows; r++) {
      tput(b, "%s[", r ? "," : "");
      for (int64_t c = 0; c < v->cols; c++) {
        if (c) tput(b, ",");
        tnum(b, v->list[r * v->cols + c], integer);
      }
      tput(b, "]");
    }
    tput(b, "]");
    return;
  default:
    tput(b, "[");
    for (int64_t i = 0; i < v->n; i++) {
      if (i) tput(b, ",");
      tnum(b, v->list[i], integer);
    }
    tput(b, "]");
  }
}

/* name(k=v,...) with what differs from the defaults */
static void instance_text(tbuf *b, const tb_instance *in) {
  tput(b, "%s", in->comp->name);
  int first = 1;
  for (int i = 0; i < in->n; i++) {
    const tb_hparam *h = &in->comp->hparams[i];
    if (tb_value_is_default(h, &in->values[i]) || (h->flags & TB_HPF_NOT_IDENTITY)) continue;
    if (h->type == TB_HP_COMPONENT && in->child[i] && h->def_text &&
        strcmp(in->child[i]->comp->name, h->def_text) == 0 &&
        tb_instance_is_default(in->child[i]))
      continue; /* the default base at its defaults says nothing */
    tput(b, "%s%s=", first ? "(" : ",", h->name);
    value_text(b, h, &in->values[i], in->child[i]);
    first = 0;
  }
  if (!first) tput(b, ")");
}

char *tb_hp_value_text(const tb_hparam *h, const tb_value *v, const tb_instance *child,
                       char *out, size_t len) {
  if (!len) return out;
  out[0] = 0;
  tbuf b = {out, len, 0};
  value_text(&b, h, v, child);
  return out;
}

char *tb_component_label(const tb_component *c, char *out, size_t len) {
  switch (c->kind) {
  case TB_KIND_DATASET: snprintf(out, len, "tb.data.%s", c->name); break;
  case TB_KIND_MODEL: snprintf(out, len, "tb.model.%s", c->name); break;
  case TB_KIND_CORRUPTION: snprintf(out, len, "tb.corruption.%s", c->name); break;
  case TB_KIND_TRANSFORM: snprintf(out, len, "tb.transform.%s", c->name); break;
  case TB_KIND_REDUCTION: snprintf(out, len, "tb.reduction.%s", c->name); break;
  default: snprintf(out, len, "%s '%s'", tb_kind_name(c->kind), c->name);
  }
  return out;
}

/* ---- tables ------------------------------------------------------------------------ */

static int check_row(const tb_hparam *h, int core, char *err, size_t errlen) {
  const uint32_t allowed = TB_HPF_PLUGIN_FLAGS | (core ? TB_HPF_OPTIONAL | TB_HPF_NOT_IDENTITY : 0);
  if (h->type < TB_HP_REAL || h->type > TB_HP_COMPONENT) {
    tb_errf(err, errlen, "hyperparameter '%s' has unknown type %d", h->name, h->type);
    return -1;
  }
  if (h->flags & ~allowed) {
    tb_errf(err, errlen, "hyperparameter '%s' has unknown flags %#x", h->name,
            (unsigned)(h->flags & ~allowed));
    return -1;
  }
  if ((h->flags & TB_HPF_REQUIRED) && (h->flags & TB_HPF_OPTIONAL)) {
    tb_errf(err, errlen, "hyperparameter '%s' is both required and optional", h->name);
    return -1;
  }
  if ((h->flags & TB_HPF_K) && h->type != TB_HP_LIST && h->type != TB_HP_MATRIX) {
    tb_errf(err, errlen, "hyperparameter '%s': only a list or a matrix can be K-sized", h->name);
    return -1;
  }
  if ((h->flags & TB_HPF_INTEGER) && !has_list(h->type)) {
    tb_errf(err, errlen, "hyperparameter '%s': the integer flag is for lists, records and "
            "matrices (use the int type)", h->name);
    return -1;
  }
  if (h->type == TB_HP_CHOICE && n_names(h->choices) == 0) {
    tb_errf(err, errlen, "choice '%s' lists no options", h->name);
    return -1;
  }
  if (h->type == TB_HP_RECORD) {
    const int nf = n_names(h->choices);
    if (nf == 0 || nf > TB_HP_MAX_FIELDS) {
      tb_errf(err, errlen, "record '%s' lists %d fields (1 to %d)", h->name, nf,
              TB_HP_MAX_FIELDS);
      return -1;
    }
    for (int i = 0; i < nf; i++) {
      if (!identifier(h->choices[i])) {
        tb_errf(err, errlen, "record '%s': field #%d has no valid name", h->name, i + 1);
        return -1;
      }
      for (int j = 0; j < i; j++)
        if (strcmp(h->choices[i], h->choices[j]) == 0) {
          tb_errf(err, errlen, "record '%s': field '%s' is listed twice", h->name, h->choices[i]);
          return -1;
        }
    }
  }
  if ((h->type == TB_HP_REAL || h->type == TB_HP_INT || has_list(h->type)) &&
      !(h->min <= h->max)) {
    tb_errf(err, errlen, "hyperparameter '%s' has an empty range", h->name);
    return -1;
  }
  if (h->type == TB_HP_LIST &&
      (h->min_n < 0 || h->max_n < 0 || h->min_n > h->max_n || h->max_n > TB_HP_MAX_ELEMENTS)) {
    tb_errf(err, errlen, "list '%s' has a bad length range [%d, %d]", h->name, h->min_n,
            h->max_n);
    return -1;
  }
  if (h->type == TB_HP_COMPONENT &&
      (h->component_kind < TB_KIND_LOSS ||
       h->component_kind > (core ? TB_KIND_MODEL : TB_KIND_SCHEDULE))) {
    tb_errf(err, errlen, "component '%s' names no kind of component (%d)", h->name,
            h->component_kind);
    return -1;
  }
  if (h->type == TB_HP_COMPONENT) {
    if (!h->def_text && !(h->flags & TB_HPF_REQUIRED)) {
      tb_errf(err, errlen, "component '%s' has no default component and is not required",
              h->name);
      return -1;
    }
    return 0;
  }
  if ((h->flags & TB_HPF_REQUIRED) && is_scalar(h->type)) {
    /* no default, but `def` is the example probes and checks use */
    tb_value ex = {.num = h->def};
    char msg[TB_ERRLEN];
    if (tb_value_check(h, &ex, -1, msg, sizeof msg)) {
      tb_errf(err, errlen, "example value (def) of required %s", msg);
      return -1;
    }
    return 0;
  }
  if (h->flags & (TB_HPF_REQUIRED | TB_HPF_OPTIONAL)) return 0; /* no default to check */
  if (h->type == TB_HP_STRING && !h->def_text) {
    tb_errf(err, errlen, "string '%s' has no default (mark it required)", h->name);
    return -1;
  }
  if (has_list(h->type)) {
    if (h->def_n < 0 || h->def_n > TB_HP_MAX_ELEMENTS || (h->def_n > 0 && !h->def_list) ||
        (h->type == TB_HP_MATRIX &&
         (h->def_n > 0 ? h->def_cols <= 0 || h->def_n % h->def_cols != 0 : h->def_cols != 0))) {
      tb_errf(err, errlen, "%s '%s' has a malformed default (%d elements, %d columns)",
              tb_hp_type_name(h->type), h->name, h->def_n, h->def_cols);
      return -1;
    }
  }
  tb_value d;
  tb_value_default(h, &d);
  char msg[TB_ERRLEN];
  if (tb_value_check(h, &d, -1, msg, sizeof msg)) {
    tb_errf(err, errlen, "default of %s", msg);
    return -1;
  }
  return 0;
}

int tb_hparam_table_check(const tb_hparam *h, int n, int core, char *err, size_t errlen) {
  if (n < 0 || n > TB_MAX_HP || (n > 0 && !h)) {
    tb_errf(err, errlen, "bad hyperparameter count %d (at most %d)", n, TB_MAX_HP);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    if (!identifier(h[i].name)) {
      tb_errf(err, errlen, "hyperparameter #%d has no valid name (a lowercase identifier)", i + 1);
      return -1;
    }
    for (int j = 0; j < i; j++)
      if (strcmp(h[j].name, h[i].name) == 0) {
        tb_errf(err, errlen, "hyperparameter '%s' is declared twice", h[i].name);
        return -1;
      }
    if (check_row(&h[i], core, err, errlen)) return -1;
  }
  return 0;
}

/* ---- instances ------------------------------------------------------------------------- */

static void value_free(const tb_hparam *h, tb_value *v) {
  if (h->type == TB_HP_STRING) free((char *)v->text);
  if (has_list(h->type)) free((double *)v->list);
  v->text = NULL;
  v->list = NULL;
}

/* A deep copy of v into `to` (the instance owns texts and lists). */
static void value_copy(const tb_hparam *h, tb_value *to, const tb_value *v) {
  *to = *v;
  if (h->type == TB_HP_STRING && v->text) {
    to->text = strdup(v->text);
    if (!to->text) abort();
  }
  if (has_list(h->type) && v->list) {
    double *l = malloc(sizeof(double) * (size_t)(v->n > 0 ? v->n : 1));
    if (!l) abort();
    if (v->n > 0) memcpy(l, v->list, sizeof(double) * (size_t)v->n);
    to->list = l;
  }
  if (h->type == TB_HP_CHOICE)
    to->text = v->num >= 0 && v->num < n_names(h->choices) ? h->choices[(int)v->num] : NULL;
  if (!is_scalar(h->type)) to->num = NAN;
}

/* One allocation: the struct, then values, hp and child pointers. */
static tb_instance *instance_alloc(const tb_component *c) {
  const int n = c->n_hparams;
  size_t size = sizeof(tb_instance) + (size_t)n * (sizeof(double) + sizeof(tb_value) +
                                                   sizeof(tb_instance *));
  tb_instance *in = calloc(1, size);
  if (!in) abort();
  in->comp = c;
  in->n = n;
  in->refs = 1;
  in->values = (tb_value *)(in + 1);
  in->hp = (double *)(in->values + n);
  in->child = (tb_instance **)(in->hp + n);
  return in;
}

tb_instance *tb_instance_ref(tb_instance *in) {
  if (in) in->refs++;
  return in;
}

void tb_instance_unref(tb_instance *in) {
  if (!in || --in->refs > 0) return;
  for (int i = 0; i < in->n; i++) {
    value_free(&in->comp->hparams[i], &in->values[i]);
    tb_instance_unref(in->child[i]);
  }
  free(in);
}

/* Defaults nest (a wrapper's default base may wrap a default base of its
 * own); a chain this deep is a component that defaults to itself. */
#define MAX_DEFAULT_DEPTH 16

static tb_instance *instance_new(const tb_registry *reg, const tb_component *c, int depth,
                                 char *err, size_t errlen);

tb_instance *tb_instance_new(const tb_registry *reg, const tb_component *c, char *err,
                             size_t errlen) {
  return instance_new(reg, c, 0, err, errlen);
}

static tb_instance *instance_new(const tb_registry *reg, const tb_component *c, int depth,
                                 char *err, size_t errlen) {
  if (depth > MAX_DEFAULT_DEPTH) {
    char label[160];
    tb_errf(err, errlen, "%s: default components nest more than %d deep (does one default to "
            "itself?)", tb_component_label(c, label, sizeof label), MAX_DEFAULT_DEPTH);
    return NULL;
  }
  tb_instance *in = instance_alloc(c);
  for (int i = 0; i < in->n; i++) {
    const tb_hparam *h = &c->hparams[i];
    tb_value d;
    tb_value_default(h, &d);
    value_copy(h, &in->values[i], &d);
    in->hp[i] = is_scalar(h->type) ? in->values[i].num : NAN;
    if (h->type == TB_HP_COMPONENT && h->def_text) {
      const tb_component *dc = reg ? tb_registry_find(reg, h->component_kind, h->def_text) : NULL;
      char msg[TB_ERRLEN];
      tb_instance *ch = dc ? instance_new(reg, dc, depth + 1, msg, sizeof msg) : NULL;
      if (!ch) {
        char label[160];
        if (dc)
          tb_errf(err, errlen, "%s: '%s': %s", tb_component_label(c, label, sizeof label),
                  h->name, msg);
        else
          tb_errf(err, errlen, "%s: the default of '%s', %s '%s', is not loaded",
                  tb_component_label(c, label, sizeof label), h->name,
                  tb_kind_name(h->component_kind), h->def_text);
        tb_instance_unref(in);
        return NULL;
      }
      in->child[i] = ch;
      in->values[i].text = ch->comp->name;
    }
  }
  return in;
}

tb_instance *tb_instance_copy(const tb_instance *in) {
  tb_instance *out = instance_alloc(in->comp);
  for (int i = 0; i < in->n; i++) {
    const tb_hparam *h = &in->comp->hparams[i];
    value_copy(h, &out->values[i], &in->values[i]);
    out->hp[i] = in->hp[i];
    out->child[i] = tb_instance_ref(in->child[i]);
    if (out->child[i]) out->values[i].text = out->child[i]->comp->name;
  }
  return out;
}

tb_instance *tb_instance_named(const tb_registry *reg, int kind, const char *name, char *err,
                               size_t errlen) {
  const tb_component *c = tb_registry_find(reg, kind, name);
  if (!c) {
    tb_errf(err, errlen, "no %s '%s' is loaded", tb_kind_name(kind), name);
    return NULL;
  }
  return tb_instance_new(reg, c, err, errlen);
}

int tb_instance_at(const tb_instance *in, const char *name) {
  for (int i = 0; i < in->n; i++)
    if (strcmp(in->comp->hparams[i].name, name) == 0) return i;
  return -1;
}

int tb_instance_set(tb_instance *in, int i, const tb_value *v, tb_instance *child, char *err,
                    size_t errlen) {
  if (i < 0 || i >= in->n) {
    tb_errf(err, errlen, "no hyperparameter #%d", i + 1);
    return -1;
  }
  const tb_hparam *h = &in->comp->hparams[i];
  if (in->refs != 1) {
    tb_errf(err, errlen, "'%s': the instance is shared and cannot change", h->name);
    return -1;
  }
  if (h->type == TB_HP_COMPONENT) {
    if (child && child->comp->kind != h->component_kind) {
      tb_errf(err, errlen, "'%s' must be %s %s, got %s '%s'", h->name,
              a_kind(h->component_kind), tb_kind_name(h->component_kind),
              tb_kind_name(child->comp->kind), child->comp->name);
      return -1;
    }
    tb_instance_unref(in->child[i]);
    in->child[i] = tb_instance_ref(child);
    memset(&in->values[i], 0, sizeof in->values[i]);
    in->values[i].num = NAN;
    in->values[i].text = child ? child->comp->name : NULL;
    return 0;
  }
  if (has_list(h->type) && v->list &&
      (v->n < 0 || v->n > TB_HP_MAX_ELEMENTS || v->rows * v->cols != v->n)) {
    tb_errf(err, errlen, "'%s': malformed list (%lld elements, %lld x %lld)", h->name,
            (long long)v->n, (long long)v->rows, (long long)v->cols);
    return -1;
  }
  tb_value old = in->values[i];
  value_copy(h, &in->values[i], v);
  value_free(h, &old);
  in->hp[i] = is_scalar(h->type) ? in->values[i].num : NAN;
  return 0;
}

static int index_of(const tb_instance *in, const char *name, char *err, size_t errlen) {
  int i = tb_instance_at(in, name);
  if (i < 0) {
    char label[160];
    tb_errf(err, errlen, "%s has no hyperparameter '%s'",
            tb_component_label(in->comp, label, sizeof label), name);
  }
  return i;
}

int tb_instance_set_num(tb_instance *in, const char *name, double x, char *err, size_t errlen) {
  int i = index_of(in, name, err, errlen);
  if (i < 0) return -1;
  if (!is_scalar(in->comp->hparams[i].type)) {
    tb_errf(err, errlen, "'%s' is a %s, not a number", name,
            tb_hp_type_name(in->comp->hparams[i].type));
    return -1;
  }
  tb_value v = {.num = x};
  return tb_instance_set(in, i, &v, NULL, err, errlen);
}

int tb_instance_set_text(tb_instance *in, const char *name, const char *text, char *err,
                         size_t errlen) {
  int i = index_of(in, name, err, errlen);
  if (i < 0) return -1;
  const tb_hparam *h = &in->comp->hparams[i];
  tb_value v = {.num = NAN, .text = text};
  if (h->type == TB_HP_CHOICE) {
    v.num = -1;
    for (int j = 0; h->choices[j]; j++)
      if (text && strcmp(h->choices[j], text) == 0) v.num = j;
    if (v.num < 0) {
      tb_errf(err, errlen, "'%s' has no option '%s'", name, text ? text : "(null)");
      return -1;
    }
  } else if (h->type != TB_HP_STRING) {
    tb_errf(err, errlen, "'%s' is a %s, not a text", name, tb_hp_type_name(h->type));
    return -1;
  }
  return tb_instance_set(in, i, &v, NULL, err, errlen);
}

int tb_instance_set_list(tb_instance *in, const char *name, const double *x, int64_t rows,
                         int64_t cols, char *err, size_t errlen) {
  int i = index_of(in, name, err, errlen);
  if (i < 0) return -1;
  if (!has_list(in->comp->hparams[i].type)) {
    tb_errf(err, errlen, "'%s' is a %s, not a list", name,
            tb_hp_type_name(in->comp->hparams[i].type));
    return -1;
  }
  static const double none[1] = {0};
  tb_value v = {.num = NAN, .list = x ? x : none, .n = rows * cols, .rows = rows, .cols = cols};
  return tb_instance_set(in, i, &v, NULL, err, errlen);
}

int tb_instance_set_child(tb_instance *in, const char *name, tb_instance *child, char *err,
                          size_t errlen) {
  int i = index_of(in, name, err, errlen);
  if (i < 0) return -1;
  if (in->comp->hparams[i].type != TB_HP_COMPONENT) {
    tb_errf(err, errlen, "'%s' is a %s, not a component", name,
            tb_hp_type_name(in->comp->hparams[i].type));
    return -1;
  }
  return tb_instance_set(in, i, NULL, child, err, errlen);
}

int tb_instance_check(const tb_instance *in, int k, char *err, size_t errlen) {
  const tb_component *c = in->comp;
  char label[160], msg[TB_ERRLEN];
  tb_component_label(c, label, sizeof label);
  for (int i = 0; i < in->n; i++) {
    const tb_hparam *h = &c->hparams[i];
    const tb_value *v = &in->values[i];
    if (tb_value_absent(h, v)) {
      if (h->flags & TB_HPF_OPTIONAL) continue;
      tb_errf(err, errlen, "%s: missing key '%s'", label, h->name);
      return -1;
    }
    if (tb_value_check(h, v, k, msg, sizeof msg)) {
      tb_errf(err, errlen, "%s: %s", label, msg);
      return -1;
    }
    if (h->type == TB_HP_COMPONENT) {
      if (!in->child[i] || in->child[i]->comp->kind != h->component_kind) {
        tb_errf(err, errlen, "%s: '%s' must be %s %s", label, h->name,
                a_kind(h->component_kind), tb_kind_name(h->component_kind));
        return -1;
      }
      if (tb_instance_check(in->child[i], k, msg, sizeof msg)) {
        tb_errf(err, errlen, "%s: '%s': %s", label, h->name, msg);
        return -1;
      }
    }
  }
  if (c->validate) {
    msg[0] = 0;
    if (c->validate(in->values, k, msg, sizeof msg)) {
      tb_errf(err, errlen, "%s: %s", label,
              msg[0] ? msg : "invalid combination of hyperparameters");
      return -1;
    }
  }
  return 0;
}

int tb_instance_same(const tb_instance *a, const tb_instance *b) {
  if (a == b) return 1;
  if (!a || !b || a->comp->kind != b->comp->kind || strcmp(a->comp->name, b->comp->name) != 0 ||
      strcmp(a->comp->version, b->comp->version) != 0 || a->n != b->n)
    return 0;
  for (int i = 0; i < a->n; i++)
    if (!tb_value_equal(&a->comp->hparams[i], &a->values[i], &b->values[i], a->child[i],
                        b->child[i]))
      return 0;
  return 1;
}

int tb_instance_is_default(const tb_instance *in) {
  for (int i = 0; i < in->n; i++)
    if (!tb_value_is_default(&in->comp->hparams[i], &in->values[i])) return 0;
  return 1;
}

const tb_value *tb_instance_value(const tb_instance *in, const char *name) {
  int i = tb_instance_at(in, name);
  return i < 0 ? NULL : &in->values[i];
}

double tb_instance_num(const tb_instance *in, const char *name) {
  int i = tb_instance_at(in, name);
  return i < 0 ? NAN : in->hp[i];
}

/* ---- the scalar views of registry.h ------------------------------------------------ */

/* A required scalar has no default, but probes and checks must drive the
 * plugin with some value: its row's `def`, an example the table check
 * holds to the range (step's `every` of 1 epoch). */
void tb_hparams_defaults(const tb_component *c, double *hp) {
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    tb_value d;
    tb_value_default(h, &d);
    hp[i] = !is_scalar(h->type) ? NAN : (h->flags & TB_HPF_REQUIRED) ? h->def : d.num;
  }
}

int tb_hparam_index(const tb_component *c, const char *name) {
  for (int i = 0; i < c->n_hparams; i++)
    if (strcmp(c->hparams[i].name, name) == 0) return i;
  return -1;
}

void tb_hparams_values(const tb_component *c, const double *hp, tb_value *out) {
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    tb_value_default(h, &out[i]);
    if (is_scalar(h->type)) {
      out[i].num = hp[i];
      out[i].text = h->type == TB_HP_CHOICE && hp[i] >= 0 && hp[i] < n_names(h->choices)
                        ? h->choices[(int)hp[i]]
                        : NULL;
    } else if (h->type == TB_HP_COMPONENT) {
      out[i].text = h->def_text; /* the base by name; its instance is not built here */
    }
  }
}

int tb_hparams_check(const tb_component *c, const double *hp, int k, char *err, size_t errlen) {
  char msg[TB_ERRLEN], label[160];
  tb_value values[TB_MAX_HP];
  tb_hparams_values(c, hp, values);
  tb_component_label(c, label, sizeof label);
  for (int i = 0; i < c->n_hparams; i++)
    if (tb_value_check(&c->hparams[i], &values[i], k, msg, sizeof msg)) {
      tb_errf(err, errlen, "%s: %s", label, msg);
      return -1;
    }
  if (c->validate) {
    msg[0] = 0;
    if (c->validate(values, k, msg, sizeof msg)) {
      tb_errf(err, errlen, "%s: %s", label,
              msg[0] ? msg : "invalid combination of hyperparameters");
      return -1;
    }
  }
  return 0;
}
