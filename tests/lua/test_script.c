/*
 * test_script.c — the `lua` suite: real scenario scripts (the .lua files here)
 * loaded through tb_script_load against plugins opened by the real loader.
 *
 * Usage: test_script GROUP HPTYPES_SO
 *   hptypes  registry = the test plugin tests/lua/hptypes.c only: expansion
 *            counts and order, resolved values, canonical JSON, every error
 *            with its exact file and line
 *   nested   registry = hptypes, hpnest (tests/lua/hpnest.c) and the built
 *            schedules: the types beyond the scalars, components inside
 *            components (values, errors with their path, equivalent
 *            spellings), K-aware checks, `requires` (and the reverse: a cosine
 *            head needs a loss that reads cos theta), and the property test
 *            (every leaf of a configuration is part of its identity)
 *   plugins  registry = the built plugins (TB_BUILD_PLUGINS): the quickstart
 *            of the documentation and errors from real plugins; skipped
 *            (exit 77) while those plugins are not built
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <sqlite3.h>

#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "script.h"
#include "train.h"
#include "util.h"

static int failures;
static const char *root;    /* the source tree */
static char dir[PATH_MAX];  /* tests/lua in it */
static tb_registry *reg;

#define CHECK(cond, ...)                                     \
  do {                                                       \
    if (!(cond)) {                                           \
      failures++;                                            \
      fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                          \
      fputc('\n', stderr);                                   \
    }                                                        \
  } while (0)

static const char *script(const char *name) {
  static char bufs[4][PATH_MAX + 64];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
  return b;
}

/* Load a script that must succeed. */
static int load(const char *path, tb_sweep *sw) {
  char err[TB_ERRLEN];
  if (tb_script_load(path, reg, sw, err, sizeof err)) {
    CHECK(0, "loading %s failed: %s", path, err);
    return -1;
  }
  return 0;
}

/* Load a script that must fail with a message starting "PATH:LINE: " (or
 * "PATH: " when line is 0) and containing `want`. */
static void expect_error_at(const char *path, int line, const char *want) {
  tb_sweep sw;
  char err[TB_ERRLEN] = "", prefix[PATH_MAX + 96];
  if (line)
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
  else
    snprintf(prefix, sizeof prefix, "%s: ", path);
  int rc = tb_script_load(path, reg, &sw, err, sizeof err);
  CHECK(rc != 0, "%s: loaded but should have failed", path);
  CHECK(sw.n_runs == 0 && sw.runs == NULL && sw.n_scenarios == 0,
        "%s: a failed load left runs behind", path);
  if (rc == 0) tb_sweep_free(&sw);
  CHECK(strncmp(err, prefix, strlen(prefix)) == 0, "%s: message does not start with '%s': %s",
        path, prefix, err);
  CHECK(strstr(err, want) != NULL, "%s: message lacks '%s': %s", path, want, err);
}

static void expect_error(const char *name, int line, const char *want) {
  expect_error_at(script(name), line, want);
}

/* tb_hparams_check's range message, with numbers written as the core writes them */
static const char *range_msg(const char *component, const char *hp, double v, double lo,
                             double hi) {
  static char buf[256];
  char a[64], b[64], x[64];
  tb_fmt_real(x, sizeof x, v);
  tb_fmt_real(a, sizeof a, lo);
  tb_fmt_real(b, sizeof b, hi);
  snprintf(buf, sizeof buf, "%s: '%s' = %s is out of range [%s, %s]", component, hp, x, a, b);
  return buf;
}

static const tb_component *find(int kind, const char *name) {
  return tb_registry_find(reg, kind, name);
}

static int hp_of(const tb_component *c, const char *name) {
  int i = tb_hparam_index(c, name);
  if (i < 0) {
    fprintf(stderr, "no hyperparameter '%s' in '%s'\n", name, c->name);
    exit(1);
  }
  return i;
}

static double loss_hp(const tb_run_config *r, const char *name) {
  return r->loss_hp[hp_of(r->loss, name)];
}
static double opt_hp(const tb_run_config *r, const char *name) {
  return r->opt_hp[hp_of(r->opt, name)];
}

/* The run's schedule is `name` (a plugin) with hyperparameter values. */
static int sched_is(const tb_run_config *r, const char *name) {
  return r->sched && strcmp(r->sched->name, name) == 0;
}
static double sched_hp(const tb_run_config *r, const char *name) {
  return tb_instance_num(r->parts[TB_PART_SCHEDULE], name);
}

static int all_hashes_distinct(const tb_sweep *sw) {
  for (int i = 0; i < sw->n_runs; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(sw->runs[i].hash, sw->runs[j].hash) == 0) return 0;
  return 1;
}

/* ---- hptypes group --------------------------------------------------------- */

static void test_quickstart_shape(void) {
  tb_sweep sw;
  if (load(script("grid_quickstart_hp.lua"), &sw)) return;
  CHECK(sw.n_scenarios == 1, "%d scenarios", sw.n_scenarios);
  CHECK(strcmp(sw.scenarios[0].name, "quickstart") == 0, "name %s", sw.scenarios[0].name);
  CHECK(strstr(sw.scenarios[0].script_text, "3 losses x 6 optimizers") != NULL,
        "script_text is not the file");
  CHECK(strcmp(sw.scenarios[0].script_path, script("grid_quickstart_hp.lua")) == 0,
        "script_path %s", sw.scenarios[0].script_path);
  CHECK(sw.n_runs == 54, "quickstart shape: %d runs, want 54", sw.n_runs);
  if (sw.n_runs != 54) goto out;
  CHECK(all_hashes_distinct(&sw), "two runs share a hash");
  /* order: loss (slowest), optimizer, seed (fastest) */
  static const double lrs[6] = {1e-2, 1e-1, 1, 1e-4, 1e-3, 1e-2};
  static const double orders[3] = {2, 1, 3};
  for (int i = 0; i < 54; i++) {
    const tb_run_config *r = &sw.runs[i];
    int li = i / 18, oi = (i / 3) % 6, si = i % 3;
    CHECK(r->seed == si + 1, "run %d: seed %lld", i, (long long)r->seed);
    CHECK(loss_hp(r, "order") == orders[li], "run %d: order %g", i, loss_hp(r, "order"));
    CHECK(opt_hp(r, "lr") == lrs[oi], "run %d: lr %.17g want %.17g", i, opt_hp(r, "lr"),
          lrs[oi]);
    CHECK(opt_hp(r, "momentum") == (oi < 3 ? 0.9 : 0), "run %d: momentum", i);
    CHECK(opt_hp(r, "mode") == (oi < 3 ? 1 : 0), "run %d: mode %g", i, opt_hp(r, "mode"));
    CHECK(r->epochs == 20 && r->batch_size == 64, "run %d: epochs/batch", i);
    CHECK(r->model.kind == TB_MODEL_MLP && r->model.n_hidden == 1 &&
              r->model.hidden[0] == 128 && r->model.activation == TB_ACT_RELU &&
              r->model.init == TB_INIT_DEFAULT,
          "run %d: model", i);
    CHECK(sched_is(r, "cosine") && sched_hp(r, "warmup") == 2 && sched_hp(r, "min_factor") == 0,
          "run %d: schedule", i);
    CHECK(strcmp(r->data.name, "digits") == 0 && r->data.split[0] == 0.6 &&
              r->data.split[1] == 0.2 && r->data.split[2] == 0.2 && r->data.standardize == 1,
          "run %d: data", i);
    CHECK(strcmp(r->scenario, "quickstart") == 0, "run %d: scenario", i);
  }
  const tb_data_spec *d = &sw.runs[0].data;
  size_t n = strlen(d->path);
  CHECK(n > 14 && strcmp(d->path + n - 14, "/digits.csv.gz") == 0, "digits path %s", d->path);
  char h[TB_HASHLEN], err[TB_ERRLEN];
  CHECK(tb_hash_file(h, d->path, err, sizeof err) == 0 && strcmp(h, d->content_hash) == 0,
        "digits content hash");
  CHECK(strstr(sw.runs[0].json, "\"name\":\"hp_loss\"") != NULL, "json: %s", sw.runs[0].json);
out:
  tb_sweep_free(&sw);
  CHECK(sw.runs == NULL && sw.n_runs == 0, "tb_sweep_free left runs");
}

