-- trainbench.lua — the `trainbench` module that scenario scripts require:
-- tb.grid, tb.linspace, tb.logspace, tb.range, tb.loss, tb.optimizer,
-- tb.data.*, tb.model.*, tb.schedule.* and tb.scenario. Each constructor
-- records the script line that called it, checks what it can at once and
-- keeps its resolved alternatives; tb.scenario takes their cartesian product
-- into a list of runs, which script_runs.c turns into configurations.
--
-- Embedded in the binary at build time (embed_lua.py) and loaded by script.c
-- as the chunk "=trainbench", so its line numbers are this file's and where()
-- skips its frames. Called with `host`, the C helpers of script.c; returns
-- the module and the list of scenarios declared.
local host = ...
local type, pairs, ipairs, select, tonumber = type, pairs, ipairs, select, tonumber
local setmetatable, getmetatable = setmetatable, getmetatable
local error, tostring = error, tostring
local tointeger, abs, huge = math.tointeger, math.abs, math.huge
local mininteger, maxinteger = math.mininteger, math.maxinteger
local getinfo, format, concat = debug.getinfo, string.format, table.concat
local fmtnum, sortkeys, MAX_RUNS = host.fmt, host.sortkeys, host.max_runs

local M = {}        -- what scripts see
local function label(v) return v.label end
-- metatable of what tb.* returns: grids and specs with their alternatives
local OBJ = {__tostring = label}
-- metatable of one resolved alternative (what C reads)
local ALT = {__tostring = label}
local VERR = {__tostring = function(e) return e.__tb_error end}
local scenarios, declared, total = {}, {}, 0

-- The script line that called into the module: the first frame that is
-- neither C nor this chunk, so helpers and metamethods in between do not count.
local function where()
  for level = 2, 200 do
    local ar = getinfo(level, 'Sl')
    if not ar then break end
    if ar.what ~= 'C' and ar.source ~= '=trainbench' and ar.currentline > 0 then
      local src = ar.source:sub(1, 1) == '@' and ar.source:sub(2) or ar.short_src
      return src .. ':' .. ar.currentline
    end
  end
  return '?'
end

-- Validation errors are tables so the message handler passes them on
-- without a traceback of this module's internals.
local function fail(at, msg)
  error(setmetatable({__tb_error = at .. ': ' .. msg}, VERR), 0)
end

local function is_obj(v) return type(v) == 'table' and getmetatable(v) == OBJ end
local function is_grid(v) return is_obj(v) and v.kind == 'grid' end
local function is_plain(v) return type(v) == 'table' and getmetatable(v) == nil end

local function show(v)
  local t = type(v)
  if t == 'number' then return fmtnum(v) end
  if t == 'string' then return "'" .. v .. "'" end
  if t == 'boolean' or t == 'nil' then return tostring(v) end
  local mt = t == 'table' and getmetatable(v)
  if mt == OBJ or mt == ALT then return v.label end
  if t == 'table' then return 'a table (use tb.grid{...} for alternatives)' end
  return 'a ' .. t
end

-- Sorted with host.sortkeys (byte order): Lua's own `<` follows the locale.
local function list(set)
  return concat(sortkeys(set), ', ')
end

local function list_values(array)
  local set = {}
  for _, v in ipairs(array) do set[v] = true end
  return list(set)
end

local function show_key(k)
  return type(k) == 'string' and "'" .. k .. "'" or 'a ' .. type(k) .. ' key'
end

local function int_of(v)
  return type(v) == 'number' and tointeger(v) or nil
end

local function sorted_keys(t, at)
  local keys, msg = sortkeys(t)
  if not keys then fail(at, msg) end
  return keys
end

-- ---- axes -------------------------------------------------------------------

local function new_grid(options, at, label)
  return setmetatable({kind = 'grid', options = options, where = at, label = label}, OBJ)
end

-- How many alternatives v stands for (checked before expanding anything).
local function count(v, at, depth)
  if type(v) ~= 'table' then return 1 end
  if depth > 64 then fail(at, 'value nested too deeply (does a table contain itself?)') end
  local mt = getmetatable(v)
  if mt == ALT then return 1 end
  if mt == OBJ then
    if v.kind ~= 'grid' then return #v.alts end
    local n = 0
    for _, o in ipairs(v.options) do n = n + count(o, at, depth + 1) end
    return n
  end
  local n = 1
  for _, x in pairs(v) do n = n * count(x, at, depth + 1) end
  return n
