/*
 * store.h — the SQLite results database (store.c): one writer per file,
 * schema 5 and its migrations, recording sweeps, components and runs,
 * deleting runs, the views the reports read.
 *
 * Provides: tb_store_open_write, tb_store_open_read, tb_store_close,
 * tb_store_db, tb_store_path, tb_store_lock_fd, tb_store_begin_sweep,
 * tb_store_end_sweep, tb_store_force_resume, tb_force_resume_has,
 * tb_force_resume_free, tb_store_component_records, tb_component_records_free,
 * tb_store_sweep_hashes, tb_store_reused_components, tb_store_register_component,
 * tb_store_run_status, tb_store_adopt_legacy, tb_store_put_run, tb_store_batch_begin,
 * tb_store_batch_commit, tb_store_in_batch, tb_store_pcache_outside_forks,
 * tb_store_delete_runs,
 * tb_store_repair_orphans, tb_sql_run_scores, tb_sql_configs,
 * tb_store_refresh_views.
 */
#ifndef TB_STORE_H
#define TB_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "hash.h"
#include "registry.h"
#include "script.h"
#include "util.h"

typedef struct tb_store tb_store;
struct sqlite3;

/* For a process that forks children which never use SQLite (`run`): keep
 * SQLite's page cache in memory its children do not inherit, so that the
 * pages it writes between forks take no copy-on-write faults. Only before
 * SQLite's first use; it does nothing afterwards. */
void tb_store_pcache_outside_forks(void);
/* Open for writing: create or migrate the schema, WAL mode, and take an
 * exclusive flock on the database file itself so a second writer — under
 * any path to the same file — refuses with a clear message. */
int tb_store_open_write(tb_store **out, const char *path, char *err, size_t errlen);
/* Open an existing database read-only (query, summary, runs), also where this
 * process cannot write (see store.c), with the SQL functions of sqlfn.h. */
int tb_store_open_read(tb_store **out, const char *path, char *err, size_t errlen);
void tb_store_close(tb_store *st);
struct sqlite3 *tb_store_db(tb_store *st);
const char *tb_store_path(const tb_store *st);
/* The descriptor holding the writer's lock (O_CLOEXEC), -1 for a reader:
 * forked workers close it so that they never keep the lock. */
int tb_store_lock_fd(tb_store *st);

/* What `run` says about itself when it starts a sweep. */
typedef struct tb_sweep_meta {
  const char *command;      /* the command line, for people reading the sweeps table */
  int shard_index, shard_count; /* 1/1 for a whole sweep */
  int forced;               /* `run --force`: sweeps.forced, what a later one resumes */
} tb_sweep_meta;
/* Record a sweep: its row, each scenario's version (by script hash) and the
 * configurations it expands to. Runs recorded afterwards reference it. */
int tb_store_begin_sweep(tb_store *st, const tb_sweep *sw, const tb_sweep_meta *m, char *err,
                         size_t errlen);
/* The end of a sweep that went through all its runs (sweeps.finished_at):
 * a sweep killed, stopped by a signal or by an error has none. */
int tb_store_end_sweep(tb_store *st, char *err, size_t errlen);

/* What a `run --force` resumes: the forced sweeps of the same script (its
 * hash) and shard that never finished, newest first, back to the newest one
 * that finished (none: n = 0). The runs they recorded complete or diverged
 * were redone by them, and are kept by the new forced sweep. Look it up
 * before tb_store_begin_sweep records the new one. */
typedef struct tb_force_resume {
  int64_t *sweep_ids; /* newest first */
  int n;
  double started_at;  /* of the newest, unix seconds */
} tb_force_resume;
int tb_store_force_resume(tb_store *st, const tb_sweep *sw, int shard_index, int shard_count,
                          tb_force_resume *out, char *err, size_t errlen);
/* 1 if sweep_id is one of r's sweeps (r may be NULL). */
int tb_force_resume_has(const tb_force_resume *r, int64_t sweep_id);
void tb_force_resume_free(tb_force_resume *r);

/* A recorded build of a component (same kind, name and version). */
typedef struct tb_component_record {
  int64_t id;
  char kind[16], name[128], version[64];
  char fingerprint[TB_HASHLEN]; /* "" when unknown (recorded by schema 1) */
  char *probe;                  /* the encoded probe values, or NULL */
  char file[1024];
  char file_hash[TB_HASHLEN];
  int64_t n_runs;               /* runs recorded with it */
} tb_component_record;
int tb_store_component_records(tb_store *st, const tb_component *c, tb_component_record **out,
                               int *n, char *err, size_t errlen);
