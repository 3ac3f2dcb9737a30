/*
 * train.c — one run: split the data (loaded once by the parent, inherited
 * through fork; loaded here only for configurations built by hand), build
 * and initialize the model, create the loss, optimizer and schedule plugins
 * from the configuration's tree (their instances' values), and train with
 * mini-batches, evaluating every split after each epoch (and once before,
 * as epoch 0). The schedule plugin gives the learning-rate factor of every
 * step, seeing the last evaluation's metrics.
 *
 * Randomness: each purpose has its own stream derived from (seed, purpose):
 * "init" (weights), "batches" (per-epoch order), "plugin:loss",
 * "plugin:optimizer", "plugin:next_batch" (the fresh batches of the
 * next_batch service); the split uses (split_seed or seed, "split"). So for
 * one seed every loss and optimizer sees the same split, weights and
 * batches, whether or not its optimizer draws fresh batches.
 *
 * Everything is allocated in tb_trainer_create (a loss's own tensors while
 * the loss is created); tb_trainer_step and tb_trainer_evaluate allocate
 * nothing (tests count mallocs around them).
 *
 * The optimizer's tensors are the model's, then the loss's own (add_tensor,
 * services.h): it steps both with one array. The loss sees its tensors in
 * every call (`tensors`, and `dtensors` zeroed before the call); the
 * training step's dtensors are the optimizer's gradients of those tensors,
 * negated for TB_TENSOR_ASCENT ones (min-max: the dual ascends), and after
 * the step TB_TENSOR_NONNEG ones are projected onto >= 0.
 *
 * Host services for optimizers (each declared in `services`, else the call
 * fails the run): `eval` runs forward (and backward) on the services' batch
 * at candidate parameters into the caller's arrays (the gradients of ASCENT
 * tensors negated, as in step); `jvp` gives d logits / d params . v; both
 * use the trainer's own scratch, never the buffers lent to `step`. The
 * services' batch is the step's own until `next_batch` draws a fresh one of
 * as many rows from its own stream, which the following eval and jvp calls
 * of that step use (the step's gradient, ctx's logits and labels stay the
 * step's). `report`, from the optimizer's step or the loss's TRAIN call,
 * adds a point to a named series, sampled as services.h says.
 * Counting: every loss evaluation on a training batch (steps and services)
 * counts as a loss evaluation, every backward pass as a gradient
 * evaluation, every JVP as one JVP; evaluation passes for metrics are not
 * counted.
 *
 * Evaluation passes see the optimizer's eval_params (an EMA or SWA average)
 * for each tensor that has one, and the live values otherwise; a loss with
 * TB_LOSS_NOT_MEAN is called once on each whole split.
 *
 * Provides: tb_trainer_*, tb_train_run.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "metrics.h"
#include "rng.h"
#include "compose.h"
#include "services.h"
#include "stages.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h" /* tbu_loss_eval: the one row loop, shared with plugins */
#include "util.h"

/* The training loss is kept as a per-step series, sampled so that a run
 * keeps at most about this many points; so is each series a plugin reports. */
#define SERIES_POINTS 200
/* The partial sums of the series' norms (see lanes_total). */
#define NORM_LANES 8

struct tb_trainer {
  const tb_run_config *cfg;
  tb_dataset own_ds;        /* loaded here when cfg->data.loaded is NULL */
  const tb_dataset *ds;     /* the data this run splits */
  tb_split sp;
  tb_model model;
  int has_model, has_split, has_ds;
  int B;                    /* batch size */
  int64_t steps_per_epoch, total_steps, step;
  int epoch;                /* epoch in progress, 0-based */
  int pos;                  /* next row of `order` */
  int32_t *order;           /* [n_train] */
  tb_rng rng_batches;
  /* current batch */
  float *xb;                /* [B][D] */
  int32_t *yb;              /* [B] */
  int64_t *ids;             /* [B] rows of the training split */
  int bn;
  /* loss buffers in double, [cap][K] */
  double *logits, *dlogits;
  float *dlogits_f;
  double *prob;             /* [K] */
  /* plugins */
  const tb_loss_def *L;
  const tb_optimizer_def *O;
  const tb_schedule_def *SD;
  void *sched_state;
  int sched_created;
  tb_schedule_ctx sctx;
  int64_t *class_counts;    /* [K] */
  float *class_means;       /* [K][D] */
  tb_node *lnode, *onode;   /* the outermost loss and optimizer */
  const tb_node *scale_node; /* the loss that owns the cosine head's scale; NULL: linear */
  void *loss_state, *opt_state; /* their states */
  const float *P[2 * TB_MAX_LAYERS];
  float *G[2 * TB_MAX_LAYERS];
  tb_step_ctx ctx;
  /* the loss's own tensors, and the optimizer's tensors: the model's, then the loss's */
  tb_loss_tensors lt;
  int n_opt;
  tb_tensor opt_params[2 * TB_MAX_LAYERS + TB_MAX_LOSS_TENSORS];
  tb_tensor opt_grads[2 * TB_MAX_LAYERS + TB_MAX_LOSS_TENSORS];
  int loss_phase;           /* enum tb_phase of the loss call in progress, 0 outside */
  /* services */
  double *svc_logits, *svc_dlogits;
  float *svc_dlogits_f;
  tb_tensor svc_lt[TB_MAX_LOSS_TENSORS], svc_dlt[TB_MAX_LOSS_TENSORS]; /* eval's views */
  const float *svc_x;       /* the services' batch: the step's own, or next_batch's */
  const int32_t *svc_y;
  const int64_t *svc_ids;
  const double *svc_targets, *svc_weights; /* the step's transform and reduction; NULL */
  int svc_bn;
  float *nb_x;              /* next_batch: [B][D], [B], [B] and its order [n_train] */
  int32_t *nb_y, *nb_order;
  int64_t *nb_ids;
  int nb_pos;
  tb_rng rng_next;
  int64_t next_batches;
  tb_reports reports;
  int64_t series_every;     /* train.loss and reported series keep a point every k steps */
  /* evaluation passes */
  tb_eval_acc acc[3];       /* per split: its accumulators, confusion counts [K][K] */
  tb_metric_value *last_eval; /* [3 x metrics] the last evaluation's values, for the schedule */
  const float *P_eval[2 * TB_MAX_LAYERS];
  tb_tensor ev_lt[TB_MAX_LOSS_TENSORS];
  int not_mean;             /* the loss or a base under it is TB_LOSS_NOT_MEAN */
  double *ev_logits;        /* not_mean: [largest split][K] */
  int64_t loss_evals, grad_evals, jvp_evals;
  double last_loss;         /* mean loss of the last training batch */
  /* the step's stages (stages.h): the scenario's corruption, transform and
   * reduction, and what they need per batch, allocated at create */
  const tb_instance *transform, *reduction;
  tb_rng rng_transform;     /* "transform" */
  int64_t corrupted;        /* training labels the corruption changed */
  float *xmix;              /* [B][D] a transform's inputs */
  double *targets;          /* [B][K] a transform's soft targets */
  int32_t *perm;            /* [B] a transform's scratch */
  double *row_loss, *weights; /* [B] the reduction's per-sample losses and weights */
  int32_t *row_order;       /* [B] its scratch */
  int64_t dropped;          /* rows the reduction gave weight 0, over the run */
  /* the core's series of sampled steps: gradient and update norms, lr */
  float *prev;              /* [numel of the optimizer's tensors] the step's start */
  int prev_fresh;           /* prev holds the parameters as the last step left them */
  double *gsum;             /* [n_opt][NORM_LANES] each tensor's gradient norm lanes */
  int64_t opt_numel;
  int sampled;              /* this step is one the series keep */
  double grad_norm, update_norm, lr_factor, lr; /* lr: NaN when no base has one */
  double lr_hp;             /* the innermost optimizer's lr, NaN when none */
  char svc_err[TB_ERRLEN];  /* the first service call that failed the run */
};

