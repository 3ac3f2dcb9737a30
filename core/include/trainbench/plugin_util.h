/*
 * trainbench/plugin_util.h — header-only helpers for plugin authors (ABI 2.2).
 *
 * A plugin still needs nothing but trainbench/plugin.h; this header keeps one
 * down to its formula. Everything here is static inline over plugin.h and
 * the C library: no globals, nothing to link, and no allocation but the one
 * each *_ALLOC names (a single calloc the plugin frees with free() in its
 * destroy).
 *
 * Provides:
 *   hyperparameter rows   TBU_HP_REAL, TBU_HP_INT, TBU_HP_BOOL, TBU_HP_CHOICE
 *   fast loops            TBU_INLINE, TBU_RESTRICT, TBU_SPECIALIZE1..4, TBU_VECTOR_CLONES
 *   optimizers            tbu_slots, TBU_OPT_ALLOC, tbu_slot, tbu_step_check,
 *                         tbu_view, tbu_view_at, tbu_weight_decay
 *   losses, row-wise      tbu_scratch, TBU_LOSS_ALLOC, tbu_scratch_row, tbu_row_ok,
 *                         tbu_target, tbu_softmax_top, tbu_py_row (the p_y-scalar kernel)
 *   the row loop          tbu_loss_eval_rows, tbu_loss_eval (what the core runs for a
 *                         loss with only the row form; tests and wrappers share it)
 *   schedules             tbu_hp_state, tbu_sched_progress, tbu_warmup
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#ifndef TRAINBENCH_PLUGIN_UTIL_H
#define TRAINBENCH_PLUGIN_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Hyperparameter rows                                                      */
/* ------------------------------------------------------------------------ */

/* One row of a hyperparameter table, with designated fields: a positional
 * row {"lr", TB_HP_REAL, ...} leaves the fields 2.0 appended (and any a
 * later minor appends) to -Wmissing-field-initializers, these do not.
 * log_ is 1 where the natural sweep scale is logarithmic. */
#define TBU_HP_REAL(name_, def_, min_, max_, log_, help_)                                  \
  {.name = (name_), .type = TB_HP_REAL, .def = (def_), .min = (min_), .max = (max_),       \
   .log_scale = (log_), .help = (help_)}
#define TBU_HP_INT(name_, def_, min_, max_, log_, help_)                                   \
  {.name = (name_), .type = TB_HP_INT, .def = (def_), .min = (min_), .max = (max_),        \
   .log_scale = (log_), .help = (help_)}
#define TBU_HP_BOOL(name_, def_, help_)                                                    \
  {.name = (name_), .type = TB_HP_BOOL, .def = (def_), .min = 0, .max = 1, .help = (help_)}
/* choices_: a NULL-terminated array of option names; def_ the default's index */
#define TBU_HP_CHOICE(name_, def_, choices_, help_)                                        \
  {.name = (name_), .type = TB_HP_CHOICE, .def = (def_), .choices = (choices_),            \
   .help = (help_)}

/* ------------------------------------------------------------------------ */
/* Fast loops                                                               */
/* ------------------------------------------------------------------------ */