static void test_depth(void) {
  tb_sweep sw;
  if (load(script("grid_depth.lua"), &sw)) return;
  CHECK(sw.n_scenarios == 2, "%d scenarios", sw.n_scenarios);
  /* depth: data 2 + 3 = 5, epochs 2, loss 1 + 3 = 4, model 2 x 2 = 4 */
  int depth = 0, nested = 0;
  for (int i = 0; i < sw.n_runs; i++) {
    if (strcmp(sw.runs[i].scenario, "depth") == 0) depth++;
    if (strcmp(sw.runs[i].scenario, "nested") == 0) nested++;
  }
  CHECK(depth == 160, "depth: %d runs, want 160", depth);
  /* nested: loss 2 x steps 4 x seeds 4 */
  CHECK(nested == 32, "nested: %d runs, want 32", nested);
  CHECK(sw.n_runs == 192 && all_hashes_distinct(&sw), "%d runs", sw.n_runs);
  if (sw.n_runs != 192) goto out;
  /* index = ((data * 2 + epochs) * 4 + loss) * 4 + model; model = activation * 2 + width */
  static const double weights[4] = {1, 1, 1.5, 2};
  for (int i = 0; i < 160; i++) {
    const tb_run_config *r = &sw.runs[i];
    int di = i / 32, ei = (i / 16) % 2, li = (i / 4) % 4, ai = (i / 2) % 2, wi = i % 2;
    CHECK(r->batch_size == 0 && r->epochs == ei + 1, "run %d: epochs %d", i, r->epochs);
    if (di < 2) {
      CHECK(strcmp(r->data.name, "iris") == 0, "run %d: %s", i, r->data.name);
      CHECK(r->data.split[0] == (di == 0 ? 0.5 : 1) && r->data.split[1] == (di == 0 ? 0.25 : 0) &&
                r->data.split[2] == (di == 0 ? 0.25 : 0),
            "run %d: split", i);
    } else {
      CHECK(strcmp(r->data.name, "blobs") == 0 && r->data.n == 100 * (di - 1) &&
                r->data.classes == 4 && r->data.dim == 2 && r->data.separation == 3,
            "run %d: blobs n %d", i, r->data.n);
    }
    CHECK(loss_hp(r, "weight") == weights[li], "run %d: weight %g", i, loss_hp(r, "weight"));
    CHECK(loss_hp(r, "flag") == (li == 0) && loss_hp(r, "reduce") == (li == 0 ? 2 : 0),
          "run %d: flag/reduce", i);
    CHECK(r->model.n_hidden == 2 && r->model.hidden[0] == (wi ? 32 : 16) &&
              r->model.hidden[1] == 8,
          "run %d: hidden", i);
    CHECK(r->model.activation == (ai ? TB_ACT_GELU : TB_ACT_TANH), "run %d: activation", i);
    CHECK(r->opt == find(TB_KIND_OPTIMIZER, "hp_opt") && opt_hp(r, "lr") == 0.1, "run %d: opt",
          i);
  }
  /* nested: loss (default, order 7) x steps (1, 2, 3, 4) x seeds (9, 8, 7, 6) */
  for (int i = 0; i < 32; i++) {
    const tb_run_config *r = &sw.runs[160 + i];
    CHECK(loss_hp(r, "order") == (i < 16 ? 2 : 7), "nested %d: order", i);
    CHECK(opt_hp(r, "steps") == (i / 4) % 4 + 1, "nested %d: steps %g", i, opt_hp(r, "steps"));
    CHECK(r->seed == 9 - i % 4, "nested %d: seed %lld", i, (long long)r->seed);
  }
out:
  tb_sweep_free(&sw);
}

static void test_seeds_and_dedupe(void) {
  tb_sweep sw;
  if (load(script("grid_seeds.lua"), &sw)) return;
  CHECK(sw.n_scenarios == 4, "%d scenarios", sw.n_scenarios);
  static const struct {
    const char *scenario;
    long long seed;
    double weight;
  } want[] = {{"list", 5, 1},  {"list", 3, 1},    {"range", 10, 1}, {"range", 6, 1},
              {"range", 2, 1}, {"default", 1, 1}, {"dupes", 1, 1},  {"dupes", 1, 2}};
  int n = (int)(sizeof want / sizeof *want);
  CHECK(sw.n_runs == n, "%d runs, want %d (duplicates run once)", sw.n_runs, n);
  for (int i = 0; i < n && i < sw.n_runs; i++) {
    const tb_run_config *r = &sw.runs[i];
    CHECK(strcmp(r->scenario, want[i].scenario) == 0 && r->seed == want[i].seed &&
              loss_hp(r, "weight") == want[i].weight,
          "run %d: %s seed %lld weight %g", i, r->scenario, (long long)r->seed,
          loss_hp(r, "weight"));
    /* the helper module's dataset */
    CHECK(strcmp(r->data.name, "iris") == 0 && r->data.split[0] == 0.5 &&
              r->data.split[1] == 0.5 && r->data.split[2] == 0,
          "run %d: data", i);
  }
  CHECK(all_hashes_distinct(&sw), "duplicates left");
  tb_sweep_free(&sw);
}

