/*
 * slurm.c — the job scripts `trainbench slurm` writes, and submitting them.
 *
 * shards.sbatch is a job array: task I runs shard I/N of the script with
 * -j C into a database on node-local storage ($TMPDIR, else /tmp), because
 * SQLite's write-ahead log and locks are unreliable on network filesystems,
 * and when it ends copies that database into DIR/shards/ under a temporary
 * name renamed into place, so the shared directory never holds half a copy.
 * A task started again (`sbatch --array=I shards.sbatch`) begins from the
 * copy its shard left, and `run` resumes it: complete runs are skipped. A
 * task stopped by SLURM (time limit, scancel) gets SIGTERM: trainbench
 * commits what it recorded and the task still copies it.
 * merge.sbatch runs after every task has ended, whatever their status
 * (afterany), so that a missing shard is named by `merge` itself; it merges
 * into a node-local copy of the output and renames it into place.
 * Both name the trainbench binary and the plugin folders by absolute path:
 * the nodes need not have trainbench on PATH, nor the submitter's directory.
 *
 * Provides: tb_slurm_write, tb_slurm_submit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurm.h"
#include "util.h"

/* s as one word of sh: in single quotes, a quote as '\'' */
static void put_q(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++)
    if (*s == '\'')
      fputs("'\\''", f);
    else
      fputc(*s, f);
  fputc('\'', f);
}

static int mkdir_p(const char *path, char *err, size_t errlen) {
  char p[4096];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        tb_errf(err, errlen, "cannot create '%s': %s", p, strerror(errno));
        return -1;
      }
      *s = c;
      if (!c) break;
    }
  }
  return 0;
}

static void put_header(FILE *f, const tb_slurm_job *j, const char *name, const char *log) {
  fprintf(f, "#SBATCH --job-name=%s\n", name);
  fprintf(f, "#SBATCH --output=%s/logs/%s\n", j->dir, log);
  if (j->partition) fprintf(f, "#SBATCH --partition=%s\n", j->partition);
  if (j->time) fprintf(f, "#SBATCH --time=%s\n", j->time);
}

static void put_common(FILE *f, const tb_slurm_job *j) {
  fputs("set -u\nTB=", f);
  put_q(f, j->exe);
  fputs("\nSHARDS=", f);
  char shards[4200];
  snprintf(shards, sizeof shards, "%s/shards", j->dir);
  put_q(f, shards);
  fprintf(f, "\nN=%d\n", j->shards);
  if (j->plugin_path) {
    fputs("export TRAINBENCH_PLUGIN_PATH=", f);
    put_q(f, j->plugin_path);
    fputc('\n', f);
  } else {
    fputs("unset TRAINBENCH_PLUGIN_PATH\n", f);
  }
  fputs("unset TRAINBENCH_DB\n", f);
  /* node-local: SQLite's locks and WAL want a local filesystem */
  fputs("LOCAL=$(mktemp -d \"${TMPDIR:-/tmp}/trainbench.XXXXXX\" 2>/dev/null ||\n"
        "  mktemp -d /tmp/trainbench.XXXXXX) || exit 1\n"
        "trap 'rm -rf \"$LOCAL\"' EXIT\n"
        "# copy $1 to $2 atomically: a temporary name beside $2, then a rename\n"
        "publish() {\n"
        "  tmp=\"$(dirname \"$2\")/.$(basename \"$2\").${SLURM_JOB_ID:-$$}.tmp\"\n"
        "  cp \"$1\" \"$tmp\" && mv -f \"$tmp\" \"$2\" || { rm -f \"$tmp\"; return 1; }\n"
        "}\n",
        f);
}

