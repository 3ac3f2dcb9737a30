/*
 * test_store.c — the results store and the reading commands on real SQLite
 * files in a temporary folder.
 *
 * Runs are built by hand against two fake components (a loss and an
 * optimizer with a small typed hyperparameter table), so the test does not
 * depend on the plugins being written alongside. Checks: schema and version,
 * typed params, replace-by-hash, NaN/±inf round trip, final_metrics, one
 * transaction per run (a failing insert leaves the old run intact), the
 * writer's lock (same process, another process, a crashed holder), readers
 * beside a writer, refusal of newer or foreign databases, the three query
 * formats, the summary's choice of configuration with mean ± sd, the model
 * text of a cosine head; the migrations of the fixtures of schemas 1, 2, 3
 * and 4; split and metric names of any length through the worker protocol
 * (and the lines it refuses), and reals through it bit for bit; runs
 * recorded in batches, with a writer killed before and after a commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "report.h"
#include "script.h"
#include "store.h"
#include "sweep.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"
#include "util.h"
#include "store_check.h"

/* ------------------------------------------------------------------------ */
/* Fake components                                                          */
/* ------------------------------------------------------------------------ */

#include "toy_components.h"

static tb_hparam sched_hp[] = {
    TBU_HP_REAL("min_factor", 0, 0, 1, 0, "final factor"),
    TBU_HP_REAL("warmup", 0, 0, 1e9, 0, "warmup epochs"),
};
static tb_component toy_cosine = {
    .kind = TB_KIND_SCHEDULE, .name = "toy_cosine", .version = "1", .hparams = sched_hp,
    .n_hparams = 2, .file = "/plugins/toy_cosine.so", .file_hash = ""};

/* A run built as a script would build it: a tree of instances (the digits
 * dataset with a split seed, an mlp, the fake loss, optimizer and schedule),
 * its views derived and its identity computed by json.c. */
static void make_cfg(tb_run_config *c, const char *scenario, int64_t seed,
                     const tb_component *opt, double lr, double momentum) {
  memset(c, 0, sizeof *c);
  char e[TB_ERRLEN];
  snprintf(c->scenario, sizeof c->scenario, "%s", scenario);
  c->seed = seed;
  tb_instance *d = c->parts[TB_PART_DATA] = tb_instance_named(NULL, TB_KIND_DATASET, "digits", e,
                                                              sizeof e);
  tb_instance *m = c->parts[TB_PART_MODEL] = tb_instance_named(NULL, TB_KIND_MODEL, "mlp", e,
                                                               sizeof e);
  tb_instance *l = c->parts[TB_PART_LOSS] = tb_instance_new(NULL, &toy_loss, e, sizeof e);
  tb_instance *o = c->parts[TB_PART_OPTIMIZER] = tb_instance_new(NULL, opt, e, sizeof e);
  tb_instance *s = c->parts[TB_PART_SCHEDULE] = tb_instance_new(NULL, &toy_cosine, e, sizeof e);
  int rc = tb_instance_set_num(d, "split_seed", 7, e, sizeof e) ||
           tb_instance_set_list(m, "hidden", (const double[]){64, 32}, 1, 2, e, sizeof e) ||
           tb_instance_set_text(m, "init", "he", e, sizeof e) ||
           tb_instance_set_text(l, "mode", "sum", e, sizeof e) ||
           tb_instance_set_num(o, "lr", lr, e, sizeof e) ||
           tb_instance_set_num(o, "momentum", momentum, e, sizeof e) ||
           tb_instance_set_num(o, "nesterov", 1, e, sizeof e) ||
           tb_instance_set_num(o, "accum", 4, e, sizeof e) ||
           tb_instance_set_num(s, "warmup", 0.5, e, sizeof e) ||
           tb_instance_set_num(s, "min_factor", 0.01, e, sizeof e);
  c->epochs = 2;
  c->batch_size = 32;
  rc = rc || tb_config_derive(c, e, sizeof e);
  snprintf(c->data.content_hash, sizeof c->data.content_hash, "%032d", 5);
  rc = rc || tb_config_canonicalize(c, e, sizeof e);
  if (rc) {
    fprintf(stderr, "make_cfg: %s\n", e);
    exit(1);
  }
}

static void make_result(tb_run_result *r, int status) {
  memset(r, 0, sizeof *r);
  r->status = status;
  r->started_at = 1700000000.25;
  r->finished_at = 1700000003.75;
  r->wall_seconds = 3.5;
  r->steps = 120;
  r->loss_evals = 240;
  r->grad_evals = 120;
  r->jvp_evals = 0;
}

/* ------------------------------------------------------------------------ */
/* SQL helpers on the test's own connection                                 */
/* ------------------------------------------------------------------------ */