static void check_values(const tb_sweep *sw, const char *csv) {
  CHECK(sw->n_scenarios == 2 && sw->n_runs == 2, "%d scenarios, %d runs", sw->n_scenarios,
        sw->n_runs);
  if (sw->n_runs != 2) return;
  const tb_run_config *r = &sw->runs[0];
  const tb_data_spec *d = &r->data;
  char real[PATH_MAX], h[TB_HASHLEN], err[TB_ERRLEN];
  CHECK(realpath(csv, real) != NULL, "realpath %s", csv);
  CHECK(strcmp(d->name, "csv") == 0 && strcmp(d->path, real) == 0, "csv path %s, want %s",
        d->path, real);
  CHECK(tb_hash_file(h, real, err, sizeof err) == 0 && strcmp(h, d->content_hash) == 0,
        "csv content hash");
  CHECK(d->label_col == 0 && d->header == 0 && d->standardize == 0, "csv options");
  CHECK(d->split[0] == 0.8 && d->split[1] == 0 && d->split[2] == 0.2, "csv split");
  CHECK(d->has_split_seed && d->split_seed == 7, "split seed");
  /* given and defaults, in every type */
  CHECK(r->loss == find(TB_KIND_LOSS, "hp_loss"), "loss");
  CHECK(loss_hp(r, "weight") == 1 && loss_hp(r, "order") == 5 && loss_hp(r, "flag") == 1 &&
            loss_hp(r, "reduce") == 1,
        "loss hp %g %g %g %g", loss_hp(r, "weight"), loss_hp(r, "order"), loss_hp(r, "flag"),
        loss_hp(r, "reduce"));
  CHECK(opt_hp(r, "lr") == 0.1 && opt_hp(r, "momentum") == 0 && opt_hp(r, "steps") == 3 &&
            opt_hp(r, "boost") == 1 && opt_hp(r, "mode") == 1,
        "optimizer hp");
  CHECK(r->model.kind == TB_MODEL_LINEAR && r->model.init == TB_INIT_DEFAULT &&
            r->model.n_hidden == 0,
        "default model");
  CHECK(sched_is(r, "step") && sched_hp(r, "every") == 2.5 && sched_hp(r, "gamma") == 0.1 &&
            sched_hp(r, "warmup") == 0,
        "step schedule");
  CHECK(r->epochs == 3 && r->batch_size == 32 && r->seed == 1 && r->timeout == 1.5,
        "epochs %d batch %d seed %lld timeout %g", r->epochs, r->batch_size, (long long)r->seed,
        r->timeout);
  /* the identity holds what differs from the defaults, typed */
  CHECK(strstr(r->json, "\"loss\":{\"hp\":{\"flag\":true,\"order\":5,\"reduce\":\"sum\"},"
                        "\"name\":\"hp_loss\",\"version\":\"1\"}") &&
            strstr(r->json, "\"optimizer\":{\"hp\":{\"boost\":true,\"steps\":3},") &&
            strstr(r->json, "\"model\":{\"name\":\"linear\",\"version\":\"1\"}") &&
            strstr(r->json, "\"label\":1,\"split\":{\"test\":0.2,\"train\":0.8,\"val\":0},"
                            "\"split_seed\":7,") &&
            !strstr(r->json, "\"mode\"") && !strstr(r->json, "timeout") &&
            !strstr(r->json, "small.csv"),
        "json: %s", r->json);
  char hash[TB_HASHLEN];
  tb_hash_bytes(hash, r->json, strlen(r->json));
  CHECK(strcmp(hash, r->hash) == 0, "hash is not the json's");

  r = &sw->runs[1];
  d = &r->data;
  CHECK(strcmp(d->name, "blobs") == 0 && d->n == 600 && d->classes == 3 && d->dim == 2 &&
            d->separation == 3 && d->standardize == 1 && !d->has_split_seed,
        "blobs defaults");
  CHECK(d->split[0] == 0.6 && d->split[1] == 0.2 && d->split[2] == 0.2, "default split");
  CHECK(d->content_hash[0] != 0, "blobs content hash");
  CHECK(sched_is(r, "constant") && sched_hp(r, "warmup") == 0 && r->timeout == 0,
        "default schedule");
  CHECK(loss_hp(r, "weight") == 1 && loss_hp(r, "order") == 2 && loss_hp(r, "flag") == 0 &&
            loss_hp(r, "reduce") == 0,
        "loss defaults");
}

static void test_values(void) {
  tb_sweep sw;
  if (load(script("values.lua"), &sw) == 0) {
    check_values(&sw, script("small.csv"));
    tb_sweep_free(&sw);
  }
  /* the CSV path is relative to the script's folder, not to the working one */
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || chdir(root)) {
    CHECK(0, "chdir %s", root);
    return;
  }
  if (load("tests/lua/values.lua", &sw) == 0) {
    check_values(&sw, "tests/lua/small.csv");
    CHECK(strcmp(sw.scenarios[0].script_path, "tests/lua/values.lua") == 0,
          "script_path as given: %s", sw.scenarios[0].script_path);
    tb_sweep_free(&sw);
  }
  expect_error_at("tests/lua/err_range.lua", 5, range_msg("optimizer 'hp_opt'", "lr", 20, 0, 10));
  CHECK(chdir(cwd) == 0, "chdir back");
}

/* Each distinct dataset is loaded once, in the parent, and every run points
 * at it with the content hash of the bytes it was parsed from. */
static void test_data_shared(void) {
  tb_sweep sw;
  if (load(script("data_shared.lua"), &sw)) return;
  CHECK(sw.n_runs == 16, "%d runs, want 16", sw.n_runs);
  CHECK(sw.n_datasets == 3, "%d datasets loaded, want 3 (small.csv, iris, blobs)",
        sw.n_datasets);
  const void *first[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < sw.n_runs; i++) {
    const tb_run_config *r = &sw.runs[i];
    const tb_dataset *ds = r->data.loaded;
    int owned = 0;
    for (int j = 0; j < sw.n_datasets; j++) owned |= sw.datasets[j] == ds;
    CHECK(ds && owned, "run %d: data not loaded by the sweep", i);
    if (!ds) continue;
    CHECK(strcmp(ds->content_hash, r->data.content_hash) == 0, "run %d: hash differs", i);
    int alt = (i / 2) % 4; /* data varies slower than the seed */
    if (!first[alt]) first[alt] = ds;
    CHECK(first[alt] == ds, "run %d: another copy of the same dataset", i);
  }
  CHECK(first[0] == first[1] && first[1] != first[2] && first[2] != first[3],
        "splits share one dataset, other files do not");
  const tb_dataset *csv = first[0];
  CHECK(csv && csv->n == 10 && csv->d == 2 && csv->k == 2, "small.csv: %d x %d, %d classes",
        csv ? csv->n : -1, csv ? csv->d : -1, csv ? csv->k : -1);
  char h[TB_HASHLEN], err[TB_ERRLEN];
  CHECK(tb_hash_file(h, script("small.csv"), err, sizeof err) == 0 && csv &&
            strcmp(h, csv->content_hash) == 0,
        "the dataset's hash is the file's");
  tb_sweep_free(&sw);
  CHECK(sw.datasets == NULL && sw.n_datasets == 0, "tb_sweep_free left datasets");
}

