-- trainbench.lua — the `trainbench` module that scenario scripts require:
-- tb.grid, tb.linspace, tb.logspace, tb.range, tb.loss, tb.optimizer,
-- tb.data.*, tb.model.*, tb.schedule.* and tb.scenario. Each constructor
-- records the script line that called it, checks its values at once (one
-- validator for every kind of component, driven by its hyperparameter
-- table) and keeps its resolved alternatives, each holding the core's
-- instance; tb.scenario takes their cartesian product into a list of runs,
-- which script_runs.c turns into configurations.
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
local mathtype = math.type
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

-- ---- components -------------------------------------------------------------------
--
-- Every configurable part is a component with a hyperparameter table:
-- losses, optimizers and schedules from plugins, datasets and models built
-- into the core. One constructor serves them all (tb.loss, tb.optimizer,
-- tb.schedule, tb.data.*, tb.model.*): it checks the names and shapes of the
-- values here, driven by the table host.component lends, expands grids, and
-- hands each alternative to host.resolve, the core's one validator of every
-- type (hparam.c: ranges, integers, lengths, the validate hook), which
-- returns the instance. A COMPONENT hyperparameter takes a name or an
-- object of its kind and is resolved the same way, recursively; messages
-- name the path to it.

local infos = {}    -- kind -> name -> info
local function article(word)
  return (word:find('^[aeiou]') and 'an ' or 'a ') .. word
end