static int64_t sql_int(tb_store *st, const char *sql) {
  sqlite3_stmt *s;
  int64_t v = -999;
  if (sqlite3_prepare_v2(tb_store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
    fprintf(stderr, "bad test sql: %s: %s\n", sql, sqlite3_errmsg(tb_store_db(st)));
    failures++;
    return v;
  }
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* The first column of the first row as text ("" if none, "NULL" if NULL). */
static char *sql_text(tb_store *st, const char *sql) {
  static char buf[4096];
  sqlite3_stmt *s;
  snprintf(buf, sizeof buf, "(error)");
  if (sqlite3_prepare_v2(tb_store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
    fprintf(stderr, "bad test sql: %s: %s\n", sql, sqlite3_errmsg(tb_store_db(st)));
    failures++;
    return buf;
  }
  buf[0] = '\0';
  if (sqlite3_step(s) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(s, 0);
    snprintf(buf, sizeof buf, "%s", t ? t : "NULL");
  }
  sqlite3_finalize(s);
  return buf;
}

/* Run a report query into a string (caller frees); NULL on failure. The
 * output is not a terminal unless `tty`. */
static char *query_tty(tb_store *st, const char *sql, int format, int tty, char *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  tb_query_opts o = {.format = format, .timeout = 60, .tty = tty};
  int rc = tb_report_query(st, sql, &o, f, err, TB_ERRLEN);
  fclose(f);
  if (rc) {
    free(text);
    return NULL;
  }
  return text;
}

static char *query(tb_store *st, const char *sql, int format, char *err) {
  return query_tty(st, sql, format, 0, err);
}

static char *summary(tb_store *st, const tb_summary_opts *o, char *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  int rc = tb_report_summary(st, o, f, err, TB_ERRLEN);
  fclose(f);
  if (rc) {
    free(text);
    return NULL;
  }
  return text;
}

static char tmpdir[] = "/tmp/tb-store-XXXXXX";
static char dbpath[512];

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_schema_and_runs(void) {
  char err[TB_ERRLEN] = "";
  tb_store *st = NULL;
  /* the parent folder "a/b" does not exist yet */
  CHECK(tb_store_open_write(&st, dbpath, err, sizeof err) == 0);
  if (!st) {
    fprintf(stderr, "open_write: %s\n", err);
    exit(1);
  }
  CHECK(sql_int(st, "PRAGMA user_version") == TB_SCHEMA_VERSION);
  CHECK(sql_int(st, "SELECT value FROM meta WHERE key = 'schema_version'") ==
        TB_SCHEMA_VERSION);
  CHECK_STR(sql_text(st, "PRAGMA journal_mode"), "wal");
  CHECK(sql_int(st, "PRAGMA foreign_keys") == 1);
  CHECK(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'scenarios',"
                    " 'scenario_configs', 'sweeps', 'components', 'component_hparams',"
                    " 'runs', 'params', 'metrics', 'final_metrics', 'best_metrics', 'timings',"
                    " 'series', 'series_info', 'counters', 'run_components', 'run_plugins',"
                    " 'environment', 'results', 'configs', 'current_configs')") == 21);
  CHECK(sql_int(st, "SELECT count(*) FROM environment WHERE threads = 1"
                    " AND trainbench_version = '" TB_VERSION "' AND cpu <> ''"
                    " AND math_backend IN ('openblas', 'openblas+libxsmm')"
                    " AND math_version GLOB '[0-9]*.[0-9]*'"
                    " AND math_kernel <> '' AND os LIKE 'Linux %'") == 1);

  /* the writer's lock is on the database file itself, not inherited across exec */
  int fd = tb_store_lock_fd(st);
  struct stat a, b;
  CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
  CHECK(fstat(fd, &a) == 0 && stat(dbpath, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev);
  char lock[600];
  snprintf(lock, sizeof lock, "%s.lock", dbpath);
  CHECK(access(lock, F_OK) != 0); /* no side file to follow a path string */

  /* scenarios: a version per script text; the configurations of each */
  tb_scenario_info sc = {"sweep", "scripts/a.lua", "-- v1"};
  tb_sweep sw = {.scenarios = &sc, .n_scenarios = 1};
  tb_sweep_meta meta = {"trainbench run scripts/a.lua", 1, 1, 0};
  CHECK(tb_store_begin_sweep(st, &sw, &meta, err, sizeof err) == 0);
  CHECK(tb_store_begin_sweep(st, &sw, &meta, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM scenarios") == 1);
  sc.script_text = "-- v2";
  CHECK(tb_store_begin_sweep(st, &sw, &meta, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM scenarios") == 2);
  CHECK_STR(sql_text(st, "SELECT script_text FROM scenarios WHERE name = 'sweep'"
                         " ORDER BY last_seen DESC, id DESC LIMIT 1"),
            "-- v2");
  CHECK(sql_int(st, "SELECT count(*) FROM sweeps WHERE command = 'trainbench run scripts/a.lua'"
                    " AND shard_index = 1 AND shard_count = 1 AND started_at > 1.7e9") == 3);
  CHECK(tb_store_end_sweep(st, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM sweeps WHERE finished_at >= started_at") == 1);

  /* a run lands with every row */
  tb_run_config cfg;
  tb_run_result res;
  char status[32] = "x";
  make_cfg(&cfg, "sweep", 1, &toy_sgd, 0.01, 0.9);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status, NULL) == 0);
  CHECK_STR(status, "");
  make_result(&res, TB_RUN_COMPLETE);
  tb_result_add_metric(&res, 0, "val", "accuracy", 0.10);
  tb_result_add_metric(&res, 1, "val", "accuracy", 0.70);
  tb_result_add_metric(&res, 2, "val", "accuracy", 0.65);
  tb_result_add_metric(&res, 0, "train", "loss", 2.5);
  tb_result_add_metric(&res, 1, "train", "loss", NAN);
  tb_result_add_metric(&res, 2, "train", "loss", INFINITY);
  tb_result_add_metric(&res, 2, "train", "nll", -INFINITY);
  tb_result_add_metric(&res, 2, "test", "accuracy", 0.625);
  tb_result_add_epoch_time(&res, 1.5);
  tb_result_add_epoch_time(&res, 2.0);
  tb_result_add_series(&res, "train.loss", 10, 1.5);
  tb_result_add_series(&res, "train.loss", 20, NAN);
  tb_result_set_series_every(&res, "train.loss", 10);
  tb_result_set_counter(&res, "time.train", 2.0);
  tb_result_set_counter(&res, "time.train", 2.25); /* the last value counts */
  res.compute_seconds = 3;
  res.cpu_seconds = 2.5;
  CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status, NULL) == 1);
  CHECK_STR(status, "complete");

  CHECK_STR(sql_text(st, "SELECT model || ' ' || dataset || ' ' || loss || ' ' || optimizer"
                         " || ' ' || seed || ' ' || steps || ' ' || loss_evals FROM runs"),
            "mlp[64,32]/relu digits toy_loss toy_sgd 1 120 240");
  CHECK(sql_int(st, "SELECT count(*) FROM runs r JOIN environment e"
                    " ON e.id = r.environment_id") == 1);
  CHECK(sql_int(st, "SELECT error IS NULL FROM runs") == 1);

  /* typed params under the names users write: numbers in num, text in text */
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'loss' AND key = 'gamma'"),
            "real:2.0");
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'loss' AND key = 'mode'"),
            "text:sum");
  CHECK_STR(sql_text(st, "SELECT typeof(num) || ':' || num FROM params"
                         " WHERE component = 'optimizer' AND key = 'nesterov'"),
            "real:1.0");
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE (num IS NULL) = (text IS NULL)") == 0);
  CHECK(sql_int(st, "SELECT count(DISTINCT typeof(num)) FROM params WHERE num IS NOT NULL") == 1);
  CHECK_STR(sql_text(st, "SELECT value FROM params WHERE component = 'model'"
                         " AND key = 'hidden'"),
            "[64,32]");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || value, ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'model'"
                         " ORDER BY rowid)"),
            "name=mlp hidden=[64,32] activation=relu init=he head=linear");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || value, ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'schedule'"
                         " ORDER BY rowid)"),
            "name=toy_cosine min_factor=0.01 warmup=0.5");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || printf('%g', value), ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'run'"
                         " ORDER BY rowid)"),
            "epochs=2 batch_size=32 seed=1");
  CHECK(sql_int(st, "SELECT value = 0.2 FROM params WHERE component = 'data'"
                    " AND key = 'split_val'") == 1);
  CHECK(sql_int(st, "SELECT value FROM params WHERE component = 'data'"
                    " AND key = 'split_seed'") == 7);

  /* the run's group: its configuration without the seed */
  CHECK_STR(sql_text(st, "SELECT group_hash FROM runs"), cfg.group_hash);
  CHECK(strlen(cfg.group_hash) == 32 && strcmp(cfg.group_hash, cfg.hash) != 0);
  CHECK(sql_int(st, "SELECT sweep_id = (SELECT max(id) FROM sweeps) FROM runs") == 1);

  /* provenance per role, components with their hyperparameter tables */
  CHECK_STR(sql_text(st, "SELECT group_concat(role || ' ' || name || ' ' || version || ' '"
                         " || file_hash, '; ') FROM (SELECT * FROM run_plugins ORDER BY role)"),
            "data digits 1 ; loss toy_loss 1.2 0123456789abcdef0123456789abcdef; model mlp 1 ; "
            "optimizer toy_sgd 3 fedcba9876543210fedcba9876543210; schedule toy_cosine 1 ");
  CHECK_STR(sql_text(st, "SELECT group_concat(h.name || ':' || h.type || ':' ||"
                         " coalesce(h.default_num, h.default_text) || ':' || h.log_scale ||"
                         " ':' || coalesce(h.choices, '-'), ' ') FROM (SELECT h.* FROM"
                         " component_hparams h JOIN components c ON c.id = h.component_id"
                         " WHERE c.name IN ('toy_loss', 'toy_sgd') ORDER BY c.name,"
                         " h.position) h"),
            "gamma:real:2.0:0:- mode:choice:mean:0:[\"mean\",\"sum\"] lr:real:0.1:1:-"
            " momentum:real:0.0:0:- nesterov:bool:0.0:0:- accum:int:1.0:0:-");
  CHECK_STR(sql_text(st, "SELECT group_concat(epoch || ':' || seconds, ' ') FROM"
                         " (SELECT * FROM timings ORDER BY epoch)"),
            "1:1.5 2:2.0");
  CHECK_STR(sql_text(st, "SELECT printf('%g %g %g', wall_seconds, compute_seconds,"
                         " cpu_seconds) FROM runs"),
            "3.5 3 2.5");

  /* NaN is NULL with its flag (so no aggregate counts it), ±inf real infinities */
  CHECK_STR(sql_text(st, "SELECT group_concat(coalesce(typeof(value) || ':' || value, 'null')"
                         " || ':' || coalesce(flag, '-'), ' ') FROM"
                         " (SELECT value, flag FROM metrics WHERE split = 'train'"
                         " ORDER BY name, epoch)"),
            "real:2.5:- null:nan real:Inf:inf real:-Inf:-inf");
  CHECK(sql_int(st, "SELECT avg(value) = 2.5 FROM metrics WHERE split = 'train' AND"
                    " name = 'loss' AND epoch < 2") == 1);

  /* final_metrics: each curve at its last recorded epoch (not its best) */
  CHECK_STR(sql_text(st, "SELECT group_concat(split || '.' || name || '@' || epoch || '='"
                         " || coalesce(value, 'null') || coalesce(':' || flag, ''), ' ') FROM"
                         " (SELECT * FROM final_metrics ORDER BY split, name)"),
            "test.accuracy@2=0.625 train.loss@2=Inf:inf train.nll@2=-Inf:-inf"
            " val.accuracy@2=0.65");
  /* best_metrics: every metric at the epoch of the best validation accuracy */
  CHECK_STR(sql_text(st, "SELECT group_concat(split || '.' || name || '@' || epoch || '='"
                         " || coalesce(value, 'null') || coalesce(':' || flag, ''), ' ') FROM"
                         " (SELECT * FROM best_metrics ORDER BY split, name)"),
            "train.loss@1=null:nan val.accuracy@1=0.7");
  /* series and counters */
  CHECK_STR(sql_text(st, "SELECT group_concat(name || '@' || step || '=' ||"
                         " coalesce(value, flag), ' ') FROM (SELECT * FROM series"
                         " ORDER BY name, step)"),
            "train.loss@10=1.5 train.loss@20=nan");
  CHECK_STR(sql_text(st, "SELECT every FROM series_info WHERE name = 'train.loss'"), "10");
  CHECK_STR(sql_text(st, "SELECT group_concat(name || '=' || value, ' ') FROM counters"),
            "time.train=2.25");

  /* the one-row-per-run view: hyperparameters and metrics as columns */
  CHECK_STR(sql_text(st, "SELECT \"optimizer.lr\" || ' ' || \"loss.mode\" || ' ' ||"
                         " \"val.accuracy\" || ' ' || \"test.accuracy\" || ' ' || best_epoch"
                         " || ' ' || \"best.val.accuracy\" FROM results"),
            "0.01 sum 0.65 0.625 1 0.7");

  /* replacing by config hash keeps one row, the new values, no orphans */
  int64_t old_id = sql_int(st, "SELECT id FROM runs");
  tb_result_free(&res);
  make_result(&res, TB_RUN_DIVERGED);
  snprintf(res.error, sizeof res.error, "loss is not finite at epoch 1");
  tb_result_add_metric(&res, 0, "val", "accuracy", 0.125);
  tb_result_add_metric(&res, 1, "train", "loss", NAN);
  tb_result_add_epoch_time(&res, 0.75);
  CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 1);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status, NULL) == 1);
  CHECK_STR(status, "diverged");
  CHECK_STR(sql_text(st, "SELECT error FROM runs"), "loss is not finite at epoch 1");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM timings") == 1);
  CHECK(sql_int(st, "SELECT count(*) FROM run_plugins") == 5); /* one row per part */
  CHECK(sql_int(st, "SELECT count(*) FROM series") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM best_metrics") == 0); /* only complete runs */
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE run_id NOT IN (SELECT id FROM runs)")
        == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE component = 'loss'") == 2);
  /* a diverged run's last numbers (here epoch 0) never pass for a result */
  CHECK_STR(sql_text(st, "SELECT coalesce(value, 'null') || ' ' || flag || ' ' || epoch FROM"
                         " final_metrics WHERE split = 'val'"),
            "null diverged 0");
  CHECK_STR(sql_text(st, "SELECT coalesce(\"val.accuracy\", 'null') || ' ' || status FROM results"),
            "null diverged");
  CHECK(sql_int(st, "SELECT min(id) FROM runs") > old_id); /* ids are never reused */

  /* one transaction per run: when an insert fails half-way (a trigger makes
   * the timings insert fail), the previous run stays exactly as it was */
  CHECK(sqlite3_exec(tb_store_db(st),
                     "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.timings"
                     " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
                     NULL, NULL, NULL) == SQLITE_OK);
  tb_result_free(&res);
  make_result(&res, TB_RUN_COMPLETE);
  tb_result_add_metric(&res, 0, "val", "accuracy", 0.99);
  tb_result_add_epoch_time(&res, 0.5);
  CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) != 0);
  CHECK_HAS(err, "disk on fire");
  CHECK_HAS(err, cfg.hash);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status, NULL) == 1);
  CHECK_STR(status, "diverged");
  CHECK_STR(sql_text(st, "SELECT flag FROM final_metrics WHERE split = 'val'"), "diverged");
  CHECK(sql_int(st, "SELECT count(*) FROM params") ==
        sql_int(st, "SELECT count(*) FROM params WHERE run_id IN (SELECT id FROM runs)"));
  /* and a new run that fails does not appear at all */
  tb_run_config other;
  make_cfg(&other, "sweep", 2, &toy_sgd, 0.01, 0.9);
  CHECK(tb_store_put_run(st, &other, &res, err, sizeof err) != 0);
  CHECK(tb_store_run_status(st, other.hash, status, sizeof status, NULL) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 1);
  CHECK(sqlite3_exec(tb_store_db(st), "DROP TRIGGER temp.boom", NULL, NULL, NULL) == SQLITE_OK);
  /* the store is usable again afterwards */
  CHECK(tb_store_put_run(st, &other, &res, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 2);

  /* an attempt that died never replaces a result (a forced rerun's, issue
   * 10): 1, and the complete run stays as it was, every row of it */
  int64_t kept_id = sql_int(st, "SELECT id FROM runs WHERE seed = 2");
  int64_t kept_rows = sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = "
                                  "(SELECT id FROM runs WHERE seed = 2)");
  static const int dead[] = {TB_RUN_CRASHED, TB_RUN_TIMEOUT, TB_RUN_FAILED};
  for (int i = 0; i < 3; i++) {
    tb_run_result died;
    make_result(&died, dead[i]);
    snprintf(died.error, sizeof died.error, "crashed: worker killed by signal 9");
    tb_result_add_metric(&died, 0, "val", "accuracy", 0.01);
    CHECK(tb_store_put_run(st, &other, &died, err, sizeof err) == 1);
    CHECK(tb_store_batch_begin(st, err, sizeof err) == 0); /* in a batch too */
    CHECK(tb_store_put_run(st, &other, &died, err, sizeof err) == 1);
    CHECK(tb_store_batch_commit(st, err, sizeof err) == 0);
    tb_result_free(&died);
  }
  CHECK(sql_int(st, "SELECT id FROM runs WHERE seed = 2") == kept_id);
  CHECK_STR(sql_text(st, "SELECT status || ' ' || coalesce(error, '-') FROM runs WHERE seed = 2"),
            "complete -");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = "
                    "(SELECT id FROM runs WHERE seed = 2)") == kept_rows);
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE value = 0.01") == 0);
  /* while one that died replaces one that died (the later reason stays) */
  {
    tb_run_config third;
    tb_run_result died;
    make_cfg(&third, "sweep", 4, &toy_sgd, 0.01, 0.9);
    make_result(&died, TB_RUN_CRASHED);
    snprintf(died.error, sizeof died.error, "first");
    CHECK(tb_store_put_run(st, &third, &died, err, sizeof err) == 0);
    snprintf(died.error, sizeof died.error, "second");
    died.status = TB_RUN_TIMEOUT;
    CHECK(tb_store_put_run(st, &third, &died, err, sizeof err) == 0);
    CHECK_STR(sql_text(st, "SELECT status || ' ' || error FROM runs WHERE seed = 4"),
              "timeout second");
    CHECK(sqlite3_exec(tb_store_db(st), "DELETE FROM runs WHERE seed = 4", NULL, NULL, NULL) ==
          SQLITE_OK);
    tb_result_free(&died);
    tb_config_free(&third);
  }
  tb_config_free(&other);

  /* a run without its canonical configuration is refused */
  tb_run_config bare;
  make_cfg(&bare, "sweep", 3, &toy_sgd, 0.01, 0.9);
  free(bare.json);
  bare.json = NULL;
  CHECK(tb_store_put_run(st, &bare, &res, err, sizeof err) != 0);
  CHECK_HAS(err, "canonical configuration");
  tb_config_free(&bare);

  tb_result_free(&res);
  tb_config_free(&cfg);
  tb_store_close(st);
}

