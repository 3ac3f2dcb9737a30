/*
 * services.h — the run-time parts of the plugin ABI that the trainer
 * (train.c) and the checker's instances (probe.c) share, so that a plugin is
 * held to the same rules in a run and in `trainbench check` (services.c):
 *
 *   - loss-owned trainable tensors (tb_loss_init.add_tensor): their checks,
 *     storage, the "loss." names the optimizer sees, the ASCENT negation and
 *     the NONNEG projection;
 *   - report (TB_SERVICE_REPORT): the series names a plugin may use, and
 *     the sampling that keeps a run's reported points bounded.
 *
 * Everything is allocated when a loss is created (add_tensor) or not at all:
 * the per-step calls below allocate nothing.
 *
 * Provides: tb_loss_tensors_add, tb_loss_tensors_free, tb_loss_tensors_zero,
 * tb_loss_tensors_ascent, tb_loss_tensors_project, tb_series_name_check,
 * tb_reports_init, tb_reports_add, tb_reports_drain.
 */
#ifndef TB_SERVICES_H
#define TB_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "trainbench/plugin.h"
#include "util.h"

/* ---- loss-owned tensors --------------------------------------------------- */

/* Tensors one loss may add; elements over all of them. */
#define TB_MAX_LOSS_TENSORS 8
#define TB_MAX_LOSS_TENSOR_NUMEL (INT64_C(1) << 24)
#define TB_LOSS_TENSOR_FLAGS (TB_TENSOR_NO_DECAY | TB_TENSOR_ASCENT | TB_TENSOR_NONNEG)

typedef struct tb_loss_tensors {
  int n;
  int open;                 /* add_tensor is allowed (during the loss's create only) */
  const char *loss;         /* the loss's name, for messages */
  /* three views of each tensor, same name, shape, layer -1, role TB_ROLE_LOSS
   * and flags; data [numel] each: */
  tb_tensor live[TB_MAX_LOSS_TENSORS];    /* the values the optimizer steps */
  tb_tensor grad[TB_MAX_LOSS_TENSORS];    /* d(mean loss)/d tensor of the training step */
  tb_tensor scratch[TB_MAX_LOSS_TENSORS]; /* dtensors of calls whose gradient nobody reads */
  char names[TB_MAX_LOSS_TENSORS][40];    /* "loss.<name>" */
  int64_t total;            /* elements over all tensors */
  char err[TB_ERRLEN];      /* the first refused call, naming the loss; "" if none */
} tb_loss_tensors;

/* add_tensor's work: check the call (open, a lowercase name of at most 31
 * characters not used before, 0 <= ndim <= 4, shape entries >= 1, sizes
 * within TB_MAX_LOSS_TENSOR_NUMEL, a finite value, >= 0 if NONNEG, flags
 * among TB_LOSS_TENSOR_FLAGS), allocate its three views, fill `live` with
 * value, and set TB_TENSOR_NO_DECAY (weight decay on a temperature or a dual
 * variable is a regularizer nobody asked for). ndim 0 is a scalar (numel 1).
 * The index, or -1 with lt->err set (the first refusal is kept). */
int tb_loss_tensors_add(tb_loss_tensors *lt, const char *name, int ndim, const int64_t *shape,
                        double value, uint32_t flags);
void tb_loss_tensors_free(tb_loss_tensors *lt);
/* Zero the data of n tensors of an array with stride sizeof(tb_tensor). */
void tb_loss_tensors_zero(tb_tensor *arr, int n);
/* Negate, in g (n = lt->n tensors of lt's shapes, stride sizeof(tb_tensor)),
 * the gradients of the TB_TENSOR_ASCENT tensors: descent on them is ascent. */
void tb_loss_tensors_ascent(const tb_loss_tensors *lt, tb_tensor *g);
/* Project the live values of TB_TENSOR_NONNEG tensors onto >= 0 (a NaN
 * stays NaN, so a diverging dual still shows as diverged). */
void tb_loss_tensors_project(tb_loss_tensors *lt);

/* ---- report ---------------------------------------------------------------- */

/* 0 if `name` can name a series: a lowercase identifier, dot-separated
 * ([a-z][a-z0-9_]* parts), at most 31 characters (the worker protocol and
 * the store keep 31), outside the core's own "train." namespace; else 1 with
 * the reason in why. */
int tb_series_name_check(const char *name, char *why, size_t whylen);

/* Names a run's plugins may report, over the loss and the optimizer. */
#define TB_MAX_REPORT_SERIES 16

typedef struct tb_report_series {
  char name[32];
  int kind;          /* TB_KIND_LOSS or TB_KIND_OPTIMIZER: who reports it */
  int64_t next;      /* the first step whose point is kept next */
  int pending;       /* a kept point waits for tb_reports_drain */
  int announced;     /* its interval is in the result's series_info */
  int64_t step;
  double value;
} tb_report_series;

/*
 * The points a run's plugins report. Each name keeps at most one point per
 * `every` steps (the interval of the core's own train.loss series): a report
 * is kept when its step is at least `next`, and `next` then moves to step +
 * every; a second report of a name in the step of its kept point replaces
 * its value; every other report is dropped. A plugin reporting every step
 * of a long run keeps about as many points as train.loss (~200), whatever
 * the run's length. Only the kept points reach the run's result.
 */
typedef struct tb_reports {
  int n;
  int64_t every;
  int64_t calls;     /* reports received, kept or not */
  tb_report_series s[TB_MAX_REPORT_SERIES];
} tb_reports;

void tb_reports_init(tb_reports *r, int64_t every);
/* A report of component (kind, comp) at `step`: 0, or 1 with a message
 * naming the component in err (a bad name, a name the other component
 * reports, more than TB_MAX_REPORT_SERIES names). Allocates nothing. */
int tb_reports_add(tb_reports *r, int kind, const char *comp, const char *name, int64_t step,
                   double value, char *err, size_t errlen);
/* Move the kept points into res (a series point each, and the interval of
 * each name the first time it appears). */
void tb_reports_drain(tb_reports *r, tb_run_result *res);

#endif /* TB_SERVICES_H */
