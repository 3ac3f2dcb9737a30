/*
 * script_runs.c — from the run tables a scenario script leaves to resolved
 * runs: each run's data set (each distinct one loaded once: read, hashed,
 * parsed and validated here, in the parent, so that the workers inherit it
 * through fork) and the instances of its parts (data, model, loss,
 * optimizer, schedule) become a tb_run_config's tree; what needs K is
 * checked now that the data gives it (K-sized values, validate hooks,
 * recursively), then what the loss requires of the scenario (and what a
 * cosine head requires of the loss); the model's
 * sizes are checked against the data and the limits of util.h; the run is
 * canonicalized and duplicates dropped.
 * Errors name the script line of the offending call (script.c runs the
 * script; trainbench.lua builds the tables).
 *
 * Provides: tb_script_convert, tb_sweep_free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "compose.h"
#include "config.h"
#include "hash.h"
#include "hparam.h"
#include "registry.h"
#include "script.h"
#include "script_int.h"
#include "stages.h"
#include "train.h"
#include "util.h"

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

/* The string stays valid while the table holds it. */
static const char *get_str(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *v = lua_tostring(L, -1);
  lua_pop(L, 1);
  return v ? v : "";
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
static int resolve_data(tb_script_ctx *ctx, tb_data_spec *d, const char *where, const char *label) {
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
    return tb_script_fail(ctx, "%s: %s: %s", where, label, msg);
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

/* Part `part` of the run table at t: its alternative's instance becomes the
 * configuration's (a reference taken), with where the script made it. */
static int read_part(lua_State *L, tb_script_ctx *ctx, int t, const char *key, int part,
                     tb_run_config *cfg, const char *scenario_where, char *where,
                     size_t wlen) {
  lua_getfield(L, t, key);
  int a = lua_gettop(L);
  snprintf(where, wlen, "%s", get_str(L, a, "where"));
  if (strcmp(where, "?") == 0) snprintf(where, wlen, "%s", scenario_where); /* a default */
  lua_getfield(L, a, "inst");
  tb_instance *in = tb_script_instance(L, -1);
  lua_settop(L, a - 1);
  if (!in || in->comp->kind != tb_part_kind(part))
    return tb_script_fail(ctx, "%s: the run's %s is not a resolved %s", where, key,
                          tb_kind_name(tb_part_kind(part)));
  tb_config_set_part(cfg, part, in);
  return 0;
}

/* What a loss (and every loss it wraps) requires of the scenario, against
 * what this one provides: the sample ids always; soft targets only from a
 * batch transform (`soft`: the scenario's makes them), which every loss of
 * the tree must then read (TB_LOSS_SOFT_TARGETS); a cosine head only from a
 * model with head = "cosine". A mismatch is an error here rather than a
 * silent fallback. */
static int check_requires(tb_script_ctx *ctx, const tb_instance *in, int cosine_head,
                          const char *where, const tb_instance *transform) {
  const tb_component *c = in->comp;
  const int soft = !tb_stage_is_default(transform);
  if (c->kind == TB_KIND_LOSS) {
    char label[160], tl[160];
    tb_component_label(c, label, sizeof label);
    tb_component_label(transform->comp, tl, sizeof tl);
    if ((c->requires & TB_REQ_SOFT_TARGETS) && !soft)
      return tb_script_fail(ctx,
                            "%s: %s requires soft targets, which no part of the scenario "
                            "provides (a batch transform makes them: tb.transform.mixup)",
                            where, label);
    if (soft && !(c->flags & TB_LOSS_SOFT_TARGETS) && !(c->requires & TB_REQ_SOFT_TARGETS))
      return tb_script_fail(ctx,
                            "%s: %s does not read soft targets (TB_LOSS_SOFT_TARGETS), which "
                            "the scenario's transform %s makes: it would train on the "
                            "labels of mixed inputs",
                            where, label, tl);
    if ((c->requires & TB_REQ_COSINE_HEAD) && !cosine_head)
      return tb_script_fail(ctx,
                            "%s: %s requires a cosine head, which the scenario's model does "
                            "not have (give the model head = \"cosine\")",
                            where, label);
  }
  for (int i = 0; i < in->n; i++)
    if (in->child[i] && check_requires(ctx, in->child[i], cosine_head, where, transform))
      return -1;
  return 0;
}

/* How many losses of the tree at `in` (a wrapper and its bases) declare
 * that they read cos theta: such a loss owns the scale s. */
static int cosine_readers(const tb_instance *in) {
  int n = in->comp->kind == TB_KIND_LOSS && (in->comp->requires & TB_REQ_COSINE_HEAD);
  for (int i = 0; i < in->n; i++)
    if (in->child[i]) n += cosine_readers(in->child[i]);
  return n;
}

/* The reverse of a loss's requirement: a cosine head's outputs are cos theta
 * in [-1, 1], and a loss that does not declare TB_REQ_COSINE_HEAD would
 * train on them as logits, unscaled (softmax over [-1, 1] can barely tell
 * the classes apart), without any error. And one loss of the tree owns the
 * scale the metrics see: two would leave it ambiguous. */
static int check_head(tb_script_ctx *ctx, const tb_run_config *cfg, const char *model_where) {
  if (cfg->model.head != TB_HEAD_COSINE) return 0;
  const int n = cosine_readers(cfg->parts[TB_PART_LOSS]);
  if (n == 1) return 0;
  char model[160], loss[160];
  tb_component_label(cfg->parts[TB_PART_MODEL]->comp, model, sizeof model);
  tb_component_label(cfg->parts[TB_PART_LOSS]->comp, loss, sizeof loss);
  if (n > 1)
    return tb_script_fail(ctx,
                          "%s: %s: %d losses in %s (with its bases) read the cosine head; "
                          "exactly one may own the scale s the metrics see",
                          model_where, model, n, loss);
  return tb_script_fail(ctx,
                        "%s: %s: head = \"cosine\" outputs cos theta in [-1, 1], which %s "
                        "would read as logits, unscaled: it needs a loss that declares "
                        "TB_REQ_COSINE_HEAD (the loss owns the scale), or head = \"linear\"",
                        model_where, model, loss);
}

/* The model's sizes, now that the data gives D and K, against util.h's limits:
 * a run past them would fail (or, before the limits, crash) in its worker.
 * The rows of one pass are bounded as the trainer sets them: the batch, or
 * an evaluation chunk of a split (at most all rows). */
static int check_sizes(tb_script_ctx *ctx, const tb_run_config *cfg, const char *model_where,
                       const char *model_label, const char *scenario_where) {
  const tb_dataset *ds = cfg->data.loaded;
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
      return tb_script_fail(ctx,
                            "%s: %s: 'hidden' = {%s} gives %lld parameters on %d features and %d "
                            "classes, more than the limit of %lld",
                            model_where, model_label, hidden, (long long)params, ds->d, ds->k,
                            (long long)TB_MAX_PARAMS);
    return tb_script_fail(ctx,
                          "%s: %s: %lld parameters on %d features and %d classes, more than the "
                          "limit of %lld",
                          model_where, model_label, (long long)params, ds->d, ds->k,
                          (long long)TB_MAX_PARAMS);
  }
  if (work > TB_MAX_WORKSPACE)
    return tb_script_fail(ctx,
                          "%s: scenario '%s': 'batch_size' = %d%s: passes of %lld rows "
                          "through layers up to %lld wide need %lld floats of workspace, "
                          "more than the limit of %lld (use a smaller batch or narrower "
                          "layers)",
                          scenario_where, cfg->scenario, cfg->batch_size,
                          cfg->batch_size <= 0 ? " (full batch)" : "", (long long)cap,
                          (long long)widest, (long long)work, (long long)TB_MAX_WORKSPACE);
  return 0;
}

/* Index of an earlier run with this hash, or -1 after recording run `i`. */
static int dedupe(tb_script_ctx *ctx, const char *hash, int i) {
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
static int add_run(lua_State *L, tb_script_ctx *ctx, const char *scenario, const char *where) {
  int t = lua_gettop(L);
  tb_run_config cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.scenario, sizeof cfg.scenario, "%s", scenario);
  cfg.seed = get_int(L, t, "seed");
  cfg.epochs = (int)get_int(L, t, "epochs");
  cfg.batch_size = (int)get_int(L, t, "batch_size");
  cfg.timeout = get_num(L, t, "timeout");

  static const char *const keys[TB_N_PARTS] = {
      "data", "model", "loss", "optimizer", "schedule", "corruption", "transform", "reduction"};
  char at[TB_N_PARTS][512], msg[TB_ERRLEN];
  int rc = 0;
  for (int p = 0; p < TB_N_PARTS && rc == 0; p++)
    rc = read_part(L, ctx, t, keys[p], p, &cfg, where, at[p], sizeof at[p]);
  if (rc == 0 && tb_config_derive(&cfg, msg, sizeof msg))
    rc = tb_script_fail(ctx, "%s: %s", at[TB_PART_DATA], msg);
  if (rc == 0) {
    lua_getfield(L, t, "data");
    rc = resolve_data(ctx, &cfg.data, at[TB_PART_DATA], get_str(L, lua_gettop(L), "label"));
    lua_settop(L, t);
  }
  /* the checks that need K, now that the data is loaded: K-sized lists and
   * matrices and the validate hooks, through every nested component */
  for (int p = 0; p < TB_N_PARTS && rc == 0; p++)
    if (tb_instance_check(cfg.parts[p], cfg.data.loaded->k, msg, sizeof msg))
      rc = tb_script_fail(ctx, "%s: %s (the data has K = %d classes)", at[p], msg,
                          cfg.data.loaded->k);
  if (rc == 0)
    rc = check_requires(ctx, cfg.parts[TB_PART_LOSS], cfg.model.head == TB_HEAD_COSINE,
                        at[TB_PART_LOSS], cfg.parts[TB_PART_TRANSFORM]);
  if (rc == 0) rc = check_head(ctx, &cfg, at[TB_PART_MODEL]);
  /* a reduction from per-sample losses needs a loss that has them */
  if (rc == 0 && tb_reduction_needs_losses(cfg.parts[TB_PART_REDUCTION]) &&
      (tb_instance_tree_flags(cfg.parts[TB_PART_LOSS]) & TB_LOSS_NOT_MEAN))
    rc = tb_script_fail(ctx, "%s: the reduction '%s' weighs per-sample losses, and loss '%s' "
                        "is not a mean of per-sample terms (TB_LOSS_NOT_MEAN)",
                        at[TB_PART_REDUCTION], cfg.parts[TB_PART_REDUCTION]->comp->name,
                        cfg.parts[TB_PART_LOSS]->comp->name);
  if (rc == 0) {
    lua_getfield(L, t, "model");
    rc = check_sizes(ctx, &cfg, at[TB_PART_MODEL], get_str(L, lua_gettop(L), "label"), where);
    lua_settop(L, t);
  }
  if (rc == 0 && tb_config_canonicalize(&cfg, msg, sizeof msg))
    rc = tb_script_fail(ctx, "%s: %s", where, msg);
  if (rc) {
    tb_config_free(&cfg);
    return -1;
  }
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
int tb_script_convert(lua_State *L) {
  tb_script_ctx *ctx = lua_touserdata(L, 1);
  tb_sweep *out = ctx->out;
  lua_getfield(L, LUA_REGISTRYINDEX, "trainbench.scenarios");
  int all = lua_gettop(L);
  int n = (int)luaL_len(L, all);
  if (n == 0) {
    tb_script_fail(ctx, "%s: the script declares no scenario (see tb.scenario)", ctx->path);
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