static void test_equivalent(void) {
  tb_sweep a, b, c;
  if (load(script("eq_a.lua"), &a)) return;
  if (load(script("eq_b.lua"), &b) == 0) {
    CHECK(a.n_runs == 1 && b.n_runs == 1, "runs %d %d", a.n_runs, b.n_runs);
    CHECK(strcmp(a.runs[0].json, b.runs[0].json) == 0, "json differs:\n%s\n%s", a.runs[0].json,
          b.runs[0].json);
    CHECK(strcmp(a.runs[0].hash, b.runs[0].hash) == 0, "hash differs");
    CHECK(a.runs[0].timeout == 0 && b.runs[0].timeout == 60, "timeouts");
    tb_sweep_free(&b);
  }
  if (load(script("eq_c.lua"), &c) == 0) {
    CHECK(strcmp(a.runs[0].hash, c.runs[0].hash) != 0, "one ulp of lr does not change the hash");
    CHECK(strstr(c.runs[0].json, "\"lr\":0.010000000000000002") != NULL, "json: %s",
          c.runs[0].json);
    tb_sweep_free(&c);
  }
  tb_sweep_free(&a);
}

static void test_random(void) {
  tb_sweep a, b;
  if (load(script("random.lua"), &a)) return;
  if (load(script("random.lua"), &b) == 0) {
    CHECK(a.n_runs == 4 && b.n_runs == 4, "runs %d %d", a.n_runs, b.n_runs);
    for (int i = 0; i < a.n_runs && i < b.n_runs; i++)
      CHECK(strcmp(a.runs[i].hash, b.runs[i].hash) == 0, "run %d differs between loads", i);
    CHECK(all_hashes_distinct(&a), "random values repeat");
    /* oracle: the same draws in a bare Lua state seeded with math.randomseed(0) */
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, "math.randomseed(0) local t = {} "
                         "for i = 1, 4 do t[i] = 10 ^ (-4 + 3 * math.random()) end "
                         "return t[1], t[2], t[3], t[4]")) {
      CHECK(0, "oracle: %s", lua_tostring(L, -1));
    } else {
      for (int i = 0; i < a.n_runs && i < 4; i++) {
        double lr = opt_hp(&a.runs[i], "lr"), want = lua_tonumber(L, i + 1);
        CHECK(lr == want, "run %d: lr %.17g, want %.17g (seeded with 0)", i, lr, want);
      }
    }
    lua_close(L);
    tb_sweep_free(&b);
  }
  tb_sweep_free(&a);
}

