/* test_model.c — the model's backward pass and Jacobian-vector product
 * against central finite differences, for linear and every MLP activation,
 * and the adjoint identity <u, J v> = <J^T u, v>; initialization bounds. */
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

static void run_case(const char *label, tb_model_spec spec) {
  char err[TB_ERRLEN];
  const int B = 6, D = 5, K = 4;
  tb_model m;
  tb_model_create(&m, &spec, D, K, B, err, sizeof err);
  tb_rng r;
  tb_rng_init(&r, 11, "model-test");
  tb_model_init(&m, TB_INIT_DEFAULT, &r);
  /* larger weights make the activations' curvature matter */
  for (int64_t i = 0; i < m.n_params; i++) m.params[i] *= 2.0f;
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

int main(void) {
  tb_blas_set_threads(1);
  tb_model_spec lin = {.kind = TB_MODEL_LINEAR};
  run_case("linear", lin);
  const char *names[] = {"", "relu", "tanh", "gelu"};
  for (int a = TB_ACT_RELU; a <= TB_ACT_GELU; a++) {
    tb_model_spec mlp = {.kind = TB_MODEL_MLP, .n_hidden = 2, .hidden = {7, 3}, .activation = a};
    char label[32];
    snprintf(label, sizeof label, "mlp[7,3]/%s", names[a]);
    run_case(label, mlp);
  }

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
