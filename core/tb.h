/*
 * tb.h — the core's internal API, shared by the files of core/ and by the
 * tests. Plugins never see it (they see trainbench/plugin.h only).
 *
 * Conventions: functions return 0 on success and non-zero on failure, writing
 * a lowercase message without a trailing period into (err, errlen). Only
 * main.c exits.
 */
#ifndef TB_CORE_H
#define TB_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "trainbench/plugin.h"

#define TB_VERSION "0.1.0"
#define TB_SCHEMA_VERSION 2
#define TB_ENGINE_VERSION "1" /* bump when the core's training changes the numbers a run produces */
#define TB_ERRLEN 1024
#define TB_MAX_HP 64      /* hyperparameters per component */
#define TB_MAX_HIDDEN 16  /* hidden layers of an mlp */

void tb_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------ */
/* rng.c — counter-free xoshiro256** streams derived from (seed, purpose)    */
/* ------------------------------------------------------------------------ */

struct tb_rng {
  uint64_t s[4];
  int has_spare;
  double spare;
};

/* A stream for one purpose ("split", "init", "batches", "plugin", ...):
 * derived only from (seed, purpose), never from dispatch order. */
void tb_rng_init(tb_rng *r, uint64_t seed, const char *purpose);
uint64_t tb_rng_u64(tb_rng *r);
double tb_rng_uniform(tb_rng *r);              /* [0, 1) */
double tb_rng_normal(tb_rng *r);               /* N(0, 1) */
uint64_t tb_rng_below(tb_rng *r, uint64_t n);  /* uniform in [0, n), unbiased */
void tb_rng_shuffle(tb_rng *r, int32_t *a, int64_t n); /* Fisher–Yates */

/* ------------------------------------------------------------------------ */
/* hash.c — content hashes (XXH3-128, 32 hex chars + NUL)                   */
/* ------------------------------------------------------------------------ */

