/*
 * bench_run.c — how close whole runs come to the floor of their matrix
 * products, and what recording them costs.
 *
 * usage: bench_run SCRIPT [--db PATH]
 *
 * It loads SCRIPT as `trainbench run` does and, for each of its runs, in this
 * one process with one BLAS thread:
 *   - times the whole run (tb_train_run: setup, every training step, the
 *     evaluation passes before training and after each epoch), as a worker
 *     does it;
 *   - times, right after, the run's GEMM floor: the bare sgemm calls the run
 *     makes on the same shapes — per training step the forward x W^T, the
 *     backward dW = dY^T X and dX = dY W of each layer (none for the input),
 *     the last partial batch of each epoch included; per evaluation (epochs +
 *     1 of them) the forward of each split in chunks of the rows the
 *     trainer's workspace holds — and nothing else;
 *   - with --db, records the run the way a sweep does: the worker's protocol
 *     lines written (tb_worker_send), read back (tb_worker_parse) and stored
 *     (tb_store_put_run) into a fresh database, timed together.
 * It prints, per scenario, the medians over its runs of the run's time, its
 * floor and their ratio (also for training and evaluation apart, from the
 * run's time.train and time.eval counters), and recording as a fraction of
 * the runs' compute time. Ratios measured in one run are the result: the
 * machine may be shared and noisy. Nothing is asserted about time.
 *
 * Shapes: B = rows in a batch, D = input features, K = classes, dims[l] the
 * width of layer l (dims[0] = D, dims[L] = K); W_l is [dims[l]][dims[l-1]].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "registry.h"
#include "script.h"
#include "store.h"
#include "sweep.h"
#include "tensor.h"
#include "train.h"
#include "util.h"

/* The buffers of one run's floor: weights, gradients and activations of
 * every layer for `cap` rows, and the inputs of the largest split. */
typedef struct floor_bufs {
  int L, D, cap;
  int dims[TB_MAX_LAYERS + 1];
  float *w[TB_MAX_LAYERS + 1], *dw[TB_MAX_LAYERS + 1];
  float *a[TB_MAX_LAYERS + 1], *d[TB_MAX_LAYERS + 1];
  float *x; /* [rows][D] */
} floor_bufs;

static float *filled(size_t n, float v) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  if (!p) abort();
  for (size_t i = 0; i < n; i++) p[i] = v * (float)((i % 7) + 1); /* touched, no zeros */
  return p;
}

static void floor_alloc(floor_bufs *f, const int *dims, int L, int cap, int rows) {
  memset(f, 0, sizeof *f);
  f->L = L, f->D = dims[0], f->cap = cap;
  memcpy(f->dims, dims, sizeof(int) * (size_t)(L + 1));
  for (int l = 0; l <= L; l++) {
    f->a[l] = filled((size_t)cap * dims[l], 0.01f);
    f->d[l] = filled((size_t)cap * dims[l], 0.001f);
    if (l) {
      f->w[l] = filled((size_t)dims[l] * dims[l - 1], 0.01f);
      f->dw[l] = filled((size_t)dims[l] * dims[l - 1], 0.0f);
    }
  }
  f->x = filled((size_t)rows * dims[0], 0.1f);
}

static void floor_free(floor_bufs *f) {
  for (int l = 0; l <= f->L; l++) free(f->a[l]), free(f->d[l]), free(f->w[l]), free(f->dw[l]);
  free(f->x);
}

/* x [B][D] -> a[L] [B][K]: the forward products (beta 1: the bias is in y) */
static void floor_forward(floor_bufs *f, const float *x, int B) {
  const int *dims = f->dims;
  for (int l = 1; l <= f->L; l++)
    tb_sgemm(0, 1, B, dims[l], dims[l - 1], 1, l > 1 ? f->a[l - 1] : x, dims[l - 1], f->w[l],
             dims[l - 1], 1, f->a[l], dims[l]);
}

/* d[L] [B][K] -> dW of every layer, dX of every layer but the first */
static void floor_backward(floor_bufs *f, const float *x, int B) {
  const int *dims = f->dims;
  for (int l = f->L; l >= 1; l--) {
    tb_sgemm(1, 0, dims[l], dims[l - 1], B, 1, f->d[l], dims[l], l > 1 ? f->a[l - 1] : x,
             dims[l - 1], 0, f->dw[l], dims[l - 1]);
    if (l > 1)
      tb_sgemm(0, 0, B, dims[l - 1], dims[l], 1, f->d[l], dims[l], f->w[l], dims[l - 1], 0,
               f->d[l - 1], dims[l - 1]);
  }
}

