/*
 * store.c — the SQLite results database.
 *
 * One file in WAL mode. The parent process of a sweep is its only writer: it
 * holds an exclusive flock() on the database file itself for as long as the
 * store is open, so a second writer on the same file — under any path, a
 * symlink or a hard link — refuses at once instead of interleaving runs.
 * (flock locks are independent of the POSIX record locks SQLite takes on the
 * same file; the lock's descriptor is closed only after SQLite's connection,
 * since closing any descriptor of a file drops the process's POSIX locks on
 * it.) Readers never take the lock: WAL lets them read while a sweep writes.
 *
 * Schema 5 (the version lives in PRAGMA user_version, the authority, and in
 * meta('schema_version')). `migrations[v]` takes version v to v + 1; a new
 * database goes through all of them, so the path from schema 1 is exercised
 * by every test. What a run leaves:
 *   runs            one row per configuration (config_hash UNIQUE), with its
 *                   group_hash (the configuration without the seed), sweep,
 *                   status, timings and counts
 *   params          typed hyperparameters: `num` (REAL) or `text`, never both;
 *                   `value` is a generated column coalescing the two; written
 *                   generically from the configuration tree, one row per
 *                   hyperparameter under its role path ("optimizer.base")
 *   metrics         curves (run, epoch, split, name, value, flag)
 *   final_metrics   each curve's value at the run's last epoch, written when
 *                   the run is recorded; NULL with the run's status as the
 *                   flag when the run is not complete, so a diverged run's
 *                   epoch-0 numbers never pass for a result
 *   best_metrics    every metric at the epoch of the best validation accuracy
 *                   (epochs >= 1; never chosen on test)
 *   timings, series (+ series_info), counters, run_components (one row per
 *                   role path of the tree, built-in datasets and models too)
 *   confusion       a complete run's final-epoch confusion counts per split
 *                   (non-zero cells), and calibration its confidence bins
 *                   (non-empty ones: rows, correct rows, mean confidence)
 * Split and metric names are stored and made into `results` columns whole,
 * whatever their length.
 * Runs recorded under the legacy identity (config.h) are re-keyed on the new
 * one when a sweep meets them (tb_store_adopt_legacy).
 * Non-finite numbers: a REAL column holds ±inf as real infinities and NaN as
 * NULL, and the row's `flag` says 'nan', 'inf' or '-inf', so no aggregate
 * reads a NaN as a number and a NaN never looks like a missing value.
 *
 * Around the runs: `sweeps` (one per `trainbench run`), `scenarios` versioned
 * by the hash of their script with the configurations each version expands
 * to (`scenario_configs`), `components` (kind, name, version, numeric
 * fingerprint, file and file hash) with their hyperparameter tables, and
 * `environment`. Views: `results` (one row per run, each hyperparameter and
 * final/best metric a column named like "optimizer.lr" or "test.accuracy";
 * rebuilt when a new column appears), `configs` (per configuration: runs,
 * statuses, mean and sd over seeds with n and the non-finite count beside
 * every mean) and `run_plugins` (provenance per role).
 *
 * Deleting a run deletes everything that hangs off it: foreign keys with ON
 * DELETE CASCADE in our connections, and a trigger for tools that open the
 * file without foreign keys — and for a sweep, which records its runs with
 * foreign keys off (tb_store_begin_sweep says why).
 *
 * Provides: tb_store_open_write, tb_store_open_read, tb_store_close,
 * tb_store_db, tb_store_path, tb_store_lock_fd, tb_store_begin_sweep,
 * tb_store_end_sweep, tb_store_force_resume, tb_force_resume_has, tb_force_resume_free,
 * tb_store_component_records, tb_store_register_component,
 * tb_store_run_status, tb_store_put_run, tb_store_batch_begin,
 * tb_store_batch_commit, tb_store_in_batch, tb_store_delete_runs,
 * tb_store_repair_orphans, tb_store_refresh_views, tb_store_pcache_outside_forks.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "metrics.h"
#include "registry.h"
#include "script.h"
#include "sqlfn.h"
#include "stages.h"
#include "store.h"
#include "tensor.h"
#include "trainbench/plugin.h"
#include "util.h"

typedef struct comp_id {
  const tb_component *c;
  int64_t id;
} comp_id;

/* The statements that record a run, prepared once per store: a sweep records
 * thousands of runs, and preparing a dozen statements for each (with the
 * foreign-key and trigger programs of the DELETE) cost as much as the
 * inserts themselves. */
enum { RUN_STATUS, RUN_DELETE, RUN_INSERT, RUN_COMPONENT, N_RUN_STMTS };
/* The tables a run writes many rows into, each through INSERTs of up to
 * BULK_MAX rows (statements of 32, 16, 8, 4, 2 and 1 rows): one statement
 * per row paid SQLite's per-statement work (opening the statement, the
 * ephemeral table of a CHECK(flag IN (...)), the foreign-key counters) for
 * every row, twice the cost of the insert itself. */
enum {
  BULK_PARAM, BULK_METRIC, BULK_FINAL, BULK_BEST, BULK_TIMING, BULK_SERIES, BULK_SERIES_INFO,
  BULK_COUNTER, BULK_CONFUSION, BULK_CALIBRATION, N_BULK
};
#define BULK_MAX 32
#define BULK_SIZES 6 /* 32, 16, 8, 4, 2, 1 */
struct tb_store {
  sqlite3 *db;
  char *path;
  int lock_fd;         /* the flock()ed descriptor of the database file; -1 for readers */
  int64_t env_id;      /* environment row of this process (writers) */
  int64_t sweep_id;    /* the sweep being recorded, 0 if none */
  comp_id *comps;      /* components registered by this process */
  int n_comps, cap_comps;
  char **view_cols;    /* "component\x1fkey" / "split\x1fname" columns of `results` */
  int n_view_cols, cap_view_cols;
  int has_aliases;     /* temp.legacy_alias holds runs found by their legacy identity */
  sqlite3_stmt *run_stmts[N_RUN_STMTS]; /* recording a run (put_run_rows), prepared once */
  sqlite3_stmt *bulk_stmts[N_BULK][BULK_SIZES]; /* [table][log2(BULK_MAX / rows)] */
  int in_batch;        /* a transaction holding several runs is open (tb_store_batch_begin) */
};

/* ------------------------------------------------------------------------ */
/* Schema and migrations                                                    */
/* ------------------------------------------------------------------------ */

/* 0 -> 1: the first schema (trainbench 0.1.0), kept verbatim. */
static const char schema1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE scenarios(name TEXT PRIMARY KEY, script_path TEXT, script_text TEXT,"
    " updated_at REAL);"
    "CREATE TABLE environment(id INTEGER PRIMARY KEY, cpu TEXT NOT NULL,"
    " openblas_core TEXT NOT NULL, openblas_threads INTEGER NOT NULL,"
    " compiler TEXT NOT NULL, trainbench_version TEXT NOT NULL, host TEXT NOT NULL,"
    " os TEXT NOT NULL,"
    " UNIQUE(cpu, openblas_core, openblas_threads, compiler, trainbench_version, host, os));"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, scenario TEXT NOT NULL, status TEXT NOT NULL,"
    " seed INTEGER, loss TEXT, optimizer TEXT, model TEXT, dataset TEXT,"
    " config TEXT NOT NULL, config_hash TEXT NOT NULL UNIQUE,"
    " started_at REAL, finished_at REAL, wall_seconds REAL, steps INTEGER,"
    " loss_evals INTEGER, grad_evals INTEGER, jvp_evals INTEGER, error TEXT,"
    " environment_id INTEGER REFERENCES environment(id));"
    "CREATE INDEX runs_by_group ON runs(scenario, loss, optimizer);"
    "CREATE TABLE params(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " component TEXT NOT NULL, key TEXT NOT NULL, value,"
    " UNIQUE(run_id, component, key));"
    "CREATE INDEX params_by_key ON params(component, key, value);"
    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value,"
    " PRIMARY KEY(run_id, epoch, split, name)) WITHOUT ROWID;"
    "CREATE INDEX metrics_by_curve ON metrics(run_id, split, name, epoch);"
    "CREATE VIEW final_metrics AS"
    " SELECT run_id, split, name, max(epoch) AS epoch, value FROM metrics"
    " GROUP BY run_id, split, name;"
    "CREATE TABLE timings(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, seconds REAL, PRIMARY KEY(run_id, epoch)) WITHOUT ROWID;"
    "CREATE TABLE run_plugins(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL, name TEXT NOT NULL, version TEXT, file TEXT, file_hash TEXT,"
    " PRIMARY KEY(run_id, kind)) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('created_by', 'trainbench " TB_VERSION "'),"
    " ('created_at', (julianday('now') - 2440587.5) * 86400.0);";

/* The child tables of runs: each has run_id, and all go with their run. */
static const char *const run_children[] = {
    "params", "metrics", "final_metrics", "best_metrics", "timings",
    "run_components", "series", "series_info", "counters", "confusion", "calibration"};
#define N_RUN_CHILDREN (int)(sizeof run_children / sizeof *run_children)

/* 1 -> 2. Tables whose columns change are rebuilt (create the new one, copy,
 * drop, rename) with foreign keys off, as SQLite's ALTER TABLE documentation
 * prescribes; `tb_hash(text)` and `tb_group_hash(config)` are C functions
 * registered on the writer's connection. Old values keep their meaning:
 * TEXT 'NaN' / 'Infinity' / '-Infinity' metrics become NULL / ±inf with a
 * flag; runs keep their ids, configurations and hashes, so every run a
 * schema-1 database holds is still skipped by a rerun. */
static const char schema2[] =
    "DROP VIEW final_metrics;"

    "CREATE TABLE environment2(id INTEGER PRIMARY KEY, cpu TEXT NOT NULL,"
    " math_backend TEXT NOT NULL, math_version TEXT NOT NULL, math_kernel TEXT NOT NULL,"
    " threads INTEGER NOT NULL, compiler TEXT NOT NULL, trainbench_version TEXT NOT NULL,"
    " host TEXT NOT NULL, os TEXT NOT NULL,"
    " UNIQUE(cpu, math_backend, math_version, math_kernel, threads, compiler,"
    "        trainbench_version, host, os));"
    "INSERT INTO environment2 SELECT id, cpu, 'openblas', 'unknown', openblas_core,"
    " openblas_threads, compiler, trainbench_version, host, os FROM environment;"
    "DROP TABLE environment;"
    "ALTER TABLE environment2 RENAME TO environment;"

    "CREATE TABLE sweeps(id INTEGER PRIMARY KEY, command TEXT, script_path TEXT,"
    " script_hash TEXT, host TEXT, pid INTEGER, started_at REAL, finished_at REAL,"
    " shard_index INTEGER NOT NULL DEFAULT 1, shard_count INTEGER NOT NULL DEFAULT 1,"
    " environment_id INTEGER REFERENCES environment(id));"

    "CREATE TABLE scenarios2(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " script_hash TEXT NOT NULL, script_path TEXT, script_text TEXT,"
    " first_seen REAL, last_seen REAL, UNIQUE(name, script_hash));"
    "INSERT INTO scenarios2(name, script_hash, script_path, script_text, first_seen, last_seen)"
    " SELECT name, tb_hash(coalesce(script_text, '')), script_path, script_text,"
    " updated_at, updated_at FROM scenarios;"
    "DROP TABLE scenarios;"
    "ALTER TABLE scenarios2 RENAME TO scenarios;"
    "CREATE TABLE scenario_configs(scenario_id INTEGER NOT NULL"
    " REFERENCES scenarios(id) ON DELETE CASCADE, config_hash TEXT NOT NULL,"
    " PRIMARY KEY(scenario_id, config_hash)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO scenario_configs SELECT s.id, r.config_hash FROM runs r"
    " JOIN scenarios s ON s.name = r.scenario;"

    "CREATE TABLE components(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
    " version TEXT NOT NULL, fingerprint TEXT NOT NULL DEFAULT '', probe TEXT,"
    " file TEXT NOT NULL DEFAULT '', file_hash TEXT NOT NULL DEFAULT '', summary TEXT,"
    " reference TEXT, services TEXT, first_seen REAL,"
    " UNIQUE(kind, name, version, fingerprint, file_hash));"
    "CREATE TABLE component_hparams(component_id INTEGER NOT NULL"
    " REFERENCES components(id) ON DELETE CASCADE, position INTEGER NOT NULL,"
    " name TEXT NOT NULL, type TEXT NOT NULL, default_num REAL, default_text TEXT,"
    " min REAL, max REAL, log_scale INTEGER NOT NULL, choices TEXT, help TEXT,"
    " PRIMARY KEY(component_id, name)) WITHOUT ROWID;"

    "CREATE TABLE runs2(id INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN"
    "  ('complete', 'diverged', 'crashed', 'timeout', 'failed')),"
    " seed INTEGER, loss TEXT, optimizer TEXT, model TEXT, dataset TEXT,"
    " config TEXT NOT NULL, config_hash TEXT NOT NULL UNIQUE, group_hash TEXT NOT NULL,"
    " sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL,"
    " started_at REAL, finished_at REAL, wall_seconds REAL, compute_seconds REAL,"
    " cpu_seconds REAL, steps INTEGER, loss_evals INTEGER, grad_evals INTEGER,"
    " jvp_evals INTEGER, error TEXT, environment_id INTEGER REFERENCES environment(id));"
    "INSERT INTO runs2(id, scenario, status, seed, loss, optimizer, model, dataset, config,"
    " config_hash, group_hash, started_at, finished_at, wall_seconds, steps, loss_evals,"
    " grad_evals, jvp_evals, error, environment_id)"
    " SELECT id, scenario, status, seed, loss, optimizer, model, dataset, config, config_hash,"
    " tb_group_hash(config), started_at, finished_at, wall_seconds, steps, loss_evals,"
    " grad_evals, jvp_evals, error, environment_id FROM runs;"

    "CREATE TABLE run_components(run_id INTEGER NOT NULL REFERENCES runs2(id)"
    " ON DELETE CASCADE, role TEXT NOT NULL, component_id INTEGER NOT NULL"
    " REFERENCES components(id), PRIMARY KEY(run_id, role)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO components(kind, name, version, file, file_hash)"
    " SELECT DISTINCT kind, name, coalesce(version, ''), coalesce(file, ''),"
    " coalesce(file_hash, '') FROM run_plugins;"
    "INSERT INTO run_components SELECT p.run_id, p.kind, c.id FROM run_plugins p"
    " JOIN components c ON c.kind = p.kind AND c.name = p.name"
    "  AND c.version = coalesce(p.version, '') AND c.fingerprint = ''"
    "  AND c.file_hash = coalesce(p.file_hash, '')"
    " WHERE p.run_id IN (SELECT id FROM runs2);"
    "DROP TABLE run_plugins;"

    "CREATE TABLE params2(run_id INTEGER NOT NULL REFERENCES runs2(id) ON DELETE CASCADE,"
    " component TEXT NOT NULL, key TEXT NOT NULL, num REAL, text TEXT,"
    " value GENERATED ALWAYS AS (coalesce(num, text)) VIRTUAL,"
    " CHECK((num IS NULL) <> (text IS NULL)), UNIQUE(run_id, component, key));"
    "INSERT INTO params2(rowid, run_id, component, key, num, text)"
    " SELECT rowid, run_id, component, key,"
    "  CASE WHEN typeof(value) IN ('integer', 'real') THEN value END,"
    "  CASE WHEN typeof(value) NOT IN ('integer', 'real') THEN coalesce(value, '') END"
    " FROM params WHERE run_id IN (SELECT id FROM runs2);"
    "DROP TABLE params;"

    "CREATE TABLE metrics2(run_id INTEGER NOT NULL REFERENCES runs2(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL,"
    " flag TEXT CHECK(flag IN ('nan', 'inf', '-inf')),"
    " PRIMARY KEY(run_id, epoch, split, name)) WITHOUT ROWID;"
    "INSERT INTO metrics2 SELECT run_id, epoch, split, name,"
    "  CASE WHEN value = 'Infinity' THEN 9e999 WHEN value = '-Infinity' THEN -9e999"
    "       WHEN typeof(value) IN ('integer', 'real') THEN value END,"
    "  CASE value WHEN 'NaN' THEN 'nan' WHEN 'Infinity' THEN 'inf'"
    "             WHEN '-Infinity' THEN '-inf' END"
    " FROM metrics WHERE run_id IN (SELECT id FROM runs2);"
    "DROP TABLE metrics;"

    "CREATE TABLE timings2(run_id INTEGER NOT NULL REFERENCES runs2(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, seconds REAL, PRIMARY KEY(run_id, epoch)) WITHOUT ROWID;"
    "INSERT INTO timings2 SELECT run_id, epoch, seconds FROM timings"
    " WHERE run_id IN (SELECT id FROM runs2) AND typeof(seconds) IN ('integer', 'real');"
    "DROP TABLE timings;"

    "DROP TABLE runs;"
    "ALTER TABLE runs2 RENAME TO runs;"
    "ALTER TABLE params2 RENAME TO params;"
    "ALTER TABLE metrics2 RENAME TO metrics;"
    "ALTER TABLE timings2 RENAME TO timings;"
    "CREATE INDEX runs_by_scenario ON runs(scenario, loss, optimizer);"
    "CREATE INDEX runs_by_group ON runs(group_hash);"
    "CREATE INDEX params_by_key ON params(component, key, num);"
    "CREATE INDEX metrics_by_curve ON metrics(run_id, split, name, epoch);"

    "CREATE TABLE final_metrics(run_id INTEGER NOT NULL REFERENCES runs(id)"
    " ON DELETE CASCADE, split TEXT NOT NULL, name TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " value REAL, flag TEXT, PRIMARY KEY(run_id, split, name)) WITHOUT ROWID;"
    "INSERT INTO final_metrics SELECT m.run_id, m.split, m.name, max(m.epoch),"
    "  CASE WHEN r.status = 'complete' THEN m.value END,"
    "  CASE WHEN r.status = 'complete' THEN m.flag ELSE r.status END"
    " FROM metrics m JOIN runs r ON r.id = m.run_id GROUP BY m.run_id, m.split, m.name;"

    "CREATE TABLE best_metrics(run_id INTEGER NOT NULL REFERENCES runs(id)"
    " ON DELETE CASCADE, selected_by TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " split TEXT NOT NULL, name TEXT NOT NULL, value REAL, flag TEXT,"
    " PRIMARY KEY(run_id, split, name)) WITHOUT ROWID;"
    "INSERT INTO best_metrics SELECT m.run_id, 'val.accuracy', b.epoch, m.split, m.name,"
    "  m.value, m.flag FROM metrics m JOIN ("
    "   SELECT run_id, epoch, row_number() OVER (PARTITION BY run_id"
    "    ORDER BY value DESC, epoch) AS rk FROM metrics"
    "   WHERE split = 'val' AND name = 'accuracy' AND epoch >= 1 AND value IS NOT NULL"
    "    AND flag IS NULL AND run_id IN (SELECT id FROM runs WHERE status = 'complete')"
    "  ) b ON b.run_id = m.run_id AND b.epoch = m.epoch AND b.rk = 1;"

    "CREATE TABLE series(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, step INTEGER NOT NULL, value REAL,"
    " flag TEXT CHECK(flag IN ('nan', 'inf', '-inf')),"
    " PRIMARY KEY(run_id, name, step)) WITHOUT ROWID;"
    "CREATE TABLE series_info(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, every INTEGER NOT NULL, PRIMARY KEY(run_id, name)) WITHOUT ROWID;"
    "CREATE TABLE counters(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, name)) WITHOUT ROWID;"

    /* tools that delete runs without foreign keys still take their rows along */
    "CREATE TRIGGER runs_cascade AFTER DELETE ON runs BEGIN"
    " DELETE FROM params WHERE run_id = old.id;"
    " DELETE FROM metrics WHERE run_id = old.id;"
    " DELETE FROM final_metrics WHERE run_id = old.id;"
    " DELETE FROM best_metrics WHERE run_id = old.id;"
    " DELETE FROM timings WHERE run_id = old.id;"
    " DELETE FROM run_components WHERE run_id = old.id;"
    " DELETE FROM series WHERE run_id = old.id;"
    " DELETE FROM series_info WHERE run_id = old.id;"
    " DELETE FROM counters WHERE run_id = old.id;"
    " END;"

    "CREATE VIEW run_plugins AS SELECT rc.run_id, rc.role, c.kind, c.name, c.version,"
    " c.file, c.file_hash, c.fingerprint FROM run_components rc"
    " JOIN components c ON c.id = rc.component_id;";


