/*
 * test_noalloc.c — the training step allocates nothing: this program
 * replaces malloc/calloc/realloc (forwarding to glibc's) and counts calls
 * while tb_trainer_step runs, for several losses, optimizers and models, with
 * the real plugins; then, with the test-only plugins of tests/plugins, for
 * runs whose loss owns tensors and whose plugins report series, draw fresh
 * batches (next_batch) and evaluate through eval_params, counting the
 * evaluation passes too (a loss that is not a mean sees whole splits), and
 * for a cosine head (built by hand: the script loader would want a loss
 * that reads cos theta) under the eval service, and for a run with every
 * stage of the step at work (label_noise, mixup, small_loss). Not built
 * under sanitizers (they own malloc).
 */
#include <string.h>

#include "../unit/check.h"
#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "tensor.h"
#include "train.h"
#include "util.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static volatile int counting = 0;
static volatile long allocs = 0;

void *malloc(size_t n) {
  if (counting) allocs++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (counting) allocs++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (counting) allocs++;
  return __libc_realloc(p, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  if (counting) allocs++;
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12;
}
void *aligned_alloc(size_t align, size_t n) {
  if (counting) allocs++;
  return __libc_memalign(align, n);
}

/* digits, an mlp of 32 and 16 units with this activation and head, loss and
 * optimizer by name at their defaults, cosine with one epoch of warmup, 3
 * epochs of batches of 100; `staged`: with every stage of the step at work
 * (label_noise, mixup, small_loss). 0, or -1 with the reason in err (the
 * configuration freed). */
static int config_staged(tb_run_config *cfg, tb_registry *reg, const char *loss, const char *opt,
                         const char *activation, const char *head, int staged, char *err,
                         size_t errlen) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->scenario, sizeof cfg->scenario, "noalloc");
  cfg->seed = 1;
  cfg->parts[TB_PART_DATA] = tb_instance_named(reg, TB_KIND_DATASET, "digits", err, errlen);
  tb_instance *m = cfg->parts[TB_PART_MODEL] =
      tb_instance_named(reg, TB_KIND_MODEL, "mlp", err, errlen);
  cfg->parts[TB_PART_LOSS] = tb_instance_named(reg, TB_KIND_LOSS, loss, err, errlen);
  cfg->parts[TB_PART_OPTIMIZER] = tb_instance_named(reg, TB_KIND_OPTIMIZER, opt, err, errlen);
  tb_instance *s = cfg->parts[TB_PART_SCHEDULE] =
      tb_instance_named(reg, TB_KIND_SCHEDULE, "cosine", err, errlen);
  int bad = !cfg->parts[TB_PART_DATA] || !m || !cfg->parts[TB_PART_LOSS] ||
            !cfg->parts[TB_PART_OPTIMIZER] || !s;
  if (!bad && staged) {
    tb_instance *c = cfg->parts[TB_PART_CORRUPTION] =
        tb_instance_named(reg, TB_KIND_CORRUPTION, "label_noise", err, errlen);
    cfg->parts[TB_PART_TRANSFORM] = tb_instance_named(reg, TB_KIND_TRANSFORM, "mixup", err, errlen);
    tb_instance *r = cfg->parts[TB_PART_REDUCTION] =
        tb_instance_named(reg, TB_KIND_REDUCTION, "small_loss", err, errlen);
    bad = !c || !cfg->parts[TB_PART_TRANSFORM] || !r ||
          tb_instance_set_num(c, "rate", 0.3, err, errlen) ||
          tb_instance_set_num(r, "ramp", 1, err, errlen);
  }
  if (bad || tb_instance_set_list(m, "hidden", (const double[]){32, 16}, 1, 2, err, errlen) ||
      tb_instance_set_text(m, "activation", activation, err, errlen) ||
      tb_instance_set_text(m, "head", head, err, errlen) ||
      tb_instance_set_num(s, "warmup", 1, err, errlen)) {
    tb_config_free(cfg);
    return -1;
  }
  cfg->epochs = 3;
  cfg->batch_size = 100; /* 1078 train rows: the last batch is partial */
  if (tb_config_derive(cfg, err, errlen) || tb_data_spec_resolve(&cfg->data, err, errlen)) {
    tb_config_free(cfg);
    return -1;
  }
  return 0;
}
static int config_head(tb_run_config *cfg, tb_registry *reg, const char *loss, const char *opt,
                       const char *activation, const char *head, char *err, size_t errlen) {
  return config_staged(cfg, reg, loss, opt, activation, head, 0, err, errlen);
}
static int config(tb_run_config *cfg, tb_registry *reg, const char *loss, const char *opt,
                  const char *activation, char *err, size_t errlen) {
  return config_head(cfg, reg, loss, opt, activation, "linear", err, errlen);
}