void tb_component_records_free(tb_component_record *r, int n);
/* The configuration hashes of `sw`'s runs, with the legacy identities a
 * reader found some of them under, in temp.sweep_hashes(h): what a rerun
 * would look up. 0, or -1 with err. */
int tb_store_sweep_hashes(tb_store *st, const tb_sweep *sw, char *err, size_t errlen);
/* The builds of loss and optimizer components that the runs of `sw` already
 * recorded as complete or diverged — those a rerun would skip — were
 * recorded with; n_runs counts those runs only. With `only`, the runs a
 * resumed `run --force` keeps: those recorded by only's sweeps. */
int tb_store_reused_components(tb_store *st, const tb_sweep *sw, const tb_force_resume *only,
                               tb_component_record **out, int *n, char *err, size_t errlen);
/* Record the loaded build of c with its numeric fingerprint (NULL or "" when
 * unknown); runs recorded afterwards point at it. */
int tb_store_register_component(tb_store *st, const tb_component *c, const char *fingerprint,
                                const char *probe, char *err, size_t errlen);

/* 1 and the status name in `status` (and the sweep that recorded it in
 * *sweep_id, 0 if none; sweep_id may be NULL) if a run with this config hash
 * exists, 0 (and "") if none, -1 on a database error. */
int tb_store_run_status(tb_store *st, const char *config_hash, char *status, size_t len,
                        int64_t *sweep_id);
/* Runs that earlier versions recorded under their legacy identity (the
 * canonical JSON of before issue 7, config.h): for each run of `sw` whose
 * new hash is not in the database but whose legacy hash is, `write` = 1
 * rewrites that run's config, config_hash and group_hash (and its scenario
 * versions' rows) to the new identity, in one transaction, and says on
 * stderr how many; `write` = 0 (a reader: run --dry-run) only remembers
 * them, so tb_store_run_status and tb_store_reused_components find them
 * under the new hash. The number found in *n_adopted (may be NULL). */
int tb_store_adopt_legacy(tb_store *st, const tb_sweep *sw, int write, int64_t *n_adopted,
                          char *err, size_t errlen);
/* Record one run and all its rows, replacing a previous row with the same
 * config hash: in a transaction of its own, or, inside a batch, in the
 * batch's; 0. Except that an attempt that crashed, timed out or failed
 * never replaces a run recorded complete or diverged: that one stays as it
 * is, nothing of res is written, and the result is 1 (a forced rerun's
 * attempt that died). A run that cannot be recorded (-1) leaves nothing of
 * itself; inside a batch it rolls the whole batch back (and closes it):
 * none of the batch's runs is recorded then. */
int tb_store_put_run(tb_store *st, const tb_run_config *cfg, const tb_run_result *res,
                     char *err, size_t errlen);
/* A batch: one transaction for the runs recorded until tb_store_batch_commit
 * (nothing of them is in the file before it; a crash before it loses them
 * whole). A sweep batches runs that end close together, since a commit costs
 * as much as recording a small run; tb_store_in_batch says whether one is open. */
int tb_store_batch_begin(tb_store *st, char *err, size_t errlen);
int tb_store_batch_commit(tb_store *st, char *err, size_t errlen);
int tb_store_in_batch(const tb_store *st);
/* Delete the runs matching an SQL condition on the runs table, with all
 * their rows, in one transaction (dry_run: list them, delete nothing). Each
 * run is listed on `listing` (may be NULL). */
int tb_store_delete_runs(tb_store *st, const char *where, int dry_run, FILE *listing,
                         int64_t *n_deleted, char *err, size_t errlen);
/* Delete rows whose run no longer exists (left by a tool that deleted runs
 * without foreign keys and triggers); the number removed in *removed. */
int tb_store_repair_orphans(tb_store *st, int64_t *removed, char *err, size_t errlen);
/* The SELECTs behind the views `run_scores` (one row per run) and
 * `configs` (one per configuration; a printf format whose %s is a WHERE
 * clause on run_scores, "" for every run). */
extern const char tb_sql_run_scores[];
extern const char tb_sql_configs[];
/* Rebuild the `results` view from the columns the database holds. */
int tb_store_refresh_views(tb_store *st, char *err, size_t errlen);

#endif /* TB_STORE_H */
