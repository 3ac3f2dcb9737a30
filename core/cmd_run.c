/*
 * cmd_run.c — `trainbench run`: load the script, open (or create) the
 * database, compare the plugins' fingerprints with the recorded ones, run the
 * sweep and print the summary of the scenarios it ran.
 *
 * Provides: tb_cmd_run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cmd.h"
#include "registry.h"
#include "report.h"
#include "script.h"
#include "shard.h"
#include "store.h"
#include "sweep.h"
#include "util.h"

static const char *usage_run =
    "usage: trainbench run SCRIPT [-j N] [--db PATH] [--force] [--dry-run] [--timeout SECONDS]\n"
    "                      [--shard I/N]\n"
    "\n"
    "Expand the scenarios of SCRIPT into runs, skip those already recorded as complete\n"
    "or diverged, train the others in worker processes and record them.\n"
    "\n"
    "  -j, --jobs N         worker processes (default: number of cores)\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " TB_DEFAULT_DB ")\n"
    "      --force          rerun every run, also when a plugin's numbers differ from\n"
    "                       those recorded for its version. A new attempt replaces the\n"
    "                       recorded run only if it is complete or diverged: one that\n"
    "                       crashes, times out or fails keeps the recorded result (and\n"
    "                       counts for exit status 3). An interrupted --force (kill, ^C,\n"
    "                       an error) is resumed by the next --force of the same script,\n"
    "                       which does not redo the runs it redid; a --force after one\n"
    "                       that finished redoes every run\n"
    "      --dry-run        list the runs and whether they would run; train nothing\n"
    "      --timeout SEC    stop a run after SEC seconds and record it as timeout\n"
    "                       (a scenario's own `timeout` wins)\n"
    "      --shard I/N      only the runs of shard I of N (by configuration hash: every\n"
    "                       run is in exactly one shard); `trainbench merge` joins the\n"
    "                       shards' databases\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 every run complete or diverged, 1 error before or during the sweep\n"
    "(nothing is trained after a script, data or plugin error), 2 usage error, 3 some\n"
    "runs crashed, timed out or failed (they are recorded, and retried by a rerun; a\n"
    "forced attempt's failure leaves the complete or diverged run recorded before)\n";

static char *command_text(int argc, char **argv) {
  size_t n = 16;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
  char *t = malloc(n);
  if (!t) abort();
  size_t o = (size_t)snprintf(t, n, "trainbench");
  for (int i = 0; i < argc; i++) o += (size_t)snprintf(t + o, n - o, " %s", argv[i]);
  return t;
}

int tb_cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"jobs", required_argument, 0, 'j'},
                                       {"db", required_argument, 0, 'd'},
                                       {"force", no_argument, 0, 'f'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"timeout", required_argument, 0, 't'},
                                       {"shard", required_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  tb_sweep_opts o = {0};
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  o.jobs = ncpu > 0 ? (int)ncpu : 1;
  const char *db = tb_cmd_default_db();
  int shard_index = 1, shard_count = 1;
  char err[TB_ERRLEN];
  int c;
  while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'j':
      o.jobs = (int)strtol(optarg, &end, 10);
      if (*end || o.jobs < 1 || o.jobs > 64) {
        fprintf(stderr, "trainbench run: -j expects a number of workers in 1..64, got '%s'\n",
                optarg);
        return TB_EXIT_USAGE;
      }
      break;
    case 'd':
      if (tb_cmd_db_arg("run", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 'f': o.force = 1; break;
    case 'n': o.dry_run = 1; break;
    case 't':
      o.timeout = strtod(optarg, &end);
      if (*end || !(o.timeout > 0)) {
        fprintf(stderr, "trainbench run: --timeout expects seconds > 0, got '%s'\n", optarg);
        return TB_EXIT_USAGE;
      }
      break;
    case 's':
      if (tb_shard_parse(optarg, &shard_index, &shard_count, err, sizeof err)) {
        fprintf(stderr, "trainbench run: %s\n", err);
        return TB_EXIT_USAGE;
      }
      break;
    case 'h': fputs(usage_run, stdout); return TB_EXIT_OK;
    default: fputs(usage_run, stderr); return TB_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "trainbench run: expected one SCRIPT\n%s", usage_run);
    return TB_EXIT_USAGE;
  }
  const char *script = argv[optind];
  o.tty = isatty(2);

  tb_registry *reg = NULL;
  if (tb_cmd_open_registry(&reg, 0)) return TB_EXIT_ERROR;
  tb_sweep sw;
  memset(&sw, 0, sizeof sw);
  if (tb_script_load(script, reg, &sw, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    tb_registry_close(reg);
    return TB_EXIT_ERROR;
  }
  tb_store *st = NULL;
  tb_force_resume resume = {0};
  int rc = TB_EXIT_OK;
  char *command = command_text(argc, argv);
  if (o.dry_run) {
    /* no database yet: every run is to do; one that cannot be read is an error */
    if (access(db, F_OK) == 0 && tb_store_open_read(&st, db, err, sizeof err)) {
      fprintf(stderr, "trainbench: %s\n", err);
      rc = TB_EXIT_ERROR;
      goto out;
    }
  } else {
    /* the sweep's children (workers, probes) never use SQLite */
    tb_store_pcache_outside_forks();
    if (tb_store_open_write(&st, db, err, sizeof err)) {
      fprintf(stderr, "trainbench: %s\n", err);
      rc = TB_EXIT_ERROR;
      goto out;
    }
  }
  /* what an interrupted `run --force` of this script left to resume: looked
   * up before this sweep is recorded, and before the fingerprints are
   * compared, since the runs it keeps are reused */
  if (o.force && st &&
      tb_store_force_resume(st, &sw, shard_index, shard_count, &resume, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = TB_EXIT_ERROR;
    goto out;
  }
  o.resume = &resume;
  if (tb_sweep_check_components(&sw, st, o.force, &resume, !o.dry_run, err, sizeof err) ||
      tb_backend_check_resume(&sw, st, o.force, stderr, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = TB_EXIT_ERROR;
    goto out;
  }
  tb_sweep_meta meta = {command, shard_index, shard_count, o.force};
  if (!o.dry_run && tb_store_begin_sweep(st, &sw, &meta, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = TB_EXIT_ERROR;
    goto out;
  }
  /* a shard records its script's whole expansion (each scenario version's
   * configurations, as a whole run does) and trains its own runs */
  if (shard_count > 1) {
    int all = sw.n_runs;
    tb_shard_keep(&sw, shard_index, shard_count);
    fprintf(stderr, "shard %d/%d: %d of the script's %d runs\n", shard_index, shard_count,
            sw.n_runs, all);
  }
  tb_sweep_stats stats;
  int swrc = tb_sweep_run(&sw, st, &o, &stats, err, sizeof err);
  if (swrc) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = TB_EXIT_ERROR;
  }
  /* only a sweep that went through its runs is finished: one stopped by an
   * error is resumed by the next `run --force` as a killed one is */
  if (!o.dry_run && !swrc && tb_store_end_sweep(st, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = TB_EXIT_ERROR;
  }
  if (!o.dry_run && !swrc) {
    char kept[64] = "";
    if (stats.kept)
      snprintf(kept, sizeof kept, ", %d of them kept as recorded", stats.kept);
    fprintf(stderr,
            "sweep: %d runs done (%d complete, %d diverged, %d crashed, timed out or failed%s), "
            "%d already recorded; database %s\n",
            stats.done, stats.complete, stats.diverged, stats.failed, kept, stats.skipped, db);
    for (int i = 0; i < sw.n_scenarios; i++) {
      tb_summary_opts so = {.scenario = sw.scenarios[i].name, .max_rows = 30};
      if (tb_report_summary(st, &so, stdout, err, sizeof err)) {
        fprintf(stderr, "trainbench: %s\n", err);
        rc = TB_EXIT_ERROR;
      }
    }
    int retried = stats.failed - stats.kept;
    if (retried > 0)
      fprintf(stderr,
              "trainbench: %d run%s crashed, timed out or failed (see `trainbench runs "
              "--status ...`); a rerun retries them\n",
              retried, retried == 1 ? "" : "s");
    if (stats.kept == 1)
      fprintf(stderr, "trainbench: %s\n", stats.kept_first);
    else if (stats.kept > 1)
      fprintf(stderr,
              "trainbench: %d forced attempts crashed, timed out or failed: kept the complete or "
              "diverged runs recorded before them (their lines above say how)\n",
              stats.kept);
    if (stats.failed > 0 && rc == TB_EXIT_OK) rc = TB_EXIT_RUNS_FAILED;
  }
out:
  tb_force_resume_free(&resume);
  free(command);
  if (st) tb_store_close(st);
  tb_sweep_free(&sw);
  tb_registry_close(reg);
  return rc;
}
