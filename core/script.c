/*
 * script.c — Lua 5.4 scenario scripts.
 *
 * A script is ordinary Lua with the `trainbench` module preloaded. The module
 * is the Lua chunk below: each constructor (tb.grid, tb.loss, tb.data.*, ...)
 * records the script line that called it, checks what it can at once and
 * keeps its resolved alternatives; tb.scenario takes their cartesian product
 * into a list of runs. The C side lends it the registry (component names,
 * hyperparameter tables, tb_hparams_check), then turns every run into a
 * tb_run_config, loads its dataset (each distinct dataset once: read, hashed,
 * parsed and validated here, in the parent, so that the workers inherit it
 * through fork), checks the model's sizes against the data, canonicalizes the
 * run and drops duplicates. So every error surfaces before tb_script_load
 * returns, with the file and line of the offending call.
 *
 * Provides: tb_script_load, tb_sweep_free.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "config.h"
#include "hash.h"
#include "registry.h"
#include "script.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "util.h"

/* Runs per script. A run config is a few kilobytes and the grids are held in
 * memory while they expand; sweeps beyond this belong in several scripts. */
#define MAX_RUNS 100000

/* The `trainbench` module. Validation errors are raised as tables
 * {__tb_error = "file:line: message"} so the message handler can tell them
 * from the script's own errors, which get a traceback. */