/* 2 -> 3 (issue 7: every configurable part a component). Params rows come
 * from the configuration tree generically: each part has a `name` row (the
 * model's and the schedule's were `kind`), and a hyperparameter's row is
 * named as the hyperparameter, so the CSV label is `label` (1-based, no row
 * when absent: the last column) where it was `label_col` (0-based, -1 for
 * the last). Identities do not change here: runs keyed on the old JSON are
 * found and re-keyed when a sweep meets them (tb_store_adopt_legacy). */
static const char schema3[] =
    "UPDATE params SET key = 'name' WHERE component IN ('model', 'schedule') AND key = 'kind';"
    "UPDATE params SET key = 'label', num = num + 1"
    " WHERE component = 'data' AND key = 'label_col' AND num >= 0;"
    "DELETE FROM params WHERE component = 'data' AND key = 'label_col';";

/* 3 -> 4 (issue 8: the metrics registry). What a complete run keeps of its
 * final evaluation for reliability diagrams and per-class tables: the
 * non-zero cells of each split's confusion counts, and the non-empty bins
 * of the 15 confidence bins of ece and mce (rows, correct rows, mean
 * confidence; edges lo <= conf < hi, conf = 1 in the last). Runs recorded
 * before have none: nothing to derive them from. A second trigger deletes
 * their rows with the run's for tools without foreign keys. */
static const char schema4[] =
    "CREATE TABLE confusion(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " split TEXT NOT NULL, epoch INTEGER NOT NULL, true_class INTEGER NOT NULL,"
    " pred_class INTEGER NOT NULL, count INTEGER NOT NULL CHECK(count > 0),"
    " PRIMARY KEY(run_id, split, true_class, pred_class)) WITHOUT ROWID;"
    "CREATE TABLE calibration(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " split TEXT NOT NULL, epoch INTEGER NOT NULL, bin INTEGER NOT NULL, lo REAL NOT NULL,"
    " hi REAL NOT NULL, count INTEGER NOT NULL CHECK(count > 0),"
    " correct INTEGER NOT NULL CHECK(correct BETWEEN 0 AND count), confidence REAL,"
    " flag TEXT CHECK(flag IN ('nan', 'inf', '-inf')),"
    " PRIMARY KEY(run_id, split, bin)) WITHOUT ROWID;"
    "CREATE TRIGGER runs_cascade_final AFTER DELETE ON runs BEGIN"
    " DELETE FROM confusion WHERE run_id = old.id;"
    " DELETE FROM calibration WHERE run_id = old.id;"
    " END;";

/* 4 -> 5 (issue 9: recording a run costs under 2 % of its compute). Two
 * things every row of a run paid for and nobody read:
 *   - the index metrics_by_curve held the primary key's four columns in
 *     another order: a second B-tree insert per metric, for lookups of one
 *     curve of one run that the primary key answers from the run's few
 *     hundred rows;
 *   - CHECK(flag IN ('nan', 'inf', '-inf')) built a temporary table of its
 *     three strings for every row inserted (SQLite 3.40 makes one for an IN
 *     list of more than two constants): 16 % of recording's instructions. The
 *     same check as three comparisons (NULL passes either way) is written
 *     into the schema text of metrics, series and calibration in place:
 *     SQLite's documented way to change a CHECK constraint, which leaves the
 *     stored rows as they are (a rebuild would copy every metric row of a
 *     large database), every stored flag satisfying the new check as it did
 *     the old one. migrate() then checks that all three changed and bumps the
 *     schema cookie, so every connection reads the new text (flag_check_done).
 * The relations and what they hold do not change. One column is added
 * (issue 10, before schema 5 was released): sweeps.forced, 1 for a
 * `run --force`, which a later `run --force` of the same script resumes
 * while it is unfinished (tb_store_force_resume). The command line cannot
 * say it reliably: getopt takes `--forc` for `--force`, and a script may be
 * named anything. Sweeps recorded before have 0: they resume nothing. */
static const char schema5[] =
    "ALTER TABLE sweeps ADD COLUMN forced INTEGER NOT NULL DEFAULT 0 CHECK(forced IN (0, 1));"
    "DROP INDEX metrics_by_curve;"
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(sql,"
    " 'flag TEXT CHECK(flag IN (''nan'', ''inf'', ''-inf''))',"
    " 'flag TEXT CHECK(flag = ''nan'' OR flag = ''inf'' OR flag = ''-inf'')')"
    " WHERE type = 'table' AND name IN ('metrics', 'series', 'calibration');"
    "PRAGMA writable_schema = OFF;";

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* After a failed write or open, what the system said ("No space left on
 * device"), or when SQLite kept no errno (a short write past a file size
 * limit), the space left where the database is and the process's file size
 * limit: "disk I/O error" alone does not tell a full disk from a limit or a
 * failing disk. "" after any other error. */
static const char *os_reason(sqlite3 *db, char *buf, size_t len) {
  const int code = sqlite3_extended_errcode(db) & 0xff, e = sqlite3_system_errno(db);
  buf[0] = 0;
  if (code != SQLITE_IOERR && code != SQLITE_FULL && code != SQLITE_CANTOPEN) return buf;
  if (e) {
    snprintf(buf, len, " (%s)", strerror(e));
    return buf;
  }
  const char *path = sqlite3_db_filename(db, "main");
  struct statvfs fs;
  struct rlimit rl;
  size_t n = 0;
  if (path && *path && statvfs(path, &fs) == 0)
    n += (size_t)snprintf(buf, len, " (%.1f MB free on its file system",
                          (double)fs.f_bavail * (double)fs.f_frsize / 1e6);
  if (n && n < len && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    n += (size_t)snprintf(buf + n, len - n, "; files are limited to %.1f MB (ulimit -f)",
                          (double)rl.rlim_cur / 1e6);
  if (n && n < len) snprintf(buf + n, len - n, ")");
  return buf;
}

static int db_fail(char *err, size_t errlen, sqlite3 *db, const char *what) {
  char os[128];
  tb_errf(err, errlen, "%s: %s%s", what, sqlite3_errmsg(db), os_reason(db, os, sizeof os));
  return -1;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    char os[128];
    tb_errf(err, errlen, "%s: %s%s", what, msg ? msg : sqlite3_errmsg(db),
            os_reason(db, os, sizeof os));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* One integer from a statement like "PRAGMA user_version". */
static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc == SQLITE_ROW ? 0 : -1;
}

/* A real for a REAL column: finite and ±inf as they are, NaN as NULL. */
static int bind_real(sqlite3_stmt *s, int i, double x) {
  if (isnan(x)) return sqlite3_bind_null(s, i);
  return sqlite3_bind_double(s, i, x);
}

/* The flag that goes beside a real: NULL when finite. */
static const char *nonfinite_flag(double x) {
  if (isnan(x)) return "nan";
  if (isinf(x)) return x > 0 ? "inf" : "-inf";
  return NULL;
}

static int bind_text_or_null(sqlite3_stmt *s, int i, const char *t) {
  if (!t || !*t) return sqlite3_bind_null(s, i);
  return sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
}

/* Step a statement that returns no rows, then reset it; 0 on success. */
static int step_done(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* mkdir -p of the folder that will hold `path` */
static int make_parent_dirs(const char *path, char *err, size_t errlen) {
  char *dir = strdup(path);
  if (!dir) abort();
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    char c = *p;
    if (c != '/' && c != '\0') continue;
    *p = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
      tb_errf(err, errlen, "cannot create folder '%s': %s", dir, strerror(errno));
      free(dir);
      return -1;
    }
    *p = c;
    if (c == '\0') break;
  }
  struct stat sb;
  int ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
  if (!ok) tb_errf(err, errlen, "cannot create folder '%s': not a directory", dir);
  free(dir);
  return ok ? 0 : -1;
}

static tb_store *store_new(const char *path) {
  tb_store *st = calloc(1, sizeof *st);
  if (!st) abort();
  st->path = strdup(path);
  if (!st->path) abort();
  st->lock_fd = -1;
  return st;
}

void tb_store_close(tb_store *st) {
  if (!st) return;
  for (int i = 0; i < N_RUN_STMTS; i++) sqlite3_finalize(st->run_stmts[i]);
  for (int i = 0; i < N_BULK; i++)
    for (int j = 0; j < BULK_SIZES; j++) sqlite3_finalize(st->bulk_stmts[i][j]);
  /* SQLite's connection first: closing the lock's descriptor drops this
   * process's POSIX locks on the file, which SQLite may still hold */
  if (st->db) sqlite3_close_v2(st->db);
  if (st->lock_fd >= 0) close(st->lock_fd);
  for (int i = 0; i < st->n_view_cols; i++) free(st->view_cols[i]);
  free(st->view_cols);
  free(st->comps);
  free(st->path);
  free(st);
}

sqlite3 *tb_store_db(tb_store *st) { return st->db; }
const char *tb_store_path(const tb_store *st) { return st->path; }
int tb_store_lock_fd(tb_store *st) { return st ? st->lock_fd : -1; }

/* ------------------------------------------------------------------------ */
/* The writer's lock                                                        */
/* ------------------------------------------------------------------------ */

/* The pid holding a FLOCK on (dev, ino), from /proc/locks; -1 if unknown.
 * Lines read "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF". */
static long flock_holder(dev_t dev, ino_t ino) {
  FILE *f = fopen("/proc/locks", "r");
  if (!f) return -1;
  char line[256];
  long found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    char type[16], mode[16], rw[16];
    long pid;
    unsigned maj, min;
    unsigned long long inode;
    char *p = strchr(line, ':');
    if (!p) continue;
    if (sscanf(p + 1, "%15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &pid, &maj, &min,
               &inode) != 7)
      continue;
    if (strcmp(type, "FLOCK") == 0 && inode == (unsigned long long)ino &&
        makedev(maj, min) == dev)
      found = pid;
  }
  fclose(f);
  return found;
}

