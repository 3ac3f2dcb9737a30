/*
 * probe.c — a loss or optimizer instance driven outside any training run, on
 * inputs the caller makes up (see probe.h): shared by `trainbench check` and
 * the numeric fingerprints, so both create, feed and step a component the
 * same way, with the same host services.
 *
 * Shapes: K = classes; P = 67 parameters in the 4 tensors of a small mlp.
 *
 * Provides: tb_probe_rng_same, tb_probe_loss_open, tb_probe_loss_eval,
 * tb_probe_loss_eval_form, tb_probe_loss_close, tb_probe_tensor_name, tb_probe_tensor_numel,
 * tb_probe_opt_open, tb_probe_opt_step, tb_probe_opt_get, tb_probe_opt_f,
 * tb_probe_opt_close.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "probe.h"
#include "trainbench/plugin_util.h"
#include "registry.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"

int tb_probe_rng_same(const tb_rng *a, const tb_rng *b) {
  return memcmp(a->s, b->s, sizeof a->s) == 0 && a->has_spare == b->has_spare &&
         memcmp(&a->spare, &b->spare, sizeof a->spare) == 0;
}

/* Where a run would refuse a call, the first reason. */
static void report_refused(long *bad, char *first, size_t len, const char *why) {
  if (!*bad) snprintf(first, len, "%s", why);
  ++*bad;
}

/* ------------------------------------------------------------------------ */
/* Bases of wrappers                                                        */
/* ------------------------------------------------------------------------ */

static tb_registry *const *g_regs;
static int g_n_regs;

void tb_probe_set_registries(tb_registry *const *regs, int n) {
  g_regs = regs;
  g_n_regs = n;
}

static const tb_component *base_for_slot(const tb_component *c, int i, char *err, size_t errlen) {
  const char *fallback = c->kind == TB_KIND_LOSS ? "cross_entropy" : "sgd";
  const char *name = c->hparams[i].def_text ? c->hparams[i].def_text : fallback;
  const tb_component *b = tb_registry_find(c->registry, c->kind, name);
  for (int r = 0; !b && r < g_n_regs; r++) b = tb_registry_find(g_regs[r], c->kind, name);
  if (!b)
    tb_errf(err, errlen, "%s '%s': the base '%s' of '%s' is not loaded", tb_kind_name(c->kind),
            c->name, name, c->hparams[i].name);
  return b;
}

const tb_component *tb_probe_default_base(const tb_component *c, int *slot, char *err,
                                          size_t errlen) {
  *slot = -1;
  for (int i = 0; i < c->n_hparams; i++)
    if (tb_is_base_slot(c, i)) {
      *slot = i;
      return base_for_slot(c, i, err, errlen);
    }
  tb_errf(err, errlen, "%s '%s' wraps no base", tb_kind_name(c->kind), c->name);
  return NULL;
}

/* Open the bases of a probed wrapper's root at their defaults (the first
 * one `first` when given), through compose.c as a run does. */
static int open_bases(tb_node *root, const tb_component *first, tb_node_create_fn create,
                      void *arg, char *err, size_t errlen) {
  tb_instance *bases[TB_MAX_HP] = {0};
  int rc = 0, firsts = 0;
  for (int i = 0; i < root->c->n_hparams && !rc; i++) {
    if (!tb_is_base_slot(root->c, i)) continue;
    const tb_component *bc = first && !firsts++ ? first : base_for_slot(root->c, i, err, errlen);
    if (!bc || !(bases[i] = tb_instance_new(bc->registry, bc, err, errlen))) rc = -1;
  }
  if (!rc) rc = tb_node_open_bases(root, bases, create, arg, 0, "probe:", err, errlen);
  for (int i = 0; i < TB_MAX_HP; i++)
    if (bases[i]) tb_instance_unref(bases[i]);
  if (rc) tb_node_free_bases(root);
  return rc;
}

/* A base the calling node may run, or NULL with the refusal counted (the
 * first reason in why). */