static void test_errors(void) {
  expect_error("err_unknown_loss.lua", 6, "unknown loss 'hp_losss' (valid: hp_loss)");
  expect_error("err_unknown_opt.lua", 8, "unknown optimizer 'adamw' (valid: hp_opt)");
  expect_error("err_unknown_hp.lua", 4,
               "optimizer 'hp_opt': unknown hyperparameter 'mom' (valid: boost, lr, mode, "
               "momentum, steps)");
  expect_error("err_range.lua", 5, range_msg("optimizer 'hp_opt'", "lr", 20, 0, 10));
  expect_error("err_int.lua", 4, "loss 'hp_loss': 'order' = 2.5 is not an integer");
  expect_error("err_bool.lua", 5, "loss 'hp_loss': 'flag' must be a boolean, got 1");
  expect_error("err_choice.lua", 4,
               "loss 'hp_loss': 'reduce' must be one of: max, mean, sum, got 'median'");
  expect_error("err_validate.lua", 5, "optimizer 'hp_opt': 'boost' requires 'steps' >= 2");
  expect_error("err_validate_loss.lua", 7, "loss 'hp_loss': 'reduce' = 'max' needs 'flag' = true");
  expect_error("err_scenario_key.lua", 4,
               "scenario 'q': unknown key 'epoch' (valid: batch_size, corruption, data, epochs, "
               "loss, model, name, optimizer, reduction, schedule, seeds, timeout, transform)");
  expect_error("err_scenario_missing.lua", 6, "scenario 'q': missing key 'loss'");
  expect_error("err_epochs.lua", 8, "scenario 'q': 'epochs' must be an integer >= 1, got 0");
  expect_error("err_epochs_plain.lua", 4, "scenario 'q': 'epochs' must be an integer >= 1");
  expect_error("err_data_key.lua", 4,
               "tb.data.digits: unknown key 'splt' (valid: split, split_seed, standardize)");
  expect_error("err_split_sum.lua", 4, "tb.data.iris: 'split' fractions must sum to 1, got "
               "1.0999999999999999 (train 0.6 + val 0.3 + test 0.2)");
  expect_error("err_activation.lua", 4,
               "tb.model.mlp: 'activation' must be one of: gelu, relu, tanh, got 'sigmoid'");
  expect_error("err_init.lua", 5,
               "tb.model.linear: 'init' must be one of: default, glorot, he, zeros, got 'xavier'");
  expect_error("err_schedule_key.lua", 3,
               "schedule 'cosine': unknown hyperparameter 'warmpu' (valid: min_factor, warmup)");
  expect_error("err_schedule_name.lua", 4,
               "unknown schedule 'onecycle' (valid: constant, cosine, linear, step)");
  expect_error("err_step_every.lua", 3, "schedule 'step': missing key 'every'");
  expect_error("err_grid_empty.lua", 4, "tb.grid: empty list of alternatives");
  expect_error("err_grid_arg.lua", 4, "tb.grid: expected a list of alternatives, got 3");
  expect_error("err_logspace.lua", 5, "tb.logspace: 'n' must be an integer in [1, ");
  expect_error("err_range_arg.lua", 4, "tb.range: empty range from 5 to 1 with step 1");
  expect_error("err_csv_missing.lua", 5,
               "tb.data.csv: 'path' = 'no_such_file.csv': cannot open ");
  expect_error("err_csv_missing.lua", 5, "/tests/lua/no_such_file.csv: No such file or directory");
  expect_error("err_syntax.lua", 5, "'}' expected (to close '{' at line 3) near 'data'");
  expect_error("err_runtime.lua", 6, "attempt to call a nil value (global 'undefined_function')");
  expect_error("err_shebang.lua", 4, "tb.data.iris: 'standardize' must be a boolean, got 'yes'");
  expect_error("err_helper_line.lua", 7, range_msg("optimizer 'hp_opt'", "lr", 11, 0, 10));
  expect_error("err_dup_scenario.lua", 5, "scenario 'q' is declared twice (first at ");
  expect_error("err_dup_scenario.lua", 5, "err_dup_scenario.lua:3)");
  expect_error("err_no_scenario.lua", 0, "the script declares no scenario");
  expect_error("err_seeds.lua", 3,
               "scenario 'q': 'seeds' must be a list of integers or tb.range(a, b), got 3 (for "
               "one seed write {3})");
  expect_error("err_hidden.lua", 4,
               "tb.model.mlp: 'hidden' must be a list of 1 to 16 integers in [1, 65536], got 64");
  expect_error("err_blobs.lua", 4, "tb.data.blobs: 'n' = 2 must be at least 'classes' = 3");
  expect_error("err_plain_table.lua", 3,
               "optimizer 'hp_opt': 'lr' must be a number, got a table (use tb.grid{...} for "
               "alternatives)");
  expect_error("err_data_type.lua", 4,
               "scenario 'q': 'data' must be a dataset from tb.data.*, got tb.model.linear");
  expect_error("err_loss_as_opt.lua", 4,
               "scenario 'q': 'optimizer' must be an optimizer name or tb.optimizer(...), got "
               "loss 'hp_loss'");
  expect_error("err_timeout.lua", 3, "scenario 'q': 'timeout' must be a number of seconds > 0");
  expect_error("err_batch.lua", 3, "scenario 'q': 'batch_size' must be an integer >= 0");
  expect_error("err_split_key.lua", 3,
               "tb.data.wine: 'split': unknown key 'tset' (valid: test, train, val)");
  expect_error("err_dataset_name.lua", 4,
               "unknown dataset 'mnist' (valid: blobs, breast_cancer, csv, digits, iris, wine)");
  /* sizes past the limits of util.h, and data errors, at the line responsible */
  expect_error("err_hidden_width.lua", 4,
               "tb.model.mlp: 'hidden' = 2147483647 at position 2 is out of range [1, 65536]");
  expect_error("err_blobs_size.lua", 4,
               "tb.data.blobs: 'n' x 'dim' = 100000 x 30000 = 3000000000 values, more than the "
               "limit of 268435456");
  expect_error("err_params.lua", 4,
               "tb.model.mlp: 'hidden' = {65536, 65536} gives 4295557123 parameters on 4 "
               "features and 3 classes, more than the limit of 268435456");
  expect_error("err_workspace.lua", 4,
               "scenario 'q': 'batch_size' = 0 (full batch): passes of 20000 rows through "
               "layers up to 65536 wide need ");
  expect_error("err_workspace.lua", 4, "floats of workspace, more than the limit of 1073741824");
  expect_error("err_csv_cell.lua", 4, "tb.data.csv: ");
  expect_error("err_csv_cell.lua", 4, "/tests/lua/bad_cell.csv:3:5: field 2: 'abc' is not a number");

  /* Lua cuts chunk names to LUA_IDSIZE; the message still names the whole path */
  char longpath[PATH_MAX + 256];
  snprintf(longpath, sizeof longpath, "%s/./././././././././././././././././././././err_syntax.lua",
           dir);
  expect_error_at(longpath, 5, "'}' expected");
  snprintf(longpath, sizeof longpath, "%s/./././././././././././././././././././././err_runtime.lua",
           dir);
  expect_error_at(longpath, 6, "attempt to call a nil value");

  tb_sweep sw;
  char err[TB_ERRLEN];
  CHECK(tb_script_load(script("no_such_script.lua"), reg, &sw, err, sizeof err) != 0 &&
            strstr(err, "cannot open script") && strstr(err, "no_such_script.lua"),
        "missing script: %s", err);
}

/* ---- nested group: the types beyond the scalars, components in components ---- */

static const tb_instance *part(const tb_run_config *r, int p) { return r->parts[p]; }

static void test_nested_values(void) {
  tb_sweep sw;
  if (load(script("nest_values.lua"), &sw)) return;
  CHECK(sw.n_runs == 4, "nest: %d runs, want 4 (2 hidden x 2 base lr)", sw.n_runs);
  for (int i = 0; i < sw.n_runs && sw.n_runs == 4; i++) {
    const tb_run_config *r = &sw.runs[i];
    const tb_instance *o = part(r, TB_PART_OPTIMIZER), *l = part(r, TB_PART_LOSS);
    const tb_instance *base = o->child[tb_instance_at(o, "base")];
    CHECK(base && strcmp(base->comp->name, "hp_opt") == 0 &&
              tb_instance_num(base, "lr") == (i % 2 ? 0.2 : 0.1),
          "run %d: the base is hp_opt with lr %g", i, base ? tb_instance_num(base, "lr") : -1);
    const tb_value *mix = tb_instance_value(o, "mix"), *widths = tb_instance_value(o, "widths");
    const tb_value *tag = tb_instance_value(o, "tag"), *w = tb_instance_value(l, "class_weights");
    const tb_value *cm = tb_instance_value(l, "confusion");
    CHECK(mix->n == 2 && mix->list[0] == 0.25 && mix->list[1] == 0.75 && widths->n == 2 &&
              widths->list[1] == 2 && strcmp(tag->text, "x") == 0 && isnan(tag->num),
          "run %d: record in field order, list, string", i);
    CHECK(w->n == 3 && w->list[2] == 3 && cm->rows == 3 && cm->cols == 3 && cm->list[7] == 0.5,
          "run %d: K-sized list and matrix, row-major", i);
    CHECK(strcmp(r->sched->name, "linear") == 0 && sched_hp(r, "end_factor") == 0.1,
          "run %d: tb.schedule('linear', {...})", i);
    CHECK(r->model.n_hidden == (i < 2 ? 1 : 2), "run %d: a grid of lists", i);
  }
  if (sw.n_runs == 4)
    CHECK(strstr(sw.runs[1].json, "\"optimizer\":{\"hp\":{\"base\":{\"hp\":{\"lr\":0.2},"
                                  "\"name\":\"hp_opt\",\"version\":\"1\"},\"mix\":{\"fast\":0.75,"
                                  "\"slow\":0.25},\"tag\":\"x\",\"widths\":[1,2]},\"name\":"
                                  "\"hp_wrap\",\"version\":\"1\"}") &&
              strstr(sw.runs[1].json, "\"confusion\":[[1,0,0],[0,1,0],[0,0.5,0.5]]") &&
              tb_config_legacy_json(&sw.runs[1]) == NULL,
          "identity: the base nested with its own name and version, a record by field name, a "
          "matrix row by row; no legacy form: %s", sw.runs[1].json);
  tb_sweep_free(&sw);
  if (load(script("ok_requires_ids.lua"), &sw) == 0) {
    CHECK(sw.n_runs == 1, "a loss that requires sample ids is accepted: they are always given");
    tb_sweep_free(&sw);
  }
  if (load(script("ok_head_cos.lua"), &sw) == 0) {
    int cosine = 0;
    for (int i = 0; i < sw.n_runs; i++) cosine += sw.runs[i].model.head == TB_HEAD_COSINE;
    CHECK(sw.n_runs == 4 && cosine == 4,
          "a cosine head with a loss that requires one, or a wrapper over such a loss: %d runs, "
          "%d with the head", sw.n_runs, cosine);
    tb_sweep_free(&sw);
  }
}

