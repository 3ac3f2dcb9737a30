/*
 * cmd_results.c — the commands that read or manage recorded results:
 * `trainbench summary`, `query`, `runs` and `rm`.
 *
 * Provides: tb_cmd_summary, tb_cmd_runs, tb_cmd_rm, tb_cmd_query.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "report.h"
#include "store.h"
#include "util.h"

static const char *usage_summary =
    "usage: trainbench summary [--db PATH] [--scenario NAME] [--all] [--best]\n"
    "\n"
    "One row per configuration (every setting but the seed): its mean validation\n"
    "accuracy and test accuracy mean +- sd over complete seeds, the counts of complete,\n"
    "diverged and failed runs and of non-finite values; the best configuration of each\n"
    "loss (with its own settings) and optimizer on validation marked * (= when tied).\n"
    "\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " TB_DEFAULT_DB ")\n"
    "      --scenario NAME  only this scenario\n"
    "      --all            every recorded run, not only the configurations of the\n"
    "                       latest version of each scenario's script\n"
    "      --best           only the best configuration(s) of each loss (with its own\n"
    "                       settings) and optimizer: the optimizer's settings are tuned\n"
    "  -h, --help           show this help\n";

static const char *usage_runs =
    "usage: trainbench runs [--db PATH] [--scenario NAME] [--status STATUS] [--csv | --json]\n"
    "\n"
    "List recorded runs: id, scenario, status, loss/optimizer, the hyperparameters that\n"
    "differ from their defaults (the loss's and optimizer's, then their bases' and the\n"
    "stages' as role=name role.key=value), seed, when it finished, how long it took, the\n"
    "error.\n"
    "\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " TB_DEFAULT_DB ")\n"
    "      --scenario NAME  only this scenario\n"
    "      --status STATUS  only complete, diverged, crashed, timeout or failed runs\n"
    "      --csv, --json    machine-readable output\n"
    "  -h, --help           show this help\n";

static const char *usage_rm =
    "usage: trainbench rm --where CONDITION [--dry-run] [--db PATH]\n"
    "\n"
    "Delete the runs matching an SQL condition on the runs table (its columns: id,\n"
    "scenario, status, seed, loss, optimizer, config, group_hash, ...), with their\n"
    "metrics, params, timings, series and provenance, in one transaction. Conditions\n"
    "on hyperparameters go through the results view:\n"
    "  trainbench rm --where 'id IN (SELECT id FROM results WHERE \"optimizer.lr\" > 0.5)'\n"
    "A rerun of the script trains deleted runs again.\n"
    "\n"
    "      --where COND     the condition (required; --where 1 deletes every run)\n"
    "      --dry-run        list the runs that would be deleted; delete nothing\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " TB_DEFAULT_DB ")\n"
    "  -h, --help           show this help\n";

static const char *usage_query =
    "usage: trainbench query SQL [--db PATH] [--csv | --json | --wide] [--timeout SECONDS]\n"
    "\n"
    "Run SQL on the results database and print the rows. Only statements that read\n"
    "are accepted; anything that could write is refused before any statement runs.\n"
    "Extra aggregates: stdev(x), variance(x), median(x), quantile(x, q).\n"
    "\n"
    "      --db PATH      results database (default $TRAINBENCH_DB or " TB_DEFAULT_DB ")\n"
    "      --csv          comma-separated values, full precision\n"
    "      --json         a JSON array of objects\n"
    "      --wide         table: never cut long cells (on a terminal they are cut at 40)\n"
    "      --timeout SEC  stop the query after SEC seconds (default 60; 0: no limit)\n"
    "  -h, --help         show this help\n";

static int open_for_reading(const char *db, tb_store **st) {
  char err[TB_ERRLEN];
  if (tb_store_open_read(st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return -1;
  }
  return 0;
}

int tb_cmd_summary(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"all", no_argument, 0, 'a'},
                                       {"best", no_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = tb_cmd_default_db();
  tb_summary_opts so = {0};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (tb_cmd_db_arg("summary", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 's': so.scenario = optarg; break;
    case 'a': so.all_versions = 1; break;
    case 'b': so.best_only = 1; break;
    case 'h': fputs(usage_summary, stdout); return TB_EXIT_OK;
    default: fputs(usage_summary, stderr); return TB_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench summary: unexpected argument '%s'\n%s", argv[optind],
            usage_summary);
    return TB_EXIT_USAGE;
  }
  tb_store *st;
  if (open_for_reading(db, &st)) return TB_EXIT_ERROR;
  char err[TB_ERRLEN];
  int rc = tb_report_summary(st, &so, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  tb_store_close(st);
  return rc ? TB_EXIT_ERROR : TB_EXIT_OK;
}

/* The hyperparameters of a run's method that differ from their component's
 * defaults (all of them for runs recorded before the defaults were): the
 * loss's and optimizer's bare, then their bases' and the step's stages
 * (recorded only when not at their defaults) as role=name role.key=value. */