static void test_lock_and_readers(void) {
  char err[TB_ERRLEN] = "", want[700];
  tb_store *w = NULL, *w2 = NULL, *r = NULL;
  CHECK(tb_store_open_write(&w, dbpath, err, sizeof err) == 0);
  if (!w) return;

  /* a second writer in this process refuses at once, naming the holder */
  CHECK(tb_store_open_write(&w2, dbpath, err, sizeof err) != 0);
  CHECK(w2 == NULL);
  snprintf(want, sizeof want, "database '%s' is in use by another trainbench run (pid %ld)",
           dbpath, (long)getpid());
  CHECK_STR(err, want);

  /* and so does one in another process */
  int pipefd[2];
  CHECK(pipe(pipefd) == 0);
  pid_t child = fork();
  if (child == 0) {
    close(pipefd[0]);
    char e[TB_ERRLEN] = "";
    tb_store *c = NULL;
    int rc = tb_store_open_write(&c, dbpath, e, sizeof e);
    if (write(pipefd[1], e, strlen(e)) < 0) _exit(3);
    _exit(rc != 0 ? 0 : 2);
  }
  close(pipefd[1]);
  char childerr[TB_ERRLEN] = "";
  ssize_t got = read(pipefd[0], childerr, sizeof childerr - 1);
  childerr[got > 0 ? got : 0] = '\0';
  close(pipefd[0]);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  CHECK_STR(childerr, want);

  /* readers work beside the writer and see what it committed */
  CHECK(tb_store_open_read(&r, dbpath, err, sizeof err) == 0);
  if (r) {
    CHECK(sql_int(r, "SELECT count(*) FROM runs") == 2);
    tb_run_config cfg;
    tb_run_result res;
    make_cfg(&cfg, "sweep", 9, &toy_sgd, 0.5, 0.0);
    make_result(&res, TB_RUN_TIMEOUT);
    CHECK(tb_store_put_run(w, &cfg, &res, err, sizeof err) == 0);
    CHECK(sql_int(r, "SELECT count(*) FROM runs") == 3);
    char status[16];
    CHECK(tb_store_run_status(r, cfg.hash, status, sizeof status, NULL) == 1);
    CHECK_STR(status, "timeout");
    CHECK(tb_store_lock_fd(r) == -1);
    /* the reader cannot write */
    char *out = query(r, "DELETE FROM runs", TB_FMT_TABLE, err);
    CHECK(out == NULL);
    CHECK_HAS(err, "query is read-only: refused \"DELETE FROM runs\"");
    free(out);
    tb_result_free(&res);
    tb_config_free(&cfg);
    tb_store_close(r);
  }

  /* after close the next writer gets in */
  tb_store_close(w);
  CHECK(tb_store_open_write(&w2, dbpath, err, sizeof err) == 0);
  tb_store_close(w2);

  /* a holder that dies without closing releases the lock with it */
  child = fork();
  if (child == 0) {
    char e[TB_ERRLEN];
    tb_store *c = NULL;
    if (tb_store_open_write(&c, dbpath, e, sizeof e) != 0) _exit(2);
    _exit(0); /* no close: as if killed */
  }
  waitpid(child, &wstatus, 0);
  CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  w2 = NULL;
  CHECK(tb_store_open_write(&w2, dbpath, err, sizeof err) == 0);
  if (w2) CHECK(sql_int(w2, "SELECT count(*) FROM runs") == 3);
  tb_store_close(w2);

  /* missing database */
  char missing[600];
  snprintf(missing, sizeof missing, "%s/nope.db", tmpdir);
  CHECK(tb_store_open_read(&r, missing, err, sizeof err) != 0);
  snprintf(want, sizeof want, "no results database at '%s'", missing);
  CHECK_STR(err, want);
}

static void test_foreign_and_newer(void) {
  char err[TB_ERRLEN] = "", path[600], want[800];
  tb_store *st = NULL;
  sqlite3 *db;

  /* a newer schema is refused, by writers and readers, and left untouched */
  snprintf(path, sizeof path, "%s/newer.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  tb_store_close(st);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  st = NULL;
  CHECK(tb_store_open_write(&st, path, err, sizeof err) != 0);
  CHECK(st == NULL);
  snprintf(want, sizeof want,
           "database '%s' has schema version 99, newer than this trainbench supports (%d); "
           "use a newer trainbench",
           path, TB_SCHEMA_VERSION);
  CHECK_STR(err, want);
  CHECK(tb_store_open_read(&st, path, err, sizeof err) != 0);
  CHECK_STR(err, want);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_stmt *s;
  CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 99);
  sqlite3_finalize(s);
  sqlite3_close(db);

  /* somebody else's database is not taken over */
  snprintf(path, sizeof path, "%s/foreign.db", tmpdir);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) != 0);
  snprintf(want, sizeof want, "'%s' is not a trainbench results database", path);
  CHECK_STR(err, want);

  /* a file that is not SQLite at all */
  snprintf(path, sizeof path, "%s/junk.db", tmpdir);
  FILE *f = fopen(path, "w");
  fputs("this is not a database, just text that is long enough to have a header", f);
  fclose(f);
  CHECK(tb_store_open_read(&st, path, err, sizeof err) != 0);
  CHECK_HAS(err, "file is not a database");
}

