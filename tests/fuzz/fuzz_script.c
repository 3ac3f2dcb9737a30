/*
 * fuzz_script.c — libFuzzer target: scenario scripts (script.c,
 * script_runs.c, trainbench.lua, hparam.c's validator) on any text.
 *
 * Input: a script's text, written to s.lua in a private temporary folder
 * (beside copies of the tests' small.csv, bad_cell.csv and lua_helper.lua,
 * which the lua suite's scripts name) and loaded with tb_script_load against the built
 * plugins and the lua suite's test plugins (hptypes, hpnest: every type of
 * hyperparameter), as `trainbench run --dry-run` would.
 *
 * What must hold: a failure returns -1 with a message; a success returns at
 * least one run, each with its canonical JSON and hash. Every crash, leak
 * and undefined behaviour the sanitizers see aborts.
 *
 * A script is a program, so the harness bounds what one input may do to the
 * machine; none of this is trainbench's own behaviour (a time limit at
 * script load is a feature of its own, issue 10), it keeps the fuzzer on
 * the code under test:
 *   - the Lua state (the linker's --wrap of luaL_newstate) counts
 *     instructions and raises an error after MAX_INSTRUCTIONS, and its
 *     allocator refuses more than MAX_LUA_BYTES: a loop or a huge string
 *     ends as a script error. tb_script_load then puts trainbench's own
 *     instruction budget in place of that hook (script.c: a state has one
 *     hook); the harness sets that budget, TRAINBENCH_SCRIPT_INSTRUCTIONS,
 *     to MAX_INSTRUCTIONS, so the product's limit is the one fuzzed;
 *   - the standard libraries (--wrap of luaL_openlibs) lose what reaches
 *     outside the process or around those bounds: io, os, dofile and
 *     loadfile, binary chunks (malformed bytecode crashes any Lua VM),
 *     C modules, debug's setters and hooks; string patterns, whose
 *     backtracking runs in C where no instruction is counted, are refused
 *     on long subjects or with many quantifiers;
 *   - datasets (--wrap of tb_data_load, as script_runs.c calls it): a CSV
 *     must be a regular file of at most 1 MiB (a script naming /dev/zero
 *     would make the loader read forever: see the report in the fuzz
 *     commit), blobs at most 2^20 values.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "config.h"
#include "registry.h"
#include "script.h"
#include "train.h"
#include "util.h"

#define MAX_INSTRUCTIONS 20000000L
#define HOOK_EVERY 1000
#define MAX_LUA_BYTES ((size_t)64 << 20)
#define MAX_CSV_BYTES (1 << 20)
#define MAX_BLOB_VALUES (1 << 20)

static tb_registry *reg;
static int verbose; /* TB_FUZZ_VERBOSE=1: say what became of each input */
static char dir[PATH_MAX], script[PATH_MAX + 16];

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_script: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

/* ---- the bounded Lua state ------------------------------------------------- */

static size_t lua_bytes;
static long instructions;

static void *bounded_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    lua_bytes -= osize;
    return NULL;
  }
  if (nsize > osize && nsize - osize > MAX_LUA_BYTES - lua_bytes) return NULL;
  void *q = realloc(ptr, nsize);
  if (q) lua_bytes = lua_bytes - osize + nsize;
  return q;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  instructions += HOOK_EVERY;
  if (instructions > MAX_INSTRUCTIONS) luaL_error(L, "fuzz: instruction budget spent");
}

static int panic(lua_State *L) {
  fail("Lua panic", lua_tostring(L, -1));
  return 0;
}

static void no_warnings(void *ud, const char *msg, int tocont) { (void)ud, (void)msg, (void)tocont; }

lua_State *__real_luaL_newstate(void);
lua_State *__wrap_luaL_newstate(void) {
  lua_bytes = 0;
  instructions = 0;
  lua_State *L = lua_newstate(bounded_alloc, NULL);
  if (!L) return NULL;
  lua_atpanic(L, panic);
  lua_setwarnf(L, no_warnings, NULL);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
  return L;
}

/* Run after the real luaL_openlibs, before the trainbench module loads (so
 * that it captures the same functions a script sees). */
static const char sandbox_lua[] =
    "for k in pairs(io) do io[k] = nil end\n"
    "for k in pairs(os) do os[k] = nil end\n"
    "dofile, loadfile, string.dump = nil, nil, nil\n"
    "local load0 = load\n"
    "load = function(s, name, mode, env) return load0(s, name, 't', env) end\n"
    "for _, k in ipairs { 'sethook', 'gethook', 'setlocal', 'getlocal', 'setupvalue',\n"
    "    'getupvalue', 'upvaluejoin', 'upvalueid', 'setuservalue', 'getuservalue',\n"
    "    'setmetatable', 'getregistry', 'setcstacklimit', 'debug' } do debug[k] = nil end\n"
    "package.loadlib, package.cpath, package.path = nil, '', ''\n"
    "package.searchers[3], package.searchers[4] = nil, nil\n"
    "local type, error, sfind = type, error, string.find\n"
    "local function bounded(f)\n"
    "  return function(s, p, ...)\n"
    "    if type(s) == 'string' and #s > 256 then error('fuzz: pattern subject too long', 2) end\n"
    "    if type(p) == 'string' then\n"
    "      local q = 0\n"
    "      for i = 1, #p do local c = p:byte(i)\n"
    "        if c == 42 or c == 43 or c == 45 or c == 63 then q = q + 1 end end\n"
    "      if q > 2 then error('fuzz: too many quantifiers in a pattern', 2) end\n"
    "    end\n"
    "    return f(s, p, ...)\n"
    "  end\n"
    "end\n"
    "for _, k in ipairs { 'find', 'match', 'gmatch', 'gsub' } do string[k] = bounded(string[k]) end\n";