/* A plugin's misuse of the helper table (a random draw without declaring
 * TB_SERVICE_RNG) fails the run, naming the component. */
static int host_misuse(char *err, size_t errlen, const char *kind, const char *name) {
  const char *m = tb_host_misuse();
  if (!m) return 0;
  tb_errf(err, errlen, "%s '%s' %s", kind, name, m);
  tb_host_misuse_clear();
  return -1;
}

/* ---- services ---------------------------------------------------------------- */

/* The first failed service call fails the run; later ones keep its message. */
static void svc_fail(tb_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svc_fail(tb_trainer *t, const char *fmt, ...) {
  if (t->svc_err[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->svc_err, sizeof t->svc_err, fmt, ap);
  va_end(ap);
}

static const char *phase_name(int phase) {
  switch (phase) {
  case TB_PHASE_TRAIN: return "TRAIN";
  case TB_PHASE_PROBE: return "PROBE (a service call inside the optimizer's step)";
  case TB_PHASE_EVAL: return "EVAL (an evaluation pass)";
  }
  return "none (outside any loss call)";
}

static int svc_loss_report(void *hctx, const char *name, double value);
static double svc_eval_base(void *hctx, int slot, const tb_loss_batch *batch);

static double svc_eval(void *hctx, const float *const *params, float *const *grads) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (!(nd->c->services & TB_SERVICE_EVAL)) {
    svc_fail(t, "optimizer '%s' called the eval service without declaring TB_SERVICE_EVAL",
             nd->c->name);
    return NAN;
  }
  int K = t->sp.k, B = t->svc_bn, nm = t->model.n_tensors;
  const float *const *P = params ? params : t->P;
  const float *z = tb_model_forward(&t->model, P, t->svc_x, B);
  for (int64_t i = 0; i < (int64_t)B * K; i++) t->svc_logits[i] = z[i];
  /* the loss's tensors at the candidate values, their gradient into grads */
  for (int j = 0; j < t->lt.n; j++) {
    t->svc_lt[j] = t->lt.live[j];
    if (params) t->svc_lt[j].data = (float *)params[nm + j];
    t->svc_dlt[j] = t->lt.scratch[j];
    if (grads) t->svc_dlt[j].data = grads[nm + j];
  }
  tb_loss_tensors_zero(t->svc_dlt, t->lt.n);
  tb_loss_batch b = {
      .n = B, .k = K, .logits = t->svc_logits, .labels = t->svc_y,
      .targets = t->svc_targets, .weights = t->svc_weights, .priors = t->sp.priors,
      .epoch = t->epoch, .n_epochs = t->cfg->epochs, .step = t->step,
      .n_steps = t->total_steps, .phase = TB_PHASE_PROBE,
      .dlogits = grads ? t->svc_dlogits : NULL, .sample_ids = t->svc_ids,
      .tensors = t->svc_lt, .dtensors = t->svc_dlt, .n_tensors = t->lt.n,
      .tensor_size = sizeof(tb_tensor), .host_ctx = t->lnode, .report = svc_loss_report,
      .eval_base = svc_eval_base};
  char why[TB_ERRLEN];
  if (tb_node_head_scale(t->scale_node, &b, why, sizeof why)) {
    svc_fail(t, "%s", why);
    return NAN;
  }
  t->loss_phase = TB_PHASE_PROBE;
  double loss = tbu_loss_eval(t->L, t->loss_state, &b);
  t->loss_phase = 0;
  t->loss_evals++;
  if (grads) {
    for (int64_t i = 0; i < (int64_t)B * K; i++) t->svc_dlogits_f[i] = (float)t->svc_dlogits[i];
    tb_model_backward(&t->model, P, grads, t->svc_x, t->svc_dlogits_f, B);
    tb_loss_tensors_ascent(&t->lt, t->svc_dlt);
    t->grad_evals++;
  }
  return loss;
}

static int svc_jvp(void *hctx, const float *const *params, const float *const *dir,
                   double *out) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (!(nd->c->services & TB_SERVICE_JVP)) {
    svc_fail(t, "optimizer '%s' called the jvp service without declaring TB_SERVICE_JVP",
             nd->c->name);
    return -1;
  }
  /* the loss's tensors do not move the logits: their directions drop out */
  const float *const *P = params ? params : t->P;
  tb_model_forward(&t->model, P, t->svc_x, t->svc_bn);
  tb_model_jvp(&t->model, P, dir, t->svc_x, t->svc_bn, out);
  t->jvp_evals++;
  return 0;
}

/* A fresh batch of as many rows as the step's (buffers a plugin sized by
 * ctx->batch_n stay large enough), from the stream "plugin:next_batch":
 * its own order of the training rows, reshuffled when fewer rows are left
 * than a batch takes, so no row repeats within a batch. */
static int svc_next_batch(void *hctx) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (!(nd->c->services & TB_SERVICE_NEXT_BATCH)) {
    svc_fail(t, "optimizer '%s' called the next_batch service without declaring "
             "TB_SERVICE_NEXT_BATCH", nd->c->name);
    return -1;
  }
  if (!t->nb_order) {
    svc_fail(t, "optimizer '%s' called next_batch, which only the outermost optimizer's "
             "declaration provides", nd->c->name);
    return -1;
  }
  const tb_split_part *tr = &t->sp.part[0];
  const int D = t->sp.d, bn = t->bn;
  if (t->nb_pos + bn > tr->n) t->nb_pos = 0;
  if (t->nb_pos == 0) tb_rng_shuffle(&t->rng_next, t->nb_order, tr->n);
  for (int i = 0; i < bn; i++) {
    int r = t->nb_order[t->nb_pos + i];
    memcpy(t->nb_x + (size_t)i * D, tr->x + (size_t)r * D, sizeof(float) * (size_t)D);
    t->nb_y[i] = tr->y[r];
    t->nb_ids[i] = r;
  }
  t->nb_pos += bn;
  t->svc_x = t->nb_x;
  t->svc_y = t->nb_y;
  t->svc_ids = t->nb_ids;
  t->svc_targets = NULL; /* a fresh batch as sampled: no transform, plain mean */
  t->svc_weights = NULL;
  t->svc_bn = bn;
  t->next_batches++;
  return 0;
}