static void test_nested_errors(void) {
  expect_error("err_nest_range.lua", 4,
               "optimizer 'hp_wrap': 'widths' = 9 at position 2 is out of range [1, 8]");
  expect_error("err_nest_name.lua", 3,
               "optimizer 'hp_wrap': 'base': unknown optimizer 'hp_optt' (valid: hp_opt, hp_wrap)");
  expect_error("err_nest_kind.lua", 4,
               "optimizer 'hp_wrap': 'base' must be an optimizer name or tb.optimizer(...), got "
               "loss 'hp_loss'");
  expect_error("err_nest_child.lua", 4, "loss 'hp_loss': 'order' = 9 is out of range [1, 8]");
  expect_error("err_nest_k.lua", 5,
               "loss 'hp_kloss': 'class_weights' must have K = 3 entries (one per class), got 2 "
               "(the data has K = 3 classes)");
  expect_error("err_nest_k_path.lua", 4,
               "loss 'hp_lwrap': 'base': loss 'hp_kloss': 'order' = 5 must be at most K = 3");
  expect_error("err_nest_record.lua", 3,
               "optimizer 'hp_wrap': 'mix': unknown key 'quick' (valid: fast, slow)");
  expect_error("err_nest_record_sum.lua", 3, "optimizer 'hp_wrap': 'mix' must sum to 1, got 0.5");
  expect_error("err_nest_string.lua", 3, "optimizer 'hp_wrap': 'tag' must be a string, got 3");
  expect_error("err_nest_list.lua", 3,
               "optimizer 'hp_wrap': 'widths' must be a list of 1 to 4 integers in [1, 8], got "
               "'a' at position 2");
  expect_error("err_nest_matrix.lua", 3,
               "loss 'hp_kloss': 'confusion' must be a matrix (a list of rows, each a list of "
               "numbers in [0, 1]), got rows of 2 and 1 entries");
  expect_error("err_nest_grid.lua", 3,
               "optimizer 'hp_wrap': 'base' must be an optimizer name or tb.optimizer(...), got 3");
  expect_error("err_requires_soft.lua", 3,
               "loss 'hp_soft' requires soft targets, which no part of the scenario provides");
  expect_error("err_requires_cos.lua", 3,
               "loss 'hp_cos' requires a cosine head, which the scenario's model does not have "
               "(give the model head = \"cosine\")");
  expect_error("err_head_cos.lua", 4,
               "tb.model.mlp: head = \"cosine\" outputs cos theta in [-1, 1], which loss "
               "'hp_kloss' would read as logits, unscaled: it needs a loss that declares "
               "TB_REQ_COSINE_HEAD");
  expect_error("err_head_cos_wrap.lua", 3,
               "tb.model.linear: head = \"cosine\" outputs cos theta in [-1, 1], which loss "
               "'hp_lwrap' would read as logits");
  expect_error("err_head_init.lua", 3,
               "tb.model.mlp: 'init' = \"zeros\" cannot start a cosine head");
  expect_error("err_int_exact.lua", 3,
               "tb.data.iris: 'split_seed' = 9007199254740993 is not an integer that a double "
               "holds exactly");
  expect_error("err_nest_self.lua", 3,
               "loss 'hp_self': default components nest more than 16 deep (does one default to "
               "itself?)");
  expect_error("err_schedule_type.lua", 3,
               "scenario 'q': 'schedule' must be a schedule name or tb.schedule.NAME {...}, got "
               "tb.data.iris");
}

static void test_nested_equivalent(void) {
  tb_sweep a, b;
  if (load(script("eq_nest_a.lua"), &a)) return;
  if (load(script("eq_nest_b.lua"), &b) == 0) {
    CHECK(a.n_runs == 2 && b.n_runs == 2, "runs %d %d", a.n_runs, b.n_runs);
    for (int i = 0; i < 2 && a.n_runs == 2 && b.n_runs == 2; i++)
      CHECK(strcmp(a.runs[i].json, b.runs[i].json) == 0 &&
                strcmp(a.runs[i].hash, b.runs[i].hash) == 0,
            "scenario %d: equivalent spellings (defaults written out, 1e-1 for 0.1, 2.0 for 2, "
            "a name for an object, the call form) hash equal:\n%s\n%s",
            i, a.runs[i].json, b.runs[i].json);
    tb_sweep_free(&b);
  }
  tb_sweep_free(&a);
}

/* ---- the property test: every leaf of a configuration is part of its identity */

enum { M_VALUE, M_VERSION, M_NAME };

/* A copy of `in` with one change at the end of `path` (child indexes):
 * value `leaf` changed, or the component's version or name. */
static tb_instance *mutate(const tb_instance *in, const int *path, int depth, int leaf, int how,
                           tb_component *clone) {
  tb_instance *c = tb_instance_copy(in);
  char e[TB_ERRLEN];
  if (depth > 0) {
    tb_instance *ch = mutate(in->child[path[0]], path + 1, depth - 1, leaf, how, clone);
    tb_instance_set(c, path[0], NULL, ch, e, sizeof e);
    tb_instance_unref(ch);
    return c;
  }
  if (how != M_VALUE) {
    *clone = *in->comp;
    if (how == M_VERSION)
      clone->version = "1.1";
    else
      clone->name = "another";
    c->comp = clone;
    return c;
  }
  const tb_hparam *h = &in->comp->hparams[leaf];
  tb_value v = in->values[leaf];
  double buf[TB_HP_MAX_ELEMENTS < 256 ? TB_HP_MAX_ELEMENTS : 256];
  char text[256];
  switch (h->type) {
  case TB_HP_BOOL: v.num = v.num ? 0 : 1; break;
  case TB_HP_CHOICE: {
    int n = 0;
    while (h->choices[n]) n++;
    v.num = fmod(v.num + 1, n);
    break;
  }
  case TB_HP_STRING:
    snprintf(text, sizeof text, "%s+", v.text);
    v.text = text;
    break;
  case TB_HP_LIST:
  case TB_HP_RECORD:
  case TB_HP_MATRIX:
    if (v.n == 0) {
      buf[0] = 1, v.n = v.rows = v.cols = 1;
    } else {
      memcpy(buf, v.list, sizeof(double) * (size_t)v.n);
      buf[v.n - 1] += 1; /* the last element: not only the first counts */
    }
    v.list = buf;
    break;
  default: v.num = isnan(v.num) ? 1 : v.num + 1;
  }
  tb_instance_set(c, leaf, &v, NULL, e, sizeof e);
  return c;
}

