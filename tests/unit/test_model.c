/* test_model.c — the model's backward pass, Jacobian-vector product and
 * gradient with respect to the input against central finite differences,
 * for linear and every MLP activation, each with a linear and a cosine
 * head, and the adjoint identity <u, J v> = <J^T u, v>; the cosine head's
 * outputs within [-1, 1] (zero rows, parallel rows, large inputs) and its
 * tensors; initialization bounds. */
#include <string.h>

#include "check.h"
#include "config.h"
#include "rng.h"
#include "tensor.h"
#include "train.h"
#include "util.h"

/* A smooth scalar of the logits in double: L = sum_ij c_ij z_ij + 0.25 z_ij^2 */
static double objective(const float *z, const double *c, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += c[i] * z[i] + 0.25 * (double)z[i] * z[i];
  return s;
}

/* The model of the finite-difference cases, B = 6 rows of D = 5 inputs and
 * K = 4 classes, initialized from the stream (seed, purpose) that r goes on
 * drawing from. */
static void fd_model(tb_model *m, tb_model_spec spec, uint64_t seed, const char *purpose,
                     tb_rng *r) {
  char err[TB_ERRLEN];
  tb_model_create(m, &spec, 5, 4, 6, err, sizeof err);
  tb_rng_init(r, seed, purpose);
  tb_model_init(m, TB_INIT_DEFAULT, r);
  /* larger weights make the activations' curvature matter */
  for (int64_t i = 0; i < m->n_params; i++) m->params[i] *= 2.0f;
}

static void run_case(const char *label, tb_model_spec spec) {
  const int B = 6, D = 5, K = 4;
  tb_model m;
  tb_rng r;
  fd_model(&m, spec, 11, "model-test", &r);
  float x[6 * 5];
  for (int i = 0; i < B * D; i++) x[i] = (float)tb_rng_normal(&r);
  double c[6 * 4];
  for (int i = 0; i < B * K; i++) c[i] = tb_rng_normal(&r);

  const float *P[2 * TB_MAX_LAYERS];
  float *G[2 * TB_MAX_LAYERS];
  for (int t = 0; t < m.n_tensors; t++) P[t] = m.tensors[t].data, G[t] = m.gtensors[t].data;
  const float *z = tb_model_forward(&m, P, x, B);
  float dz[6 * 4];
  for (int i = 0; i < B * K; i++) dz[i] = (float)(c[i] + 0.5 * z[i]);
  tb_model_backward(&m, P, G, x, dz, B);

  /* directional derivative along a random v, in double-checked float */
  float *v = malloc(sizeof(float) * m.n_params), *saved = malloc(sizeof(float) * m.n_params);
  for (int64_t i = 0; i < m.n_params; i++) v[i] = (float)tb_rng_normal(&r);
  memcpy(saved, m.params, sizeof(float) * m.n_params);
  double gv = 0;
  for (int64_t i = 0; i < m.n_params; i++) gv += (double)m.grads[i] * v[i];
  const double h = 1e-3;
  double lp, lm;
  float zp[24], zm[24];
  for (int64_t i = 0; i < m.n_params; i++) m.params[i] = (float)(saved[i] + h * v[i]);
  z = tb_model_forward(&m, P, x, B);
  memcpy(zp, z, sizeof zp);
  lp = objective(z, c, B * K);
  for (int64_t i = 0; i < m.n_params; i++) m.params[i] = (float)(saved[i] - h * v[i]);
  z = tb_model_forward(&m, P, x, B);
  memcpy(zm, z, sizeof zm);
  lm = objective(z, c, B * K);
  memcpy(m.params, saved, sizeof(float) * m.n_params);
  double fd = (lp - lm) / (2 * h);
  CHECK(close_to(gv, fd, 2e-2, 1e-3), "%s backward: <grad, v> %.6g vs finite difference %.6g", label, gv, fd);

  /* JVP against the finite difference of the logits */
  const float *V[2 * TB_MAX_LAYERS];
  tb_model_views(&m, v, V);
  double jv[24];
  tb_model_forward(&m, P, x, B);
  tb_model_jvp(&m, P, V, x, B, jv);
  double worst = 0, scale = 0;
  for (int i = 0; i < B * K; i++) {
    double f = ((double)zp[i] - zm[i]) / (2 * h);
    if (fabs(jv[i] - f) > worst) worst = fabs(jv[i] - f);
    if (fabs(f) > scale) scale = fabs(f);
  }
  CHECK(worst <= 2e-2 * scale + 1e-3, "%s jvp: worst |Jv - fd| %.3g (scale %.3g)", label, worst, scale);

  /* adjoint identity: sum(u . Jv) == <J^T u, v> with u = dz */
  double lhs = 0, rhs = 0;
  for (int i = 0; i < B * K; i++) lhs += dz[i] * jv[i];
  tb_model_forward(&m, P, x, B);
  tb_model_backward(&m, P, G, x, dz, B);
  for (int64_t i = 0; i < m.n_params; i++) rhs += (double)m.grads[i] * v[i];
  CHECK(close_to(lhs, rhs, 1e-4, 1e-5), "%s adjoint: <u, Jv> %.8g vs <J^T u, v> %.8g", label, lhs, rhs);
  free(v);
  free(saved);
  tb_model_free(&m);
}

