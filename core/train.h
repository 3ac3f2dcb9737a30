/*
 * train.h — the training engine's internal types: datasets and splits
 * (data.c), the model (model.c: linear / MLP with float32 parameters, a linear
 * or cosine head, and the matrix products of tensor.h) and one run's trainer
 * (train.c), whose evaluation passes compute the metrics of the registry
 * (metrics.h).
 *
 * Shapes: B = rows in a batch, D = input features, K = classes,
 * H_l = width of hidden layer l. Parameters of layer l: W_l [out][in]
 * (row-major, like PyTorch's nn.Linear) and b_l [out].
 */
#ifndef TB_TRAIN_H
#define TB_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hash.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"

/* ---- data.c ---- */
typedef struct tb_dataset {
  int n, d, k;
  float *x;     /* [n][d] */
  int32_t *y;   /* [n] */
  char content_hash[TB_HASHLEN]; /* of the bytes these values were parsed from */
} tb_dataset;

typedef struct tb_split_part {
  const char *name; /* train | val | test */
  int n;
  float *x;         /* [n][d], standardized */
  int32_t *y;
} tb_split_part;

typedef struct tb_split {
  int d, k;
  tb_split_part part[3];
  double *priors;   /* [k] class frequencies of the training part */
} tb_split;

/* The folder of shipped datasets (source tree's data/ for a build tree,
 * <prefix>/share/trainbench/data when installed). */
int tb_data_dir(char *out, size_t outlen);
/* Fill spec->path for built-in datasets and spec->content_hash (hash of the
 * file's bytes, or of the blobs parameters). */
int tb_data_spec_resolve(tb_data_spec *spec, char *err, size_t errlen);

/* Resolve spec's file, read it once, set spec->content_hash to the hash of
 * those bytes and parse and validate the same bytes (blobs: generate).
 * Errors name the place: "FILE:LINE:COLUMN: field F: ...". */
int tb_data_load(tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen);
/* The same for a spec that is already resolved (configurations built by
 * hand): when spec->content_hash is set, the bytes read must have that hash. */
int tb_dataset_load(const tb_data_spec *spec, tb_dataset *ds, char *err, size_t errlen);
void tb_dataset_free(tb_dataset *ds);
int tb_split_make(const tb_dataset *ds, const tb_data_spec *spec, int64_t seed, tb_split *sp,
                  char *err, size_t errlen);
void tb_split_free(tb_split *sp);

/* ---- model.c ---- */
#define TB_MAX_LAYERS (TB_MAX_HIDDEN + 1)

typedef struct tb_model {
  int n_layers;              /* linear: 1; mlp: hidden + 1 */
  int dims[TB_MAX_LAYERS + 1]; /* dims[0] = D, dims[L] = K */
  int activation;
  int head;                  /* enum tb_head: TB_HEAD_LINEAR or TB_HEAD_COSINE */
  int cap;                   /* rows the workspace holds */
  int64_t n_params;          /* total floats */
  int n_tensors;             /* weight, bias per layer: 2 L, or 2 L - 1 (a cosine head has no bias) */
  tb_tensor tensors[2 * TB_MAX_LAYERS]; /* views into params */
  tb_tensor gtensors[2 * TB_MAX_LAYERS]; /* views into grads */
  char names[2 * TB_MAX_LAYERS][24];
  float *params;             /* one allocation: all weights and biases */
  float *grads;              /* same layout */
  /* workspace, [cap][dims[l]] each: pre-activations and activations (one
   * buffer for relu, which is applied in place) */
  float *pre[TB_MAX_LAYERS + 1];
  float *act[TB_MAX_LAYERS + 1];
  float *dact[2];            /* [cap][max dim] backward: d act[l-1], then in place d pre[l-1] */
  float *tan[2];             /* [cap][max dim] JVP: the tangents of pre[l], then act[l] */
  /* the cosine head's (NULL for a linear head): its scaled gradient
   * [cap][K]; 1/max(norm, eps) of the features [cap] and of the weight rows
   * [K] from the forward pass, and scratch of the same sizes (one block) */
  float *head_dy;
  double *hinv, *hdot, *winv, *wdot;
} tb_model;

