/*
 * registry.h — the plugin loader and the registry of components (plugin.c):
 * every loss and optimizer loaded from the plugin folders, with a host copy
 * of its hyperparameter table, and the helpers that read that table.
 *
 * Provides: tb_registry_open, tb_registry_close, tb_registry_new,
 * tb_registry_add_file, tb_registry_count, tb_registry_at, tb_registry_find,
 * tb_registry_problem_count, tb_registry_problem, tb_default_plugin_dir,
 * tb_hparams_defaults, tb_hparams_check, tb_hparam_index, tb_kind_name.
 */
#ifndef TB_REGISTRY_H
#define TB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "trainbench/plugin.h"

/* enum tb_kind (loss, optimizer, schedule) is in trainbench/plugin.h. */
#define TB_N_PLUGIN_KINDS 3

/* A component as the host holds it: every definition a plugin handed over is
 * copied into a zeroed struct of the host's size (fields a plugin of an
 * older minor lacks read as 0/NULL), its hyperparameter table into rows of
 * the host's size. */
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
/* Check each value against its type and range, then the validate hook with
 * the data's number of classes k (-1 when not known). */
int tb_hparams_check(const tb_component *c, const double *hp, int k, char *err, size_t errlen);
/* The tb_value view of scalar values (text of a choice: its option), for the
 * validate hook and the plugins' init. */
void tb_hparams_values(const tb_component *c, const double *hp, tb_value *out);
int tb_hparam_index(const tb_component *c, const char *name);
const char *tb_kind_name(int kind);

#endif /* TB_REGISTRY_H */