/*
 * An element-wise loop that tests a hyperparameter inside (`if (amsgrad)`,
 * `if (weight_decay != 0)`, `if (buf)`) is compiled as a scalar loop: gcc at
 * -O2 does not unswitch it, so it is not vectorized (issue 9: adam_step took
 * 19 % of a run that way). The fast form is as easy to write:
 *
 *   - the loop in a TBU_INLINE function of one tensor, its arrays TBU_RESTRICT,
 *     its sizes int64_t, and the booleans as bits of one `unsigned mode`
 *     argument, tested with `if (mode & BIT)` where the element's formula needs
 *     them;
 *   - called through TBU_SPECIALIZEn(mode, RUN), where RUN(m) is a macro
 *     that calls the function with mode m: each of the 2^n values of mode
 *     gets its own copy with the tests folded away, so each loop is
 *     branch-free, and the arithmetic of each element is exactly the one
 *     written (vectorized float +, *, / and sqrt round like scalar ones).
 *
 *   #define RUN(md) adam_tensor(t.p, t.g, m, v, vmax, t.n, &k, md)
 *   TBU_SPECIALIZE3(mode, RUN);
 *   #undef RUN
 *
 * sqrtf vectorizes only without errno (-fno-math-errno: the bundled plugins'
 * build and the generated meson.build pass it; it changes no value).
 *
 * Then put TBU_VECTOR_CLONES before the step function that runs those loops:
 * gcc compiles it twice, for the x86-64 baseline (SSE2, 4 floats a vector)
 * and for AVX2 (8), and the loader picks the copy the CPU runs (an ifunc).
 * AVX2 brings no FMA, so no product is fused into a sum in either copy: every
 * element rounds the same way, and the numbers are the same on every machine.
 * Elsewhere (another compiler or CPU, or with TBU_NO_CLONES defined) it is
 * empty and the function is compiled once.
 */
#if defined(__GNUC__)
#define TBU_INLINE static inline __attribute__((always_inline))
#else
#define TBU_INLINE static inline
#endif
#if defined(__cplusplus)
#define TBU_RESTRICT __restrict
#else
#define TBU_RESTRICT restrict
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 6 && defined(__x86_64__) &&       \
    defined(__ELF__) && !defined(TBU_NO_CLONES)
#define TBU_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TBU_VECTOR_CLONES
#endif

/* case labels b .. b + 2^n - 1, each calling RUN with its mode as a constant */
#define TBU_CASES1_(b, RUN)                                                                \
  case (b):                                                                                \
    RUN((b));                                                                              \
    break;                                                                                 \
  case (b) + 1u:                                                                           \
    RUN((b) + 1u);                                                                         \
    break;
#define TBU_CASES2_(b, RUN) TBU_CASES1_(b, RUN) TBU_CASES1_((b) + 2u, RUN)
#define TBU_CASES3_(b, RUN) TBU_CASES2_(b, RUN) TBU_CASES2_((b) + 4u, RUN)
#define TBU_CASES4_(b, RUN) TBU_CASES3_(b, RUN) TBU_CASES3_((b) + 8u, RUN)
/* RUN(m) once, m = the low n bits of mode, a constant in each copy */
#define TBU_SPECIALIZE1(mode, RUN) do { switch ((mode) & 1u) { TBU_CASES1_(0u, RUN) } } while (0)
#define TBU_SPECIALIZE2(mode, RUN) do { switch ((mode) & 3u) { TBU_CASES2_(0u, RUN) } } while (0)
#define TBU_SPECIALIZE3(mode, RUN) do { switch ((mode) & 7u) { TBU_CASES3_(0u, RUN) } } while (0)
#define TBU_SPECIALIZE4(mode, RUN) do { switch ((mode) & 15u) { TBU_CASES4_(0u, RUN) } } while (0)

/* Round a header size up so the arrays after it start on a cache line. */
static inline size_t tbu_align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ------------------------------------------------------------------------ */
/* Optimizers: one allocation of state over the tensors                     */
/* ------------------------------------------------------------------------ */

/*
 * The per-element state of an optimizer (Adam's m and v, a momentum buffer)
 * as `n_slots` float slots per element of every tensor, all zero at start.
 * Slot s of tensor i is [numel[i]] floats at tbu_slot(st, s, i); the slots of
 * one s lie back to back over the tensors, in init->params order:
 *
 *   data [n_slots][total],  total = sum_i numel[i],  offset[i] = sum_{j<i} numel[j]
 *
 * In create:  adam_state *s = TBU_OPT_ALLOC(adam_state, slots, init, 2, err, errlen);
 *             if (!s) return 1;                      (and .destroy = free)
 * In step:    if (tbu_step_check(&s->slots, params, grads, ctx)) return 1;
 *             for i: tbu_view t = tbu_view_at(params, grads, ctx, i);
 *                    float *m = tbu_slot(&s->slots, 0, i), *v = tbu_slot(&s->slots, 1, i);
 */
