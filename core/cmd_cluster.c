/*
 * cmd_cluster.c — the commands that spread a sweep over machines:
 * `trainbench merge` (merge.c joins the shards' databases) and `trainbench
 * slurm` (slurm.c writes the job scripts, and submits them with --submit).
 * `run --shard I/N` itself is in cmd_run.c.
 *
 * Provides: tb_cmd_merge, tb_cmd_slurm.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "merge.h"
#include "store.h"
#include "util.h"

static const char *usage_merge =
    "usage: trainbench merge OUT.db IN.db... [--partial]\n"
    "\n"
    "Merge results databases — the shards of a sweep (`run --shard I/N`) or any others —\n"
    "into OUT.db (created if missing; what it holds stays). Every input is checked before\n"
    "anything is written; merging the same databases again adds nothing.\n"
    "\n"
    "      --partial        merge even when shards of a sharded sweep are missing (by\n"
    "                       default merge names them and merges nothing)\n"
    "  -h, --help           show this help\n"
    "\n"
    "One run per configuration: a complete or diverged result beats a crashed, timed out\n"
    "or failed run; of two such runs the later one stays; two different complete (or\n"
    "diverged) results of one configuration are an error naming both databases. Warns\n"
    "when the shards of a script ran on different math kernels.\n"
    "\n"
    "exit status: 0 merged, 1 error (nothing of the failing input is merged), 2 usage error\n";

int tb_cmd_merge(int argc, char **argv) {
  static const struct option opts[] = {{"partial", no_argument, 0, 'p'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  tb_merge_opts o = {0, stderr};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'p': o.partial = 1; break;
    case 'h': fputs(usage_merge, stdout); return TB_EXIT_OK;
    default: fputs(usage_merge, stderr); return TB_EXIT_USAGE;
    }
  }
  if (argc - optind < 2) {
    fprintf(stderr, "trainbench merge: expected OUT.db and at least one IN.db\n%s", usage_merge);
    return TB_EXIT_USAGE;
  }
  for (int i = optind; i < argc; i++)
    if (!*argv[i]) {
      fprintf(stderr, "trainbench merge: empty database path\n");
      return TB_EXIT_USAGE;
    }
  const char *out = argv[optind];
  char err[TB_ERRLEN];
  tb_store *st = NULL;
  if (tb_store_open_write(&st, out, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return TB_EXIT_ERROR;
  }
  tb_merge_stats stats;
  int rc = tb_merge(st, (const char *const *)argv + optind + 1, argc - optind - 1, &o, &stats,
                    err, sizeof err);
  tb_store_close(st);
  if (rc) {
    fprintf(stderr, "trainbench merge: %s\n", err);
    return TB_EXIT_ERROR;
  }
  /* opening the store again rebuilds the `results` view over the columns
   * (hyperparameters, metrics) the merged runs brought */
  if (tb_store_open_write(&st, out, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    return TB_EXIT_ERROR;
  }
  tb_store_close(st);
  return TB_EXIT_OK;
}
