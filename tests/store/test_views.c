/*
 * test_views.c — the answers of the reading side stay what they were: the
 * summary (every option), the views (results, configs, current_configs,
 * run_scores) and the README's queries for the best configuration, on a
 * database built here and on the upgraded fixtures of schemas 1, 2 and 3,
 * compared byte for byte with what trainbench printed before the views and
 * the summary were rewritten for speed (fixtures/views_golden.txt, written
 * by commit d13d2e8 running this file with TB_WRITE_GOLDEN=PATH).
 *
 * The database built here has what the queries must get right: several
 * scenarios, a scenario with an older script version (its runs not
 * current), a scenario never recorded in `scenarios` (its runs current),
 * more than 30 configurations in one scenario (the summary of `run` shows
 * the best only), ties for the best, NaN and infinite values, crashed,
 * diverged and failed runs, a scenario without a validation split (train
 * accuracy instead), two losses settings and two optimizers, and runs
 * recorded without a hyperparameter (as by an older build: its default
 * fills in for the label).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "report.h"
#include "script.h"
#include "store.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"
#include "util.h"
#include "store_check.h"

#include "toy_components.h"
static tb_hparam sched_hp[] = {TBU_HP_REAL("warmup", 0, 0, 1e9, 0, "warmup epochs")};
static tb_component toy_constant = {
    .kind = TB_KIND_SCHEDULE, .name = "toy_constant", .version = "1", .hparams = sched_hp,
    .n_hparams = 1, .file = "/plugins/toy_constant.so", .file_hash = ""};

/* One configuration: the optimizer, its lr and momentum, the loss's gamma. */
typedef struct spec {
  const tb_component *opt;
  double lr, momentum, gamma;
} spec;

static void make_cfg(tb_run_config *c, const char *scenario, int64_t seed, const spec *sp) {
  memset(c, 0, sizeof *c);
  char e[TB_ERRLEN];
  snprintf(c->scenario, sizeof c->scenario, "%s", scenario);
  c->seed = seed;
  tb_instance *d = c->parts[TB_PART_DATA] =
      tb_instance_named(NULL, TB_KIND_DATASET, "digits", e, sizeof e);
  c->parts[TB_PART_MODEL] = tb_instance_named(NULL, TB_KIND_MODEL, "linear", e, sizeof e);
  tb_instance *l = c->parts[TB_PART_LOSS] = tb_instance_new(NULL, &toy_loss, e, sizeof e);
  tb_instance *o = c->parts[TB_PART_OPTIMIZER] = tb_instance_new(NULL, sp->opt, e, sizeof e);
  c->parts[TB_PART_SCHEDULE] = tb_instance_new(NULL, &toy_constant, e, sizeof e);
  int rc = !d || !l || !o || !c->parts[TB_PART_MODEL] || !c->parts[TB_PART_SCHEDULE] ||
           tb_instance_set_num(d, "split_seed", 7, e, sizeof e) ||
           tb_instance_set_num(l, "gamma", sp->gamma, e, sizeof e) ||
           tb_instance_set_num(o, "lr", sp->lr, e, sizeof e) ||
           tb_instance_set_num(o, "momentum", sp->momentum, e, sizeof e);
  c->epochs = 3;
  c->batch_size = 32;
  rc = rc || tb_config_derive(c, e, sizeof e);
  snprintf(c->data.content_hash, sizeof c->data.content_hash, "%032d", 5);
  rc = rc || tb_config_canonicalize(c, e, sizeof e);
  if (rc) {
    fprintf(stderr, "make_cfg: %s\n", e);
    exit(1);
  }
}

/* A number in [0, 1) from (a, b): the same on every machine. */
static double unit(unsigned a, unsigned b) {
  unsigned x = a * 2654435761u ^ (b + 0x9e3779b9u) * 40503u;
  x ^= x >> 15;
  x *= 2246822519u;
  x ^= x >> 13;
  return (double)(x % 10007u) / 10007.0;
}

/* Record one run: accuracies and losses per split over 3 epochs, from
 * (config, seed); `val` 0 leaves the validation split out. */