typedef struct tbu_slots {
  int n_params;          /* tensors the state was created for */
  int n_slots;           /* float slots per element */
  int64_t total;         /* elements over all tensors */
  const int64_t *numel;  /* [n_params] */
  const int64_t *offset; /* [n_params] where tensor i starts within a slot */
  float *data;           /* [n_slots][total] */
} tbu_slots;

/*
 * One calloc holding the author's state struct (`size` bytes, with a
 * tbu_slots at byte `at`), numel and offset per tensor, and the slots: the
 * plugin's destroy is free(state). Returns the zeroed struct with its
 * tbu_slots filled in, or NULL with err set (a tensor of impossible size, a
 * state too large for memory, out of memory). Use TBU_OPT_ALLOC.
 */
static inline void *tbu_opt_alloc(const tb_optimizer_init *init, size_t size, size_t at,
                                  int n_slots, char *err, size_t errlen) {
  const int n = init->n_params;
  if (n < 0 || n_slots < 0 || n_slots > 64 || init->tensor_size < sizeof(tb_tensor)) {
    snprintf(err, errlen, "bad optimizer init (%d tensors of stride %u, %d slots)", n,
             (unsigned)init->tensor_size, n_slots);
    return NULL;
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const tb_tensor *t = TB_CTENSOR_AT(init->params, init->tensor_size, i);
    if (t->numel < 0 || t->numel > INT64_MAX / 16 - total) {
      snprintf(err, errlen, "tensor '%s' has an impossible size %lld", t->name,
               (long long)t->numel);
      return NULL;
    }
    total += t->numel;
  }
  const size_t head = tbu_align64(size), arrays = tbu_align64(2 * (size_t)n * sizeof(int64_t));
  const size_t room = (SIZE_MAX - head - arrays) / sizeof(float) / (n_slots ? n_slots : 1);
  if ((uint64_t)total > (uint64_t)room) {
    snprintf(err, errlen, "optimizer state of %d x %lld floats does not fit in memory",
             n_slots, (long long)total);
    return NULL;
  }
  char *mem = (char *)calloc(1, head + arrays + (size_t)n_slots * (size_t)total * sizeof(float));
  if (!mem) {
    snprintf(err, errlen, "out of memory for the optimizer state (%d x %lld floats)", n_slots,
             (long long)total);
    return NULL;
  }
  int64_t *numel = (int64_t *)(mem + head), *offset = numel + n, off = 0;
  for (int i = 0; i < n; i++) {
    numel[i] = TB_CTENSOR_AT(init->params, init->tensor_size, i)->numel;
    offset[i] = off;
    off += numel[i];
  }
  tbu_slots *s = (tbu_slots *)(mem + at);
  s->n_params = n;
  s->n_slots = n_slots;
  s->total = total;
  s->numel = numel;
  s->offset = offset;
  s->data = (float *)(mem + head + arrays);
  return mem;
}

/* `type *` holding a tbu_slots named `member`, or NULL with err set. */
#define TBU_OPT_ALLOC(type, member, init, n_slots, err, errlen)                            \
  ((type *)tbu_opt_alloc((init), sizeof(type), offsetof(type, member), (n_slots), (err),   \
                         (errlen)))

/* Slot `slot` of tensor i: [numel[i]] floats. */
static inline float *tbu_slot(const tbu_slots *s, int slot, int i) {
  return s->data + (size_t)slot * (size_t)s->total + (size_t)s->offset[i];
}

/* 0 if a step's tensors are the ones the state was made for: the same count
 * (ctx->n_params), and params[i], grads[i] (through TB_TENSOR_AT with
 * ctx->tensor_size) of numel[i] each; else 1, before anything is updated. */
