/*
 * bench_db.c — a large results database made from a small real one, for
 * timing queries (the best configuration, `summary`) at 100 000 runs.
 *
 * usage: bench_db BASE.db OUT.db RUNS
 *
 * OUT is a copy of BASE whose runs are replicated until it
 * holds RUNS runs (a multiple of BASE's). Replica r of run i is run
 * i + r * M (M the largest id of BASE), in the same scenario, with:
 *   - config_hash and group_hash of its own (their first 24 hex digits and
 *     r in the last 8), so each replica of a configuration is a configuration
 *     of its own, with the same seeds as the original;
 *   - the optimizer's weight_decay moved to r * 1e-6 (in `params` and in the
 *     config JSON), so its configurations differ by a setting, as a grid's
 *     do;
 *   - every value of metrics, final_metrics and best_metrics scaled by one
 *     factor in (0.8, 1] drawn from the new id (accuracies stay in [0, 1];
 *     the final and best epochs' rows still agree with the curves);
 *   - a row in every table that has a run_id column — found from the
 *     schema, so a table added later is replicated too — and in
 *     scenario_configs (the scenario's latest version expands to it).
 * sqlite_sequence is moved past the largest id. Nothing else changes:
 * sweeps, components, environment and scenarios keep BASE's rows.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "bench_db: %s\n  in: %.300s\n", msg ? msg : sqlite3_errmsg(db), sql);
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static long long query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* The per-run factor of the metric values of run `id` (the new one). */
#define FACTOR "(1.0 - 0.2 * (((run_id + r * %lld) * 2654435761) %% 1000) / 1000.0)"

/* INSERT ... SELECT the rows of table t for every replica. Columns are
 * copied, but run_id (shifted), a metric table's value (scaled) and the
 * weight decay in params (moved). */
