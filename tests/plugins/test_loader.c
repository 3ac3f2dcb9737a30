/*
 * test_loader.c — the plugin loader through real dlopen of built plugins:
 * search order and shadowing via TRAINBENCH_PLUGIN_PATH, two components of
 * one name in one folder, each kind of rejected file with its reason, and
 * the services this host provides (next_batch and report load; a component
 * declaring TB_SERVICE_BASE without a hyperparameter naming a base of its
 * kind is refused), and the checks on a descriptor built in memory.
 * Works on copies of the test plugins laid out in temporary folders.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/check.h"
#include "registry.h"
#include "util.h"

static char tmp[] = "/tmp/tb-loader-XXXXXX";

static void copy(const char *name, const char *dir) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s' && cp '%s/%s.so' '%s/%s/'", tmp, dir,
           getenv("TB_TEST_PLUGINS"), name, tmp, dir);
  if (system(cmd)) {
    fprintf(stderr, "cannot copy %s\n", name);
    exit(2);
  }
}

static const char *problem_for(tb_registry *reg, const char *file) {
  for (int i = 0; i < tb_registry_problem_count(reg); i++)
    if (strstr(tb_registry_problem(reg, i), file)) return tb_registry_problem(reg, i);
  return "";
}

/* never called: the loader's checks only look at which functions are set */
static int mem_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  (void)init, (void)err, (void)errlen;
  *state = NULL;
  return 0;
}
static double mem_eval(void *state, const tb_loss_batch *b) {
  (void)state, (void)b;
  return 0;
}

