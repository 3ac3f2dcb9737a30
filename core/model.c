/*
 * model.c — the models: `linear` (one affine layer) and `mlp` (hidden
 * layers with relu | tanh | gelu). float32 parameters in one allocation with
 * named views ("fc1.weight", "fc1.bias", ...), a workspace sized for `cap`
 * rows allocated up front, forward / backward with sgemm, and a forward-mode
 * Jacobian-vector product of the logits.
 *
 * Layer l (1-based) maps act[l-1] [B][in] to pre[l] = act[l-1] W_l^T + b_l
 * [B][out]; act[l] = g(pre[l]) for hidden layers, act[L] = pre[L] = logits.
 *
 * Sizes are checked against util.h's limits before anything is allocated;
 * within them every product of rows and widths stays far inside int range,
 * and buffer offsets are computed in size_t or int64_t.
 *
 * The models are components built into the core (builtin.c holds their
 * tables and reads an instance into the tb_model_spec used here).
 *
 * Provides: tb_model_size,
 * tb_model_create, tb_model_free, tb_model_init, tb_model_views,
 * tb_model_forward, tb_model_backward, tb_model_jvp.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rng.h"
#include "tensor.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "util.h"

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  if (!p) abort();
  return p;
}

/* a*b and a+b for sizes >= 0, stuck at INT64_MAX instead of overflowing */
static int64_t smul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
static int64_t sadd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Mirrors what tb_model_create allocates: weights and biases; pre[l] for
 * every layer and act[l] for hidden ones, [cap][dims[l]] each; five scratch
 * buffers of [cap][widest]. */
void tb_model_size(const tb_model_spec *spec, int64_t d, int64_t k, int64_t cap,
                   int64_t *params, int64_t *workspace, int64_t *widest) {
  int hidden = spec->kind == TB_MODEL_MLP ? spec->n_hidden : 0;
  if (hidden > TB_MAX_HIDDEN) hidden = TB_MAX_HIDDEN;
  int64_t dims[TB_MAX_HIDDEN + 2];
  dims[0] = d;
  for (int l = 0; l < hidden; l++) dims[l + 1] = spec->hidden[l];
  dims[hidden + 1] = k;
  int64_t p = 0, rows = 0, maxdim = d;
  for (int l = 1; l <= hidden + 1; l++) {
    p = sadd(p, sadd(smul(dims[l], dims[l - 1]), dims[l]));
    rows = sadd(rows, l <= hidden ? smul(2, dims[l]) : dims[l]);
    if (dims[l] > maxdim) maxdim = dims[l];
  }
  *params = p;
  *workspace = smul(cap, sadd(rows, smul(5, maxdim)));
  if (widest) *widest = maxdim;
}

int tb_model_create(tb_model *m, const tb_model_spec *spec, int d, int k, int cap, char *err,
                    size_t errlen) {
  memset(m, 0, sizeof *m);
  int hidden = spec->kind == TB_MODEL_MLP ? spec->n_hidden : 0;
  if (hidden > TB_MAX_HIDDEN) {
    tb_errf(err, errlen, "at most %d hidden layers", TB_MAX_HIDDEN);
    return -1;
  }
  for (int l = 0; l < hidden; l++)
    if (spec->hidden[l] < 1 || spec->hidden[l] > TB_MAX_WIDTH) {
      tb_errf(err, errlen, "hidden layer %d has %d units: the limit is 1 to %d", l + 1,
              spec->hidden[l], TB_MAX_WIDTH);
      return -1;
    }
  int64_t n_params, n_work;
  tb_model_size(spec, d, k, cap, &n_params, &n_work, NULL);
  if (n_params > TB_MAX_PARAMS) {
    tb_errf(err, errlen, "the model has %lld parameters, more than the limit of %lld",
            (long long)n_params, (long long)TB_MAX_PARAMS);
    return -1;
  }
  if (n_work > TB_MAX_WORKSPACE) {
    tb_errf(err, errlen,
            "the model needs %lld floats of workspace for %d rows, more than the limit of %lld",
            (long long)n_work, cap, (long long)TB_MAX_WORKSPACE);
    return -1;
  }
  m->n_layers = hidden + 1;
  m->dims[0] = d;
  for (int l = 0; l < hidden; l++) m->dims[l + 1] = spec->hidden[l];
  m->dims[m->n_layers] = k;
  m->activation = spec->activation ? spec->activation : TB_ACT_RELU;
  m->cap = cap;
  m->n_tensors = 2 * m->n_layers;
  int64_t total = 0, maxdim = 0;
  for (int l = 1; l <= m->n_layers; l++) {
    total += (int64_t)m->dims[l] * m->dims[l - 1] + m->dims[l];
    if (m->dims[l] > maxdim) maxdim = m->dims[l];
  }
  if (m->dims[0] > maxdim) maxdim = m->dims[0];
  m->n_params = total;
  m->params = falloc((size_t)total);
  m->grads = falloc((size_t)total);
  int64_t off = 0;
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], in = m->dims[l - 1];
    for (int w = 0; w < 2; w++) {
      int t = 2 * (l - 1) + w;
      snprintf(m->names[t], sizeof m->names[t], "fc%d.%s", l, w ? "bias" : "weight");
      tb_tensor *pt = &m->tensors[t], *gt = &m->gtensors[t];
      pt->name = gt->name = m->names[t];
      pt->numel = gt->numel = w ? out : (int64_t)out * in;
      pt->ndim = gt->ndim = w ? 1 : 2;
      pt->shape[0] = gt->shape[0] = out;
      if (!w) pt->shape[1] = gt->shape[1] = in;
      pt->layer = gt->layer = l - 1;
      pt->role = gt->role = w ? TB_ROLE_BIAS : l == m->n_layers ? TB_ROLE_HEAD : TB_ROLE_WEIGHT;
      pt->flags = gt->flags = 0;
      pt->data = m->params + off;
      gt->data = m->grads + off;
      off += pt->numel;
    }
  }
  for (int l = 0; l <= m->n_layers; l++) {
    if (l > 0) m->pre[l] = falloc((size_t)cap * m->dims[l]);
    m->act[l] = l == m->n_layers ? m->pre[l] : l > 0 ? falloc((size_t)cap * m->dims[l]) : NULL;
  }
  m->dact = falloc((size_t)cap * maxdim);
  m->dsum = calloc((size_t)maxdim, sizeof(double));
  if (!m->dsum) abort();
  m->dact2 = falloc((size_t)cap * maxdim);
  m->tan_pre = falloc((size_t)cap * maxdim);
  m->tan_act = falloc((size_t)cap * maxdim);
  m->tan_scratch = falloc((size_t)cap * maxdim);
  return 0;
}

