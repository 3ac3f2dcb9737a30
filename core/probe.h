/*
 * probe.h — one loss or optimizer instance driven outside any training run,
 * on inputs the caller makes up: what `trainbench check` (check.c) and the
 * numeric fingerprints (fingerprint.c) both need, so the two agree on how a
 * component is created, fed and stepped.
 *
 * A loss instance gets uneven class priors (1, 2, 3, 1, 2, 3, ... normalized)
 * and a host stream that is put back before each evaluation, so a loss that
 * draws from it is a deterministic function of its inputs here.
 *
 * A loss may add its own tensors while it is created (add_tensor, with the
 * trainer's rules: services.h); every evaluation lends them as `tensors`,
 * and `dtensors` (the instance's `grad` views when dlogits is set, scratch
 * otherwise) zeroed first. Its report calls are counted, and those a run
 * would refuse (undeclared, outside TB_PHASE_TRAIN, a bad name) recorded.
 *
 * An optimizer instance steps P = 67 float32 parameters shaped like a small
 * mlp (fc1.weight [8][4], fc1.bias [8], fc2.weight [3][8], fc2.bias [3]),
 * with the gradients of the separable problem f = sum_i 1/2 a_i theta_i^2 +
 * b_i theta_i. Its eval service gives that f (and gradient) at candidate
 * parameters; its jvp treats the parameters as the logits (batch_n = 1,
 * n_classes = P), so the JVP is the direction itself. Its next_batch stands
 * for a fresh batch: the following evals of that step see the problem with
 * its linear term b shifted by a fresh N(0, 1/4) draw per parameter (from a
 * stream of the instance's own), while the step's gradient stays the
 * problem's. Its report checks the name. All count their calls and, as the
 * core does, fail the calls a component did not declare.
 *
 * A wrapper (a component with a COMPONENT hyperparameter of its own kind,
 * declaring TB_SERVICE_BASE) is probed with its bases, as a run has them:
 * each base an instance of its own at its defaults, with its own state and
 * stream (seed 0, "probe:optimizer.base"), created before the wrapper on
 * the same inputs (an optimizer base on the same tensors), through
 * compose.c as in a run; step_base / eval_base / eval_params_base run it.
 * The base is the hyperparameter's default component (looked up in the
 * wrapper's registry, then in those of tb_probe_set_registries), else sgd
 * for an optimizer and cross_entropy for a loss; `base` in the open calls
 * replaces the first one. Every service a base calls is held to the base's
 * own declarations; calls of the base services are counted (n_base), and
 * those a run would refuse (undeclared, a slot that is not a base)
 * counted in bad_base with the first reason in base_err.
 *
 * Provides: tb_probe_rng_same, tb_probe_loss_open, tb_probe_loss_eval,
 * tb_probe_loss_eval_form, tb_probe_loss_close, tb_probe_tensor_name, tb_probe_tensor_numel,
 * tb_probe_opt_open, tb_probe_opt_step, tb_probe_opt_get, tb_probe_opt_f,
 * tb_probe_opt_close, tb_probe_set_registries, tb_probe_loss_open_base,
 * tb_probe_opt_open_base, tb_probe_default_base.
 */
#ifndef TB_PROBE_H
#define TB_PROBE_H

#include <stdint.h>
#include <stddef.h>

#include "compose.h"
#include "registry.h"
#include "rng.h"
#include "services.h"
#include "util.h"
#include "trainbench/plugin.h"

/* Bitwise equality of two streams (the struct has padding; compare fields). */
int tb_probe_rng_same(const tb_rng *a, const tb_rng *b);

/* Where a wrapper's default base is looked up after its own registry (the
 * registries `trainbench check` opened); kept, not copied. */
void tb_probe_set_registries(tb_registry *const *regs, int n);

/* ---- losses -------------------------------------------------------------- */

#define TB_PROBE_MAXK 128

typedef struct tb_probe_loss {
  const tb_component *c;
  void *state;
  int k, live;
  double priors[TB_PROBE_MAXK];
  int64_t counts[TB_PROBE_MAXK];
  float means[TB_PROBE_MAXK * 2]; /* [K][2]: two features */
  tb_value values[TB_MAX_HP];
  tb_rng rng, rng_at; /* the stream lent to the plugin, and where it is put back */
  int rng_moved;      /* the plugin drew from it */
  tb_loss_tensors lt; /* the loss's own tensors: live values, gradients, scratch */
  int phase;          /* of the evaluation in progress, 0 outside */
  long n_report;      /* report calls, and those a run would refuse: */
  long bad_report;    /* undeclared or with a bad name */
  long bad_report_phase; /* outside TB_PHASE_TRAIN */
  char report_err[256]; /* the first refusal */
  tb_node root;         /* the loss and its bases (compose.h), role "loss" */
  long n_base, bad_base; /* eval_base calls; those a run refuses */
  char base_err[256];
  int tensor_refused;   /* a base called add_tensor */
  long bad_scale;       /* head_scale answers a run refuses (not finite and > 0) */
  char scale_err[256];  /* the first */
} tb_probe_loss;