static void put_run(tb_store *st, const char *scenario, int cfg_i, const spec *sp, int seed,
                    int status, int val, double val_override) {
  char err[TB_ERRLEN];
  tb_run_config cfg;
  tb_run_result res;
  make_cfg(&cfg, scenario, seed, sp);
  memset(&res, 0, sizeof res);
  res.status = status;
  res.started_at = 1700000000.25 + cfg_i;
  res.finished_at = 1700000003.75 + cfg_i;
  res.wall_seconds = 3.5;
  res.compute_seconds = 3.25;
  res.cpu_seconds = 3;
  res.steps = 120;
  res.loss_evals = 240;
  res.grad_evals = 120;
  static const char *const splits[] = {"train", "val", "test"};
  int epochs = status == TB_RUN_COMPLETE ? 3 : 1;
  for (int e = 0; e <= epochs; e++)
    for (int k = 0; k < 3; k++) {
      if (k == 1 && !val) continue;
      /* coarse values, so that configurations tie now and then */
      double acc = 0.5 + 0.05 * (int)(8 * unit((unsigned)cfg_i * 7 + (unsigned)k, (unsigned)seed)) +
                   0.02 * e;
      if (k == 1 && !isnan(val_override) && e == epochs) acc = val_override;
      tb_result_add_metric(&res, e, splits[k], "accuracy", acc);
      tb_result_add_metric(&res, e, splits[k], "loss", 2 - acc);
    }
  if (status == TB_RUN_DIVERGED) res.error[0] = 0;
  if (status == TB_RUN_FAILED) snprintf(res.error, sizeof res.error, "failed: toy refused");
  tb_result_add_epoch_time(&res, 0.5);
  tb_result_add_confusion(&res, epochs, "test", 0, 1, 3);
  if (tb_store_put_run(st, &cfg, &res, err, sizeof err)) {
    fprintf(stderr, "put_run: %s\n", err);
    failures++;
  }
  tb_result_free(&res);
  tb_config_free(&cfg);
}

/* A scenario version: its row and the configurations it expands to. */
static void begin(tb_store *st, const char *scenario, const char *text, const spec *sp, int n,
                  int seeds) {
  char err[TB_ERRLEN];
  tb_run_config *runs = calloc((size_t)(n * seeds), sizeof *runs);
  for (int i = 0; i < n; i++)
    for (int s = 0; s < seeds; s++) make_cfg(&runs[i * seeds + s], scenario, s + 1, &sp[i]);
  tb_scenario_info sc = {.script_path = (char *)"views.lua", .script_text = (char *)text};
  snprintf(sc.name, sizeof sc.name, "%s", scenario);
  tb_sweep sw = {.scenarios = &sc, .n_scenarios = 1, .runs = runs, .n_runs = n * seeds};
  if (tb_store_begin_sweep(st, &sw, NULL, err, sizeof err)) {
    fprintf(stderr, "begin_sweep: %s\n", err);
    failures++;
  }
  for (int i = 0; i < n * seeds; i++) tb_config_free(&runs[i]);
  free(runs);
}

static void build(const char *path) {
  char err[TB_ERRLEN] = "";
  tb_store *st = NULL;
  if (tb_store_open_write(&st, path, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    failures++;
    return;
  }
  /* "grid": version 1 has two configurations, version 2 (the latest) 36 */
  spec v1[] = {{&toy_sgd, 0.1, 0.9, 2}, {&toy_sgd, 0.3, 0.9, 2}};
  begin(st, "grid", "-- v1", v1, 2, 2);
  for (int i = 0; i < 2; i++)
    for (int s = 1; s <= 2; s++) put_run(st, "grid", 100 + i, &v1[i], s, TB_RUN_COMPLETE, 1, NAN);
  spec v2[36];
  static const double lrs[] = {0.01, 0.02, 0.05, 0.1}, moms[] = {0, 0.5, 0.9};
  int n = 0;
  for (int g = 0; g < 2; g++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 3; j++) v2[n++] = (spec){&toy_sgd, lrs[i], moms[j], g ? 1 : 2};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) v2[n++] = (spec){&toy_adam, lrs[i] / 10, moms[j], 2};
  begin(st, "grid", "-- v2", v2, n, 3);
  for (int i = 0; i < n; i++)
    for (int s = 1; s <= 3; s++) {
      int status = TB_RUN_COMPLETE;
      double over = NAN;
      if (i == 5 && s == 3) status = TB_RUN_DIVERGED;
      if (i == 7 && s == 2) status = TB_RUN_CRASHED;
      if (i == 30 && s == 1) status = TB_RUN_FAILED;
      if (i == 11 && s == 2) over = INFINITY;  /* an infinite val accuracy */
      if (i == 24 || i == 25) over = 0.95;       /* two configurations tie for the best */
      put_run(st, "grid", i, &v2[i], s, status, 1, over);
    }
  /* a NaN final val accuracy (flag 'nan', value NULL) in one run */
  sqlite3_exec(tb_store_db(st),
               "UPDATE final_metrics SET value = NULL, flag = 'nan' WHERE split = 'val'"
               " AND name = 'accuracy' AND run_id = (SELECT min(id) FROM runs WHERE"
               " scenario = 'grid' AND status = 'complete' AND id > 20);"
               /* runs recorded without 'momentum' (at its default), as by a build
                * before it existed: the label shows the default in its place */
               "DELETE FROM params WHERE key = 'momentum' AND num = 0 AND run_id IN"
               " (SELECT id FROM runs WHERE scenario = 'grid' AND optimizer = 'toy_adam'"
               " AND seed = 1);",
               NULL, NULL, NULL);
  /* "noval": no validation split, the summary selects on train */
  spec nv[] = {{&toy_adam, 0.001, 0, 2}, {&toy_adam, 0.01, 0, 2}, {&toy_sgd, 0.1, 0, 2}};
  begin(st, "noval", "-- noval", nv, 3, 2);
  for (int i = 0; i < 3; i++)
    for (int s = 1; s <= 2; s++) put_run(st, "noval", 200 + i, &nv[i], s, TB_RUN_COMPLETE, 0, NAN);
  /* "loose": never recorded in `scenarios` (no sweep): its runs are current */
  spec lo[] = {{&toy_sgd, 0.2, 0.5, 2}, {&toy_sgd, 0.4, 0.5, 2}};
  for (int i = 0; i < 2; i++) put_run(st, "loose", 300 + i, &lo[i], 1, TB_RUN_COMPLETE, 1, NAN);
  tb_store_close(st);
}