static int take_lock(tb_store *st, char *err, size_t errlen) {
  /* O_CLOEXEC: a program a plugin execs must not inherit the lock; forked
   * workers close it themselves */
  int fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    tb_errf(err, errlen, "cannot open database '%s': %s", st->path, strerror(errno));
    return -1;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    tb_errf(err, errlen, "cannot open database '%s': not a regular file", st->path);
    close(fd);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      long pid = flock_holder(sb.st_dev, sb.st_ino);
      if (pid > 0)
        tb_errf(err, errlen, "database '%s' is in use by another trainbench run (pid %ld)",
                st->path, pid);
      else
        tb_errf(err, errlen, "database '%s' is in use by another trainbench run", st->path);
    } else {
      tb_errf(err, errlen, "cannot lock database '%s': %s", st->path, strerror(e));
    }
    close(fd);
    return -1;
  }
  st->lock_fd = fd;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* SQL functions the migrations use                                         */
/* ------------------------------------------------------------------------ */

static void fn_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const void *t = sqlite3_value_text(argv[0]);
  char h[TB_HASHLEN];
  tb_hash_bytes(h, t ? t : "", t ? (size_t)sqlite3_value_bytes(argv[0]) : 0);
  sqlite3_result_text(ctx, h, -1, SQLITE_TRANSIENT);
}

static void fn_group_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *t = (const char *)sqlite3_value_text(argv[0]);
  char h[TB_HASHLEN];
  if (!t || tb_config_group_hash(t, h)) {
    sqlite3_result_error(ctx, "a run's config has no top-level seed", -1);
    return;
  }
  sqlite3_result_text(ctx, h, -1, SQLITE_TRANSIENT);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

static const char *const migrations[TB_SCHEMA_VERSION] = {schema1, schema2, schema3, schema4,
                                                          schema5};

/* After schema5's edit of the schema text: all three tables carry the new
 * check (a text that did not match would leave the old one silently), and
 * the schema cookie moves on, as SQLite prescribes after writable_schema, so
 * that this connection and every other one parse the new text. */
static int flag_check_done(tb_store *st, char *err, size_t errlen, const char *what) {
  int64_t changed = 0, cookie = 0;
  if (query_int(st->db,
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                " AND name IN ('metrics', 'series', 'calibration')"
                " AND instr(sql, 'CHECK(flag = ''nan'' OR flag = ''inf'' OR flag = ''-inf'')')"
                " AND NOT instr(sql, 'IN (''nan''')",
                &changed) ||
      query_int(st->db, "PRAGMA schema_version", &cookie))
    return db_fail(err, errlen, st->db, what);
  if (changed != 3) {
    tb_errf(err, errlen, "%s: the flag columns of metrics, series and calibration are not "
            "as schema 4 made them", what);
    return -1;
  }
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA schema_version = %lld", (long long)cookie + 1);
  return exec(st->db, sql, err, errlen, what);
}

static int migrate(tb_store *st, int64_t from, char *err, size_t errlen) {
  if (from >= TB_SCHEMA_VERSION) return 0;
  char what[1200];
  /* table rebuilds need foreign keys off, and that pragma is a no-op inside
   * a transaction */
  if (exec(st->db, "PRAGMA foreign_keys = OFF", err, errlen, "cannot upgrade")) return -1;
  for (int64_t v = from; v < TB_SCHEMA_VERSION; v++) {
    snprintf(what, sizeof what, "cannot upgrade '%s' to schema version %lld", st->path,
             (long long)(v + 1));
    if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, what)) return -1;
    char tail[256];
    snprintf(tail, sizeof tail,
             "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %lld);"
             "PRAGMA user_version = %lld;",
             (long long)(v + 1), (long long)(v + 1));
    int64_t violations = 0;
    if (exec(st->db, migrations[v], err, errlen, what) ||
        (v + 1 == 5 && flag_check_done(st, err, errlen, what)) ||
        exec(st->db, tail, err, errlen, what) ||
        query_int(st->db, "SELECT count(*) FROM pragma_foreign_key_check", &violations) ||
        (violations > 0 &&
         (tb_errf(err, errlen, "%s: %lld rows break a foreign key", what,
                  (long long)violations), 1)) ||
        exec(st->db, "COMMIT", err, errlen, what)) {
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  if (from > 0)
    fprintf(stderr, "trainbench: upgraded '%s' from schema %lld to %d; every run is kept\n",
            st->path, (long long)from, TB_SCHEMA_VERSION);
  return exec(st->db, "PRAGMA foreign_keys = ON", err, errlen, "cannot upgrade");
}

/* Refuse what this build cannot read; return the version found. */
static int check_version(tb_store *st, int64_t *version, char *err, size_t errlen) {
  char what[1200];
  snprintf(what, sizeof what, "cannot read database '%s'", st->path);
  if (query_int(st->db, "PRAGMA user_version", version))
    return db_fail(err, errlen, st->db, what);
  if (*version > TB_SCHEMA_VERSION) {
    tb_errf(err, errlen,
            "database '%s' has schema version %lld, newer than this trainbench supports "
            "(%d); use a newer trainbench",
            st->path, (long long)*version, TB_SCHEMA_VERSION);
    return -1;
  }
  if (*version == 0) {
    int64_t n = 0;
    if (query_int(st->db, "SELECT count(*) FROM sqlite_master", &n))
      return db_fail(err, errlen, st->db, what);
    if (n > 0) {
      tb_errf(err, errlen, "'%s' is not a trainbench results database", st->path);
      return -1;
    }
  }
  return 0;
}

static void read_cpu_model(char *out, size_t len) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  out[0] = '\0';
  if (f) {
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) != 0 && strncmp(line, "Model", 5) != 0) continue;
      char *colon = strchr(line, ':');
      if (!colon) continue;
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      v[strcspn(v, "\n")] = '\0';
      snprintf(out, len, "%s", v);
      break;
    }
    fclose(f);
  }
}

static int record_environment(tb_store *st, char *err, size_t errlen) {
  struct utsname u;
  char cpu[256], os[400];
  if (uname(&u) != 0) memset(&u, 0, sizeof u);
  read_cpu_model(cpu, sizeof cpu);
  if (!cpu[0]) snprintf(cpu, sizeof cpu, "%s", u.machine[0] ? u.machine : "unknown");
  snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
  tb_blas_desc blas;
  tb_blas_describe(&blas);
#if defined(__clang__)
  const char *compiler = __VERSION__;
#elif defined(__GNUC__)
  const char *compiler = "gcc " __VERSION__;
#else
  const char *compiler = "unknown";
#endif
  sqlite3_stmt *s = NULL;
  /* workers run one BLAS thread each (sweep.c) */
  const char *sql =
      "INSERT INTO environment(cpu, math_backend, math_version, math_kernel, threads,"
      " compiler, trainbench_version, host, os)"
      " VALUES(?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8)"
      " ON CONFLICT DO UPDATE SET cpu = excluded.cpu RETURNING id";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot record the environment");
  sqlite3_bind_text(s, 1, cpu, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, blas.backend, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, blas.version, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, blas.kernel, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, compiler, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, TB_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, u.nodename, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 8, os, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) st->env_id = sqlite3_column_int64(s, 0);
  int fail = rc != SQLITE_ROW;
  if (fail) db_fail(err, errlen, st->db, "cannot record the environment");
  sqlite3_finalize(s);
  return fail ? -1 : 0;
}

static int open_db(tb_store *st, int flags, char *err, size_t errlen) {
  /* NOMUTEX: a connection is used by the one thread that opened it, and
   * the serialized mode's mutex around every bind and step was 3 % of
   * recording a run */
  if (sqlite3_open_v2(st->path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    tb_errf(err, errlen, "cannot open database '%s': %s", st->path,
            st->db ? sqlite3_errmsg(st->db) : "out of memory");
    return -1;
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, 10000);
  return 0;
}

static int load_view_columns(tb_store *st);

/* The sweep forks a worker per run, and a fork write-protects every page of
 * the parent: each page SQLite then wrote while recording took a
 * copy-on-write fault (perf: 20 % of the parent's time on 18 ms runs). So
 * `run` puts SQLite's page cache in a mapping marked MADV_DONTFORK, which
 * its children never get: workers and probes never touch the database (nor
 * does a plugin's exit(): SQLite registers no atexit). A process whose
 * children do use SQLite (the store tests fork readers) must not call this.
 * 1024 pages (4 MiB) hold the default cache of 2000 KiB and a batch's dirty
 * pages; beyond them SQLite takes memory from malloc as before. Best effort:
 * only before SQLite is initialized, and if the mapping fails SQLite simply
 * keeps malloc. */
#define PCACHE_PAGES 1024
void tb_store_pcache_outside_forks(void) {
  static int done;
  if (done) return;
  done = 1;
  int hdr = 0;
  if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK) return;
  size_t line = (4096 + (size_t)hdr + 7) & ~(size_t)7, size = line * PCACHE_PAGES;
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return;
  if (madvise(m, size, MADV_DONTFORK) != 0 ||
      sqlite3_config(SQLITE_CONFIG_PAGECACHE, m, (int)line, PCACHE_PAGES) != SQLITE_OK)
    munmap(m, size);
}

int tb_store_open_write(tb_store **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  if (!path || !*path) {
    tb_errf(err, errlen, "no database path given (empty --db)");
    return -1;
  }
  if (make_parent_dirs(path, err, errlen)) return -1;
  tb_store *st = store_new(path);
  if (take_lock(st, err, errlen) ||
      open_db(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen)) {
    tb_store_close(st);
    return -1;
  }
  sqlite3_create_function(st->db, "tb_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                          fn_hash, NULL, NULL);
  sqlite3_create_function(st->db, "tb_group_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                          NULL, fn_group_hash, NULL, NULL);
  char what[1200];
  snprintf(what, sizeof what, "cannot set up database '%s'", path);
  /* Check the version before anything writes: a newer database stays as is. */
  int64_t version = 0;
  if (check_version(st, &version, err, errlen) ||
      exec(st->db, "PRAGMA synchronous = NORMAL", err, errlen, what)) {
    tb_store_close(st);
    return -1;
  }
  sqlite3_stmt *s = NULL;
  int wal = 0;
  if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    wal = mode && strcmp(mode, "wal") == 0;
  }
  sqlite3_finalize(s);
  if (!wal) {
    tb_errf(err, errlen, "cannot switch database '%s' to WAL mode: %s", path,
            sqlite3_errmsg(st->db));
    tb_store_close(st);
    return -1;
  }
  if (migrate(st, version, err, errlen) ||
      exec(st->db, "PRAGMA foreign_keys = ON", err, errlen, what) ||
      record_environment(st, err, errlen) || load_view_columns(st) ||
      tb_store_refresh_views(st, err, errlen)) {
    tb_store_close(st);
    return -1;
  }
  *out = st;
  return 0;
}

/* Reading from a place this process cannot write (a folder or file of
 * another user, a read-only mount). SQLite 3.40 reads a WAL database opened
 * read-only when its "-wal" and "-shm" files exist (a writer is running or
 * died) or when it may create them. A writer that closed cleanly has removed
 * both, and then SQLite refuses ("attempt to write a readonly database", or
 * "unable to open database file" on a read-only mount). Without a -wal file,
 * or with an empty one, the database file holds every committed transaction,
 * so we read it as an immutable file: no locks, no -shm. Immutable means that
 * SQLite trusts the file not to change, so the file's identity at open goes
 * into the URI (tb_ino, tb_size, tb_mtime_ns) and report.c checks it around
 * each query: a writer that starts meanwhile and folds its log into the file
 * makes the query fail instead of returning a torn read.
 * A non-empty -wal that SQLite could not use holds commits that the database
 * file lacks, and a -journal holds a half-written transaction: reading the
 * file alone would give stale or broken numbers, so we refuse and say why. */

static int size_of(const char *path, off_t *size) {
  struct stat sb;
  if (stat(path, &sb) != 0) return -1;
  *size = sb.st_size;
  return 0;
}

/* "file:" URI naming `path`, with `query` appended after "?" (malloc'd). */
static char *file_uri(const char *path, const char *query) {
  size_t n = strlen(path), o = 0;
  char *u = malloc(3 * n + strlen(query) + 32);
  if (!u) abort();
  /* an absolute path gets an explicit authority, so "//x" is not one */
  o += (size_t)sprintf(u, path[0] == '/' ? "file://localhost" : "file:");
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("/-._~", c))
      u[o++] = (char)c;
    else
      o += (size_t)sprintf(u + o, "%%%02X", c);
  }
  sprintf(u + o, "?%s", query);
  return u;
}

/* Why a non-empty log cannot be used from here, for the error message. */
static void log_problem(const char *path, char *why, size_t len, sqlite3 *db) {
  size_t n = strlen(path) + 8;
  char *wal = malloc(n), *shm = malloc(n);
  if (!wal || !shm) abort();
  snprintf(wal, n, "%s-wal", path);
  snprintf(shm, n, "%s-shm", path);
  if (access(wal, R_OK) != 0)
    snprintf(why, len, "the log cannot be read: %s", strerror(errno));
  else if (access(shm, F_OK) != 0)
    snprintf(why, len, "its index '%s' is missing and cannot be created here", shm);
  else if (access(shm, R_OK) != 0)
    snprintf(why, len, "its index '%s' cannot be read: %s", shm, strerror(errno));
  else
    snprintf(why, len, "%s", sqlite3_errmsg(db));
  free(wal);
  free(shm);
}

/* After a read-only open failed with SQLITE_READONLY or SQLITE_CANTOPEN:
 * reopen the database as an immutable file when that is safe (see above). */