static int svc_opt_report(void *hctx, const char *name, double value) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (!(nd->c->services & TB_SERVICE_REPORT)) {
    svc_fail(t, "optimizer '%s' called report without declaring TB_SERVICE_REPORT",
             nd->c->name);
    return -1;
  }
  char msg[TB_ERRLEN];
  if (tb_reports_add(&t->reports, TB_KIND_OPTIMIZER, nd->c->name, name, t->step + 1, value, msg,
                     sizeof msg)) {
    svc_fail(t, "%s", msg);
    return -1;
  }
  return 0;
}

static int svc_loss_report(void *hctx, const char *name, double value) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (!(nd->c->services & TB_SERVICE_REPORT)) {
    svc_fail(t, "loss '%s' called report without declaring TB_SERVICE_REPORT", nd->c->name);
    return -1;
  }
  if (t->loss_phase != TB_PHASE_TRAIN) {
    svc_fail(t, "loss '%s' called report in phase %s: only the training step's call "
             "(TB_PHASE_TRAIN) may report", nd->c->name, phase_name(t->loss_phase));
    return -1;
  }
  char msg[TB_ERRLEN];
  if (tb_reports_add(&t->reports, TB_KIND_LOSS, nd->c->name, name, t->step + 1, value, msg,
                     sizeof msg)) {
    svc_fail(t, "%s", msg);
    return -1;
  }
  return 0;
}

static int svc_add_tensor(void *hctx, const char *name, int ndim, const int64_t *shape,
                          double value, uint32_t flags) {
  tb_node *nd = hctx;
  tb_trainer *t = nd->owner;
  if (nd != t->lnode) {
    svc_fail(t, "loss '%s' (%s) called add_tensor: only the outermost loss owns tensors",
             nd->c->name, nd->role);
    return -1;
  }
  const int open = t->lt.open;
  int i = tb_loss_tensors_add(&t->lt, name, ndim, shape, value, flags);
  if (i < 0 && !open) svc_fail(t, "%s", t->lt.err); /* after create: fails the run at once */
  return i;
}

/* ---- composition: a wrapper runs its base ------------------------------------------ */

/* The base of `nd` at hyperparameter `slot`, or NULL with the run failed. */
static tb_node *base_of(tb_node *nd, int slot, const char *call) {
  char why[TB_ERRLEN];
  tb_node *b = tb_node_base(nd, slot, call, why, sizeof why);
  if (!b) svc_fail(nd->owner, "%s", why);
  return b;
}

/* One step of the base with its own state, on the wrapper's arrays
 * (compose.c: the wrapper's ctx, the schedule's factor included). */
static int svc_step_base(void *hctx, int slot, tb_tensor *params, const tb_tensor *grads) {
  tb_node *nd = hctx, *b = base_of(nd, slot, "step_base");
  if (!b) return -1;
  int rc = tb_node_step_base(nd, b, params, grads);
  tb_trainer *t = nd->owner;
  if (rc) svc_fail(t, "optimizer '%s' (%s) step failed (code %d)", b->c->name, b->role, rc);
  return rc;
}

static const float *svc_eval_params_base(void *hctx, int slot, int i) {
  tb_node *nd = hctx, *b = base_of(nd, slot, "eval_params_base");
  if (!b || !b->c->opt->eval_params) return NULL;
  return b->c->opt->eval_params(b->state, i);
}

/* The mean loss of the base on the wrapper's batch (transformed logits,
 * say), with the base's own state, in the caller's phase. */
static double svc_eval_base(void *hctx, int slot, const tb_loss_batch *batch) {
  tb_node *nd = hctx, *b = base_of(nd, slot, "eval_base");
  if (!b) return NAN;
  tb_loss_batch bb;
  tb_node_base_batch(&bb, batch, b, svc_loss_report, svc_eval_base);
  return tbu_loss_eval(b->c->loss, b->state, &bb);
}

/* Create the plugin instance of one node, a root or a base (compose.h's
 * tb_node_create_fn): its hp from its instance, its own stream. */
static int create_plugin(tb_node *nd, void *arg, char *msg, size_t len) {
  tb_trainer *t = arg;
  const tb_instance *in = nd->in;
  tb_rng *rng = nd->c->services & TB_SERVICE_RNG ? &nd->rng : NULL;
  int rc;
  if (nd->c->kind == TB_KIND_LOSS) {
    tb_loss_init li = {.host = tb_host_api_get(), .hp = in->hp, .values = in->values,
                       .n_classes = t->sp.k, .priors = t->sp.priors, .rng = rng,
                       .class_counts = t->class_counts, .train_size = t->sp.part[0].n,
                       .n_features = t->sp.d, .class_means = t->class_means,
                       .add_tensor = svc_add_tensor, .host_ctx = nd};
    t->lt.open = 1;
    rc = nd->c->loss->create(&li, &nd->state, msg, len);
    t->lt.open = 0;
  } else {
    tb_optimizer_init oi = {.host = tb_host_api_get(), .hp = in->hp, .values = in->values,
                            .params = t->opt_params, .n_params = t->n_opt,
                            .tensor_size = sizeof(tb_tensor), .rng = rng};
    rc = nd->c->opt->create(&oi, &nd->state, msg, len);
  }
  if (rc) {
    if (t->lt.err[0] || t->svc_err[0]) snprintf(msg, len, "%s", t->lt.err[0] ? t->lt.err : t->svc_err);
    return rc;
  }
  nd->created = 1;
  char why[TB_ERRLEN];
  if (host_misuse(why, sizeof why, tb_kind_name(nd->c->kind), nd->c->name) == 0 && !t->svc_err[0])
    return 0;
  snprintf(msg, len, "%s", t->svc_err[0] ? t->svc_err : why);
  return -1; /* created: the tree's free destroys it */
}

/* The outermost loss or optimizer of a run (role "loss" or "optimizer"):
 * its bases first, then itself; the tree is kept in *out whatever happens,
 * so that tb_trainer_free frees it. */
static int node_create(tb_trainer *t, tb_instance *in, const char *role, tb_node **out,
                       char *err, size_t errlen) {
  tb_node *nd = calloc(1, sizeof *nd);
  if (!nd) abort();
  *out = nd;
  nd->owner = t;
  nd->c = in->comp;
  nd->in = tb_instance_ref(in);
  snprintf(nd->role, sizeof nd->role, "%s", role);
  char purpose[80];
  snprintf(purpose, sizeof purpose, "plugin:%s", role);
  tb_rng_init(&nd->rng, (uint64_t)t->cfg->seed, purpose);
  if (tb_node_open_bases(nd, in->child, create_plugin, t, (uint64_t)t->cfg->seed, "plugin:",
                         err, errlen))
    return -1;
  char msg[TB_ERRLEN] = "";
  if (create_plugin(nd, t, msg, sizeof msg)) {
    tb_errf(err, errlen, "%s '%s' failed to start: %s", tb_kind_name(nd->c->kind), nd->c->name,
            msg[0] ? msg : "no reason");
    return -1;
  }
  return 0;
}

/* ---- stages: corruption ---------------------------------------------------------- */

