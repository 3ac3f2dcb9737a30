/*
 * test_plugin_util.c — the helpers of trainbench/plugin_util.h with the host's
 * own softmax family (tb_host_api_get):
 *   p_y kernel   GCE, MAE and -log p written as f and p f'(p) give the closed
 *                forms' values and gradients, to 1e-12 relative where p_y -> 1
 *                (z_y - z_other up to 700) and finite where p_y underflows;
 *                central differences on random logits with labels and soft
 *                targets; a value-only call gives the same value; a row of
 *                another K or a label out of range is NaN
 *   row loop     the weighted mean over N, w_i / N as the row's scale, rows of
 *                weight 0 not evaluated (zero gradient), N = 0, the phase and
 *                sample ids reaching the row, eval preferred over row
 *   optimizers   one allocation: zeroed slots, per-tensor views back to back;
 *                impossible sizes and a missing stride refused with a message;
 *                the step's shape check (count, numel, stride);
 *                TB_TENSOR_NO_DECAY; TBU_SPECIALIZE calls the copy of its mode
 *   rows         TBU_HP_* fill the fields they name
 *
 * Shapes: N = samples, K = classes; logits, targets, gradients [N][K].
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "host.h"
#include "trainbench/plugin_util.h"

static const tb_host_api *host;

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static double urand(void) {
  seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
  return (double)(seed >> 11) * 0x1.0p-53;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* ---- losses written for the p_y kernel -------------------------------------- */

/* GCE (Zhang & Sabuncu, 2018): f = (1 - p^q)/q, p f'(p) = -p^q; from log p so
 * neither end cancels. */
static double gce_f(const void *hp, double p, double logp, double u, double *g) {
  const double q = *(const double *)hp;
  (void)p, (void)u;
  *g = -exp(q * logp);
  return -expm1(q * logp) / q;
}

/* MAE on the one-hot target: f = 2 (1 - p) = 2u, p f'(p) = -2p. */
static double mae_f(const void *hp, double p, double logp, double u, double *g) {
  (void)hp, (void)logp;
  *g = -2 * p;
  return 2 * u;
}

/* cross-entropy: f = -log p, p f'(p) = -1 (finite where f'(p) = -1/p is not). */
static double ce_f(const void *hp, double p, double logp, double u, double *g) {
  (void)hp, (void)p, (void)u;
  *g = -1;
  return -logp;
}

typedef struct pyloss {
  tbu_scratch rows;
  tbu_py_fn fn;
  double q;
} pyloss;

static pyloss *py_make(int k, tbu_py_fn fn, double q) {
  char err[256] = "";
  tb_loss_init init = {.host = host, .n_classes = k};
  pyloss *s = TBU_LOSS_ALLOC(pyloss, rows, &init, "py", TBU_PY_ROWS, err, sizeof err);
  if (!s) {
    CHECK(0, "TBU_LOSS_ALLOC for K = %d: %s", k, err);
    exit(1);
  }
  s->fn = fn;
  s->q = q;
  return s;
}

static double py_row(void *state, const tb_loss_row *r) {
  const pyloss *s = state;
  return tbu_py_row(&s->rows, r, s->fn, &s->q);
}

/* A one-row evaluation with scale 1. */
static double py_one(pyloss *s, const double *z, int y, const double *t, double *dz, int k) {
  tb_loss_row r = {.k = k, .z = z, .y = y, .target = t, .grad_scale = 1, .dz = dz, .sample_id = -1,
                   .phase = TB_PHASE_TRAIN};
  return py_row(s, &r);
}

/* K = 2, label 0, z = (t, 0): p_y = sigmoid(t), log p_y = -softplus(-t), 1 - p_y = sigmoid(-t).
 *   GCE: loss = -expm1(-q softplus(-t))/q, dz_0 = -p_y^q (1 - p_y) = -dz_1
 *   MAE: loss = 2 sigmoid(-t),             dz_0 = -2 p_y (1 - p_y) = -dz_1 */