static int open_read_immutable(tb_store *st, char *err, size_t errlen) {
  /* SQLite follows symbolic links: the log is beside the real file */
  char *real = realpath(st->path, NULL);
  if (!real) {
    tb_errf(err, errlen, "no results database at '%s'", st->path);
    return -1;
  }
  size_t n = strlen(real) + 16;
  char *side = malloc(n);
  if (!side) abort();
  off_t wal_size = 0, journal_size = 0;
  snprintf(side, n, "%s-wal", real);
  int has_wal = size_of(side, &wal_size) == 0 && wal_size > 0;
  snprintf(side, n, "%s-journal", real);
  int has_journal = size_of(side, &journal_size) == 0 && journal_size > 0;
  free(side);
  if (has_wal) {
    char why[600];
    log_problem(real, why, sizeof why, st->db);
    tb_errf(err, errlen,
            "cannot read database '%s' consistently: its write-ahead log '%s-wal' holds "
            "changes not yet in the database file, and %s; reading the file alone would give "
            "stale results (a user who can write the folder can fold the log in with: "
            "sqlite3 '%s' 'PRAGMA wal_checkpoint(TRUNCATE)')",
            st->path, real, why, real);
    free(real);
    return -1;
  }
  if (has_journal) {
    tb_errf(err, errlen,
            "cannot read database '%s' consistently: '%s-journal' holds an interrupted "
            "transaction that only a user who can write the folder can roll back",
            st->path, real);
    free(real);
    return -1;
  }
  struct stat sb;
  if (stat(real, &sb) != 0) {
    tb_errf(err, errlen, "no results database at '%s'", st->path);
    free(real);
    return -1;
  }
  char query[256];
  snprintf(query, sizeof query, "immutable=1&tb_ino=%llu&tb_size=%lld&tb_mtime_ns=%lld",
           (unsigned long long)sb.st_ino, (long long)sb.st_size,
           (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec);
  char *uri = file_uri(real, query);
  free(real);
  sqlite3_close_v2(st->db);
  st->db = NULL;
  char *path = st->path;
  st->path = uri; /* open_db opens st->path */
  int rc = open_db(st, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err, errlen);
  st->path = path;
  free(uri);
  if (rc) /* open_db named the URI: name the file instead */
    tb_errf(err, errlen, "cannot open database '%s': %s", path,
            st->db ? sqlite3_errmsg(st->db) : "out of memory");
  return rc;
}

int tb_store_open_read(tb_store **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    tb_errf(err, errlen, "no results database at '%s'", path);
    return -1;
  }
  tb_store *st = store_new(path);
  int64_t version = 0;
  int rc = open_db(st, SQLITE_OPEN_READONLY, err, errlen) ||
           check_version(st, &version, err, errlen);
  if (rc && st->db) {
    int code = sqlite3_extended_errcode(st->db) & 0xff;
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)
      rc = open_read_immutable(st, err, errlen) || check_version(st, &version, err, errlen);
  }
  if (rc) {
    tb_store_close(st);
    return -1;
  }
  if (version == 0) {
    tb_errf(err, errlen, "'%s' is not a trainbench results database", path);
    tb_store_close(st);
    return -1;
  }
  if (version < TB_SCHEMA_VERSION) {
    tb_errf(err, errlen,
            "database '%s' has schema version %lld; a `trainbench run` on it upgrades it "
            "to %d (every run is kept)",
            path, (long long)version, TB_SCHEMA_VERSION);
    tb_store_close(st);
    return -1;
  }
  if (tb_sql_register(st->db) != SQLITE_OK) {
    db_fail(err, errlen, st->db, "cannot register the SQL functions");
    tb_store_close(st);
    return -1;
  }
  sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
  *out = st;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The `results` view: one row per run, a column per hyperparameter/metric  */
/* ------------------------------------------------------------------------ */

/* Add "<tag><a>\x1f<b>" to the known columns (tag 'p' a parameter, 'm' a
 * final metric; names of any length); 1 if it was new. */
static int view_col_add(tb_store *st, char tag, const char *a, const char *b) {
  char *key;
  if (asprintf(&key, "%c%s\x1f%s", tag, a, b) < 0) abort();
  for (int i = 0; i < st->n_view_cols; i++)
    if (strcmp(st->view_cols[i], key) == 0) {
      free(key);
      return 0;
    }
  if (st->n_view_cols == st->cap_view_cols) {
    st->cap_view_cols = st->cap_view_cols ? 2 * st->cap_view_cols : 64;
    st->view_cols = realloc(st->view_cols, sizeof(char *) * (size_t)st->cap_view_cols);
    if (!st->view_cols) abort();
  }
  st->view_cols[st->n_view_cols++] = key;
  return 1;
}

static int load_view_columns(tb_store *st) {
  sqlite3_stmt *s;
  const char *sql =
      "SELECT DISTINCT 'p', component, key FROM params"
      " UNION SELECT DISTINCT 'm', split, name FROM final_metrics";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  while (sqlite3_step(s) == SQLITE_ROW)
    view_col_add(st, *(const char *)sqlite3_column_text(s, 0),
                 (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2));
  sqlite3_finalize(s);
  return 0;
}

/* Append a quoted SQL identifier or string. */
static void put_quoted(FILE *f, const char *s, char q) {
  fputc(q, f);
  for (; *s; s++) {
    if (*s == q) fputc(q, f);
    fputc(*s, f);
  }
  fputc(q, f);
}

/* Order of the columns: loss, optimizer, then other components (sorted);
 * metrics train, val, test. Keys are "p<component>\x1f<key>" and
 * "m<split>\x1f<name>". */
static int col_rank(const char *k) {
  if (k[0] == 'p') {
    if (strncmp(k + 1, "loss\x1f", 5) == 0 || strncmp(k + 1, "loss.", 5) == 0) return 0;
    if (strncmp(k + 1, "optimizer", 9) == 0) return 1;
    return 2;
  }
  if (strncmp(k + 1, "train\x1f", 6) == 0) return 3;
  if (strncmp(k + 1, "val\x1f", 4) == 0) return 4;
  if (strncmp(k + 1, "test\x1f", 5) == 0) return 5;
  return 6;
}

static int cmp_col(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  int rx = col_rank(x), ry = col_rank(y);
  if (rx != ry) return rx - ry;
  return strcmp(x, y);
}

/* Per run, the numbers the summary and the `configs` views aggregate (the
 * summary uses this text itself, so that it reads any schema-2 database
 * whatever view definitions an older build left in it), and
 * whether the run belongs to the latest version of its scenario (a run of a
 * scenario never recorded in `scenarios` counts as current). */
const char tb_sql_run_scores[] =
    /* each scenario's latest version, found once per name (MATERIALIZED: a
     * derived table here was flattened into a sorted lookup per run) */
    "WITH latest(name, id) AS MATERIALIZED (SELECT n.name, (SELECT s.id FROM scenarios s"
    "  WHERE s.name = n.name ORDER BY s.last_seen DESC, s.id DESC LIMIT 1)"
    "  FROM (SELECT DISTINCT name FROM scenarios) n)"
    " SELECT r.id AS run_id, r.scenario, r.group_hash, r.loss,"
    " json_extract(r.config, '$.loss') AS loss_config,"
    " r.optimizer, r.status,"
    " (v.id IS NULL OR EXISTS (SELECT 1 FROM scenario_configs c WHERE c.scenario_id = v.id"
    "  AND c.config_hash = r.config_hash)) AS current,"
    " va.value AS val_accuracy, va.flag AS val_accuracy_flag,"
    " ta.value AS test_accuracy, ta.flag AS test_accuracy_flag,"
    " tr.value AS train_accuracy,"
    " vl.value AS val_loss, vl.flag AS val_loss_flag,"
    " ba.value AS best_val_accuracy, bt.value AS best_test_accuracy"
    " FROM runs r LEFT JOIN latest v ON v.name = r.scenario"
    " LEFT JOIN final_metrics va ON va.run_id = r.id AND va.split = 'val'"
    "  AND va.name = 'accuracy'"
    " LEFT JOIN final_metrics ta ON ta.run_id = r.id AND ta.split = 'test'"
    "  AND ta.name = 'accuracy'"
    " LEFT JOIN final_metrics tr ON tr.run_id = r.id AND tr.split = 'train'"
    "  AND tr.name = 'accuracy'"
    " LEFT JOIN final_metrics vl ON vl.run_id = r.id AND vl.split = 'val' AND vl.name = 'loss'"
    " LEFT JOIN best_metrics ba ON ba.run_id = r.id AND ba.split = 'val'"
    "  AND ba.name = 'accuracy'"
    " LEFT JOIN best_metrics bt ON bt.run_id = r.id AND bt.split = 'test'"
    "  AND bt.name = 'accuracy'";

/* Per configuration (scenario, group_hash): statuses, and the mean (and sd)
 * over seeds of each number with n and the count of non-finite values beside
 * it; a run that is not complete has no final values, so means are over
 * complete runs. `configs` covers every run, `current_configs` the current
 * versions of the scenarios (what `trainbench summary` shows). */
const char tb_sql_configs[] =
    /* the loss's configuration once per configuration (its runs share it),
     * from the example run: json_extract on every run was a fifth of the time */
    "SELECT g.scenario, g.group_hash, g.loss,"
    " (SELECT json_extract(x.config, '$.loss') FROM runs x WHERE x.id = g.example_run)"
    "  AS loss_config,"
    " g.optimizer, g.example_run, g.runs, g.complete, g.diverged, g.failed, g.train_accuracy,"
    " g.n_train, g.val_accuracy, g.n_val, g.val_accuracy_nonfinite, g.test_accuracy, g.n_test,"
    " g.test_accuracy_sd, g.test_accuracy_nonfinite, g.val_loss, g.n_val_loss,"
    " g.val_loss_nonfinite, g.best_val_accuracy, g.best_test_accuracy, g.n_best"
    " FROM (SELECT scenario, group_hash, min(loss) AS loss,"
    " min(optimizer) AS optimizer, min(run_id) AS example_run, count(*) AS runs,"
    " sum(status = 'complete') AS complete, sum(status = 'diverged') AS diverged,"
    " sum(status NOT IN ('complete', 'diverged')) AS failed,"
    " avg(train_accuracy) AS train_accuracy, count(train_accuracy) AS n_train,"
    " avg(val_accuracy) AS val_accuracy, count(val_accuracy) AS n_val,"
    " sum(val_accuracy_flag IN ('nan', 'inf', '-inf')) AS val_accuracy_nonfinite,"
    " avg(test_accuracy) AS test_accuracy, count(test_accuracy) AS n_test,"
    " CASE WHEN count(test_accuracy) > 1 THEN sqrt(max(0, (sum(test_accuracy * test_accuracy)"
    "  - sum(test_accuracy) * sum(test_accuracy) / count(test_accuracy))"
    "  / (count(test_accuracy) - 1))) END AS test_accuracy_sd,"
    " sum(test_accuracy_flag IN ('nan', 'inf', '-inf')) AS test_accuracy_nonfinite,"
    " avg(val_loss) AS val_loss, count(val_loss) AS n_val_loss,"
    " sum(val_loss_flag IN ('nan', 'inf', '-inf')) AS val_loss_nonfinite,"
    " avg(best_val_accuracy) AS best_val_accuracy,"
    " avg(best_test_accuracy) AS best_test_accuracy, count(best_test_accuracy) AS n_best"
    " FROM run_scores %s GROUP BY scenario, group_hash) g";

int tb_store_refresh_views(tb_store *st, char *err, size_t errlen) {
  if (st->n_view_cols > 0) /* qsort of NULL is undefined even for 0 elements (UBSan) */
    qsort(st->view_cols, (size_t)st->n_view_cols, sizeof(char *), cmp_col);
  char *sql = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&sql, &len);
  if (!f) abort();
  fprintf(f, "DROP VIEW IF EXISTS run_scores; CREATE VIEW run_scores AS %s;", tb_sql_run_scores);
  static const char *const views[2][2] = {{"configs", ""}, {"current_configs", "WHERE current"}};
  for (int i = 0; i < 2; i++) {
    fprintf(f, "DROP VIEW IF EXISTS %s; CREATE VIEW %s AS ", views[i][0], views[i][0]);
    fprintf(f, tb_sql_configs, views[i][1]);
    fputc(';', f);
  }
  fputs("DROP VIEW IF EXISTS results;"
        "CREATE VIEW results AS SELECT r.id, r.scenario, r.status, r.seed, r.loss,"
        " r.optimizer, r.model, r.dataset, r.group_hash, r.config_hash, r.sweep_id,"
        " r.steps, r.wall_seconds, r.compute_seconds, r.error",
        f);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < st->n_view_cols; i++) {
      const char *k = st->view_cols[i], *sep = strchr(k, '\x1f');
      char *a = strndup(k + 1, (size_t)(sep - k - 1)), *col;
      if (!a) abort();
      const char *b = sep + 1;
      if (k[0] == 'p') {
        if (pass || (strcmp(a, "run") == 0 && strcmp(b, "seed") == 0)) { /* r.seed */
          free(a);
          continue;
        }
        if (asprintf(&col, "%s.%s", a, b) < 0) abort();
        fputs(", (SELECT value FROM params p WHERE p.run_id = r.id AND p.component = ", f);
        put_quoted(f, a, '\'');
        fputs(" AND p.key = ", f);
      } else {
        /* final values first, then the values at the best validation epoch */
        if (asprintf(&col, "%s%s.%s", pass ? "best." : "", a, b) < 0) abort();
        fprintf(f, ", (SELECT value FROM %s m WHERE m.run_id = r.id AND m.split = ",
                pass ? "best_metrics" : "final_metrics");
        put_quoted(f, a, '\'');
        fputs(" AND m.name = ", f);
      }
      put_quoted(f, b, '\'');
      fputs(") AS ", f);
      put_quoted(f, col, '"');
      free(col);
      int best_col = k[0] == 'm' && pass == 0 && strcmp(a, "val") == 0 && strcmp(b, "accuracy") == 0;
      free(a);
      if (best_col)
        fputs(", (SELECT epoch FROM best_metrics m WHERE m.run_id = r.id LIMIT 1)"
              " AS best_epoch",
              f);
    }
  fputs(" FROM runs r;", f);
  fclose(f);
  int rc = exec(st->db, sql, err, errlen, "cannot rebuild the results view");
  free(sql);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Components                                                               */
/* ------------------------------------------------------------------------ */


/* ["a","b"] (malloc'd) */
static char *names_json(const char *const *names) {
  char *json = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&json, &len);
  if (!f) abort();
  fputc('[', f);
  for (int j = 0; names[j]; j++) {
    if (j) fputc(',', f);
    put_quoted(f, names[j], '"');
  }
  fputc(']', f);
  fclose(f);
  return json;
}

/* The table of c, one row per hyperparameter: the default in default_num
 * (numbers) or default_text (a choice's option, a string, a component's
 * name, a list, record or matrix as JSON; NULL when there is none), the
 * range of numbers and elements, `choices` the options of a choice or the
 * fields of a record (JSON). */
