/*
 * cmd_cluster.c — the commands that spread a sweep over machines:
 * `trainbench merge` (merge.c joins the shards' databases) and `trainbench
 * slurm` (slurm.c writes the job scripts, and submits them with --submit).
 * `run --shard I/N` itself is in cmd_run.c.
 *
 * Provides: tb_cmd_merge, tb_cmd_slurm.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "merge.h"
#include "script.h"
#include "shard.h"
#include "slurm.h"
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
  /* a refused merge into a database it made leaves no empty database behind */
  struct stat before;
  const int made = stat(out, &before) != 0 && errno == ENOENT;
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
    if (made) {
      char side[PATH_MAX + 8];
      unlink(out);
      snprintf(side, sizeof side, "%s-wal", out), unlink(side);
      snprintf(side, sizeof side, "%s-shm", out), unlink(side);
      snprintf(side, sizeof side, "%s-journal", out), unlink(side);
    }
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

static const char *usage_slurm =
    "usage: trainbench slurm SCRIPT --array N [--partition P] [--time T]\n"
    "                        [--cpus-per-task C] [--db OUT] [--submit]\n"
    "\n"
    "Write the SLURM jobs that run SCRIPT as N shards and merge them into OUT: a job\n"
    "array (OUT's name with .slurm/shards.sbatch) whose task I runs `run --shard I/N -j C`\n"
    "into a database on the node's local storage ($TMPDIR, else /tmp) and copies it into\n"
    ".slurm/shards/ when done, and a merge job (.slurm/merge.sbatch) that runs once every\n"
    "task has ended. Prints the sbatch commands; --submit runs them.\n"
    "\n"
    "      --array N            shards, one array task each (1..100000)\n"
    "      --partition P        the partition of both jobs (default: the cluster's)\n"
    "      --time T             time limit of each task and of the merge (sbatch's\n"
    "                           format, e.g. 30 or 2:00:00; default: the partition's)\n"
    "      --cpus-per-task C    CPUs of each task, and its worker processes (default 1)\n"
    "      --db OUT             the merged database (default $TRAINBENCH_DB or\n"
    "                           " TB_DEFAULT_DB ")\n"
    "      --submit             submit both jobs with sbatch and print their ids\n"
    "  -h, --help               show this help\n"
    "\n"
    "A failed task can be started again alone (sbatch --array=I .../shards.sbatch): it\n"
    "resumes its shard. Then submit merge.sbatch again; merging is idempotent.\n"
    "\n"
    "exit status: 0 written (and submitted), 1 error, 2 usage error\n";

/* an sbatch value we write into a #SBATCH line as is */
static int sbatch_word(const char *opt, const char *v) {
  if (!*v) goto bad;
  for (const char *p = v; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr(":-_.,+", *p)))
      goto bad;
  return 0;
bad:
  fprintf(stderr, "trainbench slurm: %s expects a SLURM name or duration (letters, digits, "
                  ":-_.,+), got '%s'\n", opt, v);
  return -1;
}

/* path made absolute against the current directory, without resolving
 * links (the file may not exist yet) */
static char *absolute(const char *path) {
  char *r;
  if (path[0] == '/') {
    r = strdup(path);
  } else {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    size_t n = strlen(cwd) + strlen(path) + 2;
    r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", cwd, path);
  }
  if (!r) abort();
  return r;
}

/* $TRAINBENCH_PLUGIN_PATH with every folder made absolute; NULL if unset */
static char *plugin_path_abs(void) {
  const char *env = getenv("TRAINBENCH_PLUGIN_PATH");
  if (!env) return NULL;
  size_t cap = 1, n = 0;
  char *out = calloc(1, cap);
  char *copy = strdup(env), *save = NULL;
  if (!out || !copy) abort();
  for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char *a = absolute(d);
    cap += strlen(a) + 1;
    out = realloc(out, cap);
    if (!out) abort();
    n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ":" : "", a);
    free(a);
  }
  free(copy);
  return out;
}

