/*
 * focal.c — the focal loss, which down-weights well-classified samples by
 * (1 - p_y)^gamma; gamma = 0 is the cross-entropy.
 *
 * Provides: tb_plugin_entry, with one loss, "focal" (row-wise form, through
 * the p_y-scalar kernel of plugin_util.h).
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: Lin et al., "Focal Loss for Dense Object Detection", 2017 (the
 * multiclass softmax form, without the alpha class weights). With q the
 * one-hot label (or the soft target row), p = softmax(z), u_k = 1 - p_k:
 *
 *   loss = -sum_k q_k u_k^gamma log p_k        (one-hot: -(1 - p_y)^gamma log p_y)
 *   c_k  = u_k^gamma (gamma p_k r_k - 1),      r_k = log(p_k) / u_k
 *   dloss/dz_j = q_j c_j - p_j sum_k q_k c_k
 *
 * That is the p_y-scalar form f(p) = -(1 - p)^gamma log p with c = p f'(p),
 * so the row is plugin_util.h's tbu_py_row and this file writes f and c.
 * Numerics: at most one class d has p_d > 1/2; for it u_d is the sum of the
 * other probabilities (1 - p_d would cancel to 0 long before u_d
 * underflows), log p_d is log1p(-u_d) (z_d - logsumexp(z) rounds to 0 as
 * soon as u_d < 1e-16) and its gradient uses u_d in place of 1 - p_d (the
 * kernel does these three); r_d -> -1 as u_d -> 0. Writing c_k with r_k, not
 * u_k^(gamma-1) log p_k, keeps gamma < 1 finite when u_k underflows to 0.
 */
enum { HP_GAMMA, N_HP };

static const tb_hparam hparams[N_HP] = {
  [HP_GAMMA] = TBU_HP_REAL("gamma", 2.0, 0.0, 10.0, 0,
                           "focusing exponent on (1 - p_y); 0 gives the cross-entropy"),
};

typedef struct focal_state {
  double gamma;
  tbu_scratch rows; /* [TBU_PY_ROWS][K] */
} focal_state;

static int focal_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  focal_state *st = TBU_LOSS_ALLOC(focal_state, rows, init, "focal", TBU_PY_ROWS, err, errlen);
  if (!st) return -1;
  st->gamma = init->hp[HP_GAMMA];
  *state = st;
  return 0;
}

/* f(p) = -u^gamma log p and c = p f'(p) = u^gamma (gamma p r - 1). */
static double focal_f(const void *hp, double p, double logp, double u, double *c) {
  const double gamma = *(const double *)hp;
  const double r = u > 0 ? logp / u : -1; /* log(p)/(1-p) -> -1 as p -> 1 */
  const double ug = pow(u, gamma);        /* pow(0, 0) = 1: gamma 0 is CE */
  *c = ug * (gamma * p * r - 1);
  return -ug * logp;
}

/* The core skips zero-weight rows (zero gradient), so not even a NaN of
 * theirs reaches the mean. */
static double focal_row(void *state, const tb_loss_row *r) {
  const focal_state *st = state;
  return tbu_py_row(&st->rows, r, focal_f, &st->gamma);
}

static const tb_loss_def focal = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "focal",
  .version = "1",
  .summary = "focal loss: cross-entropy scaled by (1 - p_y)^gamma to focus on hard samples",
  .reference = "Lin et al., \"Focal Loss for Dense Object Detection\", 2017",
  .services = 0,
  .flags = TB_LOSS_SOFT_TARGETS, /* tbu_target: the soft target row when given */
  .hparams = hparams,
  .n_hparams = N_HP,
  .validate = NULL,
  .create = focal_create,
  .eval = NULL, /* the row-wise form: the core walks the batch */
  .row = focal_row,
  .destroy = free, /* one allocation (TBU_LOSS_ALLOC) */
};

static const tb_loss_def *const losses[] = {&focal, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