/* The products of one evaluation: each split's rows in chunks of cap. */
static void floor_evaluate(floor_bufs *f, const int *split_n) {
  for (int s = 0; s < 3; s++)
    for (int off = 0; off < split_n[s]; off += f->cap) {
      int bn = split_n[s] - off < f->cap ? split_n[s] - off : f->cap;
      floor_forward(f, f->x + (size_t)off * f->D, bn);
    }
}

/* The floor of a whole run, training and evaluation apart (seconds). */
static void floor_run(floor_bufs *f, const int *split_n, int B, int epochs, double *train,
                      double *eval) {
  const int n_train = split_n[0];
  *train = *eval = 0;
  double t0 = tb_now_mono();
  floor_evaluate(f, split_n);
  *eval += tb_now_mono() - t0;
  for (int e = 1; e <= epochs; e++) {
    t0 = tb_now_mono();
    for (int off = 0; off < n_train; off += B) {
      int bn = n_train - off < B ? n_train - off : B;
      floor_forward(f, f->x, bn); /* the batch buffer: gathered rows, always the same */
      floor_backward(f, f->x, bn);
    }
    double t1 = tb_now_mono();
    *train += t1 - t0;
    floor_evaluate(f, split_n);
    *eval += tb_now_mono() - t1;
  }
}

static double counter(const tb_run_result *r, const char *name) {
  for (int i = 0; i < r->n_counters; i++)
    if (strcmp(r->counters[i].name, name) == 0) return r->counters[i].value;
  return NAN;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Record res as a sweep does: the worker's lines, the parent's parse, the
 * store. The seconds each took added to part[3]; 0, or -1 with err. */
static int record(tb_store *st, const tb_run_config *cfg, const tb_run_result *res,
                  double *part, char *err, size_t errlen) {
  double t0 = tb_now_mono();
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) abort();
  tb_worker_sent sent = {0};
  tb_worker_send(out, res, &sent, 1);
  fclose(out);
  double t1 = tb_now_mono();
  tb_run_result got;
  memset(&got, 0, sizeof got);
  int rc = 0;
  for (char *line = text, *nl; line < text + len && rc == 0; line = nl + 1) {
    nl = strchr(line, '\n');
    if (!nl) break;
    *nl = 0;
    rc = tb_worker_parse(&got, line, err, errlen) < 0 ? -1 : 0;
  }
  got.wall_seconds = res->compute_seconds;
  double t2 = tb_now_mono();
  if (rc == 0) rc = tb_store_put_run(st, cfg, &got, err, errlen);
  double t3 = tb_now_mono();
  tb_result_free(&got);
  free(text);
  part[0] += t1 - t0, part[1] += t2 - t1, part[2] += t3 - t2;
  return rc;
}