static tb_node *base_at(tb_node *nd, int slot, const char *call, long *n, long *bad,
                        char *why, size_t len) {
  ++*n;
  char msg[200];
  tb_node *b = tb_node_base(nd, slot, call, msg, sizeof msg);
  if (!b) report_refused(bad, why, len, msg);
  return b;
}

/* ------------------------------------------------------------------------ */
/* Losses                                                                   */
/* ------------------------------------------------------------------------ */

/* A component without TB_SERVICE_RNG gets a NULL stream; a draw from it
 * is recorded by the host table (as in a run, where it fails the run). */
static void note_misuse(int *drew) {
  if (tb_host_misuse()) {
    *drew = 1;
    tb_host_misuse_clear();
  }
}

static int probe_add_tensor(void *hctx, const char *name, int ndim, const int64_t *shape,
                            double value, uint32_t flags) {
  tb_node *nd = hctx;
  tb_probe_loss *in = nd->owner;
  if (nd != &in->root) { /* a run refuses it: only the outermost loss owns tensors */
    in->tensor_refused = 1;
    return -1;
  }
  return tb_loss_tensors_add(&in->lt, name, ndim, shape, value, flags);
}

static int probe_loss_report(void *hctx, const char *name, double value) {
  tb_node *nd = hctx;
  tb_probe_loss *in = nd->owner;
  char why[200];
  (void)value;
  in->n_report++;
  if (!(nd->c->services & TB_SERVICE_REPORT)) {
    report_refused(&in->bad_report, in->report_err, sizeof in->report_err,
                   "report without declaring TB_SERVICE_REPORT");
    return -1;
  }
  if (in->phase != TB_PHASE_TRAIN) {
    report_refused(&in->bad_report_phase, in->report_err, sizeof in->report_err,
                   in->phase == TB_PHASE_EVAL ? "report in phase EVAL (TRAIN only)"
                                              : "report in phase PROBE (TRAIN only)");
    return -1;
  }
  if (tb_series_name_check(name, why, sizeof why)) {
    report_refused(&in->bad_report, in->report_err, sizeof in->report_err, why);
    return -1;
  }
  return 0;
}

/* The base's mean loss on the wrapper's batch, with the base's own state
 * and stream (put back first) and none of the outermost loss's tensors. */
static double probe_eval_base(void *hctx, int slot, const tb_loss_batch *batch) {
  tb_node *nd = hctx;
  tb_probe_loss *in = nd->owner;
  tb_node *b = base_at(nd, slot, "eval_base", &in->n_base, &in->bad_base, in->base_err,
                             sizeof in->base_err);
  if (!b) return NAN;
  tb_loss_batch bb;
  tb_node_base_batch(&bb, batch, b, probe_loss_report, probe_eval_base);
  b->rng = b->rng_at;
  return tbu_loss_eval(b->c->loss, b->state, &bb);
}

static int loss_base_create(tb_node *nd, void *arg, char *err, size_t errlen) {
  tb_probe_loss *in = arg;
  tb_loss_init init = {.host = tb_host_api_get(), .hp = nd->in->hp, .values = nd->in->values,
                       .n_classes = in->k, .priors = in->priors,
                       .rng = nd->c->services & TB_SERVICE_RNG ? &nd->rng : NULL,
                       .class_counts = in->counts, .train_size = 2 * in->k, .n_features = 2,
                       .class_means = in->means, .add_tensor = probe_add_tensor,
                       .host_ctx = nd};
  int rc = nd->c->loss->create(&init, &nd->state, err, errlen);
  nd->rng_at = nd->rng;
  if (!rc && in->tensor_refused) { /* a run fails here */
    if (nd->c->loss->destroy) nd->c->loss->destroy(nd->state);
    tb_errf(err, errlen, "it called add_tensor: only the outermost loss owns tensors");
    return -1;
  }
  return rc;
}

