/*
 * metrics.c — the registry of evaluation metrics and the accumulators of
 * one evaluation pass (metrics.h), in double, chunk by chunk.
 *
 * A prediction is the first index of the largest logit (ties go to the lower
 * class); it is correct when it is the label. p = softmax(z), conf = p at the
 * prediction, bin = floor(15 conf) (conf = 1 in the last bin). "Present"
 * classes are those with at least one row of that label in the split.
 *
 * Provides: tb_eval_acc_*, tb_metric_count, tb_metric_at, tb_metric_find,
 * tb_metric_needs, tb_metric_needs_text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "metrics.h"

/* ---- accumulators ---------------------------------------------------------- */

int tb_eval_acc_init(tb_eval_acc *a, int k) {
  memset(a, 0, sizeof *a);
  a->k = k;
  a->confusion = calloc((size_t)k * (size_t)k, sizeof *a->confusion);
  return a->confusion ? 0 : -1;
}

void tb_eval_acc_free(tb_eval_acc *a) {
  free(a->confusion);
  memset(a, 0, sizeof *a);
}

void tb_eval_acc_reset(tb_eval_acc *a) {
  int64_t *c = a->confusion;
  int k = a->k;
  memset(a, 0, sizeof *a);
  a->k = k;
  a->confusion = c;
  if (c) memset(c, 0, sizeof *c * (size_t)k * (size_t)k);
}

void tb_eval_acc_add(tb_eval_acc *a, const double *logits, const int32_t *y, int B,
                     double *p) {
  const int K = a->k;
  const unsigned needs = tb_metric_needs();
  for (int i = 0; i < B; i++) {
    const double *z = logits + (size_t)i * K;
    int arg = 0;
    for (int k = 1; k < K; k++)
      if (z[k] > z[arg]) arg = k;
    int ok = arg == y[i];
    a->n += 1;
    if (needs & TB_ACC_CONFUSION) a->confusion[(size_t)y[i] * K + arg] += 1;
    if (!(needs & (TB_ACC_SUMS | TB_ACC_BINS))) continue;
    const double lse = tb_softmax_lse(p, z, K);
    if (needs & TB_ACC_SUMS) {
      double br = 0;
      for (int k = 0; k < K; k++) {
        double t = p[k] - (k == y[i]);
        br += t * t;
      }
      a->nll += lse - z[y[i]];
      a->brier += br;
    }
    if (needs & TB_ACC_BINS) {
      double conf = p[arg];
      int bin = isfinite(conf) ? (int)(conf * TB_CAL_BINS) : TB_CAL_BINS - 1;
      if (bin > TB_CAL_BINS - 1) bin = TB_CAL_BINS - 1;
      if (bin < 0) bin = 0;
      a->bin_n[bin] += 1;
      a->bin_conf[bin] += conf;
      a->bin_acc[bin] += ok;
    }
  }
}

void tb_eval_acc_add_loss(tb_eval_acc *a, double mean, int rows) { a->loss_sum += mean * rows; }

void tb_eval_acc_set_loss(tb_eval_acc *a, double value) {
  a->loss_whole = value;
  a->loss_is_whole = 1;
}

void tb_eval_acc_record(const tb_eval_acc *a, tb_run_result *r, int epoch, const char *split) {
  const int K = a->k;
  for (int t = 0; t < K; t++)
    for (int q = 0; q < K; q++)
      if (a->confusion[(size_t)t * K + q])
        tb_result_add_confusion(r, epoch, split, t, q, a->confusion[(size_t)t * K + q]);
  for (int b = 0; b < TB_CAL_BINS; b++)
    if (a->bin_n[b] > 0)
      tb_result_add_calibration(r, epoch, split, b, (int64_t)a->bin_n[b], (int64_t)a->bin_acc[b],
                                a->bin_conf[b] / a->bin_n[b]);
}

/* ---- finalizers -------------------------------------------------------------- */

static double fin_loss(const tb_eval_acc *a) {
  if (a->loss_is_whole) return a->loss_whole;
  return a->n ? a->loss_sum / a->n : NAN;
}

static double cell(const tb_eval_acc *a, int t, int q) {
  return (double)a->confusion[(size_t)t * a->k + q];
}

/* Rows labelled c (support), and rows predicted c. */
static double support(const tb_eval_acc *a, int c) {
  double s = 0;
  for (int q = 0; q < a->k; q++) s += cell(a, c, q);
  return s;
}
static double predicted(const tb_eval_acc *a, int c) {
  double s = 0;
  for (int t = 0; t < a->k; t++) s += cell(a, t, c);
  return s;
}

static double fin_accuracy(const tb_eval_acc *a) {
  if (!a->n) return NAN;
  double correct = 0; /* counts: exact in double, as a sum of 0/1 per row was */
  for (int c = 0; c < a->k; c++) correct += cell(a, c, c);
  return correct / a->n;
}

static double fin_nll(const tb_eval_acc *a) { return a->n ? a->nll / a->n : NAN; }
static double fin_brier(const tb_eval_acc *a) { return a->n ? a->brier / a->n : NAN; }

