/*
 * test_metrics.c — the metrics registry (core/metrics.c) against values
 * computed independently with scikit-learn and numpy (gen_metrics.py, its
 * output committed as metrics_reference.txt): every metric to 1e-12
 * relative and the confusion counts exactly, with each split fed whole, in
 * chunks of 1, of 7 and of TB_EVAL_CHUNK rows (the same bits whatever the
 * chunking). Also: the registry's table itself, NaN for an empty split, a
 * non-finite logit making the probability metrics NaN (never a number that
 * looks fine), and what a final evaluation records.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "train.h"

typedef struct ref_case {
  char name[64];
  int k, n;
  double *z;      /* [n][k] */
  int32_t *y;     /* [n] */
  char metric[16][32];
  double value[16];
  int n_values;
  int64_t *confusion; /* [k][k] */
} ref_case;

/* Read the next case of the reference file; 0 at the end. */
static int read_case(FILE *f, ref_case *c) {
  char word[64], source[64];
  memset(c, 0, sizeof *c);
  for (;;) {
    if (fscanf(f, "%63s", word) != 1) return 0;
    if (word[0] == '#') {
      int ch;
      while ((ch = fgetc(f)) != '\n' && ch != EOF) {}
      continue;
    }
    break;
  }
  if (strcmp(word, "case") != 0 || fscanf(f, "%63s %d %d %63s", c->name, &c->k, &c->n, source) != 4)
    return -1;
  c->z = malloc(sizeof(double) * (size_t)c->n * (size_t)c->k);
  c->y = malloc(sizeof(int32_t) * (size_t)c->n);
  c->confusion = malloc(sizeof(int64_t) * (size_t)c->k * (size_t)c->k);
  for (int i = 0; i < c->n; i++) {
    if (fscanf(f, "%63s %d", word, &c->y[i]) != 2 || strcmp(word, "row") != 0) return -1;
    for (int j = 0; j < c->k; j++)
      if (fscanf(f, "%lf", &c->z[(size_t)i * c->k + j]) != 1) return -1;
  }
  while (fscanf(f, "%63s", word) == 1 && strcmp(word, "value") == 0) {
    if (c->n_values == 16 ||
        fscanf(f, "%31s %lf", c->metric[c->n_values], &c->value[c->n_values]) != 2)
      return -1;
    c->n_values++;
  }
  if (strcmp(word, "confusion") != 0) return -1;
  for (int i = 0; i < c->k * c->k; i++)
    if (fscanf(f, "%lld", (long long *)&c->confusion[i]) != 1) return -1;
  if (fscanf(f, "%63s", word) != 1 || strcmp(word, "end") != 0) return -1;
  return 1;
}

static void free_case(ref_case *c) {
  free(c->z);
  free(c->y);
  free(c->confusion);
}

static void feed(tb_eval_acc *a, const ref_case *c, int chunk, double *p) {
  tb_eval_acc_reset(a);
  for (int off = 0; off < c->n; off += chunk) {
    int bn = c->n - off < chunk ? c->n - off : chunk;
    tb_eval_acc_add(a, c->z + (size_t)off * c->k, c->y + off, bn, p);
  }
}

static void test_reference(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/unit/metrics_reference.txt",
           getenv("TB_SOURCE_ROOT") ? getenv("TB_SOURCE_ROOT") : ".");
  FILE *f = fopen(path, "r");
  CHECK(f != NULL, "open %s", path);
  if (!f) return;
  ref_case c;
  int rc, cases = 0;
  while ((rc = read_case(f, &c)) > 0) {
    cases++;
    tb_eval_acc a;
    double *p = malloc(sizeof(double) * (size_t)c.k);
    CHECK(tb_eval_acc_init(&a, c.k) == 0, "%s: allocate", c.name);
    double whole[16];
    const int chunks[] = {c.n, 1, 7, TB_EVAL_CHUNK};
    for (int ci = 0; ci < 4; ci++) {
      feed(&a, &c, chunks[ci], p);
      int cm_ok = memcmp(a.confusion, c.confusion, sizeof(int64_t) * (size_t)c.k * c.k) == 0;
      CHECK(cm_ok, "%s, chunks of %d: confusion counts as sklearn's confusion_matrix", c.name,
            chunks[ci]);
      for (int m = 0; m < c.n_values; m++) {
        const tb_metric_def *d = tb_metric_find(c.metric[m]);
        CHECK(d != NULL, "%s: metric '%s' is in the registry", c.name, c.metric[m]);
        if (!d) continue;
        double v = d->finalize(&a);
        if (ci == 0) {
          whole[m] = v;
          CHECK(close_to(v, c.value[m], 1e-12, 0), "%s: %s = %.17g (reference %.17g)", c.name,
                d->name, v, c.value[m]);
        } else if (memcmp(&v, &whole[m], sizeof v) != 0) {
          CHECK(0, "%s, chunks of %d: %s = %.17g, whole %.17g", c.name, chunks[ci], d->name, v,
                whole[m]);
        }
      }
    }
    CHECK(c.n_values == tb_metric_count() - 1, "%s: every metric but loss has a reference",
          c.name);
    tb_eval_acc_free(&a);
    free(p);
    free_case(&c);
  }
  CHECK(rc == 0, "the reference file reads to its end (stopped in a case after %d)", cases);
  CHECK(cases == 8, "8 reference cases (%d)", cases);
  fclose(f);
}