int tb_probe_loss_open(tb_probe_loss *in, const tb_component *c, const double *hp, int k,
                       const tb_rng *stream, char *err, size_t errlen) {
  return tb_probe_loss_open_base(in, c, hp, NULL, k, stream, err, errlen);
}

int tb_probe_loss_open_base(tb_probe_loss *in, const tb_component *c, const double *hp,
                            const tb_component *base, int k, const tb_rng *stream, char *err,
                            size_t errlen) {
  memset(in, 0, sizeof *in);
  in->c = c;
  in->k = k;
  in->root.c = c;
  in->root.owner = in;
  snprintf(in->root.role, sizeof in->root.role, "loss");
  if (k < 1 || k > TB_PROBE_MAXK) {
    tb_errf(err, errlen, "K=%d is outside 1..%d", k, TB_PROBE_MAXK);
    return -1;
  }
  /* uneven priors (1, 2, 3, 1, 2, 3, ...) so a loss that reads them sees them matter */
  double s = 0;
  for (int j = 0; j < k; j++) s += in->priors[j] = 1 + j % 3;
  for (int j = 0; j < k; j++) in->priors[j] /= s;
  in->rng = *stream;
  in->rng_at = in->rng;
  for (int j = 0; j < k; j++) {
    in->counts[j] = 1 + j % 3;
    in->means[2 * j] = (float)j;
    in->means[2 * j + 1] = (float)-j;
  }
  err[0] = 0;
  if (open_bases(&in->root, base, loss_base_create, in, err, errlen)) return -1;
  tb_hparams_values(c, hp, in->values);
  tb_loss_init init = {.host = tb_host_api_get(), .hp = hp, .values = in->values,
                       .n_classes = k, .priors = in->priors,
                       .rng = c->services & TB_SERVICE_RNG ? &in->rng : NULL,
                       .class_counts = in->counts, .train_size = 2 * k, .n_features = 2,
                       .class_means = in->means, .add_tensor = probe_add_tensor,
                       .host_ctx = &in->root};
  in->lt.loss = c->name;
  in->lt.open = 1;
  int rc = c->loss->create(&init, &in->state, err, errlen);
  in->lt.open = 0;
  if (rc || in->lt.err[0]) {
    if (in->lt.err[0]) tb_errf(err, errlen, "%s", in->lt.err);
    else if (!err[0]) tb_errf(err, errlen, "create failed without a message");
    if (!rc && c->loss->destroy) c->loss->destroy(in->state);
    tb_loss_tensors_free(&in->lt);
    tb_node_free_bases(&in->root);
    return -1;
  }
  in->root.state = in->state;
  note_misuse(&in->rng_moved);
  if (!tb_probe_rng_same(&in->rng, &in->rng_at)) in->rng_moved = 1;
  in->rng_at = in->rng;
  in->live = 1;
  return 0;
}

double tb_probe_loss_eval(tb_probe_loss *in, tb_loss_batch *b) {
  return tb_probe_loss_eval_form(in, b, TB_PROBE_ANY);
}

double tb_probe_loss_eval_form(tb_probe_loss *in, tb_loss_batch *b, int form) {
  b->k = in->k;
  b->priors = in->priors;
  b->tensors = in->lt.live;
  b->dtensors = b->dlogits ? in->lt.grad : in->lt.scratch;
  b->n_tensors = in->lt.n;
  b->tensor_size = sizeof(tb_tensor);
  b->host_ctx = &in->root;
  b->report = probe_loss_report;
  b->eval_base = probe_eval_base;
  tb_loss_tensors_zero(b->dtensors, in->lt.n);
  in->rng = in->rng_at;
  in->phase = b->phase;
  char why[sizeof in->scale_err];
  if (tb_node_head_scale(tb_node_scale_owner(&in->root), b, why, sizeof why))
    report_refused(&in->bad_scale, in->scale_err, sizeof in->scale_err, why);
  const tb_loss_def *L = in->c->loss;
  double v = form == TB_PROBE_BATCH ? L->eval(in->state, b)
             : form == TB_PROBE_ROWS ? tbu_loss_eval_rows(L->row, in->state, b)
                                     : tbu_loss_eval(L, in->state, b);
  in->phase = 0;
  note_misuse(&in->rng_moved);
  if (!tb_probe_rng_same(&in->rng, &in->rng_at)) in->rng_moved = 1;
  return v;
}