static void test_py_tails(void) {
  static const double ts[] = {1, 5, 20, 40, 100, 300, 700};
  static const double qs[] = {0.1, 0.5, 0.7, 1};
  for (size_t a = 0; a < sizeof qs / sizeof *qs; a++) {
    pyloss *s = py_make(2, gce_f, qs[a]);
    double worst = 0;
    int ok = 1;
    for (size_t b = 0; b < sizeof ts / sizeof *ts; b++) {
      const double t = ts[b], z[2] = {t, 0}, sp = softplus(-t), u = sigmoid(-t);
      double dz[2];
      const double v = py_one(s, z, 0, NULL, dz, 2);
      const double want = -expm1(-qs[a] * sp) / qs[a], dwant = -exp(-qs[a] * sp) * u;
      ok = ok && close_to(v, want, 1e-12, 0) && close_to(dz[0], dwant, 1e-12, 0) &&
           close_to(dz[1], -dwant, 1e-12, 0);
      worst = fmax(worst, fabs(v - want) / want);
      worst = fmax(worst, fabs(dz[0] - dwant) / fabs(dwant));
    }
    CHECK(ok, "p_y kernel, GCE q=%g: tail p_y -> 1 (z_y - z_other = 1..700) matches the closed "
          "form, max rel err %.1e", qs[a], worst);
    free(s);
  }
  pyloss *s = py_make(2, mae_f, 0);
  double worst = 0;
  int ok = 1;
  for (size_t b = 0; b < sizeof ts / sizeof *ts; b++) {
    const double t = ts[b], z[2] = {t, 0}, u = sigmoid(-t), p = sigmoid(t);
    double dz[2];
    const double v = py_one(s, z, 0, NULL, dz, 2);
    ok = ok && close_to(v, 2 * u, 1e-12, 0) && close_to(dz[0], -2 * p * u, 1e-12, 0) &&
         close_to(dz[1], 2 * p * u, 1e-12, 0);
    worst = fmax(worst, fmax(fabs(v - 2 * u) / (2 * u), fabs(dz[0] + 2 * p * u) / (2 * p * u)));
  }
  CHECK(ok, "p_y kernel, MAE: tail p_y -> 1 matches the closed form, max rel err %.1e", worst);
  free(s);
}

/* p_y underflows (z_y - z_other = -800, -1e3): values and gradients finite;
 * cross-entropy there is softplus(800) = 800 exactly as -log p from log p. */
static void test_py_underflow(void) {
  static const double ts[] = {-50, -745, -800, -1e3};
  for (size_t b = 0; b < sizeof ts / sizeof *ts; b++) {
    const double z[2] = {ts[b], 0};
    double dz[2], dzc[2];
    pyloss *g = py_make(2, gce_f, 0.7), *c = py_make(2, ce_f, 0);
    const double vg = py_one(g, z, 0, NULL, dz, 2), vc = py_one(c, z, 0, NULL, dzc, 2);
    const double p = sigmoid(ts[b]);
    CHECK(isfinite(vg) && isfinite(dz[0]) && isfinite(dz[1]) && close_to(vc, softplus(-ts[b]), 1e-15, 0) &&
              close_to(dzc[0], -(1 - p), 1e-15, 0) && close_to(dzc[1], 1 - p, 1e-15, 0),
          "p_y kernel at z_y - z_other = %g: GCE %.17g (gradient %g, %g), -log p %.17g, all "
          "finite", ts[b], vg, dz[0], dz[1], vc);
    free(g);
    free(c);
  }
}

/* Central differences of the row value against its gradient (row scale 1). */
static void test_py_fd(void) {
  static const int ks[] = {2, 5, 30};
  for (int soft = 0; soft < 2; soft++)
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++) {
      const int k = ks[a];
      pyloss *s = py_make(k, gce_f, 0.7);
      double z[30], t[30], dz[30], tsum = 0, worst = 0;
      for (int j = 0; j < k; j++) z[j] = 6 * urand() - 3, tsum += t[j] = urand();
      for (int j = 0; j < k; j++) t[j] /= tsum;
      const int y = (int)(urand() * k);
      const double *tt = soft ? t : NULL;
      const double v = py_one(s, z, y, tt, dz, k);
      int ok = isfinite(v);
      for (int j = 0; j < k; j++) {
        const double h = 1e-6, z0 = z[j];
        z[j] = z0 + h;
        const double lp = py_one(s, z, y, tt, NULL, k);
        z[j] = z0 - h;
        const double lm = py_one(s, z, y, tt, NULL, k);
        z[j] = z0;
        const double fd = (lp - lm) / (2 * h), e = fabs(fd - dz[j]) / (1e-6 * fabs(dz[j]) + 1e-9);
        ok = ok && e <= 1;
        worst = fmax(worst, e);
      }
      const double v2 = py_one(s, z, y, tt, NULL, k);
      CHECK(ok && v2 == v, "p_y kernel, GCE K=%d %s: gradient = central differences (worst "
            "error/tolerance %.2g), a value-only call gives the same value", k,
            soft ? "soft targets" : "label", worst);
      free(s);
    }
}