/* Stage 1, once per run after the split: the corruption changes the
 * training labels (stream "corruption"); the priors are the corrupted
 * labels' frequencies, as a learner sees them, and so are the class counts
 * and means computed next. Validation and test keep theirs. */
static int corrupt(tb_trainer *t, const tb_instance *in) {
  if (tb_stage_is_default(in)) return 0;
  tb_split_part *tr = &t->sp.part[0];
  tb_rng r;
  tb_rng_init(&r, (uint64_t)t->cfg->seed, "corruption");
  t->corrupted = tb_corrupt_labels(in, tr->y, tr->n, t->sp.k, &r);
  for (int c = 0; c < t->sp.k; c++) t->sp.priors[c] = 0;
  for (int i = 0; i < tr->n; i++) t->sp.priors[tr->y[i]] += 1.0 / tr->n;
  return 0;
}

/* ---- creation ---------------------------------------------------------------- */

static int eval_create(tb_trainer *t, char *err, size_t errlen);
static void eval_free(tb_trainer *t);

void tb_trainer_free(tb_trainer *t) {
  if (!t) return;
  tb_node_free(t->lnode);
  tb_node_free(t->onode);
  if (t->sched_created && t->SD->destroy) t->SD->destroy(t->sched_state);
  if (t->has_model) tb_model_free(&t->model);
  if (t->has_split) tb_split_free(&t->sp);
  if (t->has_ds) tb_dataset_free(&t->own_ds);
  free(t->order);
  free(t->xb);
  free(t->yb);
  free(t->ids);
  free(t->class_counts);
  free(t->class_means);
  free(t->logits);
  free(t->dlogits);
  free(t->dlogits_f);
  free(t->prob);
  free(t->svc_logits);
  free(t->svc_dlogits);
  free(t->svc_dlogits_f);
  free(t->nb_x);
  free(t->nb_y);
  free(t->nb_ids);
  free(t->nb_order);
  free(t->ev_logits);
  free(t->xmix);
  free(t->targets);
  free(t->perm);
  free(t->row_loss);
  free(t->weights);
  free(t->row_order);
  free(t->prev);
  free(t->gsum);
  eval_free(t);
  tb_loss_tensors_free(&t->lt);
  free(t);
}