#define TB_HASHLEN 33
void tb_hash_bytes(char out[TB_HASHLEN], const void *data, size_t n);
int tb_hash_file(char out[TB_HASHLEN], const char *path, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* mathx.c — host helpers handed to plugins                                  */
/* ------------------------------------------------------------------------ */

const tb_host_api *tb_host_api_get(void);

/* ------------------------------------------------------------------------ */
/* plugin.c — loader and registry                                           */
/* ------------------------------------------------------------------------ */

enum tb_kind { TB_KIND_LOSS = 1, TB_KIND_OPTIMIZER = 2 };

typedef struct tb_component {
  int kind;                 /* enum tb_kind */
  const char *name, *version, *summary, *reference;
  uint32_t services;
  tb_hparam *hparams;       /* host copy (the plugin's table may have a larger stride) */
  int n_hparams;
  tb_validate_fn validate;
  const tb_loss_def *loss;       /* kind == TB_KIND_LOSS */
  const tb_optimizer_def *opt;   /* kind == TB_KIND_OPTIMIZER */
  const char *file;              /* absolute path of the .so */
  char file_hash[TB_HASHLEN];
  /* files of same-named components this one shadows (later in the search path) */
  char **shadows;
  int n_shadows;
} tb_component;

typedef struct tb_registry tb_registry;

/* Load every plugin from TRAINBENCH_PLUGIN_PATH (colon-separated folders, in
 * order) and then `default_dir` (may be NULL). Files that fail to load are
 * reported through tb_registry_problems, not as a hard failure; two
 * components with one name in the same folder are a hard failure. */
int tb_registry_open(tb_registry **out, const char *default_dir, char *err, size_t errlen);
void tb_registry_close(tb_registry *reg);
/* An empty registry, to fill with tb_registry_add_file (checks of one file). */
tb_registry *tb_registry_new(void);
/* Load one .so file by path (used by tests and `trainbench check`). */
int tb_registry_add_file(tb_registry *reg, const char *path, char *err, size_t errlen);
int tb_registry_count(const tb_registry *reg);
const tb_component *tb_registry_at(const tb_registry *reg, int i);
const tb_component *tb_registry_find(const tb_registry *reg, int kind, const char *name);
/* Messages about files that were rejected while scanning ("FILE: reason"). */
int tb_registry_problem_count(const tb_registry *reg);
const char *tb_registry_problem(const tb_registry *reg, int i);
/* The folder of plugins beside the running executable (build tree or install). */
int tb_default_plugin_dir(char *out, size_t outlen);

/* Fill hp[] with the defaults of c's table. */
void tb_hparams_defaults(const tb_component *c, double *hp);
/* Check each value against its type and range, then the validate hook. */
int tb_hparams_check(const tb_component *c, const double *hp, char *err, size_t errlen);
int tb_hparam_index(const tb_component *c, const char *name);
const char *tb_kind_name(int kind);

/* ------------------------------------------------------------------------ */
/* The resolved configuration of one run                                    */
/* ------------------------------------------------------------------------ */

enum tb_model_kind { TB_MODEL_LINEAR = 1, TB_MODEL_MLP = 2 };
enum tb_activation { TB_ACT_RELU = 1, TB_ACT_TANH = 2, TB_ACT_GELU = 3 };
enum tb_init { TB_INIT_DEFAULT = 1, TB_INIT_ZEROS = 2, TB_INIT_HE = 3, TB_INIT_GLOROT = 4 };
enum tb_sched { TB_SCHED_CONSTANT = 1, TB_SCHED_STEP = 2, TB_SCHED_COSINE = 3 };

typedef struct tb_data_spec {
  char name[32];          /* digits | breast_cancer | iris | wine | csv | blobs */
  char path[1024];        /* csv: the file (resolved); built-ins: the shipped file */
  int label_col;          /* csv: 0-based column of the label; -1 = last */
  int header;             /* csv: 1 if the first line is a header to skip */
  /* blobs */
  int n, classes, dim;
  double separation;
  double split[3];        /* train, val, test fractions (sum 1) */
  int standardize;        /* fit on train, apply to all */
  int has_split_seed;
  int64_t split_seed;
  char content_hash[TB_HASHLEN]; /* of the file, or of the blobs parameters */
  /* The parsed and validated data (data.c's tb_dataset), loaded once by
   * tb_script_load and owned by its tb_sweep; workers inherit it through
   * fork. Not part of the run's identity (json.c never reads it). NULL in
   * configurations built by hand: the trainer then loads the file itself. */
  const struct tb_dataset *loaded;
} tb_data_spec;

typedef struct tb_model_spec {
  int kind;               /* enum tb_model_kind */
  int n_hidden;
  int hidden[TB_MAX_HIDDEN];
  int activation;         /* enum tb_activation */
  int init;               /* enum tb_init */
} tb_model_spec;

typedef struct tb_sched_spec {
  int kind;               /* enum tb_sched */
  double warmup;          /* epochs of linear warmup (fractions allowed) */
  double every, gamma;    /* step: multiply by gamma every `every` epochs */
  double min_factor;      /* cosine: final factor */
} tb_sched_spec;

typedef struct tb_run_config {
  char scenario[128];
  int64_t seed;
  tb_data_spec data;
  tb_model_spec model;
  const tb_component *loss;
  double loss_hp[TB_MAX_HP];
  const tb_component *opt;
  double opt_hp[TB_MAX_HP];
  tb_sched_spec sched;
  int epochs;
  int batch_size;         /* 0 = full batch */
  double timeout;         /* seconds per run, 0 = none (not part of the hash) */
  char *json;             /* canonical JSON of everything above (malloc'd) */
  char hash[TB_HASHLEN];  /* tb_hash_bytes of json: the run's identity */
  char group_hash[TB_HASHLEN]; /* the same without the seed: runs that differ only by seed */
} tb_run_config;

/* ------------------------------------------------------------------------ */
/* json.c — canonical JSON                                                  */
/* ------------------------------------------------------------------------ */

/* Shortest decimal text of x that reads back to exactly x ("%.17g" at most);
 * non-finite values as the strings "NaN", "Infinity", "-Infinity". */
void tb_fmt_real(char *out, size_t outlen, double x);
/* Canonical JSON of a run (sorted keys, exact reals, defaults filled in,
 * plugin versions and the dataset content hash included). Sets cfg->json
 * and cfg->hash. */
int tb_config_canonicalize(tb_run_config *cfg, char *err, size_t errlen);
/* The group hash of a canonical configuration: the hash of its JSON with the
 * top-level "seed" member removed (for the store's migration of old runs as
 * well as new ones). -1 if `json` has no top-level seed. */
int tb_config_group_hash(const char *json, char out[TB_HASHLEN]);
void tb_config_free(tb_run_config *cfg);
const char *tb_activation_name(int activation); /* "relu" ... */
const char *tb_init_name(int init);             /* "default" ... */
const char *tb_sched_name(int sched);           /* "constant" ... */


/* ------------------------------------------------------------------------ */
/* data.c — datasets                                                        */
/* ------------------------------------------------------------------------ */

/* The folder of shipped datasets (source tree's data/ for a build tree,
 * <prefix>/share/trainbench/data when installed). */
int tb_data_dir(char *out, size_t outlen);
/* Fill spec->path for built-in datasets and spec->content_hash (hash of the
 * file's bytes, or of the blobs parameters). */
int tb_data_spec_resolve(tb_data_spec *spec, char *err, size_t errlen);

/* Size limits, checked when a script is loaded (and again where the memory
 * is allocated, for configurations built by hand). They keep every index
 * product of the data and model code far inside int range and a run's
 * memory within a few GiB, so `-j 2` fits on a 24 GiB machine:
 *   TB_MAX_DATA_VALUES  rows x features of a dataset (1 GiB of float32)
 *   TB_MAX_WIDTH        units of one hidden layer
 *   TB_MAX_PARAMS       parameters of a model (1 GiB; grads and optimizer
 *                       state are as large again)
 *   TB_MAX_WORKSPACE    floats of a model's activations and backward scratch
 *                       for the rows of one pass (batch or evaluation chunk) */
#define TB_MAX_DATA_VALUES (INT64_C(1) << 28)
#define TB_MAX_WIDTH 65536
#define TB_MAX_PARAMS (INT64_C(1) << 28)
#define TB_MAX_WORKSPACE (INT64_C(1) << 30)

/* ------------------------------------------------------------------------ */
/* Results of one run, as the worker reports them to the parent             */
/* ------------------------------------------------------------------------ */

enum tb_status {
  TB_RUN_COMPLETE = 1,
  TB_RUN_DIVERGED = 2,  /* non-finite loss: final, not retried */
  TB_RUN_CRASHED = 3,   /* no end-of-run message (signal, abort, exit, ...) */
  TB_RUN_TIMEOUT = 4,   /* killed after --timeout seconds */
  TB_RUN_FAILED = 5     /* the run refused to start or a plugin reported failure */
};
const char *tb_status_name(int status); /* "complete", "diverged", ... */

typedef struct tb_metric {
  int epoch;            /* 0 = before training */
  char split[8];        /* train | val | test */
  char name[16];        /* loss | accuracy | nll | brier | ece */
  double value;         /* may be NaN or +-inf */
} tb_metric;

/* A point of a per-step series ("train.loss" at step 120), or a named counter. */
typedef struct tb_series_point {
  char name[32];
  int64_t step;         /* optimizer steps done when measured (1 = after the first) */
  double value;
} tb_series_point;

typedef struct tb_named_value {
  char name[32];
  double value;         /* a counter's value, or a series' sampling interval */
} tb_named_value;

typedef struct tb_run_result {
  int status;           /* enum tb_status */
  char error[TB_ERRLEN];
  double started_at, finished_at; /* unix seconds */
  double wall_seconds;  /* the parent's view: fork to reaping, bookkeeping included */
  double compute_seconds; /* the worker's own: setup, training and evaluation */
  double cpu_seconds;   /* user + system CPU time of the worker process */
  int64_t steps;        /* optimizer steps taken */
  int64_t loss_evals, grad_evals, jvp_evals;
  tb_metric *metrics;
  int n_metrics, cap_metrics;
  double *epoch_seconds; /* [n_epoch_times] wall time of each training epoch (1-based epochs) */
  int n_epoch_times, cap_epoch_times;
  tb_series_point *series;
  int n_series, cap_series;
  tb_named_value *series_every; /* per series name: every how many steps it is sampled */
  int n_series_every, cap_series_every;
  tb_named_value *counters;
  int n_counters, cap_counters;
} tb_run_result;

void tb_result_add_metric(tb_run_result *r, int epoch, const char *split, const char *name,
                          double value);
void tb_result_add_epoch_time(tb_run_result *r, double seconds);
void tb_result_add_series(tb_run_result *r, const char *name, int64_t step, double value);
void tb_result_set_series_every(tb_run_result *r, const char *name, int64_t every);
/* Set (or overwrite) a named counter. */
void tb_result_set_counter(tb_run_result *r, const char *name, double value);
void tb_result_free(tb_run_result *r);

/* ------------------------------------------------------------------------ */
/* script.c — Lua scenarios                                                 */
/* ------------------------------------------------------------------------ */

typedef struct tb_scenario_info {
  char name[128];
  char *script_path;    /* as given */
  char *script_text;    /* the whole file */
} tb_scenario_info;

typedef struct tb_sweep {
  tb_scenario_info *scenarios;
  int n_scenarios;
  tb_run_config *runs;  /* resolved and canonicalized, in expansion order */
  int n_runs;
  /* Every dataset the runs use, loaded once (runs[i].data.loaded points here) */
  struct tb_dataset **datasets;
  int n_datasets;
} tb_sweep;

/* Run the script, expand every scenario's grid, resolve and validate every
 * run against the registry. Errors name the script file, the line of the
 * offending call and the bad key. Nothing is trained. */
int tb_script_load(const char *path, const tb_registry *reg, tb_sweep *out, char *err,
                   size_t errlen);
void tb_sweep_free(tb_sweep *sw);

/* ------------------------------------------------------------------------ */
/* store.c — the SQLite results database                                    */
/* ------------------------------------------------------------------------ */

typedef struct tb_store tb_store;
struct sqlite3;

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
} tb_sweep_meta;
/* Record a sweep: its row, each scenario's version (by script hash) and the
 * configurations it expands to. Runs recorded afterwards reference it. */