static int replicate_table(sqlite3 *db, const char *t, long long M) {
  char sql[8192], cols[2048] = "", exprs[4096] = "";
  size_t oc = 0, oe = 0;
  sqlite3_stmt *s;
  snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_xinfo('%s') WHERE hidden = 0", t);
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  const int metric = !strcmp(t, "metrics") || !strcmp(t, "final_metrics") ||
                     !strcmp(t, "best_metrics");
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *c = (const char *)sqlite3_column_text(s, 0);
    char e[512];
    if (!strcmp(c, "run_id"))
      snprintf(e, sizeof e, "run_id + r * %lld", M);
    else if (metric && !strcmp(c, "value"))
      snprintf(e, sizeof e, "value * " FACTOR, M);
    else if (!strcmp(t, "params") && !strcmp(c, "num"))
      snprintf(e, sizeof e,
               "CASE WHEN component = 'optimizer' AND key = 'weight_decay' THEN r * 1e-6 "
               "ELSE num END");
    else
      snprintf(e, sizeof e, "\"%s\"", c);
    oc += (size_t)snprintf(cols + oc, sizeof cols - oc, "%s\"%s\"", oc ? ", " : "", c);
    oe += (size_t)snprintf(exprs + oe, sizeof exprs - oe, "%s%s", oe ? ", " : "", e);
  }
  sqlite3_finalize(s);
  /* rep outside, the table inside: rows come in the order of the new keys */
  snprintf(sql, sizeof sql,
           "INSERT INTO \"%s\"(%s) SELECT %s FROM rep CROSS JOIN \"%s\" WHERE run_id <= %lld",
           t, cols, exprs, t, M);
  return exec(db, sql);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_db BASE.db OUT.db RUNS\n");
    return 2;
  }
  const char *base = argv[1], *out = argv[2];
  long long want = atoll(argv[3]);
  double t0 = tb_now_mono();
  sqlite3 *db;
  char sql[4096];
  remove(out);
  /* a copy through the backup API (VACUUM INTO trips on the generated
   * column of params in SQLite 3.40) */
  sqlite3 *from;
  if (sqlite3_open_v2(base, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_open(out, &db) != SQLITE_OK) {
    fprintf(stderr, "bench_db: cannot open '%s' or '%s'\n", base, out);
    return 1;
  }
  sqlite3_backup *b = sqlite3_backup_init(db, "main", from, "main");
  int rc = b && sqlite3_backup_step(b, -1) == SQLITE_DONE ? 0 : -1;
  sqlite3_backup_finish(b);
  sqlite3_close(from);
  if (rc) {
    fprintf(stderr, "bench_db: cannot copy '%s': %s\n", base, sqlite3_errmsg(db));
    return 1;
  }
  long long n = query_int(db, "SELECT count(*) FROM runs"),
            M = query_int(db, "SELECT max(id) FROM runs");
  if (n <= 0 || want % n) {
    fprintf(stderr, "bench_db: %lld runs is not a multiple of the %lld runs of '%s'\n", want, n,
            base);
    return 1;
  }
  long long reps = want / n;
  snprintf(sql, sizeof sql,
           "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;"
           "BEGIN;"
           "CREATE TEMP TABLE rep(r INTEGER PRIMARY KEY);"
           "WITH RECURSIVE c(r) AS (SELECT 1 UNION ALL SELECT r + 1 FROM c WHERE r < %lld)"
           " INSERT INTO rep SELECT r FROM c;"
           /* runs first: its columns named, the rest copied */
           "CREATE TEMP TABLE base_runs AS SELECT * FROM runs;"
           "UPDATE base_runs SET config_hash = substr(config_hash, 1, 24),"
           " group_hash = substr(group_hash, 1, 24);",
           reps - 1);
  if (exec(db, sql)) return 1;
  /* runs: every column of the table as it is, with the new identity */
  sqlite3_stmt *s;
  char cols[4096] = "", exprs[4096] = "";
  size_t oc = 0, oe = 0;
  if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_xinfo('runs') WHERE hidden = 0", -1,
                         &s, NULL) != SQLITE_OK)
    return 1;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *c = (const char *)sqlite3_column_text(s, 0);
    char e[512];
    if (!strcmp(c, "id"))
      snprintf(e, sizeof e, "id + r * %lld", M);
    else if (!strcmp(c, "config_hash") || !strcmp(c, "group_hash"))
      snprintf(e, sizeof e, "%s || printf('%%08x', r)", c);
    else if (!strcmp(c, "config"))
      snprintf(e, sizeof e,
               "CASE WHEN json_type(config, '$.optimizer') = 'object' THEN "
               "json_set(config, '$.optimizer.hp.weight_decay', r * 1e-6) ELSE config END");
    else
      snprintf(e, sizeof e, "\"%s\"", c);
    oc += (size_t)snprintf(cols + oc, sizeof cols - oc, "%s\"%s\"", oc ? ", " : "", c);
    oe += (size_t)snprintf(exprs + oe, sizeof exprs - oe, "%s%s", oe ? ", " : "", e);
  }
  sqlite3_finalize(s);
  char *ins = sqlite3_mprintf("INSERT INTO runs(%s) SELECT %s FROM rep CROSS JOIN base_runs",
                              cols, exprs);
  rc = exec(db, ins);
  sqlite3_free(ins);
  if (rc) return 1;
  /* every other table keyed by run */
  if (sqlite3_prepare_v2(db,
                         "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND "
                         "m.name <> 'runs' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) "
                         "WHERE name = 'run_id') ORDER BY m.name",
                         -1, &s, NULL) != SQLITE_OK)
    return 1;
  char tables[64][64];
  int nt = 0;
  while (sqlite3_step(s) == SQLITE_ROW && nt < 64)
    snprintf(tables[nt++], sizeof tables[0], "%s", sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  for (int i = 0; i < nt; i++)
    if (replicate_table(db, tables[i], M)) return 1;
  /* the configurations each scenario's versions expand to, and the id sequence */
  snprintf(sql, sizeof sql,
           "INSERT OR IGNORE INTO scenario_configs(scenario_id, config_hash)"
           " SELECT sc.scenario_id, substr(sc.config_hash, 1, 24) || printf('%%08x', r)"
           " FROM rep CROSS JOIN scenario_configs sc;"
           "UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM runs) WHERE name = 'runs';"
           "COMMIT;"
           "PRAGMA journal_mode = WAL;");
  if (exec(db, sql)) return 1;
  long long got = query_int(db, "SELECT count(*) FROM runs"),
            distinct = query_int(db, "SELECT count(DISTINCT config_hash) FROM runs");
  sqlite3_close(db);
  if (got != want || distinct != want) {
    fprintf(stderr, "bench_db: %lld runs, %lld distinct identities; %lld expected\n", got,
            distinct, want);
    return 1;
  }
  printf("%lld runs (%lld copies of %lld, %d tables keyed by run) in %.1f s\n", got, reps, n, nt,
         tb_now_mono() - t0);
  return 0;
}