int main(void) {
  if (!getenv("TB_TEST_PLUGINS") || !getenv("TB_BUILD_PLUGINS")) {
    fprintf(stderr, "TB_TEST_PLUGINS and TB_BUILD_PLUGINS must be set (run through meson test)\n");
    return 2;
  }
  mkdtemp(tmp);
  char err[TB_ERRLEN], path[4200], env[4200];

  /* 1. bundled plugins alone */
  tb_registry *reg;
  setenv("TRAINBENCH_PLUGIN_PATH", "", 1);
  int rc = tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  const tb_component *ce = tb_registry_find(reg, TB_KIND_LOSS, "cross_entropy");
  const tb_component *sgd = tb_registry_find(reg, TB_KIND_OPTIMIZER, "sgd");
  CHECK(rc == 0 && ce && sgd && tb_registry_problem_count(reg) == 0,
        "bundled plugins load without problems (%d components)", tb_registry_count(reg));
  char bundled_ce[4096] = "";
  if (ce) snprintf(bundled_ce, sizeof bundled_ce, "%s", ce->file);
  CHECK(!tb_registry_find(reg, TB_KIND_OPTIMIZER, "fault_segv"),
        "test-only plugins are not on the default search path");
  tb_registry_close(reg);

  /* 2. a folder on TRAINBENCH_PLUGIN_PATH comes first and shadows */
  copy("variant_shadow", "first");
  copy("variant_ok", "first");
  copy("variant_services", "first");
  copy("bad_base", "broken");
  copy("bad_major", "broken");
  copy("bad_abi1", "broken");
  copy("bad_minor", "broken");
  copy("bad_short", "broken");
  copy("bad_noentry", "broken");
  snprintf(path, sizeof path, "%s/broken/notes.so", tmp);
  FILE *f = fopen(path, "w");
  fputs("this is not a shared object\n", f);
  fclose(f);
  snprintf(env, sizeof env, "%s/first:%s/broken", tmp, tmp);
  setenv("TRAINBENCH_PLUGIN_PATH", env, 1);
  rc = tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  CHECK(rc == 0, "loading with a plugin path succeeds: %s", rc ? err : "");
  ce = tb_registry_find(reg, TB_KIND_LOSS, "cross_entropy");
  CHECK(ce && strstr(ce->file, "/first/variant_shadow.so") && ce->n_shadows == 1 &&
            strcmp(ce->shadows[0], bundled_ce) == 0,
        "the first cross_entropy on the path wins and records the bundled one it shadows");
  CHECK(tb_registry_find(reg, TB_KIND_LOSS, "variant_loss") != NULL, "a new loss from the path is loaded");
  CHECK(tb_registry_find(reg, TB_KIND_OPTIMIZER, "sgd") != NULL, "bundled components still load after the path");

  const char *p;
  char want[128];
  p = problem_for(reg, "bad_major.so");
  snprintf(want, sizeof want, "ABI mismatch: plugin built for ABI 3.0, host speaks 2.%d", TB_ABI_MINOR);
  CHECK(strstr(p, want) != NULL, "wrong major: %s", p);
  p = problem_for(reg, "bad_abi1.so");
  snprintf(want, sizeof want, "ABI 1.0: rebuild against 2.%d", TB_ABI_MINOR);
  CHECK(strstr(p, want) != NULL, "a 1.0 plugin: %s", p);
  p = problem_for(reg, "bad_minor.so");
  snprintf(want, sizeof want, "ABI mismatch: plugin built for ABI 2.%d, host speaks 2.%d",
           TB_ABI_MINOR + 99, TB_ABI_MINOR);
  CHECK(strstr(p, want) != NULL, "newer minor: %s", p);
  p = problem_for(reg, "bad_short.so");
  CHECK(strstr(p, "struct tb_loss_def too short") != NULL, "short struct: %s", p);
  p = problem_for(reg, "bad_noentry.so");
  CHECK(strstr(p, "no entry point") && strstr(p, "tb_plugin_entry"), "missing entry symbol: %s", p);
  p = problem_for(reg, "notes.so");
  CHECK(strstr(p, "not a shared object") != NULL, "not a shared object: %s", p);
  const tb_component *sv = tb_registry_find(reg, TB_KIND_LOSS, "services_loss");
  CHECK(sv && sv->services == (TB_SERVICE_NEXT_BATCH | TB_SERVICE_REPORT),
        "a component declaring next_batch and report loads");
  p = problem_for(reg, "bad_base.so");
  CHECK(strstr(p, "loss 'base_loss' declares TB_SERVICE_BASE but has no loss hyperparameter "
                  "of type component to run as its base") != NULL,
        "a component declaring a base it has no hyperparameter for is refused: %s", p);
  CHECK(tb_registry_problem_count(reg) == 7, "exactly the seven broken files are rejected (%d)",
        tb_registry_problem_count(reg));
  tb_registry_close(reg);

  /* 3. two components of one name in one folder: an error naming both files */
  copy("variant_dup_a", "dups");
  copy("variant_dup_b", "dups");
  snprintf(env, sizeof env, "%s/dups", tmp);
  setenv("TRAINBENCH_PLUGIN_PATH", env, 1);
  rc = tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  CHECK(rc != 0 && strstr(err, "loss 'dup_loss' is provided by two files of one folder") &&
            strstr(err, "variant_dup_a.so") && strstr(err, "variant_dup_b.so"),
        "duplicate names in one folder: %s", err);
  tb_registry_close(reg);

  /* 4. one in each of two folders: the first wins, no error */
  copy("variant_dup_b", "dups2");
  snprintf(path, sizeof path, "%s/dups/variant_dup_b.so", tmp);
  unlink(path);
  snprintf(env, sizeof env, "%s/dups:%s/dups2", tmp, tmp);
  setenv("TRAINBENCH_PLUGIN_PATH", env, 1);
  rc = tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  const tb_component *d = rc == 0 ? tb_registry_find(reg, TB_KIND_LOSS, "dup_loss") : NULL;
  CHECK(d && strstr(d->file, "/dups/variant_dup_a.so") && d->n_shadows == 1,
        "same name in two folders: the earlier folder wins");
  tb_registry_close(reg);

  /* 5. adding one file directly reports its problem */
  tb_registry_open(&reg, NULL, err, sizeof err);
  snprintf(path, sizeof path, "%s/broken/bad_major.so", tmp);
  rc = tb_registry_add_file(reg, path, err, sizeof err);
  CHECK(rc != 0 && strstr(err, "bad_major.so") && strstr(err, "ABI mismatch"), "add_file names the file: %s", err);
  tb_registry_close(reg);

  /* 6. hyperparameter checks through the table */
  setenv("TRAINBENCH_PLUGIN_PATH", "", 1);
  tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  sgd = tb_registry_find(reg, TB_KIND_OPTIMIZER, "sgd");
  if (sgd) {
    double hp[TB_MAX_HP];
    tb_hparams_defaults(sgd, hp);
    CHECK(tb_hparams_check(sgd, hp, -1, err, sizeof err) == 0, "sgd defaults are valid");
    hp[tb_hparam_index(sgd, "lr")] = -1;
    rc = tb_hparams_check(sgd, hp, -1, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "optimizer 'sgd': 'lr' = -1 is out of range ["), "range error: %s", err);
    tb_hparams_defaults(sgd, hp);
    hp[tb_hparam_index(sgd, "nesterov")] = 1;
    rc = tb_hparams_check(sgd, hp, -1, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "optimizer 'sgd':") && strstr(err, "nesterov"),
          "validate hook: nesterov without momentum: %s", err);
  }
  tb_registry_close(reg);

  /* 7. the same checks on a descriptor in memory (what tests/fuzz drives):
   * a table declared but missing is refused as such, not as a bad count */
  static const tb_hparam gamma_row[] = {
      {.name = "gamma", .type = TB_HP_REAL, .def = 1, .min = 0, .max = 5}};
  tb_loss_def mem_loss = {TB_DEF_SIZES(tb_loss_def), .name = "mem_loss", .version = "1",
                          .hparams = gamma_row, .n_hparams = 1,
                          .create = mem_create, .eval = mem_eval};
  const tb_loss_def *mem_losses[] = {&mem_loss, NULL};
  tb_plugin mem = {TB_PLUGIN_HEADER, mem_losses, NULL, NULL};
  reg = tb_registry_new();
  rc = tb_registry_add_descriptor(reg, &mem, "/mem/loss.so", "0", err, sizeof err);
  CHECK(rc == 0 && tb_registry_find(reg, TB_KIND_LOSS, "mem_loss"),
        "a descriptor in memory loads through the loader's checks");
  tb_registry_close(reg);
  mem_loss.hparams = NULL;
  reg = tb_registry_new();
  rc = tb_registry_add_descriptor(reg, &mem, "/mem/loss.so", "0", err, sizeof err);
  CHECK(rc != 0 && strstr(err, "plugin '/mem/loss.so': bad component: loss 'mem_loss': 1 "
                              "hyperparameters declared but no table"),
        "n_hparams without a table: %s", err);
  tb_registry_close(reg);

  snprintf(path, sizeof path, "rm -rf '%s'", tmp);
  if (system(path)) return 2;
  return check_done();
}