int tb_store_begin_sweep(tb_store *st, const tb_sweep *sw, const tb_sweep_meta *m, char *err,
                         size_t errlen);
int tb_store_end_sweep(tb_store *st, char *err, size_t errlen);

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
/* The builds of loss and optimizer components that the runs of `sw` already
 * recorded as complete or diverged — those a rerun would skip — were
 * recorded with; n_runs counts those runs only. */
int tb_store_reused_components(tb_store *st, const tb_sweep *sw, tb_component_record **out,
                               int *n, char *err, size_t errlen);
/* Record the loaded build of c with its numeric fingerprint (NULL or "" when
 * unknown); runs recorded afterwards point at it. */
int tb_store_register_component(tb_store *st, const tb_component *c, const char *fingerprint,
                                const char *probe, char *err, size_t errlen);

/* 1 and the status name in `status` if a run with this config hash exists,
 * 0 (and "") if none, -1 on a database error. */
int tb_store_run_status(tb_store *st, const char *config_hash, char *status, size_t len);
/* Record one run and all its rows in one transaction, replacing a previous
 * row with the same config hash. */
int tb_store_put_run(tb_store *st, const tb_run_config *cfg, const tb_run_result *res,
                     char *err, size_t errlen);
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

/* report.c — reading results */
enum tb_format { TB_FMT_TABLE = 1, TB_FMT_CSV = 2, TB_FMT_JSON = 3 };
/* How `trainbench query` prints, and how long a query may run. */
typedef struct tb_query_opts {
  int format;     /* TB_FMT_* */
  double timeout; /* seconds before the query is stopped; 0: no limit */
  int wide;       /* table: never cut long cells */
  int tty;        /* table: the output is a terminal, where long cells are cut unless wide */
} tb_query_opts;
/* Run SQL that only reads (anything that could write is refused before any
 * statement runs) and print each result set. */
