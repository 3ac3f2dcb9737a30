/*
 * cmd.h — the commands of `trainbench`. main.c dispatches from its table of
 * commands; each command takes its own argv (argv[0] is the command's name)
 * and returns the exit status main.c exits with (TB_EXIT_*). The helpers
 * here are what the commands share (cmd.c).
 *
 * Provides: tb_cmd_run (cmd_run.c); tb_cmd_summary, tb_cmd_query,
 * tb_cmd_runs, tb_cmd_rm (cmd_results.c); tb_cmd_plugins, tb_cmd_describe
 * (cmd_plugins.c); tb_cmd_check (check.c); tb_cmd_new (scaffold.c);
 * tb_cmd_merge, tb_cmd_slurm (cmd_cluster.c);
 * tb_cmd_want_help, tb_cmd_default_db, tb_cmd_db_arg, tb_cmd_open_registry
 * (cmd.c).
 */
#ifndef TB_CMD_H
#define TB_CMD_H

#include "registry.h"

#define TB_DEFAULT_DB "results/trainbench.db"

/* 0 success; 1 an error (bad script or data, database, a plugin whose
 * numbers changed); 2 a usage error; 3 (`run`) the sweep went to its end but
 * some runs crashed, timed out or failed. */
enum { TB_EXIT_OK = 0, TB_EXIT_ERROR = 1, TB_EXIT_USAGE = 2, TB_EXIT_RUNS_FAILED = 3 };

int tb_cmd_run(int argc, char **argv);      /* cmd_run.c: `trainbench run` */
int tb_cmd_summary(int argc, char **argv);  /* cmd_results.c: `trainbench summary` */
int tb_cmd_query(int argc, char **argv);    /* cmd_results.c: `trainbench query` */
int tb_cmd_runs(int argc, char **argv);     /* cmd_results.c: `trainbench runs` */
int tb_cmd_rm(int argc, char **argv);       /* cmd_results.c: `trainbench rm` */
int tb_cmd_plugins(int argc, char **argv);  /* cmd_plugins.c: `trainbench plugins` */
int tb_cmd_describe(int argc, char **argv); /* cmd_plugins.c: `trainbench describe` */
int tb_cmd_check(int argc, char **argv);    /* check.c: `trainbench check` */
int tb_cmd_new(int argc, char **argv);      /* scaffold.c: `trainbench new` */
int tb_cmd_merge(int argc, char **argv);    /* cmd_cluster.c: `trainbench merge` */
int tb_cmd_slurm(int argc, char **argv);    /* cmd_cluster.c: `trainbench slurm` */

/* 1 if -h or --help comes before any "--" (for commands without getopt). */
int tb_cmd_want_help(int argc, char **argv);
/* $TRAINBENCH_DB if set and not empty, else TB_DEFAULT_DB. */
const char *tb_cmd_default_db(void);
/* --db PATH of command `cmd`: an empty path is a usage error (message on
 * stderr, -1), not "not an error" later. */
int tb_cmd_db_arg(const char *cmd, const char *arg, const char **db);
/* The registry of plugins as every command loads it; rejected plugin files
 * are warned about on stderr unless quiet. -1 with the message on stderr. */
int tb_cmd_open_registry(tb_registry **reg, int quiet);

#endif /* TB_CMD_H */