int tb_trainer_create(tb_trainer **out, const tb_run_config *cfg, char *err, size_t errlen) {
  tb_trainer *t = calloc(1, sizeof *t);
  *out = t;
  t->cfg = cfg;
  t->L = cfg->loss->loss;
  t->O = cfg->opt->opt;
  t->SD = cfg->sched->sched;
  t->ds = cfg->data.loaded;
  if (!t->ds) {
    if (tb_dataset_load(&cfg->data, &t->own_ds, err, errlen)) return -1;
    t->has_ds = 1;
    t->ds = &t->own_ds;
  }
  if (tb_split_make(t->ds, &cfg->data, cfg->seed, &t->sp, err, errlen)) return -1;
  t->has_split = 1;
  int n_train = t->sp.part[0].n, K = t->sp.k, D = t->sp.d;
  if (corrupt(t, cfg->parts[TB_PART_CORRUPTION])) return -1;
  t->B = (cfg->batch_size <= 0 || cfg->batch_size > n_train) ? n_train : cfg->batch_size;
  t->steps_per_epoch = (n_train + t->B - 1) / t->B; /* the last partial batch is kept */
  t->total_steps = t->steps_per_epoch * cfg->epochs;
  int max_split = 0;
  for (int s = 0; s < 3; s++)
    if (t->sp.part[s].n > max_split) max_split = t->sp.part[s].n;
  int cap = max_split < TB_EVAL_CHUNK ? max_split : TB_EVAL_CHUNK;
  if (cap < t->B) cap = t->B;
  if (tb_model_create(&t->model, &cfg->model, D, K, cap, err, errlen)) return -1;
  t->has_model = 1;

  tb_rng r_init;
  tb_rng_init(&r_init, (uint64_t)cfg->seed, "init");
  tb_model_init(&t->model, cfg->model.init, &r_init);
  tb_rng_init(&t->rng_batches, (uint64_t)cfg->seed, "batches");

  t->order = malloc(sizeof(int32_t) * (size_t)n_train);
  for (int i = 0; i < n_train; i++) t->order[i] = i;
  t->xb = malloc(sizeof(float) * (size_t)t->B * (size_t)D);
  t->yb = malloc(sizeof(int32_t) * (size_t)t->B);
  t->ids = malloc(sizeof(int64_t) * (size_t)t->B);
  t->logits = malloc(sizeof(double) * (size_t)cap * (size_t)K);
  t->dlogits = malloc(sizeof(double) * (size_t)cap * (size_t)K);
  t->dlogits_f = malloc(sizeof(float) * (size_t)cap * (size_t)K);
  t->prob = malloc(sizeof(double) * (size_t)K);
  t->svc_logits = malloc(sizeof(double) * (size_t)t->B * (size_t)K);
  t->svc_dlogits = malloc(sizeof(double) * (size_t)t->B * (size_t)K);
  t->svc_dlogits_f = malloc(sizeof(float) * (size_t)t->B * (size_t)K);
  t->transform = cfg->parts[TB_PART_TRANSFORM];
  t->reduction = cfg->parts[TB_PART_REDUCTION];
  if (!tb_stage_is_default(t->transform)) {
    tb_rng_init(&t->rng_transform, (uint64_t)cfg->seed, "transform");
    t->xmix = malloc(sizeof(float) * (size_t)t->B * (size_t)D);
    t->targets = malloc(sizeof(double) * (size_t)t->B * (size_t)K);
    t->perm = malloc(sizeof(int32_t) * (size_t)t->B);
    if (!t->xmix || !t->targets || !t->perm) abort();
  }
  if (tb_reduction_needs_losses(t->reduction)) {
    t->row_loss = malloc(sizeof(double) * (size_t)t->B);
    t->weights = malloc(sizeof(double) * (size_t)t->B);
    t->row_order = malloc(sizeof(int32_t) * (size_t)t->B);
    if (!t->row_loss || !t->weights || !t->row_order) abort();
  }
  for (int i = 0; i < t->model.n_tensors; i++) {
    t->P[i] = t->model.tensors[i].data;
    t->G[i] = t->model.gtensors[i].data;
  }

  /* what a loss may want of the training split: class counts and the
   * per-class means of its (standardized) inputs */
  const tb_split_part *tr = &t->sp.part[0];
  t->class_counts = calloc((size_t)K, sizeof(int64_t));
  t->class_means = calloc((size_t)K * (size_t)D, sizeof(float));
  double *sums = calloc((size_t)K * (size_t)D, sizeof(double));
  if (!t->ids || !t->class_counts || !t->class_means || !sums) abort();
  for (int i = 0; i < n_train; i++) {
    t->class_counts[tr->y[i]]++;
    for (int j = 0; j < D; j++) sums[(size_t)tr->y[i] * D + j] += tr->x[(size_t)i * D + j];
  }
  for (int c = 0; c < K; c++)
    for (int j = 0; j < D && t->class_counts[c] > 0; j++)
      t->class_means[(size_t)c * D + j] = (float)(sums[(size_t)c * D + j] / t->class_counts[c]);
  free(sums);

  /* the series points of train.loss and of reports: about SERIES_POINTS a run */
  t->series_every = (t->total_steps + SERIES_POINTS - 1) / SERIES_POINTS;
  if (t->series_every < 1) t->series_every = 1;
  tb_reports_init(&t->reports, t->series_every);
  t->svc_x = t->xb;
  t->svc_y = t->yb;
  t->svc_ids = t->ids;
  if (t->O->services & TB_SERVICE_NEXT_BATCH) {
    tb_rng_init(&t->rng_next, (uint64_t)cfg->seed, "plugin:next_batch");
    t->nb_x = malloc(sizeof(float) * (size_t)t->B * (size_t)D);
    t->nb_y = malloc(sizeof(int32_t) * (size_t)t->B);
    t->nb_ids = malloc(sizeof(int64_t) * (size_t)t->B);
    t->nb_order = malloc(sizeof(int32_t) * (size_t)n_train);
    if (!t->nb_x || !t->nb_y || !t->nb_ids || !t->nb_order) abort();
    for (int i = 0; i < n_train; i++) t->nb_order[i] = i;
  }
  t->not_mean = (tb_instance_tree_flags(cfg->parts[TB_PART_LOSS]) & TB_LOSS_NOT_MEAN) != 0;
  if (t->not_mean) {
    /* called once per whole split (a wrapper over such a loss too): logits of the largest split */
    t->ev_logits = malloc(sizeof(double) * (size_t)max_split * (size_t)K);
    if (!t->ev_logits) abort();
  }

  char msg[TB_ERRLEN] = "";
  const tb_instance *sched_in = cfg->parts[TB_PART_SCHEDULE];
  t->lt.loss = t->L->name;
  if (node_create(t, cfg->parts[TB_PART_LOSS], "loss", &t->lnode, err, errlen)) return -1;
  t->loss_state = t->lnode->state;
  t->scale_node = tb_node_scale_owner(t->lnode);
  if (t->lt.err[0]) { /* a refused add_tensor the loss went on without */
    tb_errf(err, errlen, "%s", t->lt.err);
    return -1;
  }
  /* the optimizer steps the model's tensors, then the loss's own */
  const int nm = t->model.n_tensors;
  for (int i = 0; i < nm; i++) {
    t->opt_params[i] = t->model.tensors[i];
    t->opt_grads[i] = t->model.gtensors[i];
  }
  for (int j = 0; j < t->lt.n; j++) {
    t->opt_params[nm + j] = t->lt.live[j];
    t->opt_grads[nm + j] = t->lt.grad[j];
  }
  t->n_opt = nm + t->lt.n;
  for (int i = 0; i < t->n_opt; i++) t->opt_numel += t->opt_params[i].numel;
  t->prev = malloc(sizeof(float) * (size_t)(t->opt_numel > 0 ? t->opt_numel : 1));
  t->gsum = calloc((size_t)t->n_opt + 1, sizeof(double) * NORM_LANES);
  if (!t->prev || !t->gsum) abort();
  if (node_create(t, cfg->parts[TB_PART_OPTIMIZER], "optimizer", &t->onode, err, errlen))
    return -1;
  t->opt_state = t->onode->state;
  /* the lr the schedule's factor scales, for the train.lr series: the
   * optimizer's, or its base's down a chain of single bases */
  t->lr_hp = NAN;
  for (const tb_node *nd = t->onode; nd; nd = tb_node_single_base(nd))
    if (tb_hparam_index(nd->c, "lr") >= 0) {
      t->lr_hp = tb_instance_num(nd->in, "lr");
      break;
    }
  tb_schedule_init si = {.host = tb_host_api_get(), .hp = sched_in->hp,
                         .values = sched_in->values, .steps_per_epoch = t->steps_per_epoch,
                         .n_steps = t->total_steps, .n_epochs = cfg->epochs};
  msg[0] = 0;
  if (t->SD->create && t->SD->create(&si, &t->sched_state, msg, sizeof msg)) {
    tb_errf(err, errlen, "schedule '%s' failed to start: %s", t->SD->name,
            msg[0] ? msg : "no reason");
    return -1;
  }
  t->sched_created = t->SD->create != NULL;
  if (host_misuse(err, errlen, "schedule", t->SD->name)) return -1;
  t->sctx.steps_per_epoch = t->steps_per_epoch;
  t->sctx.n_steps = t->total_steps;
  if (eval_create(t, err, errlen)) return -1;
  t->sctx.last_eval = t->last_eval;
  t->sctx.metric_size = sizeof(tb_metric_value);
  t->ctx.n_classes = K;
  t->ctx.host_ctx = t->onode;
  t->onode->ctx = &t->ctx;
  t->ctx.eval = svc_eval;
  t->ctx.step_base = svc_step_base;
  t->ctx.eval_params_base = svc_eval_params_base;
  t->ctx.jvp = svc_jvp;
  t->ctx.next_batch = svc_next_batch;
  t->ctx.report = svc_opt_report;
  t->ctx.n_params = t->n_opt;
  t->ctx.tensor_size = sizeof(tb_tensor);
  t->ctx.labels = t->yb;
  t->ctx.sample_ids = t->ids;
  t->ctx.logits = t->logits;
  t->ctx.n_steps = t->total_steps;
  t->ctx.steps_per_epoch = t->steps_per_epoch;
  t->ctx.train_size = n_train;
  return 0;
}

/* ---- the training step, stage by stage ------------------------------------------- */
/*
 * After the corruption (once, at create): sample_batch -> transform_batch ->
 * forward -> per-sample losses and the reduction's weights -> the loss's
 * TRAIN call (value, dlogits) -> backward -> optimize. Each stage reads and
 * writes the trainer's buffers, allocated at create; none allocates.
 */

/* Sampling: the next bn rows of the epoch's order (a new epoch reshuffles,
 * stream "batches") into xb [bn][D], yb [bn] and ids [bn]; the last batch
 * of an epoch may be short. Returns bn. */
static int sample_batch(tb_trainer *t) {
  const int n_train = t->sp.part[0].n, D = t->sp.d;
  if (t->pos >= n_train) t->pos = 0;
  if (t->pos == 0) tb_rng_shuffle(&t->rng_batches, t->order, n_train); /* a new epoch */
  const int bn = n_train - t->pos < t->B ? n_train - t->pos : t->B;
  const tb_split_part *tr = &t->sp.part[0];
  for (int i = 0; i < bn; i++) {
    int r = t->order[t->pos + i];
    memcpy(t->xb + (size_t)i * D, tr->x + (size_t)r * D, sizeof(float) * (size_t)D);
    t->yb[i] = tr->y[r];
    t->ids[i] = r;
  }
  t->pos += bn;
  t->bn = bn;
  return bn;
}

/* The transform (stream "transform"): the inputs the model sees (xb, or
 * xmix [bn][D] mixed from it), yb rewritten to the targets' argmax, and the
 * soft targets [bn][K] in *targets (NULL: one-hot labels). */