int main(int argc, char **argv) {
  const char *script = NULL, *db = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
      db = argv[++i];
    else if (!script && argv[i][0] != '-')
      script = argv[i];
    else {
      fprintf(stderr, "usage: bench_run SCRIPT [--db PATH]\n");
      return 2;
    }
  }
  if (!script) {
    fprintf(stderr, "usage: bench_run SCRIPT [--db PATH]\n");
    return 2;
  }
  tb_blas_set_threads(1);
  char err[TB_ERRLEN];
  tb_registry *reg;
  if (tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err)) {
    fprintf(stderr, "bench_run: %s\n", err);
    return 1;
  }
  tb_sweep sw;
  memset(&sw, 0, sizeof sw);
  if (tb_script_load(script, reg, &sw, err, sizeof err)) {
    fprintf(stderr, "bench_run: %s\n", err);
    return 1;
  }
  tb_store *st = NULL;
  if (db) {
    tb_sweep_meta meta = {"bench_run", 1, 1, 0};
    if (tb_store_open_write(&st, db, err, sizeof err) ||
        tb_sweep_check_components(&sw, st, 0, NULL, 1, err, sizeof err) ||
        tb_store_begin_sweep(st, &sw, &meta, err, sizeof err)) {
      fprintf(stderr, "bench_run: %s\n", err);
      return 1;
    }
  }
  double *v = malloc(sizeof(double) * 8 * (size_t)(sw.n_runs ? sw.n_runs : 1));
  if (!v) abort();
  double rec[3] = {0, 0, 0}, sum_compute = 0;
  int n_rec = 0;
  printf("%-14s %-26s %4s %10s %10s %7s %7s %7s %8s\n", "scenario", "shape", "runs",
         "run (ms)", "floor (ms)", "ratio", "train", "eval", "setup ms");
  for (int sc = 0; sc < sw.n_scenarios; sc++) {
    /* per run: run, floor, ratio, train ratio, eval ratio, setup */
    double *run_s = v, *floor_s = v + sw.n_runs, *ratio = v + 2 * sw.n_runs,
           *rtrain = v + 3 * sw.n_runs, *reval = v + 4 * sw.n_runs, *setup = v + 5 * sw.n_runs;
    int n = 0;
    char shape[64] = "";
    for (int i = 0; i < sw.n_runs; i++) {
      const tb_run_config *cfg = &sw.runs[i];
      if (strcmp(cfg->scenario, sw.scenarios[sc].name) != 0) continue;
      tb_run_result res;
      memset(&res, 0, sizeof res);
      double t0 = tb_now_mono();
      int rc = tb_train_run(cfg, &res, NULL, NULL);
      double t_run = tb_now_mono() - t0;
      if (rc) {
        fprintf(stderr, "bench_run: run %d of '%s' %s: %s\n", i + 1, cfg->scenario,
                tb_status_name(res.status), res.error);
        return 1;
      }
      if (st) {
        if (record(st, cfg, &res, rec, err, sizeof err)) {
          fprintf(stderr, "bench_run: %s\n", err);
          return 1;
        }
        sum_compute += res.compute_seconds, n_rec++;
      }

      /* the run's shapes: its split (as the trainer makes it), its widths,
       * the rows of its workspace (train.c: the batch, or an evaluation
       * chunk of up to TB_EVAL_CHUNK rows, whichever is larger) */
      tb_split sp;
      if (tb_split_make(cfg->data.loaded, &cfg->data, cfg->seed, &sp, err, sizeof err)) {
        fprintf(stderr, "bench_run: %s\n", err);
        return 1;
      }
      int split_n[3] = {sp.part[0].n, sp.part[1].n, sp.part[2].n};
      int dims[TB_MAX_LAYERS + 1], L = cfg->model.kind == TB_MODEL_MLP ? cfg->model.n_hidden + 1 : 1;
      dims[0] = sp.d;
      for (int l = 1; l < L; l++) dims[l] = cfg->model.hidden[l - 1];
      dims[L] = sp.k;
      tb_split_free(&sp);
      int B = cfg->batch_size > 0 ? cfg->batch_size : split_n[0];
      int largest = split_n[0] > split_n[1] ? split_n[0] : split_n[1];
      if (split_n[2] > largest) largest = split_n[2];
      int cap = largest < TB_EVAL_CHUNK ? largest : TB_EVAL_CHUNK;
      if (cap < B) cap = B;
      floor_bufs f;
      floor_alloc(&f, dims, L, cap, largest > B ? largest : B);
      floor_forward(&f, f.x, B); /* warm: BLAS's own buffers */
      double f_train, f_eval;
      floor_run(&f, split_n, B, cfg->epochs, &f_train, &f_eval);
      floor_free(&f);

      run_s[n] = t_run;
      floor_s[n] = f_train + f_eval;
      ratio[n] = t_run / (f_train + f_eval);
      rtrain[n] = counter(&res, "time.train") / f_train;
      reval[n] = counter(&res, "time.eval") / f_eval;
      setup[n] = counter(&res, "time.setup");
      n++;
      if (!shape[0]) {
        int o = snprintf(shape, sizeof shape, "%d", dims[0]);
        for (int l = 1; l <= L && o < (int)sizeof shape; l++)
          o += snprintf(shape + o, sizeof shape - (size_t)o, "-%d", dims[l]);
        snprintf(shape + o, sizeof shape - (size_t)o, " b%d e%d n%d", B, cfg->epochs,
                 split_n[0] + split_n[1] + split_n[2]);
      }
      tb_result_free(&res);
    }
    if (n == 0) continue;
    double m_run = median(run_s, n) * 1e3, m_floor = median(floor_s, n) * 1e3;
    printf("%-14s %-26s %4d %10.1f %10.1f %7.2f %7.2f %7.2f %8.2f\n", sw.scenarios[sc].name,
           shape, n, m_run, m_floor, median(ratio, n), median(rtrain, n), median(reval, n),
           median(setup, n) * 1e3);
  }
  if (st) {
    double sum_rec = rec[0] + rec[1] + rec[2];
    printf("recording %d runs: %.2f ms per run (worker lines %.2f, parse %.2f, store %.2f), "
           "%.2f %% of their compute time\n",
           n_rec, sum_rec / n_rec * 1e3, rec[0] / n_rec * 1e3, rec[1] / n_rec * 1e3,
           rec[2] / n_rec * 1e3, 100 * sum_rec / sum_compute);
    if (tb_store_end_sweep(st, err, sizeof err)) {
      fprintf(stderr, "bench_run: %s\n", err);
      return 1;
    }
    tb_store_close(st);
  }
  free(v);
  tb_sweep_free(&sw);
  tb_registry_close(reg);
  return 0;
}