void tb_probe_loss_close(tb_probe_loss *in) {
  if (in->live && in->c->loss->destroy) in->c->loss->destroy(in->state);
  if (in->live) tb_loss_tensors_free(&in->lt);
  if (in->live) tb_node_free_bases(&in->root);
  in->live = 0;
}

/* ------------------------------------------------------------------------ */
/* Optimizers                                                               */
/* ------------------------------------------------------------------------ */

static const struct {
  const char *name;
  int ndim;
  int64_t shape[2];
} model_tensors[TB_PROBE_NT] = {
    {"fc1.weight", 2, {8, 4}}, {"fc1.bias", 1, {8, 0}},
    {"fc2.weight", 2, {3, 8}}, {"fc2.bias", 1, {3, 0}},
};

const char *tb_probe_tensor_name(int t) { return model_tensors[t].name; }

int64_t tb_probe_tensor_numel(int t) {
  return model_tensors[t].shape[0] * (model_tensors[t].ndim > 1 ? model_tensors[t].shape[1] : 1);
}

/* f and its gradient at P, with b shifted by `shift` [P] (NULL: none) */
static double f_at(const tb_probe_problem *pb, const double *shift, const float *const *P) {
  double f = 0;
  int64_t o = 0;
  for (int t = 0; t < TB_PROBE_NT; t++) {
    const int64_t n = tb_probe_tensor_numel(t);
    for (int64_t j = 0; j < n; j++, o++) {
      double th = P[t][j];
      /* without a shift, exactly the unshifted arithmetic (fingerprints compare bits) */
      f += 0.5 * pb->a[o] * th * th + (shift ? pb->b[o] + shift[o] : pb->b[o]) * th;
    }
  }
  return f;
}

static void grad_at(const tb_probe_problem *pb, const double *shift, const float *const *P,
                    float *const *G) {
  int64_t o = 0;
  for (int t = 0; t < TB_PROBE_NT; t++) {
    const int64_t n = tb_probe_tensor_numel(t);
    for (int64_t j = 0; j < n; j++, o++)
      G[t][j] = shift ? (float)(pb->a[o] * P[t][j] + (pb->b[o] + shift[o]))
                      : (float)(pb->a[o] * P[t][j] + pb->b[o]);
  }
}

static double svc_eval(void *hctx, const float *const *params, float *const *grads) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  o->n_eval++;
  if (!(nd->c->services & TB_SERVICE_EVAL)) {
    o->bad_eval++;
    return NAN; /* as the core does: an undeclared call fails */
  }
  const float *cur[TB_PROBE_NT];
  for (int t = 0; t < TB_PROBE_NT; t++) cur[t] = o->params[t].t.data;
  const float *const *P = params ? params : cur;
  const double *shift = o->shifted ? o->shift : NULL;
  if (grads) grad_at(o->pb, shift, P, grads);
  return f_at(o->pb, shift, P);
}

static int svc_jvp(void *hctx, const float *const *params, const float *const *dir,
                   double *out) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  o->n_jvp++;
  if (!(nd->c->services & TB_SERVICE_JVP)) {
    o->bad_jvp++;
    return -1;
  }
  (void)params; /* logits = theta: the Jacobian is the identity wherever it is taken */
  int64_t k = 0;
  for (int t = 0; t < TB_PROBE_NT; t++)
    for (int64_t j = 0; j < o->params[t].t.numel; j++) out[k++] = dir[t][j];
  return 0;
}

