/*
 * trainbench/plugin.h — the whole plugin ABI (version 2.2).
 *
 * A plugin is a shared object that exports one symbol, `tb_plugin_entry`,
 * returning a static `tb_plugin` descriptor. One file may provide several
 * losses, optimizers and schedules. A plugin includes nothing of trainbench
 * but this header (and, if it likes, the header-only trainbench/plugin_util.h)
 * and never links against the core: whatever it needs from the host (stable
 * softmax, random draws, vector ops, matrix products, loss evaluations, its
 * base component) comes through the function tables below, in the manner of
 * SQLite's sqlite3_api_routines.
 *
 * Compatibility rules (checked by the loader before it touches anything else):
 *   - abi_major must equal the host's TB_ABI_MAJOR (a 1.x plugin is refused
 *     with "ABI 1.0: rebuild against 2.2");
 *   - abi_minor must not be newer than the host's TB_ABI_MINOR;
 *   - every definition a plugin hands over (tb_plugin, tb_loss_def,
 *     tb_optimizer_def, tb_schedule_def) starts with its own size, and the
 *     hyperparameter tables' element size travels with them; each must be at
 *     least the frozen size of its struct in the minor version the plugin
 *     declares (TB_*_SIZE_2_0, TB_LOSS_DEF_SIZE_2_1 below). The loader copies
 *     each definition into a zeroed struct of the host's size, so a field
 *     appended in 2.1 reads as 0/NULL from a 2.0 plugin.
 * Structs only ever grow at their end; each field added after 2.0 is marked
 * with the minor version that added it.
 *
 * Structs the host lends (init, batch, step context, host table) are always
 * at least as large as the plugin's header says, so a plugin reads any field
 * it knows. Arrays the host lends have a stride, given beside them
 * (`tensor_size`): step over them with TB_TENSOR_AT, never with `params[i]`,
 * so that a tensor grown by a later minor does not break older plugins.
 *
 * Ownership: the core owns parameters, gradients, logits and every buffer it
 * passes in; it lends them for the duration of one call. A plugin owns the
 * state it creates in `create` and frees it in `destroy`.
 *
 * Shapes: N = samples in the batch, K = classes, D = input features.
 */
#ifndef TRAINBENCH_PLUGIN_H
#define TRAINBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_ABI_MAJOR 2
#define TB_ABI_MINOR 2

#if defined(__GNUC__)
#define TB_EXPORT __attribute__((visibility("default")))
#else
#define TB_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Hyperparameters                                                          */
/* ------------------------------------------------------------------------ */

enum tb_hp_type {
  TB_HP_REAL = 1,      /* a double in [min, max] */
  TB_HP_INT = 2,       /* an integer in [min, max] */
  TB_HP_BOOL = 3,      /* 0 or 1 */
  TB_HP_CHOICE = 4,    /* one of `choices`, reaching the plugin as its index */
  TB_HP_STRING = 5,    /* text (a file name, a mode the plugin checks itself) */
  TB_HP_LIST = 6,      /* a list of numbers, each in [min, max], length in [min_n, max_n] */
  TB_HP_RECORD = 7,    /* named numbers: `choices` lists the field names, values in that order */
  TB_HP_MATRIX = 8,    /* a matrix of numbers, each in [min, max] (row-major) */
  TB_HP_COMPONENT = 9  /* another component of kind `component_kind`: a base to wrap */
};

/* Hyperparameter flags. */
#define TB_HPF_INTEGER  (1u << 0) /* LIST/RECORD/MATRIX: every element an integer */
#define TB_HPF_K        (1u << 1) /* LIST: K elements; MATRIX: K x K (K = the data's classes) */
#define TB_HPF_REQUIRED (1u << 2) /* no default: a script must give it */

/* One row of a component's static hyperparameter table. The 2.0 fields
 * after `help` have a meaning only for the types that name them; leave them
 * zero otherwise. */