static int put_component_hparams(tb_store *st, int64_t id, const tb_component *c) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db,
                         "INSERT OR REPLACE INTO component_hparams(component_id, position, name,"
                         " type, default_num, default_text, min, max, log_scale, choices, help)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                         -1, &s, NULL) != SQLITE_OK)
    return -1;
  int rc = 0;
  for (int i = 0; i < c->n_hparams && rc == 0; i++) {
    const tb_hparam *h = &c->hparams[i];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, i + 1);
    sqlite3_bind_text(s, 3, h->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, tb_hp_type_name(h->type), -1, SQLITE_STATIC);
    tb_value d;
    tb_value_default(h, &d);
    const int none = tb_value_absent(h, &d) && h->type != TB_HP_COMPONENT;
    switch (h->type) {
    case TB_HP_REAL:
    case TB_HP_INT:
    case TB_HP_BOOL:
      if (!none) sqlite3_bind_double(s, 5, d.num);
      if (h->type != TB_HP_BOOL) {
        sqlite3_bind_double(s, 7, h->min);
        sqlite3_bind_double(s, 8, h->max);
      }
      break;
    case TB_HP_CHOICE: {
      if (!none) bind_text_or_null(s, 6, d.text);
      char *json = names_json(h->choices);
      sqlite3_bind_text(s, 10, json, -1, SQLITE_TRANSIENT);
      free(json);
      break;
    }
    case TB_HP_RECORD:
    case TB_HP_LIST:
    case TB_HP_MATRIX: {
      if (h->type == TB_HP_RECORD) {
        char *fields = names_json(h->choices);
        sqlite3_bind_text(s, 10, fields, -1, SQLITE_TRANSIENT);
        free(fields);
      }
      char *json = none ? NULL : tb_value_json(h, &d, NULL);
      bind_text_or_null(s, 6, json);
      free(json);
      sqlite3_bind_double(s, 7, h->min);
      sqlite3_bind_double(s, 8, h->max);
      break;
    }
    default: /* STRING, COMPONENT */
      bind_text_or_null(s, 6, none ? NULL : h->def_text);
    }
    sqlite3_bind_int(s, 9, h->log_scale != 0);
    bind_text_or_null(s, 11, h->help);
    rc = step_done(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  return rc;
}

/* Insert or find the row of one build of a component; its id in *id. */
static int component_row(tb_store *st, const char *kind, const char *name, const char *version,
                         const char *fingerprint, const char *probe, const tb_component *c,
                         int64_t *id) {
  sqlite3_stmt *s;
  const char *sql =
      "INSERT INTO components(kind, name, version, fingerprint, probe, file, file_hash,"
      " summary, reference, services, first_seen)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
      " ON CONFLICT DO UPDATE SET probe = coalesce(components.probe, excluded.probe)"
      " RETURNING id, (SELECT count(*) FROM component_hparams h"
      "  WHERE h.component_id = components.id)";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  char services[64] = "";
  if (c) tb_services_text(c->services, services, sizeof services);
  sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, version, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, fingerprint ? fingerprint : "", -1, SQLITE_STATIC);
  bind_text_or_null(s, 5, probe);
  sqlite3_bind_text(s, 6, c && c->file ? c->file : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, c ? c->file_hash : "", -1, SQLITE_STATIC);
  bind_text_or_null(s, 8, c ? c->summary : NULL);
  bind_text_or_null(s, 9, c ? c->reference : NULL);
  sqlite3_bind_text(s, 10, services, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 11, tb_now_wall());
  int rc = sqlite3_step(s), n_hp = 0;
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(s, 0);
    n_hp = sqlite3_column_int(s, 1);
    /* RETURNING gives the row before the statement ends: only its end (and,
     * outside a transaction, its commit) says whether the row is there */
    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_ROW : SQLITE_ERROR;
  }
  if (sqlite3_finalize(s) != SQLITE_OK || rc != SQLITE_ROW) return -1;
  /* a built-in (no file) may grow a hyperparameter whose default keeps its
   * numbers under the same version (the model's head): rows follow the table */
  if (c && n_hp != c->n_hparams && c->n_hparams > 0) return put_component_hparams(st, *id, c);
  return 0;
}

static void comps_add(tb_store *st, const tb_component *c, int64_t id) {
  if (st->n_comps == st->cap_comps) {
    st->cap_comps = st->cap_comps ? 2 * st->cap_comps : 16;
    st->comps = realloc(st->comps, sizeof *st->comps * (size_t)st->cap_comps);
    if (!st->comps) abort();
  }
  comp_id *e = &st->comps[st->n_comps++];
  e->c = c;
  e->id = id;
}

int tb_store_register_component(tb_store *st, const tb_component *c, const char *fingerprint,
                                const char *probe, char *err, size_t errlen) {
  int64_t id;
  if (component_row(st, tb_kind_name(c->kind), c->name, c->version, fingerprint, probe, c,
                    &id)) {
    char what[300];
    snprintf(what, sizeof what, "cannot record %s '%s'", tb_kind_name(c->kind), c->name);
    return db_fail(err, errlen, st->db, what);
  }
  /* a migrated row of the same file had no fingerprint: the same bytes give
   * the same numbers, so it has this one */
  if (fingerprint && *fingerprint) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE run_components SET component_id = ?1 WHERE component_id IN"
                           " (SELECT id FROM components WHERE kind = ?2 AND name = ?3"
                           "  AND version = ?4 AND fingerprint = '' AND file_hash = ?5"
                           "  AND file_hash <> '')",
                           -1, &s, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(s, 1, id);
      sqlite3_bind_text(s, 2, tb_kind_name(c->kind), -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, c->name, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 4, c->version, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 5, c->file_hash, -1, SQLITE_STATIC);
      const int done = sqlite3_step(s) == SQLITE_DONE;
      if (sqlite3_finalize(s) != SQLITE_OK || !done) {
        char what[300];
        snprintf(what, sizeof what, "cannot record %s '%s'", tb_kind_name(c->kind), c->name);
        return db_fail(err, errlen, st->db, what);
      }
    }
  }
  for (int i = 0; i < st->n_comps; i++)
    if (st->comps[i].c == c) {
      st->comps[i].id = id;
      return 0;
    }
  comps_add(st, c, id);
  return 0;
}

/* Rows of (id, kind, name, version, fingerprint, probe, file, file_hash,
 * n_runs) from a prepared statement into an array. */
static int read_records(tb_store *st, sqlite3_stmt *s, tb_component_record **out, int *n,
                        char *err, size_t errlen) {
  int cap = 0, rc;
  *out = NULL;
  *n = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 4;
      *out = realloc(*out, sizeof **out * (size_t)cap);
      if (!*out) abort();
    }
    tb_component_record *r = &(*out)[(*n)++];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    snprintf(r->kind, sizeof r->kind, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(r->version, sizeof r->version, "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s",
             (const char *)sqlite3_column_text(s, 4));
    const char *probe = (const char *)sqlite3_column_text(s, 5);
    r->probe = probe ? strdup(probe) : NULL;
    snprintf(r->file, sizeof r->file, "%s", (const char *)sqlite3_column_text(s, 6));
    snprintf(r->file_hash, sizeof r->file_hash, "%s", (const char *)sqlite3_column_text(s, 7));
    r->n_runs = sqlite3_column_int64(s, 8);
  }
  if (rc != SQLITE_DONE) {
    tb_component_records_free(*out, *n);
    *out = NULL;
    *n = 0;
    return db_fail(err, errlen, st->db, "cannot read the recorded components");
  }
  return 0;
}