local function lookup(kind, name, at, prefix)
  infos[kind] = infos[kind] or {}
  local info = infos[kind][name]
  if info then return info end
  info = host.component(kind, name)
  if not info then
    local names = host.names(kind)
    fail(at, format("%sunknown %s %s (valid: %s)", prefix or '', kind, show(name),
                    #names > 0 and concat(names, ', ') or 'none loaded'))
  end
  info.by_name = {}
  info.word = info.builtin and 'key' or 'hyperparameter'
  for i, h in ipairs(info) do
    h.index = i
    info.by_name[h.name] = h
    if h.type == 'choice' then
      h.option = {}
      for j, c in ipairs(h.choices) do h.option[c] = j - 1 end
      h.valid = list_values(h.choices)
    elseif h.type == 'record' then
      h.field = {}
      for j, f in ipairs(h.fields) do h.field[f] = j end
    end
  end
  info.valid = #info > 0 and list(info.by_name) or 'none'
  infos[kind][name] = info
  return info
end

local function check_names(info, hp, at, prefix)
  for _, k in ipairs(sorted_keys(hp, at)) do
    if type(k) ~= 'string' then
      fail(at, format('%s%s: %ss are given by name, got %s', prefix, info.label, info.word,
                      show_key(k)))
    end
    if not info.by_name[k] then
      fail(at, format("%s%s: unknown %s '%s' (valid: %s)", prefix, info.label, info.word, k,
                      info.valid))
    end
  end
end

-- "a list of 1 to 16 integers in [1, 65536]"
local function list_what(h)
  local what = h.integer and 'integers' or 'numbers'
  local n = ''
  if h.k then
    n = 'K '
  elseif h.max_n > 0 then
    n = h.min_n == h.max_n and fmtnum(h.min_n) .. ' ' or
        format('%s to %s ', fmtnum(h.min_n), fmtnum(h.max_n))
  end
  return format('a list of %s%s%s', n, what, h.range or '')
end

-- A number that a double holds exactly (integers past 2^53 do not).
local function exact_number(v)
  return type(v) == 'number' and (mathtype(v) == 'float' or v + 0.0 == v)
end

-- The elements of a plain list of numbers, or nil.
local function numbers(t)
  if not is_plain(t) then return nil end
  local n = 0
  for k in pairs(t) do
    if not int_of(k) or k < 1 then return nil end
    n = n + 1
  end
  if #t ~= n then return nil end
  local out = {}
  for i = 1, n do
    if not exact_number(t[i]) then return nil, i end
    out[i] = t[i] + 0.0
  end
  return out
end

local resolve

-- The value of hyperparameter h as host.resolve takes it: a number (bools
-- 0/1, choices the option's index), a string, a list {n, rows, cols, ...}
-- or a child's instance.
local function convert(info, h, v, at, prefix)
  local function bad(what)
    fail(at, format("%s%s: '%s' must be %s, got %s", prefix, info.label, h.name, what, show(v)))
  end
  local t = h.type
  if t == 'real' or t == 'int' then
    if type(v) ~= 'number' then bad('a number') end
    if not exact_number(v) then
      fail(at, format("%s%s: '%s' = %s is not an integer that a double holds exactly "
                      .. "(|x| <= 2^53)", prefix, info.label, h.name, fmtnum(v)))
    end
    return v + 0.0
  elseif t == 'bool' then
    if type(v) ~= 'boolean' then bad('a boolean') end
    return v and 1 or 0
  elseif t == 'choice' then
    local idx = type(v) == 'string' and h.option[v]
    if idx == nil then bad('one of: ' .. h.valid) end
    return idx
  elseif t == 'string' then
    if type(v) ~= 'string' then bad('a string') end
    return v
  elseif t == 'list' then
    local xs, at_bad = numbers(v)
    if not xs then
      if at_bad then
        fail(at, format("%s%s: '%s' must be %s, got %s at position %d", prefix, info.label,
                        h.name, list_what(h), show(v[at_bad]), at_bad))
      end
      bad(list_what(h))
    end
    xs.n, xs.rows, xs.cols = #xs, 1, #xs
    return xs
  elseif t == 'record' then
    local what = 'a table {' .. concat(h.fields, ' = ..., ') .. ' = ...}'
    if not is_plain(v) then bad(what) end
    local keys, msg = sortkeys(v)
    if not keys then fail(at, format("%s%s: '%s': %s", prefix, info.label, h.name, msg)) end
    for _, k in ipairs(keys) do
      if not h.field[k] then
        fail(at, format("%s%s: '%s': unknown key %s (valid: %s)", prefix, info.label, h.name,
                        show_key(k), list_values(h.fields)))
      end
    end
    -- a field left out is 0 (split = {train = 0.8, test = 0.2} has no validation rows)
    local xs = {n = #h.fields, rows = 1, cols = #h.fields}
    for i, f in ipairs(h.fields) do
      local x = v[f]
      if x == nil then x = 0 end
      if not exact_number(x) then
        fail(at, format("%s%s: '%s.%s' must be a number, got %s", prefix, info.label, h.name, f,
                        show(x)))
      end
      xs[i] = x + 0.0
    end
    return xs
  elseif t == 'matrix' then
    local what = format('a matrix (a list of rows, each a list of %s%s)',
                        h.integer and 'integers' or 'numbers', h.range or '')
    if not is_plain(v) then bad(what) end
    local n = 0
    for k in pairs(v) do
      if not int_of(k) or k < 1 then bad(what) end
      n = n + 1
    end
    if n == 0 or #v ~= n then bad(what) end
    local xs, cols = {}, nil
    for r = 1, n do
      local row = numbers(v[r])
      if not row or #row == 0 then bad(what) end
      cols = cols or #row
      if #row ~= cols then
        fail(at, format("%s%s: '%s' must be %s, got rows of %d and %d entries", prefix,
                        info.label, h.name, what, cols, #row))
      end
      for _, x in ipairs(row) do xs[#xs + 1] = x end
    end
    xs.n, xs.rows, xs.cols = #xs, n, cols
    return xs
  elseif t == 'component' then
    local kind = h.component_kind
    local path = format('%s%s: \'%s\': ', prefix, info.label, h.name)
    if type(v) == 'string' then
      local child = lookup(kind, v, at, path)
      return resolve(kind, v, child, {}, at, path).inst
    elseif getmetatable(v) == ALT and v.kind == kind then
      return v.inst
    end
    bad(format('%s name or tb.%s(...)', article(kind), kind == 'dataset' and 'data.NAME' or kind))
  end
  fail(at, format("%s%s: '%s' has a type this trainbench does not know (%s)", prefix, info.label,
                  h.name, tostring(t)))
end

-- One concrete setting of a component, validated: an ALT holding its instance.
resolve = function(kind, name, info, hp, at, prefix)
  prefix = prefix or ''
  if not is_plain(hp) then
    fail(at, format('%s%s: %ss must be a table, got %s', prefix, info.label, info.word, show(hp)))
  end
  check_names(info, hp, at, prefix)
  local values = {}
  for i, h in ipairs(info) do
    local v = hp[h.name]
    if v == nil then
      if h.required then fail(at, format("%s%s: missing key '%s'", prefix, info.label, h.name)) end
    else
      values[i] = convert(info, h, v, at, prefix)
    end
  end
  local inst, msg = host.resolve(kind, name, values)
  if not inst then fail(at, prefix .. msg) end
  return setmetatable({kind = kind, name = name, inst = inst, where = at, label = info.label},
                      ALT)
end

local function component(kind, name, hp, at)
  local fname = 'tb.' .. (kind == 'dataset' and 'data' or kind)
  if type(name) ~= 'string' then
    fail(at, format('%s: bad argument #1 (%s name expected, got %s)', fname, kind, show(name)))
  end
  local info = lookup(kind, name, at)
  if hp == nil then hp = {} end
  if not is_plain(hp) and not is_grid(hp) then
    fail(at, format('%s: bad argument #2 (table of %ss expected, got %s)', info.label, info.word,
                    show(hp)))
  end
  if is_plain(hp) then check_names(info, hp, at, '') end
  limit(count(hp, at, 0), at, info.label)
  local alts = {}
  for _, a in ipairs(expand(hp, at, 0)) do
    alts[#alts + 1] = resolve(kind, name, info, a, at)
  end
  return setmetatable({kind = kind, alts = alts, where = at, label = info.label}, OBJ)
end

function M.loss(name, hp) return component('loss', name, hp, where()) end
function M.optimizer(name, hp) return component('optimizer', name, hp, where()) end

-- tb.data.NAME {...}, tb.model.NAME {...}, tb.schedule.NAME {...}, and the
-- same as calls: tb.schedule(NAME, {...}). A name that is not loaded fails at
-- the line that names it.
local function family(kind)
  local t = {}
  return setmetatable(t, {
    __index = function(_, name)
      local at = where()
      if type(name) ~= 'string' then
        fail(at, format('unknown %s %s (valid: %s)', kind, show_key(name),
                        concat(host.names(kind), ', ')))
      end
      lookup(kind, name, at)
      return function(args) return component(kind, name, args, where()) end
    end,
    __call = function(_, name, args) return component(kind, name, args, where()) end,
  })
end

M.data = family('dataset')
M.model = family('model')
M.schedule = family('schedule')
-- the training step's stages: tb.corruption.label_noise {...}, tb.transform.mixup {...},
-- tb.reduction.small_loss {...}
M.corruption = family('corruption')
M.transform = family('transform')
M.reduction = family('reduction')

-- ---- scenarios ------------------------------------------------------------------

local function keyset(...)
  local set = {}
  for i = 1, select('#', ...) do set[select(i, ...)] = true end
  return set
end

local function check_keys(a, spec, label, at)
  for _, k in ipairs(sorted_keys(a, at)) do
    if not spec.keys[k] then
      fail(at, format('%s: unknown key %s (valid: %s)', label, show_key(k), list(spec.keys)))
    end
  end
  for _, k in ipairs(spec.required or {}) do
    if a[k] == nil then fail(at, format("%s: missing key '%s'", label, k)) end
  end
end

local INT_MAX = 2147483647
local SCENARIO_KEYS = keyset('batch_size', 'corruption', 'data', 'epochs', 'loss', 'model',
                             'name', 'optimizer', 'reduction', 'schedule', 'seeds', 'timeout',
                             'transform')

-- The alternatives of a scenario's part: a name (plugins' kinds) or an
-- object of its kind, possibly in grids.
local function part_axis(kind, key, what, names_ok, v, at, label, out)
  if is_grid(v) then
    for _, o in ipairs(v.options) do
      part_axis(kind, key, what, names_ok, o, v.where, label, out)
    end
  elseif names_ok and type(v) == 'string' then
    local info = lookup(kind, v, at)
    if not info.plain then
      info.plain = resolve(kind, v, info, {}, at)
      info.plain.where = '?' -- shared by every scenario naming it: errors go to the scenario's line
    end
    out[#out + 1] = info.plain
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

-- The parts a scenario may leave out, resolved at the first scenario that
-- does (the default schedule is a plugin: an error, if it is not loaded,
-- belongs to the scenario that needs it).
local defaults = {}
local function default_part(kind, name, at)
  if not defaults[kind] then
    local info = lookup(kind, name, at)
    local alt = resolve(kind, name, info, {}, at)
    alt.where = '?' -- errors about it belong to the scenario that left it out
    defaults[kind] = setmetatable({kind = kind, label = info.label, alts = {alt}}, OBJ)
  end
  return defaults[kind]
end

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
  local keys = {'batch_size', 'corruption', 'data', 'epochs', 'loss', 'model', 'optimizer',
                'reduction', 'schedule', 'seed', 'transform'}
  local axes = {
    int_axis('batch_size', s.batch_size == nil and 32 or s.batch_size, 0,
             'an integer >= 0 (0 = full batch)', at, label),
    part_axis('corruption', 'corruption', 'a corruption from tb.corruption.*', false,
              s.corruption or default_part('corruption', 'none', at), at, label, {}),
    part_axis('dataset', 'data', 'a dataset from tb.data.*', false, s.data, at, label, {}),
    int_axis('epochs', s.epochs, 1, 'an integer >= 1', at, label),
    part_axis('loss', 'loss', 'a loss name or tb.loss(...)', true, s.loss, at, label, {}),
    part_axis('model', 'model', 'a model from tb.model.*', false,
              s.model or default_part('model', 'linear', at), at, label, {}),
    part_axis('optimizer', 'optimizer', 'an optimizer name or tb.optimizer(...)', true,
              s.optimizer, at, label, {}),
    part_axis('reduction', 'reduction', 'a reduction from tb.reduction.*', false,
              s.reduction or default_part('reduction', 'mean', at), at, label, {}),
    part_axis('schedule', 'schedule', 'a schedule name or tb.schedule.NAME {...}', true,
              s.schedule or default_part('schedule', 'constant', at), at, label, {}),
    seeds_axis(s.seeds, at, label),
    part_axis('transform', 'transform', 'a batch transform from tb.transform.*', false,
              s.transform or default_part('transform', 'none', at), at, label, {}),
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
