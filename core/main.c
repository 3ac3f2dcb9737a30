/*
 * main.c — the `trainbench` command line: run, summary, query, runs, rm,
 * plugins, describe (check and new live in check.c and scaffold.c). The only
 * file that exits.
 *
 * Exit status: 0 success; 1 an error (bad script or data, database, a
 * plugin whose numbers changed); 2 a usage error; 3 (`run`) the sweep went
 * to its end but some runs crashed, timed out or failed. Diverged runs are
 * results, not errors.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "registry.h"
#include "report.h"
#include "script.h"
#include "store.h"
#include "sweep.h"
#include "trainbench/plugin.h"
#include "util.h"

#define DEFAULT_DB "results/trainbench.db"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_RUNS_FAILED = 3 };

static const char *usage_main =
    "usage: trainbench COMMAND [OPTIONS]\n"
    "\n"
    "Benchmark losses and optimizers: Lua scripts describe sweeps, plugins provide\n"
    "the losses and optimizers, results land in SQLite.\n"
    "\n"
    "commands:\n"
    "  run SCRIPT       run the sweep a Lua script describes, then print a summary\n"
    "  summary          each configuration's mean accuracies over seeds, the best marked\n"
    "  query SQL        print the rows of any read-only SQL query on the results\n"
    "  runs             list recorded runs\n"
    "  rm --where COND  delete runs and everything recorded with them\n"
    "  plugins          list the loaded losses and optimizers\n"
    "  describe NAME    show a plugin's reference and hyperparameters\n"
    "  check [FILE|NAME ...]\n"
    "                   run the conformance checks on plugins (all loaded ones by default)\n"
    "  new loss|optimizer NAME [--dir DIR]\n"
    "                   write a ready-to-build plugin to start from\n"
    "\n"
    "options:\n"
    "  -h, --help       show help (also: trainbench COMMAND --help)\n"
    "  -V, --version    show the version\n"
    "\n"
    "exit status: 0 success, 1 error, 2 usage error, 3 some runs crashed, timed out\n"
    "or failed (run)\n"
    "\n"
    "environment:\n"
    "  TRAINBENCH_DB           results database (default " DEFAULT_DB ")\n"
    "  TRAINBENCH_PLUGIN_PATH  colon-separated plugin folders searched before the bundled ones\n";

static const char *usage_run =
    "usage: trainbench run SCRIPT [-j N] [--db PATH] [--force] [--dry-run] [--timeout SECONDS]\n"
    "\n"
    "Expand the scenarios of SCRIPT into runs, skip those already recorded as complete\n"
    "or diverged, train the others in worker processes and record them.\n"
    "\n"
    "  -j, --jobs N         worker processes (default: number of cores)\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
    "      --force          rerun every run, replacing the recorded ones; also run when a\n"
    "                       plugin's numbers differ from those recorded for its version\n"
    "      --dry-run        list the runs and whether they would run; train nothing\n"
    "      --timeout SEC    stop a run after SEC seconds and record it as timeout\n"
    "                       (a scenario's own `timeout` wins)\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 every run complete or diverged, 1 error before or during the sweep\n"
    "(nothing is trained after a script, data or plugin error), 2 usage error, 3 some\n"
    "runs crashed, timed out or failed (they are recorded, and retried by a rerun)\n";

static const char *usage_summary =
    "usage: trainbench summary [--db PATH] [--scenario NAME] [--all] [--best]\n"
    "\n"
    "One row per configuration (every setting but the seed): its mean validation\n"
    "accuracy and test accuracy mean +- sd over complete seeds, the counts of complete,\n"
    "diverged and failed runs and of non-finite values; the best configuration of each\n"
    "loss (with its own settings) and optimizer on validation marked * (= when tied).\n"
    "\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
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
    "differ from their defaults, seed, when it finished, how long it took, the error.\n"
    "\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
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
    "      --db PATH        results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
    "  -h, --help           show this help\n";

static const char *usage_query =
    "usage: trainbench query SQL [--db PATH] [--csv | --json | --wide] [--timeout SECONDS]\n"
    "\n"
    "Run SQL on the results database and print the rows. Only statements that read\n"
    "are accepted; anything that could write is refused before any statement runs.\n"
    "Extra aggregates: stdev(x), variance(x), median(x), quantile(x, q).\n"
    "\n"
    "      --db PATH      results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
    "      --csv          comma-separated values, full precision\n"
    "      --json         a JSON array of objects\n"
    "      --wide         table: never cut long cells (on a terminal they are cut at 40)\n"
    "      --timeout SEC  stop the query after SEC seconds (default 60; 0: no limit)\n"
    "  -h, --help         show this help\n";

static const char *usage_plugins =
    "usage: trainbench plugins\n"
    "\n"
    "List every loaded component (kind, name, version, file, summary), the files a\n"
    "component shadows, and plugin files that were rejected with the reason.\n"
    "Search order: $TRAINBENCH_PLUGIN_PATH, then the plugins beside the executable.\n";

static const char *usage_describe =
    "usage: trainbench describe NAME\n"
    "\n"
    "Show the reference, version, file and hyperparameter table of the loss and/or\n"
    "optimizer called NAME.\n";

static int want_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
  }
  return 0;
}

static const char *default_db(void) {
  const char *e = getenv("TRAINBENCH_DB");
  return e && *e ? e : DEFAULT_DB;
}

/* --db PATH: an empty path is a usage error, not "not an error" later. */
static int db_arg(const char *cmd, const char *arg, const char **db) {
  if (!*arg) {
    fprintf(stderr, "trainbench %s: --db: empty path\n", cmd);
    return -1;
  }
  *db = arg;
  return 0;
}

