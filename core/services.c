/*
 * services.c — the run-time services the trainer and the checker share
 * (see services.h): loss-owned tensors and report's names and sampling.
 *
 * Provides: tb_loss_tensors_add, tb_loss_tensors_free, tb_loss_tensors_zero,
 * tb_loss_tensors_ascent, tb_loss_tensors_project, tb_series_name_check,
 * tb_reports_init, tb_reports_add, tb_reports_drain.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services.h"
#include "trainbench/plugin.h"
#include "util.h"

/* ---- names ------------------------------------------------------------------ */

/* 0 if s is dot-separated [a-z][a-z0-9_]* parts of at most `max` characters
 * in all (read no further than max + 1 characters: s may be unterminated
 * garbage); else 1 with the reason. */
static int dotted_name_check(const char *s, size_t max, char *why, size_t whylen) {
  if (!s) {
    tb_errf(why, whylen, "the name is NULL");
    return 1;
  }
  size_t n = strnlen(s, max + 1);
  if (n == 0) {
    tb_errf(why, whylen, "the name is empty");
    return 1;
  }
  if (n > max) {
    tb_errf(why, whylen, "'%.*s...' is longer than %zu characters", (int)max, s, max);
    return 1;
  }
  int start = 1; /* at the start of a part */
  for (size_t i = 0; i < n; i++) {
    const char c = s[i];
    const int lower = c >= 'a' && c <= 'z';
    const int digit = c >= '0' && c <= '9';
    if (start && !lower) {
      tb_errf(why, whylen,
              "'%s' is not a lowercase identifier with dots (each part starts with a-z)", s);
      return 1;
    }
    if (c == '.') {
      start = 1;
      continue;
    }
    if (!lower && !digit && c != '_') {
      tb_errf(why, whylen, "'%s' is not a lowercase identifier with dots (character '%c')", s,
              c);
      return 1;
    }
    start = 0;
  }
  if (start) {
    tb_errf(why, whylen, "'%s' ends with a dot", s);
    return 1;
  }
  return 0;
}

int tb_series_name_check(const char *name, char *why, size_t whylen) {
  if (dotted_name_check(name, 31, why, whylen)) return 1;
  if (strncmp(name, "train.", 6) == 0) {
    tb_errf(why, whylen, "'%s' is in the core's own namespace 'train.'", name);
    return 1;
  }
  return 0;
}

/* ---- loss-owned tensors ------------------------------------------------------ */

static int refuse(tb_loss_tensors *lt, const char *name, const char *why) {
  if (!lt->err[0])
    tb_errf(lt->err, sizeof lt->err, "loss '%s': add_tensor '%.40s': %s",
            lt->loss ? lt->loss : "?", name ? name : "(null)", why);
  return -1;
}

int tb_loss_tensors_add(tb_loss_tensors *lt, const char *name, int ndim, const int64_t *shape,
                        double value, uint32_t flags) {
  char why[200];
  if (!lt->open) return refuse(lt, name, "called outside the loss's create");
  if (dotted_name_check(name, 31, why, sizeof why)) return refuse(lt, name, why);
  for (int i = 0; i < lt->n; i++)
    if (strcmp(lt->names[i] + 5, name) == 0) return refuse(lt, name, "added twice");
  if (lt->n == TB_MAX_LOSS_TENSORS) {
    snprintf(why, sizeof why, "more than %d tensors", TB_MAX_LOSS_TENSORS);
    return refuse(lt, name, why);
  }
  if (ndim < 0 || ndim > 4) {
    snprintf(why, sizeof why, "ndim %d is outside 0..4", ndim);
    return refuse(lt, name, why);
  }
  if (ndim > 0 && !shape) return refuse(lt, name, "the shape is NULL");
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 1 || shape[d] > TB_MAX_LOSS_TENSOR_NUMEL ||
        numel > TB_MAX_LOSS_TENSOR_NUMEL / shape[d]) {
      snprintf(why, sizeof why,
               "shape entry %lld at dimension %d: each must be >= 1, and the tensor at most "
               "%lld elements",
               (long long)shape[d], d, (long long)TB_MAX_LOSS_TENSOR_NUMEL);
      return refuse(lt, name, why);
    }
    numel *= shape[d];
  }
  if (numel > TB_MAX_LOSS_TENSOR_NUMEL - lt->total) {
    snprintf(why, sizeof why, "the loss's tensors would exceed %lld elements",
             (long long)TB_MAX_LOSS_TENSOR_NUMEL);
    return refuse(lt, name, why);
  }
  if (!isfinite(value)) return refuse(lt, name, "the initial value is not finite");
  if (flags & ~(uint32_t)TB_LOSS_TENSOR_FLAGS) {
    snprintf(why, sizeof why, "unknown flags %#x", flags & ~(uint32_t)TB_LOSS_TENSOR_FLAGS);
    return refuse(lt, name, why);
  }
  if ((flags & TB_TENSOR_NONNEG) && value < 0)
    return refuse(lt, name, "TB_TENSOR_NONNEG with a negative initial value");
  float *mem = calloc((size_t)numel * 3, sizeof(float));
  if (!mem) return refuse(lt, name, "out of memory");
  const int i = lt->n++;
  lt->total += numel;
  snprintf(lt->names[i], sizeof lt->names[i], "loss.%s", name);
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = lt->names[i];
  t.numel = numel;
  t.ndim = ndim;
  for (int d = 0; d < ndim; d++) t.shape[d] = shape[d];
  t.layer = -1;
  t.role = TB_ROLE_LOSS;
  t.flags = flags | TB_TENSOR_NO_DECAY;
  lt->live[i] = lt->grad[i] = lt->scratch[i] = t;
  lt->live[i].data = mem;
  lt->grad[i].data = mem + numel;
  lt->scratch[i].data = mem + 2 * numel;
  for (int64_t j = 0; j < numel; j++) mem[j] = (float)value;
  return i;
}

