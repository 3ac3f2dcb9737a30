/*
 * compose.c — the tree of a wrapper and its bases, shared by the trainer
 * and the checker's probe (see compose.h for the rules).
 *
 * Provides: tb_node_open_bases, tb_node_free_bases, tb_node_free, tb_is_base_slot, tb_node_base,
 * tb_node_step_base, tb_node_base_batch, tb_node_eval_params,
 * tb_instance_tree_flags, tb_node_single_base, tb_node_scale_owner,
 * tb_node_head_scale.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "registry.h"
#include "util.h"

#define MAX_DEPTH 16

int tb_is_base_slot(const tb_component *c, int i) {
  return c->hparams[i].type == TB_HP_COMPONENT && c->hparams[i].component_kind == c->kind;
}

static int open_bases(tb_node *nd, tb_instance *const *bases, tb_node_create_fn create,
                      void *arg, uint64_t seed, const char *prefix, int depth, char *err,
                      size_t errlen) {
  for (int i = 0; i < nd->c->n_hparams; i++) {
    if (!tb_is_base_slot(nd->c, i) || !bases[i]) continue;
    if (depth >= MAX_DEPTH) {
      tb_errf(err, errlen, "%s '%s' (%s): bases nest deeper than %d", tb_kind_name(nd->c->kind),
              nd->c->name, nd->role, MAX_DEPTH);
      return -1;
    }
    tb_node *b = calloc(1, sizeof *b);
    if (!b) abort();
    nd->child[i] = b;
    b->c = bases[i]->comp;
    b->owner = nd->owner;
    b->in = tb_instance_ref(bases[i]);
    if (snprintf(b->role, sizeof b->role, "%s.%s", nd->role, nd->c->hparams[i].name) >=
        (int)sizeof b->role) {
      tb_errf(err, errlen, "the role of a base is too long: %s.%s", nd->role,
              nd->c->hparams[i].name);
      return -1;
    }
    char purpose[96];
    snprintf(purpose, sizeof purpose, "%s%s", prefix, b->role);
    tb_rng_init(&b->rng, seed, purpose);
    b->rng_at = b->rng;
    if (open_bases(b, b->in->child, create, arg, seed, prefix, depth + 1, err, errlen))
      return -1;
    char msg[TB_ERRLEN] = "";
    if (create(b, arg, msg, sizeof msg)) {
      tb_errf(err, errlen, "%s '%s' (%s) failed to start: %s", tb_kind_name(b->c->kind),
              b->c->name, b->role, msg[0] ? msg : "no reason");
      return -1;
    }
    b->created = 1;
  }
  return 0;
}

int tb_node_open_bases(tb_node *nd, tb_instance *const *bases, tb_node_create_fn create,
                       void *arg, uint64_t seed, const char *stream_prefix, char *err,
                       size_t errlen) {
  return open_bases(nd, bases, create, arg, seed, stream_prefix, 0, err, errlen);
}

void tb_node_free_bases(tb_node *nd) {
  for (int i = 0; i < TB_MAX_HP; i++) {
    tb_node_free(nd->child[i]);
    nd->child[i] = NULL;
  }
}

void tb_node_free(tb_node *nd) {
  if (!nd) return;
  tb_node_free_bases(nd);
  if (nd->created && nd->c->kind == TB_KIND_LOSS && nd->c->loss->destroy)
    nd->c->loss->destroy(nd->state);
  if (nd->created && nd->c->kind == TB_KIND_OPTIMIZER && nd->c->opt->destroy)
    nd->c->opt->destroy(nd->state);
  if (nd->in) tb_instance_unref(nd->in);
  free(nd);
}

tb_node *tb_node_base(tb_node *nd, int slot, const char *call, char *why, size_t len) {
  const char *kind = tb_kind_name(nd->c->kind);
  if (!(nd->c->services & TB_SERVICE_BASE)) {
    snprintf(why, len, "%s '%s' called %s without declaring TB_SERVICE_BASE", kind, nd->c->name,
             call);
    return NULL;
  }
  if (slot < 0 || slot >= nd->c->n_hparams || !nd->child[slot]) {
    snprintf(why, len, "%s '%s' called %s with slot %d, which is not a %s hyperparameter of it",
             kind, nd->c->name, call, slot, kind);
    return NULL;
  }
  return nd->child[slot];
}

int tb_node_step_base(tb_node *nd, tb_node *b, tb_tensor *params, const tb_tensor *grads) {
  b->own_ctx = *nd->ctx;
  b->own_ctx.host_ctx = b;
  b->ctx = &b->own_ctx;
  return b->c->opt->step(b->state, params, grads, &b->own_ctx);
}

void tb_node_base_batch(tb_loss_batch *bb, const tb_loss_batch *from, tb_node *b,
                        int (*report)(void *, const char *, double),
                        double (*eval_base)(void *, int, const tb_loss_batch *)) {
  *bb = *from;
  bb->host_ctx = b;
  bb->tensors = NULL;
  bb->dtensors = NULL;
  bb->n_tensors = 0;
  bb->report = report;
  bb->eval_base = eval_base;
}

const tb_node *tb_node_single_base(const tb_node *nd) {
  const tb_node *only = NULL;
  int n = 0;
  for (int i = 0; i < TB_MAX_HP; i++)
    if (nd->child[i]) only = nd->child[i], n++;
  return n == 1 ? only : NULL;
}

const tb_node *tb_node_eval_params(const tb_node *nd) {
  while (nd && !nd->c->opt->eval_params) nd = tb_node_single_base(nd);
  return nd;
}

uint32_t tb_instance_tree_flags(const tb_instance *in) {
  uint32_t f = in->comp->flags;
  for (int i = 0; i < in->n; i++)
    if (in->child[i] && in->child[i]->comp->kind == in->comp->kind)
      f |= tb_instance_tree_flags(in->child[i]);
  return f;
}

const tb_node *tb_node_scale_owner(const tb_node *nd) {
  if (!nd) return NULL;
  if (nd->c->kind == TB_KIND_LOSS && (nd->c->requires & TB_REQ_COSINE_HEAD)) return nd;
  for (int i = 0; i < TB_MAX_HP; i++) {
    const tb_node *o = nd->child[i] ? tb_node_scale_owner(nd->child[i]) : NULL;
    if (o) return o;
  }
  return NULL;
}

int tb_node_head_scale(const tb_node *owner, tb_loss_batch *b, char *why, size_t len) {
  b->scale = 0;
  if (!owner) return 0;
  const double s = owner->c->loss->head_scale(owner->state, b);
  if (!(isfinite(s) && s > 0)) {
    snprintf(why, len, "loss '%s' reported the cosine head's scale %g (head_scale must return "
             "a finite s > 0)", owner->c->name, s);
    return -1;
  }
  b->scale = s;
  return 0;
}
