/*
 * script.c — Lua 5.4 scenario scripts: the Lua state and running a script.
 *
 * A script is ordinary Lua with the `trainbench` module preloaded. The module
 * is trainbench.lua, embedded in the binary at build time: each constructor
 * (tb.grid, tb.loss, tb.data.*, ...) records the script line that called it,
 * checks its values at once and keeps its resolved alternatives;
 * tb.scenario takes their cartesian product into a list of runs. This file
 * lends the module the registry (component names and hyperparameter tables,
 * plugins' and built-ins' alike) and host.resolve, which turns the values
 * the module converted into an instance checked by hparam.c's one
 * validator (held by Lua as a userdata), and runs the script under a message
 * handler that names the script's file and line, and hands the runs to
 * script_runs.c, which turns each into a resolved, canonical tb_run_config.
 * So every error surfaces before tb_script_load returns, with the file and
 * line of the offending call.
 *
 * Provides: tb_script_load, tb_script_fail, tb_script_instance.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "builtin.h"
#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "script.h"
#include "script_int.h"
#include "trainbench/plugin.h"
#include "util.h"

/* Runs per script. A run config is a few kilobytes and the grids are held in
 * memory while they expand; sweeps beyond this belong in several scripts. */
#define MAX_RUNS 100000

/* The `trainbench` module's bytes, generated from trainbench.lua (see
 * core/meson.build). Validation errors are raised as tables
 * {__tb_error = "file:line: message"} so the message handler can tell them
 * from the script's own errors, which get a traceback. */
extern const char tb_module_lua[];
extern const size_t tb_module_lua_len;

static tb_script_ctx *ctx_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static int kind_of(lua_State *L, int arg) {
  const char *k = luaL_checkstring(L, arg);
  int kind = tb_kind_of(k);
  if (!kind) luaL_error(L, "no kind of component called '%s'", k);
  return kind;
}

