/*
 * stages.h — the built-in components of the training step's own stages
 * (stages.c), described by hyperparameter tables like every component
 * (hparam.h), and the work each one does:
 *
 *   corruption  changes the training split once per run, after the split
 *               and before anything is created from it (priors, class
 *               counts and means see the corrupted labels):
 *               none | label_noise
 *   transform   rewrites each training batch after it is sampled: its
 *               inputs, and soft targets [B][K] the loss reads:
 *               none | mixup
 *   reduction   turns the per-sample losses of a batch into the weights of
 *               the mean the optimizer descends: mean (all 1) | small_loss
 *
 * A part left out of a scenario is its first component (none, none, mean)
 * at its defaults, which leaves the step exactly as it was before these
 * stages existed; json.c leaves such a part out of a run's identity.
 *
 * Each stage function allocates nothing: what it needs per batch is lent
 * by the trainer, sized at create.
 *
 * Provides: tb_corruption_components, tb_transform_components,
 * tb_reduction_components, tb_stage_is_default, tb_corrupt_labels,
 * tb_transform_batch, tb_reduce_weights, tb_reduction_needs_losses.
 */
#ifndef TB_STAGES_H
#define TB_STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "hparam.h"
#include "registry.h"
#include "rng.h"

/* The components of each stage kind, the default first; their number in *n. */
const tb_component *const *tb_corruption_components(int *n);
const tb_component *const *tb_transform_components(int *n);
const tb_component *const *tb_reduction_components(int *n);

/* 1 when `in` is its stage's default (the first component, at its
 * defaults): the step does nothing new and the identity leaves it out. */
int tb_stage_is_default(const tb_instance *in);

/* Corrupt the labels y[n] in 0..k-1 in place with stream r; the number of
 * labels changed. */
int64_t tb_corrupt_labels(const tb_instance *in, int32_t *y, int64_t n, int k, tb_rng *r);

/* Transform a batch of n rows: inputs x [n][d] into xout [n][d], labels y
 * [n] in place (set to the argmax of the targets, the first on ties),
 * targets [n][k] filled with the transform's soft targets, perm [n] scratch.
 * 1 when it did (xout, y, targets written), 0 for none (nothing written). */
int tb_transform_batch(const tb_instance *in, const float *x, float *xout, int32_t *y,
                       double *targets, int32_t *perm, int n, int d, int k, tb_rng *r);

/* 1 when the reduction needs the batch's per-sample losses first. */
int tb_reduction_needs_losses(const tb_instance *in);
/* The weights w [n] of the batch's mean from its per-sample losses [n]
 * (the mean: (1/n) sum_i w_i loss_i), at epoch `epoch` (0-based) of the run;
 * `order` [n] scratch. The number of rows with weight 0. */
int tb_reduce_weights(const tb_instance *in, const double *losses, double *w, int32_t *order,
                      int n, int epoch);

#endif /* TB_STAGES_H */