static void test_query_formats(void) {
  char err[TB_ERRLEN] = "";
  tb_store *st = NULL;
  CHECK(tb_store_open_read(&st, dbpath, err, sizeof err) == 0);
  if (!st) return;
  const char *sql = "SELECT 1 AS id, 'a,b' AS name, 0.1 AS x, NULL AS n"
                    " UNION ALL SELECT 22, 'say \"hi\"', 2.0 / 3, 'Infinity'";
  char *t = query(st, sql, TB_FMT_TABLE, err);
  CHECK_STR(t, "id  name             x  n\n"
               "--  --------  --------  --------\n"
               " 1  a,b            0.1\n"
               "22  say \"hi\"  0.666667  Infinity\n"
               "(2 rows)\n");
  free(t);
  t = query(st, sql, TB_FMT_CSV, err);
  CHECK_STR(t, "id,name,x,n\n"
               "1,\"a,b\",0.1,\n"
               "22,\"say \"\"hi\"\"\",0.6666666666666666,Infinity\n");
  free(t);
  t = query(st, sql, TB_FMT_JSON, err);
  CHECK_STR(t, "[\n"
               "{\"id\":1,\"name\":\"a,b\",\"x\":0.1,\"n\":null},\n"
               "{\"id\":22,\"name\":\"say \\\"hi\\\"\",\"x\":0.6666666666666666,"
               "\"n\":\"Infinity\"}\n"
               "]\n");
  free(t);

  /* on a terminal long cells are cut, and a note says which and how to see
   * them whole; newlines do not break the table, one row is "1 row" */
  t = query_tty(st, "SELECT printf('%.50c', 'x') || 'END' AS long, 'a' || char(10) || 'b' AS nl",
                TB_FMT_TABLE, 1, err);
  CHECK_STR(t, "long                                      nl\n"
               "----------------------------------------  ---\n"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  a b\n"
               "(1 row)\n"
               "note: long cells cut to fit the terminal in long; see them whole with --wide,"
               " --csv or --json\n");
  free(t);
  /* elsewhere (a file, a pipe) nothing is cut */
  t = query(st, "SELECT printf('%.50c', 'x') || 'END' AS long", TB_FMT_TABLE, err);
  CHECK_STR(t, "long\n"
               "-----------------------------------------------------\n"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxEND\n"
               "(1 row)\n");
  free(t);

  /* table: numbers in "_at" columns are UTC times cut to the second, as
   * SQLite's datetime(x, 'unixepoch') gives them (1969-12-31 23:59:58 for
   * -1.5); out-of-range numbers and text stay as they are; reals that are
   * not finite print as inf / -inf; CSV and JSON keep the numbers */
  t = query(st, "SELECT 0 AS a_at, -1.5 AS b_AT, 1e15 AS c_at, 1700000000.999 AS started_at,"
                " NULL AS finished_at, 'x' AS t_at, 9e999 AS big, -9e999 AS small",
            TB_FMT_TABLE, err);
  CHECK_STR(t, "a_at                 b_AT                  c_at  started_at           finished_at"
               "  t_at  big  small\n"
               "-------------------  -------------------  -----  -------------------  -----------"
               "  ----  ---  -----\n"
               "1970-01-01 00:00:00  1969-12-31 23:59:58  1e+15  2023-11-14 22:13:20             "
               "  x     inf   -inf\n"
               "(1 row)\n");
  free(t);
  t = query(st, "SELECT 1700000000.999 AS started_at, 9e999 AS big", TB_FMT_CSV, err);
  CHECK_STR(t, "started_at,big\n1700000000.999,Infinity\n");
  free(t);

  /* JSON escapes control characters; non-finite reals become strings */
  t = query(st, "SELECT 'a' || char(10) || char(1) || '\\' AS s, 9e999 AS big, -9e999 AS small",
            TB_FMT_JSON, err);
  CHECK_STR(t, "[\n{\"s\":\"a\\n\\u0001\\\\\",\"big\":\"Infinity\",\"small\":\"-Infinity\"}\n]\n");
  free(t);

  /* a stored NaN is a null value with its flag */
  t = query(st, "SELECT value, flag FROM metrics WHERE split = 'train' AND name = 'loss'"
                " AND run_id = (SELECT min(id) FROM runs)",
            TB_FMT_JSON, err);
  CHECK_STR(t, "[\n{\"value\":null,\"flag\":\"nan\"}\n]\n");
  free(t);

  /* empty results, several statements */
  t = query(st, "SELECT 1 AS a WHERE 0", TB_FMT_JSON, err);
  CHECK_STR(t, "[]\n");
  free(t);
  t = query(st, "SELECT 1 AS a WHERE 0", TB_FMT_TABLE, err);
  CHECK_STR(t, "a\n-\n(0 rows)\n");
  free(t);
  t = query(st, "SELECT 1 AS a; -- first\n SELECT 'x' AS b, 2.5 AS c;", TB_FMT_TABLE, err);
  CHECK_STR(t, "a\n-\n1\n(1 row)\n\nb    c\n-  ---\nx  2.5\n(1 row)\n");
  free(t);
  t = query(st, "SELECT 1 AS a; SELECT 2 AS b", TB_FMT_CSV, err);
  CHECK_STR(t, "a\n1\n\nb\n2\n");
  free(t);

  /* errors */
  t = query(st, "SELEC 1", TB_FMT_TABLE, err);
  CHECK(t == NULL);
  CHECK_STR(err, "query failed: near \"SELEC\": syntax error");
  t = query(st, "SELECT nope FROM runs", TB_FMT_CSV, err);
  CHECK(t == NULL);
  CHECK_STR(err, "query failed: no such column: nope");
  t = query(st, "  -- nothing\n", TB_FMT_CSV, err);
  CHECK(t == NULL);
  CHECK_HAS(err, "query failed");
  tb_store_close(st);
}

/* Accuracies of one summary run. NAN: metric not recorded. */
static void put_sweep_run(tb_store *st, const char *scenario, int64_t seed,
                          const tb_component *opt, double lr, int status, double val_early,
                          double val, double train, double test) {
  char err[TB_ERRLEN];
  tb_run_config cfg;
  tb_run_result res;
  make_cfg(&cfg, scenario, seed, opt, lr, 0.9);
  make_result(&res, status);
  if (!isnan(val_early)) tb_result_add_metric(&res, 1, "val", "accuracy", val_early);
  if (!isnan(val)) tb_result_add_metric(&res, 2, "val", "accuracy", val);
  if (!isnan(train)) tb_result_add_metric(&res, 2, "train", "accuracy", train);
  if (!isnan(test)) tb_result_add_metric(&res, 2, "test", "accuracy", test);
  tb_result_add_confusion(&res, 2, "test", 0, 1, 3);
  tb_result_add_calibration(&res, 2, "test", 14, 3, 0, 0.99);
  if (tb_store_put_run(st, &cfg, &res, err, sizeof err)) {
    fprintf(stderr, "put_run: %s\n", err);
    failures++;
  }
  tb_result_free(&res);
  tb_config_free(&cfg);
}

static const char *line_with(const char *text, const char *needle, char *line, size_t len) {
  const char *p = text ? strstr(text, needle) : NULL;
  if (!p) return NULL;
  while (p > text && p[-1] != '\n') p--;
  size_t n = strcspn(p, "\n");
  snprintf(line, len, "%.*s", (int)n, p);
  return line;
}

/* "a  b   c d" -> "a|b|c d" */
static const char *split_fields(const char *line) {
  static char buf[512];
  size_t o = 0;
  for (const char *p = line; *p && o + 2 < sizeof buf; p++) {
    if (p[0] == ' ' && p[1] == ' ') {
      while (p[1] == ' ') p++;
      if (o) buf[o++] = '|';
      continue;
    }
    buf[o++] = *p;
  }
  buf[o] = '\0';
  return buf;
}

