/*
 * model.c — the models: `linear` (one output layer) and `mlp` (hidden
 * layers with relu | tanh | gelu, then the output layer), whose output layer
 * — the head — is affine (x W^T + b) or cosine (cos theta between the
 * normalized features and the normalized weight rows, no bias). float32
 * parameters in one allocation with named views ("fc1.weight", "fc1.bias",
 * ...), a workspace sized for `cap` rows allocated up front, forward /
 * backward with sgemm, the gradient with respect to the input, and a
 * forward-mode Jacobian-vector product of the logits.
 *
 * Shapes: B = rows of the pass, D = input features, K = classes; layer l
 * (1-based, L layers) maps [B][in] to [B][out], in = dims[l-1], out =
 * dims[l]. Layer l computes pre[l] from act[l-1] (act[0] = x); hidden
 * layers then act[l] = g(pre[l]) (relu in place: act[l] is pre[l]);
 * act[L] = pre[L] = the logits.
 *
 * Each kind of layer — affine, activation, cosine head — is a pair of
 * small functions, <kind>_forward and <kind>_backward (llm.c style: outputs
 * first, then inputs, then sizes; gradients named with a `d`), and the
 * affine and cosine ones a <kind>_jvp; the model's passes are loops over
 * the layers calling them.
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
 * tb_model_forward, tb_model_backward, tb_model_backward_each, tb_model_input_grad,
 * tb_model_jvp.
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

/* The cosine head divides by max(||v||, NORM_EPS), as PyTorch's
 * F.normalize (eps = 1e-12): a zero row stays finite, and below eps the
 * denominator is a constant (its derivative is then plain 1/eps). */
#define NORM_EPS 1e-12

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

/* Mirrors what tb_model_create allocates, as a bound: weights and biases
 * (none for a cosine head); pre[l] for every layer and act[l] for hidden
 * ones, [cap][dims[l]] each (a relu layer's act[l] is its pre[l], but the
 * bound stays the same); five scratch buffers of [cap][widest] — four
 * for backward and JVP, and the cosine head's [cap][K] gradient counted
 * for every head so that the limits stay those of the affine head — and
 * the cosine head's two doubles a row (its [K] doubles are not counted). */
void tb_model_size(const tb_model_spec *spec, int64_t d, int64_t k, int64_t cap,
                   int64_t *params, int64_t *workspace, int64_t *widest) {
  int hidden = spec->kind == TB_MODEL_MLP ? spec->n_hidden : 0;
  if (hidden > TB_MAX_HIDDEN) hidden = TB_MAX_HIDDEN;
  const int cosine = spec->head == TB_HEAD_COSINE;
  int64_t dims[TB_MAX_HIDDEN + 2];
  dims[0] = d;
  for (int l = 0; l < hidden; l++) dims[l + 1] = spec->hidden[l];
  dims[hidden + 1] = k;
  int64_t p = 0, rows = 0, maxdim = d;
  for (int l = 1; l <= hidden + 1; l++) {
    const int bias = !(cosine && l == hidden + 1);
    p = sadd(p, sadd(smul(dims[l], dims[l - 1]), bias ? dims[l] : 0));
    rows = sadd(rows, l <= hidden ? smul(2, dims[l]) : dims[l]);
    if (dims[l] > maxdim) maxdim = dims[l];
  }
  if (cosine) rows = sadd(rows, 2 * (int64_t)(sizeof(double) / sizeof(float)));
  *params = p;
  *workspace = smul(cap, sadd(rows, smul(5, maxdim)));
  if (widest) *widest = maxdim;
}

/* Layer l's head or hidden weight is tensor 2(l-1), its bias 2(l-1)+1 —
 * except that a cosine head, last, has no bias. */
static int has_bias(const tb_model *m, int l) {
  return !(l == m->n_layers && m->head == TB_HEAD_COSINE);
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
  m->head = spec->head == TB_HEAD_COSINE ? TB_HEAD_COSINE : TB_HEAD_LINEAR;
  m->cap = cap;
  m->n_tensors = 2 * m->n_layers - !has_bias(m, m->n_layers);
  m->n_params = n_params;
  m->params = falloc((size_t)n_params);
  m->grads = falloc((size_t)n_params);
  int64_t off = 0, maxdim = m->dims[0];
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], in = m->dims[l - 1];
    if (out > maxdim) maxdim = out;
    for (int w = 0; w < 1 + has_bias(m, l); w++) {
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
    /* relu in place: act[l] is pre[l] (see act_forward) */
    const int own = l > 0 && l < m->n_layers && m->activation != TB_ACT_RELU;
    m->act[l] = own ? falloc((size_t)cap * m->dims[l]) : l > 0 ? m->pre[l] : NULL;
  }
  for (int i = 0; i < 2; i++) {
    m->dact[i] = falloc((size_t)cap * maxdim);
    m->tan[i] = falloc((size_t)cap * maxdim);
  }
  if (m->head == TB_HEAD_COSINE) {
    m->head_dy = falloc((size_t)cap * k);
    m->hinv = calloc(2 * ((size_t)cap + (size_t)k), sizeof(double));
    if (!m->hinv) abort();
    m->hdot = m->hinv + cap;
    m->winv = m->hdot + cap;
    m->wdot = m->winv + k;
  }
  return 0;
}

