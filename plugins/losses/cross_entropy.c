/*
 * cross_entropy.c — the multinomial cross-entropy loss, with label smoothing
 * exactly as torch.nn.functional.cross_entropy(..., label_smoothing=eps).
 *
 * Provides: tb_plugin_entry, with one loss, "cross_entropy" (row-wise form).
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: the standard log-loss of a softmax classifier; label smoothing from
 * Szegedy et al., "Rethinking the Inception Architecture for Computer
 * Vision", 2016. With t the one-hot label (or the soft target row):
 *
 *   q_k    = (1 - eps) t_k + eps / K          (smoothing spreads over all K)
 *   loss   = -sum_k q_k log p_k,              p = softmax(z)
 *   dloss/dz_j = p_j sum_k q_k - q_j
 *
 * The gradient keeps sum_k q_k rather than assuming 1, so it stays the exact
 * derivative even when a soft target row does not sum to 1 exactly.
 */
enum { HP_LABEL_SMOOTHING, N_HP };

static const tb_hparam hparams[N_HP] = {
  [HP_LABEL_SMOOTHING] = TBU_HP_REAL("label_smoothing", 0.0, 0.0, 1.0, 0,
    "weight eps of the uniform distribution mixed into the target (0 = none)"),
};

typedef struct ce_state {
  double eps, spread; /* eps and eps / K */
  tbu_scratch rows;   /* [1][K]: the softmax of a row */
} ce_state;

static int ce_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  ce_state *st = TBU_LOSS_ALLOC(ce_state, rows, init, "cross_entropy", 1, err, errlen);
  if (!st) return -1;
  st->eps = init->hp[HP_LABEL_SMOOTHING];
  st->spread = st->eps / init->n_classes;
  *state = st;
  return 0;
}

/* One row: the core skips zero-weight rows (zero gradient), so not even a NaN
 * of theirs reaches the mean. */
static double ce_row(void *state, const tb_loss_row *r) {
  ce_state *st = state;
  if (!tbu_row_ok(&st->rows, r)) return NAN; /* another K, or a label out of range */
  const int k = r->k;
  const double eps = st->eps, spread = st->spread;
  double *p = tbu_scratch_row(&st->rows, 0);
  /* log p_j = z_j - logsumexp(z); with a gradient to take, p and the
   * logsumexp come from one pass of exps (p from softmax, not exp(log p):
   * z - logsumexp(z) carries the rounding of the larger of the two, which at
   * |z| ~ 1e3 is 1e-13 relative in p) */
  const double lse = r->dz ? st->rows.host->softmax_lse(p, r->z, k)
                           : st->rows.host->logsumexp(r->z, k);
  double loss = 0, qsum = 0;
  for (int j = 0; j < k; j++) {
    double q = (1 - eps) * tbu_target(r, j) + spread;
    /* skip q = 0 so that a -inf logit of an untargeted class stays harmless */
    if (q != 0) loss -= q * (r->z[j] - lse);
    qsum += q;
  }
  if (r->dz) {
    for (int j = 0; j < k; j++) {
      double q = (1 - eps) * tbu_target(r, j) + spread;
      r->dz[j] = r->grad_scale * (p[j] * qsum - q);
    }
  }
  return loss;
}

static const tb_loss_def cross_entropy = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "cross_entropy",
  .version = "1",
  .summary = "softmax cross-entropy with optional label smoothing (as in PyTorch)",
  .reference = "log-loss; label smoothing: Szegedy et al., \"Rethinking the Inception "
               "Architecture for Computer Vision\", 2016",
  .services = 0,
  .flags = TB_LOSS_SOFT_TARGETS, /* tbu_target: the soft target row when given */
  .hparams = hparams,
  .n_hparams = N_HP,
  .validate = NULL,
  .create = ce_create,
  .eval = NULL, /* the row-wise form: the core walks the batch */
  .row = ce_row,
  .destroy = free, /* one allocation (TBU_LOSS_ALLOC) */
};

static const tb_loss_def *const losses[] = {&cross_entropy, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
