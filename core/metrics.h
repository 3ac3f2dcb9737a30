/*
 * metrics.h — the registry of evaluation metrics (metrics.c): one table
 * declares each metric once — its name, a one-line formula with its
 * source, whether higher is better, the accumulators it needs and how it
 * is finalized from them. The evaluation pass (train.c), the values a run
 * records, the schedule's view of the last evaluation, `trainbench describe
 * metrics` and the README's list (checked by tests/e2e/test_cli.sh) all
 * follow from it.
 *
 * Shapes: B = rows of a chunk, K = classes, N = rows of the split.
 *
 * One pass per split, chunk by chunk, in double: an accumulator is reset,
 * fed chunks of logits [B][K] with their labels (any chunking gives the same
 * counts and, for the sums, the same row order), and read by each metric's
 * finalize. Its confusion counts [K][K] are allocated once, at trainer
 * create; adding rows allocates nothing.
 *
 * Provides: tb_eval_acc_init, tb_eval_acc_free, tb_eval_acc_reset,
 * tb_eval_acc_add, tb_eval_acc_add_loss, tb_eval_acc_set_loss,
 * tb_eval_acc_record, tb_metric_count, tb_metric_at, tb_metric_find,
 * tb_metric_needs, tb_metric_needs_text.
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TB_CAL_BINS 15 /* equal-width confidence bins of ece and mce */

/* What a metric is finalized from (tb_metric_def.needs). */
enum {
  TB_ACC_LOSS = 1,      /* the loss plugin's value on each chunk (fed by the trainer) */
  TB_ACC_SUMS = 2,      /* per-row sums: −log p_y and Σ_k (p_k − [k = y])² */
  TB_ACC_BINS = 4,      /* per confidence bin: rows, Σ max_k p_k, correct rows */
  TB_ACC_CONFUSION = 8  /* counts [true class][predicted class] */
};

typedef struct tb_eval_acc {
  int k;
  double n;                    /* rows */
  double nll, brier;           /* TB_ACC_SUMS */
  double loss_sum;             /* TB_ACC_LOSS: Σ chunk mean × chunk rows */
  double loss_whole;           /* the whole split's value (a loss that is not a mean) */
  int loss_is_whole;
  double bin_n[TB_CAL_BINS], bin_conf[TB_CAL_BINS], bin_acc[TB_CAL_BINS]; /* TB_ACC_BINS */
  int64_t *confusion;          /* [K][K]: row = label, column = first index of the largest logit */
} tb_eval_acc;

/* Allocate the [K][K] counts (once per split, at trainer create); -1 when out of memory. */
int tb_eval_acc_init(tb_eval_acc *a, int k);
void tb_eval_acc_free(tb_eval_acc *a);
/* Zero every accumulator, keeping the allocation. */
void tb_eval_acc_reset(tb_eval_acc *a);
/* Accumulate rows of logits [B][K] (double) with labels y [B]; prob_scratch [K]. */
void tb_eval_acc_add(tb_eval_acc *a, const double *logits, const int32_t *y, int B,
                     double *prob_scratch);
/* The loss plugin's mean over a chunk of `rows` rows. */
void tb_eval_acc_add_loss(tb_eval_acc *a, double mean, int rows);
/* The loss plugin's value over the whole split at once (TB_LOSS_NOT_MEAN). */
void tb_eval_acc_set_loss(tb_eval_acc *a, double value);
/* Add the non-zero confusion cells and the non-empty calibration bins of
 * split `split` at `epoch` to r (what a run keeps of its final evaluation). */
void tb_eval_acc_record(const tb_eval_acc *a, tb_run_result *r, int epoch, const char *split);

typedef struct tb_metric_def {
  const char *name;
  const char *formula;    /* one line: the formula and its source */
  int higher_is_better;
  unsigned needs;         /* TB_ACC_* it is finalized from */
  double (*finalize)(const tb_eval_acc *a); /* NaN for an empty split */
} tb_metric_def;

int tb_metric_count(void);
const tb_metric_def *tb_metric_at(int i);
const tb_metric_def *tb_metric_find(const char *name); /* NULL when unknown */
/* The accumulators an evaluation pass fills: those the registry's metrics
 * need, and the bins and counts a run records at its final epoch. */
unsigned tb_metric_needs(void);
/* "per-row sums, confidence bins" for a needs mask. */
void tb_metric_needs_text(unsigned needs, char *out, size_t len);

#endif /* TB_METRICS_H */
