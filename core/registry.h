/*
 * registry.h — the plugin loader and the registry of components (plugin.c):
 * every loss, optimizer and schedule loaded from the plugin folders, with a
 * host copy of its hyperparameter table, and the components built into the
 * core (datasets in data.c, models in model.c), found through the same
 * lookup; and the scalar views of a hyperparameter table (hparam.c, where
 * every check of a value lives: see hparam.h).
 *
 * Provides: tb_registry_open, tb_registry_close, tb_registry_new,
 * tb_registry_add_file, tb_registry_add_descriptor, tb_registry_count, tb_registry_at,
 * tb_registry_find, tb_registry_problem_count, tb_registry_problem, tb_default_plugin_dir,
 * tb_builtin_count, tb_builtin_at, tb_kind_name, tb_kind_of, tb_services_text (plugin.c);
 * tb_hparams_defaults, tb_hparams_check, tb_hparams_values, tb_hparam_index
 * (hparam.c).
 */
#ifndef TB_REGISTRY_H
#define TB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "trainbench/plugin.h"

/* enum tb_kind (loss, optimizer, schedule) is in trainbench/plugin.h; the
 * kinds of the components built into the core follow it (never seen by
 * plugins, except as a COMPONENT hyperparameter's kind, which the loader
 * keeps to plugin kinds). */
#define TB_N_PLUGIN_KINDS 3
enum { TB_KIND_DATASET = 4, TB_KIND_MODEL = 5,
       /* the training step's stages (stages.h) */
       TB_KIND_CORRUPTION = 6, TB_KIND_TRANSFORM = 7, TB_KIND_REDUCTION = 8 };
#define TB_N_KINDS 8
/* Kinds built into the core (datasets, models, stages): not plugins'. */
#define TB_KIND_IS_BUILTIN(k) ((k) >= TB_KIND_DATASET && (k) <= TB_N_KINDS)

/* A component as the host holds it: every definition a plugin handed over is
 * copied into a zeroed struct of the host's size (fields a plugin of an
 * older minor lacks read as 0/NULL), its hyperparameter table into rows of
 * the host's size. */
typedef struct tb_registry tb_registry;

typedef struct tb_component {
  int kind;                 /* enum tb_kind */
  const char *name, *version, *summary, *reference;
  uint32_t services, flags, requires;
  tb_hparam *hparams;       /* host copy (the plugin's table may have a larger stride) */
  int n_hparams;
  tb_validate_fn validate;
  const tb_loss_def *loss;       /* kind == TB_KIND_LOSS: host copy */
  const tb_optimizer_def *opt;   /* kind == TB_KIND_OPTIMIZER: host copy */
  const tb_schedule_def *sched;  /* kind == TB_KIND_SCHEDULE: host copy */
  const char *file;              /* absolute path of the .so; NULL for a built-in */
  char file_hash[TB_HASHLEN];
  /* files of same-named components this one shadows (later in the search path) */
  char **shadows;
  int n_shadows;
  /* the registry that holds it (NULL for a built-in), where the default of
   * a COMPONENT hyperparameter is looked up when the component is probed
   * outside a run (probe.c) */
  const tb_registry *registry;
} tb_component;

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
/* The loader's checks of a descriptor as an entry point returned it (what
 * tb_registry_add_file applies after dlsym), on one built in memory: its
 * components are added as coming from `file` with content hash `file_hash`.
 * They borrow p's strings and tables, which must outlive reg. For the fuzz
 * target of the checks (tests/fuzz/fuzz_plugin.c). */
int tb_registry_add_descriptor(tb_registry *reg, const tb_plugin *p, const char *file,
                               const char *file_hash, char *err, size_t errlen);
int tb_registry_count(const tb_registry *reg);
const tb_component *tb_registry_at(const tb_registry *reg, int i);
/* The component of this kind and name: a loaded plugin's, or a built-in's
 * (datasets and models; `reg` may be NULL for those). */
const tb_component *tb_registry_find(const tb_registry *reg, int kind, const char *name);
/* The built-in components (datasets, then models), in a fixed order. */
int tb_builtin_count(void);
const tb_component *tb_builtin_at(int i);
/* Messages about files that were rejected while scanning ("FILE: reason"). */
int tb_registry_problem_count(const tb_registry *reg);
const char *tb_registry_problem(const tb_registry *reg, int i);
/* The folder of plugins beside the running executable (build tree or install). */
int tb_default_plugin_dir(char *out, size_t outlen);

/* The scalar view of c's hyperparameters (probes and checks drive plugins
 * with it): hp[i] for REAL/INT/BOOL/CHOICE, NaN for the other types, which
 * keep their defaults. */
void tb_hparams_defaults(const tb_component *c, double *hp);
/* Check each value against its row (hparam.c's tb_value_check), then the
 * validate hook with the data's number of classes k (-1 when not known). */
int tb_hparams_check(const tb_component *c, const double *hp, int k, char *err, size_t errlen);
/* The tb_value view of scalar values (text of a choice: its option; other
 * types their defaults), for the validate hook and the plugins' init. */
void tb_hparams_values(const tb_component *c, const double *hp, tb_value *out);
int tb_hparam_index(const tb_component *c, const char *name);
/* The services flags as names, space-separated, in a fixed order: "rng eval
 * jvp next_batch report base"; "" for none. Returns out. */
char *tb_services_text(uint32_t services, char *out, size_t len);
/* "loss", "optimizer", "schedule", "dataset", "model"; "?" otherwise. */
const char *tb_kind_name(int kind);
/* The kind called `name` ("loss", ..., "dataset", "model"), or 0. */
int tb_kind_of(const char *name);

#endif /* TB_REGISTRY_H */