/* d/dx of the objective by tb_model_input_grad against the central finite
 * difference along a random direction of the inputs. */
static void input_grad_case(const char *label, tb_model_spec spec) {
  const int B = 6, D = 5, K = 4;
  tb_model m;
  tb_rng r;
  fd_model(&m, spec, 12, "input-grad-test", &r);
  float x[6 * 5], e[6 * 5], xs[6 * 5], dx[6 * 5], dz[6 * 4];
  double c[6 * 4];
  for (int i = 0; i < B * D; i++) x[i] = (float)tb_rng_normal(&r), e[i] = (float)tb_rng_normal(&r);
  for (int i = 0; i < B * K; i++) c[i] = tb_rng_normal(&r);
  const float *P[2 * TB_MAX_LAYERS];
  for (int t = 0; t < m.n_tensors; t++) P[t] = m.tensors[t].data;
  const float *z = tb_model_forward(&m, P, x, B);
  for (int i = 0; i < B * K; i++) dz[i] = (float)(c[i] + 0.5 * z[i]);
  memcpy(m.grads, m.params, sizeof(float) * m.n_params); /* parameter gradients stay as they are */
  tb_model_input_grad(&m, P, x, dz, B, dx);
  CHECK(memcmp(m.grads, m.params, sizeof(float) * m.n_params) == 0,
        "%s input_grad: no parameter gradient written", label);
  double ge = 0;
  for (int i = 0; i < B * D; i++) ge += (double)dx[i] * e[i];
  const double h = 1e-3;
  for (int i = 0; i < B * D; i++) xs[i] = (float)(x[i] + h * e[i]);
  double lp = objective(tb_model_forward(&m, P, xs, B), c, B * K);
  for (int i = 0; i < B * D; i++) xs[i] = (float)(x[i] - h * e[i]);
  double lm = objective(tb_model_forward(&m, P, xs, B), c, B * K);
  double fd = (lp - lm) / (2 * h);
  CHECK(close_to(ge, fd, 2e-2, 1e-3), "%s input_grad: <dx, e> %.6g vs finite difference %.6g",
        label, ge, fd);
  tb_model_free(&m);
}

/* The cosine head: its tensors (no bias), and outputs that are cosines —
 * within [-1, 1], 1 for a weight row parallel to the features, 0 and finite
 * gradients for a zero row of features or of weights. */
static void cosine_cases(void) {
  char err[TB_ERRLEN];
  const int B = 4, D = 3, K = 5;
  tb_model_spec spec = {.kind = TB_MODEL_MLP, .n_hidden = 1, .hidden = {6},
                        .activation = TB_ACT_TANH, .head = TB_HEAD_COSINE};
  tb_model m;
  int rc = tb_model_create(&m, &spec, D, K, B, err, sizeof err);
  CHECK(rc == 0 && m.n_tensors == 3 && strcmp(m.tensors[2].name, "fc2.weight") == 0 &&
            m.tensors[2].role == TB_ROLE_HEAD && m.tensors[2].shape[0] == K &&
            m.tensors[2].shape[1] == 6 && m.n_params == 6 * 3 + 6 + K * 6,
        "cosine head: fc1.weight, fc1.bias, fc2.weight (role head, [K][H]), no fc2.bias "
        "(%d tensors, %lld parameters)", m.n_tensors, (long long)m.n_params);
  int64_t params, work;
  tb_model_size(&spec, D, K, B, &params, &work, NULL);
  CHECK(params == m.n_params, "tb_model_size counts the cosine head without a bias");
  tb_model_free(&m);

  tb_model_spec lin = {.kind = TB_MODEL_LINEAR, .head = TB_HEAD_COSINE};
  tb_model_create(&m, &lin, D, K, B, err, sizeof err);
  tb_rng r;
  tb_rng_init(&r, 13, "cosine-test");
  tb_model_init(&m, TB_INIT_DEFAULT, &r);
  float *W = m.tensors[0].data;
  float x[4 * 3] = {0, 0, 0, /* a zero row */ 3e4f, -2e4f, 1e4f, 0.5f, 0.25f, -1, 0, 0, 0};
  for (int j = 0; j < D; j++) W[1 * D + j] = 7 * x[1 * D + j]; /* row 1 parallel to x_1 */
  for (int j = 0; j < D; j++) W[2 * D + j] = 0;                /* row 2 zero */
  for (int j = 0; j < D; j++) x[3 * D + j] = (float)(1e3 * tb_rng_normal(&r));
  const float *P[1] = {W};
  float *G[1] = {m.gtensors[0].data};
  const float *y = tb_model_forward(&m, P, x, B);
  int inside = 1;
  for (int i = 0; i < B * K; i++) inside = inside && y[i] >= -1 && y[i] <= 1;
  CHECK(inside, "cosine head: every output within [-1, 1]");
  CHECK(fabs(y[1 * K + 1] - 1) < 1e-6, "a weight row parallel to the features: cos = %.9g",
        y[1 * K + 1]);
  int zeros = 1;
  for (int k = 0; k < K; k++) zeros = zeros && y[k] == 0;
  for (int i = 0; i < B; i++) zeros = zeros && y[i * K + 2] == 0;
  CHECK(zeros, "a zero row of features or of weights gives cos = 0 (eps keeps it finite)");
  float dy[4 * 5], dx[4 * 3];
  for (int i = 0; i < B * K; i++) dy[i] = (float)tb_rng_normal(&r);
  tb_model_backward(&m, P, G, x, dy, B);
  tb_model_input_grad(&m, P, x, dy, B, dx);
  int finite = 1;
  for (int64_t i = 0; i < m.n_params; i++) finite = finite && isfinite(m.grads[i]);
  for (int i = 0; i < B * D; i++) finite = finite && isfinite(dx[i]);
  CHECK(finite, "cosine head: finite gradients at zero rows");
  /* a random model of larger random inputs stays inside too */
  tb_model_init(&m, TB_INIT_HE, &r);
  for (int i = 0; i < B * D; i++) x[i] = (float)(1e6 * tb_rng_normal(&r));
  y = tb_model_forward(&m, P, x, B);
  inside = 1;
  for (int i = 0; i < B * K; i++) inside = inside && y[i] >= -1 && y[i] <= 1;
  CHECK(inside, "cosine head: outputs within [-1, 1] at inputs of 1e6");
  tb_model_free(&m);
}

