/*
 * script_int.h — between the two halves of the scenario module, and no
 * further (the rest of the core uses script.h): script.c (the Lua state, the
 * helpers lent to trainbench.lua, running the script) and script_runs.c (the
 * run tables the module leaves, turned into resolved configurations).
 *
 * Provides: tb_script_ctx, tb_script_fail, tb_script_instance (script.c),
 * tb_script_convert (script_runs.c).
 */
#ifndef TB_SCRIPT_INT_H
#define TB_SCRIPT_INT_H

#include <limits.h>
#include <stddef.h>

#include <lua.h>

#include "hparam.h"
#include "registry.h"
#include "script.h"

/* Everything one load needs; the Lua helpers reach it as an upvalue. */
typedef struct tb_script_ctx {
  const tb_registry *reg;
  const char *path;               /* the script, as given */
  const char *text;               /* its bytes */
  char dir[PATH_MAX];             /* its folder, absolute */
  char short_src[LUA_IDSIZE];     /* Lua's (possibly truncated) name for it */
  tb_sweep *out;
  int cap_runs;
  int *slots;                     /* dedupe: open addressing, run index + 1 */
  size_t n_slots;
  /* What identifies each of out->datasets (same index): everything that
   * changes the parsed result. Shipped datasets are known by name. */
  struct data_key {
    char name[32], path[1024];
    int header, label_col;
    int n, classes, dim;
    double separation;
  } *keys;
  char (*paths)[1024];            /* the file each dataset was read from */
  int cap_datasets;
  char *err;
  size_t errlen;
  int failed;
} tb_script_ctx;

/* The load fails with this message (into ctx->err); returns -1. */
int tb_script_fail(tb_script_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The instance a resolved alternative holds (its `inst` userdata at idx),
 * or NULL if the value there is not one; borrowed from Lua. */
tb_instance *tb_script_instance(lua_State *L, int idx);

/* Read the scenarios the script declared (the registry's "trainbench.scenarios")
 * into ctx->out; a lua_CFunction run protected with the context as its
 * light userdata argument. A failure is in ctx, not raised. */
int tb_script_convert(lua_State *L);

#endif /* TB_SCRIPT_INT_H */
