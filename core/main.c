/*
 * main.c — the `trainbench` command line: the table of commands, from which
 * both the dispatcher and the command list of --help read, so a new command
 * is one row. The commands themselves live in cmd_run.c (run),
 * cmd_results.c (summary, query, runs, rm), cmd_plugins.c (plugins,
 * describe), check.c (check), scaffold.c (new) and cmd_cluster.c (merge,
 * slurm). The only file that exits.
 *
 * Exit status: 0 success; 1 an error (bad script or data, database, a
 * plugin whose numbers changed); 2 a usage error; 3 (`run`) the sweep went
 * to its end but some runs crashed, timed out or failed. Diverged runs are
 * results, not errors.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "trainbench/plugin.h"
#include "util.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *args; /* what follows the name in the command list ("" for nothing) */
  const char *help; /* one line */
} command;

static const command commands[] = {
    {"run", tb_cmd_run, "SCRIPT", "run the sweep a Lua script describes, then print a summary"},
    {"summary", tb_cmd_summary, "",
     "each configuration's mean accuracies over seeds, the best marked"},
    {"query", tb_cmd_query, "SQL", "print the rows of any read-only SQL query on the results"},
    {"runs", tb_cmd_runs, "", "list recorded runs"},
    {"rm", tb_cmd_rm, "--where COND", "delete runs and everything recorded with them"},
    {"plugins", tb_cmd_plugins, "", "list the loaded losses, optimizers and schedules"},
    {"describe", tb_cmd_describe, "NAME",
     "show a component's reference and hyperparameters, or the metrics (`metrics`)"},
    {"check", tb_cmd_check, "[FILE|NAME ...]",
     "run the conformance checks on plugins (all loaded ones by default)"},
    {"new", tb_cmd_new, "loss|optimizer NAME [--dir DIR]",
     "write a ready-to-build plugin to start from"},
    {"merge", tb_cmd_merge, "OUT.db IN.db...",
     "merge results databases (the shards of `run --shard I/N`) into one"},
    {"slurm", tb_cmd_slurm, "SCRIPT --array N [--submit]",
     "write (and submit) a SLURM job array of the shards and its merge job"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fputs("usage: trainbench COMMAND [OPTIONS]\n"
        "\n"
        "Benchmark losses and optimizers: Lua scripts describe sweeps, plugins provide\n"
        "the losses, optimizers and schedules, results land in SQLite.\n"
        "\n"
        "commands:\n",
        f);
  for (int i = 0; i < N_COMMANDS; i++) {
    const command *c = &commands[i];
    char synopsis[64];
    snprintf(synopsis, sizeof synopsis, "%s%s%s", c->name, *c->args ? " " : "", c->args);
    /* the help at column 19, or on a line of its own under a long synopsis */
    if (strlen(synopsis) <= 15)
      fprintf(f, "  %-15s  %s\n", synopsis, c->help);
    else
      fprintf(f, "  %s\n%19s%s\n", synopsis, "", c->help);
  }
  fputs("\n"
        "options:\n"
        "  -h, --help       show help (also: trainbench COMMAND --help)\n"
        "  -V, --version    show the version\n"
        "\n"
        "exit status: 0 success, 1 error, 2 usage error, 3 some runs crashed, timed out\n"
        "or failed (run)\n"
        "\n"
        "environment:\n"
        "  TRAINBENCH_DB           results database (default " TB_DEFAULT_DB ")\n"
        "  TRAINBENCH_PLUGIN_PATH  colon-separated plugin folders searched before the bundled "
        "ones\n"
        "  TRAINBENCH_SCRIPT_INSTRUCTIONS  Lua instructions a script may run while it loads "
        "(default 2000000000)\n"
        "  TRAINBENCH_COMMIT_SECONDS       runs that end within this many seconds share a "
        "commit (default 0.1)\n"
        "  TRAINBENCH_CACHE_DIR    where plugin files that loaded are remembered (default "
        "~/.cache/trainbench)\n",
        f);
}

int main(int argc, char **argv) {
  /* past a file size limit (RLIMIT_FSIZE) a write fails with EFBIG, which
   * SQLite reports as a full disk with the database's name, instead of the
   * signal killing the process without a word */
  signal(SIGXFSZ, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return TB_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return TB_EXIT_OK;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("trainbench %s (plugin ABI %d.%d, results schema %d)\n", TB_VERSION, TB_ABI_MAJOR,
           TB_ABI_MINOR, TB_SCHEMA_VERSION);
    return TB_EXIT_OK;
  }
  for (int i = 0; i < N_COMMANDS; i++)
    if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "trainbench: unknown command '%s'\n", cmd);
  usage(stderr);
  return TB_EXIT_USAGE;
}
