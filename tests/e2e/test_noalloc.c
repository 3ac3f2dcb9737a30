/*
 * test_noalloc.c — the training step allocates nothing: this program
 * replaces malloc/calloc/realloc (forwarding to glibc's) and counts calls
 * while tb_trainer_step runs, for several losses, optimizers and models, with
 * the real plugins. Not built under sanitizers (they own malloc).
 */
#include <string.h>

#include "../unit/check.h"
#include "config.h"
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
      snprintf(cfg.data.name, sizeof cfg.data.name, "digits");
      cfg.data.split[0] = 0.6, cfg.data.split[1] = 0.2, cfg.data.split[2] = 0.2;
      cfg.data.standardize = 1;
      cfg.model.kind = TB_MODEL_MLP;
      cfg.model.n_hidden = 2;
      cfg.model.hidden[0] = 32, cfg.model.hidden[1] = 16;
      cfg.model.activation = li % 2 ? TB_ACT_GELU : TB_ACT_RELU;
      cfg.model.init = TB_INIT_DEFAULT;
      cfg.loss = tb_registry_find(reg, TB_KIND_LOSS, losses[li]);
      cfg.opt = tb_registry_find(reg, TB_KIND_OPTIMIZER, opts[oi]);
      if (!cfg.loss || !cfg.opt) {
        CHECK(0, "plugins %s and %s are loaded", losses[li], opts[oi]);
        continue;
      }
      tb_hparams_defaults(cfg.loss, cfg.loss_hp);
      tb_hparams_defaults(cfg.opt, cfg.opt_hp);
      cfg.sched.kind = TB_SCHED_COSINE;
      cfg.sched.warmup = 1;
      cfg.epochs = 3;
      cfg.batch_size = 100; /* 1078 train rows: the last batch is partial */
      tb_data_spec_resolve(&cfg.data, err, sizeof err);
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
    }
  tb_registry_close(reg);
  return check_done();
}