static void test_summary(void) {
  char err[TB_ERRLEN] = "", path[600];
  tb_store *st = NULL;
  snprintf(path, sizeof path, "%s/summary.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  /* toy_sgd, lr 0.1: the best val accuracy at epoch 1 and the best test
   * accuracy, but the worse final val accuracy (mean 0.82) */
  double v1[] = {0.80, 0.82, 0.84};
  for (int s = 0; s < 3; s++)
    put_sweep_run(st, "digits", s + 1, &toy_sgd, 0.1, TB_RUN_COMPLETE, 0.99, v1[s], 0.9, 0.99);
  /* lr 0.01: final val mean 0.86, so it is the best; its test accuracies: */
  double v2[] = {0.85, 0.86, 0.87}, t2[] = {0.90, 0.92, 0.97};
  for (int s = 0; s < 3; s++)
    put_sweep_run(st, "digits", s + 1, &toy_sgd, 0.01, TB_RUN_COMPLETE, 0.1, v2[s], 0.9, t2[s]);
  /* lr 0.05 ties lr 0.01 on val */
  for (int s = 0; s < 3; s++)
    put_sweep_run(st, "digits", s + 1, &toy_sgd, 0.05, TB_RUN_COMPLETE, 0.1, v2[s], 0.9, 0.5);
  /* a crashed seed of the best configuration and a diverged one elsewhere:
   * counted apart, and neither enters the means (the diverged run's val
   * accuracy of 1.0 would top everything if it did) */
  put_sweep_run(st, "digits", 4, &toy_sgd, 0.01, TB_RUN_CRASHED, NAN, NAN, NAN, NAN);
  put_sweep_run(st, "digits", 4, &toy_sgd, 0.1, TB_RUN_DIVERGED, 1.0, 1.0, NAN, NAN);
  /* toy_adam has no val split: one seed, selection falls back to train */
  put_sweep_run(st, "digits", 1, &toy_adam, 0.001, TB_RUN_COMPLETE, NAN, NAN, 0.75, 0.70);
  /* another scenario that must stay out of a filtered summary */
  put_sweep_run(st, "other", 1, &toy_sgd, 0.5, TB_RUN_COMPLETE, 0.5, 0.5, 0.5, 0.5);

  double mean = (t2[0] + t2[1] + t2[2]) / 3, ss = 0;
  for (int s = 0; s < 3; s++) ss += (t2[s] - mean) * (t2[s] - mean);
  double sd = sqrt(ss / 2); /* sample sd: n - 1 */
  char want_test[64], line[512];
  snprintf(want_test, sizeof want_test, "%.4f ± %.4f", mean, sd);
  CHECK_STR(want_test, "0.9300 ± 0.0361");

  tb_summary_opts so = {.scenario = "digits"};
  char *out = summary(st, &so, err);
  CHECK(out != NULL);
  if (!out) fprintf(stderr, "summary: %s\n", err);
  if (getenv("TB_TEST_VERBOSE")) fprintf(stderr, "%s", out ? out : "");
  /* one row per configuration, as fields (columns are two spaces apart) */
  char fields[512];
  CHECK(line_with(out, "lr=0.01 ", line, sizeof line) != NULL);
  snprintf(fields, sizeof fields, "digits|toy_loss|toy_sgd|lr=0.01|0.8600|%s|3|0|0|1|=",
           want_test);
  CHECK_STR(split_fields(line), fields); /* momentum is the same everywhere: not shown */
  CHECK(line_with(out, "lr=0.05", line, sizeof line) != NULL);
  CHECK_STR(split_fields(line), "digits|toy_loss|toy_sgd|lr=0.05|0.8600|0.5000 ± 0.0000|3|0|0|0|=");
  CHECK(line_with(out, "lr=0.1 ", line, sizeof line) != NULL);
  CHECK_STR(split_fields(line), "digits|toy_loss|toy_sgd|lr=0.1|0.8200|0.9900 ± 0.0000|3|0|1|0");
  CHECK(line_with(out, "toy_adam", line, sizeof line) != NULL);
  /* selected on train, n = 1: no sd */
  CHECK_STR(split_fields(line), "digits|toy_loss|toy_adam|lr=0.001|0.7500†|0.7000|1|0|0|0|*");
  CHECK_HAS(out, "† no validation split: train accuracy instead");
  CHECK_HAS(out, "= several configurations tie");
  CHECK(out && strstr(out, "\nother ") == NULL);
  /* best pairs first: toy_sgd (0.86) before toy_adam (0.75); within, best first */
  CHECK(out && strstr(out, "lr=0.01 ") && strstr(out, "lr=0.1 ") && strstr(out, "toy_adam") &&
        strstr(out, "lr=0.01 ") < strstr(out, "lr=0.1 ") &&
        strstr(out, "lr=0.1 ") < strstr(out, "toy_adam"));
  CHECK(out && strncmp(out, "scenario  loss      optimizer  config", 37) == 0);
  free(out);

  /* --best: only the best of each loss and optimizer (ties all shown) */
  so.best_only = 1;
  out = summary(st, &so, err);
  CHECK(out && !strstr(out, "lr=0.1 ") && strstr(out, "lr=0.05") && strstr(out, "lr=0.01 "));
  free(out);

  /* unfiltered: both scenarios */
  tb_summary_opts all = {0};
  out = summary(st, &all, err);
  CHECK_HAS(out, "other");
  CHECK_HAS(out, "toy_adam");
  free(out);

  /* the configs view agrees */
  CHECK_STR(sql_text(st, "SELECT printf('%.4f %.4f %d %d %d %d', val_accuracy, test_accuracy_sd,"
                         " n_val, complete, diverged, failed) FROM configs c JOIN params p ON"
                         " p.run_id = c.example_run AND p.component = 'optimizer' AND"
                         " p.key = 'lr' AND p.num = 0.01"),
            "0.8600 0.0361 3 3 0 1");

  /* a NaN next to a number: the mean is of the number, with n = 1 and the
   * non-finite value counted beside it (never averaged as 0) */
  for (int seed = 1; seed <= 2; seed++) {
    tb_run_config cfg;
    tb_run_result res;
    make_cfg(&cfg, "nonfinite", seed, &toy_sgd, 0.1, 0.9);
    make_result(&res, TB_RUN_COMPLETE);
    tb_result_add_metric(&res, 1, "val", "loss", seed == 1 ? 0.5 : NAN);
    tb_result_add_metric(&res, 1, "val", "accuracy", 0.75);
    CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
    tb_result_free(&res);
    tb_config_free(&cfg);
  }
  CHECK_STR(sql_text(st, "SELECT printf('%g %d %d', val_loss, n_val_loss, val_loss_nonfinite)"
                         " FROM configs WHERE scenario = 'nonfinite'"),
            "0.5 1 1");
  CHECK_STR(sql_text(st, "SELECT printf('%g', avg(\"val.loss\")) FROM results WHERE"
                         " scenario = 'nonfinite'"),
            "0.5");

  /* a scenario that has no runs is an error the user sees */
  tb_summary_opts nope = {.scenario = "nope"};
  out = summary(st, &nope, err);
  CHECK(out == NULL);
  CHECK_STR(err, "no runs for scenario 'nope'");
  tb_store_close(st);
}

/* The model text of `runs`: a cosine head is named, the linear head (the
 * default) is not, so the text of runs recorded before heads existed keeps
 * matching. (No bundled loss reads a cosine head yet, so no script can run
 * one end to end; the store does not check what the loss requires.) */
static void test_model_text(void) {
  char err[TB_ERRLEN] = "", path[600];
  tb_store *st = NULL;
  snprintf(path, sizeof path, "%s/model_text.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  static const struct {
    const char *model, *head, *text;
  } cases[] = {
      {"linear", "linear", "linear"},
      {"linear", "cosine", "linear/head=cosine"},
      {"mlp", "linear", "mlp[64,32]/relu"},
      {"mlp", "cosine", "mlp[64,32]/relu/head=cosine"},
  };
  for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
    tb_run_config cfg;
    tb_run_result res;
    make_cfg(&cfg, "heads", 1, &toy_sgd, 0.1, 0.9);
    tb_instance *m = tb_instance_named(NULL, TB_KIND_MODEL, cases[i].model, err, sizeof err);
    CHECK(m != NULL);
    if (!m) break;
    int rc = tb_instance_set_text(m, "head", cases[i].head, err, sizeof err);
    if (!rc && strcmp(cases[i].model, "mlp") == 0)
      rc = tb_instance_set_list(m, "hidden", (const double[]){64, 32}, 1, 2, err, sizeof err);
    tb_config_set_part(&cfg, TB_PART_MODEL, m);
    tb_instance_unref(m);
    rc = rc || tb_config_derive(&cfg, err, sizeof err) ||
         tb_config_canonicalize(&cfg, err, sizeof err);
    CHECK(rc == 0);
    make_result(&res, TB_RUN_COMPLETE);
    CHECK(rc || tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT model FROM runs WHERE config_hash = '%s'", cfg.hash);
    CHECK_STR(sql_text(st, sql), cases[i].text);
    tb_result_free(&res);
    tb_config_free(&cfg);
  }
  CHECK(sql_int(st, "SELECT count(DISTINCT config_hash) FROM runs") == 4);
  tb_store_close(st);
}

/* Only the configurations of a scenario's latest script version, unless --all. */
static void test_summary_versions(void) {
  char err[TB_ERRLEN] = "", path[600];
  tb_store *st = NULL;
  snprintf(path, sizeof path, "%s/versions.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  tb_run_config runs[2];
  make_cfg(&runs[0], "exp", 1, &toy_sgd, 0.1, 0.9);
  make_cfg(&runs[1], "exp", 1, &toy_sgd, 0.2, 0.9);
  tb_scenario_info sc = {"exp", "exp.lua", "-- lr 0.1"};
  tb_sweep sw = {.scenarios = &sc, .n_scenarios = 1, .runs = runs, .n_runs = 1};
  CHECK(tb_store_begin_sweep(st, &sw, NULL, err, sizeof err) == 0);
  put_sweep_run(st, "exp", 1, &toy_sgd, 0.1, TB_RUN_COMPLETE, 0.5, 0.5, 0.5, 0.5);
  /* the script now says lr 0.2 */
  sc.script_text = "-- lr 0.2";
  sw.runs = &runs[1];
  CHECK(tb_store_begin_sweep(st, &sw, NULL, err, sizeof err) == 0);
  put_sweep_run(st, "exp", 1, &toy_sgd, 0.2, TB_RUN_COMPLETE, 0.6, 0.6, 0.6, 0.6);
  tb_summary_opts so = {.scenario = "exp"};
  char *out = summary(st, &so, err);
  CHECK(out && strstr(out, "0.6000") && !strstr(out, "0.5000"));
  free(out);
  so.all_versions = 1;
  out = summary(st, &so, err);
  CHECK(out && strstr(out, "0.6000") && strstr(out, "0.5000") && strstr(out, "lr=0.1"));
  free(out);
  tb_config_free(&runs[0]);
  tb_config_free(&runs[1]);
  tb_store_close(st);
}

/* A copy of fixture NAME (tests/store/fixtures) in the temporary folder
 * (its path in path), which readers refuse with `refusal` and changes
 * nothing, opened by a writer (which upgrades it); NULL if that failed. */
static tb_store *upgrade_fixture(const char *name, const char *refusal, char *path, size_t len) {
  char cmd[1400], err[TB_ERRLEN] = "";
  snprintf(path, len, "%s/%s", tmpdir, name);
  snprintf(cmd, sizeof cmd, "cp '%s/tests/store/fixtures/%s' '%s'", getenv("TB_SOURCE_ROOT"),
           name, path);
  CHECK(system(cmd) == 0);
  tb_store *st = NULL;
  CHECK(tb_store_open_read(&st, path, err, sizeof err) != 0);
  CHECK_HAS(err, refusal);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) fprintf(stderr, "upgrading %s: %s\n", name, err);
  return st;
}

/* A database written by trainbench 0.1.0 (schema 1) is upgraded in place:
 * every run kept with its identity, non-finite texts become values with
 * flags, final and best values derived, diverged runs flagged. */
static void test_migration(void) {
  char err[TB_ERRLEN] = "", path[600];
  /* readers refuse an old schema with a clear message, and change nothing */
  tb_store *st = upgrade_fixture("schema1.db", "has schema version 1", path, sizeof path);
  if (!st) return;
  CHECK(sql_int(st, "PRAGMA user_version") == TB_SCHEMA_VERSION);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 10);
  /* schema 3: the model's component name in a `name` row, as every part's */
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE key = 'kind'") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE component = 'model' AND key = 'name'"
                    " AND value = 'mlp'") == 8);
  CHECK(sql_int(st, "SELECT count(*) FROM runs WHERE status = 'diverged'") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK_STR(sql_text(st, "PRAGMA integrity_check"), "ok");
  /* the group hash agrees with the one computed for new runs */
  sqlite3_stmt *s;
  int agree = 0, n = 0;
  if (sqlite3_prepare_v2(tb_store_db(st), "SELECT config, group_hash FROM runs", -1, &s, NULL) ==
      SQLITE_OK) {
    while (sqlite3_step(s) == SQLITE_ROW) {
      char h[TB_HASHLEN];
      n++;
      agree += tb_config_group_hash((const char *)sqlite3_column_text(s, 0), h) == 0 &&
               strcmp(h, (const char *)sqlite3_column_text(s, 1)) == 0;
    }
    sqlite3_finalize(s);
  }
  CHECK(n == 10 && agree == 10);
  CHECK(sql_int(st, "SELECT count(DISTINCT group_hash) FROM runs") == 5);
  CHECK_STR(sql_text(st, "SELECT group_concat(coalesce(value, 'null') || ':' || flag, ' ') FROM"
                         " (SELECT value, flag FROM metrics WHERE flag IS NOT NULL"
                         " ORDER BY flag)"),
            "Inf:inf null:nan");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE typeof(value) = 'text'") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM final_metrics f JOIN runs r ON r.id = f.run_id"
                    " WHERE r.status = 'diverged' AND (f.value IS NOT NULL OR"
                    " f.flag <> 'diverged')") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM final_metrics WHERE epoch = 3") == 8 * 15);
  CHECK(sql_int(st, "SELECT count(DISTINCT run_id) FROM best_metrics") == 8);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE typeof(num) NOT IN ('real', 'null')"
                    " OR typeof(text) NOT IN ('text', 'null')") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM run_plugins WHERE role IN ('loss', 'optimizer')")
        == 20);
  CHECK(sql_int(st, "SELECT count(*) FROM scenario_configs") == 10);
  CHECK(sql_int(st, "SELECT count(*) FROM environment WHERE math_kernel <> ''") >= 1);
  /* the migrated runs are in the views */
  CHECK(sql_int(st, "SELECT count(*) FROM configs") == 5);
  CHECK(sql_int(st, "SELECT count(*) FROM results WHERE \"optimizer.lr\" = 10") == 4);
  /* reopening does not migrate again */
  tb_store_close(st);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  CHECK(st && sql_int(st, "SELECT count(*) FROM runs") == 10);
  tb_store_close(st);
}

/* A database written by main before issue 7 (schema 2) is upgraded (to 3, then 4):
 * its runs, identities and rows kept, params rows renamed to the generic
 * keys — `name` for the model's and the schedule's component, the CSV's
 * 1-based `label` for its 0-based `label_col`. (Re-keying the runs on the
 * new identity needs the script: tests/e2e/test_identity.sh.) */
static void test_migration2(void) {
  char path[600];
  tb_store *st = upgrade_fixture(
      "schema2.db", "has schema version 2; a `trainbench run` on it upgrades it to 5", path,
      sizeof path);
  if (!st) return;
  CHECK(sql_int(st, "PRAGMA user_version") == TB_SCHEMA_VERSION);
  CHECK(sql_int(st, "SELECT count(*) FROM runs WHERE status = 'complete'") == 7);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE key IN ('kind', 'label_col')") == 0);
  CHECK_STR(sql_text(st, "SELECT group_concat(value, ' ') FROM (SELECT value FROM params"
                         " WHERE component = 'schedule' AND key = 'name' ORDER BY run_id)"),
            "step step cosine cosine constant constant constant");
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE component = 'data' AND key = 'label'"
                    " AND num = 1") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM results WHERE \"model.name\" = 'mlp'") == 5);
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK_STR(sql_text(st, "PRAGMA integrity_check"), "ok");
  tb_store_close(st);
}