static void test_py_refusals(void) {
  pyloss *s = py_make(4, ce_f, 0);
  const double z[4] = {1, 2, 3, 4};
  double dz[4];
  CHECK(isnan(py_one(s, z, 0, NULL, dz, 3)), "p_y kernel: a row of K=3 on a K=4 state is NaN");
  CHECK(isnan(py_one(s, z, 4, NULL, dz, 4)) && isnan(py_one(s, z, -1, NULL, dz, 4)),
        "p_y kernel: a label out of 0..K-1 is NaN");
  const double t[4] = {0, 0.5, 0.5, 0};
  CHECK(!isnan(py_one(s, z, 7, t, dz, 4)), "p_y kernel: with a soft target the label is not read");
  free(s);
}

/* ---- the row loop ---------------------------------------------------------- */

typedef struct recorder {
  int calls, phase;
  int64_t ids[16];
  double scales[16];
} recorder;

/* loss_i = sum_j j z_j, gradient scale * j; records what reaches it. */
static double rec_row(void *state, const tb_loss_row *r) {
  recorder *s = state;
  s->ids[s->calls] = r->sample_id;
  s->scales[s->calls++] = r->grad_scale;
  s->phase = r->phase;
  double v = 0;
  for (int j = 0; j < r->k; j++) {
    v += j * r->z[j];
    if (r->dz) r->dz[j] = r->grad_scale * j;
  }
  return v;
}

static double rec_eval(void *state, const tb_loss_batch *b) {
  (void)state, (void)b;
  return 42;
}

static void test_row_loop(void) {
  enum { N = 5, K = 3 };
  double z[N * K], dz[N * K];
  const double w[N] = {1, 0, 2.5, 0.5, 0};
  const int32_t y[N] = {0, 1, 2, 0, 1};
  const int64_t ids[N] = {10, 11, 12, 13, 14};
  for (int i = 0; i < N * K; i++) z[i] = i + 1, dz[i] = -7;
  z[1 * K + 2] = NAN; /* in a zero-weight row */
  recorder rec = {0};
  tb_loss_batch b = {.n = N, .k = K, .logits = z, .labels = y, .weights = w, .dlogits = dz,
                     .sample_ids = ids, .phase = TB_PHASE_PROBE, .tensor_size = sizeof(tb_tensor)};
  const double v = tbu_loss_eval_rows(rec_row, &rec, &b);
  double want = 0;
  for (int i = 0; i < N; i++)
    if (w[i] != 0) want += w[i] * (0 * z[i * K] + 1 * z[i * K + 1] + 2 * z[i * K + 2]);
  want /= N;
  int grad_ok = 1;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++) grad_ok &= dz[i * K + j] == w[i] / N * j;
  CHECK(v == want && grad_ok, "row loop: mean = sum_i w_i loss_i / N (%.17g vs %.17g), gradient "
        "rows scaled by w_i / N, zero-weight rows zeroed", v, want);
  CHECK(rec.calls == 3 && rec.ids[0] == 10 && rec.ids[1] == 12 && rec.ids[2] == 13 &&
            rec.scales[1] == 2.5 / N && rec.phase == TB_PHASE_PROBE,
        "row loop: only the 3 rows of non-zero weight are evaluated, with their sample ids, "
        "scales and the batch's phase");
  b.weights = NULL, b.dlogits = NULL, b.sample_ids = NULL, rec.calls = 0;
  const double v1 = tbu_loss_eval_rows(rec_row, &rec, &b);
  CHECK(isnan(v1) && rec.calls == N && rec.ids[0] == -1,
        "row loop: weights NULL are all 1 (the NaN row now counts), sample id -1 without ids");
  b.n = 0;
  CHECK(tbu_loss_eval_rows(rec_row, &rec, &b) == 0, "row loop: N = 0 gives 0");
  tb_loss_def both = {TB_DEF_SIZES(tb_loss_def), .name = "both", .eval = rec_eval, .row = rec_row};
  tb_loss_def rows_only = {TB_DEF_SIZES(tb_loss_def), .name = "rows", .row = rec_row};
  b.n = N;
  CHECK(tbu_loss_eval(&both, &rec, &b) == 42 && isnan(tbu_loss_eval(&rows_only, &rec, &b)),
        "tbu_loss_eval: the batch form when set, else the row loop");
}

