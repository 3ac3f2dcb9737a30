/*
 * trainbench/plugin.h — the whole plugin ABI (version 1.0).
 *
 * A plugin is a shared object that exports one symbol, `tb_plugin_entry`,
 * returning a static `tb_plugin` descriptor. One file may provide several
 * losses and optimizers. A plugin includes nothing of trainbench but this
 * header and never links against the core: whatever it needs from the host
 * (stable softmax, random draws, vector ops, loss evaluations) comes through
 * the function tables below, in the manner of SQLite's sqlite3_api_routines.
 *
 * Compatibility rules (checked by the loader before it touches anything else):
 *   - abi_major must equal the host's TB_ABI_MAJOR;
 *   - abi_minor must not be newer than the host's TB_ABI_MINOR;
 *   - every struct size the plugin declares must be at least the size that
 *     struct had in the minor version the plugin declares.
 * Structs only ever grow at their end; each field added after 1.0 is marked
 * with the minor version that added it.
 *
 * Ownership: the core owns parameters, gradients, logits and every buffer it
 * passes in; it lends them for the duration of one call. A plugin owns the
 * state it creates in `create` and frees it in `destroy`.
 *
 * Shapes: N = samples in the batch, K = classes.
 */
#ifndef TRAINBENCH_PLUGIN_H
#define TRAINBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_ABI_MAJOR 1
#define TB_ABI_MINOR 0

#if defined(__GNUC__)
#define TB_EXPORT __attribute__((visibility("default")))
#else
#define TB_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Hyperparameters                                                          */
/* ------------------------------------------------------------------------ */

enum tb_hp_type {
  TB_HP_REAL = 1,   /* double in [min, max] */
  TB_HP_INT = 2,    /* integer in [min, max] */
  TB_HP_BOOL = 3,   /* 0 or 1 (min/max ignored) */
  TB_HP_CHOICE = 4  /* index into `choices` (min/max ignored) */
};

/* One row of a component's static hyperparameter table. Every
 * hyperparameter has a default. Values reach the plugin as an array of
 * doubles in table order: bools as 0/1, choices as the option's index, so a
 * plugin never parses strings. */
typedef struct tb_hparam {
  const char *name;            /* lowercase identifier, e.g. "lr" */
  int type;                    /* enum tb_hp_type */
  double def;                  /* default value (choice: option index) */
  double min, max;             /* inclusive range (REAL and INT) */
  int log_scale;               /* 1 if the natural sweep scale is logarithmic */
  const char *const *choices;  /* TB_HP_CHOICE: NULL-terminated option names */
  const char *help;            /* one line shown by `trainbench describe` */
} tb_hparam;

/* Optional check of a combination of values (e.g. nesterov needs momentum).
 * Return 0 if valid; otherwise write a lowercase message to err and return
 * non-zero. `hp` is in table order. */
typedef int (*tb_validate_fn)(const double *hp, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

typedef struct tb_rng tb_rng; /* a random stream owned by the host */

/* Flags a component sets in `services` for the host services it calls. The
 * math and vector helpers of tb_host_api are always available; the flags
 * below must be declared, and the host refuses undeclared calls. */
#define TB_SERVICE_RNG   (1u << 0) /* draws from init->rng */
#define TB_SERVICE_EVAL  (1u << 1) /* tb_step_ctx.eval: loss/gradient at candidate parameters */
#define TB_SERVICE_JVP   (1u << 2) /* tb_step_ctx.jvp: Jacobian-vector product of the logits */

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
} tb_host_api;

/* ------------------------------------------------------------------------ */
/* Losses                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tb_loss_init {
  const tb_host_api *host;
  const double *hp;      /* [n_hparams] validated values, table order */
  int n_classes;         /* K */
  const double *priors;  /* [K] class frequencies of the training split (sum 1) */
  tb_rng *rng;           /* the run's plugin stream (TB_SERVICE_RNG) */
} tb_loss_init;

/* One evaluation. The mean loss is (1/N) * sum_i w_i * loss_i, with w_i = 1
 * when `weights` is NULL; dlogits receives its gradient. */
typedef struct tb_loss_batch {
  int n, k;               /* N samples, K classes */
  const double *logits;   /* [N][K] */
  const int32_t *labels;  /* [N] in 0..K-1 (always set; argmax of targets if soft) */
  const double *targets;  /* [N][K] soft targets, rows sum to 1; NULL: one-hot labels */
  const double *weights;  /* [N] per-sample weights; NULL: all 1 */
  const double *priors;   /* [K] training class priors */
  int epoch, n_epochs;    /* epoch in progress (0-based) and total, for annealed losses */
  int64_t step, n_steps;  /* optimizer steps done so far and total planned */
  int training;           /* 1 inside a training step, 0 in evaluation passes */
  double *dlogits;        /* [N][K] out: d(mean loss)/d(logits); NULL: value only */
} tb_loss_batch;