/* ---- helpers lent to the module ------------------------------------------- */

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* host.names(kind): the names of the components of that kind, sorted */
static int h_names(lua_State *L) {
  const tb_registry *reg = ctx_of(L)->reg;
  int kind = kind_of(L, 1), n = tb_registry_count(reg), nb = tb_builtin_count(), m = 0;
  const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + nb + 1), 0);
  for (int i = 0; i < n; i++)
    if (tb_registry_at(reg, i)->kind == kind) names[m++] = tb_registry_at(reg, i)->name;
  for (int i = 0; i < nb; i++)
    if (tb_builtin_at(i)->kind == kind) names[m++] = tb_builtin_at(i)->name;
  qsort(names, (size_t)m, sizeof *names, cmp_cstr);
  lua_createtable(L, m, 0);
  for (int i = 0; i < m; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static void set_num(lua_State *L, const char *k, double x) {
  lua_pushnumber(L, x);
  lua_setfield(L, -2, k);
}

static void set_names(lua_State *L, const char *k, const char *const *names) {
  lua_newtable(L);
  for (int j = 0; names && names[j]; j++) {
    lua_pushstring(L, names[j]);
    lua_rawseti(L, -2, j + 1);
  }
  lua_setfield(L, -2, k);
}

/* " in [1, 65536]", " >= 0": the range of a list's elements for messages */
static void range_suffix(const tb_hparam *h, char *out, size_t len) {
  char a[64], b[64];
  tb_fmt_real(a, sizeof a, h->min);
  tb_fmt_real(b, sizeof b, h->max);
  if (h->max >= DBL_MAX && h->min <= -DBL_MAX)
    out[0] = 0;
  else if (h->max >= DBL_MAX)
    snprintf(out, len, " >= %s", a);
  else if (h->min <= -DBL_MAX)
    snprintf(out, len, " <= %s", b);
  else
    snprintf(out, len, " in [%s, %s]", a, b);
}

/* host.component(kind, name): the table the module validates values
 * against — label, and per hyperparameter its name, type, flags, choices or
 * fields, lengths and kind — or nil when no such component is loaded */
static int h_component(lua_State *L) {
  const tb_component *c = tb_registry_find(ctx_of(L)->reg, kind_of(L, 1), luaL_checkstring(L, 2));
  if (!c) {
    lua_pushnil(L);
    return 1;
  }
  char label[160];
  lua_createtable(L, c->n_hparams, 3);
  lua_pushstring(L, tb_component_label(c, label, sizeof label));
  lua_setfield(L, -2, "label");
  lua_pushboolean(L, TB_KIND_IS_BUILTIN(c->kind));
  lua_setfield(L, -2, "builtin");
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    lua_createtable(L, 0, 12);
    lua_pushstring(L, h->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, tb_hp_type_name(h->type));
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, (h->flags & TB_HPF_REQUIRED) != 0);
    lua_setfield(L, -2, "required");
    lua_pushboolean(L, (h->flags & TB_HPF_INTEGER) != 0);
    lua_setfield(L, -2, "integer");
    lua_pushboolean(L, (h->flags & TB_HPF_K) != 0);
    lua_setfield(L, -2, "k");
    set_num(L, "min_n", h->min_n);
    set_num(L, "max_n", h->max_n);
    if (h->type == TB_HP_CHOICE) set_names(L, "choices", h->choices);
    if (h->type == TB_HP_RECORD) set_names(L, "fields", h->choices);
    if (h->type == TB_HP_LIST || h->type == TB_HP_MATRIX || h->type == TB_HP_RECORD) {
      char r[160];
      range_suffix(h, r, sizeof r);
      lua_pushstring(L, r);
      lua_setfield(L, -2, "range");
    }
    if (h->type == TB_HP_COMPONENT) {
      lua_pushstring(L, tb_kind_name(h->component_kind));
      lua_setfield(L, -2, "component_kind");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* An instance as Lua holds it: a full userdata with one reference. */
#define INSTANCE_MT "trainbench.instance"

static int inst_gc(lua_State *L) {
  tb_instance **p = luaL_checkudata(L, 1, INSTANCE_MT);
  tb_instance_unref(*p);
  *p = NULL; /* safe to call twice */
  return 0;
}

tb_instance *tb_script_instance(lua_State *L, int idx) {
  tb_instance **p = luaL_testudata(L, idx, INSTANCE_MT);
  return p ? *p : NULL;
}

/* host.resolve(kind, name, values): values[i] is hyperparameter i as the
 * module converted it (a number, a string, a list {n, rows, cols, ...}, a
 * child's instance) or nil for its default. Returns the checked instance,
 * or nil and the message (naming the component and the hyperparameter). */
static int h_resolve(lua_State *L) {
  tb_script_ctx *ctx = ctx_of(L);
  const tb_component *c = tb_registry_find(ctx->reg, kind_of(L, 1), luaL_checkstring(L, 2));
  luaL_checktype(L, 3, LUA_TTABLE);
  if (!c) return luaL_error(L, "no such component");
  tb_instance **slot = lua_newuserdatauv(L, sizeof *slot, 0); /* owns the instance from here */
  *slot = NULL;
  luaL_setmetatable(L, INSTANCE_MT);
  int ud = lua_gettop(L);
  char msg[TB_ERRLEN], label[160];
  tb_component_label(c, label, sizeof label);
  *slot = tb_instance_new(ctx->reg, c, msg, sizeof msg);
  if (!*slot) goto refuse;
  tb_instance *in = *slot;
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    int t = lua_rawgeti(L, 3, i + 1);
    int rc = 0;
    char m2[TB_ERRLEN];
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    if (h->type == TB_HP_COMPONENT) {
      tb_instance *child = tb_script_instance(L, -1);
      rc = child ? tb_instance_set(in, i, NULL, child, m2, sizeof m2) : -1;
      if (!child) snprintf(m2, sizeof m2, "'%s' must be a component", h->name);
    } else if (t == LUA_TTABLE) {
      lua_getfield(L, -1, "n");
      lua_getfield(L, -2, "rows");
      lua_getfield(L, -3, "cols");
      int64_t n = lua_tointeger(L, -3), rows = lua_tointeger(L, -2), cols = lua_tointeger(L, -1);
      lua_pop(L, 3);
      if (n < 0 || n > TB_HP_MAX_ELEMENTS) {
        snprintf(m2, sizeof m2, "'%s' has %lld elements, more than the limit of %d", h->name,
                 (long long)n, TB_HP_MAX_ELEMENTS);
        rc = -1;
      } else {
        double *x = lua_newuserdatauv(L, sizeof(double) * (size_t)(n ? n : 1), 0);
        for (int64_t j = 0; j < n; j++) {
          lua_rawgeti(L, -2, j + 1);
          x[j] = lua_tonumber(L, -1);
          lua_pop(L, 1);
        }
        tb_value v = {.num = NAN, .list = x, .n = n, .rows = rows, .cols = cols};
        rc = tb_instance_set(in, i, &v, NULL, m2, sizeof m2);
        lua_pop(L, 1);
      }
    } else if (t == LUA_TSTRING) {
      tb_value v = {.num = NAN, .text = lua_tostring(L, -1)};
      rc = tb_instance_set(in, i, &v, NULL, m2, sizeof m2);
    } else {
      tb_value v = {.num = lua_tonumber(L, -1)};
      rc = tb_instance_set(in, i, &v, NULL, m2, sizeof m2);
    }
    lua_pop(L, 1);
    if (rc) {
      tb_errf(msg, sizeof msg, "%s: %s", label, m2);
      goto refuse;
    }
  }
  char m3[TB_ERRLEN];
  if (c->kind == TB_KIND_DATASET && tb_data_prepare(in, ctx->dir, m3, sizeof m3)) {
    tb_errf(msg, sizeof msg, "%s: %s", label, m3);
    goto refuse;
  }
  if (tb_instance_check(in, -1, msg, sizeof msg)) goto refuse;
  lua_pushvalue(L, ud);
  return 1;
refuse:
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

typedef struct key {
  int is_str, is_int;
  lua_Integer i;
  lua_Number x;
  const char *s;
  size_t len;
} key;

/* numbers first (ascending), then strings in byte order */
static int cmp_key(const void *a, const void *b) {
  const key *p = a, *q = b;
  if (p->is_str != q->is_str) return p->is_str - q->is_str;
  if (!p->is_str) return (p->x > q->x) - (p->x < q->x);
  size_t n = p->len < q->len ? p->len : q->len;
  int c = memcmp(p->s, q->s, n);
  return c ? c : (p->len > q->len) - (p->len < q->len);
}

/* host.sortkeys(t): the keys of t in a deterministic order whatever the
 * locale, or nil and a message if one is neither a number nor a string */
static int h_sortkeys(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    n++;
  }
  key *keys = lua_newuserdatauv(L, sizeof(key) * (n ? n : 1), 0);
  size_t m = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    key *k = &keys[m++];
    memset(k, 0, sizeof *k);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING) {
      k->is_str = 1;
      k->s = lua_tolstring(L, -1, &k->len); /* kept alive by the table */
    } else if (t == LUA_TNUMBER) {
      k->is_int = lua_isinteger(L, -1);
      k->i = lua_tointeger(L, -1);
      k->x = lua_tonumber(L, -1);
    } else {
      const char *type = luaL_typename(L, -1);
      lua_pushnil(L);
      lua_pushfstring(L, "table keys must be names or numbers, got a %s key", type);
      return 2;
    }
  }
  qsort(keys, m, sizeof *keys, cmp_key);
  lua_createtable(L, (int)m, 0);
  for (size_t i = 0; i < m; i++) {
    if (keys[i].is_str)
      lua_pushlstring(L, keys[i].s, keys[i].len);
    else if (keys[i].is_int)
      lua_pushinteger(L, keys[i].i);
    else
      lua_pushnumber(L, keys[i].x);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* host.fmt(x): integers as integers (20, not 2e+01), other reals as their
 * shortest exact text */
static int h_fmt(lua_State *L) {
  if (lua_isinteger(L, 1)) {
    lua_pushfstring(L, "%I", lua_tointeger(L, 1));
    return 1;
  }
  double x = luaL_checknumber(L, 1);
  char t[64];
  if (x == floor(x) && fabs(x) < 9007199254740992.0)
    snprintf(t, sizeof t, "%.0f", x);
  else
    tb_fmt_real(t, sizeof t, x);
  lua_pushstring(L, t);
  return 1;
}

/* ---- running the script ------------------------------------------------------ */

static int preload(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* Open the libraries, build the module and preload it (protected). */
static int prepare(lua_State *L) {
  tb_script_ctx *ctx = lua_touserdata(L, 1);
  luaL_openlibs(L);

  static const luaL_Reg host[] = {
      {"names", h_names}, {"component", h_component}, {"resolve", h_resolve},
      {"sortkeys", h_sortkeys}, {"fmt", h_fmt}, {NULL, NULL}};
  static const luaL_Reg instance_mt[] = {{"__gc", inst_gc}, {"__close", inst_gc}, {NULL, NULL}};
  luaL_newmetatable(L, INSTANCE_MT);
  luaL_setfuncs(L, instance_mt, 0);
  lua_pop(L, 1);
  if (luaL_loadbufferx(L, tb_module_lua, tb_module_lua_len, "=trainbench", "t"))
    return lua_error(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, ctx);
  luaL_setfuncs(L, host, 1);
  lua_pushinteger(L, MAX_RUNS);
  lua_setfield(L, -2, "max_runs");
  lua_call(L, 1, 2); /* module, scenarios */
  lua_setfield(L, LUA_REGISTRYINDEX, "trainbench.scenarios");

  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, preload, 1);
  lua_setfield(L, -2, "trainbench");
  lua_pop(L, 2);

  /* scripts may require helpers kept beside them */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s", ctx->dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);

  /* scripts that draw random values expand the same way every time */
  lua_getglobal(L, "math");
  lua_getfield(L, -1, "randomseed");
  lua_pushinteger(L, 0);
  lua_call(L, 1, 0);
  lua_pop(L, 1);

  /* Lua names the chunk by its path cut to LUA_IDSIZE; messages use the whole path */
  lua_pushfstring(L, "@%s", ctx->path);
  luaL_loadbuffer(L, "", 0, lua_tostring(L, -1));
  lua_Debug ar;
  lua_getinfo(L, ">S", &ar);
  snprintf(ctx->short_src, sizeof ctx->short_src, "%s", ar.short_src);
  lua_pop(L, 1);
  return 0;
}

/* Put the whole path back where Lua shortened it, at the head of a message. */
static const char *push_fixed(lua_State *L, tb_script_ctx *ctx, const char *msg) {
  size_t n = strlen(ctx->short_src);
  if (strcmp(ctx->short_src, ctx->path) != 0 && strncmp(msg, ctx->short_src, n) == 0 &&
      msg[n] == ':')
    return lua_pushfstring(L, "%s%s", ctx->path, msg + n);
  return lua_pushstring(L, msg);
}

static int msgh(lua_State *L) {
  tb_script_ctx *ctx = ctx_of(L);
  if (lua_type(L, 1) == LUA_TTABLE) {
    lua_pushliteral(L, "__tb_error");
    if (lua_rawget(L, 1) == LUA_TSTRING) return 1;
    lua_pop(L, 1);
  }
  const char *msg = lua_tostring(L, 1);
  if (!msg && luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    msg = lua_tostring(L, -1);
  if (!msg) msg = lua_pushfstring(L, "%s: error object is a %s value", ctx->path,
                                  luaL_typename(L, 1));
  luaL_traceback(L, L, push_fixed(L, ctx, msg), 1);
  return 1;
}

int tb_script_fail(tb_script_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (ctx->err && ctx->errlen) vsnprintf(ctx->err, ctx->errlen, fmt, ap);
  va_end(ap);
  ctx->failed = 1;
  return -1;
}

/* ---- a bound on the script's own work ----------------------------------------
 *
 * A script runs before `run` takes any lock or trains anything, so one that
 * loops forever would hang the command without a word. Its Lua code is given
 * a budget of VM instructions (counted by a hook every HOOK_STRIDE), about
 * 6 s of a plain loop here; a script over it fails with its file and line. An
 * instruction count, not a time: whether a script loads does not depend on
 * the machine or its load. TRAINBENCH_SCRIPT_INSTRUCTIONS sets another
 * budget (a positive count). */
#define HOOK_STRIDE 1000000
#define DEFAULT_BUDGET 2000000000LL

typedef struct budget {
  long long used, limit;
} budget;

static void count_hook(lua_State *L, lua_Debug *ar) {
  budget *b = *(budget **)lua_getextraspace(L);
  b->used += HOOK_STRIDE;
  if (b->used <= b->limit) return;
  lua_getinfo(L, "Sl", ar);
  luaL_error(L, "%s:%d: the script ran more than %I Lua instructions while loading (an "
                "endless loop?); TRAINBENCH_SCRIPT_INSTRUCTIONS sets another limit",
             ar->short_src, ar->currentline, (lua_Integer)b->limit);
}

/* The budget from the environment, or -1 with err set. */
static long long script_budget(char *err, size_t errlen) {
  const char *v = getenv("TRAINBENCH_SCRIPT_INSTRUCTIONS");
  if (!v || !*v) return DEFAULT_BUDGET;
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || *end || n <= 0) {
    tb_errf(err, errlen, "TRAINBENCH_SCRIPT_INSTRUCTIONS='%s': expected a positive count of "
            "Lua instructions", v);
    return -1;
  }
  return n;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = tb_fopen_regular(path, "script", err, errlen);
  if (!f) return NULL;
  size_t cap = 1 << 14, n = 0;
  char *buf = malloc(cap + 1);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf) abort();
  if (bad) {
    tb_errf(err, errlen, "cannot read script '%s'", path);
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

int tb_script_load(const char *path, const tb_registry *reg, tb_sweep *out, char *err,
                   size_t errlen) {
  memset(out, 0, sizeof *out);
  budget bud = {0, script_budget(err, errlen)};
  if (bud.limit < 0) return -1;
  size_t len;
  char *text = read_file(path, &len, err, errlen);
  if (!text) return -1;
  tb_script_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.reg = reg;
  ctx.path = path;
  ctx.text = text;
  ctx.out = out;
  ctx.err = err;
  ctx.errlen = errlen;
  char *abs = realpath(path, NULL);
  if (abs) {
    char *slash = strrchr(abs, '/');
    if (slash) *slash = 0;
    snprintf(ctx.dir, sizeof ctx.dir, "%s", *abs ? abs : "/");
    free(abs);
  } else {
    snprintf(ctx.dir, sizeof ctx.dir, ".");
  }

  lua_State *L = luaL_newstate();
  if (!L) {
    free(text);
    tb_errf(err, errlen, "cannot create a Lua state (out of memory)");
    return -1;
  }
  *(budget **)lua_getextraspace(L) = &bud;
  lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STRIDE);
  lua_pushcfunction(L, prepare);
  lua_pushlightuserdata(L, &ctx);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    tb_script_fail(&ctx, "cannot start the trainbench module: %s", lua_tostring(L, -1));
    goto done;
  }

  /* the script, under a message handler, skipping a UTF-8 BOM and a #! line
   * as lua.c does (keeping the newline so line numbers stay right) */
  lua_pushlightuserdata(L, &ctx);
  lua_pushcclosure(L, msgh, 1);
  const char *code = text;
  size_t clen = len;
  if (clen >= 3 && memcmp(code, "\xEF\xBB\xBF", 3) == 0) code += 3, clen -= 3;
  if (clen && code[0] == '#') {
    const char *nl = memchr(code, '\n', clen);
    clen = nl ? clen - (size_t)(nl - code) : 0;
    code = nl ? nl : code;
  }
  lua_pushfstring(L, "@%s", path);
  if (luaL_loadbufferx(L, code, clen, lua_tostring(L, -1), "t") != LUA_OK) {
    tb_script_fail(&ctx, "%s", push_fixed(L, &ctx, lua_tostring(L, -1)));
    goto done;
  }
  lua_remove(L, -2);
  if (lua_pcall(L, 0, 0, -2) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    tb_script_fail(&ctx, "%s", msg ? msg : "error in the error handler");
    goto done;
  }
  lua_settop(L, 0);

  lua_pushcfunction(L, tb_script_convert);
  lua_pushlightuserdata(L, &ctx);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) tb_script_fail(&ctx, "%s: %s", path, lua_tostring(L, -1));

done:
  lua_close(L);
  free(ctx.slots);
  free(ctx.keys);
  free(ctx.paths);
  free(text);
  if (ctx.failed) {
    tb_sweep_free(out);
    return -1;
  }
  return 0;
}