/* ---- optimizers --------------------------------------------------------------- */

typedef struct ostate {
  double lr;
  tbu_slots slots;
  int tail; /* a field after the slots, so `at` is exercised */
} ostate;

static void make_tensors(tb_tensor *t, int n, float *data, const int64_t *numel) {
  memset(t, 0, sizeof *t * (size_t)n);
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    t[i].name = i == 0 ? "fc1.weight" : i == 1 ? "fc1.bias" : "fc2.weight";
    t[i].data = data + off;
    t[i].numel = numel[i];
    t[i].ndim = 1;
    t[i].shape[0] = numel[i];
    off += numel[i];
  }
}

static void test_opt_alloc(void) {
  const int64_t numel[3] = {12, 4, 1001};
  float data[1017] = {0};
  tb_tensor params[3], grads[3];
  make_tensors(params, 3, data, numel);
  make_tensors(grads, 3, data, numel);
  char err[256] = "";
  tb_optimizer_init init = {.host = host, .params = params, .n_params = 3,
                            .tensor_size = sizeof(tb_tensor)};
  ostate *s = TBU_OPT_ALLOC(ostate, slots, &init, 3, err, sizeof err);
  if (!s) {
    CHECK(0, "TBU_OPT_ALLOC: %s", err);
    return;
  }
  int zero = 1;
  for (int64_t j = 0; j < 3 * s->slots.total; j++) zero &= s->slots.data[j] == 0;
  int views = s->slots.total == 1017;
  for (int slot = 0; slot < 3; slot++) {
    views &= tbu_slot(&s->slots, slot, 0) == s->slots.data + slot * 1017;
    for (int i = 0; i < 2; i++)
      views &= tbu_slot(&s->slots, slot, i) + numel[i] == tbu_slot(&s->slots, slot, i + 1);
  }
  for (int i = 0; i < 3; i++) views &= s->slots.numel[i] == numel[i];
  s->tail = 7;
  tbu_slot(&s->slots, 2, 2)[1000] = 1; /* the last float: inside the allocation (ASan) */
  CHECK(zero && views && s->lr == 0 && s->slots.n_params == 3 && s->slots.n_slots == 3,
        "TBU_OPT_ALLOC: zeroed header and slots, 3 slots x 1017 floats, views back to back");
  tb_step_ctx ctx = {.n_params = 3, .tensor_size = sizeof(tb_tensor)};
  CHECK(tbu_step_check(&s->slots, params, grads, &ctx) == 0, "step check: the same tensors pass");
  ctx.n_params = 2;
  CHECK(tbu_step_check(&s->slots, params, grads, &ctx) != 0, "step check: another count fails");
  ctx.n_params = 3;
  grads[2].numel = 1000;
  CHECK(tbu_step_check(&s->slots, params, grads, &ctx) != 0, "step check: another numel fails");
  grads[2].numel = 1001;
  ctx.tensor_size = 0;
  CHECK(tbu_step_check(&s->slots, params, grads, &ctx) != 0,
        "step check: a stride smaller than tb_tensor fails");
  free(s);

  /* a wider stride: tensors of a later minor, read through TB_TENSOR_AT */
  struct wide {
    tb_tensor t;
    double extra[3];
  } w[3];
  for (int i = 0; i < 3; i++) w[i].t = params[i], w[i].extra[0] = -1;
  init.params = &w[0].t;
  init.tensor_size = sizeof w[0];
  s = TBU_OPT_ALLOC(ostate, slots, &init, 1, err, sizeof err);
  ctx.tensor_size = sizeof w[0];
  const tbu_view v = tbu_view_at(&w[0].t, &w[0].t, &ctx, 2);
  CHECK(s && s->slots.total == 1017 && v.n == 1001 && v.p == data + 16 &&
            tbu_step_check(&s->slots, &w[0].t, &w[0].t, &ctx) == 0,
        "a tensor array of a larger stride is read through TB_TENSOR_AT");
  free(s);

  params[1].numel = -3;
  init.params = params;
  init.tensor_size = sizeof(tb_tensor);
  s = TBU_OPT_ALLOC(ostate, slots, &init, 2, err, sizeof err);
  CHECK(!s && strcmp(err, "tensor 'fc1.bias' has an impossible size -3") == 0,
        "a negative numel is refused naming the tensor: %s", err);
  params[1].numel = INT64_MAX / 32; /* 64 slots of it: 2^66 bytes, refused before calloc */
  s = TBU_OPT_ALLOC(ostate, slots, &init, 64, err, sizeof err);
  CHECK(!s && strstr(err, "does not fit in memory"), "a state larger than memory is refused: %s",
        err);
  params[1].numel = 4;
  init.tensor_size = 0;
  s = TBU_OPT_ALLOC(ostate, slots, &init, 2, err, sizeof err);
  CHECK(!s && strstr(err, "stride 0"), "an init without tensor_size is refused: %s", err);
}