static inline int tbu_step_check(const tbu_slots *s, const tb_tensor *params,
                                 const tb_tensor *grads, const tb_step_ctx *ctx) {
  if (ctx->n_params != s->n_params || ctx->tensor_size < sizeof(tb_tensor)) return 1;
  for (int i = 0; i < s->n_params; i++)
    if (TB_CTENSOR_AT(params, ctx->tensor_size, i)->numel != s->numel[i] ||
        TB_CTENSOR_AT(grads, ctx->tensor_size, i)->numel != s->numel[i])
      return 1;
  return 0;
}

/* What a step needs of tensor i. */
typedef struct tbu_view {
  float *p;           /* [n] the parameter, updated in place */
  const float *g;     /* [n] its gradient */
  int64_t n;          /* numel */
  const tb_tensor *t; /* name, shape, layer, role, flags */
} tbu_view;

static inline tbu_view tbu_view_at(tb_tensor *params, const tb_tensor *grads,
                                   const tb_step_ctx *ctx, int i) {
  tbu_view v;
  v.t = TB_TENSOR_AT(params, ctx->tensor_size, i);
  v.p = TB_TENSOR_AT(params, ctx->tensor_size, i)->data;
  v.g = TB_CTENSOR_AT(grads, ctx->tensor_size, i)->data;
  v.n = v.t->numel;
  return v;
}

/* The weight-decay coefficient for tensor t: wd, or 0 where the core marked
 * the tensor TB_TENSOR_NO_DECAY (the scenario excludes it from decay). */
static inline double tbu_weight_decay(double wd, const tb_tensor *t) {
  return (t->flags & TB_TENSOR_NO_DECAY) ? 0.0 : wd;
}

/* ------------------------------------------------------------------------ */
/* Losses: the row-wise form                                                */
/* ------------------------------------------------------------------------ */

/*
 * Scratch rows of K doubles for a row-wise loss (softmax, log softmax, ...),
 * made once in create so that `row` allocates nothing, and the host table
 * whose stable softmax family fills them.
 */
typedef struct tbu_scratch {
  const tb_host_api *host;
  int k;        /* K the state was created for */
  int n_rows;
  double *rows; /* [n_rows][K] */
} tbu_scratch;

/*
 * One calloc holding the author's state struct (`size` bytes, with a
 * tbu_scratch at byte `at`) and n_rows scratch rows of K doubles: destroy is
 * free(state). NULL with err set for K < 1 (naming the loss) or out of
 * memory. Use TBU_LOSS_ALLOC.
 */
static inline void *tbu_loss_alloc(const tb_loss_init *init, const char *name, size_t size,
                                   size_t at, int n_rows, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss '%s' needs at least 1 class, got %d", name, init->n_classes);
    return NULL;
  }
  if (n_rows < 0) n_rows = 0;
  const size_t head = tbu_align64(size);
  char *mem =
      (char *)calloc(1, head + (size_t)n_rows * (size_t)init->n_classes * sizeof(double));
  if (!mem) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  tbu_scratch *s = (tbu_scratch *)(mem + at);
  s->host = init->host;
  s->k = init->n_classes;
  s->n_rows = n_rows;
  s->rows = (double *)(mem + head);
  return mem;
}

/* `type *` holding a tbu_scratch named `member`, or NULL with err set. */
#define TBU_LOSS_ALLOC(type, member, init, name, n_rows, err, errlen)                      \
  ((type *)tbu_loss_alloc((init), (name), sizeof(type), offsetof(type, member), (n_rows),  \
                          (err), (errlen)))

/* Scratch row i: [K] doubles. */
static inline double *tbu_scratch_row(const tbu_scratch *s, int i) {
  return s->rows + (size_t)i * (size_t)s->k;
}

/* 1 if row r fits the state: its K is the one of create, and without a soft
 * target its label is in 0..K-1. A row that does not fit must return NaN
 * (diverged), never read out of bounds. */
static inline int tbu_row_ok(const tbu_scratch *s, const tb_loss_row *r) {
  return r->k == s->k && (r->target || (r->y >= 0 && r->y < r->k));
}

