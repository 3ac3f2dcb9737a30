/*
 * config.h — the resolved configuration of one run (every default filled
 * in, plugin versions and the dataset's content hash included) and its
 * canonical JSON, whose hash is the run's identity (json.c).
 *
 * Provides: tb_fmt_real, tb_config_canonicalize, tb_config_group_hash,
 * tb_config_free, tb_activation_name, tb_init_name, tb_sched_name.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "registry.h"
#include "util.h"

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

/* ---- json.c: canonical JSON ---- */

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

#endif /* TB_CONFIG_H */