int tb_store_component_records(tb_store *st, const tb_component *c, tb_component_record **out,
                               int *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  const char *sql =
      "SELECT c.id, c.kind, c.name, c.version, c.fingerprint, c.probe, c.file, c.file_hash,"
      " (SELECT count(*) FROM run_components rc WHERE rc.component_id = c.id)"
      " FROM components c WHERE c.kind = ?1 AND c.name = ?2 AND c.version = ?3 ORDER BY c.id";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot read the recorded components");
  sqlite3_bind_text(s, 1, tb_kind_name(c->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, c->version, -1, SQLITE_STATIC);
  int rc = read_records(st, s, out, n, err, errlen);
  sqlite3_finalize(s);
  return rc;
}

int tb_store_sweep_hashes(tb_store *st, const tb_sweep *sw, char *err, size_t errlen) {
  /* the sweep's hashes in a temporary table (readers may write the temp schema) */
  if (exec(st->db,
           "CREATE TEMP TABLE IF NOT EXISTS sweep_hashes(h TEXT PRIMARY KEY) WITHOUT ROWID;"
           "DELETE FROM temp.sweep_hashes",
           err, errlen, "cannot compare the sweep with the database"))
    return -1;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO temp.sweep_hashes VALUES(?1)", -1, &s,
                         NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot compare the sweep with the database");
  for (int i = 0; i < sw->n_runs; i++) {
    sqlite3_bind_text(s, 1, sw->runs[i].hash, -1, SQLITE_STATIC);
    if (step_done(s)) {
      sqlite3_finalize(s);
      return db_fail(err, errlen, st->db, "cannot compare the sweep with the database");
    }
  }
  sqlite3_finalize(s);
  /* and, for a reader, the runs it found by their legacy identity */
  if (st->has_aliases &&
      exec(st->db,
           "INSERT OR IGNORE INTO temp.sweep_hashes SELECT a.legacy FROM temp.legacy_alias a"
           " WHERE a.new IN (SELECT h FROM temp.sweep_hashes)",
           err, errlen, "cannot compare the sweep with the database"))
    return -1;
  return 0;
}

int tb_store_reused_components(tb_store *st, const tb_sweep *sw, const tb_force_resume *only,
                               tb_component_record **out, int *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  if (tb_store_sweep_hashes(st, sw, err, errlen)) return -1;
  sqlite3_str *q = sqlite3_str_new(st->db);
  sqlite3_str_appendall(
      q, "SELECT c.id, c.kind, c.name, c.version, c.fingerprint, c.probe, c.file, c.file_hash,"
         " count(*) FROM temp.sweep_hashes h JOIN runs r ON r.config_hash = h.h"
         " JOIN run_components rc ON rc.run_id = r.id JOIN components c"
         " ON c.id = rc.component_id WHERE r.status IN ('complete', 'diverged')"
         " AND c.kind IN ('loss', 'optimizer', 'schedule')");
  if (only) { /* the sweeps are a few integers: written into the statement */
    sqlite3_str_appendall(q, " AND r.sweep_id IN (");
    for (int i = 0; i < only->n; i++)
      sqlite3_str_appendf(q, "%s%lld", i ? ", " : "", (long long)only->sweep_ids[i]);
    sqlite3_str_appendall(q, ")");
  }
  sqlite3_str_appendall(q, " GROUP BY c.id ORDER BY c.id");
  char *sql = sqlite3_str_finish(q);
  if (!sql) abort();
  sqlite3_stmt *s;
  int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot compare the sweep with the database");
  rc = read_records(st, s, out, n, err, errlen);
  sqlite3_finalize(s);
  return rc;
}

void tb_component_records_free(tb_component_record *r, int n) {
  for (int i = 0; i < n; i++) free(r[i].probe);
  free(r);
}

/* The component id of a registered component (plugin or built-in),
 * registering it (without a fingerprint) if the caller did not. */
static int comp_lookup(tb_store *st, const tb_component *c, int64_t *id) {
  for (int i = 0; i < st->n_comps; i++)
    if (st->comps[i].c == c) {
      *id = st->comps[i].id;
      return 0;
    }
  char err[TB_ERRLEN];
  if (tb_store_register_component(st, c, NULL, NULL, err, sizeof err)) return -1;
  return comp_lookup(st, c, id);
}

/* ------------------------------------------------------------------------ */
/* Sweeps and scenario versions                                             */
/* ------------------------------------------------------------------------ */

/* What a sweep row records as its script: the hash of its main script's text. */
static void sweep_script_hash(const tb_sweep *sw, char *h) {
  h[0] = 0;
  if (sw->n_scenarios > 0 && sw->scenarios[0].script_text)
    tb_hash_bytes(h, sw->scenarios[0].script_text, strlen(sw->scenarios[0].script_text));
}

int tb_store_begin_sweep(tb_store *st, const tb_sweep *sw, const tb_sweep_meta *m, char *err,
                         size_t errlen) {
  char what[256];
  snprintf(what, sizeof what, "cannot record the sweep in '%s'", st->path);
  /* A sweep's runs are recorded without foreign-key enforcement (until
   * tb_store_end_sweep): with it, SQLite opened a cursor on `runs` and
   * looked the run up for every row inserted (14 % of tb_store_put_run's
   * instructions), to confirm the run_id that put_run_rows has just taken
   * from the row it inserted. What the foreign keys did besides, deleting a
   * rerun run's old rows, the triggers runs_cascade and runs_cascade_final
   * do as well (they exist for tools without foreign keys). The pragma is
   * set outside any transaction, before the sweep's statements are
   * prepared: setting it expires every prepared statement. */
  if (exec(st->db, "PRAGMA foreign_keys = OFF", err, errlen, what) ||
      exec(st->db, "BEGIN IMMEDIATE", err, errlen, what))
    return -1;
  sqlite3_stmt *s = NULL, *sc = NULL, *cfg = NULL;
  double now = tb_now_wall();
  char script_hash[TB_HASHLEN];
  sweep_script_hash(sw, script_hash);
  struct utsname u;
  if (uname(&u) != 0) memset(&u, 0, sizeof u);
  int ok = 0;
  if (sqlite3_prepare_v2(st->db,
                         "INSERT INTO sweeps(command, script_path, script_hash, host, pid,"
                         " started_at, shard_index, shard_count, environment_id, forced)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                         -1, &s, NULL) != SQLITE_OK)
    goto out;
  bind_text_or_null(s, 1, m ? m->command : NULL);
  bind_text_or_null(s, 2, sw->n_scenarios ? sw->scenarios[0].script_path : NULL);
  bind_text_or_null(s, 3, script_hash);
  sqlite3_bind_text(s, 4, u.nodename, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 5, (int64_t)getpid());
  sqlite3_bind_double(s, 6, now);
  sqlite3_bind_int(s, 7, m && m->shard_count > 0 ? m->shard_index : 1);
  sqlite3_bind_int(s, 8, m && m->shard_count > 0 ? m->shard_count : 1);
  if (st->env_id > 0) sqlite3_bind_int64(s, 9, st->env_id);
  sqlite3_bind_int(s, 10, m && m->forced ? 1 : 0);
  if (sqlite3_step(s) != SQLITE_DONE) goto out;
  st->sweep_id = sqlite3_last_insert_rowid(st->db);

  /* each scenario: its version (by script hash) and the configurations it
   * expands to now, so `summary` can show the current ones */
  if (sqlite3_prepare_v2(st->db,
                         "INSERT INTO scenarios(name, script_hash, script_path, script_text,"
                         " first_seen, last_seen) VALUES(?1, ?2, ?3, ?4, ?5, ?5)"
                         " ON CONFLICT(name, script_hash) DO UPDATE SET"
                         " last_seen = excluded.last_seen, script_path = excluded.script_path"
                         " RETURNING id",
                         -1, &sc, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(st->db,
                         "INSERT OR IGNORE INTO scenario_configs(scenario_id, config_hash)"
                         " VALUES(?1, ?2)",
                         -1, &cfg, NULL) != SQLITE_OK)
    goto out;
  for (int i = 0; i < sw->n_scenarios; i++) {
    const tb_scenario_info *info = &sw->scenarios[i];
    char h[TB_HASHLEN];
    const char *text = info->script_text ? info->script_text : "";
    tb_hash_bytes(h, text, strlen(text));
    sqlite3_bind_text(sc, 1, info->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(sc, 2, h, -1, SQLITE_TRANSIENT);
    bind_text_or_null(sc, 3, info->script_path);
    bind_text_or_null(sc, 4, info->script_text);
    sqlite3_bind_double(sc, 5, now);
    if (sqlite3_step(sc) != SQLITE_ROW) goto out;
    int64_t sid = sqlite3_column_int64(sc, 0);
    sqlite3_reset(sc);
    for (int r = 0; r < sw->n_runs; r++) {
      if (strcmp(sw->runs[r].scenario, info->name) != 0) continue;
      sqlite3_bind_int64(cfg, 1, sid);
      sqlite3_bind_text(cfg, 2, sw->runs[r].hash, -1, SQLITE_STATIC);
      if (step_done(cfg)) goto out;
    }
  }
  ok = 1;
out:
  if (!ok) db_fail(err, errlen, st->db, what);
  sqlite3_finalize(s);
  sqlite3_finalize(sc);
  sqlite3_finalize(cfg);
  if (!ok) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->sweep_id = 0;
    return -1;
  }
  return exec(st->db, "COMMIT", err, errlen, what);
}

int tb_store_end_sweep(tb_store *st, char *err, size_t errlen) {
  if (st->sweep_id <= 0) return 0;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "UPDATE sweeps SET finished_at = ?1 WHERE id = ?2", -1, &s,
                         NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot record the end of the sweep");
  sqlite3_bind_double(s, 1, tb_now_wall());
  sqlite3_bind_int64(s, 2, st->sweep_id);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return db_fail(err, errlen, st->db, "cannot record the end of the sweep");
  if (!st->in_batch)
    return exec(st->db, "PRAGMA foreign_keys = ON", err, errlen,
                "cannot record the end of the sweep");
  return 0;
}

int tb_store_force_resume(tb_store *st, const tb_sweep *sw, int shard_index, int shard_count,
                          tb_force_resume *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char h[TB_HASHLEN];
  sweep_script_hash(sw, h);
  /* newest first: the unfinished ones down to the last that finished */
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT id, started_at, finished_at IS NOT NULL FROM sweeps"
                         " WHERE forced = 1 AND script_hash = ?1 AND shard_index = ?2"
                         " AND shard_count = ?3 ORDER BY id DESC",
                         -1, &s, NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot look for an interrupted --force sweep");
  sqlite3_bind_text(s, 1, h, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 2, shard_index);
  sqlite3_bind_int(s, 3, shard_count);
  int rc, cap = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_int(s, 2) == 0) {
    if (out->n == cap) {
      cap = cap ? 2 * cap : 4;
      out->sweep_ids = realloc(out->sweep_ids, sizeof *out->sweep_ids * (size_t)cap);
      if (!out->sweep_ids) abort();
    }
    if (out->n == 0) out->started_at = sqlite3_column_double(s, 1);
    out->sweep_ids[out->n++] = sqlite3_column_int64(s, 0);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    db_fail(err, errlen, st->db, "cannot look for an interrupted --force sweep");
    sqlite3_finalize(s);
    tb_force_resume_free(out);
    return -1;
  }
  sqlite3_finalize(s);
  return 0;
}

int tb_force_resume_has(const tb_force_resume *r, int64_t sweep_id) {
  for (int i = 0; r && i < r->n; i++)
    if (r->sweep_ids[i] == sweep_id) return 1;
  return 0;
}

void tb_force_resume_free(tb_force_resume *r) {
  free(r->sweep_ids);
  memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                     */
/* ------------------------------------------------------------------------ */

int tb_store_run_status(tb_store *st, const char *config_hash, char *status, size_t len,
                        int64_t *sweep_id) {
  sqlite3_stmt *s = NULL;
  if (len) status[0] = '\0';
  if (sweep_id) *sweep_id = 0;
  /* a reader that found runs by their legacy identity (run --dry-run) sees
   * them under the new one, as the next writer will record them */
  const char *sql = st->has_aliases
                        ? "SELECT status, sweep_id FROM runs WHERE config_hash = ?1 UNION ALL"
                          " SELECT r.status, r.sweep_id FROM temp.legacy_alias a JOIN runs r"
                          " ON r.config_hash = a.legacy WHERE a.new = ?1 LIMIT 1"
                        : "SELECT status, sweep_id FROM runs WHERE config_hash = ?1";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  sqlite3_bind_text(s, 1, config_hash, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s), found = 0;
  if (rc == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(s, 0);
    if (len) snprintf(status, len, "%s", t ? t : "");
    if (sweep_id) *sweep_id = sqlite3_column_int64(s, 1);
    found = 1;
  } else if (rc != SQLITE_DONE) {
    found = -1;
  }
  sqlite3_finalize(s);
  return found;
}

/* ------------------------------------------------------------------------ */
/* Runs recorded under their legacy identity                                */
/* ------------------------------------------------------------------------ */

int tb_store_adopt_legacy(tb_store *st, const tb_sweep *sw, int write, int64_t *n_adopted,
                          char *err, size_t errlen) {
  if (n_adopted) *n_adopted = 0;
  char what[1200];
  snprintf(what, sizeof what, "cannot look up runs of '%s' by their earlier identity", st->path);
  sqlite3_stmt *find = NULL, *upd = NULL, *cfg = NULL, *alias = NULL;
  int64_t n = 0, legacy_runs = 0;
  int ok = 0, in_tx = 0;
  /* Every legacy configuration has "model":{"kind":...} (the new identity
   * names components with "name"): a database without one has nothing to
   * adopt, and the legacy JSON of each run need not be computed. */
  if (query_int(st->db,
                "SELECT count(*) FROM runs WHERE json_extract(config, '$.model.kind') IS NOT NULL",
                &legacy_runs))
    return db_fail(err, errlen, st->db, what);
  if (legacy_runs == 0) return 0;
  if (sqlite3_prepare_v2(st->db, "SELECT id FROM runs WHERE config_hash = ?1", -1, &find,
                         NULL) != SQLITE_OK)
    goto out;
  if (write) {
    if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, what)) {
      sqlite3_finalize(find);
      return -1;
    }
    in_tx = 1;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE runs SET config = ?1, config_hash = ?2, group_hash = ?3"
                           " WHERE id = ?4",
                           -1, &upd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "UPDATE OR REPLACE scenario_configs SET config_hash = ?1"
                           " WHERE config_hash = ?2",
                           -1, &cfg, NULL) != SQLITE_OK)
      goto out;
  } else {
    if (exec(st->db,
             "CREATE TEMP TABLE IF NOT EXISTS legacy_alias(new TEXT PRIMARY KEY, legacy TEXT)"
             " WITHOUT ROWID; DELETE FROM temp.legacy_alias",
             err, errlen, what))
      goto out;
    if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO temp.legacy_alias VALUES(?1, ?2)", -1,
                           &alias, NULL) != SQLITE_OK)
      goto out;
  }
  for (int i = 0; i < sw->n_runs; i++) {
    const tb_run_config *r = &sw->runs[i];
    char legacy_hash[TB_HASHLEN];
    int64_t id_new = -1, id_old = -1;
    for (int k = 0; k < 2; k++) {
      /* the legacy form only for a run the new identity does not find */
      if (k == 1 && (id_new >= 0 || tb_config_legacy_hash(r, legacy_hash))) break;
      sqlite3_reset(find);
      sqlite3_bind_text(find, 1, k ? legacy_hash : r->hash, -1, SQLITE_STATIC);
      int rc = sqlite3_step(find);
      if (rc == SQLITE_ROW)
        *(k ? &id_old : &id_new) = sqlite3_column_int64(find, 0);
      else if (rc != SQLITE_DONE)
        goto out;
    }
    if (id_new >= 0 || id_old < 0) continue; /* already new, or never recorded */
    if (write) {
      sqlite3_bind_text(upd, 1, r->json, -1, SQLITE_STATIC);
      sqlite3_bind_text(upd, 2, r->hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(upd, 3, r->group_hash, -1, SQLITE_STATIC);
      sqlite3_bind_int64(upd, 4, id_old);
      if (step_done(upd)) goto out;
      sqlite3_bind_text(cfg, 1, r->hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(cfg, 2, legacy_hash, -1, SQLITE_STATIC);
      if (step_done(cfg)) goto out;
    } else {
      sqlite3_bind_text(alias, 1, r->hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(alias, 2, legacy_hash, -1, SQLITE_STATIC);
      if (step_done(alias)) goto out;
      st->has_aliases = 1;
    }
    n++;
  }
  ok = 1;
out:
  if (!ok) db_fail(err, errlen, st->db, what);
  sqlite3_finalize(find);
  sqlite3_finalize(upd);
  sqlite3_finalize(cfg);
  sqlite3_finalize(alias);
  if (in_tx) {
    if (ok && exec(st->db, "COMMIT", err, errlen, what)) ok = 0;
    if (!ok) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  }
  if (!ok) return -1;
  if (n_adopted) *n_adopted = n;
  if (n > 0 && write)
    fprintf(stderr,
            "trainbench: %lld run%s recorded by an earlier trainbench found by %s earlier "
            "identity and re-keyed on the new one\n",
            (long long)n, n == 1 ? "" : "s", n == 1 ? "its" : "their");
  return 0;
}

static const char *model_kind_name(int k) {
  return k == TB_MODEL_LINEAR ? "linear" : k == TB_MODEL_MLP ? "mlp" : "unknown";
}
/* "[128,64]" */
static void hidden_json(char *out, size_t len, const tb_model_spec *m) {
  size_t o = (size_t)snprintf(out, len, "[");
  for (int i = 0; i < m->n_hidden && o < len; i++)
    o += (size_t)snprintf(out + o, len - o, "%s%d", i ? "," : "", m->hidden[i]);
  if (o < len) snprintf(out + o, len - o, "]");
}

/* The short model text of the runs table: "linear", "mlp[128]/relu", and
 * with a cosine head "linear/head=cosine", "mlp[128]/relu/head=cosine".
 * The linear head, the default, is left out, so that the text of every
 * run recorded before heads existed stays what it was (and a query on
 * `model = 'mlp[128]/relu'` finds old and new runs alike). */
static void model_text(char *out, size_t len, const tb_model_spec *m) {
  const char *head = m->head == TB_HEAD_COSINE ? "/head=cosine" : "";
  if (m->kind != TB_MODEL_MLP) {
    snprintf(out, len, "%s%s", model_kind_name(m->kind), head);
    return;
  }
  char h[TB_MAX_HIDDEN * 12 + 4];
  hidden_json(h, sizeof h, m);
  snprintf(out, len, "mlp%s/%s%s", h, tb_activation_name(m->activation), head);
}

static void dataset_text(char *out, size_t len, const tb_data_spec *d) {
  if (strcmp(d->name, "csv") == 0) {
    const char *base = strrchr(d->path, '/');
    snprintf(out, len, "csv:%s", base ? base + 1 : d->path);
  } else {
    snprintf(out, len, "%s", d->name);
  }
}

static const char *const run_sql[N_RUN_STMTS] = {
    [RUN_STATUS] = "SELECT status FROM runs WHERE config_hash = ?1",
    [RUN_DELETE] = "DELETE FROM runs WHERE config_hash = ?1",
    [RUN_INSERT] =
        "INSERT INTO runs(scenario, status, seed, loss, optimizer, model, dataset, config,"
        " config_hash, group_hash, sweep_id, started_at, finished_at, wall_seconds,"
        " compute_seconds, cpu_seconds, steps, loss_evals, grad_evals, jvp_evals, error,"
        " environment_id)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22)",
    [RUN_COMPONENT] = "INSERT INTO run_components(run_id, role, component_id)"
                      " VALUES(?1, ?2, ?3)",
};

static const struct bulk_table {
  const char *insert, *row; /* "INSERT ... VALUES" and one row's "(?, ...)" */
  int ncol;                 /* parameters per row */
} bulk_tables[N_BULK] = {
    [BULK_PARAM] = {"INSERT INTO params(run_id, component, key, num, text) VALUES",
                    "(?,?,?,?,?)", 5},
    /* OR REPLACE: a metric reported twice keeps its last value rather than
     * losing a whole finished run to a constraint error. */
    [BULK_METRIC] = {"INSERT OR REPLACE INTO metrics(run_id, epoch, split, name, value, flag)"
                     " VALUES",
                     "(?,?,?,?,?,?)", 6},
    [BULK_FINAL] = {"INSERT OR IGNORE INTO final_metrics(run_id, split, name, epoch, value,"
                    " flag) VALUES",
                    "(?,?,?,?,?,?)", 6},
    [BULK_BEST] = {"INSERT OR REPLACE INTO best_metrics(run_id, selected_by, epoch, split,"
                   " name, value, flag) VALUES",
                   "(?,'val.accuracy',?,?,?,?,?)", 6},
    [BULK_TIMING] = {"INSERT INTO timings(run_id, epoch, seconds) VALUES", "(?,?,?)", 3},
    [BULK_SERIES] = {"INSERT OR REPLACE INTO series(run_id, name, step, value, flag) VALUES",
                     "(?,?,?,?,?)", 5},
    [BULK_SERIES_INFO] = {"INSERT OR REPLACE INTO series_info(run_id, name, every) VALUES",
                          "(?,?,?)", 3},
    [BULK_COUNTER] = {"INSERT OR REPLACE INTO counters(run_id, name, value) VALUES", "(?,?,?)",
                      3},
    [BULK_CONFUSION] = {"INSERT OR REPLACE INTO confusion(run_id, split, epoch, true_class,"
                        " pred_class, count) VALUES",
                        "(?,?,?,?,?,?)", 6},
    [BULK_CALIBRATION] = {"INSERT OR REPLACE INTO calibration(run_id, split, epoch, bin, lo,"
                          " hi, count, correct, confidence, flag) VALUES",
                          "(?,?,?,?,?,?,?,?,?,?)", 10},
};

/* One parameter of a row to insert; a text is borrowed until the flush, or
 * owned (copied) when the caller's buffer does not live that long. */
typedef struct bulk_cell {
  int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
  int64_t i;
  double d;
  const char *t;
} bulk_cell;

/* The rows of one table for one run, inserted by bulk_flush. */
typedef struct bulk {
  tb_store *st;
  int table;
  bulk_cell *c;
  int n, cap;
  char **owned;
  int n_owned, cap_owned;
} bulk;

static bulk_cell *bulk_next(bulk *b) {
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 64;
    b->c = realloc(b->c, sizeof *b->c * (size_t)b->cap);
    if (!b->c) abort();
  }
  return &b->c[b->n++];
}
static void bulk_int(bulk *b, int64_t v) { *bulk_next(b) = (bulk_cell){SQLITE_INTEGER, v, 0, 0}; }
static void bulk_null(bulk *b) { *bulk_next(b) = (bulk_cell){SQLITE_NULL, 0, 0, 0}; }
/* a real for a REAL column: NaN as NULL */
static void bulk_real(bulk *b, double x) {
  *bulk_next(b) = isnan(x) ? (bulk_cell){SQLITE_NULL, 0, 0, 0}
                           : (bulk_cell){SQLITE_FLOAT, 0, x, 0};
}
static void bulk_text(bulk *b, const char *t) {
  *bulk_next(b) = t ? (bulk_cell){SQLITE_TEXT, 0, 0, t} : (bulk_cell){SQLITE_NULL, 0, 0, 0};
}
static void bulk_text_copy(bulk *b, const char *t) {
  if (!t) {
    bulk_null(b);
    return;
  }
  if (b->n_owned == b->cap_owned) {
    b->cap_owned = b->cap_owned ? 2 * b->cap_owned : 32;
    b->owned = realloc(b->owned, sizeof *b->owned * (size_t)b->cap_owned);
    if (!b->owned) abort();
  }
  char *d = strdup(t);
  if (!d) abort();
  b->owned[b->n_owned++] = d;
  bulk_text(b, d);
}
/* a (value REAL, flag TEXT) pair */
static void bulk_measure(bulk *b, double v) {
  bulk_real(b, v);
  bulk_text(b, nonfinite_flag(v));
}

/* The statement inserting 2^k rows less than BULK_MAX: size index k. */
static sqlite3_stmt *bulk_stmt(tb_store *st, int table, int k) {
  sqlite3_stmt **s = &st->bulk_stmts[table][k];
  if (!*s) {
    const struct bulk_table *t = &bulk_tables[table];
    int rows = BULK_MAX >> k;
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f) abort();
    fputs(t->insert, f);
    for (int r = 0; r < rows; r++) fprintf(f, "%s%s", r ? "," : " ", t->row);
    fclose(f);
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
    free(sql);
    if (rc != SQLITE_OK) return NULL;
  }
  return *s;
}

