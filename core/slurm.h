/*
 * slurm.h — the SLURM job scripts of a sharded sweep (slurm.c): a job array
 * whose task I runs `run --shard I/N`, and the job that merges the shards.
 *
 * Provides: tb_slurm_job, tb_slurm_write, tb_slurm_submit.
 */
#ifndef TB_SLURM_H
#define TB_SLURM_H

#include <stddef.h>

/* Every path absolute: the scripts run on other machines, from another
 * directory, where trainbench may not be on PATH. */
typedef struct tb_slurm_job {
  const char *exe;         /* the trainbench binary */
  const char *script;      /* the Lua script */
  const char *db;          /* the merged database */
  const char *dir;         /* where the job scripts, logs/ and shards/ go */
  const char *plugin_path; /* TRAINBENCH_PLUGIN_PATH for the tasks, NULL: unset */
  const char *name;        /* the job's name */
  int shards;              /* tasks in the array (N) */
  int cpus;                /* --cpus-per-task, and the -j of each shard */
  const char *partition;   /* NULL: the cluster's default */
  const char *time;        /* NULL: the partition's default */
} tb_slurm_job;

/* Write DIR/shards.sbatch and DIR/merge.sbatch (and make DIR/logs and
 * DIR/shards). Their paths in shards_path and merge_path. */
int tb_slurm_write(const tb_slurm_job *j, char *shards_path, char *merge_path, size_t pathlen,
                   char *err, size_t errlen);
/* `sbatch --parsable [--dependency=afterany:AFTER] FILE` (AFTER NULL: none);
 * the job id in id. */
int tb_slurm_submit(const char *file, const char *after, char *id, size_t idlen, char *err,
                    size_t errlen);

#endif /* TB_SLURM_H */