/* The run-time services: steps and evaluation passes allocate nothing. */
static void runtime_services(tb_registry *reg) {
  static const char *pairs[][2] = {{"rt_temp_ce", "rt_avg_sgd"},      /* loss tensor, reports,
                                                                         eval_params */
                                   {"rt_dual_cap", "rt_esgd_probe"},  /* ASCENT + NONNEG,
                                                                         next_batch, eval */
                                   {"rt_sqmean_ce", "rt_avg_sgd"},    /* not a mean */
                                   {"rt_ema_ce", "rt_esgd_probe"},
                                   {"cosface", "rt_esgd_probe"},       /* a cosine head */
                                   {"cross_entropy", "adam"}};  /* every stage at work */
  static const char *what[] = {"", "", "", "", " (cosine head)",
                               " (label_noise, mixup, small_loss)"};
  for (int i = 0; i < 6; i++) {
    tb_run_config cfg;
    char err[TB_ERRLEN];
    if (config_staged(&cfg, reg, pairs[i][0], pairs[i][1], "relu", i == 4 ? "cosine" : "linear",
                      i == 5, err, sizeof err)) {
      CHECK(0, "test plugins %s and %s: %s", pairs[i][0], pairs[i][1], err);
      continue;
    }
    tb_trainer *t;
    if (tb_trainer_create(&t, &cfg, err, sizeof err)) {
      CHECK(0, "trainer for %s/%s: %s", pairs[i][0], pairs[i][1], err);
      tb_trainer_free(t);
      tb_config_free(&cfg);
      continue;
    }
    tb_run_result res;
    memset(&res, 0, sizeof res);
    res.cap_metrics = 4096; /* the result's own arrays grow outside the trainer */
    res.metrics = malloc(sizeof *res.metrics * (size_t)res.cap_metrics);
    tb_trainer_step(t, err, sizeof err);
    tb_trainer_evaluate(t, 0, &res, err, sizeof err);
    allocs = 0;
    counting = 1;
    int rc = 0;
    for (int s = 0; s < 25 && rc == 0; s++) rc = tb_trainer_step(t, err, sizeof err);
    long step_allocs = allocs;
    allocs = 0;
    if (rc == 0) rc = tb_trainer_evaluate(t, 1, &res, err, sizeof err);
    counting = 0;
    CHECK(rc == 0 && step_allocs == 0 && allocs == 0,
          "%s + %s%s: 25 steps, %ld allocations; an evaluation, %ld%s%s", pairs[i][0],
          pairs[i][1], what[i], step_allocs, allocs, rc ? ": " : "",
          rc ? err : "");
    tb_result_free(&res);
    tb_trainer_free(t);
    tb_config_free(&cfg);
  }
}

int main(void) {
  tb_blas_set_threads(1);
  char err[TB_ERRLEN];
  tb_registry *reg;
  if (!getenv("TB_BUILD_PLUGINS")) {
    printf("TB_BUILD_PLUGINS must name the built plugins (run through meson test)\n");
    return 2;
  }
  if (tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err)) {
    printf("cannot load plugins: %s\n", err);
    return 2;
  }
  const char *losses[] = {"cross_entropy", "focal", "brier", "hinge"};
  const char *opts[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
  for (int li = 0; li < 4; li++)
    for (int oi = 0; oi < 5; oi++) {
      tb_run_config cfg;
      if (config(&cfg, reg, losses[li], opts[oi], li % 2 ? "gelu" : "relu", err, sizeof err)) {
        CHECK(0, "configuration %s/%s: %s", losses[li], opts[oi], err);
        continue;
      }
      tb_trainer *t;
      allocs = 0;
      counting = 1;
      int crc = tb_trainer_create(&t, &cfg, err, sizeof err);
      counting = 0;
      if (li == 0 && oi == 0)
        CHECK(allocs > 10, "the counter sees the allocations of tb_trainer_create (%ld)", allocs);
      if (crc) {
        CHECK(0, "trainer for %s/%s: %s", losses[li], opts[oi], err);
        tb_trainer_free(t);
        tb_config_free(&cfg);
        continue;
      }
      /* warm up once (OpenBLAS sets up its buffers on first use), then count */
      tb_trainer_step(t, err, sizeof err);
      allocs = 0;
      counting = 1;
      int rc = 0;
      for (int s = 0; s < 25 && rc == 0; s++) rc = tb_trainer_step(t, err, sizeof err);
      counting = 0;
      CHECK(rc == 0 && allocs == 0, "%s + %s: 25 steps (across an epoch boundary), %ld allocations",
            losses[li], opts[oi], allocs);
      tb_trainer_free(t);
      tb_config_free(&cfg);
    }
  const char *test_plugins = getenv("TB_TEST_PLUGINS");
  for (int i = 0; test_plugins && i < 2; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", test_plugins, i ? "rt_optimizers" : "rt_losses");
    int rc = tb_registry_add_file(reg, path, err, sizeof err);
    CHECK(rc == 0, "the test-only plugins load: %s", rc ? err : path);
  }
  runtime_services(reg);
  tb_registry_close(reg);
  return check_done();
}