/* A database written before the metrics registry (schema 3) is upgraded to
 * 4: its runs and rows kept, the confusion and calibration tables added
 * (empty for its runs: nothing to derive them from) and deleted with their
 * run by the trigger, also without foreign keys. */
static void test_migration3(void) {
  char path[600];
  tb_store *st = upgrade_fixture(
      "schema3.db", "has schema version 3; a `trainbench run` on it upgrades it to 5", path,
      sizeof path);
  if (!st) return;
  CHECK(sql_int(st, "PRAGMA user_version") == TB_SCHEMA_VERSION);
  CHECK(sql_int(st, "SELECT value FROM meta WHERE key = 'schema_version'") ==
        TB_SCHEMA_VERSION);
  CHECK_STR(sql_text(st, "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status,"
                         " count(*) AS n FROM runs GROUP BY 1 ORDER BY 1)"),
            "complete=4 diverged=1");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics") == 5 * 3 * 3 * 4 + 5 * 3);
  CHECK(sql_int(st, "SELECT count(*) FROM final_metrics WHERE value IS NOT NULL") == 4 * 15);
  CHECK(sql_int(st, "SELECT count(*) FROM results WHERE \"test.accuracy\" > 0") == 4);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM calibration") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK_STR(sql_text(st, "PRAGMA integrity_check"), "ok");
  /* a new run lands in the migrated file with its final evaluation */
  put_sweep_run(st, "v3", 9, &toy_sgd, 0.1, TB_RUN_COMPLETE, 0.5, 0.5, 0.5, 0.5);
  int64_t id = sql_int(st, "SELECT max(id) FROM runs");
  CHECK(id > 5 && sql_int(st, "SELECT count(*) FROM confusion") == 1);
  tb_store_close(st);
  /* the trigger of schema 4 takes the new tables along without foreign keys */
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA foreign_keys = OFF; DELETE FROM runs WHERE scenario = 'v3'"
                     " AND seed = 9", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_stmt *q;
  int64_t left = -1;
  if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM confusion)"
                         " + (SELECT count(*) FROM calibration)", -1, &q, NULL) == SQLITE_OK) {
    if (sqlite3_step(q) == SQLITE_ROW) left = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
  }
  CHECK(left == 0);
  sqlite3_close(db);
}

/* 1 if `sql` fails on a connection of its own (another tool, no trainbench
 * functions or foreign keys) with a CHECK constraint. */
static int check_refuses(const char *path, const char *sql) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 0;
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  int refused = (rc & 0xff) == SQLITE_CONSTRAINT && msg && strstr(msg, "CHECK constraint failed");
  sqlite3_free(msg);
  sqlite3_close(db);
  return refused;
}

/* A database written by main before schema 5 (schema 4) is upgraded: every
 * run and row kept, non-finite values with their flags, the index
 * metrics_by_curve gone, and the flag columns of metrics, series and
 * calibration still refusing any other flag (the check is now three
 * comparisons) — for our connection and for another tool's. */
static void test_migration4(void) {
  char path[600];
  tb_store *st = upgrade_fixture(
      "schema4.db", "has schema version 4; a `trainbench run` on it upgrades it to 5", path,
      sizeof path);
  if (!st) return;
  CHECK(sql_int(st, "PRAGMA user_version") == 5);
  CHECK(sql_int(st, "SELECT value FROM meta WHERE key = 'schema_version'") == 5);
  CHECK_STR(sql_text(st, "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT status,"
                         " count(*) AS n FROM runs GROUP BY 1 ORDER BY 1)"),
            "complete=4 diverged=1");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics") == 351);
  CHECK(sql_int(st, "SELECT count(*) FROM series") == 246);
  CHECK(sql_int(st, "SELECT count(*) FROM final_metrics") == 135);
  CHECK(sql_int(st, "SELECT count(*) FROM best_metrics") == 108);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion") == 61);
  CHECK(sql_int(st, "SELECT count(*) FROM calibration") == 74);
  /* the three non-finite values the fixture was given, and the diverged
   * run's NaN training loss */
  CHECK_STR(sql_text(st, "SELECT group_concat(coalesce(value, 'null') || ':' || flag, ' ') FROM"
                         " (SELECT value, flag FROM metrics WHERE flag IS NOT NULL"
                         " ORDER BY flag)"),
            "-Inf:-inf Inf:inf null:nan");
  CHECK_STR(sql_text(st, "SELECT coalesce(value, 'null') || ':' || flag FROM series"
                         " WHERE flag IS NOT NULL"),
            "null:nan");
  CHECK(sql_int(st, "SELECT count(*) FROM sqlite_schema WHERE name = 'metrics_by_curve'") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%IN (''nan''%'"
                    " AND type = 'table'") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM results WHERE \"test.accuracy\" > 0") == 4);
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK_STR(sql_text(st, "PRAGMA integrity_check"), "ok");
  /* this connection reads the new check: a bad flag is refused, a good one taken */
  sqlite3 *db = tb_store_db(st);
  CHECK(sqlite3_exec(db, "INSERT INTO series(run_id, name, step, value, flag)"
                     " VALUES(1, 'x', 1, NULL, 'NaN')", NULL, NULL, NULL) == SQLITE_CONSTRAINT_CHECK);
  CHECK(sqlite3_exec(db, "INSERT INTO series(run_id, name, step, value, flag)"
                     " VALUES(1, 'x', 1, 9e999, 'inf')", NULL, NULL, NULL) == SQLITE_OK);
  /* a new run lands in the migrated file, and the file is a schema-5 one */
  put_sweep_run(st, "v4", 9, &toy_sgd, 0.1, TB_RUN_COMPLETE, 0.5, 0.5, 0.5, 0.5);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion") == 62);
  tb_store_close(st);
  /* another tool's connection reads it too */
  CHECK(check_refuses(path, "INSERT INTO metrics(run_id, epoch, split, name, value, flag)"
                            " VALUES(1, 9, 'val', 'x', NULL, 'bad')"));
  CHECK(check_refuses(path, "UPDATE calibration SET flag = 'NaN'"));
  CHECK(check_refuses(path, "INSERT INTO series(run_id, name, step, value, flag)"
                            " VALUES(1, 'y', 1, 1, 'Infinity')"));
  /* reopening does not migrate again */
  char err[TB_ERRLEN] = "";
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (st) {
    CHECK(sql_int(st, "SELECT count(*) FROM series WHERE name = 'x'") == 1);
    CHECK_STR(sql_text(st, "PRAGMA integrity_check"), "ok");
    tb_store_close(st);
  }
}

/* Split and metric names of any length, through the worker protocol and the
 * real store: a split named like the adversarial evaluations to come
 * ("test@fgsm=0.05") and a 300-character metric name reach metrics,
 * final_metrics, best_metrics, confusion, calibration and the results view
 * whole; a line the parent cannot read exactly is an error naming it, never
 * a cut or skipped value. */
static void test_long_names(void) {
  char err[TB_ERRLEN] = "", path[600];
  snprintf(path, sizeof path, "%s/names.db", tmpdir);
  char longname[301];
  for (int i = 0; i < 300; i++) longname[i] = "metric_"[i % 7];
  longname[300] = 0;
  const char *split = "test@fgsm=0.05";

  /* the worker's side: a result written as messages */
  tb_run_result sent;
  make_result(&sent, TB_RUN_COMPLETE);
  tb_result_add_metric(&sent, 0, "val", "accuracy", 0.25);
  tb_result_add_metric(&sent, 1, "val", "accuracy", 0.75);
  tb_result_add_metric(&sent, 1, split, longname, 0.125);
  tb_result_add_metric(&sent, 1, split, "accuracy", NAN);
  tb_result_add_confusion(&sent, 1, split, 2, 0, 7);
  tb_result_add_calibration(&sent, 1, split, 3, 7, 2, 0.2);
  tb_result_set_counter(&sent, "time.eval", 0.5);
  snprintf(sent.error, sizeof sent.error, "two\nlines");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tb_worker_sent w = {0};
  tb_worker_send(f, &sent, &w, 0);
  tb_worker_send(f, &sent, &w, 1); /* nothing twice */
  fclose(f);
  CHECK_HAS(buf, "M 1 test@fgsm=0.05 metric_metric_");
  CHECK(strstr(buf, "Q 1 test@fgsm=0.05 2 0 7\n") && strstr(buf, "X two lines\nEND\n"));

  /* the parent's side: every line read back into a fresh result */
  tb_run_result got;
  memset(&got, 0, sizeof got);
  int ends = 0, bad = 0;
  for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = 0;
    int rc = tb_worker_parse(&got, line, err, sizeof err);
    ends += rc == 1;
    bad += rc < 0;
  }
  free(buf);
  CHECK(ends == 1 && bad == 0);
  CHECK(got.n_metrics == 4 && got.n_confusion == 1 && got.n_calibration == 1 &&
        got.status == TB_RUN_COMPLETE);
  CHECK(got.n_metrics == 4 && strcmp(got.metrics[2].name, longname) == 0 &&
        strcmp(got.metrics[2].split, split) == 0 && isnan(got.metrics[3].value));
  CHECK_STR(got.error, "two lines");

  /* and recorded */
  tb_store *st = NULL;
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  tb_run_config cfg;
  make_cfg(&cfg, "names", 1, &toy_sgd, 0.1, 0.9);
  CHECK(tb_store_put_run(st, &cfg, &got, err, sizeof err) == 0);
  char sql[1200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE split = '%s' AND name = '%s'"
           " AND value = 0.125", split, longname);
  CHECK(sql_int(st, sql) == 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM final_metrics WHERE split = '%s'"
           " AND name = '%s'", split, longname);
  CHECK(sql_int(st, sql) == 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM best_metrics WHERE split = '%s'"
           " AND name = '%s' AND epoch = 1", split, longname);
  CHECK(sql_int(st, sql) == 1);
  snprintf(sql, sizeof sql, "SELECT \"%s.%s\" || ' ' || \"best.%s.%s\" FROM results", split,
           longname, split, longname);
  CHECK_STR(sql_text(st, sql), "0.125 0.125");
  CHECK_STR(sql_text(st, "SELECT coalesce(value, 'null') || ' ' || flag FROM final_metrics"
                         " WHERE split = 'test@fgsm=0.05' AND name = 'accuracy'"),
            "null nan");
  CHECK_STR(sql_text(st, "SELECT split || ' ' || epoch || ' ' || true_class || ' ' ||"
                         " pred_class || ' ' || count FROM confusion"),
            "test@fgsm=0.05 1 2 0 7");
  CHECK_STR(sql_text(st, "SELECT split || ' ' || bin || ' ' || printf('%.4f %.4f', lo, hi)"
                         " || ' ' || count || ' ' || correct || ' ' || confidence"
                         " FROM calibration"),
            "test@fgsm=0.05 3 0.2000 0.2667 7 2 0.2");
  /* the view survives a reopening that reads its columns back from the file */
  tb_store_close(st);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (st) {
    CHECK(tb_store_refresh_views(st, err, sizeof err) == 0);
    CHECK_STR(sql_text(st, sql), "0.125 0.125");
    tb_store_close(st);
  }
  tb_config_free(&cfg);
  tb_result_free(&got);
  tb_result_free(&sent);

  /* lines that cannot be read exactly are errors that quote them */
  static const char *const bad_lines[] = {
      "M 1 val accuracy",            /* a word missing */
      "M 1 val accuracy 0.5 extra",  /* a word too many */
      "M 1 val accuracy 0.5x",       /* not a number */
      "M x val accuracy 0.5",        /* not an epoch */
      "M 1  accuracy 0.5",           /* an empty name */
      "M 1 val acc\001uracy 0.5",    /* a control character */
      "Q 1 val 0 1 0",               /* a zero cell is never sent */
      "B 1 val 3 2 5 0.5",           /* more correct rows than rows */
      "S a_series_name_of_more_than_31_bytes 3 1.5", /* longer than the result holds */
      "R 9 0 0 0 0 0 0",             /* no such status */
      "Z 1",                         /* no such message */
      "",
  };
  for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
    tb_run_result r;
    memset(&r, 0, sizeof r);
    char line[200];
    snprintf(line, sizeof line, "%s", bad_lines[i]);
    err[0] = 0;
    int rc = tb_worker_parse(&r, line, err, sizeof err);
    CHECK(rc == -1 && r.n_metrics == 0 && r.n_series == 0 && r.status == 0);
    char want[260];
    snprintf(want, sizeof want, "worker sent a line that cannot be read: '%s'", bad_lines[i]);
    CHECK_STR(err, want);
    tb_result_free(&r);
  }
}

