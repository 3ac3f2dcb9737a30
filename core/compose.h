/*
 * compose.h — composition: a loss or optimizer and the bases it wraps, as a
 * tree of nodes, one per plugin instance (compose.c). The trainer
 * (train.c) and the checker's instances (probe.c) both build their
 * components this way and run bases through the same calls, so a wrapper
 * is held to the same rules in a run and in `trainbench check`.
 *
 * A base is the instance a COMPONENT hyperparameter of the wrapper's own
 * kind names. Bases are created before their wrapper, depth first, each
 * with its own state and its own random stream (seed, "<prefix><role>",
 * e.g. "plugin:optimizer.base"). Every service reaches the host with the
 * calling node as host_ctx, so each component is held to what it declared
 * itself; the caller's `owner` is what its services need beyond that.
 *
 * Rules (the README's "Composition"): a wrapper must declare
 * TB_SERVICE_BASE and name a slot that holds a base; an optimizer base
 * steps with its wrapper's ctx (the schedule's factor included) and its own
 * host_ctx; a loss base sees the wrapper's batch without the outermost
 * loss's tensors; evaluation passes ask the first node with eval_params
 * down a chain of single bases; the cosine head's scale is asked of the
 * one loss in the tree that requires a cosine head.
 *
 * Provides: tb_node_open_bases, tb_node_free_bases, tb_node_free, tb_is_base_slot, tb_node_base,
 * tb_node_step_base, tb_node_base_batch, tb_node_eval_params,
 * tb_instance_tree_flags, tb_node_single_base, tb_node_scale_owner,
 * tb_node_head_scale.
 */
#ifndef TB_COMPOSE_H
#define TB_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "hparam.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"

typedef struct tb_node {
  const tb_component *c;
  void *owner;            /* the trainer or the probe instance the tree belongs to */
  void *state;
  int created;            /* state is the plugin's: destroy it */
  char role[64];          /* "loss", "optimizer", "optimizer.base", ... */
  tb_instance *in;        /* a base's instance (a reference); NULL for a root */
  tb_rng rng, rng_at;     /* the node's stream, and where a loss's is put back */
  const tb_step_ctx *ctx; /* an optimizer: the ctx of its step in progress */
  tb_step_ctx own_ctx;    /* a base's ctx: its wrapper's, with itself as host_ctx */
  struct tb_node *child[TB_MAX_HP]; /* the bases, by hyperparameter slot */
} tb_node;

/* 1 when hyperparameter i of c names a base: a COMPONENT of c's own kind. */
int tb_is_base_slot(const tb_component *c, int i);

/* Create one node's plugin instance (its hp and values are nd->in's; a
 * stream nd->rng); 0, or non-zero with the reason in msg. */
typedef int (*tb_node_create_fn)(tb_node *nd, void *arg, char *msg, size_t len);

/* Open the bases of `nd`: bases[i] (an instance, or NULL) for each slot i of
 * a COMPONENT hyperparameter of nd's own kind, recursively through each
 * base's own instance, at most 16 deep; `create` makes each plugin instance.
 * The tree is kept in nd whatever happens (tb_node_free_bases frees it).
 * 0, or -1 with err naming the base, its role and the reason. */
int tb_node_open_bases(tb_node *nd, tb_instance *const *bases, tb_node_create_fn create,
                       void *arg, uint64_t seed, const char *stream_prefix, char *err,
                       size_t errlen);
/* Destroy and free the bases of nd (not nd itself). */
void tb_node_free_bases(tb_node *nd);
/* Destroy and free an allocated node (its plugin state if created, its
 * instance reference) with its bases; NULL is fine. */
void tb_node_free(tb_node *nd);

/* The base of the calling node at `slot`; NULL when a run refuses the call
 * (`call` is "step_base", "eval_base" or "eval_params_base"), with the
 * reason in why: not declared, or a slot that holds no base. */
tb_node *tb_node_base(tb_node *nd, int slot, const char *call, char *why, size_t len);
/* One step of base b of nd on params and grads, with nd's ctx and b as its
 * host_ctx; the base's return value. */
int tb_node_step_base(tb_node *nd, tb_node *b, tb_tensor *params, const tb_tensor *grads);
/* The batch base b sees of its wrapper's: the wrapper's, without tensors,
 * with b as host_ctx and the services given. */
void tb_node_base_batch(tb_loss_batch *bb, const tb_loss_batch *from, tb_node *b,
                        int (*report)(void *, const char *, double),
                        double (*eval_base)(void *, int, const tb_loss_batch *));
/* The flags of a component and every base under it, OR-ed: a loss over a
 * base that is not a mean (TB_LOSS_NOT_MEAN) is not one either. */
uint32_t tb_instance_tree_flags(const tb_instance *in);
/* The only base of nd, or NULL when it has none or several. */
const tb_node *tb_node_single_base(const tb_node *nd);
/* The node whose eval_params evaluation passes use: nd if it has one, else
 * down the chain of single bases; NULL when none has. */
const tb_node *tb_node_eval_params(const tb_node *nd);

/* The node whose loss owns the cosine head's scale: the first, depth first
 * from nd, whose loss requires a cosine head (a script with a cosine head
 * has exactly one); NULL when none does (a linear head). */
const tb_node *tb_node_scale_owner(const tb_node *nd);
/* Ask owner's head_scale for b (every field but scale set) and put the
 * answer in b->scale (0 when owner is NULL); 0, or -1 with why when the
 * answer is not finite and > 0. */
int tb_node_head_scale(const tb_node *owner, tb_loss_batch *b, char *why, size_t len);

#endif /* TB_COMPOSE_H */