static int n_mutations, n_changed;

static void check_mutation(tb_run_config *r, int p, const tb_instance *orig, tb_instance *m,
                           const char *what, int must_change) {
  char e[TB_ERRLEN], before[TB_HASHLEN];
  memcpy(before, r->hash, TB_HASHLEN);
  tb_instance *keep = tb_instance_ref((tb_instance *)orig);
  tb_config_set_part(r, p, m);
  tb_instance_unref(m);
  CHECK(tb_config_derive(r, e, sizeof e) == 0 && tb_config_canonicalize(r, e, sizeof e) == 0,
        "%s: %s", what, e);
  int changed = strcmp(before, r->hash) != 0;
  n_mutations++;
  n_changed += changed;
  CHECK(changed == must_change, "%s: the identity %s", what,
        must_change ? "did not change" : "changed, but the value is not part of it");
  tb_config_set_part(r, p, keep);
  tb_instance_unref(keep);
  tb_config_derive(r, e, sizeof e);
  tb_config_canonicalize(r, e, sizeof e);
  CHECK(strcmp(before, r->hash) == 0, "%s: putting it back restores the identity", what);
}

/* Every leaf of the instance at `path` under part p, then its children's. */
static void mutate_all(tb_run_config *r, int p, const tb_instance *node, int *path, int depth,
                       const char *where) {
  static tb_component clones[64];
  static int n_clones;
  const tb_instance *root = r->parts[p];
  char what[512];
  tb_component *clone = &clones[n_clones++ % 64];
  snprintf(what, sizeof what, "%s: the version of %s", where, node->comp->name);
  check_mutation(r, p, root, mutate(root, path, depth, 0, M_VERSION, clone), what, 1);
  if (depth > 0) {
    clone = &clones[n_clones++ % 64];
    snprintf(what, sizeof what, "%s: another component", where);
    check_mutation(r, p, root, mutate(root, path, depth, 0, M_NAME, clone), what, 1);
  }
  for (int i = 0; i < node->n; i++) {
    const tb_hparam *h = &node->comp->hparams[i];
    snprintf(what, sizeof what, "%s.%s", where, h->name);
    if (h->type == TB_HP_COMPONENT) {
      path[depth] = i;
      mutate_all(r, p, node->child[i], path, depth + 1, what);
      continue;
    }
    check_mutation(r, p, root, mutate(root, path, depth, i, M_VALUE, NULL), what,
                   !(h->flags & TB_HPF_NOT_IDENTITY));
  }
}

static void test_property(void) {
  tb_sweep sw;
  if (load(script("prop.lua"), &sw)) return;
  CHECK(sw.n_runs == 1, "prop: %d runs", sw.n_runs);
  if (sw.n_runs != 1) goto out;
  tb_run_config *r = &sw.runs[0];
  /* it covers every kind of component and every type of hyperparameter */
  int kinds = 0, types = 0;
  for (int p = 0; p < TB_N_PARTS; p++) {
    const tb_instance *stack[8] = {r->parts[p]};
    for (int n = 1; n > 0;) {
      const tb_instance *in = stack[--n];
      kinds |= 1 << in->comp->kind;
      for (int i = 0; i < in->n; i++) {
        types |= 1 << in->comp->hparams[i].type;
        if (in->child[i] && n < 8) stack[n++] = in->child[i];
      }
    }
  }
  CHECK(kinds == 0x1fe && types == 0x3fe, "prop.lua covers every kind (%#x) and type (%#x)",
        kinds, types);
  int path[16];
  for (int p = 0; p < TB_N_PARTS; p++) mutate_all(r, p, r->parts[p], path, 0, tb_part_name(p));
  /* the run's own settings and the data's bytes */
  char before[TB_HASHLEN], group[TB_HASHLEN], e[TB_ERRLEN];
  memcpy(before, r->hash, TB_HASHLEN);
  memcpy(group, r->group_hash, TB_HASHLEN);
  static const char *const settings[] = {"seed", "epochs", "batch_size", "scenario",
                                         "content_hash"};
  for (int k = 0; k < 5; k++) {
    for (int back = 0; back < 2; back++) {
      int d = back ? -1 : 1;
      switch (k) {
      case 0: r->seed += d; break;
      case 1: r->epochs += d; break;
      case 2: r->batch_size += d; break;
      case 3: r->scenario[0] = (char)(r->scenario[0] + d); break;
      default: r->data.content_hash[0] = (char)(r->data.content_hash[0] + d);
      }
      tb_config_canonicalize(r, e, sizeof e);
      if (!back) {
        n_mutations++;
        n_changed += strcmp(before, r->hash) != 0;
        CHECK(strcmp(before, r->hash) != 0, "the run's %s: the identity did not change",
              settings[k]);
        /* the group is the configuration without the seed */
        CHECK((strcmp(group, r->group_hash) == 0) == (k == 0),
              "the run's %s %s the group hash", settings[k], k ? "changes" : "leaves");
      }
    }
    CHECK(strcmp(before, r->hash) == 0, "%s put back", settings[k]);
  }
  printf("property: %d leaves changed one at a time, %d identities changed (the csv path is not "
         "part of it)\n", n_mutations, n_changed);
  CHECK(n_mutations >= 35 && n_changed == n_mutations - 1,
        "every leaf but the csv's path changes the identity (%d of %d)", n_changed, n_mutations);
out:
  tb_sweep_free(&sw);
}

/* ---- plugins group ------------------------------------------------------------- */