static const float *transform_batch(tb_trainer *t, int bn, const double **targets) {
  *targets = NULL;
  if (!t->targets || !tb_transform_batch(t->transform, t->xb, t->xmix, t->yb, t->targets,
                                         t->perm, bn, t->sp.d, t->sp.k, &t->rng_transform))
    return t->xb;
  *targets = t->targets;
  return t->xmix;
}

/* The reduction: for a plain mean, NULL (every weight 1). Otherwise each
 * row's loss, value only, in phase PROBE (a stateful loss keeps its state
 * for the TRAIN call), then the weights [bn] the reduction gives them. */
static const double *reduce(tb_trainer *t, const tb_loss_batch *b) {
  if (!t->weights) return NULL;
  const int K = b->k;
  tb_loss_batch one = *b;
  one.n = 1;
  one.dlogits = NULL;
  one.dtensors = t->lt.scratch;
  one.phase = TB_PHASE_PROBE;
  t->loss_phase = TB_PHASE_PROBE;
  for (int i = 0; i < b->n; i++) {
    one.logits = b->logits + (size_t)i * K;
    one.labels = b->labels + i;
    one.targets = b->targets ? b->targets + (size_t)i * K : NULL;
    one.sample_ids = b->sample_ids + i;
    t->row_loss[i] = tbu_loss_eval(t->L, t->loss_state, &one);
  }
  t->loss_phase = 0;
  t->loss_evals++;
  t->dropped += tb_reduce_weights(t->reduction, t->row_loss, t->weights, t->row_order, b->n,
                                  t->epoch);
  return t->weights;
}

/* The series' norms are sums of squares in double kept in NORM_LANES
 * partial sums — element j of a tensor goes to lane j % NORM_LANES — that
 * are added in one fixed order at the end. One running sum is a chain of
 * dependent additions, 4 cycles each: the 1.3 M of them a step at
 * 784-512-512-10 (two norms of 670k parameters) took about a fifth of the
 * time the step's products take; with the lanes the passes run at the
 * speed of memory. The order is fixed, so a
 * norm is the same on every machine and at every -j (it differs from the
 * one running sum's in the last bits). */
static double lanes_total(const double *s) {
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* The lanes are eight named sums, not an array, and the two loops are not
 * inlined: so gcc keeps the sums in registers (an array it keeps in memory,
 * each addition waiting on the last one's store; inlined in the step, out
 * of registers, it spills them). Compiled for SSE2 and AVX2 (plugin_util.h:
 * TBU_VECTOR_CLONES, no FMA): the same additions in the same order, two or
 * four lanes to a register. */
#define LANES_LOAD(s)                                                                        \
  double s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], s6 = s[6],      \
         s7 = s[7]
#define LANES_STORE(s)                                                                       \
  (s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3, s[4] = s4, s[5] = s5, s[6] = s6, s[7] = s7)
/* s_l += v_l^2 for the eight values V(0) .. V(7) */
#define LANES_ADD(V)                                                                         \
  do {                                                                                       \
    const double v0 = V(0), v1 = V(1), v2 = V(2), v3 = V(3), v4 = V(4), v5 = V(5),           \
                 v6 = V(6), v7 = V(7);                                                       \
    s0 += v0 * v0, s1 += v1 * v1, s2 += v2 * v2, s3 += v3 * v3;                              \
    s4 += v4 * v4, s5 += v5 * v5, s6 += v6 * v6, s7 += v7 * v7;                              \
  } while (0)

// g [n] -> s [NORM_LANES] += g^2 lane by lane
TBU_VECTOR_CLONES __attribute__((noinline)) static void sumsq(double *restrict s,
                                                              const float *restrict g,
                                                              int64_t n) {
  LANES_LOAD(s);
  int64_t j = 0;
  for (; j + NORM_LANES <= n; j += NORM_LANES) {
#define V(l) (double)g[j + (l)]
    LANES_ADD(V);
#undef V
  }
  LANES_STORE(s);
  for (int l = 0; j < n; j++, l++) s[l] += (double)g[j] * g[j];
}

// p [n], prev [n] -> s [NORM_LANES] += (p - prev)^2 lane by lane; then, if keep,
// prev [n] = p [n] (the line just read: a write, without another read)
TBU_VECTOR_CLONES __attribute__((noinline)) static void sumsq_diff(double *restrict s,
                                                                   const float *restrict p,
                                                                   float *restrict prev,
                                                                   int64_t n, int keep) {
  LANES_LOAD(s);
  int64_t j = 0;
  for (; j + NORM_LANES <= n; j += NORM_LANES) {
#define V(l) ((double)p[j + (l)] - prev[j + (l)])
    LANES_ADD(V);
#undef V
    if (keep) memcpy(prev + j, p + j, sizeof(float) * NORM_LANES);
  }
  LANES_STORE(s);
  for (int l = 0; j < n; j++, l++) {
    const double d = (double)p[j] - prev[j];
    s[l] += d * d;
    if (keep) prev[j] = p[j];
  }
}

/* The model's backward pass calls this as each gradient is complete, on a
 * step the series keep: its lanes, while it is in cache. */
static void grad_done(void *ud, int i) {
  tb_trainer *t = ud;
  double *s = t->gsum + (size_t)i * NORM_LANES;
  memset(s, 0, sizeof(double) * NORM_LANES);
  sumsq(s, t->opt_grads[i].data, t->opt_grads[i].numel);
}

/* Optimizing: the schedule's factor, the optimizer's step (its bases
 * through compose.c), the loss tensors' projection. On a step the series
 * keep, the gradient's norm before it and the update's after it. */
static int optimize(tb_trainer *t, int bn, double loss, char *err, size_t errlen) {
  t->ctx.step = t->step + 1;
  t->sctx.step = t->step;
  t->sctx.epoch = t->epoch;
  const double factor = t->SD->factor(t->sched_state, &t->sctx);
  if (!(factor >= 0) || !isfinite(factor)) {
    tb_errf(err, errlen, "schedule '%s' gave the factor %g at step %lld (it must be finite "
            "and >= 0)", t->SD->name, factor, (long long)t->step + 1);
    return -1;
  }
  t->ctx.lr_factor = factor;
  t->ctx.epoch = t->epoch;
  t->ctx.batch_n = bn;
  t->ctx.loss = loss;
  if (t->sampled) {
    /* the model's tensors' lanes came from the backward pass (grad_done);
     * the loss's own are added here; then the tensors' lanes, in order */
    double s[NORM_LANES] = {0};
    float *p = t->prev;
    for (int i = 0; i < t->n_opt; i++) {
      if (i >= t->model.n_tensors) grad_done(t, i);
      for (int l = 0; l < NORM_LANES; l++) s[l] += t->gsum[(size_t)i * NORM_LANES + l];
      if (!t->prev_fresh)
        memcpy(p, t->opt_params[i].data, sizeof(float) * (size_t)t->opt_params[i].numel);
      p += t->opt_params[i].numel;
    }
    t->grad_norm = sqrt(lanes_total(s));
  }
  int rc = t->O->step(t->opt_state, t->opt_params, t->opt_grads, &t->ctx);
  t->step++;
  tb_loss_tensors_project(&t->lt);
  if (host_misuse(err, errlen, "optimizer", t->O->name)) return -1;
  if (t->svc_err[0]) {
    tb_errf(err, errlen, "%s", t->svc_err);
    return -1;
  }
  if (rc) {
    tb_errf(err, errlen, "optimizer '%s' step %lld failed (code %d)", t->O->name,
            (long long)t->step, rc);
    return -1;
  }
  if (t->sampled) {
    /* when the next step is kept too (a run of at most SERIES_POINTS
     * steps keeps every one), prev becomes its start in the same pass */
    const int keep = (t->step + 1) % t->series_every == 0;
    double s[NORM_LANES] = {0};
    float *p = t->prev;
    for (int i = 0; i < t->n_opt; i++) {
      sumsq_diff(s, t->opt_params[i].data, p, t->opt_params[i].numel, keep);
      p += t->opt_params[i].numel;
    }
    t->update_norm = sqrt(lanes_total(s));
    t->prev_fresh = keep;
    t->lr_factor = factor;
    t->lr = t->lr_hp * factor;
  }
  return 0;
}