void tb_model_free(tb_model *m) {
  free(m->params);
  free(m->grads);
  for (int l = 1; l <= m->n_layers; l++) {
    free(m->pre[l]);
    if (m->act[l] != m->pre[l]) free(m->act[l]);
  }
  for (int i = 0; i < 2; i++) {
    free(m->dact[i]);
    free(m->tan[i]);
  }
  free(m->head_dy);
  free(m->hinv);
  memset(m, 0, sizeof *m);
}

/* Draw order is fixed: layer by layer, the weight (row-major) then the bias,
 * so one seed gives the same initial model whatever the loss or optimizer
 * (a cosine head, without a bias, draws only its weight). */
void tb_model_init(tb_model *m, int init, tb_rng *r) {
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], in = m->dims[l - 1];
    float *W = m->tensors[2 * (l - 1)].data;
    float *b = has_bias(m, l) ? m->tensors[2 * (l - 1) + 1].data : NULL;
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
    for (int i = 0; b && i < out; i++) b[i] = bb ? (float)((2 * tb_rng_uniform(r) - 1) * bb) : 0.0f;
  }
}

void tb_model_views(const tb_model *m, const float *flat, const float **out) {
  for (int t = 0; t < m->n_tensors; t++) out[t] = flat + (m->tensors[t].data - m->params);
}

/* ---- affine: y = x W^T + b ----------------------------------------------------- */

// x [B][in], W [out][in], b [out] (NULL: none) -> y [B][out] = x W^T + b
static void affine_forward(float *y, const float *x, const float *W, const float *b, int B,
                           int in, int out) {
  if (b)
    for (int i = 0; i < B; i++) memcpy(y + (size_t)i * out, b, sizeof(float) * (size_t)out);
  tb_sgemm(0, 1, B, out, in, 1.0f, x, in, W, in, b ? 1.0f : 0.0f, y, out);
}

// dy [B][out] -> db [out] = column sums of dy, each a double sum over the rows in order.
// Eight columns at a time, their sums in registers while the rows go by (named
// variables: gcc keeps them in four SSE registers); summing a row at a time into an
// array [out] loaded and stored every sum twice an element, a third of digits'
// backward pass beside its small products.
static void bias_backward(float *restrict db, const float *restrict dy, int B, int out) {
  int j = 0;
  for (; j + 8 <= out; j += 8) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (int i = 0; i < B; i++) {
      const float *r = dy + (size_t)i * out + j;
      s0 += r[0], s1 += r[1], s2 += r[2], s3 += r[3];
      s4 += r[4], s5 += r[5], s6 += r[6], s7 += r[7];
    }
    db[j] = (float)s0, db[j + 1] = (float)s1, db[j + 2] = (float)s2, db[j + 3] = (float)s3;
    db[j + 4] = (float)s4, db[j + 5] = (float)s5, db[j + 6] = (float)s6, db[j + 7] = (float)s7;
  }
  for (; j < out; j++) {
    double s = 0;
    for (int i = 0; i < B; i++) s += dy[(size_t)i * out + j];
    db[j] = (float)s;
  }
}