static int write_shards(const tb_slurm_job *j, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    tb_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  fputs("#!/bin/sh\n", f);
  fprintf(f, "#SBATCH --array=1-%d\n#SBATCH --cpus-per-task=%d\n", j->shards, j->cpus);
  put_header(f, j, j->name, "shard-%a.out");
  fprintf(f,
          "# Written by `trainbench slurm`. Task I of the array runs shard I/%d of the\n"
          "# script into a database on node-local storage ($TMPDIR, else /tmp: SQLite's\n"
          "# log and locks are unreliable on network filesystems) and copies it into\n"
          "# $SHARDS when it ends, under a temporary name renamed into place.\n"
          "# Start one task again with `sbatch --array=I %s`: it resumes its shard\n"
          "# from that copy (complete runs are skipped, failed ones retried).\n",
          j->shards, path);
  put_common(f, j);
  fputs("SCRIPT=", f);
  put_q(f, j->script);
  fprintf(f,
          "\nJOBS=${SLURM_CPUS_PER_TASK:-%d}\n"
          "I=${SLURM_ARRAY_TASK_ID:?not a task of an array: submit with sbatch}\n"
          "DB=shard-$I-of-$N.db\n"
          "mkdir -p \"$SHARDS\" || exit 1\n"
          "if [ -f \"$SHARDS/$DB\" ]; then\n"
          "  cp \"$SHARDS/$DB\" \"$LOCAL/$DB\" || exit 1\n"
          "  echo \"shard $I/$N: resuming from $SHARDS/$DB\"\n"
          "fi\n"
          "# stopped by SLURM (time limit, scancel): trainbench commits what it has\n"
          "# recorded and exits; the copy below still happens\n"
          "trap 'echo \"shard $I/$N: stopped by a signal; saving what is recorded\" >&2' TERM INT "
          "HUP\n"
          "\"$TB\" run \"$SCRIPT\" --shard \"$I/$N\" -j \"$JOBS\" --db \"$LOCAL/$DB\"\n"
          "rc=$?\n"
          "if [ -s \"$LOCAL/$DB-wal\" ]; then\n"
          "  # killed outright: the database file alone may lack its last commits\n"
          "  echo \"shard $I/$N: trainbench did not close its database (status $rc); left in "
          "$LOCAL, not copied\" >&2\n"
          "  trap - EXIT\n"
          "  exit 1\n"
          "fi\n"
          "if [ -f \"$LOCAL/$DB\" ]; then\n"
          "  publish \"$LOCAL/$DB\" \"$SHARDS/$DB\" || { echo \"shard $I/$N: cannot copy to "
          "$SHARDS\" >&2; exit 1; }\n"
          "fi\n"
          "exit $rc\n",
          j->cpus);
  if (fclose(f) != 0) {
    tb_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  chmod(path, 0755);
  return 0;
}

static int write_merge(const tb_slurm_job *j, const char *path, const char *shards_file,
                       char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    tb_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  char name[300];
  snprintf(name, sizeof name, "%s-merge", j->name);
  fputs("#!/bin/sh\n#SBATCH --cpus-per-task=1\n", f);
  put_header(f, j, name, "merge.out");
  fprintf(f,
          "# Written by `trainbench slurm`: merges the shards' databases into OUT once\n"
          "# every task of %s has ended (afterany: a missing shard is named by\n"
          "# `trainbench merge`, which then merges nothing). It merges into a node-local\n"
          "# copy of OUT and renames that into place. After starting a task again, run\n"
          "# this again: merging is idempotent.\n",
          shards_file);
  put_common(f, j);
  fputs("OUT=", f);
  put_q(f, j->db);
  fputs("\nDB=$(basename \"$OUT\")\n"
        "if [ -f \"$OUT\" ]; then cp \"$OUT\" \"$LOCAL/$DB\" || exit 1; fi\n"
        "set -- \"$SHARDS\"/shard-*-of-$N.db\n"
        "if [ ! -e \"$1\" ]; then\n"
        "  echo \"merge: no shard database in $SHARDS (see the tasks' logs)\" >&2\n"
        "  exit 1\n"
        "fi\n"
        "\"$TB\" merge \"$LOCAL/$DB\" \"$@\" || exit $?\n"
        "mkdir -p \"$(dirname \"$OUT\")\" && publish \"$LOCAL/$DB\" \"$OUT\" || {\n"
        "  echo \"merge: cannot copy to $OUT\" >&2\n"
        "  exit 1\n"
        "}\n"
        "echo \"merged into $OUT\"\n",
        f);
  if (fclose(f) != 0) {
    tb_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    return -1;
  }
  chmod(path, 0755);
  return 0;
}

int tb_slurm_write(const tb_slurm_job *j, char *shards_path, char *merge_path, size_t pathlen,
                   char *err, size_t errlen) {
  char logs[4200], shards[4200];
  snprintf(logs, sizeof logs, "%s/logs", j->dir);
  snprintf(shards, sizeof shards, "%s/shards", j->dir);
  if (mkdir_p(logs, err, errlen) || mkdir_p(shards, err, errlen)) return -1;
  snprintf(shards_path, pathlen, "%s/shards.sbatch", j->dir);
  snprintf(merge_path, pathlen, "%s/merge.sbatch", j->dir);
  if (write_shards(j, shards_path, err, errlen) ||
      write_merge(j, merge_path, shards_path, err, errlen))
    return -1;
  return 0;
}

int tb_slurm_submit(const char *file, const char *after, char *id, size_t idlen, char *err,
                    size_t errlen) {
  int p[2];
  if (pipe(p) != 0) {
    tb_errf(err, errlen, "cannot run sbatch: %s", strerror(errno));
    return -1;
  }
  char dep[128];
  if (after) snprintf(dep, sizeof dep, "--dependency=afterany:%s", after);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    tb_errf(err, errlen, "cannot run sbatch: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    if (after)
      execlp("sbatch", "sbatch", "--parsable", dep, file, (char *)NULL);
    else
      execlp("sbatch", "sbatch", "--parsable", file, (char *)NULL);
    fprintf(stderr, "trainbench slurm: cannot run sbatch: %s\n", strerror(errno));
    _exit(127);
  }
  close(p[1]);
  char out[256];
  size_t n = 0;
  ssize_t r;
  while ((r = read(p[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = '\0';
  close(p[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  /* --parsable prints "JOBID" or "JOBID;CLUSTER" */
  out[strcspn(out, ";\n")] = '\0';
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !*out) {
    tb_errf(err, errlen, "sbatch %s failed (%s %d)%s", file,
            WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
            WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is SLURM's sbatch on PATH?" : "");
    return -1;
  }
  snprintf(id, idlen, "%s", out);
  return 0;
}