/* One table: names unique and valid, a formula each, loss and today's four
 * first in their order (the schedule and stored results see that order). */
static void test_registry(void) {
  const char *first[] = {"loss", "accuracy", "nll", "brier", "ece"};
  int n = tb_metric_count();
  CHECK(n == 9, "9 metrics (%d)", n);
  for (int i = 0; i < n; i++) {
    const tb_metric_def *d = tb_metric_at(i);
    CHECK(tb_name_valid(d->name) && d->formula && strlen(d->formula) > 20 && d->needs &&
              d->finalize && tb_metric_find(d->name) == d,
          "metric %d '%s' declared whole", i, d->name);
    if (i < 5) CHECK(strcmp(d->name, first[i]) == 0, "metric %d is %s", i, first[i]);
  }
  CHECK(tb_metric_at(n) == NULL && tb_metric_find("nope") == NULL, "unknown metrics");
  CHECK((tb_metric_needs() & (TB_ACC_BINS | TB_ACC_CONFUSION | TB_ACC_SUMS | TB_ACC_LOSS)) ==
            (TB_ACC_BINS | TB_ACC_CONFUSION | TB_ACC_SUMS | TB_ACC_LOSS),
        "the pass fills every accumulator the table names");
}

static void test_edges(void) {
  tb_eval_acc a;
  double p[3];
  CHECK(tb_eval_acc_init(&a, 3) == 0, "allocate");
  /* an empty split: every metric NaN */
  tb_eval_acc_reset(&a);
  for (int i = 0; i < tb_metric_count(); i++)
    CHECK(isnan(tb_metric_at(i)->finalize(&a)), "empty split: %s is NaN", tb_metric_at(i)->name);
  /* a NaN logit: the probability metrics are NaN, not a number averaged over the others */
  const double z[] = {1, 2, 3, NAN, 0, 0, 3, 2, 1};
  const int32_t y[] = {2, 0, 0};
  tb_eval_acc_reset(&a);
  tb_eval_acc_add(&a, z, y, 3, p);
  const char *nan_names[] = {"nll", "brier", "ece", "mce"};
  for (int i = 0; i < 4; i++)
    CHECK(isnan(tb_metric_find(nan_names[i])->finalize(&a)), "a NaN logit: %s is NaN",
          nan_names[i]);
  /* the loss: chunk means weighted by rows, or the whole split's value */
  tb_eval_acc_reset(&a);
  a.n = 3;
  tb_eval_acc_add_loss(&a, 1.0, 2);
  tb_eval_acc_add_loss(&a, 4.0, 1);
  CHECK(tb_metric_find("loss")->finalize(&a) == 2.0, "loss: (1·2 + 4·1) / 3");
  tb_eval_acc_set_loss(&a, NAN);
  CHECK(isnan(tb_metric_find("loss")->finalize(&a)), "a whole split's NaN loss stays NaN");
  /* what a final evaluation records: non-zero cells and non-empty bins */
  tb_eval_acc_reset(&a);
  const double z2[] = {5, 0, 0, 5, 0, 0, 0, 0, 5};
  const int32_t y2[] = {0, 1, 2};
  tb_eval_acc_add(&a, z2, y2, 3, p);
  tb_run_result r;
  memset(&r, 0, sizeof r);
  tb_eval_acc_record(&a, &r, 4, "val");
  /* rows (5,0,0) label 0, (5,0,0) label 1, (0,0,5) label 2: cells (0,0), (1,0), (2,2) */
  CHECK(r.n_confusion == 3 && r.confusion[0].true_class == 0 && r.confusion[0].pred_class == 0 &&
            r.confusion[1].true_class == 1 && r.confusion[1].pred_class == 0 &&
            r.confusion[2].true_class == 2 && r.confusion[2].pred_class == 2 &&
            r.confusion[2].count == 1 && strcmp(r.confusion[2].split, "val") == 0 &&
            r.confusion[2].epoch == 4,
        "confusion cells: (0,0), (1,0), (2,2), one row each");
  CHECK(r.n_calibration == 1 && r.calibration[0].bin == 14 && r.calibration[0].count == 3 &&
            r.calibration[0].correct == 2 && close_to(r.calibration[0].confidence,
                                                      1 / (1 + 2 * exp(-5.0)), 1e-15, 0),
        "one calibration bin: 3 rows, 2 correct, confidence softmax(5, 0, 0)");
  tb_result_free(&r);
  tb_eval_acc_free(&a);
}

int main(void) {
  test_registry();
  test_reference();
  test_edges();
  return check_done();
}