typedef struct tb_hparam {
  const char *name;            /* lowercase identifier, e.g. "lr" */
  int type;                    /* enum tb_hp_type */
  double def;                  /* REAL/INT/BOOL default; CHOICE: the option's index */
  double min, max;             /* REAL/INT, and each element of LIST/RECORD/MATRIX */
  int log_scale;               /* 1 if the natural sweep scale is logarithmic */
  const char *const *choices;  /* CHOICE: options; RECORD: field names (NULL-terminated) */
  const char *help;            /* one line shown by `trainbench describe` */
  const char *def_text;        /* STRING: the default; COMPONENT: the default component's name */
  const double *def_list;      /* LIST/RECORD/MATRIX: default elements (row-major), or NULL */
  int32_t def_n;               /* elements in def_list (MATRIX: rows * cols) */
  int32_t def_cols;            /* MATRIX: columns of the default */
  int32_t min_n, max_n;        /* LIST: allowed lengths (0, 0: any) */
  int component_kind;          /* COMPONENT: enum tb_kind */
  uint32_t flags;              /* TB_HPF_* */
} tb_hparam;

/* A hyperparameter's value as the plugin receives it. `hp[i]` (double)
 * carries the scalar types; `values[i]` every type. */
typedef struct tb_value {
  double num;                  /* REAL, INT, BOOL (0/1), CHOICE (index); NaN for the others */
  const char *text;            /* STRING; CHOICE: the option; COMPONENT: the component's name */
  const double *list;          /* LIST, RECORD (field order), MATRIX (row-major); else NULL */
  int64_t n;                   /* elements in list */
  int64_t rows, cols;          /* MATRIX (a LIST is 1 x n) */
} tb_value;

/* Optional check of a combination of values (e.g. nesterov needs momentum),
 * run when a script is loaded. `k` is the number of classes of the scenario's
 * data. Return 0 if valid; otherwise write a lowercase message to err and
 * return non-zero. `v` is in table order. */
