/*
 * script.h — Lua scenario scripts (script.c, script_runs.c and the
 * `trainbench` module in trainbench.lua): a script becomes the list of
 * resolved, validated runs of its scenarios.
 *
 * Provides: tb_script_load, tb_sweep_free.
 */
#ifndef TB_SCRIPT_H
#define TB_SCRIPT_H

#include <stddef.h>

#include "config.h"
#include "registry.h"

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

#endif /* TB_SCRIPT_H */