static const char module_lua[] =
    "-- The trainbench module. `host` holds the C helpers of script.c.\n"
    "local host = ...\n"
    "local type, pairs, ipairs, select, tonumber = type, pairs, ipairs, select, tonumber\n"
    "local setmetatable, getmetatable = setmetatable, getmetatable\n"
    "local error, tostring = error, tostring\n"
    "local tointeger, abs, huge = math.tointeger, math.abs, math.huge\n"
    "local mininteger, maxinteger = math.mininteger, math.maxinteger\n"
    "local getinfo, format, concat = debug.getinfo, string.format, table.concat\n"
    "local fmtnum, sortkeys, MAX_RUNS = host.fmt, host.sortkeys, host.max_runs\n"
    "\n"
    "local M = {}        -- what scripts see\n"
    "local function label(v) return v.label end\n"
    "-- metatable of what tb.* returns: grids and specs with their alternatives\n"
    "local OBJ = {__tostring = label}\n"
    "-- metatable of one resolved alternative (what C reads)\n"
    "local ALT = {__tostring = label}\n"
    "local VERR = {__tostring = function(e) return e.__tb_error end}\n"
    "local scenarios, declared, total = {}, {}, 0\n"
    "\n"
    "-- The script line that called into the module: the first frame that is\n"
    "-- neither C nor this chunk, so helpers and metamethods in between do not count.\n"
    "local function where()\n"
    "  for level = 2, 200 do\n"
    "    local ar = getinfo(level, 'Sl')\n"
    "    if not ar then break end\n"
    "    if ar.what ~= 'C' and ar.source ~= '=trainbench' and ar.currentline > 0 then\n"
    "      local src = ar.source:sub(1, 1) == '@' and ar.source:sub(2) or ar.short_src\n"
    "      return src .. ':' .. ar.currentline\n"
    "    end\n"
    "  end\n"
    "  return '?'\n"
    "end\n"
    "\n"
    "-- Validation errors are tables so the message handler passes them on\n"
    "-- without a traceback of this module's internals.\n"
    "local function fail(at, msg)\n"
    "  error(setmetatable({__tb_error = at .. ': ' .. msg}, VERR), 0)\n"
    "end\n"
    "\n"
    "local function is_obj(v) return type(v) == 'table' and getmetatable(v) == OBJ end\n"
    "local function is_grid(v) return is_obj(v) and v.kind == 'grid' end\n"
    "local function is_plain(v) return type(v) == 'table' and getmetatable(v) == nil end\n"
    "\n"
    "local function show(v)\n"
    "  local t = type(v)\n"
    "  if t == 'number' then return fmtnum(v) end\n"
    "  if t == 'string' then return \"'\" .. v .. \"'\" end\n"
    "  if t == 'boolean' or t == 'nil' then return tostring(v) end\n"
    "  local mt = t == 'table' and getmetatable(v)\n"
    "  if mt == OBJ or mt == ALT then return v.label end\n"
    "  if t == 'table' then return 'a table (use tb.grid{...} for alternatives)' end\n"
    "  return 'a ' .. t\n"
    "end\n"
    "\n"
    "-- Sorted with host.sortkeys (byte order): Lua's own `<` follows the locale.\n"
    "local function list(set)\n"
    "  return concat(sortkeys(set), ', ')\n"
    "end\n"
    "\n"
    "local function list_values(array)\n"
    "  local set = {}\n"
    "  for _, v in ipairs(array) do set[v] = true end\n"
    "  return list(set)\n"
    "end\n"
    "\n"
    "local function show_key(k)\n"
    "  return type(k) == 'string' and \"'\" .. k .. \"'\" or 'a ' .. type(k) .. ' key'\n"
    "end\n"
    "\n"
    "local function int_of(v)\n"
    "  return type(v) == 'number' and tointeger(v) or nil\n"
    "end\n"
    "\n"
    "local function sorted_keys(t, at)\n"
    "  local keys, msg = sortkeys(t)\n"
    "  if not keys then fail(at, msg) end\n"
    "  return keys\n"
    "end\n"
    "\n"
    "-- ---- axes -------------------------------------------------------------------\n"
    "\n"
    "local function new_grid(options, at, label)\n"
    "  return setmetatable({kind = 'grid', options = options, where = at, label = label}, OBJ)\n"
    "end\n"
    "\n"
    "-- How many alternatives v stands for (checked before expanding anything).\n"
    "local function count(v, at, depth)\n"
    "  if type(v) ~= 'table' then return 1 end\n"
    "  if depth > 64 then fail(at, 'value nested too deeply (does a table contain itself?)') end\n"
    "  local mt = getmetatable(v)\n"
    "  if mt == ALT then return 1 end\n"
    "  if mt == OBJ then\n"
    "    if v.kind ~= 'grid' then return #v.alts end\n"
    "    local n = 0\n"
    "    for _, o in ipairs(v.options) do n = n + count(o, at, depth + 1) end\n"
    "    return n\n"
    "  end\n"
    "  local n = 1\n"
    "  for _, x in pairs(v) do n = n * count(x, at, depth + 1) end\n"
    "  return n\n"
    "end\n"
    "\n"
    "local function limit(n, at, what)\n"
    "  if n > MAX_RUNS then\n"
    "    fail(at, format('%s expands to %s alternatives, more than the limit of %d', what,\n"
    "                    fmtnum(n), MAX_RUNS))\n"
    "  end\n"
    "end\n"
    "\n"
    "-- The alternatives of v, in order: a grid gives the concatenation of its\n"
    "-- options' alternatives, a spec its own, a plain table the cartesian product\n"
    "-- of its fields (sorted keys, the first varying slowest), a scalar itself.\n"
    "local function expand(v, at, depth)\n"
    "  if type(v) ~= 'table' then return {v} end\n"
    "  local mt = getmetatable(v)\n"
    "  if mt == ALT then return {v} end\n"
    "  if mt == OBJ then\n"
    "    if v.kind ~= 'grid' then return v.alts end\n"
    "    local out = {}\n"
    "    for _, o in ipairs(v.options) do\n"
    "      for _, x in ipairs(expand(o, at, depth + 1)) do out[#out + 1] = x end\n"
    "    end\n"
    "    return out\n"
    "  end\n"
    "  if depth > 64 then fail(at, 'value nested too deeply (does a table contain itself?)') end\n"
    "  local result = {{}}\n"
    "  for _, k in ipairs(sorted_keys(v, at)) do\n"
    "    local alts, grown = expand(v[k], at, depth + 1), {}\n"
    "    for _, partial in ipairs(result) do\n"
    "      for _, a in ipairs(alts) do\n"
    "        local t = {}\n"
    "        for pk, pv in pairs(partial) do t[pk] = pv end\n"
    "        t[k] = a\n"
    "        grown[#grown + 1] = t\n"
    "      end\n"
    "    end\n"
    "    result = grown\n"
    "  end\n"
    "  return result\n"
    "end\n"
    "\n"
    "-- The leaves of nested grids, each with the line of the grid that holds it.\n"
    "local function leaves(v, at, out)\n"
    "  if is_grid(v) then\n"
    "    for _, o in ipairs(v.options) do leaves(o, v.where, out) end\n"
    "  else\n"
    "    out[#out + 1] = {v, at}\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local function check_list(t, at, fname)\n"
    "  local n = 0\n"
    "  for k in pairs(t) do\n"
    "    if not int_of(k) or k < 1 then\n"
    "      fail(at, fname .. ': expected a list of alternatives, got a table with key ' .. show(k))\n"
    "    end\n"
    "    n = n + 1\n"
    "  end\n"
    "  if n == 0 then fail(at, fname .. ': empty list of alternatives') end\n"
    "  if #t ~= n then fail(at, fname .. ': the list of alternatives has holes') end\n"
    "  return n\n"
    "end\n"
    "\n"
    "function M.grid(t)\n"
    "  local at = where()\n"
    "  if is_grid(t) then return t end\n"
    "  if not is_plain(t) then\n"
    "    fail(at, 'tb.grid: expected a list of alternatives, got ' .. show(t))\n"
    "  end\n"
    "  local n = check_list(t, at, 'tb.grid')\n"
    "  local options = {}\n"
    "  for i = 1, n do options[i] = t[i] end\n"
    "  return new_grid(options, at, 'tb.grid{...}')\n"
    "end\n"
    "\n"
    "local function check_real(at, fname, key, v)\n"
    "  if type(v) ~= 'number' or v ~= v or abs(v) == huge then\n"
    "    fail(at, format(\"%s: '%s' must be a finite number, got %s\", fname, key, show(v)))\n"
    "  end\n"
    "end\n"
    "\n"
    "local function check_count(at, fname, n)\n"
    "  local i = int_of(n)\n"
    "  if not i or i < 1 or i > MAX_RUNS then\n"
    "    fail(at, format(\"%s: 'n' must be an integer in [1, %d], got %s\", fname, MAX_RUNS, show(n)))\n"
    "  end\n"
    "  return i\n"
    "end\n"
    "\n"
    "-- Points i = 0 .. n-1 as ((n-1-i) a + i b) / (n-1): exact at both ends, and\n"
    "-- i/(n-1) is correctly rounded when a = 0, b = 1.\n"
    "local function linspace(a, b, n)\n"
    "  local v = {}\n"
    "  for i = 0, n - 1 do\n"
    "    v[i + 1] = n == 1 and a + 0.0 or ((n - 1 - i) * a + i * b) / (n - 1)\n"
    "  end\n"
    "  return v\n"
    "end\n"
    "\n"
    "function M.linspace(a, b, n)\n"
    "  local at = where()\n"
    "  check_real(at, 'tb.linspace', 'a', a)\n"
    "  check_real(at, 'tb.linspace', 'b', b)\n"
    "  return new_grid(linspace(a, b, check_count(at, 'tb.linspace', n)), at, 'tb.linspace(...)')\n"
    "end\n"
    "\n"
    "function M.logspace(a, b, n)\n"
    "  local at = where()\n"
    "  check_real(at, 'tb.logspace', 'a', a)\n"
    "  check_real(at, 'tb.logspace', 'b', b)\n"
    "  local v = linspace(a, b, check_count(at, 'tb.logspace', n))\n"
    "  for i, e in ipairs(v) do\n"
    "    -- integral exponents read back exactly as written (1e-2 == 0.01)\n"
    "    local k = tointeger(e)\n"
    "    v[i] = k and tonumber('1e' .. k) or 10.0 ^ e\n"
    "  end\n"
    "  return new_grid(v, at, 'tb.logspace(...)')\n"
    "end\n"
    "\n"
    "function M.range(a, b, step)\n"
    "  local at = where()\n"
    "  local function int(key, x)\n"
    "    local i = int_of(x)\n"
    "    if not i then\n"
    "      fail(at, format(\"tb.range: '%s' must be an integer, got %s\", key, show(x)))\n"
    "    end\n"
    "    return i\n"
    "  end\n"
    "  a, b = int('a', a), int('b', b)\n"
    "  step = step == nil and 1 or int('step', step)\n"
    "  if step == 0 then fail(at, \"tb.range: 'step' must not be 0\") end\n"
    "  if (step > 0 and a > b) or (step < 0 and a < b) then\n"
    "    fail(at, format('tb.range: empty range from %d to %d with step %d', a, b, step))\n"
    "  end\n"
    "  -- counted in floating point first: b - a may not fit an integer\n"
    "  if (b + 0.0 - a) / step >= MAX_RUNS then\n"
    "    fail(at, format('tb.range: more than %d values', MAX_RUNS))\n"
    "  end\n"
    "  local n = (b - a) // step + 1\n"
    "  local v = {}\n"
    "  for i = 0, n - 1 do v[i + 1] = a + i * step end\n"
    "  return new_grid(v, at, 'tb.range(...)')\n"
    "end\n"
    "\n"
    "-- ---- losses and optimizers ----------------------------------------------------\n"
    "\n"
    "local infos = {loss = {}, optimizer = {}}\n"
    "\n"
    "local function lookup(kind, name, at)\n"
    "  local info = infos[kind][name]\n"
    "  if info then return info end\n"
    "  info = host.hparams(kind, name)\n"
    "  if not info then\n"
    "    local names = host.names(kind)\n"
    "    fail(at, format(\"unknown %s %s (valid: %s)\", kind, show(name),\n"
    "                    #names > 0 and concat(names, ', ') or 'none loaded'))\n"
    "  end\n"
    "  info.by_name, info.label = {}, format(\"%s '%s'\", kind, name)\n"
    "  for i, h in ipairs(info) do\n"
    "    h.index = i\n"
    "    info.by_name[h.name] = h\n"
    "    if h.type == 'choice' then\n"
    "      h.option = {}\n"
    "      for j, c in ipairs(h.choices) do h.option[c] = j - 1 end\n"
    "      h.valid = list_values(h.choices)\n"
    "    end\n"
    "  end\n"
    "  info.valid = #info > 0 and list(info.by_name) or 'none'\n"
    "  infos[kind][name] = info\n"
    "  return info\n"
    "end\n"
    "\n"
    "local function check_hp_names(info, hp, at)\n"
    "  for _, k in ipairs(sorted_keys(hp, at)) do\n"
    "    if type(k) ~= 'string' then\n"
    "      fail(at, format('%s: hyperparameters are given by name, got %s', info.label, show_key(k)))\n"
    "    end\n"
    "    if not info.by_name[k] then\n"
    "      fail(at, format(\"%s: unknown hyperparameter '%s' (valid: %s)\", info.label, k, info.valid))\n"
    "    end\n"
    "  end\n"
    "end\n"
    "\n"
    "-- One concrete setting of a component: values in table order (bools 0/1,\n"
    "-- choices as the option's index), checked against ranges and the validate hook.\n"
    "local function component_alt(kind, name, info, hp, at)\n"
    "  if not is_plain(hp) then\n"
    "    fail(at, format('%s: hyperparameters must be a table, got %s', info.label, show(hp)))\n"
    "  end\n"
    "  check_hp_names(info, hp, at)\n"
    "  local values = {}\n"
    "  for i, h in ipairs(info) do values[i] = h.def end\n"
    "  for _, k in ipairs(sorted_keys(hp, at)) do\n"
    "    local h, v = info.by_name[k], hp[k]\n"
    "    local bad\n"
    "    if h.type == 'real' or h.type == 'int' then\n"
    "      bad = type(v) ~= 'number' and 'must be a number'\n"
    "      values[h.index] = v\n"
    "    elseif h.type == 'bool' then\n"
    "      bad = type(v) ~= 'boolean' and 'must be a boolean'\n"
    "      values[h.index] = v and 1 or 0\n"
    "    else\n"
    "      local idx = type(v) == 'string' and h.option[v]\n"
    "      bad = idx == nil and format('must be one of: %s', h.valid)\n"
    "      values[h.index] = idx\n"
    "    end\n"
    "    if bad then fail(at, format(\"%s: '%s' %s, got %s\", info.label, k, bad, show(v))) end\n"
    "  end\n"
    "  local msg = host.check(kind, name, values)\n"
    "  if msg then fail(at, msg) end\n"
    "  return setmetatable({kind = kind, name = name, hp = values, where = at, label = info.label},\n"
    "                      ALT)\n"
    "end\n"
    "\n"
    "local function component(kind, name, hp)\n"
    "  local at = where()\n"
    "  local fname = 'tb.' .. kind\n"
    "  if type(name) ~= 'string' then\n"
    "    fail(at, format('%s: bad argument #1 (%s name expected, got %s)', fname, kind, show(name)))\n"
    "  end\n"
    "  local info = lookup(kind, name, at)\n"
    "  if hp == nil then hp = {} end\n"
    "  if not is_plain(hp) and not is_grid(hp) then\n"
    "    fail(at, format('%s: bad argument #2 (table of hyperparameters expected, got %s)', fname,\n"
    "                    show(hp)))\n"
    "  end\n"
    "  if is_plain(hp) then check_hp_names(info, hp, at) end\n"
    "  limit(count(hp, at, 0), at, info.label)\n"
    "  local alts = {}\n"
    "  for _, a in ipairs(expand(hp, at, 0)) do\n"
    "    alts[#alts + 1] = component_alt(kind, name, info, a, at)\n"
    "  end\n"
    "  return setmetatable({kind = kind, alts = alts, where = at, label = info.label}, OBJ)\n"
    "end\n"
    "\n"
    "function M.loss(name, hp) return component('loss', name, hp) end\n"
    "function M.optimizer(name, hp) return component('optimizer', name, hp) end\n"
    "\n"
    "-- ---- datasets, models, schedules ------------------------------------------------\n"
    "\n"
    "local function keyset(...)\n"
    "  local s = {}\n"
    "  for i = 1, select('#', ...) do s[select(i, ...)] = true end\n"
    "  return s\n"
    "end\n"
    "\n"
    "local function want_bool(a, key, def, bad)\n"
    "  local v = a[key]\n"
    "  if v == nil then return def end\n"
    "  if type(v) ~= 'boolean' then bad(format(\"'%s' must be a boolean, got %s\", key, show(v))) end\n"
    "  return v\n"
    "end\n"
    "\n"
    "local function want_int(a, key, def, lo, hi, what, bad)\n"
    "  local v = a[key]\n"
    "  if v == nil then return def end\n"
    "  local i = int_of(v)\n"
    "  if not i or i < lo or i > hi then bad(format(\"'%s' must be %s, got %s\", key, what, show(v))) end\n"
    "  return i\n"
    "end\n"
    "\n"
    "-- A finite number with lo <= v (lo_open: lo < v) and v <= hi.\n"
    "local function want_real(a, key, def, lo, lo_open, hi, what, bad)\n"
    "  local v = a[key]\n"
    "  if v == nil then return def end\n"
    "  if type(v) ~= 'number' or v ~= v or abs(v) == huge or v < lo or (lo_open and v == lo)\n"
    "     or v > hi then\n"
    "    bad(format(\"'%s' must be %s, got %s\", key, what, show(v)))\n"
    "  end\n"
    "  return v + 0.0\n"
    "end\n"
    "\n"
    "local function want_name(a, key, def, names, bad)\n"
    "  local v = a[key]\n"
    "  if v == nil then return def end\n"
    "  for _, n in ipairs(names) do if v == n then return v end end\n"
    "  bad(format(\"'%s' must be one of: %s, got %s\", key, list_values(names), show(v)))\n"
    "end\n"
    "\n"
    "local INT_MAX = 2147483647\n"
    "local SPLIT_KEYS = keyset('train', 'val', 'test')\n"
    "\n"
    "local function want_split(a, bad)\n"
    "  local s = a.split\n"
    "  if s == nil then return {0.6, 0.2, 0.2} end\n"
    "  if not is_plain(s) then\n"
    "    bad(\"'split' must be a table {train = ..., val = ..., test = ...}, got \" .. show(s))\n"
    "  end\n"
    "  local keys, msg = sortkeys(s)\n"
    "  if not keys then bad(\"'split': \" .. msg) end\n"
    "  for _, k in ipairs(keys) do\n"
    "    if not SPLIT_KEYS[k] then\n"
    "      bad(format(\"'split': unknown key %s (valid: test, train, val)\",\n"
    "                 show_key(k)))\n"
    "    end\n"
    "  end\n"
    "  local f = {}\n"
    "  for i, k in ipairs({'train', 'val', 'test'}) do\n"
    "    f[i] = want_real(s, k, 0.0, 0, false, 1, 'a fraction in [0, 1]', function(m)\n"
    "      bad(\"'split.\" .. m:sub(2))\n"
    "    end)\n"
    "  end\n"
    "  if f[1] == 0 then bad(\"'split.train' must be > 0\") end\n"
    "  local sum = f[1] + f[2] + f[3]\n"
    "  if abs(sum - 1) > 1e-9 then\n"
    "    bad(format(\"'split' fractions must sum to 1, got %s (train %s + val %s + test %s)\",\n"
    "               fmtnum(sum), fmtnum(f[1]), fmtnum(f[2]), fmtnum(f[3])))\n"
    "  end\n"
    "  return f\n"
    "end\n"
    "\n"
    "local function data_common(r, a, bad)\n"
    "  r.split = want_split(a, bad)\n"
    "  r.standardize = want_bool(a, 'standardize', true, bad)\n"
    "  r.split_seed = want_int(a, 'split_seed', nil, mininteger, maxinteger, 'an integer', bad)\n"
    "  return r\n"
    "end\n"
    "\n"
    "local builtin = {\n"
    "  keys = keyset('split', 'split_seed', 'standardize'),\n"
    "  normalize = function(name, a, bad)\n"
    "    return data_common({name = name, label_col = -1, header = false}, a, bad)\n"
    "  end,\n"
    "}\n"
    "\n"
    "local datasets = {\n"
    "  digits = builtin, breast_cancer = builtin, iris = builtin, wine = builtin,\n"
    "  csv = {\n"
    "    keys = keyset('header', 'label', 'path', 'split', 'split_seed', 'standardize'),\n"
    "    required = {'path'},\n"
    "    normalize = function(name, a, bad)\n"
    "      local p = a.path\n"
    "      if type(p) ~= 'string' or p == '' then\n"
    "        bad(\"'path' must be a file name, got \" .. show(p))\n"
    "      end\n"
    "      local full = p:sub(1, 1) == '/' and p or host.script_dir .. '/' .. p\n"
    "      local resolved, why = host.realpath(full)\n"
    "      if not resolved then bad(format(\"'path' = %s: cannot open %s: %s\", show(p), full, why)) end\n"
    "      local label = want_int(a, 'label', nil, 1, INT_MAX, 'a column number >= 1', bad)\n"
    "      return data_common({name = name, path = resolved, label_col = label and label - 1 or -1,\n"
    "                          header = want_bool(a, 'header', true, bad)}, a, bad)\n"
    "    end,\n"
    "  },\n"
    "  blobs = {\n"
    "    keys = keyset('classes', 'dim', 'n', 'separation', 'split', 'split_seed', 'standardize'),\n"
    "    normalize = function(name, a, bad)\n"
    "      local r = {name = name, label_col = -1, header = false,\n"
    "                 n = want_int(a, 'n', 600, 1, INT_MAX, 'an integer >= 1', bad),\n"
    "                 classes = want_int(a, 'classes', 3, 2, INT_MAX, 'an integer >= 2', bad),\n"
    "                 dim = want_int(a, 'dim', 2, 1, INT_MAX, 'an integer >= 1', bad),\n"
    "                 separation = want_real(a, 'separation', 3.0, 0, false, huge,\n"
    "                                        'a finite number >= 0', bad)}\n"
    "      if r.n < r.classes then\n"
    "        bad(format(\"'n' = %d must be at least 'classes' = %d\", r.n, r.classes))\n"
    "      end\n"
    "      if r.n * r.dim > host.max_data_values then\n"
    "        bad(format(\"'n' x 'dim' = %d x %d = %d values, more than the limit of %d\", r.n, r.dim,\n"
    "                   r.n * r.dim, host.max_data_values))\n"
    "      end\n"
    "      return data_common(r, a, bad)\n"
    "    end,\n"
    "  },\n"
    "}\n"
    "\n"
    "local models = {\n"
    "  linear = {\n"
    "    keys = keyset('init'),\n"
    "    normalize = function(name, a, bad)\n"
    "      return {name = name, hidden = {}, activation = 'relu',\n"
    "              init = want_name(a, 'init', 'default', host.inits, bad)}\n"
    "    end,\n"
    "  },\n"
    "  mlp = {\n"
    "    keys = keyset('activation', 'hidden', 'init'),\n"
    "    required = {'hidden'},\n"
    "    normalize = function(name, a, bad)\n"
    "      local h, max = a.hidden, host.max_hidden\n"
    "      local what = format(\"'hidden' must be a list of 1 to %d positive integers\", max)\n"
    "      if not is_plain(h) then bad(what .. ', got ' .. show(h)) end\n"
    "      local n = 0\n"
    "      for k in pairs(h) do\n"
    "        if not int_of(k) or k < 1 then\n"
    "          bad(format('%s, got a table with key %s', what, show(k)))\n"
    "        end\n"
    "        n = n + 1\n"
    "      end\n"
    "      if n == 0 or #h ~= n or n > max then\n"
    "        bad(format('%s, got %d %s', what, n, #h ~= n and 'values with holes' or 'widths'))\n"
    "      end\n"
    "      local hidden = {}\n"
    "      for i = 1, n do\n"
    "        hidden[i] = int_of(h[i])\n"
    "        if not hidden[i] or hidden[i] < 1 then\n"
    "          bad(format('%s, got %s at position %d', what, show(h[i]), i))\n"
    "        end\n"
    "        if hidden[i] > host.max_width then\n"
    "          bad(format(\"'hidden' = %s at position %d is more than the limit of %d units per layer\",\n"
    "                     show(h[i]), i, host.max_width))\n"
    "        end\n"
    "      end\n"
    "      return {name = name, hidden = hidden,\n"
    "              activation = want_name(a, 'activation', 'relu', host.activations, bad),\n"
    "              init = want_name(a, 'init', 'default', host.inits, bad)}\n"
    "    end,\n"
    "  },\n"
    "}\n"
    "\n"
    "local WARMUP = 'a number of epochs >= 0'\n"
    "local schedules = {\n"
    "  constant = {\n"
    "    keys = keyset('warmup'),\n"
    "    normalize = function(name, a, bad)\n"
    "      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad)}\n"
    "    end,\n"
    "  },\n"
    "  step = {\n"
    "    keys = keyset('every', 'gamma', 'warmup'),\n"
    "    required = {'every'},\n"
    "    normalize = function(name, a, bad)\n"
    "      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad),\n"
    "              every = want_real(a, 'every', nil, 0, true, huge, 'a number of epochs > 0', bad),\n"
    "              gamma = want_real(a, 'gamma', 0.1, 0, true, huge, 'a number > 0', bad)}\n"
    "    end,\n"
    "  },\n"
    "  cosine = {\n"
    "    keys = keyset('min_factor', 'warmup'),\n"
    "    normalize = function(name, a, bad)\n"
    "      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad),\n"
    "              min_factor = want_real(a, 'min_factor', 0.0, 0, false, 1, 'a number in [0, 1]',\n"
    "                                     bad)}\n"
    "    end,\n"
    "  },\n"
    "}\n"
    "\n"
    "local function check_keys(a, spec, label, at)\n"
    "  for _, k in ipairs(sorted_keys(a, at)) do\n"
    "    if not spec.keys[k] then\n"
    "      fail(at, format('%s: unknown key %s (valid: %s)', label, show_key(k),\n"
    "                      list(spec.keys)))\n"
    "    end\n"
    "  end\n"
    "  for _, k in ipairs(spec.required or {}) do\n"
    "    if a[k] == nil then fail(at, format(\"%s: missing key '%s'\", label, k)) end\n"
    "  end\n"
    "end\n"
    "\n"
    "local function resolve(kind, label, name, spec, a, at)\n"
    "  check_keys(a, spec, label, at)\n"
    "  local r = spec.normalize(name, a, function(msg) fail(at, label .. ': ' .. msg) end)\n"
    "  r.kind, r.where, r.label = kind, at, label\n"
    "  return setmetatable(r, ALT)\n"
    "end\n"
    "\n"
    "local function spec(kind, prefix, name, s, args)\n"
    "  local at = where()\n"
    "  local label = prefix .. name\n"
    "  if args == nil then args = {} end\n"
    "  if not is_plain(args) and not is_grid(args) then\n"
    "    fail(at, format('%s: expected a table of options, got %s', label, show(args)))\n"
    "  end\n"
    "  if is_plain(args) then check_keys(args, s, label, at) end\n"
    "  limit(count(args, at, 0), at, label)\n"
    "  local alts = {}\n"
    "  for _, a in ipairs(expand(args, at, 0)) do\n"
    "    if not is_plain(a) then\n"
    "      fail(at, format('%s: expected a table of options, got %s', label, show(a)))\n"
    "    end\n"
    "    alts[#alts + 1] = resolve(kind, label, name, s, a, at)\n"
    "  end\n"
    "  return setmetatable({kind = kind, alts = alts, where = at, label = label}, OBJ)\n"
    "end\n"
    "\n"
    "-- tb.data.NAME, tb.model.NAME, tb.schedule.NAME; other names fail at the line.\n"
    "local function family(kind, prefix, what, specs)\n"
    "  local t = {}\n"
    "  for name, s in pairs(specs) do\n"
    "    t[name] = function(args) return spec(kind, prefix, name, s, args) end\n"
    "  end\n"
    "  return setmetatable(t, {__index = function(_, k)\n"
    "    fail(where(), format('unknown %s %s (valid: %s)', what, show_key(k),\n"
    "                         list(specs)))\n"
    "  end})\n"
    "end\n"
    "\n"
    "M.data = family('data', 'tb.data.', 'dataset', datasets)\n"
    "M.model = family('model', 'tb.model.', 'model', models)\n"
    "M.schedule = family('schedule', 'tb.schedule.', 'schedule', schedules)\n"
    "\n"
    "-- ---- scenarios ------------------------------------------------------------------\n"
    "\n"
    "local SCENARIO_KEYS = keyset('batch_size', 'data', 'epochs', 'loss', 'model', 'name',\n"
    "                             'optimizer', 'schedule', 'seeds', 'timeout')\n"
    "\n"
    "local function component_axis(kind, v, at, label, out)\n"
    "  if is_grid(v) then\n"
    "    for _, o in ipairs(v.options) do component_axis(kind, o, v.where, label, out) end\n"
    "  elseif type(v) == 'string' then\n"
    "    local info = lookup(kind, v, at)\n"
    "    info.plain = info.plain or component_alt(kind, v, info, {}, at)\n"
    "    out[#out + 1] = info.plain\n"
    "  elseif is_obj(v) and v.kind == kind then\n"
    "    for _, a in ipairs(v.alts) do out[#out + 1] = a end\n"
    "  else\n"
    "    fail(at, format(\"%s: '%s' must be %s %s name or tb.%s(...), got %s\", label, kind,\n"
    "                    kind == 'optimizer' and 'an' or 'a', kind, kind, show(v)))\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local function spec_axis(kind, key, what, v, at, label, out)\n"
    "  if is_grid(v) then\n"
    "    for _, o in ipairs(v.options) do spec_axis(kind, key, what, o, v.where, label, out) end\n"
    "  elseif is_obj(v) and v.kind == kind then\n"
    "    for _, a in ipairs(v.alts) do out[#out + 1] = a end\n"
    "  else\n"
    "    fail(at, format(\"%s: '%s' must be %s, got %s\", label, key, what, show(v)))\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local function int_axis(key, v, lo, what, at, label)\n"
    "  local out = {}\n"
    "  for _, leaf in ipairs(leaves(v, at, {})) do\n"
    "    local x = leaf[1]\n"
    "    local i = int_of(x)\n"
    "    if not i or i < lo or i > INT_MAX then\n"
    "      fail(leaf[2], format(\"%s: '%s' must be %s, got %s\", label, key, what, show(x)))\n"
    "    end\n"
    "    out[#out + 1] = i\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local function seeds_axis(v, at, label)\n"
    "  if v == nil then return {1} end\n"
    "  local what = \"'seeds' must be a list of integers or tb.range(a, b)\"\n"
    "  local ls = {}\n"
    "  if is_grid(v) then\n"
    "    leaves(v, at, ls)\n"
    "  elseif is_plain(v) then\n"
    "    local n = 0\n"
    "    for k in pairs(v) do\n"
    "      if not int_of(k) or k < 1 then fail(at, format('%s: %s', label, what)) end\n"
    "      n = n + 1\n"
    "    end\n"
    "    if n == 0 or #v ~= n then fail(at, format('%s: %s', label, what)) end\n"
    "    for i = 1, n do leaves(v[i], at, ls) end\n"
    "  else\n"
    "    local hint = type(v) == 'number' and format(' (for one seed write {%s})', fmtnum(v)) or ''\n"
    "    fail(at, format('%s: %s, got %s%s', label, what, show(v), hint))\n"
    "  end\n"
    "  local out = {}\n"
    "  for _, leaf in ipairs(ls) do\n"
    "    local i = int_of(leaf[1])\n"
    "    if not i then\n"
    "      fail(leaf[2], format(\"%s: 'seeds' must hold integers, got %s\", label, show(leaf[1])))\n"
    "    end\n"
    "    out[#out + 1] = i\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local default_model = setmetatable({kind = 'model', label = 'tb.model.linear',\n"
    "  alts = {resolve('model', 'tb.model.linear', 'linear', models.linear, {}, '?')}}, OBJ)\n"
    "local default_schedule = setmetatable({kind = 'schedule', label = 'tb.schedule.constant',\n"
    "  alts = {resolve('schedule', 'tb.schedule.constant', 'constant', schedules.constant, {}, '?')}},\n"
    "  OBJ)\n"
    "\n"
    "function M.scenario(s)\n"
    "  local at = where()\n"
    "  if not is_plain(s) then fail(at, 'tb.scenario: expected a table, got ' .. show(s)) end\n"
    "  local name = s.name\n"
    "  if name == nil then fail(at, \"tb.scenario: missing key 'name'\") end\n"
    "  if type(name) ~= 'string' or name == '' or #name > 127 or name:find('%c') then\n"
    "    fail(at, \"tb.scenario: 'name' must be a string of 1 to 127 characters, got \" .. show(name))\n"
    "  end\n"
    "  local label = format(\"scenario '%s'\", name)\n"
    "  check_keys(s, {keys = SCENARIO_KEYS, required = {'data', 'epochs', 'loss', 'optimizer'}},\n"
    "             label, at)\n"
    "  if declared[name] then\n"
    "    fail(at, format('%s is declared twice (first at %s)', label, declared[name]))\n"
    "  end\n"
    "  local timeout = s.timeout\n"
    "  if timeout ~= nil and (type(timeout) ~= 'number' or timeout ~= timeout or timeout <= 0\n"
    "                         or timeout == huge) then\n"
    "    fail(at, format(\"%s: 'timeout' must be a number of seconds > 0, got %s\", label,\n"
    "                    is_grid(timeout) and 'a grid (it is not part of a run configuration)'\n"
    "                    or show(timeout)))\n"
    "  end\n"
    "  -- the axes in sorted key order; the first varies slowest\n"
    "  local keys = {'batch_size', 'data', 'epochs', 'loss', 'model', 'optimizer', 'schedule', 'seed'}\n"
    "  local axes = {\n"
    "    int_axis('batch_size', s.batch_size == nil and 32 or s.batch_size, 0,\n"
    "             'an integer >= 0 (0 = full batch)', at, label),\n"
    "    spec_axis('data', 'data', 'a dataset from tb.data.*', s.data, at, label, {}),\n"
    "    int_axis('epochs', s.epochs, 1, 'an integer >= 1', at, label),\n"
    "    component_axis('loss', s.loss, at, label, {}),\n"
    "    spec_axis('model', 'model', 'a model from tb.model.*', s.model or default_model, at, label, {}),\n"
    "    component_axis('optimizer', s.optimizer, at, label, {}),\n"
    "    spec_axis('schedule', 'schedule', 'a schedule from tb.schedule.*',\n"
    "              s.schedule or default_schedule, at, label, {}),\n"
    "    seeds_axis(s.seeds, at, label),\n"
    "  }\n"
    "  local n = 1\n"
    "  for _, ax in ipairs(axes) do n = n * #ax end\n"
    "  if total + n > MAX_RUNS then\n"
    "    fail(at, format('%s: the script expands to more than %d runs', label, MAX_RUNS))\n"
    "  end\n"
    "  total = total + n\n"
    "  local runs, idx = {}, {}\n"
    "  for i = 1, #axes do idx[i] = 1 end\n"
    "  local i\n"
    "  repeat\n"
    "    local r = {timeout = timeout or 0}\n"
    "    for j, k in ipairs(keys) do r[k] = axes[j][idx[j]] end\n"
    "    runs[#runs + 1] = r\n"
    "    i = #axes\n"
    "    while i >= 1 do\n"
    "      idx[i] = idx[i] + 1\n"
    "      if idx[i] <= #axes[i] then break end\n"
    "      idx[i] = 1\n"
    "      i = i - 1\n"
    "    end\n"
    "  until i == 0\n"
    "  declared[name] = at\n"
    "  scenarios[#scenarios + 1] = {name = name, where = at, runs = runs}\n"
    "end\n"
    "\n"
    "return M, scenarios\n";