/* Insert the rows gathered in b and empty it; 0 on success. */
static int bulk_flush(bulk *b) {
  int ncol = bulk_tables[b->table].ncol, rows = b->n / ncol, rc = 0;
  for (int r = 0; r < rows && rc == 0;) {
    int k = 0;
    while ((BULK_MAX >> k) > rows - r) k++;
    int size = BULK_MAX >> k;
    sqlite3_stmt *s = bulk_stmt(b->st, b->table, k);
    if (!s) {
      rc = -1;
      break;
    }
    const bulk_cell *c = &b->c[r * ncol];
    for (int i = 0; i < size * ncol; i++) {
      switch (c[i].type) {
      case SQLITE_INTEGER: sqlite3_bind_int64(s, i + 1, c[i].i); break;
      case SQLITE_FLOAT: sqlite3_bind_double(s, i + 1, c[i].d); break;
      case SQLITE_TEXT: sqlite3_bind_text(s, i + 1, c[i].t, -1, SQLITE_STATIC); break;
      default: sqlite3_bind_null(s, i + 1);
      }
    }
    rc = step_done(s);
    r += size;
  }
  for (int i = 0; i < b->n_owned; i++) free(b->owned[i]);
  b->n = b->n_owned = 0;
  return rc;
}

static void bulk_free(bulk *b) {
  for (int i = 0; i < b->n_owned; i++) free(b->owned[i]);
  free(b->owned);
  free(b->c);
}

/* One params row: a number in `num` or a text in `text`. */
typedef struct param_writer {
  tb_store *st;
  bulk *rows;
  int64_t run_id;
  const char *component;
  int new_cols;
} param_writer;

static void pw_put(param_writer *w, const char *key, const double *num, const char *text) {
  bulk *b = w->rows;
  bulk_int(b, w->run_id);
  bulk_text_copy(b, w->component); /* role paths and keys are built in local buffers */
  bulk_text_copy(b, key);
  if (num)
    *bulk_next(b) = (bulk_cell){SQLITE_FLOAT, 0, *num, 0};
  else
    bulk_null(b);
  bulk_text_copy(b, text);
}

/* (the results view learns of a new column through view_col_add) */
static void pw_note(param_writer *w, const char *key) {
  w->new_cols |= view_col_add(w->st, 'p', w->component, key);
}

static void pw_real(param_writer *w, const char *key, double v) {
  pw_put(w, key, &v, NULL);
  pw_note(w, key);
}
static void pw_int(param_writer *w, const char *key, int64_t v) {
  double d = (double)v;
  pw_put(w, key, &d, NULL);
  pw_note(w, key);
}
static void pw_text(param_writer *w, const char *key, const char *v) {
  pw_put(w, key, NULL, v);
  pw_note(w, key);
}

/* The rows of one instance under role path `role` ("optimizer",
 * "optimizer.base"), generically from its table: every hyperparameter,
 * defaults included (the params table shows everything; only the identity
 * leaves defaults out), as the script writes it — numbers in `num` (ints,
 * bools 0/1), choices, strings and a component's name in `text`, lists and
 * matrices as JSON text, a record one number per field (`split_train`);
 * nothing for an absent optional value. A `name` row for the parts whose
 * component is not a column of `runs` (data, model, schedule). Then each
 * child under "role.hyperparameter". */
static void put_instance_params(param_writer *w, const char *role, const tb_instance *in,
                                int name_row) {
  const char *saved = w->component;
  w->component = role;
  if (name_row) pw_text(w, "name", in->comp->name);
  for (int i = 0; i < in->n; i++) {
    const tb_hparam *h = &in->comp->hparams[i];
    const tb_value *v = &in->values[i];
    if (tb_value_absent(h, v)) continue;
    switch (h->type) {
    case TB_HP_REAL: pw_real(w, h->name, v->num); break;
    case TB_HP_INT:
    case TB_HP_BOOL: pw_int(w, h->name, (int64_t)llround(v->num)); break;
    case TB_HP_CHOICE:
    case TB_HP_STRING:
    case TB_HP_COMPONENT: pw_text(w, h->name, v->text ? v->text : ""); break;
    case TB_HP_RECORD:
      for (int64_t f = 0; f < v->n && h->choices[f]; f++) {
        char key[160];
        snprintf(key, sizeof key, "%s_%s", h->name, h->choices[f]);
        pw_real(w, key, v->list[f]);
      }
      break;
    default: {
      char *json = tb_value_json(h, v, NULL);
      pw_text(w, h->name, json);
      free(json);
    }
    }
  }
  for (int i = 0; i < in->n; i++)
    if (in->child[i]) {
      char sub[256];
      snprintf(sub, sizeof sub, "%s.%s", role, in->comp->hparams[i].name);
      put_instance_params(w, sub, in->child[i], 0);
    }
  w->component = saved;
}

static void put_params(param_writer *w, const tb_run_config *cfg) {
  put_instance_params(w, "loss", cfg->parts[TB_PART_LOSS], 0);
  put_instance_params(w, "optimizer", cfg->parts[TB_PART_OPTIMIZER], 0);
  put_instance_params(w, "model", cfg->parts[TB_PART_MODEL], 1);
  put_instance_params(w, "data", cfg->parts[TB_PART_DATA], 1);
  w->component = "data";
  if (cfg->data.content_hash[0]) pw_text(w, "content_hash", cfg->data.content_hash);
  put_instance_params(w, "schedule", cfg->parts[TB_PART_SCHEDULE], 1);
  /* the stages only where they do something, as in the identity: no row
   * (NULL in the results view) is the default, none / mean */
  for (int p = TB_PART_CORRUPTION; p <= TB_PART_REDUCTION; p++)
    if (cfg->parts[p] && !tb_stage_is_default(cfg->parts[p]))
      put_instance_params(w, tb_part_name(p), cfg->parts[p], 1);
  w->component = "run";
  pw_int(w, "epochs", cfg->epochs);
  pw_int(w, "batch_size", cfg->batch_size);
  pw_int(w, "seed", cfg->seed);
}

/* One run_components row per role path of the tree (nested ones
 * included), pointing at the build of each component; built-ins are rows
 * of their own (no file). */
static int put_run_components(tb_store *st, sqlite3_stmt *s, int64_t run_id, const char *role,
                              const tb_instance *in) {
  int64_t id;
  if (comp_lookup(st, in->comp, &id)) return -1;
  sqlite3_bind_int64(s, 1, run_id);
  sqlite3_bind_text(s, 2, role, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, id);
  if (step_done(s)) return -1;
  for (int i = 0; i < in->n; i++)
    if (in->child[i]) {
      char sub[256];
      snprintf(sub, sizeof sub, "%s.%s", role, in->comp->hparams[i].name);
      if (put_run_components(st, s, run_id, sub, in->child[i])) return -1;
    }
  return 0;
}

/* The index in res->metrics of each curve's (split, name) last epoch; -1
 * for the entries that are not. Returns a malloc'd array of n_metrics.
 * A result keeps each name once (tb_run_result.names), so a curve is a pair
 * of pointers: one pass with the curves seen so far (a few dozen), where
 * comparing every entry with every earlier one cost 2 M instructions a run. */
static int *curve_ends(const tb_run_result *res) {
  int n = res->n_metrics;
  int *last = malloc(sizeof(int) * (size_t)(n ? 2 * n : 1));
  if (!last) abort();
  int *curve = last + n, n_curves = 0; /* curve[c]: the entry kept for curve c */
  for (int i = 0; i < n; i++) {
    const tb_metric *m = &res->metrics[i];
    int c = n_curves - 1;
    for (; c >= 0; c--) {
      const tb_metric *o = &res->metrics[curve[c]];
      if (o->name == m->name && o->split == m->split) break;
    }
    last[i] = i;
    if (c < 0) {
      curve[n_curves++] = i;
    } else if (res->metrics[curve[c]].epoch > m->epoch) {
      last[i] = -1; /* one entry per curve stays: the later epoch */
    } else {
      last[curve[c]] = -1; /* (the later report on a tie) */
      curve[c] = i;
    }
  }
  return last;
}

/* The epoch (>= 1) of the best finite validation accuracy, earliest among
 * ties; -1 if none. */
static int best_epoch(const tb_run_result *res) {
  int epoch = -1;
  double best = -INFINITY;
  for (int i = 0; i < res->n_metrics; i++) {
    const tb_metric *m = &res->metrics[i];
    if (m->epoch < 1 || !isfinite(m->value) || strcmp(m->split, "val") != 0 ||
        strcmp(m->name, "accuracy") != 0)
      continue;
    if (m->value > best || (m->value == best && m->epoch < epoch)) {
      best = m->value;
      epoch = m->epoch;
    }
  }
  return epoch;
}



/* The order of a run's metrics (series 0) or series points (series 1) by
 * their table's primary key after run_id: (epoch, split, name) and (name,
 * step), and by report on a tie so that the last report still wins. Rows
 * that arrive in key order go at the end of the B-tree where the previous
 * one went, and SQLite then skips the descent from the root (the run's id
 * is the largest yet). Names are ranked once (strcmp, as SQLite's BINARY
 * collation compares text) and rows sorted on numbers: sorting on strcmp
 * took half of what the order saved. */
typedef struct row_key {
  uint64_t a;  /* metrics: epoch, split rank, name rank; series: name rank */
  int64_t b;   /* series: step */
  int i;       /* the report */
} row_key;

static inline int cmp_row_key(const row_key *p, const row_key *q) {
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  if (p->b != q->b) return p->b < q->b ? -1 : 1;
  return (p->i > q->i) - (p->i < q->i);
}

static const char *const *rank_names;
static int cmp_rank_name(const void *x, const void *y) {
  return strcmp(rank_names[*(const int *)x], rank_names[*(const int *)y]);
}

/* rank[k]: the place of names[k] in byte order (names distinct) */
static void name_ranks(const char *const *names, int n, int *rank) {
  int *by = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!by) abort();
  for (int k = 0; k < n; k++) by[k] = k;
  rank_names = names;
  qsort(by, (size_t)n, sizeof *by, cmp_rank_name);
  for (int k = 0; k < n; k++) rank[by[k]] = k;
  free(by);
}

/* The index in names[0..n) of the interned pointer p. */
static int name_index(const char *const *names, int n, const char *p) {
  int k = 0;
  while (k < n && names[k] != p) k++;
  return k;
}

static int *key_order(const tb_run_result *res, int series) {
  int n = series ? res->n_series : res->n_metrics;
  row_key *key = malloc(sizeof *key * (size_t)(n ? n : 1));
  int *order = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!key || !order) abort();
  if (!series) {
    int nn = res->n_names, *rank = malloc(sizeof(int) * (size_t)(nn + 1));
    if (!rank) abort();
    name_ranks((const char *const *)res->names, nn, rank);
    rank[nn] = nn; /* (a name not interned, which tb_result_add_metric never makes) */
    for (int i = 0; i < n; i++) {
      const tb_metric *m = &res->metrics[i];
      uint64_t sr = (uint64_t)rank[name_index((const char *const *)res->names, nn, m->split)];
      uint64_t nr = (uint64_t)rank[name_index((const char *const *)res->names, nn, m->name)];
      key[i] = (row_key){(uint64_t)(uint32_t)m->epoch << 40 | sr << 20 | nr, 0, i};
    }
    free(rank);
  } else {
    /* the distinct series names (a handful), each found from the last one */
    const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    int *of = malloc(sizeof(int) * (size_t)(n ? n : 1)), nn = 0, last = 0;
    if (!names || !of) abort();
    for (int i = 0; i < n; i++) {
      const char *nm = res->series[i].name;
      int k = 0, j = last;
      for (; k < nn && strcmp(names[j], nm) != 0; k++) j = j + 1 < nn ? j + 1 : 0;
      if (k == nn) names[j = nn++] = nm;
      of[i] = last = j;
    }
    int *rank = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
    if (!rank) abort();
    name_ranks(names, nn, rank);
    for (int i = 0; i < n; i++) key[i] = (row_key){(uint64_t)rank[of[i]], res->series[i].step, i};
    free(rank);
    free(of);
    free(names);
  }
  /* A run reports its metrics epoch by epoch and each series step by step,
   * so the rows are near their place: series are first grouped by name (a
   * stable counting sort on the rank), then an insertion sort puts each row
   * at its place, a few rows back at most (glibc's qsort, with a call per
   * comparison, cost 0.7 M instructions a run). Any order comes out sorted,
   * only more slowly. */
  if (series && n > 1) {
    uint64_t groups = 0;
    for (int i = 0; i < n; i++) groups = key[i].a + 1 > groups ? key[i].a + 1 : groups;
    int *start = calloc((size_t)groups + 1, sizeof(int));
    row_key *tmp = malloc(sizeof *tmp * (size_t)n);
    if (!start || !tmp) abort();
    for (int i = 0; i < n; i++) start[key[i].a + 1]++;
    for (uint64_t g = 0; g < groups; g++) start[g + 1] += start[g];
    for (int i = 0; i < n; i++) tmp[start[key[i].a]++] = key[i];
    memcpy(key, tmp, sizeof *key * (size_t)n);
    free(tmp);
    free(start);
  }
  for (int i = 1; i < n; i++) {
    row_key k = key[i];
    int j = i;
    for (; j > 0 && cmp_row_key(&k, &key[j - 1]) < 0; j--) key[j] = key[j - 1];
    key[j] = k;
  }
  for (int i = 0; i < n; i++) order[i] = key[i].i;
  free(key);
  return order;
}