typedef struct tb_loss_def {
  const char *name;       /* unique identifier, e.g. "cross_entropy" */
  const char *version;    /* bump when the numbers it produces change */
  const char *summary;    /* one line */
  const char *reference;  /* paper and year (say "reconstruction" where it is one) */
  uint32_t services;      /* TB_SERVICE_* flags */
  const tb_hparam *hparams;
  int n_hparams;
  tb_validate_fn validate; /* optional */
  /* Return 0 and set *state (may be NULL for stateless losses), or write err. */
  int (*create)(const tb_loss_init *init, void **state, char *err, size_t errlen);
  /* Return the mean loss; write dlogits when non-NULL. Non-finite = diverged. */
  double (*eval)(void *state, const tb_loss_batch *b);
  void (*destroy)(void *state); /* optional; called once per successful create */
} tb_loss_def;

/* ------------------------------------------------------------------------ */
/* Optimizers                                                               */
/* ------------------------------------------------------------------------ */

/* A named float32 tensor, e.g. "fc1.weight" of shape {out, in}. */
typedef struct tb_tensor {
  const char *name;
  float *data;      /* lent by the core; row-major */
  int64_t numel;
  int ndim;
  int64_t shape[4];
} tb_tensor;

typedef struct tb_optimizer_init {
  const tb_host_api *host;
  const double *hp;         /* [n_hparams] validated values, table order */
  const tb_tensor *params;  /* [n_params] names, shapes and initial values (lent for this call) */
  int n_params;
  tb_rng *rng;              /* the run's plugin stream (TB_SERVICE_RNG) */
} tb_optimizer_init;

typedef struct tb_step_ctx {
  int64_t step;       /* 1 on the first step */
  double lr_factor;   /* schedule factor: the effective learning rate is lr * lr_factor */
  int epoch;          /* epoch in progress, 0-based */
  int batch_n;        /* N of the current batch */
  int n_classes;      /* K */
  void *host_ctx;     /* pass back to the services */
  /* Services. They use their own buffers: `step` may pass its own arrays, and
   * nothing lent to `step` is overwritten. Arrays of pointers are in
   * parameter order, each of the matching tensor's numel. */
  /* TB_SERVICE_EVAL: mean training loss on the current batch at `params`;
   * if grads != NULL, also its gradient. Returns NaN on failure. */
  double (*eval)(void *host_ctx, const float *const *params, float *const *grads);
  /* TB_SERVICE_JVP: out[N][K] = (d logits / d params) . dir, at `params`
   * (NULL: the current parameters). Returns 0 on success. */
  int (*jvp)(void *host_ctx, const float *const *params, const float *const *dir, double *out);
} tb_step_ctx;

typedef struct tb_optimizer_def {
  const char *name;
  const char *version;
  const char *summary;
  const char *reference;
  uint32_t services;
  const tb_hparam *hparams; /* must include "lr" (the schedule scales it) */
  int n_hparams;
  tb_validate_fn validate;
  int (*create)(const tb_optimizer_init *init, void **state, char *err, size_t errlen);
  /* Update params in place from grads. Return 0, or non-zero on failure. */
  int (*step)(void *state, tb_tensor *params, const tb_tensor *grads, const tb_step_ctx *ctx);
  void (*destroy)(void *state);
} tb_optimizer_def;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tb_plugin {
  uint32_t abi_major, abi_minor;
  /* sizes as compiled into the plugin; the loader checks them */
  uint32_t plugin_size, hparam_size, loss_size, optimizer_size;
  const tb_loss_def *const *losses;          /* NULL-terminated, or NULL */
  const tb_optimizer_def *const *optimizers; /* NULL-terminated, or NULL */
} tb_plugin;

/* Fills the version and size fields of a tb_plugin initializer. */
#define TB_PLUGIN_HEADER                                                     \
  TB_ABI_MAJOR, TB_ABI_MINOR, (uint32_t)sizeof(tb_plugin),                   \
      (uint32_t)sizeof(tb_hparam), (uint32_t)sizeof(tb_loss_def),            \
      (uint32_t)sizeof(tb_optimizer_def)

/* The one symbol a plugin exports. */
typedef const tb_plugin *(*tb_plugin_entry_fn)(void);
TB_EXPORT const tb_plugin *tb_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* TRAINBENCH_PLUGIN_H */
