/*
 * util.c — small shared helpers of the core: error formatting, the clocks,
 * status names and the growing arrays of a run's result.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

void tb_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double tb_now_mono(void) { return clock_seconds(CLOCK_MONOTONIC); }
double tb_now_wall(void) { return clock_seconds(CLOCK_REALTIME); }

const char *tb_status_name(int status) {
  switch (status) {
  case TB_RUN_COMPLETE: return "complete";
  case TB_RUN_DIVERGED: return "diverged";
  case TB_RUN_CRASHED: return "crashed";
  case TB_RUN_TIMEOUT: return "timeout";
  case TB_RUN_FAILED: return "failed";
  }
  return "unknown";
}


void tb_result_add_epoch_time(tb_run_result *r, double seconds) {
  if (r->n_epoch_times == r->cap_epoch_times) {
    r->cap_epoch_times = r->cap_epoch_times ? 2 * r->cap_epoch_times : 32;
    r->epoch_seconds = realloc(r->epoch_seconds, sizeof(double) * (size_t)r->cap_epoch_times);
    if (!r->epoch_seconds) abort();
  }
  r->epoch_seconds[r->n_epoch_times++] = seconds;
}

/* Grow an array of `size`-byte elements to hold one more. */
static void *grow(void *a, int n, int *cap, size_t size) {
  if (n < *cap) return a;
  *cap = *cap ? 2 * *cap : 32;
  a = realloc(a, size * (size_t)*cap);
  if (!a) abort();
  return a;
}

int tb_name_valid(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f) return 0;
  return 1;
}

/* The result's copy of a name, made the first time it is seen: the rows of
 * an evaluation after the first allocate nothing for their names. The
 * search starts where the last name of its kind was found (*hint): splits
 * repeat and metric names come round in the same order each epoch, so most
 * lookups of a run's thousands compare one or two names. */
static const char *intern(tb_run_result *r, const char *s, int *hint) {
  for (int k = 0, i = *hint; k < r->n_names; k++, i = i + 1 < r->n_names ? i + 1 : 0)
    if (strcmp(r->names[i], s) == 0) {
      *hint = i;
      return r->names[i];
    }
  r->names = grow(r->names, r->n_names, &r->cap_names, sizeof *r->names);
  char *c = strdup(s);
  if (!c) abort();
  *hint = r->n_names;
  return r->names[r->n_names++] = c;
}

void tb_result_add_metric(tb_run_result *r, int epoch, const char *split, const char *name,
                          double value) {
  if (r->n_metrics == r->cap_metrics) { /* grow() starts smaller */
    r->cap_metrics = r->cap_metrics ? 2 * r->cap_metrics : 64;
    r->metrics = realloc(r->metrics, sizeof(tb_metric) * (size_t)r->cap_metrics);
    if (!r->metrics) abort();
  }
  const char *sp = intern(r, split, &r->name_hint[0]);
  r->metrics[r->n_metrics++] = (tb_metric){epoch, sp, intern(r, name, &r->name_hint[1]), value};
}

void tb_result_add_confusion(tb_run_result *r, int epoch, const char *split, int true_class,
                             int pred_class, int64_t count) {
  r->confusion = grow(r->confusion, r->n_confusion, &r->cap_confusion, sizeof *r->confusion);
  r->confusion[r->n_confusion++] =
      (tb_confusion_cell){epoch, intern(r, split, &r->name_hint[0]), true_class, pred_class,
                          count};
}

void tb_result_add_calibration(tb_run_result *r, int epoch, const char *split, int bin,
                               int64_t count, int64_t correct, double confidence) {
  r->calibration =
      grow(r->calibration, r->n_calibration, &r->cap_calibration, sizeof *r->calibration);
  r->calibration[r->n_calibration++] =
      (tb_calibration_bin){epoch, intern(r, split, &r->name_hint[0]), bin, count, correct,
                           confidence};
}

void tb_result_add_series(tb_run_result *r, const char *name, int64_t step, double value) {
  r->series = grow(r->series, r->n_series, &r->cap_series, sizeof *r->series);
  tb_series_point *p = &r->series[r->n_series++];
  /* as snprintf "%s" would, cut to the 31 bytes the name holds, without
   * printf's cost for each of a run's hundreds of points */
  size_t len = strnlen(name, sizeof p->name - 1);
  memcpy(p->name, name, len);
  p->name[len] = 0;
  p->step = step;
  p->value = value;
}

static void set_named(tb_named_value **a, int *n, int *cap, const char *name, double value) {
  for (int i = 0; i < *n; i++)
    if (strncmp((*a)[i].name, name, sizeof (*a)[i].name - 1) == 0) {
      (*a)[i].value = value;
      return;
    }
  *a = grow(*a, *n, cap, sizeof **a);
  tb_named_value *v = &(*a)[(*n)++];
  snprintf(v->name, sizeof v->name, "%s", name);
  v->value = value;
}

void tb_result_set_series_every(tb_run_result *r, const char *name, int64_t every) {
  set_named(&r->series_every, &r->n_series_every, &r->cap_series_every, name, (double)every);
}

void tb_result_set_counter(tb_run_result *r, const char *name, double value) {
  set_named(&r->counters, &r->n_counters, &r->cap_counters, name, value);
}

void tb_result_free(tb_run_result *r) {
  free(r->metrics);
  for (int i = 0; i < r->n_names; i++) free(r->names[i]);
  free(r->names);
  free(r->confusion);
  free(r->calibration);
  free(r->epoch_seconds);
  free(r->series);
  free(r->series_every);
  free(r->counters);
  memset(r, 0, sizeof *r);
}