/* t_j: the soft target's entry, or [j = y] for a label. */
static inline double tbu_target(const tb_loss_row *r, int j) {
  return r->target ? r->target[j] : (double)(j == r->y);
}

/*
 * The dominant class of a probability row p [K]: the one d with p_d > 1/2
 * (at most one exists), or -1. For it, *u = sum_{j != d} p_j, which is
 * 1 - p_d without the cancellation that makes 1 - p_d zero long before the
 * other probabilities underflow (at z_d - z_j ~ 37). *u = 0 when d = -1.
 */
static inline int tbu_softmax_top(const double *p, int k, double *u) {
  int d = -1;
  for (int j = 0; j < k; j++)
    if (p[j] > 0.5) d = j;
  double s = 0;
  if (d >= 0)
    for (int j = 0; j < k; j++)
      if (j != d) s += p[j];
  *u = s;
  return d;
}

/*
 * The p_y-scalar kernel. For a loss of one class's probability,
 *
 *   loss = f(p_y)                        (soft target t: sum_k t_k f(p_k)),
 *   d loss / d z_j = g_y (e_y - p)_j     (soft: t_j g_j - p_j sum_k t_k g_k),
 *   g = p f'(p) = d f / d log p,
 *
 * the author writes f and g in one function and gets the whole row: value,
 * and r->grad_scale times the gradient into r->dz. GCE: f = (1 - p^q)/q, g = -p^q;
 * MAE: f = 2 (1 - p), g = -2p; focal: f = -(1-p)^gamma log p.
 *
 * fn(hp, p, logp, u, &g) returns f(p) and writes g, for p = p_k in [0, 1],
 * logp = log p_k and u = 1 - p_k, each accurate where the other cannot be:
 * logp stays finite where p underflows to 0 (z_k - logsumexp z), and for the
 * dominant class (p > 1/2) u is the sum of the other probabilities and logp
 * is log1p(-u), so confident rows (p_y -> 1) keep their relative accuracy.
 * Write f and g from whichever of the three keeps them finite: g from p^q
 * as exp(q logp), a ratio log(p)/(1 - p) as logp / u. fn is called only for
 * classes with t_k != 0 (f may be infinite elsewhere, as -log 0). The
 * dominant class's gradient entry is taken as t_d g_d u_d - p_d sum_{k != d}
 * t_k g_k, the same value without the cancellation of t_d g_d - p_d (...).
 *
 * scratch: 3 rows (TBU_PY_ROWS): p, log p, g. Returns NaN for a row that
 * does not fit (tbu_row_ok).
 */
typedef double (*tbu_py_fn)(const void *hp, double p, double logp, double u, double *g);
#define TBU_PY_ROWS 3

TBU_INLINE double tbu_py_row(const tbu_scratch *s, const tb_loss_row *r, tbu_py_fn fn,
                             const void *hp) {
  if (!tbu_row_ok(s, r)) return NAN;
  const int k = r->k;
  double *p = tbu_scratch_row(s, 0), *lp = tbu_scratch_row(s, 1), *c = tbu_scratch_row(s, 2);
  const double lse = s->host->softmax_lse(p, r->z, k); /* one pass of exps */
  for (int j = 0; j < k; j++) lp[j] = r->z[j] - lse;   /* log_softmax's bits */
  double ud;
  const int d = tbu_softmax_top(p, k, &ud);
  if (d >= 0) lp[d] = log1p(-ud); /* z_d - logsumexp(z) rounds to 0 once u_d < 1e-16 */
  double loss = 0, qc_d = 0, qc_rest = 0;
  for (int j = 0; j < k; j++) {
    const double q = tbu_target(r, j);
    if (q == 0) {
      c[j] = 0;
      continue;
    }
    double g;
    loss += q * fn(hp, p[j], lp[j], j == d ? ud : 1 - p[j], &g);
    c[j] = g;
    if (j == d)
      qc_d = q * g;
    else
      qc_rest += q * g;
  }
  if (r->dz) {
    const double qc = qc_d + qc_rest;
    for (int j = 0; j < k; j++)
      /* for d: t_d g_d - p_d sum t g = t_d g_d u_d - p_d sum_{k != d} t_k g_k */
      r->dz[j] = r->grad_scale * (j == d ? qc_d * ud - p[d] * qc_rest
                                    : tbu_target(r, j) * c[j] - p[j] * qc);
  }
  return loss;
}