/* Rows a trainer's model workspace holds: the batch, or an evaluation chunk
 * of up to TB_EVAL_CHUNK rows of a split, whichever is larger. */
#define TB_EVAL_CHUNK 512

/* Sizes in floats of a model of this spec on d inputs and k classes: its
 * parameters and its workspace for `cap` rows (saturating at INT64_MAX, so
 * any widths can be checked against the limits of util.h). The widest layer
 * (d and k included) goes to *widest when widest is not NULL. */
void tb_model_size(const tb_model_spec *spec, int64_t d, int64_t k, int64_t cap,
                   int64_t *params, int64_t *workspace, int64_t *widest);
/* Fails with a message, allocating nothing, past TB_MAX_WIDTH,
 * TB_MAX_PARAMS or TB_MAX_WORKSPACE. */
int tb_model_create(tb_model *m, const tb_model_spec *spec, int d, int k, int cap, char *err,
                    size_t errlen);
void tb_model_free(tb_model *m);
/* Initialize params from the "init" stream. */
void tb_model_init(tb_model *m, int init, tb_rng *r);
/* Pointers to each tensor's data inside a flat parameter vector laid out like m->params. */
void tb_model_views(const tb_model *m, const float *flat, const float **out);
/* logits[B][K] (float) = f(x[B][D]) with parameters P (one pointer per tensor). */
const float *tb_model_forward(tb_model *m, const float *const *P, const float *x, int B);
/* After forward at the same P and x: gradients into G from dlogits[B][K]. */
void tb_model_backward(tb_model *m, const float *const *P, float *const *G, const float *x,
                       const float *dlogits, int B);
/* tb_model_backward, calling done(ud, i) as soon as tensor i's gradient is
 * complete (last layer first), while it is still in cache: a caller that
 * reads every gradient (the gradient norm) reads it there rather than from
 * memory. */
typedef void (*tb_grad_done_fn)(void *ud, int tensor);
void tb_model_backward_each(tb_model *m, const float *const *P, float *const *G,
                            const float *x, const float *dlogits, int B, tb_grad_done_fn done,
                            void *ud);
/* After forward at the same P and x: dx[B][D] = d/dx of sum(dout . out), the
 * gradient with respect to the input of the outputs weighted by dout[B][K]
 * (adversarial evaluation: FGSM). No parameter gradient is computed. */
void tb_model_input_grad(tb_model *m, const float *const *P, const float *x, const float *dout,
                         int B, float *dx);
/* After forward at the same P and x: out[B][K] = J(P) . V (forward mode). */
void tb_model_jvp(tb_model *m, const float *const *P, const float *const *V, const float *x,
                  int B, double *out);

/* ---- train.c ---- */

typedef struct tb_trainer tb_trainer;
/* Everything one run needs, allocated up front: after tb_trainer_create the
 * step loop allocates nothing. */
int tb_trainer_create(tb_trainer **out, const tb_run_config *cfg, char *err, size_t errlen);
void tb_trainer_free(tb_trainer *t);
/* One optimizer step on the next batch. Returns 0, 1 when the loss is not
 * finite (diverged), or -1 when a plugin failed or misused a service
 * (message in err, naming it). */
int tb_trainer_step(tb_trainer *t, char *err, size_t errlen);
/* Evaluate every non-empty split into res at `epoch`, with the optimizer's
 * eval_params where it gives them: every metric of the registry (metrics.h)
 * and, at the run's last epoch, each split's confusion counts and
 * calibration bins. 0, or -1 when a plugin misused a service during the
 * pass (a report outside TRAIN, an undeclared draw). */
int tb_trainer_evaluate(tb_trainer *t, int epoch, tb_run_result *res, char *err, size_t errlen);
/* Train the whole run, reporting metrics, epoch times, train.loss and the
 * series the plugins report into res; the callback (may be NULL) is called
 * after each epoch's metrics are added. */
typedef void (*tb_epoch_cb)(void *ud, int epoch, const tb_run_result *res);
int tb_train_run(const tb_run_config *cfg, tb_run_result *res, tb_epoch_cb cb, void *ud);

#endif /* TB_TRAIN_H */