void tb_model_free(tb_model *m) {
  free(m->params);
  free(m->grads);
  for (int l = 1; l <= m->n_layers; l++) {
    free(m->pre[l]);
    if (l < m->n_layers) free(m->act[l]);
  }
  free(m->dact);
  free(m->dsum);
  free(m->dact2);
  free(m->tan_pre);
  free(m->tan_act);
  free(m->tan_scratch);
  memset(m, 0, sizeof *m);
}

/* Draw order is fixed: layer by layer, the weight (row-major) then the bias,
 * so one seed gives the same initial model whatever the loss or optimizer. */
void tb_model_init(tb_model *m, int init, tb_rng *r) {
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], in = m->dims[l - 1];
    float *W = m->tensors[2 * (l - 1)].data, *b = m->tensors[2 * (l - 1) + 1].data;
    double wb, bb;
    switch (init) {
    case TB_INIT_ZEROS: wb = bb = 0; break;
    /* He et al., "Delving Deep into Rectifiers", 2015 — uniform variant */
    case TB_INIT_HE: wb = sqrt(6.0 / in), bb = 0; break;
    /* Glorot & Bengio, "Understanding the difficulty of training deep
     * feedforward neural networks", 2010 — uniform variant */
    case TB_INIT_GLOROT: wb = sqrt(6.0 / (in + out)), bb = 0; break;
    /* PyTorch nn.Linear: kaiming_uniform(a=sqrt(5)) gives U(±1/sqrt(fan_in)),
     * and the bias U(±1/sqrt(fan_in)) too */
    default: wb = bb = 1.0 / sqrt((double)in);
    }
    for (int64_t i = 0; i < (int64_t)out * in; i++)
      W[i] = wb ? (float)((2 * tb_rng_uniform(r) - 1) * wb) : 0.0f;
    for (int i = 0; i < out; i++) b[i] = bb ? (float)((2 * tb_rng_uniform(r) - 1) * bb) : 0.0f;
  }
}

void tb_model_views(const tb_model *m, const float *flat, const float **out) {
  for (int t = 0; t < m->n_tensors; t++) out[t] = flat + (m->tensors[t].data - m->params);
}

static const double inv_sqrt2 = 0.70710678118654752440;
static const double inv_sqrt2pi = 0.39894228040143267794;

static float act_f(int a, float x) {
  switch (a) {
  case TB_ACT_TANH: return tanhf(x);
  case TB_ACT_GELU: return (float)(0.5 * x * (1.0 + erf(x * inv_sqrt2))); /* exact (erf) GELU */
  default: return x > 0 ? x : 0.0f;
  }
}

/* g'(pre) given pre and g(pre) */
static float act_df(int a, float pre, float post) {
  switch (a) {
  case TB_ACT_TANH: return 1.0f - post * post;
  case TB_ACT_GELU: {
    double x = pre;
    return (float)(0.5 * (1.0 + erf(x * inv_sqrt2)) + x * inv_sqrt2pi * exp(-0.5 * x * x));
  }
  default: return pre > 0 ? 1.0f : 0.0f;
  }
}