static int svc_next_batch(void *hctx) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  o->n_next++;
  if (!(nd->c->services & TB_SERVICE_NEXT_BATCH)) {
    o->bad_next++;
    return -1;
  }
  for (int i = 0; i < TB_PROBE_P; i++) o->shift[i] = 0.5 * tb_rng_normal(&o->rng_next);
  o->shifted = 1;
  return 0;
}

static int svc_report(void *hctx, const char *name, double value) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  char why[200];
  (void)value;
  o->n_report++;
  if (!(nd->c->services & TB_SERVICE_REPORT)) {
    report_refused(&o->bad_report, o->report_err, sizeof o->report_err,
                   "report without declaring TB_SERVICE_REPORT");
    return -1;
  }
  if (tb_series_name_check(name, why, sizeof why)) {
    report_refused(&o->bad_report, o->report_err, sizeof o->report_err, why);
    return -1;
  }
  return 0;
}

/* One step of the base at `slot` with its own state, on the wrapper's
 * arrays; its ctx is the wrapper's (the factor of the schedule included)
 * with the base as host_ctx. */
static int svc_step_base(void *hctx, int slot, tb_tensor *params, const tb_tensor *grads) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  tb_node *b = base_at(nd, slot, "step_base", &o->n_base, &o->bad_base, o->base_err,
                             sizeof o->base_err);
  if (!b) return -1;
  return tb_node_step_base(nd, b, params, grads);
}

static const float *svc_eval_params_base(void *hctx, int slot, int i) {
  tb_node *nd = hctx;
  tb_probe_opt *o = nd->owner;
  tb_node *b = base_at(nd, slot, "eval_params_base", &o->n_base, &o->bad_base,
                             o->base_err, sizeof o->base_err);
  return b && b->c->opt->eval_params ? b->c->opt->eval_params(b->state, i) : NULL;
}

void tb_probe_opt_get(const tb_probe_opt *o, float *flat) {
  int64_t k = 0;
  for (int t = 0; t < TB_PROBE_NT; t++)
    for (int64_t j = 0; j < o->params[t].t.numel; j++) flat[k++] = o->params[t].t.data[j];
}

double tb_probe_opt_f(const tb_probe_opt *o) {
  const float *cur[TB_PROBE_NT];
  for (int t = 0; t < TB_PROBE_NT; t++) cur[t] = o->params[t].t.data;
  return f_at(o->pb, NULL, cur);
}

static void free_tensors(tb_probe_opt *o) {
  for (int t = 0; t < TB_PROBE_NT; t++) {
    free(o->params[t].t.data);
    free(o->grads[t].t.data);
    o->params[t].t.data = o->grads[t].t.data = NULL;
  }
}

static int opt_base_create(tb_node *nd, void *arg, char *err, size_t errlen) {
  tb_probe_opt *o = arg;
  tb_optimizer_init init = {.host = tb_host_api_get(), .hp = nd->in->hp, .values = nd->in->values,
                            .params = &o->params[0].t, .n_params = TB_PROBE_NT,
                            .tensor_size = sizeof(tb_probe_tensor),
                            .rng = nd->c->services & TB_SERVICE_RNG ? &nd->rng : NULL};
  return nd->c->opt->create(&init, &nd->state, err, errlen);
}

int tb_probe_opt_open(tb_probe_opt *o, const tb_component *c, const double *hp,
                      const float *theta0, const tb_probe_problem *pb, const tb_rng *stream,
                      char *err, size_t errlen) {
  return tb_probe_opt_open_base(o, c, hp, NULL, theta0, pb, stream, err, errlen);
}

