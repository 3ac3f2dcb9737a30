/*
 * test_templates.c — the numbers of what `trainbench new` generates, through
 * the real loader: the scaffolded loss at scale 1 is the bundled
 * cross_entropy (values and gradients, with per-sample weights, zero weights
 * and soft targets), `scale` multiplies both, extreme logits stay finite and
 * nothing is written for a value-only call; the scaffolded optimizer is the
 * bundled sgd without momentum (bit for bit, weight decay and schedule
 * factor included) and refuses tensors it was not created for.
 *
 * usage: test_templates LOSS.so LOSS_NAME OPTIMIZER.so OPTIMIZER_NAME
 * (test_new.sh scaffolds and compiles them first).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "host.h"
#include "registry.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"
#include "util.h"

enum { N = 9, K = 5 };

typedef struct {
  const tb_component *c;
  void *state;
} loss_inst;

static double priors[K];

static int loss_make(loss_inst *li, const tb_component *c, const double *hp, tb_rng *rng) {
  char err[TB_ERRLEN] = "";
  static tb_value values[TB_MAX_HP];
  tb_hparams_values(c, hp, values);
  tb_loss_init init = {.host = tb_host_api_get(), .hp = hp, .values = values, .n_classes = K,
                       .priors = priors, .rng = rng};
  li->c = c;
  li->state = NULL;
  int rc = c->loss->create(&init, &li->state, err, sizeof err);
  if (rc) printf("      create '%s': %s\n", c->name, err);
  return rc;
}

static void loss_free(loss_inst *li) {
  if (li->c->loss->destroy) li->c->loss->destroy(li->state);
}

static double loss_eval(loss_inst *li, const double *z, const int32_t *y, const double *t,
                        const double *w, double *dz) {
  tb_loss_batch b = {0};
  b.n = N;
  b.k = K;
  b.logits = z;
  b.labels = y;
  b.targets = t;
  b.weights = w;
  b.priors = priors;
  b.n_epochs = 1;
  b.n_steps = 1;
  b.phase = TB_PHASE_TRAIN;
  b.dlogits = dz;
  return tbu_loss_eval(li->c->loss, li->state, &b);
}

static double max_rel(const double *a, const double *b, int n, double f) {
  double m = 0;
  for (int i = 0; i < n; i++) {
    double d = fabs(a[i] - f * b[i]) / (1e-300 + fabs(f * b[i]) + 1e-12);
    if (!(d <= m)) m = d; /* NaN propagates as the worst */
  }
  return m;
}