int tb_trainer_step(tb_trainer *t, char *err, size_t errlen) {
  const int K = t->sp.k;
  const int bn = sample_batch(t);
  const double *targets;
  const float *x = transform_batch(t, bn, &targets);

  t->sampled = (t->step + 1) % t->series_every == 0;
  const float *z = tb_model_forward(&t->model, t->P, x, bn);
  for (int64_t i = 0; i < (int64_t)bn * K; i++) t->logits[i] = z[i];
  tb_loss_tensors_zero(t->lt.grad, t->lt.n);
  tb_loss_batch b = {.n = bn, .k = K, .logits = t->logits, .labels = t->yb,
                     .targets = targets, .priors = t->sp.priors, .epoch = t->epoch,
                     .n_epochs = t->cfg->epochs, .step = t->step, .n_steps = t->total_steps,
                     .phase = TB_PHASE_TRAIN, .dlogits = t->dlogits, .sample_ids = t->ids,
                     .tensors = t->lt.live, .dtensors = t->lt.grad, .n_tensors = t->lt.n,
                     .tensor_size = sizeof(tb_tensor), .host_ctx = t->lnode,
                     .report = svc_loss_report, .eval_base = svc_eval_base};
  char why[TB_ERRLEN];
  if (tb_node_head_scale(t->scale_node, &b, why, sizeof why)) {
    tb_errf(err, errlen, "%s at epoch %d, step %lld", why, t->epoch + 1, (long long)t->step + 1);
    return -1;
  }
  b.weights = reduce(t, &b);
  t->loss_phase = TB_PHASE_TRAIN;
  double loss = tbu_loss_eval(t->L, t->loss_state, &b);
  t->loss_phase = 0;
  if (host_misuse(err, errlen, "loss", t->L->name)) return -1;
  if (t->svc_err[0]) {
    tb_errf(err, errlen, "%s", t->svc_err);
    return -1;
  }
  t->last_loss = loss;
  t->loss_evals++;
  t->grad_evals++;
  if (!isfinite(loss)) {
    tb_errf(err, errlen, "training loss is %s at epoch %d, step %lld", isnan(loss) ? "NaN" : "infinite",
            t->epoch + 1, (long long)t->step + 1);
    return 1;
  }
  for (int64_t i = 0; i < (int64_t)bn * K; i++) t->dlogits_f[i] = (float)t->dlogits[i];
  tb_model_backward_each(&t->model, t->P, t->G, x, t->dlogits_f, bn,
                         t->sampled ? grad_done : NULL, t);
  tb_loss_tensors_ascent(&t->lt, t->lt.grad); /* min-max: the optimizer descends on -grad */

  /* the services' batch is the step's own until next_batch draws another */
  t->svc_x = x;
  t->svc_y = t->yb;
  t->svc_ids = t->ids;
  t->svc_targets = targets;
  t->svc_weights = b.weights;
  t->svc_bn = bn;
  return optimize(t, bn, loss, err, errlen);
}

/* ---- evaluation ------------------------------------------------------------------ */

/* The values an evaluation pass sees: the optimizer's eval_params for each
 * tensor that has one (asked once per tensor before each evaluation), the
 * live values for the others. A wrapper without eval_params passes on its
 * base's (lookahead over an EMA evaluates the EMA): the first in the chain
 * of single bases that has one answers. */
static int eval_views(tb_trainer *t, char *err, size_t errlen) {
  const int nm = t->model.n_tensors;
  for (int i = 0; i < nm; i++) t->P_eval[i] = t->P[i];
  for (int j = 0; j < t->lt.n; j++) t->ev_lt[j] = t->lt.live[j];
  const tb_node *nd = tb_node_eval_params(t->onode);
  if (!nd) return 0;
  for (int i = 0; i < t->n_opt; i++) {
    const float *p = nd->c->opt->eval_params(nd->state, i);
    if (!p) continue;
    if (i < nm)
      t->P_eval[i] = p;
    else
      t->ev_lt[i - nm].data = (float *)p;
  }
  return host_misuse(err, errlen, "optimizer", t->O->name);
}

/* What every evaluation pass reuses, sized by K once: each split's
 * accumulators and the values the schedule sees. */
static int eval_create(tb_trainer *t, char *err, size_t errlen) {
  for (int s = 0; s < 3; s++)
    if (tb_eval_acc_init(&t->acc[s], t->sp.k)) {
      tb_errf(err, errlen, "out of memory for the confusion counts of %d classes", t->sp.k);
      return -1;
    }
  t->last_eval = calloc(3 * (size_t)tb_metric_count(), sizeof *t->last_eval);
  if (!t->last_eval) abort();
  return 0;
}

static void eval_free(tb_trainer *t) {
  for (int s = 0; s < 3; s++) tb_eval_acc_free(&t->acc[s]);
  free(t->last_eval);
}

/* Evaluate every non-empty split: each metric of the registry (metrics.h)
 * into res and into what the schedule sees as the last evaluation (names
 * that live as long as the trainer); at the run's last epoch, the splits'
 * confusion counts and calibration bins too. */