void tb_loss_tensors_free(tb_loss_tensors *lt) {
  for (int i = 0; i < lt->n; i++) free(lt->live[i].data); /* one allocation per tensor */
  lt->n = 0;
  lt->total = 0;
}

void tb_loss_tensors_zero(tb_tensor *arr, int n) {
  for (int i = 0; i < n; i++) memset(arr[i].data, 0, sizeof(float) * (size_t)arr[i].numel);
}

void tb_loss_tensors_ascent(const tb_loss_tensors *lt, tb_tensor *g) {
  for (int i = 0; i < lt->n; i++) {
    if (!(lt->live[i].flags & TB_TENSOR_ASCENT)) continue;
    float *x = g[i].data;
    for (int64_t j = 0; j < lt->live[i].numel; j++) x[j] = -x[j];
  }
}

void tb_loss_tensors_project(tb_loss_tensors *lt) {
  for (int i = 0; i < lt->n; i++) {
    if (!(lt->live[i].flags & TB_TENSOR_NONNEG)) continue;
    float *x = lt->live[i].data;
    for (int64_t j = 0; j < lt->live[i].numel; j++)
      if (x[j] < 0) x[j] = 0.0f;
  }
}

/* ---- report --------------------------------------------------------------------- */

void tb_reports_init(tb_reports *r, int64_t every) {
  memset(r, 0, sizeof *r);
  r->every = every < 1 ? 1 : every;
}

int tb_reports_add(tb_reports *r, int kind, const char *comp, const char *name, int64_t step,
                   double value, char *err, size_t errlen) {
  const char *kname = kind == TB_KIND_LOSS ? "loss" : "optimizer";
  char why[160];
  r->calls++;
  if (tb_series_name_check(name, why, sizeof why)) {
    tb_errf(err, errlen, "%s '%s' reported a series with a bad name: %s", kname, comp, why);
    return 1;
  }
  tb_report_series *s = NULL;
  for (int i = 0; i < r->n && !s; i++)
    if (strcmp(r->s[i].name, name) == 0) s = &r->s[i];
  if (s && s->kind != kind) {
    tb_errf(err, errlen, "%s '%s' reported series '%s', which the %s reports too", kname, comp,
            name, s->kind == TB_KIND_LOSS ? "loss" : "optimizer");
    return 1;
  }
  if (!s) {
    if (r->n == TB_MAX_REPORT_SERIES) {
      tb_errf(err, errlen, "%s '%s' reported series '%s': a run keeps at most %d series names",
              kname, comp, name, TB_MAX_REPORT_SERIES);
      return 1;
    }
    s = &r->s[r->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = kind;
    s->next = r->every;
  }
  if (s->pending && s->step == step) {
    s->value = value; /* the same step again: its last value */
  } else if (step >= s->next) {
    s->pending = 1;
    s->step = step;
    s->value = value;
    s->next = step + r->every;
  }
  return 0;
}

void tb_reports_drain(tb_reports *r, tb_run_result *res) {
  for (int i = 0; i < r->n; i++) {
    tb_report_series *s = &r->s[i];
    if (!s->announced) {
      tb_result_set_series_every(res, s->name, r->every);
      s->announced = 1;
    }
    if (!s->pending) continue;
    tb_result_add_series(res, s->name, s->step, s->value);
    s->pending = 0;
  }
}