/* Everything one load needs; the Lua helpers reach it as an upvalue. */
typedef struct script_ctx {
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
} script_ctx;

static script_ctx *ctx_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static int kind_of(lua_State *L, int arg) {
  const char *k = luaL_checkstring(L, arg);
  return strcmp(k, "loss") == 0 ? TB_KIND_LOSS : TB_KIND_OPTIMIZER;
}

/* ---- helpers lent to the module ------------------------------------------- */

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* host.names(kind): loaded component names of that kind, sorted */
static int h_names(lua_State *L) {
  const tb_registry *reg = ctx_of(L)->reg;
  int kind = kind_of(L, 1), n = tb_registry_count(reg), m = 0;
  const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
  for (int i = 0; i < n; i++)
    if (tb_registry_at(reg, i)->kind == kind) names[m++] = tb_registry_at(reg, i)->name;
  qsort(names, (size_t)m, sizeof *names, cmp_cstr);
  lua_createtable(L, m, 0);
  for (int i = 0; i < m; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* host.hparams(kind, name): the table of hyperparameters, or nil */
static int h_hparams(lua_State *L) {
  static const char *types[] = {"?", "real", "int", "bool", "choice"};
  const tb_component *c = tb_registry_find(ctx_of(L)->reg, kind_of(L, 1), luaL_checkstring(L, 2));
  if (!c) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, c->n_hparams, 2);
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, h->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, types[h->type]);
    lua_setfield(L, -2, "type");
    lua_pushnumber(L, h->def);
    lua_setfield(L, -2, "def");
    if (h->type == TB_HP_CHOICE) {
      lua_newtable(L);
      for (int j = 0; h->choices[j]; j++) {
        lua_pushstring(L, h->choices[j]);
        lua_rawseti(L, -2, j + 1);
      }
      lua_setfield(L, -2, "choices");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* host.check(kind, name, values): nil, or tb_hparams_check's message */
static int h_check(lua_State *L) {
  const tb_component *c = tb_registry_find(ctx_of(L)->reg, kind_of(L, 1), luaL_checkstring(L, 2));
  luaL_checktype(L, 3, LUA_TTABLE);
  if (!c) return luaL_error(L, "no such component");
  double hp[TB_MAX_HP];
  for (int i = 0; i < c->n_hparams; i++) {
    lua_rawgeti(L, 3, i + 1);
    hp[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  char msg[TB_ERRLEN];
  if (tb_hparams_check(c, hp, msg, sizeof msg) == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, msg);
  return 1;
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

/* host.realpath(p): the absolute path, or nil and the reason */
static int h_realpath(lua_State *L) {
  char *r = realpath(luaL_checkstring(L, 1), NULL);
  if (!r) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushstring(L, r);
  free(r);
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

/* Names of an enum of config.h, from its name function (which says "?" past the end). */
static void push_names(lua_State *L, const char *(*name)(int)) {
  lua_newtable(L);
  for (int i = 1; strcmp(name(i), "?") != 0; i++) {
    lua_pushstring(L, name(i));
    lua_rawseti(L, -2, i);
  }
}

static int enum_of(const char *(*name)(int), const char *s) {
  for (int i = 1; strcmp(name(i), "?") != 0; i++)
    if (strcmp(name(i), s) == 0) return i;
  return 0;
}

/* ---- running the script ------------------------------------------------------ */

static int preload(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* Open the libraries, build the module and preload it (protected). */
static int prepare(lua_State *L) {
  script_ctx *ctx = lua_touserdata(L, 1);
  luaL_openlibs(L);

  static const luaL_Reg host[] = {
      {"names", h_names}, {"hparams", h_hparams}, {"check", h_check},
      {"sortkeys", h_sortkeys}, {"realpath", h_realpath}, {"fmt", h_fmt}, {NULL, NULL}};
  if (luaL_loadbufferx(L, module_lua, sizeof module_lua - 1, "=trainbench", "t"))
    return lua_error(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, ctx);
  luaL_setfuncs(L, host, 1);
  lua_pushstring(L, ctx->dir);
  lua_setfield(L, -2, "script_dir");
  lua_pushinteger(L, MAX_RUNS);
  lua_setfield(L, -2, "max_runs");
  lua_pushinteger(L, TB_MAX_HIDDEN);
  lua_setfield(L, -2, "max_hidden");
  lua_pushinteger(L, TB_MAX_WIDTH);
  lua_setfield(L, -2, "max_width");
  lua_pushinteger(L, TB_MAX_DATA_VALUES);
  lua_setfield(L, -2, "max_data_values");
  push_names(L, tb_activation_name);
  lua_setfield(L, -2, "activations");
  push_names(L, tb_init_name);
  lua_setfield(L, -2, "inits");
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
static const char *push_fixed(lua_State *L, script_ctx *ctx, const char *msg) {
  size_t n = strlen(ctx->short_src);
  if (strcmp(ctx->short_src, ctx->path) != 0 && strncmp(msg, ctx->short_src, n) == 0 &&
      msg[n] == ':')
    return lua_pushfstring(L, "%s%s", ctx->path, msg + n);
  return lua_pushstring(L, msg);
}

static int msgh(lua_State *L) {
  script_ctx *ctx = ctx_of(L);
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

/* ---- from run tables to configurations ------------------------------------------ */

static lua_Integer get_int(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

static double get_num(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static int get_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The string stays valid while the table holds it. */
static const char *get_str(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *v = lua_tostring(L, -1);
  lua_pop(L, 1);
  return v ? v : "";
}

static int fail(script_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(script_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (ctx->err && ctx->errlen) vsnprintf(ctx->err, ctx->errlen, fmt, ap);
  va_end(ap);
  ctx->failed = 1;
  return -1;
}

static void key_of(const tb_data_spec *d, struct data_key *k) {
  memset(k, 0, sizeof *k);
  snprintf(k->name, sizeof k->name, "%s", d->name);
  if (strcmp(d->name, "csv") == 0) {
    snprintf(k->path, sizeof k->path, "%s", d->path);
    k->header = d->header;
    k->label_col = d->label_col;
  } else if (strcmp(d->name, "blobs") == 0) {
    k->n = d->n, k->classes = d->classes, k->dim = d->dim;
    k->separation = d->separation;
  }
}

static int same_key(const struct data_key *a, const struct data_key *b) {
  return strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 &&
         a->header == b->header && a->label_col == b->label_col && a->n == b->n &&
         a->classes == b->classes && a->dim == b->dim && a->separation == b->separation;
}

/* Point d at its loaded dataset, loading (reading, hashing, parsing and
 * validating) each distinct one once per script load. */
static int resolve_data(script_ctx *ctx, tb_data_spec *d, const char *where, const char *label) {
  tb_sweep *out = ctx->out;
  struct data_key key;
  key_of(d, &key);
  for (int i = 0; i < out->n_datasets; i++)
    if (same_key(&ctx->keys[i], &key)) {
      const tb_dataset *ds = out->datasets[i];
      if (strcmp(d->name, "csv") != 0 && strcmp(d->name, "blobs") != 0)
        snprintf(d->path, sizeof d->path, "%s", ctx->paths[i]);
      memcpy(d->content_hash, ds->content_hash, TB_HASHLEN);
      d->loaded = ds;
      return 0;
    }
  tb_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) abort();
  char msg[TB_ERRLEN];
  if (tb_data_load(d, ds, msg, sizeof msg)) {
    free(ds);
    return fail(ctx, "%s: %s: %s", where, label, msg);
  }
  if (out->n_datasets == ctx->cap_datasets) {
    ctx->cap_datasets = ctx->cap_datasets ? 2 * ctx->cap_datasets : 8;
    out->datasets = realloc(out->datasets, sizeof *out->datasets * (size_t)ctx->cap_datasets);
    ctx->keys = realloc(ctx->keys, sizeof *ctx->keys * (size_t)ctx->cap_datasets);
    ctx->paths = realloc(ctx->paths, sizeof *ctx->paths * (size_t)ctx->cap_datasets);
    if (!out->datasets || !ctx->keys || !ctx->paths) abort();
  }
  ctx->keys[out->n_datasets] = key;
  snprintf(ctx->paths[out->n_datasets], sizeof ctx->paths[0], "%s", d->path);
  out->datasets[out->n_datasets++] = ds;
  d->loaded = ds;
  return 0;
}

static int read_data(lua_State *L, script_ctx *ctx, int t, tb_data_spec *d) {
  const char *where = get_str(L, t, "where");
  const char *name = get_str(L, t, "name"), *path = get_str(L, t, "path");
  if (strlen(path) >= sizeof d->path)
    return fail(ctx, "%s: %s: 'path' is longer than %zu bytes", where, get_str(L, t, "label"),
                sizeof d->path - 1);
  snprintf(d->name, sizeof d->name, "%s", name);
  snprintf(d->path, sizeof d->path, "%s", path);
  d->label_col = (int)get_int(L, t, "label_col");
  d->header = get_bool(L, t, "header");
  d->n = (int)get_int(L, t, "n");
  d->classes = (int)get_int(L, t, "classes");
  d->dim = (int)get_int(L, t, "dim");
  d->separation = get_num(L, t, "separation");
  lua_getfield(L, t, "split");
  for (int i = 0; i < 3; i++) {
    lua_rawgeti(L, -1, i + 1);
    d->split[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  d->standardize = get_bool(L, t, "standardize");
  lua_getfield(L, t, "split_seed");
  d->has_split_seed = lua_isinteger(L, -1);
  d->split_seed = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return resolve_data(ctx, d, where, get_str(L, t, "label"));
}

static void read_model(lua_State *L, int t, tb_model_spec *m) {
  m->kind = strcmp(get_str(L, t, "name"), "mlp") == 0 ? TB_MODEL_MLP : TB_MODEL_LINEAR;
  lua_getfield(L, t, "hidden");
  m->n_hidden = (int)luaL_len(L, -1);
  if (m->n_hidden > TB_MAX_HIDDEN) m->n_hidden = TB_MAX_HIDDEN; /* checked in Lua */
  for (int i = 0; i < m->n_hidden; i++) {
    lua_rawgeti(L, -1, i + 1);
    m->hidden[i] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  m->activation = enum_of(tb_activation_name, get_str(L, t, "activation"));
  m->init = enum_of(tb_init_name, get_str(L, t, "init"));
}

static const tb_component *read_component(lua_State *L, script_ctx *ctx, int t, int kind,
                                          double *hp) {
  const tb_component *c = tb_registry_find(ctx->reg, kind, get_str(L, t, "name"));
  if (!c) return NULL;
  lua_getfield(L, t, "hp");
  for (int i = 0; i < c->n_hparams; i++) {
    lua_rawgeti(L, -1, i + 1);
    hp[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return c;
}

static void read_schedule(lua_State *L, int t, tb_sched_spec *s) {
  s->kind = enum_of(tb_sched_name, get_str(L, t, "name"));
  s->warmup = get_num(L, t, "warmup");
  s->every = get_num(L, t, "every");
  s->gamma = get_num(L, t, "gamma");
  s->min_factor = get_num(L, t, "min_factor");
}

/* The model's sizes, now that the data gives D and K, against util.h's limits:
 * a run past them would fail (or, before the limits, crash) in its worker.
 * The rows of one pass are bounded as the trainer sets them: the batch, or
 * an evaluation chunk of a split (at most all rows). */
static int check_sizes(script_ctx *ctx, const tb_run_config *cfg, const char *model_where,
                       const char *model_label, const char *scenario_where) {
  const tb_dataset *ds = cfg->data.loaded;
  if (strcmp(model_where, "?") == 0) model_where = scenario_where; /* the default model */
  int64_t n = ds->n;
  int64_t batch = cfg->batch_size <= 0 || cfg->batch_size > n ? n : cfg->batch_size;
  int64_t cap = n < TB_EVAL_CHUNK ? n : TB_EVAL_CHUNK;
  if (batch > cap) cap = batch;
  int64_t params, work, widest;
  tb_model_size(&cfg->model, ds->d, ds->k, cap, &params, &work, &widest);
  if (params > TB_MAX_PARAMS) {
    char hidden[256] = "";
    size_t k = 0;
    for (int i = 0; i < cfg->model.n_hidden && k < sizeof hidden; i++)
      k += (size_t)snprintf(hidden + k, sizeof hidden - k, "%s%d", i ? ", " : "",
                            cfg->model.hidden[i]);
    if (cfg->model.kind == TB_MODEL_MLP)
      return fail(ctx,
                  "%s: %s: 'hidden' = {%s} gives %lld parameters on %d features and %d "
                  "classes, more than the limit of %lld",
                  model_where, model_label, hidden, (long long)params, ds->d, ds->k,
                  (long long)TB_MAX_PARAMS);
    return fail(ctx, "%s: %s: %lld parameters on %d features and %d classes, more than the "
                "limit of %lld", model_where, model_label, (long long)params, ds->d, ds->k,
                (long long)TB_MAX_PARAMS);
  }
  if (work > TB_MAX_WORKSPACE)
    return fail(ctx,
                "%s: scenario '%s': 'batch_size' = %d%s: passes of %lld rows through layers up "
                "to %lld wide need %lld floats of workspace, more than the limit of %lld (use "
                "a smaller batch or narrower layers)",
                scenario_where, cfg->scenario, cfg->batch_size,
                cfg->batch_size <= 0 ? " (full batch)" : "", (long long)cap,
                (long long)widest, (long long)work, (long long)TB_MAX_WORKSPACE);
  return 0;
}

/* Index of an earlier run with this hash, or -1 after recording run `i`. */
static int dedupe(script_ctx *ctx, const char *hash, int i) {
  if ((size_t)(i + 1) * 2 > ctx->n_slots) {
    size_t n = ctx->n_slots ? 2 * ctx->n_slots : 256;
    while (n < (size_t)(i + 1) * 2) n *= 2;
    free(ctx->slots);
    ctx->slots = calloc(n, sizeof *ctx->slots);
    if (!ctx->slots) abort();
    ctx->n_slots = n;
    for (int j = 0; j < i; j++) dedupe(ctx, ctx->out->runs[j].hash, j);
  }
  char head[17];
  memcpy(head, hash, 16);
  head[16] = 0;
  size_t mask = ctx->n_slots - 1, s = (size_t)strtoull(head, NULL, 16) & mask;
  for (; ctx->slots[s]; s = (s + 1) & mask)
    if (strcmp(ctx->out->runs[ctx->slots[s] - 1].hash, hash) == 0) return ctx->slots[s] - 1;
  ctx->slots[s] = i + 1;
  return -1;
}

/* Turn the run table at the top of the stack into ctx->out's next run. */
static int add_run(lua_State *L, script_ctx *ctx, const char *scenario, const char *where) {
  int t = lua_gettop(L);
  tb_run_config cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.scenario, sizeof cfg.scenario, "%s", scenario);
  cfg.seed = get_int(L, t, "seed");
  cfg.epochs = (int)get_int(L, t, "epochs");
  cfg.batch_size = (int)get_int(L, t, "batch_size");
  cfg.timeout = get_num(L, t, "timeout");

  lua_getfield(L, t, "model");
  read_model(L, lua_gettop(L), &cfg.model);
  lua_getfield(L, t, "schedule");
  read_schedule(L, lua_gettop(L), &cfg.sched);
  lua_getfield(L, t, "loss");
  cfg.loss = read_component(L, ctx, lua_gettop(L), TB_KIND_LOSS, cfg.loss_hp);
  lua_getfield(L, t, "optimizer");
  cfg.opt = read_component(L, ctx, lua_gettop(L), TB_KIND_OPTIMIZER, cfg.opt_hp);
  lua_getfield(L, t, "data");
  int rc = read_data(L, ctx, lua_gettop(L), &cfg.data);
  lua_settop(L, t);
  if (rc) return -1;
  lua_getfield(L, t, "model");
  rc = check_sizes(ctx, &cfg, get_str(L, lua_gettop(L), "where"),
                   get_str(L, lua_gettop(L), "label"), where);
  lua_settop(L, t);
  if (rc) return -1;

  char msg[TB_ERRLEN];
  if (tb_config_canonicalize(&cfg, msg, sizeof msg)) return fail(ctx, "%s: %s", where, msg);
  tb_sweep *out = ctx->out;
  if (dedupe(ctx, cfg.hash, out->n_runs) >= 0) {
    tb_config_free(&cfg);
    return 0;
  }
  if (out->n_runs == ctx->cap_runs) {
    ctx->cap_runs = ctx->cap_runs ? 2 * ctx->cap_runs : 64;
    out->runs = realloc(out->runs, sizeof *out->runs * (size_t)ctx->cap_runs);
    if (!out->runs) abort();
  }
  out->runs[out->n_runs++] = cfg;
  return 0;
}

/* Read the scenarios the script declared into ctx->out (protected). */
static int convert(lua_State *L) {
  script_ctx *ctx = lua_touserdata(L, 1);
  tb_sweep *out = ctx->out;
  lua_getfield(L, LUA_REGISTRYINDEX, "trainbench.scenarios");
  int all = lua_gettop(L);
  int n = (int)luaL_len(L, all);
  if (n == 0) {
    fail(ctx, "%s: the script declares no scenario (see tb.scenario)", ctx->path);
    return 0;
  }
  out->scenarios = calloc((size_t)n, sizeof *out->scenarios);
  if (!out->scenarios) abort();
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, all, i);
    int s = lua_gettop(L);
    tb_scenario_info *info = &out->scenarios[out->n_scenarios++];
    snprintf(info->name, sizeof info->name, "%s", get_str(L, s, "name"));
    info->script_path = strdup(ctx->path);
    info->script_text = strdup(ctx->text);
    const char *where = get_str(L, s, "where");
    lua_getfield(L, s, "runs");
    int runs = lua_gettop(L), m = (int)luaL_len(L, runs);
    for (int j = 1; j <= m; j++) {
      lua_rawgeti(L, runs, j);
      if (add_run(L, ctx, info->name, where)) return 0;
      lua_pop(L, 1);
    }
    lua_settop(L, all);
  }
  return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tb_errf(err, errlen, "cannot open script '%s': %s", path, strerror(errno));
    return NULL;
  }
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
  size_t len;
  char *text = read_file(path, &len, err, errlen);
  if (!text) return -1;
  script_ctx ctx;
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
  lua_pushcfunction(L, prepare);
  lua_pushlightuserdata(L, &ctx);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fail(&ctx, "cannot start the trainbench module: %s", lua_tostring(L, -1));
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
    fail(&ctx, "%s", push_fixed(L, &ctx, lua_tostring(L, -1)));
    goto done;
  }
  lua_remove(L, -2);
  if (lua_pcall(L, 0, 0, -2) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fail(&ctx, "%s", msg ? msg : "error in the error handler");
    goto done;
  }
  lua_settop(L, 0);

  lua_pushcfunction(L, convert);
  lua_pushlightuserdata(L, &ctx);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) fail(&ctx, "%s: %s", path, lua_tostring(L, -1));

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

void tb_sweep_free(tb_sweep *sw) {
  for (int i = 0; i < sw->n_scenarios; i++) {
    free(sw->scenarios[i].script_path);
    free(sw->scenarios[i].script_text);
  }
  free(sw->scenarios);
  for (int i = 0; i < sw->n_runs; i++) tb_config_free(&sw->runs[i]);
  free(sw->runs);
  for (int i = 0; i < sw->n_datasets; i++) {
    tb_dataset_free(sw->datasets[i]);
    free(sw->datasets[i]);
  }
  free(sw->datasets);
  memset(sw, 0, sizeof *sw);
}