end

local function limit(n, at, what)
  if n > MAX_RUNS then
    fail(at, format('%s expands to %s alternatives, more than the limit of %d', what,
                    fmtnum(n), MAX_RUNS))
  end
end

-- The alternatives of v, in order: a grid gives the concatenation of its
-- options' alternatives, a spec its own, a plain table the cartesian product
-- of its fields (sorted keys, the first varying slowest), a scalar itself.
local function expand(v, at, depth)
  if type(v) ~= 'table' then return {v} end
  local mt = getmetatable(v)
  if mt == ALT then return {v} end
  if mt == OBJ then
    if v.kind ~= 'grid' then return v.alts end
    local out = {}
    for _, o in ipairs(v.options) do
      for _, x in ipairs(expand(o, at, depth + 1)) do out[#out + 1] = x end
    end
    return out
  end
  if depth > 64 then fail(at, 'value nested too deeply (does a table contain itself?)') end
  local result = {{}}
  for _, k in ipairs(sorted_keys(v, at)) do
    local alts, grown = expand(v[k], at, depth + 1), {}
    for _, partial in ipairs(result) do
      for _, a in ipairs(alts) do
        local t = {}
        for pk, pv in pairs(partial) do t[pk] = pv end
        t[k] = a
        grown[#grown + 1] = t
      end
    end
    result = grown
  end
  return result
end

-- The leaves of nested grids, each with the line of the grid that holds it.
local function leaves(v, at, out)
  if is_grid(v) then
    for _, o in ipairs(v.options) do leaves(o, v.where, out) end
  else
    out[#out + 1] = {v, at}
  end
  return out
end

local function check_list(t, at, fname)
  local n = 0
  for k in pairs(t) do
    if not int_of(k) or k < 1 then
      fail(at, fname .. ': expected a list of alternatives, got a table with key ' .. show(k))
    end
    n = n + 1
  end
  if n == 0 then fail(at, fname .. ': empty list of alternatives') end
  if #t ~= n then fail(at, fname .. ': the list of alternatives has holes') end
  return n
end

function M.grid(t)
  local at = where()
  if is_grid(t) then return t end
  if not is_plain(t) then
    fail(at, 'tb.grid: expected a list of alternatives, got ' .. show(t))
  end
  local n = check_list(t, at, 'tb.grid')
  local options = {}
  for i = 1, n do options[i] = t[i] end
  return new_grid(options, at, 'tb.grid{...}')
end

local function check_real(at, fname, key, v)
  if type(v) ~= 'number' or v ~= v or abs(v) == huge then
    fail(at, format("%s: '%s' must be a finite number, got %s", fname, key, show(v)))
  end
end

local function check_count(at, fname, n)
  local i = int_of(n)
  if not i or i < 1 or i > MAX_RUNS then
    fail(at, format("%s: 'n' must be an integer in [1, %d], got %s", fname, MAX_RUNS, show(n)))
  end
  return i
end

-- Points i = 0 .. n-1 as ((n-1-i) a + i b) / (n-1): exact at both ends, and
-- i/(n-1) is correctly rounded when a = 0, b = 1.
local function linspace(a, b, n)
  local v = {}
  for i = 0, n - 1 do
    v[i + 1] = n == 1 and a + 0.0 or ((n - 1 - i) * a + i * b) / (n - 1)
  end
  return v
end

function M.linspace(a, b, n)
  local at = where()
  check_real(at, 'tb.linspace', 'a', a)
  check_real(at, 'tb.linspace', 'b', b)
  return new_grid(linspace(a, b, check_count(at, 'tb.linspace', n)), at, 'tb.linspace(...)')
end

function M.logspace(a, b, n)
  local at = where()
  check_real(at, 'tb.logspace', 'a', a)
  check_real(at, 'tb.logspace', 'b', b)
  local v = linspace(a, b, check_count(at, 'tb.logspace', n))
  for i, e in ipairs(v) do
    -- integral exponents read back exactly as written (1e-2 == 0.01)
    local k = tointeger(e)
    v[i] = k and tonumber('1e' .. k) or 10.0 ^ e
  end
  return new_grid(v, at, 'tb.logspace(...)')
end

function M.range(a, b, step)
  local at = where()
  local function int(key, x)
    local i = int_of(x)
    if not i then
      fail(at, format("tb.range: '%s' must be an integer, got %s", key, show(x)))
    end
    return i
  end
  a, b = int('a', a), int('b', b)
  step = step == nil and 1 or int('step', step)
  if step == 0 then fail(at, "tb.range: 'step' must not be 0") end
  if (step > 0 and a > b) or (step < 0 and a < b) then
    fail(at, format('tb.range: empty range from %d to %d with step %d', a, b, step))
  end
  -- counted in floating point first: b - a may not fit an integer
  if (b + 0.0 - a) / step >= MAX_RUNS then
    fail(at, format('tb.range: more than %d values', MAX_RUNS))
  end
  local n = (b - a) // step + 1
  local v = {}
  for i = 0, n - 1 do v[i + 1] = a + i * step end
  return new_grid(v, at, 'tb.range(...)')
end

-- ---- losses and optimizers ----------------------------------------------------

local infos = {loss = {}, optimizer = {}}

local function lookup(kind, name, at)
  local info = infos[kind][name]
  if info then return info end
  info = host.hparams(kind, name)
  if not info then
    local names = host.names(kind)
    fail(at, format("unknown %s %s (valid: %s)", kind, show(name),
                    #names > 0 and concat(names, ', ') or 'none loaded'))
  end
  info.by_name, info.label = {}, format("%s '%s'", kind, name)
  for i, h in ipairs(info) do
    h.index = i
    info.by_name[h.name] = h
    if h.type == 'choice' then
      h.option = {}
      for j, c in ipairs(h.choices) do h.option[c] = j - 1 end
      h.valid = list_values(h.choices)
    end
  end
  info.valid = #info > 0 and list(info.by_name) or 'none'
  infos[kind][name] = info
  return info
end

local function check_hp_names(info, hp, at)
  for _, k in ipairs(sorted_keys(hp, at)) do
    if type(k) ~= 'string' then
      fail(at, format('%s: hyperparameters are given by name, got %s', info.label, show_key(k)))
    end
    if not info.by_name[k] then
      fail(at, format("%s: unknown hyperparameter '%s' (valid: %s)", info.label, k, info.valid))
    end
  end
end

-- One concrete setting of a component: values in table order (bools 0/1,
-- choices as the option's index), checked against ranges and the validate hook.
local function component_alt(kind, name, info, hp, at)
  if not is_plain(hp) then
    fail(at, format('%s: hyperparameters must be a table, got %s', info.label, show(hp)))
  end
  check_hp_names(info, hp, at)
  local values = {}
  for i, h in ipairs(info) do values[i] = h.def end
  for _, k in ipairs(sorted_keys(hp, at)) do
    local h, v = info.by_name[k], hp[k]
    local bad
    if h.type == 'real' or h.type == 'int' then
      bad = type(v) ~= 'number' and 'must be a number'
      values[h.index] = v
    elseif h.type == 'bool' then
      bad = type(v) ~= 'boolean' and 'must be a boolean'
      values[h.index] = v and 1 or 0
    else
      local idx = type(v) == 'string' and h.option[v]
      bad = idx == nil and format('must be one of: %s', h.valid)
      values[h.index] = idx
    end
    if bad then fail(at, format("%s: '%s' %s, got %s", info.label, k, bad, show(v))) end
  end
  local msg = host.check(kind, name, values)
  if msg then fail(at, msg) end
  return setmetatable({kind = kind, name = name, hp = values, where = at, label = info.label},
                      ALT)
end

local function component(kind, name, hp)
  local at = where()
  local fname = 'tb.' .. kind
  if type(name) ~= 'string' then
    fail(at, format('%s: bad argument #1 (%s name expected, got %s)', fname, kind, show(name)))
  end
  local info = lookup(kind, name, at)
  if hp == nil then hp = {} end
  if not is_plain(hp) and not is_grid(hp) then
    fail(at, format('%s: bad argument #2 (table of hyperparameters expected, got %s)', fname,
                    show(hp)))
  end
  if is_plain(hp) then check_hp_names(info, hp, at) end
  limit(count(hp, at, 0), at, info.label)
  local alts = {}
  for _, a in ipairs(expand(hp, at, 0)) do
    alts[#alts + 1] = component_alt(kind, name, info, a, at)
  end
  return setmetatable({kind = kind, alts = alts, where = at, label = info.label}, OBJ)
end

function M.loss(name, hp) return component('loss', name, hp) end
function M.optimizer(name, hp) return component('optimizer', name, hp) end

-- ---- datasets, models, schedules ------------------------------------------------

local function keyset(...)
  local s = {}
  for i = 1, select('#', ...) do s[select(i, ...)] = true end
  return s
end

local function want_bool(a, key, def, bad)
  local v = a[key]
  if v == nil then return def end
  if type(v) ~= 'boolean' then bad(format("'%s' must be a boolean, got %s", key, show(v))) end
  return v
end

local function want_int(a, key, def, lo, hi, what, bad)
  local v = a[key]
  if v == nil then return def end
  local i = int_of(v)
  if not i or i < lo or i > hi then bad(format("'%s' must be %s, got %s", key, what, show(v))) end
  return i
end

-- A finite number with lo <= v (lo_open: lo < v) and v <= hi.
local function want_real(a, key, def, lo, lo_open, hi, what, bad)
  local v = a[key]
  if v == nil then return def end
  if type(v) ~= 'number' or v ~= v or abs(v) == huge or v < lo or (lo_open and v == lo)
     or v > hi then
    bad(format("'%s' must be %s, got %s", key, what, show(v)))
  end
  return v + 0.0
end

local function want_name(a, key, def, names, bad)
  local v = a[key]
  if v == nil then return def end
  for _, n in ipairs(names) do if v == n then return v end end
  bad(format("'%s' must be one of: %s, got %s", key, list_values(names), show(v)))
end

local INT_MAX = 2147483647
local SPLIT_KEYS = keyset('train', 'val', 'test')

local function want_split(a, bad)
  local s = a.split
  if s == nil then return {0.6, 0.2, 0.2} end
  if not is_plain(s) then
    bad("'split' must be a table {train = ..., val = ..., test = ...}, got " .. show(s))
  end
  local keys, msg = sortkeys(s)
  if not keys then bad("'split': " .. msg) end
  for _, k in ipairs(keys) do
    if not SPLIT_KEYS[k] then
      bad(format("'split': unknown key %s (valid: test, train, val)",
                 show_key(k)))
    end
  end
  local f = {}
  for i, k in ipairs({'train', 'val', 'test'}) do
    f[i] = want_real(s, k, 0.0, 0, false, 1, 'a fraction in [0, 1]', function(m)
      bad("'split." .. m:sub(2))
    end)
  end
  if f[1] == 0 then bad("'split.train' must be > 0") end
  local sum = f[1] + f[2] + f[3]
  if abs(sum - 1) > 1e-9 then
    bad(format("'split' fractions must sum to 1, got %s (train %s + val %s + test %s)",
               fmtnum(sum), fmtnum(f[1]), fmtnum(f[2]), fmtnum(f[3])))
  end
  return f
end

local function data_common(r, a, bad)
  r.split = want_split(a, bad)
  r.standardize = want_bool(a, 'standardize', true, bad)
  r.split_seed = want_int(a, 'split_seed', nil, mininteger, maxinteger, 'an integer', bad)
  return r
end

local builtin = {
  keys = keyset('split', 'split_seed', 'standardize'),
  normalize = function(name, a, bad)
    return data_common({name = name, label_col = -1, header = false}, a, bad)
  end,
}

local datasets = {
  digits = builtin, breast_cancer = builtin, iris = builtin, wine = builtin,
  csv = {
    keys = keyset('header', 'label', 'path', 'split', 'split_seed', 'standardize'),
    required = {'path'},
    normalize = function(name, a, bad)
      local p = a.path
      if type(p) ~= 'string' or p == '' then
        bad("'path' must be a file name, got " .. show(p))
      end
      local full = p:sub(1, 1) == '/' and p or host.script_dir .. '/' .. p
      local resolved, why = host.realpath(full)
      if not resolved then bad(format("'path' = %s: cannot open %s: %s", show(p), full, why)) end
      local label = want_int(a, 'label', nil, 1, INT_MAX, 'a column number >= 1', bad)
      return data_common({name = name, path = resolved, label_col = label and label - 1 or -1,
                          header = want_bool(a, 'header', true, bad)}, a, bad)
    end,
  },
  blobs = {
    keys = keyset('classes', 'dim', 'n', 'separation', 'split', 'split_seed', 'standardize'),
    normalize = function(name, a, bad)
      local r = {name = name, label_col = -1, header = false,
                 n = want_int(a, 'n', 600, 1, INT_MAX, 'an integer >= 1', bad),
                 classes = want_int(a, 'classes', 3, 2, INT_MAX, 'an integer >= 2', bad),
                 dim = want_int(a, 'dim', 2, 1, INT_MAX, 'an integer >= 1', bad),
                 separation = want_real(a, 'separation', 3.0, 0, false, huge,
                                        'a finite number >= 0', bad)}
      if r.n < r.classes then
        bad(format("'n' = %d must be at least 'classes' = %d", r.n, r.classes))
      end
      if r.n * r.dim > host.max_data_values then
        bad(format("'n' x 'dim' = %d x %d = %d values, more than the limit of %d", r.n, r.dim,
                   r.n * r.dim, host.max_data_values))
      end
      return data_common(r, a, bad)
    end,
  },
}

local models = {
  linear = {
    keys = keyset('init'),
    normalize = function(name, a, bad)
      return {name = name, hidden = {}, activation = 'relu',
              init = want_name(a, 'init', 'default', host.inits, bad)}
    end,
  },
  mlp = {
    keys = keyset('activation', 'hidden', 'init'),
    required = {'hidden'},
    normalize = function(name, a, bad)
      local h, max = a.hidden, host.max_hidden
      local what = format("'hidden' must be a list of 1 to %d positive integers", max)
      if not is_plain(h) then bad(what .. ', got ' .. show(h)) end
      local n = 0
      for k in pairs(h) do
        if not int_of(k) or k < 1 then
          bad(format('%s, got a table with key %s', what, show(k)))
        end
        n = n + 1
      end
      if n == 0 or #h ~= n or n > max then
        bad(format('%s, got %d %s', what, n, #h ~= n and 'values with holes' or 'widths'))
      end
      local hidden = {}
      for i = 1, n do
        hidden[i] = int_of(h[i])
        if not hidden[i] or hidden[i] < 1 then
          bad(format('%s, got %s at position %d', what, show(h[i]), i))
        end
        if hidden[i] > host.max_width then
          bad(format("'hidden' = %s at position %d is more than the limit of %d units per layer",
                     show(h[i]), i, host.max_width))
        end
      end
      return {name = name, hidden = hidden,
              activation = want_name(a, 'activation', 'relu', host.activations, bad),
              init = want_name(a, 'init', 'default', host.inits, bad)}
    end,
  },
}

local WARMUP = 'a number of epochs >= 0'
local schedules = {
  constant = {
    keys = keyset('warmup'),
    normalize = function(name, a, bad)
      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad)}
    end,
  },
  step = {
    keys = keyset('every', 'gamma', 'warmup'),
    required = {'every'},
    normalize = function(name, a, bad)
      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad),
              every = want_real(a, 'every', nil, 0, true, huge, 'a number of epochs > 0', bad),
              gamma = want_real(a, 'gamma', 0.1, 0, true, huge, 'a number > 0', bad)}
    end,
  },
  cosine = {
    keys = keyset('min_factor', 'warmup'),
    normalize = function(name, a, bad)
      return {name = name, warmup = want_real(a, 'warmup', 0.0, 0, false, huge, WARMUP, bad),
              min_factor = want_real(a, 'min_factor', 0.0, 0, false, 1, 'a number in [0, 1]',
                                     bad)}
    end,
  },
}

local function check_keys(a, spec, label, at)
  for _, k in ipairs(sorted_keys(a, at)) do
    if not spec.keys[k] then
      fail(at, format('%s: unknown key %s (valid: %s)', label, show_key(k),
                      list(spec.keys)))
    end
  end
  for _, k in ipairs(spec.required or {}) do
    if a[k] == nil then fail(at, format("%s: missing key '%s'", label, k)) end
  end
end

local function resolve(kind, label, name, spec, a, at)
  check_keys(a, spec, label, at)
  local r = spec.normalize(name, a, function(msg) fail(at, label .. ': ' .. msg) end)
  r.kind, r.where, r.label = kind, at, label
  return setmetatable(r, ALT)
end

local function spec(kind, prefix, name, s, args)
  local at = where()
  local label = prefix .. name
  if args == nil then args = {} end
  if not is_plain(args) and not is_grid(args) then
    fail(at, format('%s: expected a table of options, got %s', label, show(args)))
  end
  if is_plain(args) then check_keys(args, s, label, at) end
  limit(count(args, at, 0), at, label)
  local alts = {}
  for _, a in ipairs(expand(args, at, 0)) do
    if not is_plain(a) then
      fail(at, format('%s: expected a table of options, got %s', label, show(a)))
    end
    alts[#alts + 1] = resolve(kind, label, name, s, a, at)
  end
  return setmetatable({kind = kind, alts = alts, where = at, label = label}, OBJ)
end

-- tb.data.NAME, tb.model.NAME, tb.schedule.NAME; other names fail at the line.
local function family(kind, prefix, what, specs)
  local t = {}
  for name, s in pairs(specs) do
    t[name] = function(args) return spec(kind, prefix, name, s, args) end
  end
  return setmetatable(t, {__index = function(_, k)
    fail(where(), format('unknown %s %s (valid: %s)', what, show_key(k),
                         list(specs)))
  end})
end

M.data = family('data', 'tb.data.', 'dataset', datasets)
M.model = family('model', 'tb.model.', 'model', models)
M.schedule = family('schedule', 'tb.schedule.', 'schedule', schedules)

-- ---- scenarios ------------------------------------------------------------------

local SCENARIO_KEYS = keyset('batch_size', 'data', 'epochs', 'loss', 'model', 'name',
                             'optimizer', 'schedule', 'seeds', 'timeout')

local function component_axis(kind, v, at, label, out)
  if is_grid(v) then
    for _, o in ipairs(v.options) do component_axis(kind, o, v.where, label, out) end
  elseif type(v) == 'string' then
    local info = lookup(kind, v, at)
    info.plain = info.plain or component_alt(kind, v, info, {}, at)
    out[#out + 1] = info.plain
  elseif is_obj(v) and v.kind == kind then
    for _, a in ipairs(v.alts) do out[#out + 1] = a end
  else
    fail(at, format("%s: '%s' must be %s %s name or tb.%s(...), got %s", label, kind,
                    kind == 'optimizer' and 'an' or 'a', kind, kind, show(v)))
  end
  return out
end

local function spec_axis(kind, key, what, v, at, label, out)
  if is_grid(v) then
    for _, o in ipairs(v.options) do spec_axis(kind, key, what, o, v.where, label, out) end
  elseif is_obj(v) and v.kind == kind then
    for _, a in ipairs(v.alts) do out[#out + 1] = a end
  else
    fail(at, format("%s: '%s' must be %s, got %s", label, key, what, show(v)))
  end
  return out
end

local function int_axis(key, v, lo, what, at, label)
  local out = {}
  for _, leaf in ipairs(leaves(v, at, {})) do
    local x = leaf[1]
    local i = int_of(x)
    if not i or i < lo or i > INT_MAX then
      fail(leaf[2], format("%s: '%s' must be %s, got %s", label, key, what, show(x)))
    end
    out[#out + 1] = i
  end
  return out
end

local function seeds_axis(v, at, label)
  if v == nil then return {1} end
  local what = "'seeds' must be a list of integers or tb.range(a, b)"
  local ls = {}
  if is_grid(v) then
    leaves(v, at, ls)
  elseif is_plain(v) then
    local n = 0
    for k in pairs(v) do
      if not int_of(k) or k < 1 then fail(at, format('%s: %s', label, what)) end
      n = n + 1
    end
    if n == 0 or #v ~= n then fail(at, format('%s: %s', label, what)) end
    for i = 1, n do leaves(v[i], at, ls) end
  else
    local hint = type(v) == 'number' and format(' (for one seed write {%s})', fmtnum(v)) or ''
    fail(at, format('%s: %s, got %s%s', label, what, show(v), hint))
  end
  local out = {}
  for _, leaf in ipairs(ls) do
    local i = int_of(leaf[1])
    if not i then
      fail(leaf[2], format("%s: 'seeds' must hold integers, got %s", label, show(leaf[1])))
    end
    out[#out + 1] = i
  end
  return out
end

local default_model = setmetatable({kind = 'model', label = 'tb.model.linear',
  alts = {resolve('model', 'tb.model.linear', 'linear', models.linear, {}, '?')}}, OBJ)
local default_schedule = setmetatable({kind = 'schedule', label = 'tb.schedule.constant',
  alts = {resolve('schedule', 'tb.schedule.constant', 'constant', schedules.constant, {}, '?')}},
  OBJ)

function M.scenario(s)
  local at = where()
  if not is_plain(s) then fail(at, 'tb.scenario: expected a table, got ' .. show(s)) end
  local name = s.name
  if name == nil then fail(at, "tb.scenario: missing key 'name'") end
  if type(name) ~= 'string' or name == '' or #name > 127 or name:find('%c') then
    fail(at, "tb.scenario: 'name' must be a string of 1 to 127 characters, got " .. show(name))
  end
  local label = format("scenario '%s'", name)
  check_keys(s, {keys = SCENARIO_KEYS, required = {'data', 'epochs', 'loss', 'optimizer'}},
             label, at)
  if declared[name] then
    fail(at, format('%s is declared twice (first at %s)', label, declared[name]))
  end
  local timeout = s.timeout
  if timeout ~= nil and (type(timeout) ~= 'number' or timeout ~= timeout or timeout <= 0
                         or timeout == huge) then
    fail(at, format("%s: 'timeout' must be a number of seconds > 0, got %s", label,
                    is_grid(timeout) and 'a grid (it is not part of a run configuration)'
                    or show(timeout)))
  end
  -- the axes in sorted key order; the first varies slowest
  local keys = {'batch_size', 'data', 'epochs', 'loss', 'model', 'optimizer', 'schedule', 'seed'}
  local axes = {
    int_axis('batch_size', s.batch_size == nil and 32 or s.batch_size, 0,
             'an integer >= 0 (0 = full batch)', at, label),
    spec_axis('data', 'data', 'a dataset from tb.data.*', s.data, at, label, {}),
    int_axis('epochs', s.epochs, 1, 'an integer >= 1', at, label),
    component_axis('loss', s.loss, at, label, {}),
    spec_axis('model', 'model', 'a model from tb.model.*', s.model or default_model, at, label, {}),
    component_axis('optimizer', s.optimizer, at, label, {}),
    spec_axis('schedule', 'schedule', 'a schedule from tb.schedule.*',
              s.schedule or default_schedule, at, label, {}),
    seeds_axis(s.seeds, at, label),
  }
  local n = 1
  for _, ax in ipairs(axes) do n = n * #ax end
  if total + n > MAX_RUNS then
    fail(at, format('%s: the script expands to more than %d runs', label, MAX_RUNS))
  end
  total = total + n
  local runs, idx = {}, {}
  for i = 1, #axes do idx[i] = 1 end
  local i
  repeat
    local r = {timeout = timeout or 0}
    for j, k in ipairs(keys) do r[k] = axes[j][idx[j]] end
    runs[#runs + 1] = r
    i = #axes
    while i >= 1 do
      idx[i] = idx[i] + 1
      if idx[i] <= #axes[i] then break end
      idx[i] = 1
      i = i - 1
    end
  until i == 0
  declared[name] = at
  scenarios[#scenarios + 1] = {name = name, where = at, runs = runs}
end

return M, scenarios