/* ------------------------------------------------------------------------ */
/* What is compared                                                         */
/* ------------------------------------------------------------------------ */

static void emit_summary(FILE *out, tb_store *st, const char *title, tb_summary_opts o) {
  char err[TB_ERRLEN] = "";
  fprintf(out, "=== summary %s\n", title);
  if (tb_report_summary(st, &o, out, err, sizeof err)) fprintf(out, "error: %s\n", err);
}

static void emit_query(FILE *out, tb_store *st, const char *title, const char *sql) {
  char err[TB_ERRLEN] = "";
  tb_query_opts o = {.format = TB_FMT_CSV, .timeout = 60};
  fprintf(out, "=== query %s\n", title);
  if (tb_report_query(st, sql, &o, out, err, sizeof err)) fprintf(out, "error: %s\n", err);
}

/* Every answer for the database at `path`, under the heading `name`. */
static void emit_all(FILE *out, const char *name, const char *path) {
  char err[TB_ERRLEN] = "";
  tb_store *st = NULL;
  fprintf(out, "##### %s\n", name);
  if (tb_store_open_read(&st, path, err, sizeof err)) {
    fprintf(out, "error: %s\n", err);
    return;
  }
  emit_summary(out, st, "", (tb_summary_opts){0});
  emit_summary(out, st, "--all", (tb_summary_opts){.all_versions = 1});
  emit_summary(out, st, "--best", (tb_summary_opts){.best_only = 1});
  emit_summary(out, st, "--all --best", (tb_summary_opts){.all_versions = 1, .best_only = 1});
  sqlite3_stmt *s;
  sqlite3_prepare_v2(tb_store_db(st), "SELECT DISTINCT scenario FROM runs ORDER BY 1", -1, &s,
                     NULL);
  while (sqlite3_step(s) == SQLITE_ROW) {
    char *scen = strdup((const char *)sqlite3_column_text(s, 0)), title[300], sql[2000];
    char *q = sqlite3_mprintf("%Q", scen);
    snprintf(title, sizeof title, "--scenario %s", scen);
    emit_summary(out, st, title, (tb_summary_opts){.scenario = scen});
    snprintf(title, sizeof title, "--scenario %s (as run prints it)", scen);
    emit_summary(out, st, title, (tb_summary_opts){.scenario = scen, .max_rows = 30});
    snprintf(title, sizeof title, "--scenario %s --all --best", scen);
    emit_summary(out, st, title,
                 (tb_summary_opts){.scenario = scen, .all_versions = 1, .best_only = 1});
    /* the README's queries for the best configuration */
    snprintf(sql, sizeof sql,
             "SELECT loss, optimizer, \"optimizer.lr\" AS lr, count(*) AS seeds,"
             " avg(\"val.accuracy\") AS val, avg(\"test.accuracy\") AS test,"
             " stdev(\"test.accuracy\") AS sd FROM results WHERE scenario = %s"
             " AND status = 'complete' GROUP BY group_hash ORDER BY val DESC, group_hash"
             " LIMIT 5",
             q);
    emit_query(out, st, "README results best", sql);
    snprintf(sql, sizeof sql,
             "SELECT loss, optimizer, val_accuracy, n_val, test_accuracy, test_accuracy_sd,"
             " diverged, failed FROM current_configs WHERE scenario = %s"
             " ORDER BY val_accuracy DESC, group_hash LIMIT 5",
             q);
    emit_query(out, st, "README current_configs best", sql);
    sqlite3_free(q);
    free(scen);
  }
  sqlite3_finalize(s);
  emit_query(out, st, "README best epoch",
             "SELECT loss, optimizer, avg(best_epoch), avg(\"best.test.accuracy\") FROM results"
             " WHERE status = 'complete' GROUP BY loss, optimizer");
  emit_query(out, st, "README quantiles",
             "SELECT r.optimizer, count(*) AS n, avg(f.value) AS mean, stdev(f.value) AS sd,"
             " quantile(f.value, 0.25) AS q1, median(f.value) AS median,"
             " quantile(f.value, 0.75) AS q3 FROM runs r JOIN final_metrics f"
             " ON f.run_id = r.id AND f.split = 'test' AND f.name = 'accuracy'"
             " WHERE r.status = 'complete' GROUP BY r.optimizer ORDER BY mean DESC");
  emit_query(out, st, "README paired",
             "WITH best AS (SELECT optimizer, group_hash, max(val_accuracy) FROM current_configs"
             " WHERE scenario = 'grid' AND loss = 'toy_loss' GROUP BY optimizer)"
             " SELECT a.seed, a.\"test.accuracy\" AS adam, s.\"test.accuracy\" AS sgd,"
             " a.\"test.accuracy\" - s.\"test.accuracy\" AS difference"
             " FROM results a JOIN results s ON s.seed = a.seed"
             " WHERE a.group_hash = (SELECT group_hash FROM best WHERE optimizer = 'toy_adam')"
             " AND s.group_hash = (SELECT group_hash FROM best WHERE optimizer = 'toy_sgd')"
             " ORDER BY a.seed");
  emit_query(out, st, "results", "SELECT * FROM results ORDER BY id");
  emit_query(out, st, "configs", "SELECT * FROM configs ORDER BY scenario, group_hash");
  emit_query(out, st, "current_configs",
             "SELECT * FROM current_configs ORDER BY scenario, group_hash");
  emit_query(out, st, "run_scores", "SELECT * FROM run_scores ORDER BY run_id");
  tb_store_close(st);
}

