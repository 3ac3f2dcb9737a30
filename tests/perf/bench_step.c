/*
 * bench_step.c — how close a training step comes to its BLAS floor.
 *
 * For a few (model, batch) shapes on digits with cross_entropy + adam, it
 * times tb_trainer_step (batch gather, forward, loss plugin, backward,
 * optimizer plugin) and, in the same run, the bare sgemm calls the step
 * makes (forward W x, backward dW and dX per layer but the first) on the
 * same shapes; then the same step with a cosine head under cosface, and with
 * the stages mixup and small_loss at work (their extra work counts against
 * the floor); and issue 9's larger MLP, 784-512-512-10 at batch 256 on
 * synthetic data (blobs), with every step one the series keep (its gradient
 * and update norms computed), as in a run of at most 200 steps. It prints
 * the ratio step / floor: 1.0 would mean everything but the matrix products
 * is free. Ratios, not absolute times, are the result: the machine is
 * shared and noisy. Run: meson test -C build --benchmark
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "tensor.h"
#include "train.h"
#include "util.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the matrix products of one step of an MLP with these widths, batch B */
static void floor_step(const int *dims, int L, int B, float **w, float **a, float **d) {
  for (int l = 1; l <= L; l++)
    tb_sgemm(0, 1, B, dims[l], dims[l - 1], 1, a[l - 1], dims[l - 1], w[l], dims[l - 1], 0, a[l],
             dims[l]);
  for (int l = L; l >= 1; l--) {
    tb_sgemm(1, 0, dims[l], dims[l - 1], B, 1, d[l], dims[l], a[l - 1], dims[l - 1], 0, w[l],
             dims[l - 1]);
    if (l > 1)
      tb_sgemm(0, 0, B, dims[l - 1], dims[l], 1, d[l], dims[l], w[l], dims[l - 1], 0, d[l - 1],
               dims[l - 1]);
  }
}