int tb_report_query(tb_store *st, const char *sql, const tb_query_opts *o, FILE *out, char *err,
                    size_t errlen);
typedef struct tb_summary_opts {
  const char *scenario;  /* NULL: every scenario */
  int all_versions;      /* every recorded run, not only the latest script version's */
  int best_only;         /* only the best configuration(s) of each loss and optimizer */
  int max_rows;          /* > 0: best only for scenarios with more configurations */
} tb_summary_opts;
int tb_report_summary(tb_store *st, const tb_summary_opts *o, FILE *out, char *err,
                      size_t errlen);

/* ------------------------------------------------------------------------ */
/* child.c — isolated child processes (sweep workers, checker children)     */
/* ------------------------------------------------------------------------ */

#define TB_TAIL_MAX 16384

typedef struct tb_child {
  int pid;
  int fd_msg;  /* read end of the child's report pipe (non-blocking), -1 once closed */
  int fd_out;  /* read end of the child's stdout + stderr (non-blocking), -1 once closed */
  char *buf;   /* partial line from fd_msg */
  size_t blen, bcap;
  char tail[TB_TAIL_MAX]; /* the last bytes of fd_out */
  size_t tlen;
} tb_child;

/* Fork. In the parent: fill ch and return 1. In the child: close close_fds
 * (entries < 0 are skipped), point stdout/stderr at the output pipe and stdin
 * at /dev/null, arrange SIGKILL on the parent's death, set *msg_fd to the
 * report pipe's write end and return 0. -1 on failure (message in err). */