int tb_cmd_slurm(int argc, char **argv) {
  static const struct option opts[] = {{"array", required_argument, 0, 'a'},
                                       {"partition", required_argument, 0, 'p'},
                                       {"time", required_argument, 0, 't'},
                                       {"cpus-per-task", required_argument, 0, 'c'},
                                       {"db", required_argument, 0, 'd'},
                                       {"submit", no_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  tb_slurm_job j;
  memset(&j, 0, sizeof j);
  j.cpus = 1;
  const char *db = tb_cmd_default_db();
  int submit = 0, c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    long v;
    switch (c) {
    case 'a':
      v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < 1 || v > TB_SHARD_MAX) {
        fprintf(stderr, "trainbench slurm: --array expects a number of shards in 1..%d, got "
                        "'%s'\n", TB_SHARD_MAX, optarg);
        return TB_EXIT_USAGE;
      }
      j.shards = (int)v;
      break;
    case 'c':
      v = strtol(optarg, &end, 10);
      if (*end || end == optarg || v < 1 || v > 64) {
        fprintf(stderr, "trainbench slurm: --cpus-per-task expects 1..64, got '%s'\n", optarg);
        return TB_EXIT_USAGE;
      }
      j.cpus = (int)v;
      break;
    case 'p':
      if (sbatch_word("--partition", optarg)) return TB_EXIT_USAGE;
      j.partition = optarg;
      break;
    case 't':
      if (sbatch_word("--time", optarg)) return TB_EXIT_USAGE;
      j.time = optarg;
      break;
    case 'd':
      if (tb_cmd_db_arg("slurm", optarg, &db)) return TB_EXIT_USAGE;
      break;
    case 's': submit = 1; break;
    case 'h': fputs(usage_slurm, stdout); return TB_EXIT_OK;
    default: fputs(usage_slurm, stderr); return TB_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "trainbench slurm: expected one SCRIPT\n%s", usage_slurm);
    return TB_EXIT_USAGE;
  }
  if (j.shards == 0) {
    fprintf(stderr, "trainbench slurm: --array N is required\n%s", usage_slurm);
    return TB_EXIT_USAGE;
  }
  /* the script must load here: an error is better seen before submitting */
  char err[TB_ERRLEN];
  tb_registry *reg = NULL;
  if (tb_cmd_open_registry(&reg, 0)) return TB_EXIT_ERROR;
  tb_sweep sw;
  memset(&sw, 0, sizeof sw);
  if (tb_script_load(argv[optind], reg, &sw, err, sizeof err)) {
    fprintf(stderr, "trainbench: %s\n", err);
    tb_registry_close(reg);
    return TB_EXIT_ERROR;
  }
  int *per = calloc((size_t)j.shards + 1, sizeof *per), empty = 0;
  if (!per) abort();
  for (int i = 0; i < sw.n_runs; i++) per[tb_shard_of(sw.runs[i].hash, j.shards)]++;
  for (int i = 1; i <= j.shards; i++) empty += per[i] == 0;
  int n_runs = sw.n_runs;
  tb_sweep_free(&sw);
  tb_registry_close(reg);

  int rc = TB_EXIT_ERROR;
  char exe[4096], shards_file[4400], merge_file[4400];
  char *script = realpath(argv[optind], NULL), *out = absolute(db), *dir = NULL;
  char *plugins = plugin_path_abs();
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (!script || n <= 0) {
    fprintf(stderr, "trainbench slurm: cannot find the absolute path of %s\n",
                    script ? "trainbench itself" : argv[optind]);
    goto done;
  }
  exe[n] = '\0';
  /* the jobs' folder beside OUT: results/x.db -> results/x.slurm */
  size_t len = strlen(out);
  dir = malloc(len + 8);
  if (!dir) abort();
  if (len > 3 && strcmp(out + len - 3, ".db") == 0) len -= 3;
  snprintf(dir, len + 8, "%.*s.slurm", (int)len, out);
  const char *base = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
  char name[256];
  snprintf(name, sizeof name, "tb-%.*s", (int)strcspn(base, "."), base);
  for (char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_'))
      *p = '_';
  j.exe = exe;
  j.script = script;
  j.db = out;
  j.dir = dir;
  j.plugin_path = plugins;
  j.name = name;
  if (tb_slurm_write(&j, shards_file, merge_file, sizeof shards_file, err, sizeof err)) {
    fprintf(stderr, "trainbench slurm: %s\n", err);
    goto done;
  }
  printf("%s: %d runs in %d shards (", argv[optind], n_runs, j.shards);
  for (int i = 1; i <= j.shards && i <= 12; i++) printf("%s%d", i > 1 ? ", " : "", per[i]);
  printf("%s runs)\nwrote %s\n      %s\n", j.shards > 12 ? ", ..." : "", shards_file, merge_file);
  if (empty)
    fprintf(stderr, "trainbench slurm: warning: %d of the %d shards have no run (fewer runs "
                    "than shards); their tasks record an empty shard\n", empty, j.shards);
  if (!submit) {
    printf("submit with:\n  jid=$(sbatch --parsable %s) && sbatch --dependency=afterany:${jid%%%%;*} "
           "%s\n", shards_file, merge_file);
    rc = TB_EXIT_OK;
    goto done;
  }
  char shards_id[128], merge_id[128];
  if (tb_slurm_submit(shards_file, NULL, shards_id, sizeof shards_id, err, sizeof err) ||
      tb_slurm_submit(merge_file, shards_id, merge_id, sizeof merge_id, err, sizeof err)) {
    fprintf(stderr, "trainbench slurm: %s\n", err);
    goto done;
  }
  printf("submitted the shards as job %s (array 1-%d) and the merge as job %s (after them)\n"
         "shards job %s\nmerge job %s\n",
         shards_id, j.shards, merge_id, shards_id, merge_id);
  rc = TB_EXIT_OK;
done:
  free(per);
  free(script);
  free(out);
  free(dir);
  free(plugins);
  return rc;
}