static int open_registry(tb_registry **reg, int quiet) {
  char dir[4096], err[TB_ERRLEN];
  int has_dir = tb_default_plugin_dir(dir, sizeof dir) == 0;
  if (tb_registry_open(reg, has_dir ? dir : NULL, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return -1;
  }
  if (!quiet)
    for (int i = 0; i < tb_registry_problem_count(*reg); i++)
      fprintf(stderr, "trainbench: warning: plugin rejected: %s\n", tb_registry_problem(*reg, i));
  return 0;
}

/* ---- run ------------------------------------------------------------------ */

/* The command line as one string, for the sweeps table. */
static char *command_text(int argc, char **argv) {
  size_t n = 16;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
  char *t = malloc(n);
  if (!t) abort();
  size_t o = (size_t)snprintf(t, n, "trainbench");
  for (int i = 0; i < argc; i++) o += (size_t)snprintf(t + o, n - o, " %s", argv[i]);
  return t;
}

static int cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"jobs", required_argument, 0, 'j'},
                                       {"db", required_argument, 0, 'd'},
                                       {"force", no_argument, 0, 'f'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"timeout", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  tb_sweep_opts o = {0};
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  o.jobs = ncpu > 0 ? (int)ncpu : 1;
  const char *db = default_db();
  int c;
  while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'j':
      o.jobs = (int)strtol(optarg, &end, 10);
      if (*end || o.jobs < 1 || o.jobs > 64) {
        fprintf(stderr, "trainbench run: -j expects a number of workers in 1..64, got '%s'\n",
                optarg);
        return EXIT_USAGE;
      }
      break;
    case 'd':
      if (db_arg("run", optarg, &db)) return EXIT_USAGE;
      break;
    case 'f': o.force = 1; break;
    case 'n': o.dry_run = 1; break;
    case 't':
      o.timeout = strtod(optarg, &end);
      if (*end || !(o.timeout > 0)) {
        fprintf(stderr, "trainbench run: --timeout expects seconds > 0, got '%s'\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'h': fputs(usage_run, stdout); return EXIT_OK;
    default: fputs(usage_run, stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "trainbench run: expected one SCRIPT\n%s", usage_run);
    return EXIT_USAGE;
  }
  const char *script = argv[optind];
  o.tty = isatty(2);

  tb_registry *reg = NULL;
  if (open_registry(&reg, 0)) return EXIT_ERROR;
  tb_sweep sw;
  memset(&sw, 0, sizeof sw);
  char err[TB_ERRLEN];
  if (tb_script_load(script, reg, &sw, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    tb_registry_close(reg);
    return EXIT_ERROR;
  }
  tb_store *st = NULL;
  int rc = EXIT_OK;
  char *command = command_text(argc, argv);
  if (o.dry_run) {
    /* no database yet: every run is to do; one that cannot be read is an error */
    if (access(db, F_OK) == 0 && tb_store_open_read(&st, db, err, sizeof err)) {
      fprintf(stderr, "trainbench: %s\n", err);
      rc = EXIT_ERROR;
      goto out;
    }
  } else if (tb_store_open_write(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = EXIT_ERROR;
    goto out;
  }
  if (tb_sweep_check_components(&sw, st, o.force, !o.dry_run, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = EXIT_ERROR;
    goto out;
  }
  tb_sweep_meta meta = {command, 1, 1};
  if (!o.dry_run && tb_store_begin_sweep(st, &sw, &meta, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = EXIT_ERROR;
    goto out;
  }
  tb_sweep_stats stats;
  int swrc = tb_sweep_run(&sw, st, &o, &stats, err, sizeof err);
  if (swrc) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = EXIT_ERROR;
  }
  if (!o.dry_run && tb_store_end_sweep(st, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = EXIT_ERROR;
  }
  if (!o.dry_run && !swrc) {
    fprintf(stderr,
            "sweep: %d runs done (%d complete, %d diverged, %d crashed, timed out or failed), "
            "%d already recorded; database %s\n",
            stats.done, stats.complete, stats.diverged, stats.failed, stats.skipped, db);
    for (int i = 0; i < sw.n_scenarios; i++) {
      tb_summary_opts so = {.scenario = sw.scenarios[i].name, .max_rows = 30};
      if (tb_report_summary(st, &so, stdout, err, sizeof err)) {
        fprintf(stderr, "trainbench: %s\n", err);
        rc = EXIT_ERROR;
      }
    }
    if (stats.failed > 0) {
      fprintf(stderr,
              "trainbench: %d run%s crashed, timed out or failed (see `trainbench runs "
              "--status ...`); a rerun retries them\n",
              stats.failed, stats.failed == 1 ? "" : "s");
      if (rc == EXIT_OK) rc = EXIT_RUNS_FAILED;
    }
  }
out:
  free(command);
  if (st) tb_store_close(st);
  tb_sweep_free(&sw);
  tb_registry_close(reg);
  return rc;
}

/* ---- summary / runs / rm / query --------------------------------------------- */

static int open_for_reading(const char *db, tb_store **st) {
  char err[TB_ERRLEN];
  if (tb_store_open_read(st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return -1;
  }
  return 0;
}

static int cmd_summary(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"all", no_argument, 0, 'a'},
                                       {"best", no_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = default_db();
  tb_summary_opts so = {0};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (db_arg("summary", optarg, &db)) return EXIT_USAGE;
      break;
    case 's': so.scenario = optarg; break;
    case 'a': so.all_versions = 1; break;
    case 'b': so.best_only = 1; break;
    case 'h': fputs(usage_summary, stdout); return EXIT_OK;
    default: fputs(usage_summary, stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench summary: unexpected argument '%s'\n%s", argv[optind],
            usage_summary);
    return EXIT_USAGE;
  }
  tb_store *st;
  if (open_for_reading(db, &st)) return EXIT_ERROR;
  char err[TB_ERRLEN];
  int rc = tb_report_summary(st, &so, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  tb_store_close(st);
  return rc ? EXIT_ERROR : EXIT_OK;
}

/* The hyperparameters of a run that differ from their component's defaults
 * (all of them for runs recorded before the defaults were). */
static const char runs_sql[] =
    "SELECT r.id, r.scenario, r.status,"
    " coalesce(r.loss, '?') || '/' || coalesce(r.optimizer, '?') AS method,"
    " (SELECT group_concat(k || '=' || v, ' ') FROM (SELECT p.key AS k, p.value AS v"
    "   FROM params p LEFT JOIN run_components rc ON rc.run_id = p.run_id"
    "    AND rc.role = p.component"
    "   LEFT JOIN component_hparams h ON h.component_id = rc.component_id AND h.name = p.key"
    "   WHERE p.run_id = r.id AND p.component IN ('loss', 'optimizer')"
    "    AND (h.name IS NULL OR p.value IS NOT coalesce(h.default_num, h.default_text))"
    "   ORDER BY p.component, coalesce(h.position, 0), p.rowid)) AS settings,"
    " r.seed, r.finished_at, round(r.wall_seconds, 2) AS seconds, r.error"
    " FROM runs r WHERE (%Q IS NULL OR r.scenario = %Q) AND (%Q IS NULL OR r.status = %Q)"
    " ORDER BY r.id";

static int cmd_runs(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"status", required_argument, 0, 't'},
                                       {"csv", no_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = default_db(), *scenario = NULL, *status = NULL;
  tb_query_opts qo = {.format = TB_FMT_TABLE, .timeout = 60, .tty = isatty(1)};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (db_arg("runs", optarg, &db)) return EXIT_USAGE;
      break;
    case 's': scenario = optarg; break;
    case 't': status = optarg; break;
    case 'c': qo.format = TB_FMT_CSV; break;
    case 'j': qo.format = TB_FMT_JSON; break;
    case 'h': fputs(usage_runs, stdout); return EXIT_OK;
    default: fputs(usage_runs, stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench runs: unexpected argument '%s'\n%s", argv[optind], usage_runs);
    return EXIT_USAGE;
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
    return EXIT_USAGE;
  }
  tb_store *st;
  if (open_for_reading(db, &st)) return EXIT_ERROR;
  /* %Q quotes the filters as SQL strings (or NULL) */
  char *sql = sqlite3_mprintf(runs_sql, scenario, scenario, status, status);
  if (!sql) abort();
  char err[TB_ERRLEN];
  int rc = tb_report_query(st, sql, &qo, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  sqlite3_free(sql);
  tb_store_close(st);
  return rc ? EXIT_ERROR : EXIT_OK;
}

static int cmd_rm(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"where", required_argument, 0, 'w'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = default_db(), *where = NULL;
  int dry_run = 0, c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      if (db_arg("rm", optarg, &db)) return EXIT_USAGE;
      break;
    case 'w': where = optarg; break;
    case 'n': dry_run = 1; break;
    case 'h': fputs(usage_rm, stdout); return EXIT_OK;
    default: fputs(usage_rm, stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench rm: unexpected argument '%s'\n%s", argv[optind], usage_rm);
    return EXIT_USAGE;
  }
  if (!where || !*where) {
    fprintf(stderr, "trainbench rm: --where CONDITION is required (--where 1 deletes every "
                    "run)\n%s", usage_rm);
    return EXIT_USAGE;
  }
  if (access(db, F_OK) != 0) {
    fprintf(stderr, "trainbench: no results database at '%s'\n", db);
    return EXIT_ERROR;
  }
  tb_store *st;
  char err[TB_ERRLEN];
  if (tb_store_open_write(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return EXIT_ERROR;
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
  return rc ? EXIT_ERROR : EXIT_OK;
}

static int cmd_query(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"csv", no_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},
                                       {"wide", no_argument, 0, 'w'},
                                       {"timeout", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = default_db();
  tb_query_opts o = {.format = TB_FMT_TABLE, .timeout = 60, .tty = isatty(1)};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'd':
      if (db_arg("query", optarg, &db)) return EXIT_USAGE;
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

/* ---- plugins / describe -------------------------------------------------------- */

static int cmd_plugins(int argc, char **argv) {
  if (argc > 1) {
    fprintf(stderr, "trainbench plugins: unexpected argument '%s'\n%s", argv[1], usage_plugins);
    return 2;
  }
  tb_registry *reg;
  if (open_registry(&reg, 1)) return 1;
  int n = tb_registry_count(reg);
  int wname = 4, wver = 7;
  for (int i = 0; i < n; i++) {
    const tb_component *c = tb_registry_at(reg, i);
    if ((int)strlen(c->name) > wname) wname = (int)strlen(c->name);
    if ((int)strlen(c->version) > wver) wver = (int)strlen(c->version);
  }
  printf("%-9s  %-*s  %-*s  %s\n", "kind", wname, "name", wver, "version", "summary / file");
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_OPTIMIZER; kind++)
    for (int i = 0; i < n; i++) {
      const tb_component *c = tb_registry_at(reg, i);
      if (c->kind != kind) continue;
      printf("%-9s  %-*s  %-*s  %s\n", tb_kind_name(c->kind), wname, c->name, wver, c->version,
             c->summary);
      printf("%-9s  %-*s  %-*s  %s\n", "", wname, "", wver, "", c->file);
      for (int s = 0; s < c->n_shadows; s++)
        printf("%-9s  %-*s  %-*s  shadows %s\n", "", wname, "", wver, "", c->shadows[s]);
    }
  int np = tb_registry_problem_count(reg);
  if (np) printf("\nrejected plugin files:\n");
  for (int i = 0; i < np; i++) printf("  %s\n", tb_registry_problem(reg, i));
  tb_registry_close(reg);
  return 0;
}

static void print_hparams(const tb_component *c) {
  if (c->n_hparams == 0) {
    printf("  (no hyperparameters)\n");
    return;
  }
  printf("  %-26s %-7s %-12s %-24s %s\n", "hyperparameter", "type", "default", "range", "help");
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    char def[64], range[96] = "", a[32], b[32];
    const char *type = "real";
    switch (h->type) {
    case TB_HP_INT:
      type = "int";
      snprintf(def, sizeof def, "%lld", (long long)h->def);
      snprintf(range, sizeof range, "[%lld, %lld]", (long long)h->min, (long long)h->max);
      break;
    case TB_HP_BOOL:
      type = "bool";
      snprintf(def, sizeof def, "%s", h->def ? "true" : "false");
      snprintf(range, sizeof range, "true | false");
      break;
    case TB_HP_CHOICE: {
      type = "choice";
      snprintf(def, sizeof def, "%s", h->choices[(int)h->def]);
      size_t k = 0;
      for (int j = 0; h->choices[j] && k < sizeof range; j++)
        k += (size_t)snprintf(range + k, sizeof range - k, "%s%s", j ? " | " : "", h->choices[j]);
      break;
    }
    default:
      tb_fmt_real(def, sizeof def, h->def);
      tb_fmt_real(a, sizeof a, h->min);
      tb_fmt_real(b, sizeof b, h->max);
      snprintf(range, sizeof range, "[%s, %s]%s", a, b, h->log_scale ? " log" : "");
    }
    printf("  %-26s %-7s %-12s %-24s %s\n", h->name, type, def, range, h->help ? h->help : "");
  }
}

static int cmd_describe(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "trainbench describe: expected one NAME\n%s", usage_describe);
    return 2;
  }
  tb_registry *reg;
  if (open_registry(&reg, 0)) return 1;
  int found = 0;
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_OPTIMIZER; kind++) {
    const tb_component *c = tb_registry_find(reg, kind, argv[1]);
    if (!c) continue;
    if (found++) printf("\n");
    printf("%s %s (version %s)\n", tb_kind_name(c->kind), c->name, c->version);
    printf("  %s\n", c->summary);
    printf("  reference: %s\n", c->reference);
    printf("  file:      %s\n", c->file);
    printf("  services:  %s%s%s%s\n", c->services & TB_SERVICE_RNG ? "rng " : "",
           c->services & TB_SERVICE_EVAL ? "eval " : "", c->services & TB_SERVICE_JVP ? "jvp" : "",
           c->services ? "" : "none");
    if (c->validate) printf("  checks combinations of its hyperparameters\n");
    printf("\n");
    print_hparams(c);
  }
  if (!found) {
    fprintf(stderr, "trainbench describe: no loss or optimizer named '%s' (valid:", argv[1]);
    for (int i = 0; i < tb_registry_count(reg); i++)
      fprintf(stderr, "%s %s", i ? "," : "", tb_registry_at(reg, i)->name);
    fprintf(stderr, ")\n");
  }
  tb_registry_close(reg);
  return found ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_main, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_main, stdout);
    return 0;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("trainbench %s (plugin ABI %d.%d, results schema %d)\n", TB_VERSION, TB_ABI_MAJOR,
           TB_ABI_MINOR, TB_SCHEMA_VERSION);
    return 0;
  }
  argc--, argv++;
  if (strcmp(cmd, "run") == 0) return cmd_run(argc, argv);
  if (strcmp(cmd, "summary") == 0) return cmd_summary(argc, argv);
  if (strcmp(cmd, "query") == 0) return cmd_query(argc, argv);
  if (strcmp(cmd, "runs") == 0) return cmd_runs(argc, argv);
  if (strcmp(cmd, "rm") == 0) return cmd_rm(argc, argv);
  if (strcmp(cmd, "plugins") == 0) {
    if (want_help(argc, argv)) return fputs(usage_plugins, stdout), 0;
    return cmd_plugins(argc, argv);
  }
  if (strcmp(cmd, "check") == 0) return tb_cmd_check(argc, argv);
  if (strcmp(cmd, "new") == 0) return tb_cmd_new(argc, argv);
  if (strcmp(cmd, "describe") == 0) {
    if (want_help(argc, argv)) return fputs(usage_describe, stdout), 0;
    return cmd_describe(argc, argv);
  }
  fprintf(stderr, "trainbench: unknown command '%s'\n%s", cmd, usage_main);
  return 2;
}