// dy [B][out], x [B][in], W [out][in] -> dW [out][in] = dy^T x, db [out] = column sums of
// dy (bias_backward), dx [B][in] = dy W; each skipped when NULL
static void affine_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, int B, int in, int out) {
  if (dW) tb_sgemm(1, 0, out, in, B, 1.0f, dy, out, x, in, 0.0f, dW, in);
  if (db) bias_backward(db, dy, B, out);
  if (dx) tb_sgemm(0, 0, B, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
}

// x [B][in], W [out][in] and the tangents dx [B][in] (NULL: zero), dW [out][in],
// db [out] (NULL: none) -> dy [B][out] = x dW^T + db + dx W^T
static void affine_jvp(float *dy, const float *x, const float *dx, const float *W,
                       const float *dW, const float *db, int B, int in, int out) {
  affine_forward(dy, x, dW, db, B, in, out);
  if (dx) tb_sgemm(0, 1, B, out, in, 1.0f, dx, in, W, in, 1.0f, dy, out);
}

/* ---- activations: h = g(z) ------------------------------------------------------ */

static const double inv_sqrt2 = 0.70710678118654752440;
static const double inv_sqrt2pi = 0.39894228040143267794;

static float act_f(int a, float x) {
  switch (a) {
  case TB_ACT_TANH: return tanhf(x);
  case TB_ACT_GELU: return (float)(0.5 * x * (1.0 + erf(x * inv_sqrt2))); /* exact (erf) GELU */
  default: return x > 0 ? x : 0.0f;
  }
}

/* g'(z) given z and g(z) */
static float act_df(int a, float z, float h) {
  switch (a) {
  case TB_ACT_TANH: return 1.0f - h * h;
  case TB_ACT_GELU: {
    double x = z;
    return (float)(0.5 * (1.0 + erf(x * inv_sqrt2)) + x * inv_sqrt2pi * exp(-0.5 * x * x));
  }
  default: return z > 0 ? 1.0f : 0.0f;
  }
}

// z [n] -> h [n] = g(z); relu in place (h == z): the model keeps no separate
// act[l] for it, since its backward needs only z > 0, which is h > 0. A
// second buffer was one more [rows][width] for the next product to read and
// for the cache to hold (1-2 MB a layer at 512 wide).
static void act_forward(int a, float *h, const float *z, int64_t n) {
  if (a == TB_ACT_RELU) {
    for (int64_t i = 0; i < n; i++) h[i] = h[i] > 0 ? h[i] : 0.0f;
    return;
  }
  for (int64_t i = 0; i < n; i++) h[i] = act_f(a, z[i]);
}

// d [n] (the gradient of h = g(z)), z [n], h [n] -> d [n] = g'(z) d, the gradient of z;
// a tangent maps the same way. For relu z is h (in place, see act_forward): z > 0
// and relu(z) > 0 agree everywhere, NaN included. In place: relu's select then loads d unconditionally,
// so it vectorizes (out of place, the load would be conditional and stay scalar)
static void act_backward(int a, float *restrict d, const float *restrict z,
                         const float *restrict h, int64_t n) {
  switch (a) {
  case TB_ACT_RELU:
    for (int64_t i = 0; i < n; i++) d[i] = z[i] > 0 ? d[i] : 0.0f;
    break;
  default:
    for (int64_t i = 0; i < n; i++) d[i] *= act_df(a, z[i], h[i]);
  }
}

/* ---- the cosine head ------------------------------------------------------------ */

/* Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face Recognition",
 * 2018 (normalized features and weights):
 *
 *   y_ik = cos theta_ik = u_i . v_k,   u_i = h_i / r_i,   v_k = W_k / s_k,
 *   r_i = max(||h_i||, eps),   s_k = max(||W_k||, eps)     (eps = NORM_EPS)
 *
 * with h_i the row of the last hidden activation (the input for `linear`)
 * and W_k the row of the head's weight. So y = (h W^T) scaled by
 * 1/(r_i s_k): an affine layer without bias, then the scaling. The scale s
 * and any margin belong to the loss. hinv and winv keep 1/r and 1/s for
 * the backward pass and the JVP. */

/* 1/max(||row||, eps) of each of n rows [n][len], in double */
static void inv_norms(double *inv, const float *x, int n, int len) {
  for (int i = 0; i < n; i++) {
    const float *row = x + (size_t)i * len;
    double ss = 0;
    for (int j = 0; j < len; j++) ss += (double)row[j] * row[j];
    inv[i] = 1.0 / fmax(sqrt(ss), NORM_EPS);
  }
}

/* The radial term's factor, 1/r^2 — or 0 where the norm is clamped at eps:
 * there r is a constant and only the direct 1/eps term remains. */
static double radial(double inv) { return inv < 1.0 / NORM_EPS ? inv * inv : 0.0; }

// h [B][in], W [K][in] -> y [B][K] = cos theta, hinv [B] = 1/r, winv [K] = 1/s
static void cosine_forward(float *y, double *hinv, double *winv, const float *h,
                           const float *W, int B, int in, int K) {
  affine_forward(y, h, W, NULL, B, in, K);
  inv_norms(hinv, h, B, in);
  inv_norms(winv, W, K, in);
  for (int i = 0; i < B; i++)
    for (int k = 0; k < K; k++) {
      float *yk = y + (size_t)i * K + k;
      /* the clamp only removes rounding past |cos| = 1 (the backward pass
       * treats it as the identity) */
      *yk = (float)fmin(1.0, fmax(-1.0, *yk * hinv[i] * winv[k]));
    }
}

/* With c_i = sum_k dy_ik y_ik and d_k = sum_i dy_ik y_ik (the parts of the
 * gradients along u_i and along v_k, which normalization removes):
 *
 *   dh_i = sum_k dy_ik W_k / (r_i s_k)  -  c_i h_i / r_i^2
 *   dW_k = sum_i dy_ik h_i / (r_i s_k)  -  d_k W_k / s_k^2
 *
 * (from dh_i = (g_i - (g_i . u_i) u_i) / r_i with g_i = sum_k dy_ik v_k and
 * g_i . u_i = c_i; the same for W). The first terms are an affine layer's
 * backward pass on ds_ik = dy_ik / (r_i s_k); the radial terms drop where a
 * norm is clamped at eps. */
// dy [B][K], y [B][K], h [B][in], W [K][in], hinv [B], winv [K] -> dW [K][in], dh [B][in]
// (each skipped when NULL); scratch ds [B][K], hdot [B], wdot [K]
static void cosine_backward(float *dh, float *dW, float *ds, double *hdot, double *wdot,
                            const float *dy, const float *y, const float *h, const float *W,
                            const double *hinv, const double *winv, int B, int in, int K) {
  for (int k = 0; k < K; k++) wdot[k] = 0;
  for (int i = 0; i < B; i++) {
    const float *dyi = dy + (size_t)i * K, *yi = y + (size_t)i * K;
    double c = 0;
    for (int k = 0; k < K; k++) {
      ds[(size_t)i * K + k] = (float)(dyi[k] * hinv[i] * winv[k]);
      c += (double)dyi[k] * yi[k];
      wdot[k] += (double)dyi[k] * yi[k];
    }
    hdot[i] = radial(hinv[i]) * c;
  }
  affine_backward(dh, dW, NULL, ds, h, W, B, in, K);
  for (int k = 0; k < K && dW; k++) {
    const double f = radial(winv[k]) * wdot[k];
    for (int j = 0; j < in; j++) dW[(size_t)k * in + j] -= (float)(f * W[(size_t)k * in + j]);
  }
  for (int i = 0; i < B && dh; i++)
    for (int j = 0; j < in; j++) dh[(size_t)i * in + j] -= (float)(hdot[i] * h[(size_t)i * in + j]);
}

/* Along tangents dh_i of the features and dW_k of the weights:
 *
 *   dy_ik = (dh_i . W_k + h_i . dW_k) / (r_i s_k)  -  (a_i + b_k) y_ik,
 *   a_i = (h_i . dh_i) / r_i^2,   b_k = (W_k . dW_k) / s_k^2
 *
 * (du_i = (dh_i - (u_i . dh_i) u_i) / r_i, dv_k likewise; the radial terms
 * drop where a norm is clamped at eps). The numerator is an affine layer's
 * JVP without bias. */
// y [B][K], h [B][in], W [K][in], hinv [B], winv [K] and the tangents dh [B][in]
// (NULL: zero), dW [K][in] -> out [B][K] (double); scratch s [B][K], hdot [B], wdot [K]
static void cosine_jvp(double *out, float *s, double *hdot, double *wdot, const float *y,
                       const float *h, const float *W, const float *dh, const float *dW,
                       const double *hinv, const double *winv, int B, int in, int K) {
  affine_jvp(s, h, dh, W, dW, NULL, B, in, K);
  for (int i = 0; i < B; i++) {
    double a = 0;
    for (int j = 0; dh && j < in; j++) a += (double)h[(size_t)i * in + j] * dh[(size_t)i * in + j];
    hdot[i] = radial(hinv[i]) * a;
  }
  for (int k = 0; k < K; k++) {
    double b = 0;
    for (int j = 0; j < in; j++) b += (double)W[(size_t)k * in + j] * dW[(size_t)k * in + j];
    wdot[k] = radial(winv[k]) * b;
  }
  for (int i = 0; i < B; i++)
    for (int k = 0; k < K; k++) {
      const size_t o = (size_t)i * K + k;
      out[o] = hinv[i] * winv[k] * s[o] - (hdot[i] + wdot[k]) * y[o];
    }
}

/* ---- the model: loops over the layers ------------------------------------------ */

const float *tb_model_forward(tb_model *m, const float *const *P, const float *x, int B) {
  const float *in = x;
  for (int l = 1; l <= m->n_layers; l++) {
    int out = m->dims[l], nin = m->dims[l - 1];
    const float *W = P[2 * (l - 1)];
    if (!has_bias(m, l)) {
      cosine_forward(m->pre[l], m->hinv, m->winv, in, W, B, nin, out);
    } else {
      affine_forward(m->pre[l], in, W, P[2 * (l - 1) + 1], B, nin, out);
    }
    if (l < m->n_layers) {
      act_forward(m->activation, m->act[l], m->pre[l], (int64_t)B * out);
      in = m->act[l];
    }
  }
  return m->pre[m->n_layers];
}

/* From dout [B][K] back through the layers, after a forward pass at the
 * same P and x: the parameters' gradients into G, the input's into dx
 * [B][D] (each skipped when NULL), done(ud, i) called (when not NULL) as
 * each tensor's gradient is complete. The gradient of act[l-1] goes to the
 * scratch buffer that does not hold layer l's dy, and through the
 * activation, in place, becomes layer l-1's dy. An affine layer's dX
 * product comes after the done calls of its dW and db: the 1-2 MB of a
 * wide layer's dW are then still in cache. */
static void backward_pass(tb_model *m, const float *const *P, float *const *G, const float *x,
                          const float *dout, int B, float *dx, tb_grad_done_fn done, void *ud) {
  const float *dy = dout;
  for (int l = m->n_layers; l >= 1; l--) {
    int out = m->dims[l], nin = m->dims[l - 1];
    const float *in = l > 1 ? m->act[l - 1] : x, *W = P[2 * (l - 1)];
    float *dh = dy == m->dact[0] ? m->dact[1] : m->dact[0];
    float *dW = G ? G[2 * (l - 1)] : NULL, *din = l > 1 ? dh : dx;
    if (!has_bias(m, l)) {
      cosine_backward(din, dW, m->head_dy, m->hdot, m->wdot, dy, m->pre[l], in, W, m->hinv,
                      m->winv, B, nin, out);
      if (done && dW) done(ud, 2 * (l - 1));
    } else {
      float *db = G ? G[2 * (l - 1) + 1] : NULL;
      affine_backward(NULL, dW, db, dy, in, W, B, nin, out);
      if (done && dW) done(ud, 2 * (l - 1)), done(ud, 2 * (l - 1) + 1);
      if (din) affine_backward(din, NULL, NULL, dy, in, W, B, nin, out);
    }
    if (l == 1) break;
    act_backward(m->activation, dh, m->pre[l - 1], m->act[l - 1], (int64_t)B * nin);
    dy = dh;
  }
}

void tb_model_backward(tb_model *m, const float *const *P, float *const *G, const float *x,
                       const float *dlogits, int B) {
  backward_pass(m, P, G, x, dlogits, B, NULL, NULL, NULL);
}

void tb_model_backward_each(tb_model *m, const float *const *P, float *const *G,
                            const float *x, const float *dlogits, int B, tb_grad_done_fn done,
                            void *ud) {
  backward_pass(m, P, G, x, dlogits, B, NULL, done, ud);
}

void tb_model_input_grad(tb_model *m, const float *const *P, const float *x, const float *dout,
                         int B, float *dx) {
  backward_pass(m, P, NULL, x, dout, B, dx, NULL, NULL);
}

void tb_model_jvp(tb_model *m, const float *const *P, const float *const *V, const float *x,
                  int B, double *out) {
  /* the tangent of act[l-1] (NULL: the input's, zero) carried layer to layer
   * through each layer's JVP, into the buffer that does not hold it; the
   * activation maps it in place, as its backward does */
  const float *tin = NULL;
  for (int l = 1; l <= m->n_layers; l++) {
    int o = m->dims[l], nin = m->dims[l - 1];
    const float *in = l > 1 ? m->act[l - 1] : x, *W = P[2 * (l - 1)], *dW = V[2 * (l - 1)];
    float *t = tin == m->tan[0] ? m->tan[1] : m->tan[0];
    if (!has_bias(m, l)) {
      cosine_jvp(out, t, m->hdot, m->wdot, m->pre[l], in, W, tin, dW, m->hinv, m->winv, B, nin,
                 o);
      return;
    }
    affine_jvp(t, in, tin, W, dW, V[2 * (l - 1) + 1], B, nin, o);
    if (l == m->n_layers) {
      for (int64_t i = 0; i < (int64_t)B * o; i++) out[i] = t[i];
      return;
    }
    act_backward(m->activation, t, m->pre[l], m->act[l], (int64_t)B * o);
    tin = t;
  }
}