int main(void) {
  tb_blas_set_threads(1);
  char err[TB_ERRLEN];
  tb_registry *reg;
  if (tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  /* variant: 0 the plain step; COSINE a cosine head under cosface; STAGED
   * mixup and small_loss at work (a per-row loss pass more); BIG the
   * 784-512-512-10 MLP on blobs, a run short enough that every step is kept
   * by the series (8 epochs of 24 steps) */
  enum { PLAIN, COSINE, STAGED, BIG };
  const struct { int hidden[2], n_hidden, batch, variant; } cases[] = {
      {{128}, 1, 64, PLAIN},      {{256}, 1, 64, PLAIN},  {{256, 256}, 2, 128, PLAIN},
      {{512}, 1, 256, PLAIN},     {{256}, 1, 64, COSINE}, {{256}, 1, 64, STAGED},
      {{512, 512}, 2, 256, BIG}};
  printf("%-22s %6s %12s %12s %8s\n", "model", "batch", "step (us)", "floor (us)", "ratio");
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    tb_run_config cfg;
    memset(&cfg, 0, sizeof cfg);
    /* digits, all rows for training; an mlp of these widths; cross-entropy,
     * adam and the constant schedule at their defaults */
    const int v = cases[ci].variant;
    cfg.parts[TB_PART_DATA] = tb_instance_named(reg, TB_KIND_DATASET, v == BIG ? "blobs" : "digits",
                                                err, sizeof err);
    cfg.parts[TB_PART_MODEL] = tb_instance_named(reg, TB_KIND_MODEL, "mlp", err, sizeof err);
    if (v == BIG && (!cfg.parts[TB_PART_DATA] ||
                     tb_instance_set_num(cfg.parts[TB_PART_DATA], "n", 6000, err, sizeof err) ||
                     tb_instance_set_num(cfg.parts[TB_PART_DATA], "classes", 10, err, sizeof err) ||
                     tb_instance_set_num(cfg.parts[TB_PART_DATA], "dim", 784, err, sizeof err))) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    cfg.parts[TB_PART_LOSS] = tb_instance_named(reg, TB_KIND_LOSS,
                                                v == COSINE ? "cosface" : "cross_entropy", err,
                                                sizeof err);
    if (v == STAGED &&
        (!(cfg.parts[TB_PART_TRANSFORM] =
               tb_instance_named(reg, TB_KIND_TRANSFORM, "mixup", err, sizeof err)) ||
         !(cfg.parts[TB_PART_REDUCTION] =
               tb_instance_named(reg, TB_KIND_REDUCTION, "small_loss", err, sizeof err))))
      return 1;
    if (v == COSINE &&
        tb_instance_set_text(cfg.parts[TB_PART_MODEL], "head", "cosine", err, sizeof err))
      return 1;
    cfg.parts[TB_PART_OPTIMIZER] = tb_instance_named(reg, TB_KIND_OPTIMIZER, "adam", err, sizeof err);
    cfg.parts[TB_PART_SCHEDULE] =
        tb_instance_named(reg, TB_KIND_SCHEDULE, "constant", err, sizeof err);
    double hidden[2] = {cases[ci].hidden[0], cases[ci].hidden[1]};
    if (!cfg.parts[TB_PART_LOSS] || !cfg.parts[TB_PART_OPTIMIZER] || !cfg.parts[TB_PART_SCHEDULE] ||
        tb_instance_set_list(cfg.parts[TB_PART_DATA], "split", (const double[]){1, 0, 0}, 1, 3, err,
                             sizeof err) ||
        tb_instance_set_list(cfg.parts[TB_PART_MODEL], "hidden", hidden, 1, cases[ci].n_hidden,
                             err, sizeof err))
      return 1;
    cfg.epochs = v == BIG ? 8 : 1000;
    cfg.batch_size = cases[ci].batch;
    cfg.seed = 1;
    if (tb_config_derive(&cfg, err, sizeof err)) return 1;
    tb_data_spec_resolve(&cfg.data, err, sizeof err);
    tb_trainer *t;
    if (tb_trainer_create(&t, &cfg, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    const int steps = v == BIG ? 100 : 2000, warm = v == BIG ? 10 : 50;
    const int D = v == BIG ? 784 : 64; /* blobs dim, digits features */
    for (int i = 0; i < warm; i++) tb_trainer_step(t, err, sizeof err);
    double t0 = now();
    for (int i = 0; i < steps; i++) tb_trainer_step(t, err, sizeof err);
    double step_us = (now() - t0) / steps * 1e6;
    tb_trainer_free(t);
    tb_config_free(&cfg);

    int dims[4] = {D}, L = cases[ci].n_hidden + 1, B = cases[ci].batch;
    for (int l = 0; l < cases[ci].n_hidden; l++) dims[l + 1] = cases[ci].hidden[l];
    dims[L] = 10;
    float *w[4] = {0}, *a[4], *d[4];
    for (int l = 0; l <= L; l++) {
      a[l] = calloc((size_t)B * dims[l], sizeof(float));
      d[l] = calloc((size_t)B * dims[l], sizeof(float));
      if (l) w[l] = calloc((size_t)dims[l] * dims[l - 1], sizeof(float));
    }
    for (int i = 0; i < warm; i++) floor_step(dims, L, B, w, a, d);
    t0 = now();
    for (int i = 0; i < steps; i++) floor_step(dims, L, B, w, a, d);
    double floor_us = (now() - t0) / steps * 1e6;
    for (int l = 0; l <= L; l++) free(a[l]), free(d[l]), free(w[l]);
    char model[48];
    if (v == BIG)
      snprintf(model, sizeof model, "%d-%d-%d-%d blobs", dims[0], dims[1], dims[2], dims[3]);
    else
      snprintf(model, sizeof model, "mlp[%d%s%s]%s", cases[ci].hidden[0],
               cases[ci].n_hidden > 1 ? "," : "", cases[ci].n_hidden > 1 ? "256" : "",
               v == COSINE ? " cosine" : v == STAGED ? " mixup+small" : "");
    printf("%-22s %6d %12.1f %12.1f %8.2f\n", model, B, step_us, floor_us, step_us / floor_us);
  }
  tb_registry_close(reg);
  return 0;
}