static void test_loss(const tb_registry *reg, const char *name) {
  const tb_component *mine = tb_registry_find(reg, TB_KIND_LOSS, name);
  const tb_component *ce = tb_registry_find(reg, TB_KIND_LOSS, "cross_entropy");
  CHECK(mine && ce, "the scaffolded loss '%s' and cross_entropy load", name);
  if (!mine || !ce) return;
  int si = tb_hparam_index(mine, "scale");
  CHECK(mine->n_hparams == 1 && si == 0 && mine->hparams[0].def == 1,
        "it has one hyperparameter, 'scale', default 1");
  CHECK(mine->services == 0 && mine->reference[0] && mine->summary[0],
        "it declares no services and has a summary and a reference");

  tb_rng rng;
  tb_rng_init(&rng, 7, "kit");
  for (int j = 0; j < K; j++) priors[j] = 1.0 / K;
  double z[N * K], t[N * K], w[N], dz_a[N * K], dz_b[N * K];
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int j = 0; j < K; j++) {
      z[i * K + j] = 3 * tb_rng_normal(&rng);
      t[i * K + j] = tb_rng_uniform(&rng);
      s += t[i * K + j];
    }
    for (int j = 0; j < K; j++) t[i * K + j] /= s;
    y[i] = (int32_t)tb_rng_below(&rng, K);
    w[i] = i == 3 ? 0 : 0.25 + 2 * tb_rng_uniform(&rng);
  }
  z[3 * K + 1] = NAN; /* a zero-weight row must not leak even a NaN */

  double hp1[1] = {1}, hp0[1] = {0};
  loss_inst a, b;
  if (loss_make(&a, mine, hp1, &rng) || loss_make(&b, ce, hp0, &rng)) {
    CHECK(0, "create with defaults");
    return;
  }
  double va = loss_eval(&a, z, y, NULL, w, dz_a), vb = loss_eval(&b, z, y, NULL, w, dz_b);
  CHECK(va == vb && max_rel(dz_a, dz_b, N * K, 1) == 0,
        "scale 1 equals cross_entropy with weights and a zero-weight NaN row: %.17g vs %.17g, "
        "gradient rel diff %g", va, vb, max_rel(dz_a, dz_b, N * K, 1));
  int zero_row = 1;
  for (int j = 0; j < K; j++) zero_row &= dz_a[3 * K + j] == 0;
  CHECK(zero_row && isfinite(va), "the zero-weight row gets a zero gradient, the value is finite");

  z[3 * K + 1] = 0.5;
  va = loss_eval(&a, z, y, t, NULL, dz_a);
  vb = loss_eval(&b, z, y, t, NULL, dz_b);
  CHECK(close_to(va, vb, 1e-15, 0) && max_rel(dz_a, dz_b, N * K, 1) < 1e-13,
        "soft targets: equals cross_entropy (%.17g vs %.17g, gradient rel diff %g)", va, vb,
        max_rel(dz_a, dz_b, N * K, 1));

  /* the unweighted mean is the mean of one-row losses: the 1/N is there */
  double single = 0, dz1[K];
  for (int i = 0; i < N; i++) {
    tb_loss_batch one = {0};
    one.n = 1;
    one.k = K;
    one.logits = z + i * K;
    one.labels = y + i;
    one.priors = priors;
    one.n_epochs = 1;
    one.dlogits = dz1;
    single += tbu_loss_eval(a.c->loss, a.state, &one) / N;
  }
  va = loss_eval(&a, z, y, NULL, NULL, dz_a);
  CHECK(close_to(va, single, 1e-14, 0), "the batch value is the mean over N (%.17g vs %.17g)",
        va, single);
  double gsum = 0;
  for (int i = 0; i < N * K; i++) gsum += fabs(dz_a[i]);
  double gref = 0;
  {
    tb_loss_batch one = {0};
    one.n = 1, one.k = K, one.logits = z, one.labels = y, one.priors = priors, one.dlogits = dz1;
    tbu_loss_eval(a.c->loss, a.state, &one);
    for (int j = 0; j < K; j++) gref += fabs(dz1[j] - N * dz_a[j]);
  }
  CHECK(gref < 1e-12 && gsum > 0, "row 0's gradient in the batch is its single-row gradient / N "
        "(diff %g)", gref);

  loss_inst c;
  double hp25[1] = {2.5};
  if (loss_make(&c, mine, hp25, &rng) == 0) {
    double vc = loss_eval(&c, z, y, NULL, w, dz_b);
    va = loss_eval(&a, z, y, NULL, w, dz_a);
    CHECK(close_to(vc, 2.5 * va, 1e-15, 0) && max_rel(dz_b, dz_a, N * K, 2.5) < 1e-15,
          "scale 2.5 multiplies the value and the gradient (%.17g vs 2.5 x %.17g)", vc, va);
    loss_free(&c);
  }

  for (int i = 0; i < N * K; i++) z[i] = (i % 3 == 0 ? 1e3 : -1e3) * (1 + 0.1 * (i % 7));
  va = loss_eval(&a, z, y, NULL, NULL, dz_a);
  int finite = isfinite(va);
  for (int i = 0; i < N * K; i++) finite &= isfinite(dz_a[i]) != 0;
  CHECK(finite, "logits of +-1e3: finite value (%g) and gradient", va);

  /* value only: dlogits NULL must not be written (nothing to write to) */
  double before = loss_eval(&a, z, y, NULL, NULL, NULL);
  CHECK(before == va, "a value-only call gives the same value");

  loss_free(&a);
  loss_free(&b);
}

/* tensors like a small model's: fc1.weight [4][3], fc1.bias [4], fc2.weight [2][4] */
enum { NP = 3 };
static const int64_t numel[NP] = {12, 4, 8};

static void *opt_make(const tb_component *c, const double *hp, tb_tensor *params) {
  static tb_value values[TB_MAX_HP];
  tb_hparams_values(c, hp, values);
  tb_optimizer_init init = {.host = tb_host_api_get(), .hp = hp, .values = values,
                            .params = params, .n_params = NP, .tensor_size = sizeof(tb_tensor)};
  char err[TB_ERRLEN] = "";
  void *st = NULL;
  if (c->opt->create(&init, &st, err, sizeof err)) {
    printf("      create '%s': %s\n", c->name, err);
    return NULL;
  }
  return st;
}