int tb_child_fork(tb_child *ch, int *msg_fd, const int *close_fds, int n_close, char *err,
                  size_t errlen);
/* In the child: write all of s to the report pipe; _exit(3) if the parent
 * is gone (nobody is left to read the report). */
void tb_child_send(int fd, const char *s, size_t n);
typedef void (*tb_line_fn)(void *ud, char *line);
/* One read of what fd_msg has ready, calling on_line for each complete line.
 * Returns the bytes read: 0 when nothing is ready, or at the end (then the
 * fd is closed and set to -1). */
ssize_t tb_child_read_msg(tb_child *ch, tb_line_fn on_line, void *ud);
/* The same for fd_out, keeping its tail; a copy goes to echo_fd if >= 0. */
ssize_t tb_child_read_out(tb_child *ch, int echo_fd);
/* How the child's output ended, on one line of at most `max` bytes: a
 * sanitizer's SUMMARY line if there is one, else the last bytes. */
void tb_child_tail_text(const tb_child *ch, char *out, size_t outlen, size_t max);
/* Close what is still open and free the line buffer; the tail stays. */
void tb_child_close(tb_child *ch);
/* "killed by signal 11 (SIGSEGV: Segmentation fault)" or "exited with status N" */
void tb_wait_status_text(int wstatus, char *out, size_t len);

/* ------------------------------------------------------------------------ */
/* Commands implemented outside main.c (argv[0] is the command's name)      */
/* ------------------------------------------------------------------------ */

int tb_cmd_check(int argc, char **argv); /* check.c: `trainbench check` */
int tb_cmd_new(int argc, char **argv);   /* scaffold.c: `trainbench new` */

#endif /* TB_CORE_H */
