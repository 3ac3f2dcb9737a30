/*
 * cmd.c — what the commands of `trainbench` share: --help anywhere on the
 * line, the results database to use, --db's check, and the registry opened
 * the way every command opens it.
 *
 * Provides: tb_cmd_want_help, tb_cmd_default_db, tb_cmd_db_arg,
 * tb_cmd_open_registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "registry.h"
#include "util.h"

int tb_cmd_want_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
  }
  return 0;
}

const char *tb_cmd_default_db(void) {
  const char *e = getenv("TRAINBENCH_DB");
  return e && *e ? e : TB_DEFAULT_DB;
}

/* --db PATH: an empty path is a usage error, not "not an error" later. */
int tb_cmd_db_arg(const char *cmd, const char *arg, const char **db) {
  if (!*arg) {
    fprintf(stderr, "trainbench %s: --db: empty path\n", cmd);
    return -1;
  }
  *db = arg;
  return 0;
}

int tb_cmd_open_registry(tb_registry **reg, int quiet) {
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