static double fin_ece(const tb_eval_acc *a) {
  if (!a->n) return NAN;
  double e = 0;
  for (int b = 0; b < TB_CAL_BINS; b++)
    if (a->bin_n[b] > 0) e += fabs(a->bin_acc[b] - a->bin_conf[b]) / a->n;
  return e;
}

static double fin_mce(const tb_eval_acc *a) {
  if (!a->n) return NAN;
  double m = 0;
  for (int b = 0; b < TB_CAL_BINS; b++) {
    if (a->bin_n[b] == 0) continue;
    double gap = fabs(a->bin_acc[b] / a->bin_n[b] - a->bin_conf[b] / a->bin_n[b]);
    if (isnan(gap)) return NAN; /* a non-finite confidence: no maximum to speak of */
    if (gap > m) m = gap;
  }
  return m;
}

/* Recall of each present class: their mean (balanced) or their minimum (worst). */
static double recall_over_present(const tb_eval_acc *a, int worst) {
  double sum = 0, min = INFINITY;
  int present = 0;
  for (int c = 0; c < a->k; c++) {
    double s = support(a, c);
    if (s == 0) continue;
    double r = cell(a, c, c) / s;
    sum += r;
    if (r < min) min = r;
    present++;
  }
  if (!present) return NAN;
  return worst ? min : sum / present;
}
static double fin_balanced(const tb_eval_acc *a) { return recall_over_present(a, 0); }
static double fin_worst(const tb_eval_acc *a) { return recall_over_present(a, 1); }

/* F1 = 2TP / (2TP + FP + FN) = 2TP / (support + predicted): 0 for a class
 * that is only predicted or only present, and no term for a class that is
 * neither (sklearn's labels = y_true ∪ y_pred with zero_division = 0). */
static double fin_macro_f1(const tb_eval_acc *a) {
  double sum = 0;
  int seen = 0;
  for (int c = 0; c < a->k; c++) {
    double d = support(a, c) + predicted(a, c);
    if (d == 0) continue;
    sum += 2 * cell(a, c, c) / d;
    seen++;
  }
  return seen ? sum / seen : NAN;
}

/* ---- the registry ------------------------------------------------------------ */

/* The first five keep today's order and numbers bit for bit (the quickstart
 * and stored results compare them); new metrics go at the end. */
static const tb_metric_def registry[] = {
    {"loss", "the training objective's mean over the split, as the loss plugin computes it "
             "in its evaluation phase (over the whole split at once for a loss that is not a "
             "mean)",
     0, TB_ACC_LOSS, fin_loss},
    {"accuracy", "fraction of rows whose prediction (first index of the largest logit) is "
                 "the label",
     1, TB_ACC_CONFUSION, fin_accuracy},
    {"nll", "mean −log p_y, p = softmax(logits) (negative log-likelihood, sklearn's log_loss)",
     0, TB_ACC_SUMS, fin_nll},
    {"brier", "mean Σ_k (p_k − [k = y])², summed over the K classes (Brier, 1950)", 0,
     TB_ACC_SUMS, fin_brier},
    {"ece", "Σ_b (n_b / N) |acc_b − conf_b| over 15 equal-width bins of conf = max_k p_k "
            "(Guo et al., 2017)",
     0, TB_ACC_BINS, fin_ece},
    {"balanced_accuracy", "mean recall TP_c / n_c over the classes present in the split "
                          "(Brodersen et al., 2010; sklearn's balanced_accuracy_score)",
     1, TB_ACC_CONFUSION, fin_balanced},
    {"macro_f1", "mean over classes labelled or predicted of 2 TP_c / (2 TP_c + FP_c + FN_c) "
                 "(sklearn's f1_score, average='macro', zero_division=0)",
     1, TB_ACC_CONFUSION, fin_macro_f1},
    {"worst_class_accuracy", "min recall TP_c / n_c over the classes present in the split", 1,
     TB_ACC_CONFUSION, fin_worst},
    {"mce", "max_b |acc_b − conf_b| over the non-empty bins of ece (Naeini et al., 2015)", 0,
     TB_ACC_BINS, fin_mce},
};
#define N_METRICS (int)(sizeof registry / sizeof *registry)

int tb_metric_count(void) { return N_METRICS; }
const tb_metric_def *tb_metric_at(int i) { return i >= 0 && i < N_METRICS ? &registry[i] : NULL; }

const tb_metric_def *tb_metric_find(const char *name) {
  for (int i = 0; i < N_METRICS; i++)
    if (strcmp(registry[i].name, name) == 0) return &registry[i];
  return NULL;
}

unsigned tb_metric_needs(void) {
  unsigned needs = TB_ACC_BINS | TB_ACC_CONFUSION; /* recorded at the final epoch */
  for (int i = 0; i < N_METRICS; i++) needs |= registry[i].needs;
  return needs;
}

void tb_metric_needs_text(unsigned needs, char *out, size_t len) {
  static const char *const names[] = {"the loss plugin", "per-row sums", "confidence bins",
                                      "confusion counts"};
  size_t k = 0;
  out[0] = 0;
  for (int b = 0; b < 4 && k < len; b++)
    if (needs & (1u << b)) k += (size_t)snprintf(out + k, len - k, "%s%s", k ? ", " : "", names[b]);
}