/* Statement `which`, reset and without bindings; NULL if it cannot be prepared. */
static sqlite3_stmt *run_stmt(tb_store *st, int which) {
  sqlite3_stmt **s = &st->run_stmts[which];
  if (!*s && sqlite3_prepare_v3(st->db, run_sql[which], -1, SQLITE_PREPARE_PERSISTENT, s,
                                NULL) != SQLITE_OK)
    return NULL;
  sqlite3_reset(*s);
  sqlite3_clear_bindings(*s);
  return *s;
}

static int put_run_rows(tb_store *st, const tb_run_config *cfg, const tb_run_result *res) {
  sqlite3 *db = st->db;
  sqlite3_stmt *s = NULL;
  int new_cols = 0, rc = -1;
  bulk rows = {st, 0, NULL, 0, 0, NULL, 0, 0};
  int *order = NULL; /* key_order of the metrics, then of the series */
  char model[TB_MAX_HIDDEN * 12 + 32], dataset[1100];
  model_text(model, sizeof model, &cfg->model);
  dataset_text(dataset, sizeof dataset, &cfg->data);
  for (int p = 0; p < TB_N_PARTS; p++)
    if (!cfg->parts[p]) return -1;

  /* An attempt that did not end (crashed, timeout, failed) never replaces a
   * result (complete, diverged): `run --force` redoes recorded runs, and
   * its attempt that dies must leave the one that did not (issue 10). The
   * row is looked up here, in the transaction that would replace it, so the
   * decision is made on what the file holds; only such attempts pay for it. */
  if (res->status != TB_RUN_COMPLETE && res->status != TB_RUN_DIVERGED) {
    if (!(s = run_stmt(st, RUN_STATUS))) return -1;
    sqlite3_bind_text(s, 1, cfg->hash, -1, SQLITE_STATIC);
    int step = sqlite3_step(s), kept = 0;
    if (step == SQLITE_ROW) {
      const char *old = (const char *)sqlite3_column_text(s, 0);
      kept = old && (strcmp(old, "complete") == 0 || strcmp(old, "diverged") == 0);
    }
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return -1;
    if (kept) return 1;
  }

  /* the old attempt and all its rows go (foreign keys cascade) */
  if (!(s = run_stmt(st, RUN_DELETE))) return -1;
  sqlite3_bind_text(s, 1, cfg->hash, -1, SQLITE_STATIC);
  if (step_done(s)) return -1;

  if (!(s = run_stmt(st, RUN_INSERT))) return -1;
  sqlite3_bind_text(s, 1, cfg->scenario, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, tb_status_name(res->status), -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, cfg->seed);
  bind_text_or_null(s, 4, cfg->loss ? cfg->loss->name : NULL);
  bind_text_or_null(s, 5, cfg->opt ? cfg->opt->name : NULL);
  sqlite3_bind_text(s, 6, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, dataset, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 8, cfg->json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 9, cfg->hash, -1, SQLITE_STATIC);
  /* from the JSON itself, so that it can never disagree with the identity */
  char group_hash[TB_HASHLEN];
  if (tb_config_group_hash(cfg->json, group_hash)) return -1;
  sqlite3_bind_text(s, 10, group_hash, -1, SQLITE_TRANSIENT);
  if (st->sweep_id > 0) sqlite3_bind_int64(s, 11, st->sweep_id);
  bind_real(s, 12, res->started_at);
  bind_real(s, 13, res->finished_at);
  bind_real(s, 14, res->wall_seconds);
  bind_real(s, 15, res->compute_seconds);
  bind_real(s, 16, res->cpu_seconds);
  sqlite3_bind_int64(s, 17, res->steps);
  sqlite3_bind_int64(s, 18, res->loss_evals);
  sqlite3_bind_int64(s, 19, res->grad_evals);
  sqlite3_bind_int64(s, 20, res->jvp_evals);
  bind_text_or_null(s, 21, res->error);
  if (st->env_id > 0) sqlite3_bind_int64(s, 22, st->env_id);
  if (step_done(s)) return -1;
  int64_t run_id = sqlite3_last_insert_rowid(db);

  rows.table = BULK_PARAM;
  param_writer w = {st, &rows, run_id, "", 0};
  put_params(&w, cfg);
  new_cols |= w.new_cols;
  if (bulk_flush(&rows)) goto out;

  rows.table = BULK_METRIC;
  order = key_order(res, 0);
  for (int k = 0; k < res->n_metrics; k++) {
    const tb_metric *m = &res->metrics[order[k]];
    bulk_int(&rows, run_id);
    bulk_int(&rows, m->epoch);
    bulk_text(&rows, m->split);
    bulk_text(&rows, m->name);
    bulk_measure(&rows, m->value);
  }
  if (bulk_flush(&rows)) goto out;

  /* final values: the curve's last value for a complete run; for any other
   * status no value, and the status as the flag */
  int complete = res->status == TB_RUN_COMPLETE;
  rows.table = BULK_FINAL;
  int *ends = curve_ends(res);
  for (int k = 0; k < res->n_metrics; k++) {
    int i = order[k];
    if (ends[i] < 0) continue;
    const tb_metric *m = &res->metrics[i];
    bulk_int(&rows, run_id);
    bulk_text(&rows, m->split);
    bulk_text(&rows, m->name);
    bulk_int(&rows, m->epoch);
    if (complete) {
      bulk_measure(&rows, m->value);
    } else {
      bulk_null(&rows);
      bulk_text(&rows, tb_status_name(res->status));
    }
    new_cols |= view_col_add(st, 'm', m->split, m->name);
  }
  free(ends);
  if (bulk_flush(&rows)) goto out;

  /* every metric at the epoch of the best validation accuracy */
  int be = complete ? best_epoch(res) : -1;
  rows.table = BULK_BEST;
  for (int k = 0; k < res->n_metrics && be >= 1; k++) {
    const tb_metric *m = &res->metrics[order[k]];
    if (m->epoch != be) continue;
    bulk_int(&rows, run_id);
    bulk_int(&rows, be);
    bulk_text(&rows, m->split);
    bulk_text(&rows, m->name);
    bulk_measure(&rows, m->value);
  }
  free(order);
  order = NULL;
  if (bulk_flush(&rows)) goto out;

  rows.table = BULK_TIMING;
  for (int i = 0; i < res->n_epoch_times; i++) {
    bulk_int(&rows, run_id);
    bulk_int(&rows, i + 1);
    bulk_real(&rows, res->epoch_seconds[i]);
  }
  if (bulk_flush(&rows)) goto out;

  rows.table = BULK_SERIES;
  order = key_order(res, 1);
  for (int k = 0; k < res->n_series; k++) {
    const tb_series_point *p = &res->series[order[k]];
    bulk_int(&rows, run_id);
    bulk_text(&rows, p->name);
    bulk_int(&rows, p->step);
    bulk_measure(&rows, p->value);
  }
  free(order);
  order = NULL;
  if (bulk_flush(&rows)) goto out;

  rows.table = BULK_SERIES_INFO;
  for (int i = 0; i < res->n_series_every; i++) {
    bulk_int(&rows, run_id);
    bulk_text(&rows, res->series_every[i].name);
    bulk_int(&rows, (int64_t)res->series_every[i].value);
  }
  if (bulk_flush(&rows)) goto out;

  rows.table = BULK_COUNTER;
  for (int i = 0; i < res->n_counters; i++) {
    bulk_int(&rows, run_id);
    bulk_text(&rows, res->counters[i].name);
    bulk_real(&rows, res->counters[i].value);
  }
  if (bulk_flush(&rows)) goto out;

  /* what a complete run keeps of its final evaluation (schema 4) */
  rows.table = BULK_CONFUSION;
  for (int i = 0; i < res->n_confusion && complete; i++) {
    const tb_confusion_cell *c = &res->confusion[i];
    bulk_int(&rows, run_id);
    bulk_text(&rows, c->split);
    bulk_int(&rows, c->epoch);
    bulk_int(&rows, c->true_class);
    bulk_int(&rows, c->pred_class);
    bulk_int(&rows, c->count);
  }
  if (bulk_flush(&rows)) goto out;
  rows.table = BULK_CALIBRATION;
  for (int i = 0; i < res->n_calibration && complete; i++) {
    const tb_calibration_bin *c = &res->calibration[i];
    bulk_int(&rows, run_id);
    bulk_text(&rows, c->split);
    bulk_int(&rows, c->epoch);
    bulk_int(&rows, c->bin);
    *bulk_next(&rows) = (bulk_cell){SQLITE_FLOAT, 0, (double)c->bin / TB_CAL_BINS, 0};
    *bulk_next(&rows) = (bulk_cell){SQLITE_FLOAT, 0, (double)(c->bin + 1) / TB_CAL_BINS, 0};
    bulk_int(&rows, c->count);
    bulk_int(&rows, c->correct);
    bulk_measure(&rows, c->confidence);
  }
  if (bulk_flush(&rows)) goto out;

  if (!(s = run_stmt(st, RUN_COMPONENT))) goto out;
  for (int p = 0; p < TB_N_PARTS; p++)
    if (!(p >= TB_PART_CORRUPTION && tb_stage_is_default(cfg->parts[p])) &&
        put_run_components(st, s, run_id, tb_part_name(p), cfg->parts[p]))
      goto out;

  if (new_cols) {
    char msg[TB_ERRLEN];
    if (tb_store_refresh_views(st, msg, sizeof msg)) goto out;
  }
  rc = 0;
out:
  free(order);
  bulk_free(&rows);
  return rc;
}

int tb_store_put_run(tb_store *st, const tb_run_config *cfg, const tb_run_result *res,
                     char *err, size_t errlen) {
  if (!cfg->json || !cfg->hash[0]) {
    tb_errf(err, errlen, "cannot record a run of scenario '%s' without its canonical "
            "configuration", cfg->scenario);
    return -1;
  }
  char what[256];
  snprintf(what, sizeof what, "cannot record run %s", cfg->hash);
  /* Inside a batch a run that fails rolls the whole batch back: a savepoint
   * per run would keep the others, but it copies every page the batch has
   * already touched to a journal of its own before changing it again, which
   * made recording 20 % slower than one transaction per run. */
  if (!st->in_batch && exec(st->db, "BEGIN IMMEDIATE", err, errlen, what)) return -1;
  int put = put_run_rows(st, cfg, res);
  if (put < 0) {
    /* read the message before ROLLBACK replaces it with "not an error" */
    db_fail(err, errlen, st->db, what);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_batch = 0;
    return -1;
  }
  if (!st->in_batch && exec(st->db, "COMMIT", err, errlen, what)) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return put; /* 1: the recorded result was kept, nothing written */
}

int tb_store_batch_begin(tb_store *st, char *err, size_t errlen) {
  if (st->in_batch) return 0;
  if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, "cannot start recording runs")) return -1;
  st->in_batch = 1;
  return 0;
}

int tb_store_batch_commit(tb_store *st, char *err, size_t errlen) {
  if (!st->in_batch) return 0;
  st->in_batch = 0;
  char what[1200];
  snprintf(what, sizeof what, "cannot record runs in '%s'", st->path);
  if (exec(st->db, "COMMIT", err, errlen, what)) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

int tb_store_in_batch(const tb_store *st) { return st && st->in_batch; }

/* ------------------------------------------------------------------------ */
/* Managing runs                                                            */
/* ------------------------------------------------------------------------ */

int tb_store_repair_orphans(tb_store *st, int64_t *removed, char *err, size_t errlen) {
  *removed = 0;
  for (int i = 0; i < N_RUN_CHILDREN; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = run_id)",
             run_children[i]);
    if (exec(st->db, sql, err, errlen, "cannot remove rows of deleted runs")) return -1;
    *removed += sqlite3_changes(st->db);
  }
  return 0;
}

int tb_store_delete_runs(tb_store *st, const char *where, int dry_run, FILE *listing,
                         int64_t *n_deleted, char *err, size_t errlen) {
  *n_deleted = 0;
  char *sql = sqlite3_mprintf(
      "SELECT id, scenario, status, loss, optimizer, seed FROM runs WHERE (%s) ORDER BY id",
      where);
  if (!sql) abort();
  if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, "cannot delete runs")) {
    sqlite3_free(sql);
    return -1;
  }
  sqlite3_stmt *s = NULL, *del = NULL;
  int ok = 0, rc;
  const char *tail = NULL;
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, &tail) != SQLITE_OK) {
    tb_errf(err, errlen, "bad --where condition '%s': %s", where, sqlite3_errmsg(st->db));
    goto out;
  }
  while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t')) tail++;
  if (!sqlite3_stmt_readonly(s) || (tail && *tail)) {
    tb_errf(err, errlen, "bad --where condition '%s': it must only read", where);
    goto out;
  }
  if (sqlite3_prepare_v2(st->db, "DELETE FROM runs WHERE id = ?1", -1, &del, NULL) != SQLITE_OK)
    goto fail;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(s, 0);
    if (listing)
      fprintf(listing, "%s run %lld  %s %s/%s seed=%lld [%s]\n", dry_run ? "would delete" : "delete",
              (long long)id, (const char *)sqlite3_column_text(s, 1),
              sqlite3_column_text(s, 3) ? (const char *)sqlite3_column_text(s, 3) : "?",
              sqlite3_column_text(s, 4) ? (const char *)sqlite3_column_text(s, 4) : "?",
              (long long)sqlite3_column_int64(s, 5), (const char *)sqlite3_column_text(s, 2));
    if (!dry_run) {
      sqlite3_bind_int64(del, 1, id);
      if (step_done(del)) goto fail;
    }
    (*n_deleted)++;
  }
  if (rc != SQLITE_DONE) {
    tb_errf(err, errlen, "bad --where condition '%s': %s", where, sqlite3_errmsg(st->db));
    goto out;
  }
  ok = 1;
  goto out;
fail:
  db_fail(err, errlen, st->db, "cannot delete runs");
out:
  sqlite3_free(sql);
  sqlite3_finalize(s);
  sqlite3_finalize(del);
  if (!ok || dry_run) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return ok ? 0 : -1;
  }
  return exec(st->db, "COMMIT", err, errlen, "cannot delete runs");
}