static void test_real_quickstart(void) {
  tb_sweep sw;
  if (load(script("grid_quickstart.lua"), &sw)) return;
  CHECK(sw.n_runs == 54, "quickstart: %d runs, want 54", sw.n_runs);
  if (sw.n_runs == 54) {
    CHECK(all_hashes_distinct(&sw), "two runs share a hash");
    const tb_component *ce = find(TB_KIND_LOSS, "cross_entropy"), *focal = find(TB_KIND_LOSS, "focal");
    const tb_component *sgd = find(TB_KIND_OPTIMIZER, "sgd"), *adam = find(TB_KIND_OPTIMIZER, "adam");
    for (int i = 0; i < 54; i++) {
      const tb_run_config *r = &sw.runs[i];
      int li = i / 18, oi = (i / 3) % 6;
      CHECK(r->loss == (li == 0 ? ce : focal), "run %d: loss %s", i, r->loss->name);
      if (li > 0) CHECK(loss_hp(r, "gamma") == li, "run %d: gamma", i);
      CHECK(r->opt == (oi < 3 ? sgd : adam), "run %d: optimizer %s", i, r->opt->name);
      if (oi < 3) CHECK(opt_hp(r, "momentum") == 0.9 && opt_hp(r, "nesterov") == 0, "run %d: sgd", i);
      CHECK(r->seed == i % 3 + 1, "run %d: seed", i);
    }
    CHECK(loss_hp(&sw.runs[0], "label_smoothing") == 0, "cross_entropy default");
    CHECK(opt_hp(&sw.runs[9], "lr") == 1e-4 && opt_hp(&sw.runs[15], "lr") == 1e-2, "adam lr");
  }
  tb_sweep_free(&sw);
}

static void test_real_errors(void) {
  expect_error("err_real_unknown_loss.lua", 4, "unknown loss 'focall' (valid: ");
  expect_error("err_real_unknown_loss.lua", 4, "cross_entropy, focal");
  expect_error("err_real_sgd_hp.lua", 5,
               "optimizer 'sgd': unknown hyperparameter 'mom' (valid: dampening, lr, momentum, "
               "nesterov, weight_decay)");
  expect_error("err_real_sgd_range.lua", 3, range_msg("optimizer 'sgd'", "lr", 100, 0, 10));
  expect_error("err_real_nesterov.lua", 7, "optimizer 'sgd': 'nesterov' requires 'momentum' > 0");
  expect_error("err_real_head_cos.lua", 7,
               "tb.model.mlp: head = \"cosine\" outputs cos theta in [-1, 1], which loss "
               "'cross_entropy' would read as logits, unscaled");
}

/* The legacy identity, byte for byte: every run the fixture scripts expand
 * to has, as its legacy JSON, exactly the `config` text the trainbench that
 * wrote each fixture recorded for it (schema 1: trainbench 0.1; schema 2:
 * main before issue 7). */
static void legacy_matches(const char *lua, const char *db_name, int want_runs) {
  char path[PATH_MAX + 64], dbpath[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/tests/store/fixtures/%s", root, lua);
  snprintf(dbpath, sizeof dbpath, "%s/tests/store/fixtures/%s", root, db_name);
  tb_sweep sw;
  if (load(path, &sw)) return;
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT count(*) FROM runs WHERE config = ?1 AND config_hash = ?2",
                         -1, &s, NULL) != SQLITE_OK) {
    CHECK(0, "%s: %s", dbpath, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    tb_sweep_free(&sw);
    return;
  }
  int found = 0;
  for (int i = 0; i < sw.n_runs; i++) {
    char *legacy = tb_config_legacy_json(&sw.runs[i]);
    CHECK(legacy != NULL, "%s run %d has a legacy form", lua, i);
    if (!legacy) continue;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, legacy, -1, SQLITE_TRANSIENT);
    char lh[TB_HASHLEN];
    CHECK(tb_config_legacy_hash(&sw.runs[i], lh) == 0, "%s run %d: a legacy hash", lua, i);
    sqlite3_bind_text(s, 2, lh, -1, SQLITE_TRANSIENT);
    int hit = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
    CHECK(hit, "%s run %d: its legacy JSON is not a recorded config: %s", lua, i, legacy);
    found += hit;
    free(legacy);
  }
  CHECK(sw.n_runs == want_runs && found == want_runs,
        "%s: %d of %d runs found in %s by their legacy identity, byte for byte", lua, found,
        sw.n_runs, db_name);
  sqlite3_finalize(s);
  sqlite3_close(db);
  tb_sweep_free(&sw);
}

static void test_legacy_fixtures(void) {
  /* the built plugins and v1.lua's fault_nan (the fixture's diverged runs) */
  tb_registry *all = reg;
  char err[TB_ERRLEN], faulty[PATH_MAX];
  snprintf(faulty, sizeof faulty, "%s/faulty.so", getenv("TB_TEST_PLUGINS"));
  if (tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err) ||
      tb_registry_add_file(reg, faulty, err, sizeof err)) {
    CHECK(0, "registry with faulty.so: %s", err);
  } else {
    legacy_matches("v1.lua", "schema1.db", 10);
    legacy_matches("v2.lua", "schema2.db", 7);
  }
  tb_registry_close(reg);
  reg = all;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: test_script hptypes|plugins|nested HPTYPES_SO [HPNEST_SO]\n");
    return 2;
  }
  root = getenv("TB_SOURCE_ROOT");
  if (!root) {
    fprintf(stderr, "TB_SOURCE_ROOT is not set\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "%s/tests/lua", root);
  char err[TB_ERRLEN];
  int real = strcmp(argv[1], "plugins") == 0, nested = strcmp(argv[1], "nested") == 0;
  if (tb_registry_open(&reg, real ? getenv("TB_BUILD_PLUGINS") : NULL, err, sizeof err)) {
    fprintf(stderr, "registry: %s\n", err);
    return 1;
  }
  if (!real && tb_registry_add_file(reg, argv[2], err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (nested && (argc != 4 || tb_registry_add_file(reg, argv[3], err, sizeof err))) {
    fprintf(stderr, "nested: %s\n", argc == 4 ? err : "HPNEST_SO missing");
    return 1;
  }
  /* schedules are plugins: the hptypes group takes the built ones too */
  static const char *const schedules[] = {"constant", "step", "cosine", "linear"};
  for (size_t i = 0; !real && i < sizeof schedules / sizeof *schedules; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/schedules/%s.so", getenv("TB_BUILD_PLUGINS"), schedules[i]);
    if (tb_registry_add_file(reg, p, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
  }
  if (real) {
    static const struct {
      int kind;
      const char *name;
    } need[] = {{TB_KIND_LOSS, "cross_entropy"}, {TB_KIND_LOSS, "focal"},
                {TB_KIND_OPTIMIZER, "sgd"}, {TB_KIND_OPTIMIZER, "adam"}};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
      if (!find(need[i].kind, need[i].name)) {
        printf("SKIP: %s '%s' is not built in %s yet\n", tb_kind_name(need[i].kind),
               need[i].name, getenv("TB_BUILD_PLUGINS"));
        tb_registry_close(reg);
        return 77;
      }
    test_real_quickstart();
    test_real_errors();
    test_legacy_fixtures();
  } else if (nested) {
    test_nested_values();
    test_nested_errors();
    test_nested_equivalent();
    test_property();
  } else {
    test_quickstart_shape();
    test_depth();
    test_seeds_and_dedupe();
    test_values();
    test_data_shared();
    test_equivalent();
    test_random();
    test_errors();
  }
  tb_registry_close(reg);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