/* Every real crosses the worker protocol bit for bit: the shortest and the
 * longest decimals, -0, the smallest subnormal, the largest double, the
 * infinities, and NaN (flagged 'nan' by the store); a hand-written decimal
 * still reads as strtod reads it, and a bit pattern that is not exactly 16
 * lowercase hex digits is refused. */
static void test_protocol_exact(void) {
  static const double v[] = {0.1, 1.0 / 3, -0.0, 4.9406564584124654e-324, 1.7976931348623157e308,
                             -2.2250738585072014e-308, 0.96296296296296291, INFINITY, -INFINITY,
                             NAN};
  const int n = (int)(sizeof v / sizeof *v);
  tb_run_result sent;
  memset(&sent, 0, sizeof sent);
  sent.status = TB_RUN_COMPLETE;
  sent.started_at = 1764567890.123456789;
  sent.compute_seconds = 0.0371234567890123;
  sent.steps = INT64_C(9007199254740993);
  for (int i = 0; i < n; i++) {
    tb_result_add_metric(&sent, i, "val", "accuracy", v[i]);
    tb_result_add_series(&sent, "train.loss", i + 1, v[i]);
    tb_result_add_epoch_time(&sent, v[i]);
  }
  tb_result_add_calibration(&sent, 3, "test", 14, 3, 2, v[1]);
  tb_result_set_counter(&sent, "time.eval", v[0]);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tb_worker_sent w = {0};
  tb_worker_send(f, &sent, &w, 1);
  fclose(f);
  CHECK_HAS(buf, "M 0 val accuracy x3fb999999999999a\n"); /* 0.1 */
  CHECK_HAS(buf, "M 2 val accuracy x8000000000000000\n"); /* -0 */
  CHECK_HAS(buf, "M 7 val accuracy x7ff0000000000000\n"); /* inf */
  tb_run_result got;
  memset(&got, 0, sizeof got);
  int ends = 0, bad = 0;
  char err[TB_ERRLEN];
  for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = 0;
    int rc = tb_worker_parse(&got, line, err, sizeof err);
    ends += rc == 1;
    bad += rc < 0;
  }
  free(buf);
  CHECK(ends == 1 && bad == 0);
  CHECK(got.n_metrics == n && got.n_series == n && got.n_epoch_times == n);
  int same = 0;
  for (int i = 0; i < n && got.n_metrics == n && got.n_series == n && got.n_epoch_times == n; i++)
    same += memcmp(&got.metrics[i].value, &v[i], sizeof(double)) == 0 &&
            memcmp(&got.series[i].value, &v[i], sizeof(double)) == 0 &&
            memcmp(&got.epoch_seconds[i], &v[i], sizeof(double)) == 0 &&
            got.metrics[i].epoch == i && got.series[i].step == i + 1;
  CHECK(same == n);
  CHECK(got.n_calibration == 1 && got.calibration[0].confidence == v[1] &&
        got.calibration[0].count == 3 && got.calibration[0].correct == 2);
  CHECK(got.n_counters == 1 && got.counters[0].value == v[0]);
  CHECK(got.started_at == sent.started_at && got.compute_seconds == sent.compute_seconds &&
        got.steps == sent.steps && got.status == TB_RUN_COMPLETE);
  tb_result_free(&got);
  tb_result_free(&sent);

  /* decimals written by hand read as strtod reads them */
  static const struct {
    const char *line;
    double want;
  } dec[] = {{"M 1 val accuracy 0.5", 0.5}, {"M 1 val accuracy 1e-3", 1e-3},
             {"M 1 val accuracy -inf", -INFINITY}, {"M 1 val accuracy x3fe0000000000000", 0.5}};
  for (size_t i = 0; i < sizeof dec / sizeof *dec; i++) {
    tb_run_result r;
    memset(&r, 0, sizeof r);
    char line[80];
    snprintf(line, sizeof line, "%s", dec[i].line);
    CHECK(tb_worker_parse(&r, line, err, sizeof err) == 0 && r.n_metrics == 1 &&
          r.metrics[0].value == dec[i].want);
    tb_result_free(&r);
  }
  static const char *const refused[] = {
      "M 1 val accuracy x3fe000000000000",   /* 15 digits */
      "M 1 val accuracy x3fe00000000000000", /* 17 digits */
      "M 1 val accuracy x3FE0000000000000",  /* upper case */
      "M 1 val accuracy x3fe000000000000g",  /* not a hex digit */
      "M 1 val accuracy x",
      "M -1 val accuracy 0.5",               /* a sign */
      "M 99999999999999999999 val accuracy 0.5", /* past 64 bits */
      "S train.loss +3 0.5",
  };
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    tb_run_result r;
    memset(&r, 0, sizeof r);
    char line[80];
    snprintf(line, sizeof line, "%s", refused[i]);
    err[0] = 0;
    CHECK(tb_worker_parse(&r, line, err, sizeof err) == -1 && r.n_metrics == 0 &&
          r.n_series == 0);
    char want[160];
    snprintf(want, sizeof want, "worker sent a line that cannot be read: '%s'", refused[i]);
    CHECK_STR(err, want);
    tb_result_free(&r);
  }
}

/* The store puts a run's rows in key order (and a sweep records without
 * foreign-key enforcement): whatever order a run reports in, each value
 * lands on its own key, a metric reported twice keeps its last value,
 * final values are the last epoch's, and a rerun of the same configuration
 * inside a sweep leaves only the new attempt's rows (the triggers delete the
 * old ones). */
static void test_row_order(void) {
  char err[TB_ERRLEN] = "", path[600];
  snprintf(path, sizeof path, "%s/order.db", tmpdir);
  tb_store *st = NULL;
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  tb_scenario_info sc = {"order", "order.lua", "-- order"};
  tb_sweep sw = {.scenarios = &sc, .n_scenarios = 1};
  tb_sweep_meta meta = {"trainbench run order.lua", 1, 1, 0};
  CHECK(tb_store_begin_sweep(st, &sw, &meta, err, sizeof err) == 0);
  CHECK(sql_int(st, "PRAGMA foreign_keys") == 0);
  tb_run_config cfg;
  make_cfg(&cfg, "order", 1, &toy_sgd, 0.1, 0.9);
  for (int attempt = 0; attempt < 2; attempt++) {
    tb_run_result res;
    make_result(&res, TB_RUN_COMPLETE);
    static const char *const splits[] = {"val", "train", "test@x", "test"};
    static const char *const names[] = {"zeta", "accuracy", "b", "a_long_metric_name"};
    for (int e = 3; e >= 0; e--) /* epochs backwards, names in no order */
      for (int k = 0; k < 16; k++)
        tb_result_add_metric(&res, e, splits[(k + e) % 4], names[k / 4],
                             100 * e + k + attempt);
    tb_result_add_metric(&res, 2, "val", "zeta", -1); /* again: the last report wins */
    for (int i = 0; i < 40; i++) /* three series interleaved, steps not in order */
      tb_result_add_series(&res, i % 3 == 0 ? "train.loss" : i % 3 == 1 ? "a.b" : "train.lr",
                           (i * 7) % 40 + 1, i + 0.5);
    CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
    tb_result_free(&res);
  }
  CHECK(tb_store_end_sweep(st, err, sizeof err) == 0);
  CHECK(sql_int(st, "PRAGMA foreign_keys") == 1);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 1);
  CHECK(sql_int(st, "SELECT count(*) FROM metrics") == 64);
  CHECK(sql_int(st, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id") == 64);
  /* every value on its key (the second attempt's: +1), the repeated one last */
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE NOT (split = 'val' AND name = 'zeta'"
                    " AND epoch = 2) AND value <> 100 * epoch + 1 + CASE name WHEN 'zeta'"
                    " THEN 0 WHEN 'accuracy' THEN 4 WHEN 'b' THEN 8 ELSE 12 END"
                    " + (CASE split WHEN 'val' THEN 0 WHEN 'train' THEN 1 WHEN 'test@x' THEN 2"
                    " ELSE 3 END - epoch + 4) % 4") == 0);
  CHECK(sql_int(st, "SELECT value FROM metrics WHERE split = 'val' AND name = 'zeta'"
                    " AND epoch = 2") == -1);
  CHECK(sql_int(st, "SELECT count(*) FROM final_metrics WHERE epoch = 3") == 16);
  CHECK(sql_int(st, "SELECT count(*) FROM series") == 40);
  CHECK(sql_int(st, "SELECT count(*) FROM series WHERE value <> (step - 1) * 23 % 40 + 0.5"
                    " OR name <> CASE CAST((step - 1) * 23 % 40 AS INTEGER) % 3 WHEN 0 THEN"
                    " 'train.loss' WHEN 1 THEN 'a.b' ELSE 'train.lr' END") == 0);
  /* the first attempt's rows went with it, whatever the table */
  CHECK(sql_int(st, "SELECT (SELECT count(*) FROM params) + (SELECT count(*) FROM"
                    " run_components) + (SELECT count(*) FROM final_metrics)"
                    " + (SELECT count(*) FROM best_metrics)") ==
        sql_int(st, "SELECT (SELECT count(*) FROM params p JOIN runs r ON r.id = p.run_id)"
                    " + (SELECT count(*) FROM run_components c JOIN runs r ON r.id = c.run_id)"
                    " + 16 + 16"));
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  tb_config_free(&cfg);
  tb_store_close(st);
}

