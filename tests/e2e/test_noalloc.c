/*
 * test_noalloc.c — the training step allocates nothing: this program
 * replaces malloc/calloc/realloc (forwarding to glibc's) and counts calls
 * while tb_trainer_step runs, for several losses, optimizers and models, with
 * the real plugins. Not built under sanitizers (they own malloc).
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
      memset(&cfg, 0, sizeof cfg);
      snprintf(cfg.scenario, sizeof cfg.scenario, "noalloc");
      cfg.seed = 1;
      cfg.parts[TB_PART_DATA] = tb_instance_named(reg, TB_KIND_DATASET, "digits", err, sizeof err);
      tb_instance *m = cfg.parts[TB_PART_MODEL] =
          tb_instance_named(reg, TB_KIND_MODEL, "mlp", err, sizeof err);
      tb_instance_set_list(m, "hidden", (const double[]){32, 16}, 1, 2, err, sizeof err);
      tb_instance_set_text(m, "activation", li % 2 ? "gelu" : "relu", err, sizeof err);
      cfg.parts[TB_PART_LOSS] = tb_instance_named(reg, TB_KIND_LOSS, losses[li], err, sizeof err);
      cfg.parts[TB_PART_OPTIMIZER] =
          tb_instance_named(reg, TB_KIND_OPTIMIZER, opts[oi], err, sizeof err);
      tb_instance *s = cfg.parts[TB_PART_SCHEDULE] =
          tb_instance_named(reg, TB_KIND_SCHEDULE, "cosine", err, sizeof err);
      if (!cfg.parts[TB_PART_LOSS] || !cfg.parts[TB_PART_OPTIMIZER] || !s) {
        CHECK(0, "plugins %s, %s and cosine are loaded", losses[li], opts[oi]);
        tb_config_free(&cfg);
        continue;
      }
      tb_instance_set_num(s, "warmup", 1, err, sizeof err);
      cfg.epochs = 3;
      cfg.batch_size = 100; /* 1078 train rows: the last batch is partial */
      if (tb_config_derive(&cfg, err, sizeof err) ||
          tb_data_spec_resolve(&cfg.data, err, sizeof err)) {
        CHECK(0, "configuration: %s", err);
        tb_config_free(&cfg);
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
  tb_registry_close(reg);
  return check_done();
}
