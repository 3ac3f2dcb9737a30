/*
 * config.h — the resolved configuration of one run and its identity.
 *
 * A configuration is a tree: one instance (hparam.h: a component with a
 * value for every hyperparameter, and the instances its COMPONENT
 * hyperparameters name) per part — data, model, loss, optimizer, schedule —
 * plus the run's own settings (scenario, seed, epochs, batch size; the
 * timeout is not part of the identity). The data and model specs and the
 * loss/optimizer/schedule pointers beside the tree are views of it, filled
 * by tb_config_derive, so the trainer and the data code need not walk it.
 *
 * Identity (json.c): canonical JSON of the tree (sorted keys, reals that
 * read back exactly) holding, per instance, its component's name and
 * version and only the values that differ from the component's defaults
 * (children the same way; a COMPONENT value always, with its own name and
 * version), the dataset's content hash and the engine's version. So adding
 * a hyperparameter whose default reproduces the old numbers changes no
 * existing run's identity, and equivalent spellings hash equal. The group
 * hash is the same without the seed. The legacy identity is the JSON
 * json.c wrote before (every hyperparameter listed), kept to find runs that
 * earlier versions recorded (store.c re-keys them).
 *
 * Provides: tb_fmt_real, tb_config_canonicalize, tb_config_group_hash,
 * tb_config_legacy_json, tb_config_legacy_hash, tb_config_derive, tb_config_set_part,
 * tb_config_copy, tb_config_free, tb_part_name, tb_part_kind,
 * tb_activation_name, tb_init_name (json.c); tb_value_json (json.c).
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "util.h"

enum tb_model_kind { TB_MODEL_LINEAR = 1, TB_MODEL_MLP = 2 };
enum tb_activation { TB_ACT_RELU = 1, TB_ACT_TANH = 2, TB_ACT_GELU = 3 };
enum tb_init { TB_INIT_DEFAULT = 1, TB_INIT_ZEROS = 2, TB_INIT_HE = 3, TB_INIT_GLOROT = 4 };
enum tb_head { TB_HEAD_LINEAR = 1, TB_HEAD_COSINE = 2 };

/* The parts of a configuration, in the order of their keys in the JSON. */
enum tb_part { TB_PART_DATA, TB_PART_MODEL, TB_PART_LOSS, TB_PART_OPTIMIZER, TB_PART_SCHEDULE,
               TB_PART_CORRUPTION, TB_PART_TRANSFORM, TB_PART_REDUCTION,
               TB_N_PARTS };

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
  int head;               /* enum tb_head (0 reads as linear) */
} tb_model_spec;

typedef struct tb_run_config {
  char scenario[128];
  int64_t seed;
  int epochs;
  int batch_size;         /* 0 = full batch */
  double timeout;         /* seconds per run, 0 = none (not part of the hash) */
  tb_instance *parts[TB_N_PARTS]; /* the tree: one reference each (tb_config_free drops them) */
  /* Views of the parts (tb_config_derive); the content hash and the loaded
   * data are set when the data is loaded (tb_data_load, tb_data_spec_resolve). */
  tb_data_spec data;
  tb_model_spec model;
  const tb_component *loss, *opt, *sched;
  const double *loss_hp, *opt_hp;  /* the loss's and optimizer's parts' hp[] */
  char *json;             /* canonical JSON of everything above (malloc'd) */
  char hash[TB_HASHLEN];  /* tb_hash_bytes of json: the run's identity */
  char group_hash[TB_HASHLEN]; /* the same without the seed: runs that differ only by seed */
} tb_run_config;

/* ---- json.c: the tree, its views and its canonical JSON ---- */

/* Shortest decimal text of x that reads back to exactly x ("%.17g" at most);
 * non-finite values as the strings "NaN", "Infinity", "-Infinity". */
void tb_fmt_real(char *out, size_t outlen, double x);
/* "data", "model", "loss", "optimizer", "schedule". */
const char *tb_part_name(int part);
/* The kind of component each part holds (TB_KIND_DATASET, ...). */
int tb_part_kind(int part);
/* Make `in` part p of cfg (a reference is taken; the previous one dropped). */
void tb_config_set_part(tb_run_config *cfg, int part, tb_instance *in);
/* Fill the views (data and model specs, component and hp pointers) from the
 * parts; every part must be set. The data spec's content hash and loaded
 * data are kept. 0, or -1 with err. */
int tb_config_derive(tb_run_config *cfg, char *err, size_t errlen);
/* Canonical JSON of a run (the identity: see the top of this file). Sets
 * cfg->json, cfg->hash and cfg->group_hash; the views must be derived and
 * the data's content hash set. */
int tb_config_canonicalize(tb_run_config *cfg, char *err, size_t errlen);
/* The JSON json.c wrote for this run before issue 7 (every hyperparameter
 * listed, built-in schedules and models in their own layouts), byte for
 * byte, or NULL when the run has no such form (a component or type that
 * did not exist then, a built-in or schedule of another version). */
char *tb_config_legacy_json(const tb_run_config *cfg);
/* Its hash into out, and 0; -1 (out = "") when the run has no legacy form.
 * Computed on demand: only a database that holds legacy keys needs it. */
int tb_config_legacy_hash(const tb_run_config *cfg, char out[TB_HASHLEN]);
/* A copy sharing the parts (references taken) with its own JSON. */
void tb_config_copy(tb_run_config *dst, const tb_run_config *src);
/* The value as JSON text (malloc'd): numbers, true/false, "text",
 * [list], {"field":x} for a record, [[row],...] for a matrix, and a
 * COMPONENT as its instance's identity object. */
char *tb_value_json(const tb_hparam *h, const tb_value *v, const tb_instance *child);
/* The group hash of a canonical configuration: the hash of its JSON with the
 * top-level "seed" member removed (for the store's migration of old runs as
 * well as new ones). -1 if `json` has no top-level seed. */
int tb_config_group_hash(const char *json, char out[TB_HASHLEN]);
/* Drop the parts and the JSON (the views go stale). */
void tb_config_free(tb_run_config *cfg);
const char *tb_activation_name(int activation); /* "relu" ... */
const char *tb_init_name(int init);             /* "default" ... */

#endif /* TB_CONFIG_H */