void __real_luaL_openlibs(lua_State *L);
void __wrap_luaL_openlibs(lua_State *L) {
  __real_luaL_openlibs(L);
  if (luaL_loadbufferx(L, sandbox_lua, sizeof sandbox_lua - 1, "=fuzz-sandbox", "t") ||
      lua_pcall(L, 0, 0, 0))
    fail("the sandbox does not load", lua_tostring(L, -1));
}

/* ---- bounded datasets -------------------------------------------------------- */

int __real_tb_data_load(tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen);
int __wrap_tb_data_load(tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen) {
  if (strcmp(spec->name, "csv") == 0) {
    struct stat st;
    if (stat(spec->path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > MAX_CSV_BYTES)) {
      memset(ds, 0, sizeof *ds);
      tb_errf(err, errlen, "fuzz: '%s' is not a regular file of at most %d bytes", spec->path,
              MAX_CSV_BYTES);
      return -1;
    }
  } else if (strcmp(spec->name, "blobs") == 0 &&
             (int64_t)spec->n * spec->dim > MAX_BLOB_VALUES) {
    memset(ds, 0, sizeof *ds);
    tb_errf(err, errlen, "fuzz: blobs of more than %d values", MAX_BLOB_VALUES);
    return -1;
  }
  return __real_tb_data_load(spec, ds, err, errlen);
}

/* ---- the target ------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  if (!in || !out) fail("cannot copy", from);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;) fwrite(buf, 1, n, out);
  fclose(in);
  if (fclose(out)) fail("cannot copy", from);
}

static void cleanup(void) {
  static const char *const files[] = {"s.lua", "small.csv", "bad_cell.csv", "lua_helper.lua"};
  char p[PATH_MAX + 32];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
  tb_registry_close(reg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/tb-fuzz-script-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
  snprintf(script, sizeof script, "%s/s.lua", dir);
  char to[PATH_MAX + 32];
  snprintf(to, sizeof to, "%s/small.csv", dir);
  copy_file(TB_FUZZ_LUA_TESTS "/small.csv", to);
  snprintf(to, sizeof to, "%s/bad_cell.csv", dir);
  copy_file(TB_FUZZ_LUA_TESTS "/bad_cell.csv", to);
  snprintf(to, sizeof to, "%s/lua_helper.lua", dir);
  copy_file(TB_FUZZ_LUA_TESTS "/lua_helper.lua", to);

  /* the built plugins, then the lua suite's test plugins (every type) */
  char err[TB_ERRLEN];
  setenv("TRAINBENCH_PLUGIN_PATH", "", 1);
  char budget[32];
  snprintf(budget, sizeof budget, "%ld", MAX_INSTRUCTIONS);
  setenv("TRAINBENCH_SCRIPT_INSTRUCTIONS", budget, 1);
  if (tb_registry_open(&reg, TB_FUZZ_PLUGINS, err, sizeof err) ||
      tb_registry_add_file(reg, TB_FUZZ_HPTYPES, err, sizeof err) ||
      tb_registry_add_file(reg, TB_FUZZ_HPNEST, err, sizeof err))
    fail("cannot open the plugins", err);
  if (tb_registry_count(reg) < 10) fail("too few plugins are built in " TB_FUZZ_PLUGINS, NULL);
  verbose = getenv("TB_FUZZ_VERBOSE") && atoi(getenv("TB_FUZZ_VERBOSE"));
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(script, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f)) fail("cannot write", script);
  tb_sweep sw;
  char err[TB_ERRLEN] = "";
  if (tb_script_load(script, reg, &sw, err, sizeof err)) {
    if (!err[0]) fail("tb_script_load failed without a message", NULL);
    if (verbose) fprintf(stderr, "refused: %s\n", err);
    return 0;
  }
  if (verbose) fprintf(stderr, "loaded: %d runs\n", sw.n_runs);
  if (sw.n_runs < 1 || sw.n_scenarios < 1) fail("a script loaded without runs", NULL);
  for (int i = 0; i < sw.n_runs; i++)
    if (!sw.runs[i].json || !sw.runs[i].hash[0]) fail("a run without its identity", NULL);
  tb_sweep_free(&sw);
  return 0;
}