static const char runs_sql[] =
    "SELECT r.id, r.scenario, r.status,"
    " coalesce(r.loss, '?') || '/' || coalesce(r.optimizer, '?') AS method,"
    " (SELECT group_concat(k || '=' || v, ' ') FROM (SELECT CASE"
    "    WHEN p.component IN ('loss', 'optimizer') THEN p.key"
    "    WHEN p.key = 'name' THEN p.component ELSE p.component || '.' || p.key END AS k,"
    "   p.value AS v"
    "   FROM params p LEFT JOIN run_components rc ON rc.run_id = p.run_id"
    "    AND rc.role = p.component"
    "   LEFT JOIN component_hparams h ON h.component_id = rc.component_id AND h.name = p.key"
    "   WHERE p.run_id = r.id AND (p.component IN ('loss', 'optimizer', 'corruption',"
    "    'transform', 'reduction') OR p.component GLOB 'loss.*'"
    "    OR p.component GLOB 'optimizer.*')"
    "    AND (h.name IS NULL OR p.value IS NOT coalesce(h.default_num, h.default_text))"
    "   ORDER BY p.component NOT IN ('loss', 'optimizer'), p.component, p.key <> 'name',"
    "    coalesce(h.position, 0), p.rowid)) AS settings,"
    " r.seed, r.finished_at, round(r.wall_seconds, 2) AS seconds, r.error"
    " FROM runs r WHERE (%Q IS NULL OR r.scenario = %Q) AND (%Q IS NULL OR r.status = %Q)"
    " ORDER BY r.id";

int tb_cmd_runs(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"status", required_argument, 0, 't'},
                                       {"csv", no_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = tb_cmd_default_db(), *scenario = NULL, *status = NULL;
  tb_query_opts qo = {.format = TB_FMT_TABLE, .timeout = 60, .tty = isatty(1)};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (tb_cmd_db_arg("runs", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 's': scenario = optarg; break;
    case 't': status = optarg; break;
    case 'c': qo.format = TB_FMT_CSV; break;
    case 'j': qo.format = TB_FMT_JSON; break;
    case 'h': fputs(usage_runs, stdout); return TB_EXIT_OK;
    default: fputs(usage_runs, stderr); return TB_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench runs: unexpected argument '%s'\n%s", argv[optind], usage_runs);
    return TB_EXIT_USAGE;
  }
  static const char *const statuses[] = {"complete", "diverged", "crashed", "timeout",
                                         "failed"};
  int known = !status;
  for (int i = 0; i < 5 && !known; i++) known = strcmp(status, statuses[i]) == 0;
  if (!known) {
    fprintf(stderr,
            "trainbench runs: --status must be complete, diverged, crashed, timeout or "
            "failed, got '%s'\n",
            status);
    return TB_EXIT_USAGE;
  }
  tb_store *st;
  if (open_for_reading(db, &st)) return TB_EXIT_ERROR;
  /* %Q quotes the filters as SQL strings (or NULL) */
  char *sql = sqlite3_mprintf(runs_sql, scenario, scenario, status, status);
  if (!sql) abort();
  char err[TB_ERRLEN];
  int rc = tb_report_query(st, sql, &qo, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  sqlite3_free(sql);
  tb_store_close(st);
  return rc ? TB_EXIT_ERROR : TB_EXIT_OK;
}

int tb_cmd_rm(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"where", required_argument, 0, 'w'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = tb_cmd_default_db(), *where = NULL;
  int dry_run = 0, c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (tb_cmd_db_arg("rm", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 'w': where = optarg; break;
    case 'n': dry_run = 1; break;
    case 'h': fputs(usage_rm, stdout); return TB_EXIT_OK;
    default: fputs(usage_rm, stderr); return TB_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench rm: unexpected argument '%s'\n%s", argv[optind], usage_rm);
    return TB_EXIT_USAGE;
  }
  if (!where || !*where) {
    fprintf(stderr, "trainbench rm: --where CONDITION is required (--where 1 deletes every "
                    "run)\n%s", usage_rm);
    return TB_EXIT_USAGE;
  }
  if (access(db, F_OK) != 0) {
    fprintf(stderr, "trainbench: no results database at '%s'\n", db);
    return TB_EXIT_ERROR;
  }
  tb_store *st;
  char err[TB_ERRLEN];
  if (tb_store_open_write(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return TB_EXIT_ERROR;
  }
  int64_t n = 0, orphans = 0;
  int rc = tb_store_delete_runs(st, where, dry_run, stdout, &n, err, sizeof err);
  if (rc == 0 && !dry_run) rc = tb_store_repair_orphans(st, &orphans, err, sizeof err);
  if (rc == 0 && !dry_run) rc = tb_store_refresh_views(st, err, sizeof err);
  if (rc) {
    fprintf(stderr, "trainbench: %s\n", err);
  } else {
    printf("%s %lld run%s from %s\n", dry_run ? "would delete" : "deleted", (long long)n,
           n == 1 ? "" : "s", db);
    if (orphans > 0)
      printf("also removed %lld rows of runs deleted earlier by another tool\n",
             (long long)orphans);
  }
  tb_store_close(st);
  return rc ? TB_EXIT_ERROR : TB_EXIT_OK;
}

int tb_cmd_query(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"csv", no_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},
                                       {"wide", no_argument, 0, 'w'},
                                       {"timeout", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = tb_cmd_default_db();
  tb_query_opts o = {.format = TB_FMT_TABLE, .timeout = 60, .tty = isatty(1)};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'd':
      if (tb_cmd_db_arg("query", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 'c': o.format = TB_FMT_CSV; break;
    case 'j': o.format = TB_FMT_JSON; break;
    case 'w': o.wide = 1; break;
    case 't':
      o.timeout = strtod(optarg, &end);
      if (end == optarg || *end || !(o.timeout >= 0) || o.timeout > 1e9) {
        fprintf(stderr, "trainbench query: --timeout expects seconds >= 0, got '%s'\n",
                optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage_query, stdout); return 0;
    default: fputs(usage_query, stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "trainbench query: expected one SQL argument\n%s", usage_query);
    return 2;
  }
  tb_store *st;
  char err[TB_ERRLEN];
  if (tb_store_open_read(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return 1;
  }
  int rc = tb_report_query(st, argv[optind], &o, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  tb_store_close(st);
  return rc ? 1 : 0;
}