static char tmpdir[] = "/tmp/tb-views-XXXXXX";

/* A copy of fixture NAME upgraded by a writer; its path in `path`. */
static void upgrade(const char *name, char *path, size_t len) {
  char cmd[1400], err[TB_ERRLEN] = "";
  snprintf(path, len, "%s/%s", tmpdir, name);
  snprintf(cmd, sizeof cmd, "cp '%s/tests/store/fixtures/%s' '%s'", getenv("TB_SOURCE_ROOT"),
           name, path);
  CHECK(system(cmd) == 0);
  tb_store *st = NULL;
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  tb_store_close(st);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, m);
  fclose(m);
  fclose(f);
  return text;
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  char *text = NULL, path[600];
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  snprintf(path, sizeof path, "%s/views.db", tmpdir);
  build(path);
  emit_all(out, "views.db", path);
  static const char *const fixtures[] = {"schema1.db", "schema2.db", "schema3.db"};
  for (int i = 0; i < 3; i++) {
    upgrade(fixtures[i], path, sizeof path);
    emit_all(out, fixtures[i], path);
  }
  fclose(out);
  const char *write = getenv("TB_WRITE_GOLDEN");
  if (write && *write) {
    FILE *g = fopen(write, "w");
    CHECK(g && fwrite(text, 1, len, g) == len);
    if (g) fclose(g);
  } else {
    char golden[1200];
    snprintf(golden, sizeof golden, "%s/tests/store/fixtures/views_golden.txt",
             getenv("TB_SOURCE_ROOT"));
    char *want = slurp(golden);
    CHECK(want != NULL);
    if (want && strcmp(text, want) != 0) {
      /* the first line that differs, and the whole answer beside the golden file */
      const char *a = text, *b = want;
      int line = 1;
      while (*a && *a == *b) {
        if (*a == '\n') line++;
        a++, b++;
      }
      char got_path[700];
      snprintf(got_path, sizeof got_path, "%s/views_got.txt", tmpdir);
      FILE *g = fopen(got_path, "w");
      if (g) fwrite(text, 1, len, g), fclose(g);
      fprintf(stderr, "answers differ from %s at line %d (all of them in %s):\n got: %.200s\nwant: %.200s\n",
              golden, line, got_path, a, b);
      failures++;
    }
    free(want);
  }
  free(text);
  if (!failures && !getenv("TB_KEEP")) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return failures ? 1 : 0;
}
