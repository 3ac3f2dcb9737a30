/*
 * util.h — what every file of the core needs: the version and limit macros,
 * error formatting, the clocks, run statuses and the result of one run as a
 * worker reports it (util.c).
 *
 * Conventions of the core: functions return 0 on success and non-zero on
 * failure, writing a lowercase message without a trailing period into (err,
 * errlen). Only main.c exits. Plugins never see the core's headers (they see
 * trainbench/plugin.h only).
 *
 * Provides: tb_errf, tb_now_mono, tb_now_wall, tb_status_name, tb_name_valid,
 * tb_result_add_metric, tb_result_add_confusion, tb_result_add_calibration,
 * tb_result_add_epoch_time, tb_result_add_series, tb_result_set_series_every,
 * tb_result_set_counter, tb_result_free.
 */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define TB_VERSION "0.1.0"
#define TB_SCHEMA_VERSION 5
#define TB_ENGINE_VERSION "1" /* bump when the core's training changes the numbers a run produces */
#define TB_ERRLEN 1024
#define TB_MAX_HP 64      /* hyperparameters per component */
#define TB_MAX_HIDDEN 16  /* hidden layers of an mlp */

/* Size limits, checked when a script is loaded (and again where the memory
 * is allocated, for configurations built by hand). They keep every index
 * product of the data and model code far inside int range and a run's
 * memory within a few GiB, so `-j 2` fits on a 24 GiB machine:
 *   TB_MAX_DATA_VALUES  rows x features of a dataset (1 GiB of float32)
 *   TB_MAX_WIDTH        units of one hidden layer
 *   TB_MAX_PARAMS       parameters of a model (1 GiB; grads and optimizer
 *                       state are as large again)
 *   TB_MAX_WORKSPACE    floats of a model's activations and backward scratch
 *                       for the rows of one pass (batch or evaluation chunk) */
#define TB_MAX_DATA_VALUES (INT64_C(1) << 28)
#define TB_MAX_WIDTH 65536
#define TB_MAX_PARAMS (INT64_C(1) << 28)
#define TB_MAX_WORKSPACE (INT64_C(1) << 30)

void tb_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Seconds on the monotonic clock, for durations and deadlines (it never
 * jumps when the system's time is set). */
double tb_now_mono(void);
/* Unix time in seconds, for the timestamps recorded with runs and sweeps. */
double tb_now_wall(void);

/* ------------------------------------------------------------------------ */
/* Results of one run, as the worker reports them to the parent             */
/* ------------------------------------------------------------------------ */

enum tb_status {
  TB_RUN_COMPLETE = 1,
  TB_RUN_DIVERGED = 2,  /* non-finite loss: final, not retried */
  TB_RUN_CRASHED = 3,   /* no end-of-run message (signal, abort, exit, ...) */
  TB_RUN_TIMEOUT = 4,   /* killed after --timeout seconds */
  TB_RUN_FAILED = 5     /* the run refused to start or a plugin reported failure */
};
const char *tb_status_name(int status); /* "complete", "diverged", ... */

/* Split and metric names have no length limit: a result keeps each distinct
 * name once (tb_run_result.names) and its rows point at it. A name is
 * non-empty printable ASCII without spaces (tb_name_valid), so that the
 * worker protocol carries it as one word: "val", "test@fgsm=0.05". */
typedef struct tb_metric {
  int epoch;            /* 0 = before training */
  const char *split;    /* train | val | test | ... */
  const char *name;     /* a metric of the registry (metrics.h) */
  double value;         /* may be NaN or +-inf */
} tb_metric;

/* A non-zero cell of a split's confusion counts at the final epoch. */
typedef struct tb_confusion_cell {
  int epoch;
  const char *split;
  int true_class, pred_class;
  int64_t count;
} tb_confusion_cell;

/* A non-empty confidence bin of a split at the final epoch (metrics.h). */
typedef struct tb_calibration_bin {
  int epoch;
  const char *split;
  int bin;
  int64_t count, correct;
  double confidence;    /* mean max_k p_k of its rows (NaN when not finite) */
} tb_calibration_bin;

/* A point of a per-step series ("train.loss" at step 120), or a named counter. */
typedef struct tb_series_point {
  char name[32];
  int64_t step;         /* optimizer steps done when measured (1 = after the first) */
  double value;
} tb_series_point;

typedef struct tb_named_value {
  char name[32];
  double value;         /* a counter's value, or a series' sampling interval */
} tb_named_value;

typedef struct tb_run_result {
  int status;           /* enum tb_status */
  char error[TB_ERRLEN];
  double started_at, finished_at; /* unix seconds */
  double wall_seconds;  /* the parent's view: fork to reaping, bookkeeping included */
  double compute_seconds; /* the worker's own: setup, training and evaluation */
  double cpu_seconds;   /* user + system CPU time of the worker process */
  int64_t steps;        /* optimizer steps taken */
  int64_t loss_evals, grad_evals, jvp_evals;
  tb_metric *metrics;
  int n_metrics, cap_metrics;
  char **names;         /* every distinct split and metric name, once */
  int n_names, cap_names;
  int name_hint[2];     /* where the last split [0] and metric [1] name was found */
  tb_confusion_cell *confusion;
  int n_confusion, cap_confusion;
  tb_calibration_bin *calibration;
  int n_calibration, cap_calibration;
  double *epoch_seconds; /* [n_epoch_times] wall time of each training epoch (1-based epochs) */
  int n_epoch_times, cap_epoch_times;
  tb_series_point *series;
  int n_series, cap_series;
  tb_named_value *series_every; /* per series name: every how many steps it is sampled */
  int n_series_every, cap_series_every;
  tb_named_value *counters;
  int n_counters, cap_counters;
} tb_run_result;

/* 1 when s is a valid split or metric name (see tb_metric). */
int tb_name_valid(const char *s);
void tb_result_add_metric(tb_run_result *r, int epoch, const char *split, const char *name,
                          double value);
void tb_result_add_confusion(tb_run_result *r, int epoch, const char *split, int true_class,
                             int pred_class, int64_t count);
void tb_result_add_calibration(tb_run_result *r, int epoch, const char *split, int bin,
                               int64_t count, int64_t correct, double confidence);
void tb_result_add_epoch_time(tb_run_result *r, double seconds);
void tb_result_add_series(tb_run_result *r, const char *name, int64_t step, double value);
void tb_result_set_series_every(tb_run_result *r, const char *name, int64_t every);
/* Set (or overwrite) a named counter. */
void tb_result_set_counter(tb_run_result *r, const char *name, double value);
void tb_result_free(tb_run_result *r);

#endif /* TB_UTIL_H */
