/*
 * main.c — the `trainbench` command line: run, summary, query, plugins,
 * describe. The only file that exits.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep.h"
#include "tb.h"

#define DEFAULT_DB "results/trainbench.db"

static const char *usage_main =
    "usage: trainbench COMMAND [OPTIONS]\n"
    "\n"
    "Benchmark losses and optimizers: Lua scripts describe sweeps, plugins provide\n"
    "the losses and optimizers, results land in SQLite.\n"
    "\n"
    "commands:\n"
    "  run SCRIPT       run the sweep a Lua script describes, then print a summary\n"
    "  summary          best configuration per (scenario, loss, optimizer)\n"
    "  query SQL        print the rows of any SQL query on the results\n"
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
    "      --force          rerun every run, replacing the recorded ones\n"
    "      --dry-run        list the runs and whether they would run; train nothing\n"
    "      --timeout SEC    stop a run after SEC seconds and record it as timeout\n"
    "                       (a scenario's own `timeout` wins)\n"
    "  -h, --help           show this help\n";

static const char *usage_summary =
    "usage: trainbench summary [--db PATH] [--scenario NAME]\n"
    "\n"
    "Per (scenario, loss, optimizer): the configuration with the best mean validation\n"
    "accuracy over seeds, its test accuracy mean +- sd, the number of seeds and of\n"
    "failed runs.\n"
    "\n"
    "      --db PATH        results database (default $TRAINBENCH_DB or " DEFAULT_DB ")\n"
    "      --scenario NAME  only this scenario\n"
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

/* --db "" would open a private temporary database: say so as a usage error. */
static int empty_db(const char *cmd, const char *db) {
  if (*db) return 0;
  fprintf(stderr, "trainbench %s: --db: empty path\n", cmd);
  return 1;
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
        return 2;
      }
      break;
    case 'd': db = optarg; break;
    case 'f': o.force = 1; break;
    case 'n': o.dry_run = 1; break;
    case 't':
      o.timeout = strtod(optarg, &end);
      if (*end || !(o.timeout > 0)) {
        fprintf(stderr, "trainbench run: --timeout expects seconds > 0, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage_run, stdout); return 0;
    default: fputs(usage_run, stderr); return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "trainbench run: expected one SCRIPT\n%s", usage_run);
    return 2;
  }
  if (empty_db("run", db)) return 2;
  const char *script = argv[optind];
  o.tty = isatty(2);

  tb_registry *reg = NULL;
  if (open_registry(&reg, 0)) return 1;
  tb_sweep sw;
  memset(&sw, 0, sizeof sw);
  char err[TB_ERRLEN];
  if (tb_script_load(script, reg, &sw, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    tb_registry_close(reg);
    return 1;
  }
  tb_store *st = NULL;
  int rc = 0;
  if (o.dry_run) {
    if (access(db, F_OK) == 0 && tb_store_open_read(&st, db, err, sizeof err)) st = NULL;
  } else if (tb_store_open_write(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = 1;
    goto out;
  }
  if (!o.dry_run)
    for (int i = 0; i < sw.n_scenarios; i++)
      if (tb_store_put_scenario(st, &sw.scenarios[i], err, sizeof err)) {
        fprintf(stderr, "trainbench: %s\n", err);
        rc = 1;
        goto out;
      }
  tb_sweep_stats stats;
  if (tb_sweep_run(&sw, st, &o, &stats, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    rc = 1;
    goto out;
  }
  if (!o.dry_run) {
    fprintf(stderr, "sweep: %d runs done (%d complete, %d not), %d already recorded; database %s\n",
            stats.done, stats.complete, stats.failed, stats.skipped, db);
    for (int i = 0; i < sw.n_scenarios; i++)
      if (tb_report_summary(st, sw.scenarios[i].name, stdout, err, sizeof err)) {
        fprintf(stderr, "trainbench: %s\n", err);
        rc = 1;
      }
  }
out:
  if (st) tb_store_close(st);
  tb_sweep_free(&sw);
  tb_registry_close(reg);
  return rc;
}

/* ---- summary / query ----------------------------------------------------------- */

static int cmd_summary(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *db = default_db(), *scenario = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 's': scenario = optarg; break;
    case 'h': fputs(usage_summary, stdout); return 0;
    default: fputs(usage_summary, stderr); return 2;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "trainbench summary: unexpected argument '%s'\n%s", argv[optind],
            usage_summary);
    return 2;
  }
  if (empty_db("summary", db)) return 2;
  tb_store *st;
  char err[TB_ERRLEN];
  if (tb_store_open_read(&st, db, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return 1;
  }
  int rc = tb_report_summary(st, scenario, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "trainbench: %s\n", err);
  tb_store_close(st);
  return rc ? 1 : 0;
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
    case 'd': db = optarg; break;
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
  if (empty_db("query", db)) return 2;
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