int main(void) {
  tb_blas_set_threads(1);
  const char *names[] = {"", "relu", "tanh", "gelu"}, *heads[] = {"", "", "/cosine"};
  for (int head = TB_HEAD_LINEAR; head <= TB_HEAD_COSINE; head++) {
    tb_model_spec lin = {.kind = TB_MODEL_LINEAR, .head = head};
    char label[48];
    snprintf(label, sizeof label, "linear%s", heads[head]);
    run_case(label, lin);
    input_grad_case(label, lin);
    for (int a = TB_ACT_RELU; a <= TB_ACT_GELU; a++) {
      tb_model_spec mlp = {.kind = TB_MODEL_MLP, .n_hidden = 2, .hidden = {7, 3},
                           .activation = a, .head = head};
      snprintf(label, sizeof label, "mlp[7,3]/%s%s", names[a], heads[head]);
      run_case(label, mlp);
      input_grad_case(label, mlp);
    }
  }
  cosine_cases();

  /* initializations: bounds and names of the tensors */
  char err[TB_ERRLEN];
  tb_model_spec mlp = {.kind = TB_MODEL_MLP, .n_hidden = 1, .hidden = {50}, .activation = TB_ACT_RELU};
  tb_model m;
  tb_model_create(&m, &mlp, 40, 10, 8, err, sizeof err);
  CHECK(m.n_tensors == 4 && strcmp(m.tensors[0].name, "fc1.weight") == 0 &&
            strcmp(m.tensors[3].name, "fc2.bias") == 0 && m.tensors[0].shape[0] == 50 &&
            m.tensors[0].shape[1] == 40,
        "tensors named fc1.weight .. fc2.bias with PyTorch shapes");
  const struct { int init; double wb, bb; const char *name; } inits[] = {
      {TB_INIT_DEFAULT, 1 / sqrt(40.0), 1 / sqrt(40.0), "default"},
      {TB_INIT_HE, sqrt(6 / 40.0), 0, "he"},
      {TB_INIT_GLOROT, sqrt(6 / 90.0), 0, "glorot"},
      {TB_INIT_ZEROS, 0, 0, "zeros"}};
  for (int i = 0; i < 4; i++) {
    tb_rng r;
    tb_rng_init(&r, 1, "init");
    tb_model_init(&m, inits[i].init, &r);
    double wmax = 0, bmax = 0;
    for (int64_t j = 0; j < m.tensors[0].numel; j++) wmax = fmax(wmax, fabs(m.tensors[0].data[j]));
    for (int64_t j = 0; j < m.tensors[1].numel; j++) bmax = fmax(bmax, fabs(m.tensors[1].data[j]));
    CHECK(wmax <= inits[i].wb && wmax >= 0.9 * inits[i].wb && bmax <= inits[i].bb + 1e-12 &&
              (inits[i].bb == 0 ? bmax == 0 : bmax > 0.5 * inits[i].bb),
          "%s init: fc1 weights within +-%.4f (max %.4f), biases max %.4f", inits[i].name,
          inits[i].wb, wmax, bmax);
  }
  tb_model_free(&m);
  return check_done();
}