/* rm: a run and every row that hangs off it, in our connections (foreign
 * keys) and in another tool's without foreign keys (the trigger); orphans
 * left by a tool that dropped the trigger are repaired. */
static void test_delete(void) {
  char err[TB_ERRLEN] = "", path[600];
  tb_store *st = NULL;
  snprintf(path, sizeof path, "%s/rm.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  for (int seed = 1; seed <= 4; seed++)
    put_sweep_run(st, "rm", seed, &toy_sgd, 0.1, seed == 4 ? TB_RUN_CRASHED : TB_RUN_COMPLETE,
                  0.5, 0.5, 0.5, 0.5);
  int64_t n = -1;
  char *list = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&list, &len);
  CHECK(tb_store_delete_runs(st, "status = 'crashed'", 1, f, &n, err, sizeof err) == 0);
  fclose(f);
  CHECK(n == 1 && sql_int(st, "SELECT count(*) FROM runs") == 4);
  CHECK_HAS(list, "would delete run 4  rm toy_loss/toy_sgd seed=4 [crashed]");
  free(list);
  CHECK(tb_store_delete_runs(st, "status = 'crashed'", 0, NULL, &n, err, sizeof err) == 0);
  CHECK(n == 1 && sql_int(st, "SELECT count(*) FROM runs") == 3);
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = 4") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE run_id = 4") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion WHERE run_id = 4") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion WHERE run_id = 3") == 1); /* complete: kept */
  /* bad conditions are refused, nothing deleted */
  CHECK(tb_store_delete_runs(st, "nope = 1", 0, NULL, &n, err, sizeof err) != 0);
  CHECK_HAS(err, "bad --where condition 'nope = 1'");
  CHECK(tb_store_delete_runs(st, "1; DROP TABLE runs", 0, NULL, &n, err, sizeof err) != 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 3);
  tb_store_close(st);

  /* another tool deletes a run without foreign keys: the trigger cascades */
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA foreign_keys = OFF; DELETE FROM runs WHERE seed = 3",
                     NULL, NULL, NULL) == SQLITE_OK);
  /* and one that also dropped the trigger leaves orphans behind */
  CHECK(sqlite3_exec(db, "DROP TRIGGER runs_cascade; DELETE FROM runs WHERE seed = 2",
                     NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = 3") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion WHERE run_id = 3") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM calibration WHERE run_id = 3") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = 2") > 0);
  /* a new run never collides with the orphans' ids */
  put_sweep_run(st, "rm", 5, &toy_sgd, 0.1, TB_RUN_COMPLETE, 0.5, 0.5, 0.5, 0.5);
  CHECK(sql_int(st, "SELECT max(id) FROM runs") == 5);
  int64_t removed = 0;
  CHECK(tb_store_repair_orphans(st, &removed, err, sizeof err) == 0);
  CHECK(removed > 0 && sql_int(st, "SELECT count(*) FROM metrics WHERE run_id = 2") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM confusion WHERE run_id = 2") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM calibration WHERE run_id = 2") == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  tb_store_close(st);
}

/* One writer per file: a symlink or a hard link to it is the same file. */
static void test_lock_aliases(void) {
  char err[TB_ERRLEN] = "", path[600], sym[600], hard[600];
  snprintf(path, sizeof path, "%s/k.db", tmpdir);
  snprintf(sym, sizeof sym, "%s/alias.db", tmpdir);
  snprintf(hard, sizeof hard, "%s/hard.db", tmpdir);
  tb_store *w = NULL, *w2 = NULL;
  CHECK(tb_store_open_write(&w, path, err, sizeof err) == 0);
  CHECK(symlink(path, sym) == 0 && link(path, hard) == 0);
  CHECK(tb_store_open_write(&w2, sym, err, sizeof err) != 0);
  CHECK_HAS(err, "is in use by another trainbench run");
  CHECK(tb_store_open_write(&w2, hard, err, sizeof err) != 0);
  CHECK_HAS(err, "is in use by another trainbench run");
  tb_store_close(w);
  CHECK(tb_store_open_write(&w2, sym, err, sizeof err) == 0);
  tb_store_close(w2);
  /* an empty path is an error, not "not an error" */
  CHECK(tb_store_open_write(&w2, "", err, sizeof err) != 0);
  CHECK_STR(err, "no database path given (empty --db)");
}

/* Runs recorded in a batch share one transaction: readers see none of them
 * until the commit, a run that cannot be recorded takes the batch back
 * whole, and a writer killed before the commit leaves none of the batch's
 * rows in the file (and every run committed before it). */
static void put_simple(tb_store *st, int64_t seed, double lr, int want) {
  char err[TB_ERRLEN] = "";
  tb_run_config cfg;
  tb_run_result res;
  make_cfg(&cfg, "batch", seed, &toy_sgd, lr, 0.9);
  make_result(&res, TB_RUN_COMPLETE);
  for (int e = 0; e <= 2; e++) {
    tb_result_add_metric(&res, e, "val", "accuracy", 0.5 + 0.1 * e);
    tb_result_add_metric(&res, e, "test", "accuracy", 0.4 + 0.1 * e);
  }
  tb_result_add_epoch_time(&res, 0.5);
  for (int i = 0; i < 40; i++) tb_result_add_series(&res, "train.loss", i, 1.0 / (i + 1));
  tb_result_add_confusion(&res, 2, "test", 0, 1, 3);
  int rc = tb_store_put_run(st, &cfg, &res, err, sizeof err);
  CHECK((rc == 0) == want);
  if ((rc == 0) != want) fprintf(stderr, "put_simple: %s\n", err);
  tb_result_free(&res);
  tb_config_free(&cfg);
}

static int64_t runs_seen(const char *path) {
  char err[TB_ERRLEN] = "";
  tb_store *r = NULL;
  if (tb_store_open_read(&r, path, err, sizeof err)) return -1;
  int64_t n = sql_int(r, "SELECT count(*) FROM runs");
  tb_store_close(r);
  return n;
}

static void test_batches(void) {
  char err[TB_ERRLEN] = "", path[600];
  tb_store *st = NULL;
  snprintf(path, sizeof path, "%s/batch.db", tmpdir);
  CHECK(tb_store_open_write(&st, path, err, sizeof err) == 0);
  if (!st) return;
  CHECK(!tb_store_in_batch(st));
  CHECK(tb_store_batch_begin(st, err, sizeof err) == 0);
  CHECK(tb_store_in_batch(st));
  put_simple(st, 1, 0.1, 1);
  put_simple(st, 2, 0.1, 1);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 2); /* the writer sees its own */
  CHECK(runs_seen(path) == 0);                           /* a reader, nothing yet */
  CHECK(tb_store_batch_commit(st, err, sizeof err) == 0);
  CHECK(!tb_store_in_batch(st));
  CHECK(runs_seen(path) == 2);
  CHECK(tb_store_batch_commit(st, err, sizeof err) == 0); /* nothing open: nothing to do */

  /* a run that cannot be recorded takes its batch back, all of it */
  CHECK(tb_store_batch_begin(st, err, sizeof err) == 0);
  put_simple(st, 3, 0.1, 1);
  CHECK(sqlite3_exec(tb_store_db(st),
                     "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.series"
                     " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
                     NULL, NULL, NULL) == SQLITE_OK);
  put_simple(st, 4, 0.1, 0);
  CHECK(!tb_store_in_batch(st));
  /* (the trigger, created inside the batch, went with it) */
  CHECK(sqlite3_exec(tb_store_db(st), "DROP TRIGGER IF EXISTS temp.boom", NULL, NULL, NULL) ==
        SQLITE_OK);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM series WHERE run_id NOT IN (SELECT id FROM runs)") == 0);
  /* outside a batch a run is recorded on its own, as before */
  put_simple(st, 3, 0.1, 1);
  CHECK(runs_seen(path) == 3);
  tb_store_close(st);

  /* a writer killed with a batch open: none of the batch, everything before it */
  for (int commit = 0; commit < 2; commit++) {
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      tb_store *w = NULL;
      char e[TB_ERRLEN];
      if (tb_store_open_write(&w, path, e, sizeof e) || tb_store_batch_begin(w, e, sizeof e))
        _exit(3);
      put_simple(w, 10 + commit, 0.2, 1);
      put_simple(w, 20 + commit, 0.2, 1);
      if (commit && tb_store_batch_commit(w, e, sizeof e)) _exit(3);
      kill(getpid(), SIGKILL);
      _exit(4);
    }
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    CHECK(runs_seen(path) == (commit ? 5 : 3));
    tb_store *r = NULL;
    CHECK(tb_store_open_read(&r, path, err, sizeof err) == 0);
    if (r) {
      CHECK_STR(sql_text(r, "PRAGMA integrity_check"), "ok");
      /* whole runs only: every run has its rows, no row lacks its run */
      CHECK(sql_int(r, "SELECT count(*) FROM runs WHERE (SELECT count(*) FROM series s"
                       " WHERE s.run_id = runs.id) != 40") == 0);
      CHECK(sql_int(r, "SELECT count(*) FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)")
            == 0);
      tb_store_close(r);
    }
  }
}

int main(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(dbpath, sizeof dbpath, "%s/a/b/results.db", tmpdir);
  test_schema_and_runs();
  test_lock_and_readers();
  test_foreign_and_newer();
  test_query_formats();
  test_summary();
  test_summary_versions();
  test_model_text();
  test_migration();
  test_migration2();
  test_migration3();
  test_migration4();
  test_long_names();
  test_protocol_exact();
  test_row_order();
  test_delete();
  test_lock_aliases();
  test_batches();
  if (failures == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  } else {
    fprintf(stderr, "%d check(s) failed; files kept in %s\n", failures, tmpdir);
  }
  return failures ? 1 : 0;
}
