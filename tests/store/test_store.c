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
 * formats, and the summary's choice of configuration with mean ± sd.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_STR(got, want)                                                        \
  do {                                                                              \
    const char *g_ = (got), *w_ = (want);                                           \
    if (!g_ || strcmp(g_, w_) != 0) {                                               \
      fprintf(stderr, "%s:%d: got\n---\n%s\n---\nwant\n---\n%s\n---\n", __FILE__,   \
              __LINE__, g_ ? g_ : "(null)", w_);                                    \
      failures++;                                                                   \
    }                                                                               \
  } while (0)

#define CHECK_HAS(hay, needle)                                                       \
  do {                                                                               \
    const char *h_ = (hay), *n_ = (needle);                                          \
    if (!h_ || !strstr(h_, n_)) {                                                    \
      fprintf(stderr, "%s:%d: '%s' not found in:\n%s\n", __FILE__, __LINE__, n_,     \
              h_ ? h_ : "(null)");                                                   \
      failures++;                                                                    \
    }                                                                                \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Fake components                                                          */
/* ------------------------------------------------------------------------ */

static const char *const modes[] = {"mean", "sum", NULL};
static tb_hparam loss_hp[] = {
    {"gamma", TB_HP_REAL, 2, 0, 10, 0, NULL, "focusing"},
    {"mode", TB_HP_CHOICE, 0, 0, 0, 0, modes, "reduction"},
};
static tb_hparam opt_hp[] = {
    {"lr", TB_HP_REAL, 0.1, 0, 10, 1, NULL, "learning rate"},
    {"momentum", TB_HP_REAL, 0, 0, 1, 0, NULL, "momentum"},
    {"nesterov", TB_HP_BOOL, 0, 0, 1, 0, NULL, "nesterov"},
    {"accum", TB_HP_INT, 1, 1, 64, 0, NULL, "accumulation"},
};
static tb_component toy_loss = {
    .kind = TB_KIND_LOSS, .name = "toy_loss", .version = "1.2", .hparams = loss_hp,
    .n_hparams = 2, .file = "/plugins/toy_loss.so",
    .file_hash = "0123456789abcdef0123456789abcdef"};
static tb_component toy_sgd = {
    .kind = TB_KIND_OPTIMIZER, .name = "toy_sgd", .version = "3", .hparams = opt_hp,
    .n_hparams = 4, .file = "/plugins/toy_sgd.so",
    .file_hash = "fedcba9876543210fedcba9876543210"};
static tb_component toy_adam = {
    .kind = TB_KIND_OPTIMIZER, .name = "toy_adam", .version = "1", .hparams = opt_hp,
    .n_hparams = 4, .file = "/plugins/toy_adam.so", .file_hash = ""};

/* A run with the canonical JSON laid out as json.c lays it out (sorted
 * keys, seed at the top level). */
static void make_cfg(tb_run_config *c, const char *scenario, int64_t seed,
                     const tb_component *opt, double lr, double momentum) {
  memset(c, 0, sizeof *c);
  snprintf(c->scenario, sizeof c->scenario, "%s", scenario);
  c->seed = seed;
  snprintf(c->data.name, sizeof c->data.name, "digits");
  snprintf(c->data.path, sizeof c->data.path, "/data/digits.csv");
  c->data.split[0] = 0.6;
  c->data.split[1] = 0.2;
  c->data.split[2] = 0.2;
  c->data.standardize = 1;
  c->data.has_split_seed = 1;
  c->data.split_seed = 7;
  snprintf(c->data.content_hash, sizeof c->data.content_hash, "%032d", 5);
  c->model.kind = TB_MODEL_MLP;
  c->model.n_hidden = 2;
  c->model.hidden[0] = 64;
  c->model.hidden[1] = 32;
  c->model.activation = TB_ACT_RELU;
  c->model.init = TB_INIT_HE;
  c->loss = &toy_loss;
  c->loss_hp[0] = 2;
  c->loss_hp[1] = 1; /* "sum" */
  c->opt = opt;
  c->opt_hp[0] = lr;
  c->opt_hp[1] = momentum;
  c->opt_hp[2] = 1;
  c->opt_hp[3] = 4;
  c->sched.kind = TB_SCHED_COSINE;
  c->sched.warmup = 0.5;
  c->sched.min_factor = 0.01;
  c->epochs = 2;
  c->batch_size = 32;
  char buf[2048];
  snprintf(buf, sizeof buf,
           "{\"batch_size\":32,\"data\":{\"name\":\"digits\"},\"epochs\":2,"
           "\"loss\":{\"hp\":{\"gamma\":2,\"mode\":\"sum\"},\"name\":\"toy_loss\","
           "\"version\":\"1.2\"},\"model\":{\"hidden\":[64,32],\"kind\":\"mlp\"},"
           "\"optimizer\":{\"hp\":{\"lr\":%.17g,\"momentum\":%.17g},\"name\":\"%s\","
           "\"version\":\"%s\"},\"scenario\":\"%s\",\"schedule\":{\"kind\":\"cosine\"},"
           "\"seed\":%lld,\"trainbench\":\"0.1.0\"}",
           lr, momentum, opt->name, opt->version, scenario, (long long)seed);
  c->json = strdup(buf);
  tb_hash_bytes(c->hash, c->json, strlen(c->json));
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

static char *summary(tb_store *st, const char *scenario, char *err) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  int rc = tb_report_summary(st, scenario, f, err, TB_ERRLEN);
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
                    " 'runs', 'params', 'metrics', 'final_metrics', 'timings',"
                    " 'run_plugins', 'environment')") == 9);
  CHECK(sql_int(st, "SELECT count(*) FROM environment WHERE openblas_threads = 1"
                    " AND trainbench_version = '" TB_VERSION "' AND cpu <> ''"
                    " AND openblas_core <> '' AND os LIKE 'Linux %'") == 1);

  /* the lock file names its holder and is not inherited across exec */
  char lock[600], pidtext[32] = "";
  snprintf(lock, sizeof lock, "%s.lock", dbpath);
  FILE *lf = fopen(lock, "r");
  CHECK(lf != NULL);
  if (lf) {
    CHECK(fgets(pidtext, sizeof pidtext, lf) != NULL);
    fclose(lf);
  }
  CHECK(atol(pidtext) == (long)getpid());
  int fd = tb_store_lock_fd(st);
  CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));

  /* scenarios: upsert by name */
  tb_scenario_info sc = {"sweep", "scripts/a.lua", "-- v1"};
  CHECK(tb_store_put_scenario(st, &sc, err, sizeof err) == 0);
  sc.script_text = "-- v2";
  CHECK(tb_store_put_scenario(st, &sc, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM scenarios") == 1);
  CHECK_STR(sql_text(st, "SELECT script_text FROM scenarios WHERE name = 'sweep'"), "-- v2");

  /* a run lands with every row */
  tb_run_config cfg;
  tb_run_result res;
  char status[32] = "x";
  make_cfg(&cfg, "sweep", 1, &toy_sgd, 0.01, 0.9);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status) == 0);
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
  CHECK(tb_store_put_run(st, &cfg, &res, err, sizeof err) == 0);
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status) == 1);
  CHECK_STR(status, "complete");

  CHECK_STR(sql_text(st, "SELECT model || ' ' || dataset || ' ' || loss || ' ' || optimizer"
                         " || ' ' || seed || ' ' || steps || ' ' || loss_evals FROM runs"),
            "mlp[64,32]/relu digits toy_loss toy_sgd 1 120 240");
  CHECK(sql_int(st, "SELECT count(*) FROM runs r JOIN environment e"
                    " ON e.id = r.environment_id") == 1);
  CHECK(sql_int(st, "SELECT error IS NULL FROM runs") == 1);

  /* typed params under the names users write */
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'loss' AND key = 'gamma'"),
            "real:2.0");
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'loss' AND key = 'mode'"),
            "text:sum");
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'optimizer' AND key = 'nesterov'"),
            "integer:1");
  CHECK_STR(sql_text(st, "SELECT typeof(value) || ':' || value FROM params"
                         " WHERE component = 'optimizer' AND key = 'accum'"),
            "integer:4");
  CHECK_STR(sql_text(st, "SELECT value FROM params WHERE component = 'model'"
                         " AND key = 'hidden'"),
            "[64,32]");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || value, ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'model'"
                         " ORDER BY rowid)"),
            "kind=mlp hidden=[64,32] activation=relu init=he");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || value, ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'schedule'"
                         " ORDER BY rowid)"),
            "kind=cosine warmup=0.5 min_factor=0.01");
  CHECK_STR(sql_text(st, "SELECT group_concat(key || '=' || value, ' ') FROM"
                         " (SELECT key, value FROM params WHERE component = 'run'"
                         " ORDER BY rowid)"),
            "epochs=2 batch_size=32 seed=1");
  CHECK(sql_int(st, "SELECT value = 0.2 FROM params WHERE component = 'data'"
                    " AND key = 'split_val'") == 1);
  CHECK(sql_int(st, "SELECT value FROM params WHERE component = 'data'"
                    " AND key = 'split_seed'") == 7);

  /* provenance and timings */
  CHECK_STR(sql_text(st, "SELECT group_concat(kind || ' ' || name || ' ' || version || ' '"
                         " || file_hash, '; ') FROM (SELECT * FROM run_plugins ORDER BY kind)"),
            "loss toy_loss 1.2 0123456789abcdef0123456789abcdef; "
            "optimizer toy_sgd 3 fedcba9876543210fedcba9876543210");
  CHECK_STR(sql_text(st, "SELECT group_concat(epoch || ':' || seconds, ' ') FROM"
                         " (SELECT * FROM timings ORDER BY epoch)"),
            "1:1.5 2:2.0");

  /* NaN and ±inf stay distinguishable and never become NULL */
  CHECK(sql_int(st, "SELECT count(*) FROM metrics WHERE value IS NULL") == 0);
  CHECK_STR(sql_text(st, "SELECT group_concat(typeof(value) || ':' || value, ' ') FROM"
                         " (SELECT value FROM metrics WHERE split = 'train'"
                         " ORDER BY name, epoch)"),
            "real:2.5 text:NaN text:Infinity text:-Infinity");

  /* final_metrics: each curve at its last recorded epoch (not its best) */
  CHECK_STR(sql_text(st, "SELECT group_concat(split || '.' || name || '@' || epoch || '='"
                         " || value, ' ') FROM (SELECT * FROM final_metrics"
                         " ORDER BY split, name)"),
            "test.accuracy@2=0.625 train.loss@2=Infinity train.nll@2=-Infinity"
            " val.accuracy@2=0.65");

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
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status) == 1);
  CHECK_STR(status, "diverged");
  CHECK_STR(sql_text(st, "SELECT error FROM runs"), "loss is not finite at epoch 1");
  CHECK(sql_int(st, "SELECT count(*) FROM metrics") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM timings") == 1);
  CHECK(sql_int(st, "SELECT count(*) FROM run_plugins") == 2);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE run_id NOT IN (SELECT id FROM runs)")
        == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM params WHERE component = 'loss'") == 2);
  CHECK_STR(sql_text(st, "SELECT value FROM final_metrics WHERE split = 'val'"), "0.125");
  (void)old_id;

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
  CHECK(tb_store_run_status(st, cfg.hash, status, sizeof status) == 1);
  CHECK_STR(status, "diverged");
  CHECK_STR(sql_text(st, "SELECT value FROM final_metrics WHERE split = 'val'"), "0.125");
  CHECK(sql_int(st, "SELECT count(*) FROM params") ==
        sql_int(st, "SELECT count(*) FROM params WHERE run_id IN (SELECT id FROM runs)"));
  /* and a new run that fails does not appear at all */
  tb_run_config other;
  make_cfg(&other, "sweep", 2, &toy_sgd, 0.01, 0.9);
  CHECK(tb_store_put_run(st, &other, &res, err, sizeof err) != 0);
  CHECK(tb_store_run_status(st, other.hash, status, sizeof status) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 1);
  CHECK(sqlite3_exec(tb_store_db(st), "DROP TRIGGER temp.boom", NULL, NULL, NULL) == SQLITE_OK);
  /* the store is usable again afterwards */
  CHECK(tb_store_put_run(st, &other, &res, err, sizeof err) == 0);
  CHECK(sql_int(st, "SELECT count(*) FROM runs") == 2);
  free(other.json);

  /* a run without its canonical configuration is refused */
  tb_run_config bare;
  make_cfg(&bare, "sweep", 3, &toy_sgd, 0.01, 0.9);
  free(bare.json);
  bare.json = NULL;
  CHECK(tb_store_put_run(st, &bare, &res, err, sizeof err) != 0);
  CHECK_HAS(err, "canonical configuration");

  tb_result_free(&res);
  free(cfg.json);
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
    CHECK(tb_store_run_status(r, cfg.hash, status, sizeof status) == 1);
    CHECK_STR(status, "timeout");
    CHECK(tb_store_lock_fd(r) == -1);
    /* the reader cannot write */
    char *out = query(r, "DELETE FROM runs", TB_FMT_TABLE, err);
    CHECK(out == NULL);
    CHECK_HAS(err, "query is read-only: refused \"DELETE FROM runs\"");
    free(out);
    tb_result_free(&res);
    free(cfg.json);
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

  /* stored non-finite metrics come out as the strings they are */
  t = query(st, "SELECT value FROM metrics WHERE split = 'train' AND name = 'loss'"
                " AND run_id = (SELECT min(id) FROM runs)",
            TB_FMT_JSON, err);
  CHECK_STR(t, "[\n{\"value\":\"NaN\"}\n]\n");
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
  if (tb_store_put_run(st, &cfg, &res, err, sizeof err)) {
    fprintf(stderr, "put_run: %s\n", err);
    failures++;
  }
  tb_result_free(&res);
  free(cfg.json);
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
  /* lr 0.01: final val mean 0.86, so it is chosen; its test accuracies: */
  double v2[] = {0.85, 0.86, 0.87}, t2[] = {0.90, 0.92, 0.97};
  for (int s = 0; s < 3; s++)
    put_sweep_run(st, "digits", s + 1, &toy_sgd, 0.01, TB_RUN_COMPLETE, 0.1, v2[s], 0.9, t2[s]);
  /* a crashed seed of the chosen configuration and a diverged one elsewhere:
   * both count as failed and neither enters the means */
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

  char *out = summary(st, "digits", err);
  CHECK(out != NULL);
  if (!out) fprintf(stderr, "summary: %s\n", err);
  if (getenv("TB_TEST_VERBOSE")) fprintf(stderr, "%s", out ? out : "");
  /* rows as their fields (columns are separated by two spaces or more) */
  char fields[512];
  CHECK(line_with(out, "toy_sgd", line, sizeof line) != NULL);
  snprintf(fields, sizeof fields, "%s|%s|%s|%s|%s|%s|%s|%s", "digits", "toy_loss", "toy_sgd",
           "lr=0.01", "0.8600", want_test, "3", "2");
  CHECK_STR(split_fields(line), fields); /* momentum is the same everywhere: not shown */
  CHECK(line_with(out, "toy_adam", line, sizeof line) != NULL);
  /* one configuration (nothing to show), selected on train, n = 1: no sd */
  CHECK_STR(split_fields(line), "digits|toy_loss|toy_adam|0.7500*|0.7000|1|0");
  CHECK_HAS(out, "* no val split: selected on train accuracy");
  CHECK(out && strstr(out, "other") == NULL);
  /* best first: toy_sgd (0.86) before toy_adam (0.75) */
  CHECK(out && strstr(out, "toy_sgd") && strstr(out, "toy_adam") &&
        strstr(out, "toy_sgd") < strstr(out, "toy_adam"));
  /* the header and the exact row layout */
  CHECK(out && strncmp(out, "scenario  loss      optimizer  best config", 42) == 0);
  free(out);

  /* unfiltered: both scenarios */
  out = summary(st, NULL, err);
  CHECK_HAS(out, "other");
  CHECK_HAS(out, "toy_adam");
  free(out);

  /* a scenario that has no runs is an error the user sees */
  out = summary(st, "nope", err);
  CHECK(out == NULL);
  CHECK_STR(err, "no runs for scenario 'nope'");
  tb_store_close(st);
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
  if (failures == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  } else {
    fprintf(stderr, "%d check(s) failed; files kept in %s\n", failures, tmpdir);
  }
  return failures ? 1 : 0;
}