typedef int (*tb_validate_fn)(const tb_value *v, int k, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

typedef struct tb_rng tb_rng; /* a random stream owned by the host */

enum tb_kind { TB_KIND_LOSS = 1, TB_KIND_OPTIMIZER = 2, TB_KIND_SCHEDULE = 3 };

/* Flags a component sets in `services` for the host services it calls. The
 * math and vector helpers of tb_host_api are always available; a call to a
 * service that was not declared — random draws included — fails the run. */
#define TB_SERVICE_RNG        (1u << 0) /* draws from init->rng */
#define TB_SERVICE_EVAL       (1u << 1) /* tb_step_ctx.eval: loss/gradient at candidate parameters */
#define TB_SERVICE_JVP        (1u << 2) /* tb_step_ctx.jvp: Jacobian-vector product of the logits */
#define TB_SERVICE_NEXT_BATCH (1u << 3) /* tb_step_ctx.next_batch: draw a fresh training batch */
#define TB_SERVICE_REPORT     (1u << 4) /* report: a point of a named per-step series */
#define TB_SERVICE_BASE       (1u << 5) /* step_base / eval_base: run a wrapped component */

/* Helper table handed to every create call. Plugins share numerics through it
 * without linking the core and without copying it. */
typedef struct tb_host_api {
  uint32_t abi_major, abi_minor; /* the host's ABI version */
  uint32_t size;                 /* sizeof(tb_host_api) in the host */
  /* numerically stable softmax family over one row of K logits */
  void (*softmax)(double *p, const double *z, int k);      /* p[k] = softmax(z) */
  void (*log_softmax)(double *lp, const double *z, int k); /* lp[k] = log softmax(z) */
  double (*logsumexp)(const double *z, int k);             /* log sum exp z */
  /* random draws from a host stream (declare TB_SERVICE_RNG) */
  uint64_t (*rng_u64)(tb_rng *r);
  double (*rng_uniform)(tb_rng *r); /* [0, 1) with 53 random bits */
  double (*rng_normal)(tb_rng *r);  /* standard normal */
  /* small vector ops on float32 tensors; reductions accumulate in double */
  double (*dot)(const float *x, const float *y, int64_t n);
  double (*nrm2)(const float *x, int64_t n);
  void (*axpy)(float *y, float a, const float *x, int64_t n); /* y += a*x */
  void (*scal)(float *x, float a, int64_t n);                 /* x *= a */
  /* C[m][n] = alpha op(A) op(B) + beta C, row-major float32 (op = transpose if t*) */
  void (*sgemm)(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);
  /* Symmetric eigendecomposition of a[n][n] (double, row-major): on return w[n]
   * holds the eigenvalues in ascending order and row i of a the eigenvector of
   * w[i]. `work` has room for work_n doubles (at least 3n). 0, or non-zero if
   * it did not converge. No allocation. */
  int (*syev)(int n, double *a, double *w, double *work, int64_t work_n);
  /* 2.2. p[k] = softmax(z), and the return value logsumexp(z), from one pass
   * of k exps: bit for bit what softmax and logsumexp give apart, at half
   * their cost. For a loss that needs both (log p_j = z_j - the result);
   * present whenever a plugin declares 2.2 (the loader refuses a plugin newer
   * than its host). */
  double (*softmax_lse)(double *p, const double *z, int k);
} tb_host_api;

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */
/* ------------------------------------------------------------------------ */

/* What a tensor is, so that layer-wise optimizers (LARS, LAMB, Shampoo),
 * decay exclusion and min-max losses need no name parsing. */
enum tb_tensor_role {
  TB_ROLE_WEIGHT = 1, /* a hidden layer's weight [out][in] */
  TB_ROLE_BIAS = 2,   /* a layer's bias [out] (the head's bias too) */
  TB_ROLE_HEAD = 3,   /* the output layer's weight [K][in] */
  TB_ROLE_LOSS = 4    /* a trainable tensor the loss owns */
};
#define TB_TENSOR_NO_DECAY (1u << 0) /* optimizers apply no weight decay to it */
#define TB_TENSOR_ASCENT   (1u << 1) /* a dual variable: the core hands the optimizer its
                                        gradient negated, so descent is ascent */
#define TB_TENSOR_NONNEG   (1u << 2) /* the core projects it onto >= 0 after each step */

/* A named float32 tensor, e.g. "fc1.weight" of shape {out, in}. */
typedef struct tb_tensor {
  const char *name;
  float *data;      /* lent by the core; row-major */
  int64_t numel;
  int ndim;
  int64_t shape[4];
  int layer;        /* 0-based layer of the model; -1 for loss tensors */
  int role;         /* enum tb_tensor_role */
  uint32_t flags;   /* TB_TENSOR_* */
} tb_tensor;

/* Tensor i of an array the host lends with stride `size` (tensor_size). */
#define TB_TENSOR_AT(arr, size, i) \
  ((tb_tensor *)((char *)(arr) + (size_t)(size) * (size_t)(i)))
#define TB_CTENSOR_AT(arr, size, i) \
  ((const tb_tensor *)((const char *)(arr) + (size_t)(size) * (size_t)(i)))

/* ------------------------------------------------------------------------ */
/* Losses                                                                   */
/* ------------------------------------------------------------------------ */

/* Flags of a loss (tb_loss_def.flags). */
#define TB_LOSS_NOT_MEAN (1u << 0) /* not a mean of per-sample terms (AUC, F1 surrogates):
                                      evaluation passes call it once on a whole split, and
                                      `check` skips the 1/N and per-sample checks */
#define TB_LOSS_SOFT_TARGETS (1u << 1) /* 2.1: reads batch->targets (soft targets) when
                                          they are set: a batch transform that makes them
                                          (mixup) is refused at script load for a loss
                                          without it */
/* What a loss needs from the scenario (tb_loss_def.requires), checked when a
 * script is loaded: a mismatch is an error there, not a silent fallback. */
#define TB_REQ_SOFT_TARGETS (1u << 0) /* batch->targets set (a batch transform makes them) */
#define TB_REQ_COSINE_HEAD  (1u << 1) /* the model's head is cosine: logits are cos theta,
                                        and the loss owns the scale s (head_scale, 2.1) */
#define TB_REQ_SAMPLE_IDS   (1u << 2) /* batch->sample_ids set (per-sample memory) */

/* When a loss is called (tb_loss_batch.phase): a stateful loss updates its
 * state only in TB_PHASE_TRAIN, once per optimizer step. */
enum tb_phase {
  TB_PHASE_TRAIN = 1, /* the training step's own loss and gradient */
  TB_PHASE_PROBE = 2, /* a service call during the step (eval at other parameters, ...) */
  TB_PHASE_EVAL = 3   /* an evaluation pass over a split (no gradient) */
};

typedef struct tb_loss_init {
  const tb_host_api *host;
  const double *hp;             /* [n_hparams] scalar values, table order (NaN: not scalar) */
  const tb_value *values;       /* [n_hparams] every value */
  int n_classes;                /* K */
  const double *priors;         /* [K] class frequencies of the training split (sum 1) */
  tb_rng *rng;                  /* the run's plugin stream (TB_SERVICE_RNG) */
  const int64_t *class_counts;  /* [K] rows of each class in the training split */
  int64_t train_size;           /* rows in the training split */
  int n_features;               /* D */
  const float *class_means;     /* [K][D] per-class means of the (standardized) training inputs */
  /* Add a trainable tensor the loss owns (learnable temperature, margins,
   * dual variables), filled with `value`; 0-based index into batch->tensors,
   * or -1. The optimizer steps it with the model's (role TB_ROLE_LOSS). */
  int (*add_tensor)(void *host_ctx, const char *name, int ndim, const int64_t *shape,
                    double value, uint32_t flags);
  void *host_ctx;
} tb_loss_init;

/* One evaluation. The mean loss is (1/N) * sum_i w_i * loss_i, with w_i = 1
 * when `weights` is NULL; dlogits receives its gradient. */
typedef struct tb_loss_batch {
  int n, k;                 /* N samples, K classes */
  const double *logits;     /* [N][K] */
  const int32_t *labels;    /* [N] in 0..K-1 (always set; argmax of targets if soft) */
  const double *targets;    /* [N][K] soft targets, rows sum to 1; NULL: one-hot labels */
  const double *weights;    /* [N] per-sample weights; NULL: all 1 */
  const double *priors;     /* [K] training class priors */
  int epoch, n_epochs;      /* epoch in progress (0-based) and total, for annealed losses */
  int64_t step, n_steps;    /* optimizer steps done so far and total planned */
  int phase;                /* enum tb_phase */
  double *dlogits;          /* [N][K] out: d(mean loss)/d(logits); NULL: value only */
  const int64_t *sample_ids;/* [N] rows of the training split (TRAIN and PROBE); NULL in EVAL */
  const tb_tensor *tensors; /* the loss's own tensors (add_tensor), current values */
  tb_tensor *dtensors;      /* out with dlogits: d(mean loss)/d(tensor), same shapes */
  int n_tensors;
  uint32_t tensor_size;     /* stride of tensors and dtensors */
  double scale;             /* cosine head: the scale s the loss reported (head_scale) for
                               this call, so that s * logits are the logits metrics see;
                               0 for a linear head */
  void *host_ctx;
  /* TB_SERVICE_BASE: the mean loss of the base loss (the COMPONENT
   * hyperparameter `slot`) on batch `b` (a wrapper passes its own batch with
   * transformed logits), with its own state. */
  double (*eval_base)(void *host_ctx, int slot, const struct tb_loss_batch *b);
  /* TB_SERVICE_REPORT: a point of series `name` at this step (TRAIN only) */
  int (*report)(void *host_ctx, const char *name, double value);
} tb_loss_batch;

/* One row, for the row-wise form: the core walks the batch, skips rows of
 * weight 0 (zero gradient), sums w_i * loss_i and divides by N (a loss with
 * TB_LOSS_NOT_MEAN cannot have this form). */
typedef struct tb_loss_row {
  int k;                    /* K */
  const double *z;          /* [K] logits */
  int y;                    /* label */
  const double *target;     /* [K] soft target, or NULL */
  double grad_scale;        /* w_i / N: multiply the row's gradient by it */
  double *dz;               /* [K] out: grad_scale * d loss_i / d z, or NULL: value only */
  int64_t sample_id;        /* row of the training split, -1 in EVAL */
  int phase;                /* enum tb_phase */
  const struct tb_loss_batch *batch; /* the whole batch: priors, epoch and step, the head's
                                        scale, the loss's tensors, the services */
} tb_loss_row;

typedef struct tb_loss_def {
  uint32_t size;             /* sizeof(tb_loss_def) as compiled (TB_DEF_SIZES) */
  uint32_t hparam_size;      /* sizeof(tb_hparam) as compiled */
  const char *name;          /* unique identifier, e.g. "cross_entropy" */
  const char *version;       /* bump when the numbers it produces or a default change */
  const char *summary;       /* one line */
  const char *reference;     /* paper and year (say "reconstruction" where it is one) */
  uint32_t services;         /* TB_SERVICE_* */
  uint32_t flags;            /* TB_LOSS_* */
  uint32_t requires;         /* TB_REQ_* */
  const tb_hparam *hparams;
  int n_hparams;
  tb_validate_fn validate;   /* optional */
  /* Return 0 and set *state (may be NULL for stateless losses), or write err. */
  int (*create)(const tb_loss_init *init, void **state, char *err, size_t errlen);
  /* The batch form: return the mean loss, write dlogits (and dtensors) when
   * dlogits is non-NULL. Non-finite = diverged. Optional if `row` is set. */
  double (*eval)(void *state, const tb_loss_batch *b);
  /* The row-wise form: return loss_i, write r->dz when non-NULL. Used when
   * `eval` is NULL. */
  double (*row)(void *state, const tb_loss_row *r);
  void (*destroy)(void *state); /* optional; called once per successful create */
  /* 2.1. TB_REQ_COSINE_HEAD: the scale s of the cosine head, which the loss
   * owns (a constant hyperparameter, or one it adapts or learns). The logits
   * it receives are cos theta; every metric, and anything else that reads
   * the model's logits outside the loss (calibration, attacks), sees
   * s * cos theta, without the loss's margin. The host calls it before each
   * call of the loss, with the batch about to be evaluated (every field but
   * `scale`, which it then sets to the answer), and fails the run if the
   * answer is not finite and > 0. Required of a loss that requires a cosine
   * head; NULL for the others. */
  double (*head_scale)(void *state, const tb_loss_batch *b);
} tb_loss_def;

/* ------------------------------------------------------------------------ */
/* Optimizers                                                               */
/* ------------------------------------------------------------------------ */

typedef struct tb_optimizer_init {
  const tb_host_api *host;
  const double *hp;          /* [n_hparams] scalar values, table order */
  const tb_value *values;    /* [n_hparams] every value */
  const tb_tensor *params;   /* [n_params], stride tensor_size: names, shapes, roles, values */
  int n_params;
  uint32_t tensor_size;      /* stride of params (TB_CTENSOR_AT) */
  tb_rng *rng;               /* the run's plugin stream (TB_SERVICE_RNG) */
} tb_optimizer_init;

typedef struct tb_step_ctx {
  int64_t step;              /* 1 on the first step */
  double lr_factor;          /* schedule factor: the effective learning rate is lr * lr_factor */
  int epoch;                 /* epoch in progress, 0-based */
  int batch_n;               /* N of the current batch */
  int n_classes;             /* K */
  void *host_ctx;            /* pass back to the services */
  /* Services. They use their own buffers: `step` may pass its own arrays, and
   * nothing lent to `step` is overwritten. Arrays of pointers are in
   * parameter order, each of the matching tensor's numel. */
  /* TB_SERVICE_EVAL: mean training loss on the current batch at `params`
   * (NULL: the current ones); if grads != NULL, also its gradient. NaN on failure. */
  double (*eval)(void *host_ctx, const float *const *params, float *const *grads);
  /* TB_SERVICE_JVP: out[N][K] = (d logits / d params) . dir, at `params`
   * (NULL: the current parameters). Returns 0 on success. */
  int (*jvp)(void *host_ctx, const float *const *params, const float *const *dir, double *out);
  int n_params;
  uint32_t tensor_size;      /* stride of the params and grads arrays of step */
  double loss;               /* mean loss of the current batch (its gradient is `grads`) */
  const double *logits;      /* [N][K] of the current batch at the current parameters */
  const int32_t *labels;     /* [N] */
  const int64_t *sample_ids; /* [N] rows of the training split */
  int64_t n_steps;           /* steps in the whole run */
  int64_t steps_per_epoch;
  int64_t train_size;        /* rows of the training split */
  /* TB_SERVICE_NEXT_BATCH: draw a fresh batch from the training stream; the
   * following eval and jvp calls use it (Entropy-SGD). 0 on success. */
  int (*next_batch)(void *host_ctx);
  /* TB_SERVICE_REPORT: a point of series `name` at this step. 0 on success. */
  int (*report)(void *host_ctx, const char *name, double value);
  /* TB_SERVICE_BASE: one step of the base optimizer (the COMPONENT
   * hyperparameter `slot`) with its own state, on params and grads (the
   * wrapper may pass its own arrays, with this ctx's stride). 0 on success. */
  int (*step_base)(void *host_ctx, int slot, tb_tensor *params, const tb_tensor *grads);
  /* TB_SERVICE_BASE: the base's eval_params (see below), or NULL. */
  const float *(*eval_params_base)(void *host_ctx, int slot, int i);
} tb_step_ctx;

typedef struct tb_optimizer_def {
  uint32_t size;             /* sizeof(tb_optimizer_def) as compiled (TB_DEF_SIZES) */
  uint32_t hparam_size;
  const char *name;
  const char *version;
  const char *summary;
  const char *reference;
  uint32_t services;
  uint32_t flags;            /* none yet */
  const tb_hparam *hparams;  /* must include "lr" (the schedule scales it), unless the
                                optimizer wraps a base optimizer (a COMPONENT hyperparameter) */
  int n_hparams;
  tb_validate_fn validate;
  int (*create)(const tb_optimizer_init *init, void **state, char *err, size_t errlen);
  /* Update params in place from grads (both with stride ctx->tensor_size).
   * Return 0, or non-zero on failure. */
  int (*step)(void *state, tb_tensor *params, const tb_tensor *grads, const tb_step_ctx *ctx);
  void (*destroy)(void *state);
  /* Optional: the values evaluation passes should use for tensor i (an EMA or
   * SWA average), or NULL for the tensor's own. Called before each pass. */
  const float *(*eval_params)(void *state, int i);
} tb_optimizer_def;

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

typedef struct tb_schedule_init {
  const tb_host_api *host;
  const double *hp;
  const tb_value *values;
  int64_t steps_per_epoch;   /* S */
  int64_t n_steps;           /* T = S * epochs */
  int n_epochs;
} tb_schedule_init;

/* A metric of the last evaluation pass (for plateau schedules). */
typedef struct tb_metric_value {
  const char *split;         /* "train", "val", "test" */
  const char *name;          /* "loss", "accuracy", ... */
  double value;
} tb_metric_value;

typedef struct tb_schedule_ctx {
  int64_t step;              /* steps done before this one (0 first) */
  int64_t steps_per_epoch, n_steps;
  int epoch;                 /* epoch in progress, 0-based */
  const tb_metric_value *last_eval; /* the last evaluation pass's metrics (epoch 0 first) */
  int n_last_eval;
  uint32_t metric_size;      /* stride of last_eval */
} tb_schedule_ctx;

typedef struct tb_schedule_def {
  uint32_t size;             /* sizeof(tb_schedule_def) as compiled (TB_DEF_SIZES) */
  uint32_t hparam_size;
  const char *name;
  const char *version;
  const char *summary;
  const char *reference;
  uint32_t services;
  uint32_t flags;
  const tb_hparam *hparams;
  int n_hparams;
  tb_validate_fn validate;
  int (*create)(const tb_schedule_init *init, void **state, char *err, size_t errlen);
  /* The learning-rate factor for the coming step (finite, >= 0). */
  double (*factor)(void *state, const tb_schedule_ctx *ctx);
  void (*destroy)(void *state);
} tb_schedule_def;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tb_plugin {
  uint32_t abi_major, abi_minor;
  uint32_t size;                             /* sizeof(tb_plugin) as compiled */
  const tb_loss_def *const *losses;          /* NULL-terminated, or NULL */
  const tb_optimizer_def *const *optimizers; /* NULL-terminated, or NULL */
  const tb_schedule_def *const *schedules;   /* NULL-terminated, or NULL */
} tb_plugin;

/* The version and size fields of a tb_plugin initializer. */
#define TB_PLUGIN_HEADER TB_ABI_MAJOR, TB_ABI_MINOR, (uint32_t)sizeof(tb_plugin)
/* The size fields that open a definition: {TB_DEF_SIZES(tb_loss_def), "name", ...}
 * or, designated, .size = ..., .hparam_size = ... */
#define TB_DEF_SIZES(T) (uint32_t)sizeof(T), (uint32_t)sizeof(tb_hparam)

/* The sizes of the 2.0 structs, frozen: a later minor appends fields, the
 * loader keeps accepting definitions of these sizes from 2.0 plugins. 2.1
 * appended head_scale to tb_loss_def; the other structs kept their 2.0 size.
 * 2.2 appended softmax_lse to the host table (which the host lends) and
 * changed no definition's size. */
#define TB_PLUGIN_SIZE_2_0 40
#define TB_HPARAM_SIZE_2_0 104
#define TB_LOSS_DEF_SIZE_2_0 112
#define TB_OPTIMIZER_DEF_SIZE_2_0 104
#define TB_SCHEDULE_DEF_SIZE_2_0 96
#define TB_LOSS_DEF_SIZE_2_1 120

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == UINT64_MAX
/* The last field of each struct in each minor ends at its frozen size (LP64). */
_Static_assert(offsetof(tb_plugin, schedules) + sizeof(void *) == TB_PLUGIN_SIZE_2_0,
               "tb_plugin 2.0 layout changed");
_Static_assert(offsetof(tb_hparam, flags) + sizeof(uint32_t) == TB_HPARAM_SIZE_2_0,
               "tb_hparam 2.0 layout changed");
_Static_assert(offsetof(tb_loss_def, destroy) + sizeof(void *) == TB_LOSS_DEF_SIZE_2_0,
               "tb_loss_def 2.0 layout changed");
_Static_assert(offsetof(tb_loss_def, head_scale) + sizeof(void *) == TB_LOSS_DEF_SIZE_2_1,
               "tb_loss_def 2.1 layout changed");
_Static_assert(offsetof(tb_optimizer_def, eval_params) + sizeof(void *) ==
                   TB_OPTIMIZER_DEF_SIZE_2_0,
               "tb_optimizer_def 2.0 layout changed");
_Static_assert(offsetof(tb_schedule_def, destroy) + sizeof(void *) == TB_SCHEDULE_DEF_SIZE_2_0,
               "tb_schedule_def 2.0 layout changed");
#endif

/* The one symbol a plugin exports. */
typedef const tb_plugin *(*tb_plugin_entry_fn)(void);
TB_EXPORT const tb_plugin *tb_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* TRAINBENCH_PLUGIN_H */