/* ------------------------------------------------------------------------ */
/* The row loop                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A row-wise loss over a batch, as the core runs it (tests and wrappers that
 * evaluate a loss call this too, so a row means the same everywhere):
 *
 *   mean = (1/N) sum_{i: w_i != 0} w_i row(z_i),  row i with scale = w_i / N,
 *
 * rows of weight 0 are not evaluated and get a zero gradient (not even a NaN
 * logit of theirs reaches the mean); N <= 0 gives 0. The sum runs in row
 * order, so a loss keeps its numbers when it moves from the batch form
 * (`total += w * loss_i`, `dz = (w / N) * ...`) to the row form.
 * Shapes: b->logits, b->targets, b->dlogits [N][K]; labels, weights [N].
 */
static inline double tbu_loss_eval_rows(double (*row)(void *state, const tb_loss_row *r),
                                        void *state, const tb_loss_batch *b) {
  const int n = b->n, k = b->k;
  if (n <= 0) return 0;
  tb_loss_row r;
  memset(&r, 0, sizeof r);
  r.k = k;
  r.batch = b;
  r.phase = b->phase;
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double w = b->weights ? b->weights[i] : 1.0;
    double *dz = b->dlogits ? b->dlogits + (size_t)i * (size_t)k : NULL;
    if (w == 0) {
      if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
      continue;
    }
    r.z = b->logits + (size_t)i * (size_t)k;
    r.y = b->labels[i];
    r.target = b->targets ? b->targets + (size_t)i * (size_t)k : NULL;
    r.grad_scale = w / n;
    r.dz = dz;
    r.sample_id = b->sample_ids ? b->sample_ids[i] : -1;
    total += w * row(state, &r);
  }
  return total / n;
}

/* A loss's mean over a batch through whichever form it has: eval if set,
 * else the row loop above. */
static inline double tbu_loss_eval(const tb_loss_def *def, void *state, const tb_loss_batch *b) {
  return def->eval ? def->eval(state, b) : tbu_loss_eval_rows(def->row, state, b);
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

/* A state that is just the scalar hyperparameters: a copy of hp[0..n)
 * (index it with the table's enum; destroy = free). NULL with err set when
 * out of memory. */
TBU_INLINE double *tbu_hp_state(const double *hp, int n, char *err, size_t errlen) {
  double *s = (double *)malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (int i = 0; i < n; i++) s[i] = hp[i];
  return s;
}

/* How far the run is past a warmup of W steps: (t - W) / (n_steps - W),
 * clamped to [0, 1] (1 when no step is left after the warmup); t =
 * ctx->step, the steps done before this one. */
TBU_INLINE double tbu_sched_progress(const tb_schedule_ctx *ctx, double W) {
  const double t = (double)ctx->step, span = (double)ctx->n_steps - W;
  double prog = span > 0 ? (t - W) / span : 1.0;
  if (prog < 0) prog = 0;
  if (prog > 1) prog = 1;
  return prog;
}

/* Linear warmup (Goyal et al., "Accurate, Large Minibatch SGD", 2017): f
 * times (t + 1) / W on the steps t < W, W = warmup_epochs x steps per
 * epoch (fractions of an epoch allowed); f itself after. */
TBU_INLINE double tbu_warmup(double f, const tb_schedule_ctx *ctx, double warmup_epochs) {
  const double W = warmup_epochs * (double)ctx->steps_per_epoch, t = (double)ctx->step;
  if (W > 0 && t < W) f *= (t + 1.0) / W;
  return f;
}

#ifdef __cplusplus
}
#endif
#endif /* TRAINBENCH_PLUGIN_UTIL_H */