int tb_probe_opt_open_base(tb_probe_opt *o, const tb_component *c, const double *hp,
                           const tb_component *base, const float *theta0,
                           const tb_probe_problem *pb, const tb_rng *stream, char *err,
                           size_t errlen) {
  memset(o, 0, sizeof *o);
  o->c = c;
  o->pb = pb;
  o->root.c = c;
  o->root.owner = o;
  o->root.ctx = &o->ctx;
  snprintf(o->root.role, sizeof o->root.role, "optimizer");
  int64_t k = 0;
  for (int t = 0; t < TB_PROBE_NT; t++) {
    const int64_t n = tb_probe_tensor_numel(t);
    for (int pass = 0; pass < 2; pass++) {
      tb_probe_tensor *px = pass ? &o->grads[t] : &o->params[t];
      memset(px->pad, 0xA5, sizeof px->pad);
      tb_tensor *x = &px->t;
      x->layer = t / 2;
      x->role = t % 2 ? TB_ROLE_BIAS : t == TB_PROBE_NT - 2 ? TB_ROLE_HEAD : TB_ROLE_WEIGHT;
      x->name = model_tensors[t].name;
      x->numel = n;
      x->ndim = model_tensors[t].ndim;
      x->shape[0] = model_tensors[t].shape[0];
      x->shape[1] = model_tensors[t].shape[1];
      x->data = calloc((size_t)n, sizeof(float));
      if (!x->data) abort();
    }
    for (int64_t j = 0; j < n; j++) o->params[t].t.data[j] = theta0[k++];
  }
  o->rng = *stream;
  o->rng_at = o->rng;
  tb_rng_init(&o->rng_next, 0, "probe:next_batch");
  err[0] = 0;
  if (open_bases(&o->root, base, opt_base_create, o, err, errlen)) {
    free_tensors(o);
    return -1;
  }
  tb_hparams_values(c, hp, o->values);
  tb_optimizer_init init = {.host = tb_host_api_get(), .hp = hp, .values = o->values,
                            .params = &o->params[0].t, .n_params = TB_PROBE_NT,
                            .tensor_size = sizeof(tb_probe_tensor),
                            .rng = c->services & TB_SERVICE_RNG ? &o->rng : NULL};
  if (c->opt->create(&init, &o->state, err, errlen)) {
    if (!err[0]) tb_errf(err, errlen, "create failed without a message");
    tb_node_free_bases(&o->root);
    free_tensors(o);
    return -1;
  }
  o->root.state = o->state;
  note_misuse(&o->rng_moved);
  if (!tb_probe_rng_same(&o->rng, &o->rng_at)) o->rng_moved = 1;
  o->rng_at = o->rng;
  o->live = 1;
  o->ctx = (tb_step_ctx){.lr_factor = 1.0, .epoch = 0, .batch_n = 1, .n_classes = TB_PROBE_P,
                         .host_ctx = &o->root, .eval = svc_eval, .jvp = svc_jvp,
                         .next_batch = svc_next_batch, .report = svc_report,
                         .step_base = svc_step_base, .eval_params_base = svc_eval_params_base,
                         .n_params = TB_PROBE_NT, .tensor_size = sizeof(tb_probe_tensor),
                         .n_steps = 100, .steps_per_epoch = 10, .train_size = 1};
  return 0;
}

void tb_probe_opt_close(tb_probe_opt *o) {
  if (o->live && o->c->opt->destroy) o->c->opt->destroy(o->state);
  if (o->live) tb_node_free_bases(&o->root);
  o->live = 0;
  free_tensors(o);
}

int tb_probe_opt_step(tb_probe_opt *o) {
  const float *cur[TB_PROBE_NT];
  float *g[TB_PROBE_NT];
  for (int t = 0; t < TB_PROBE_NT; t++) cur[t] = o->params[t].t.data, g[t] = o->grads[t].t.data;
  grad_at(o->pb, NULL, cur, g);
  o->shifted = 0; /* the services see the step's own problem until next_batch */
  o->ctx.step = ++o->t;
  int rc = o->c->opt->step(o->state, &o->params[0].t, &o->grads[0].t, &o->ctx);
  note_misuse(&o->rng_moved);
  if (!tb_probe_rng_same(&o->rng, &o->rng_at)) o->rng_moved = 1;
  o->rng_at = o->rng;
  return rc;
}