static void test_decay_and_modes(void) {
  tb_tensor t = {.name = "fc1.bias", .numel = 1};
  CHECK(tbu_weight_decay(0.1, &t) == 0.1, "weight decay: an unmarked tensor keeps 0.1");
  t.flags = TB_TENSOR_NO_DECAY | TB_TENSOR_NONNEG;
  CHECK(tbu_weight_decay(0.1, &t) == 0, "weight decay: a TB_TENSOR_NO_DECAY tensor gets 0");

  unsigned seen[16], n_seen = 0;
#define RECORD(m) (seen[n_seen++] = (m))
  int ok = 1;
  for (unsigned mode = 0; mode < 16; mode++) {
    n_seen = 0;
    TBU_SPECIALIZE4(mode, RECORD);
    ok &= n_seen == 1 && seen[0] == mode;
    n_seen = 0;
    TBU_SPECIALIZE3(mode, RECORD);
    ok &= n_seen == 1 && seen[0] == (mode & 7);
    n_seen = 0;
    TBU_SPECIALIZE2(mode, RECORD);
    ok &= n_seen == 1 && seen[0] == (mode & 3);
    n_seen = 0;
    TBU_SPECIALIZE1(mode, RECORD);
    ok &= n_seen == 1 && seen[0] == (mode & 1);
  }
#undef RECORD
  CHECK(ok, "TBU_SPECIALIZE1..4 call their RUN once, with the mode's low 1..4 bits as a constant");

  static const char *const opts[] = {"a", "b", NULL};
  const tb_hparam rows[] = {
      TBU_HP_REAL("lr", 1e-3, 0, 10, 1, "learning rate"),
      TBU_HP_INT("k", 5, 1, 20, 0, "steps"),
      TBU_HP_BOOL("flag", 1, "a switch"),
      TBU_HP_CHOICE("mode", 1, opts, "one of two"),
  };
  CHECK(strcmp(rows[0].name, "lr") == 0 && rows[0].type == TB_HP_REAL && rows[0].def == 1e-3 &&
            rows[0].min == 0 && rows[0].max == 10 && rows[0].log_scale == 1 &&
            strcmp(rows[0].help, "learning rate") == 0 && rows[0].def_text == NULL &&
            rows[0].flags == 0 && rows[1].type == TB_HP_INT && rows[1].max == 20 &&
            rows[2].type == TB_HP_BOOL && rows[2].def == 1 && rows[2].min == 0 &&
            rows[2].max == 1 && rows[3].type == TB_HP_CHOICE && rows[3].choices == opts &&
            rows[3].def == 1,
        "TBU_HP_REAL/INT/BOOL/CHOICE fill the fields they name and leave the rest zero");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  host = tb_host_api_get();
  test_py_tails();
  test_py_underflow();
  test_py_fd();
  test_py_refusals();
  test_row_loop();
  test_opt_alloc();
  test_decay_and_modes();
  return check_done();
}