static void test_optimizer(const tb_registry *reg, const char *name) {
  const tb_component *mine = tb_registry_find(reg, TB_KIND_OPTIMIZER, name);
  const tb_component *sgd = tb_registry_find(reg, TB_KIND_OPTIMIZER, "sgd");
  CHECK(mine && sgd, "the scaffolded optimizer '%s' and sgd load", name);
  if (!mine || !sgd) return;
  int ilr = tb_hparam_index(mine, "lr"), iwd = tb_hparam_index(mine, "weight_decay");
  CHECK(mine->n_hparams == 2 && ilr >= 0 && iwd >= 0 && mine->hparams[ilr].def == 0.01 &&
            mine->hparams[iwd].def == 0,
        "it has 'lr' (0.01) and 'weight_decay' (0)");

  float pa[24], pb[24], g[24];
  tb_rng rng;
  tb_rng_init(&rng, 11, "kit-opt");
  for (int i = 0; i < 24; i++) {
    pa[i] = pb[i] = (float)tb_rng_normal(&rng);
  }
  tb_tensor ta[NP], ts[NP], tg[NP];
  static const char *names[NP] = {"fc1.weight", "fc1.bias", "fc2.weight"};
  int64_t off = 0;
  for (int i = 0; i < NP; i++) {
    ta[i] = (tb_tensor){.name = names[i], .data = pa + off, .numel = numel[i], .ndim = 1,
                        .shape = {numel[i]}, .layer = i / 2,
                        .role = i % 2 ? TB_ROLE_BIAS : TB_ROLE_WEIGHT};
    ts[i] = ta[i];
    ts[i].data = pb + off;
    tg[i] = ta[i];
    tg[i].data = g + off;
    off += numel[i];
  }
  double hm[2];
  hm[ilr] = 0.05;
  hm[iwd] = 0.01;
  double hs[TB_MAX_HP];
  tb_hparams_defaults(sgd, hs);
  hs[tb_hparam_index(sgd, "lr")] = 0.05;
  hs[tb_hparam_index(sgd, "weight_decay")] = 0.01;
  void *sa = opt_make(mine, hm, ta), *sb = opt_make(sgd, hs, ts);
  CHECK(sa && sb, "both create");
  if (!sa || !sb) return;
  int same = 1, rc = 0;
  for (int step = 1; step <= 4; step++) {
    for (int i = 0; i < 24; i++) g[i] = (float)tb_rng_normal(&rng);
    tb_step_ctx ctx = {0};
    ctx.step = step;
    ctx.lr_factor = step == 2 ? 0.5 : 1.0;
    ctx.batch_n = 8;
    ctx.n_classes = 2;
    ctx.n_params = NP;
    ctx.tensor_size = sizeof(tb_tensor);
    rc |= mine->opt->step(sa, ta, tg, &ctx);
    rc |= sgd->opt->step(sb, ts, tg, &ctx);
    same &= memcmp(pa, pb, sizeof pa) == 0;
  }
  CHECK(rc == 0 && same, "4 steps with weight decay and a schedule factor: bit-identical to sgd");

  float before[24];
  memcpy(before, pa, sizeof pa);
  memset(g, 0, sizeof g);
  double h0[2];
  h0[ilr] = 0.05;
  h0[iwd] = 0;
  void *sz = opt_make(mine, h0, ta);
  tb_step_ctx ctx = {0};
  ctx.step = 1;
  ctx.lr_factor = 1;
  ctx.n_params = NP;
  ctx.tensor_size = sizeof(tb_tensor);
  rc = sz ? mine->opt->step(sz, ta, tg, &ctx) : 1;
  CHECK(rc == 0 && memcmp(before, pa, sizeof pa) == 0,
        "a zero gradient without weight decay leaves the parameters unchanged");

  ta[1].numel = 5;
  rc = mine->opt->step(sa, ta, tg, &ctx);
  CHECK(rc != 0 && memcmp(before, pa, sizeof pa) == 0,
        "a tensor of another size is refused before anything is updated");
  ta[1].numel = numel[1];

  mine->opt->destroy(sa);
  if (sz) mine->opt->destroy(sz);
  sgd->opt->destroy(sb);
}

int main(int argc, char **argv) {
  if (argc != 5 || !getenv("TB_BUILD_PLUGINS")) {
    fprintf(stderr, "usage: test_templates LOSS.so LOSS_NAME OPTIMIZER.so OPTIMIZER_NAME "
                    "(run through meson test)\n");
    return 2;
  }
  char err[TB_ERRLEN];
  tb_registry *reg;
  setenv("TRAINBENCH_PLUGIN_PATH", "", 1);
  int rc = tb_registry_open(&reg, getenv("TB_BUILD_PLUGINS"), err, sizeof err);
  CHECK(rc == 0, "bundled plugins load%s%s", rc ? ": " : "", rc ? err : "");
  rc = tb_registry_add_file(reg, argv[1], err, sizeof err);
  CHECK(rc == 0, "the scaffolded loss loads through the loader%s%s", rc ? ": " : "",
        rc ? err : "");
  rc = tb_registry_add_file(reg, argv[3], err, sizeof err);
  CHECK(rc == 0, "the scaffolded optimizer loads through the loader%s%s", rc ? ": " : "",
        rc ? err : "");
  test_loss(reg, argv[2]);
  test_optimizer(reg, argv[4]);
  tb_registry_close(reg);
  return check_done();
}