int tb_trainer_evaluate(tb_trainer *t, int epoch, tb_run_result *res, char *err, size_t errlen) {
  int K = t->sp.k, D = t->sp.d, cap = t->model.cap;
  const int not_mean = t->not_mean;
  int n_last = 0;
  char why[TB_ERRLEN];
  if (eval_views(t, err, errlen)) return -1;
  for (int s = 0; s < 3; s++) {
    const tb_split_part *p = &t->sp.part[s];
    if (p->n == 0) continue;
    tb_eval_acc *acc = &t->acc[s];
    tb_eval_acc_reset(acc);
    tb_loss_batch b = {.k = K, .priors = t->sp.priors, .epoch = epoch > 0 ? epoch - 1 : 0,
                       .n_epochs = t->cfg->epochs, .step = t->step,
                       .n_steps = t->total_steps, .phase = TB_PHASE_EVAL, .dlogits = NULL,
                       .tensors = t->ev_lt, .dtensors = t->lt.scratch, .n_tensors = t->lt.n,
                       .tensor_size = sizeof(tb_tensor), .host_ctx = t->lnode,
                       .report = svc_loss_report, .eval_base = svc_eval_base};
    for (int off = 0; off < p->n; off += cap) {
      int bn = p->n - off < cap ? p->n - off : cap;
      const float *z = tb_model_forward(&t->model, t->P_eval, p->x + (size_t)off * D, bn);
      /* a loss that is not a mean sees the whole split at once */
      double *lg = not_mean ? t->ev_logits + (size_t)off * K : t->logits;
      for (int64_t i = 0; i < (int64_t)bn * K; i++) lg[i] = z[i];
      b.n = bn;
      b.logits = lg;
      b.labels = p->y + off;
      if (tb_node_head_scale(t->scale_node, &b, why, sizeof why)) goto bad_scale;
      if (!not_mean) {
        tb_loss_tensors_zero(t->lt.scratch, t->lt.n);
        t->loss_phase = TB_PHASE_EVAL;
        tb_eval_acc_add_loss(acc, tbu_loss_eval(t->L, t->loss_state, &b), bn);
        t->loss_phase = 0;
      }
      /* the metrics see s cos theta of a cosine head (the loss's scale,
       * without its margin); the loss saw cos theta */
      const double *mz = lg;
      if (b.scale > 0) {
        for (int64_t i = 0; i < (int64_t)bn * K; i++) t->logits[i] = b.scale * lg[i];
        mz = t->logits;
      }
      tb_eval_acc_add(acc, mz, p->y + off, bn, t->prob);
    }
    if (not_mean) {
      b.n = p->n;
      b.logits = t->ev_logits;
      b.labels = p->y;
      if (tb_node_head_scale(t->scale_node, &b, why, sizeof why)) goto bad_scale;
      tb_loss_tensors_zero(t->lt.scratch, t->lt.n);
      t->loss_phase = TB_PHASE_EVAL;
      tb_eval_acc_set_loss(acc, tbu_loss_eval(t->L, t->loss_state, &b));
      t->loss_phase = 0;
    }
    if (host_misuse(err, errlen, "loss", t->L->name)) return -1;
    if (t->svc_err[0]) {
      tb_errf(err, errlen, "%s", t->svc_err);
      return -1;
    }
    for (int m = 0; m < tb_metric_count(); m++) {
      const tb_metric_def *d = tb_metric_at(m);
      double v = d->finalize(acc);
      tb_result_add_metric(res, epoch, p->name, d->name, v);
      t->last_eval[n_last++] = (tb_metric_value){p->name, d->name, v};
    }
    if (epoch == t->cfg->epochs) tb_eval_acc_record(acc, res, epoch, p->name);
  }
  t->sctx.n_last_eval = n_last;
  return 0;
bad_scale:
  tb_errf(err, errlen, "%s in the evaluation after epoch %d", why, epoch);
  return -1;
}

/* ---- a whole run ------------------------------------------------------------------- */

int tb_train_run(const tb_run_config *cfg, tb_run_result *res, tb_epoch_cb cb, void *ud) {
  double t0 = tb_now_mono(), t_train = 0, t_eval = 0, t_setup = 0;
  res->started_at = tb_now_wall();
  tb_trainer *t = NULL;
  char *err = res->error;
  size_t errlen = sizeof res->error;
  int status = TB_RUN_COMPLETE;
  if (tb_trainer_create(&t, cfg, err, errlen)) {
    status = TB_RUN_FAILED;
    goto done;
  }
  t_setup = tb_now_mono() - t0;
  const int64_t every = t->series_every;
  static const char *const core_series[] = {"train.loss", "train.grad_norm",
                                            "train.update_norm", "train.lr_factor", "train.lr"};
  for (int i = 0; i < 5; i++)
    if (i < 4 || isfinite(t->lr_hp)) tb_result_set_series_every(res, core_series[i], every);
  double te = tb_now_mono();
  if (tb_trainer_evaluate(t, 0, res, err, errlen)) status = TB_RUN_FAILED;
  t_eval += tb_now_mono() - te;
  if (cb) cb(ud, 0, res);
  for (int e = 1; e <= cfg->epochs && status == TB_RUN_COMPLETE; e++) {
    te = tb_now_mono();
    t->epoch = e - 1;
    for (int64_t s = 0; s < t->steps_per_epoch; s++) {
      int rc = tb_trainer_step(t, err, errlen);
      /* the diverging step's loss too: the series shows where it went */
      if (rc >= 0 && (t->step % every == 0 || rc > 0))
        tb_result_add_series(res, "train.loss", t->step + (rc > 0), t->last_loss);
      if (rc == 0 && t->sampled) { /* the optimizer's side of the same steps */
        tb_result_add_series(res, "train.grad_norm", t->step, t->grad_norm);
        tb_result_add_series(res, "train.update_norm", t->step, t->update_norm);
        tb_result_add_series(res, "train.lr_factor", t->step, t->lr_factor);
        if (isfinite(t->lr_hp)) tb_result_add_series(res, "train.lr", t->step, t->lr);
      }
      tb_reports_drain(&t->reports, res); /* what the plugins reported in this step */
      if (rc) {
        status = rc > 0 ? TB_RUN_DIVERGED : TB_RUN_FAILED;
        break;
      }
    }
    double tr = tb_now_mono() - te;
    t_train += tr;
    if (status != TB_RUN_COMPLETE) break;
    tb_result_add_epoch_time(res, tr);
    te = tb_now_mono();
    if (tb_trainer_evaluate(t, e, res, err, errlen)) status = TB_RUN_FAILED;
    t_eval += tb_now_mono() - te;
    if (cb) cb(ud, e, res);
  }
  if (t->O->services & TB_SERVICE_NEXT_BATCH)
    tb_result_set_counter(res, "svc.next_batch", (double)t->next_batches);
  if (t->reports.calls) tb_result_set_counter(res, "svc.report", (double)t->reports.calls);
  if (!tb_stage_is_default(cfg->parts[TB_PART_CORRUPTION]))
    tb_result_set_counter(res, "corruption.changed", (double)t->corrupted);
  if (t->weights) tb_result_set_counter(res, "reduction.dropped", (double)t->dropped);
  tb_result_set_counter(res, "time.setup", t_setup);
  tb_result_set_counter(res, "time.train", t_train);
  tb_result_set_counter(res, "time.eval", t_eval);
done:
  if (t) {
    res->steps = t->step;
    res->loss_evals = t->loss_evals;
    res->grad_evals = t->grad_evals;
    res->jvp_evals = t->jvp_evals;
  }
  tb_trainer_free(t);
  res->status = status;
  if (status == TB_RUN_COMPLETE) res->error[0] = 0;
  res->finished_at = tb_now_wall();
  res->compute_seconds = tb_now_mono() - t0;
  return status == TB_RUN_COMPLETE ? 0 : -1;
}