/* Create c with hp and K = k (at most TB_PROBE_MAXK) on a copy of `stream`;
 * 0, or -1 with the plugin's message (or ours) in err. */
int tb_probe_loss_open(tb_probe_loss *in, const tb_component *c, const double *hp, int k,
                       const tb_rng *stream, char *err, size_t errlen);
/* The same with `base` (NULL: the default) as the wrapper's first base. */
int tb_probe_loss_open_base(tb_probe_loss *in, const tb_component *c, const double *hp,
                            const tb_component *base, int k, const tb_rng *stream, char *err,
                            size_t errlen);
/* Evaluate on b with the instance's K and priors filled in (b->k and
 * b->priors are overwritten), and its tensors (b->tensors, dtensors,
 * n_tensors, tensor_size, host_ctx, report overwritten), and b->scale asked
 * of the loss that owns a cosine head's scale; the stream is put back first. */
double tb_probe_loss_eval(tb_probe_loss *in, tb_loss_batch *b);
/* The same through one form: TB_PROBE_BATCH calls `eval` (which the loss
 * must have), TB_PROBE_ROWS the core's row loop over `row` (likewise). */
enum { TB_PROBE_ANY = 0, TB_PROBE_BATCH = 1, TB_PROBE_ROWS = 2 };
double tb_probe_loss_eval_form(tb_probe_loss *in, tb_loss_batch *b, int form);
void tb_probe_loss_close(tb_probe_loss *in);

/* ---- optimizers ---------------------------------------------------------- */

#define TB_PROBE_NT 4
#define TB_PROBE_P 67

typedef struct tb_probe_problem {
  double a[TB_PROBE_P], b[TB_PROBE_P];
} tb_probe_problem;

/* The probe lends tensors with a stride wider than sizeof(tb_tensor), as a
 * later minor of the ABI may: a plugin that steps over them with its own
 * sizeof instead of TB_TENSOR_AT reads the poisoned padding and fails. */
typedef struct tb_probe_tensor {
  tb_tensor t;
  unsigned char pad[32];
} tb_probe_tensor;

typedef struct tb_probe_opt {
  const tb_component *c;
  void *state;
  int live;
  tb_probe_tensor params[TB_PROBE_NT], grads[TB_PROBE_NT]; /* data: one allocation each */
  tb_value values[TB_MAX_HP];
  const tb_probe_problem *pb;
  tb_step_ctx ctx; /* lr_factor and epoch may be set before each step */
  int64_t t;
  tb_rng rng, rng_at;
  int rng_moved;
  long n_eval, n_jvp, bad_eval, bad_jvp; /* service calls; those without the flag */
  long n_next, bad_next, n_report, bad_report; /* bad_report: undeclared or a bad name */
  tb_rng rng_next;          /* next_batch's draws */
  double shift[TB_PROBE_P]; /* the shift of b after next_batch, in this step */
  int shifted;
  char report_err[256]; /* the first refused report */
  tb_node root;         /* the optimizer and its bases (compose.h), role "optimizer" */
  long n_base, bad_base; /* step_base and eval_params_base calls; those a run refuses */
  char base_err[256];
} tb_probe_opt;

/* The name and element count of tensor t (0 <= t < TB_PROBE_NT). */
const char *tb_probe_tensor_name(int t);
int64_t tb_probe_tensor_numel(int t);
/* Create c with hp, parameters theta0 [P] and problem pb (kept, not copied),
 * on a copy of `stream`; 0, or -1 with the message in err. */
int tb_probe_opt_open(tb_probe_opt *o, const tb_component *c, const double *hp,
                      const float *theta0, const tb_probe_problem *pb, const tb_rng *stream,
                      char *err, size_t errlen);
/* The same with `base` (NULL: the default) as the wrapper's first base. */
int tb_probe_opt_open_base(tb_probe_opt *o, const tb_component *c, const double *hp,
                           const tb_component *base, const float *theta0,
                           const tb_probe_problem *pb, const tb_rng *stream, char *err,
                           size_t errlen);
/* The component a wrapper's first base slot runs by default (NULL with err
 * when none can be found), and that slot (-1: c is not a wrapper). */
const tb_component *tb_probe_default_base(const tb_component *c, int *slot, char *err,
                                          size_t errlen);
/* One step with the problem's gradient at the current parameters; the
 * plugin's return value. */
int tb_probe_opt_step(tb_probe_opt *o);
/* The current parameters, flat [P]; f at them. */
void tb_probe_opt_get(const tb_probe_opt *o, float *flat);
double tb_probe_opt_f(const tb_probe_opt *o);
void tb_probe_opt_close(tb_probe_opt *o);

#endif /* TB_PROBE_H */