/* h[n] = g(z[n]); the switch sits outside the loops so relu vectorizes */
static void act_forward(int a, float *restrict h, const float *restrict z, int64_t n) {
  switch (a) {
  case TB_ACT_RELU:
    for (int64_t i = 0; i < n; i++) h[i] = z[i] > 0 ? z[i] : 0.0f;
    break;
  default:
    for (int64_t i = 0; i < n; i++) h[i] = act_f(a, z[i]);
  }
}

/* dh[n] *= g'(pre[n]) */
static void act_backward(int a, float *restrict dh, const float *restrict pre,
                         const float *restrict post, int64_t n) {
  switch (a) {
  case TB_ACT_RELU:
    for (int64_t i = 0; i < n; i++) dh[i] = pre[i] > 0 ? dh[i] : 0.0f;
    break;
  default:
    for (int64_t i = 0; i < n; i++) dh[i] *= act_df(a, pre[i], post[i]);
  }
}

const float *tb_model_forward(tb_model *m, const float *const *P, const float *x, int B) {
  const float *in = x;
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], nin = m->dims[l - 1];
    const float *W = P[2 * (l - 1)], *b = P[2 * (l - 1) + 1];
    float *z = m->pre[l];
    for (int i = 0; i < B; i++) memcpy(z + (size_t)i * out, b, sizeof(float) * (size_t)out);
    tb_sgemm(0, 1, B, out, nin, 1.0f, in, nin, W, nin, 1.0f, z, out);
    if (l < m->n_layers) {
      float *h = m->act[l];
      act_forward(m->activation, h, z, (int64_t)B * out);
      in = h;
    }
  }
  return m->pre[m->n_layers];
}

void tb_model_backward(tb_model *m, const float *const *P, float *const *G, const float *x,
                       const float *dlogits, int B) {
  const float *dz = dlogits; /* d loss / d pre[l], [B][out] */
  for (int l = m->n_layers; l >= 1; l--) {
    int out = m->dims[l], nin = m->dims[l - 1];
    const float *in = l > 1 ? m->act[l - 1] : x;
    float *dW = G[2 * (l - 1)], *db = G[2 * (l - 1) + 1];
    /* dW[out][in] = dz^T in */
    tb_sgemm(1, 0, out, nin, B, 1.0f, dz, out, in, nin, 0.0f, dW, nin);
    /* db[out] = column sums of dz, accumulated in double row by row so the
     * reads stay contiguous */
    double *acc = m->dsum;
    for (int j = 0; j < out; j++) acc[j] = 0;
    for (int i = 0; i < B; i++) {
      const float *row = dz + (size_t)i * out;
      for (int j = 0; j < out; j++) acc[j] += row[j];
    }
    for (int j = 0; j < out; j++) db[j] = (float)acc[j];
    if (l == 1) break;
    /* d act[l-1] = dz W, then through the activation */
    float *dh = (dz == m->dact) ? m->dact2 : m->dact;
    tb_sgemm(0, 0, B, nin, out, 1.0f, dz, out, P[2 * (l - 1)], nin, 0.0f, dh, nin);
    act_backward(m->activation, dh, m->pre[l - 1], m->act[l - 1], (int64_t)B * nin);
    dz = dh;
  }
}

void tb_model_jvp(tb_model *m, const float *const *P, const float *const *V, const float *x,
                  int B, double *out) {
  /* tangent of act[l-1] (none for the input), carried layer to layer:
   * dpre[l] = dact[l-1] W^T + act[l-1] dW^T + db ; dact[l] = g'(pre) * dpre */
  float *tin = NULL; /* NULL: tangent of the input is zero */
  for (int l = 1; l <= m->n_layers; l++) {
    int o = m->dims[l], nin = m->dims[l - 1];
    const float *in = l > 1 ? m->act[l - 1] : x;
    float *dz = m->tan_pre;
    const float *db = V[2 * (l - 1) + 1];
    for (int i = 0; i < B; i++) memcpy(dz + (size_t)i * o, db, sizeof(float) * (size_t)o);
    tb_sgemm(0, 1, B, o, nin, 1.0f, in, nin, V[2 * (l - 1)], nin, 1.0f, dz, o);
    if (tin) tb_sgemm(0, 1, B, o, nin, 1.0f, tin, nin, P[2 * (l - 1)], nin, 1.0f, dz, o);
    if (l == m->n_layers) {
      for (int64_t i = 0; i < (int64_t)B * o; i++) out[i] = dz[i];
      return;
    }
    float *t = (tin == m->tan_act) ? m->tan_scratch : m->tan_act;
    const float *pre = m->pre[l], *post = m->act[l];
    for (int64_t i = 0; i < (int64_t)B * o; i++) t[i] = act_df(m->activation, pre[i], post[i]) * dz[i];
    tin = t;
  }
}
