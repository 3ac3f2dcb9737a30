/*
 * cosface.c — the large margin cosine loss (CosFace, also AM-Softmax) for a
 * cosine head: the cross-entropy of the scaled cosines after the true
 * class's cosine is lowered by a margin m; m = 0 is the cross-entropy of s c.
 *
 * Provides: tb_plugin_entry, with one loss, "cosface" (row-wise form, label
 * only), which requires a cosine head (TB_REQ_COSINE_HEAD) and reports its
 * scale s to the core through head_scale.
 *
 * Shapes: N = samples in the batch, K = classes; c = one row of cosines [K]
 * (the logits of a cosine head, cos theta in [-1, 1]).
 */
#include <math.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * Source: Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face
 * Recognition", CVPR 2018 (the same loss as Wang et al., "Additive Margin
 * Softmax for Face Verification", 2018). With y the label:
 *
 *   z      = s (c - m e_y)                   (the margin on the label only)
 *   loss   = -log softmax(z)_y
 *          = -log( e^{s (c_y - m)} / (e^{s (c_y - m)} + sum_{j != y} e^{s c_j}) )
 *   dloss/dc_j = s (p_j - [j = y]),          p = softmax(z)
 *
 * The core multiplies the cosines by s, without the margin, for every
 * metric; s is a constant here, so head_scale returns it. Each gradient row
 * sums to 0 (a cross-entropy of an affine map of c), as cross_entropy's.
 * Numerics: |z| <= s (1 + m) for cosines, so the host's stable softmax
 * family handles any s of the table. When the label dominates (p_y > 1/2),
 * u = 1 - p_y is the sum of the other probabilities, the loss is
 * -log1p(-u) and the label's gradient -s u: the direct z_y - logsumexp(z)
 * and p_y - 1 round to 0 (or to noise of size s eps) once u < 1e-16, which
 * at s = 64 is a margined gap c_y - m - max_{j != y} c_j of only 0.58, well
 * inside training.
 */
enum { HP_S, HP_M, N_HP };

static const tb_hparam hparams[N_HP] = {
  [HP_S] = TBU_HP_REAL("s", 64.0, 0.0, 1024.0, 1,
                       "scale of the cosines, > 0 (the paper's 64); metrics see s cos theta"),
  [HP_M] = TBU_HP_REAL("m", 0.35, 0.0, 1.0, 0,
                       "additive cosine margin on the true class (the paper's 0.35; 0: "
                       "cross-entropy of s cos theta)"),
};

/* s = 0 passes the table's range but makes every logit 0 and is no scale
 * (the core fails a run whose head scale is not > 0): refuse it at load. */
static int s_bad(double s, char *err, size_t errlen) {
  if (s > 0) return 0;
  snprintf(err, errlen, "'s' must be > 0 (got %g)", s);
  return 1;
}

static int cosface_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  return s_bad(v[HP_S].num, err, errlen);
}

typedef struct cosface_state {
  double s, m;
  tbu_scratch rows; /* [2][K]: the margined, scaled row z and softmax(z) */
} cosface_state;

static int cosface_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (s_bad(init->hp[HP_S], err, errlen)) return -1;
  cosface_state *st = TBU_LOSS_ALLOC(cosface_state, rows, init, "cosface", 2, err, errlen);
  if (!st) return -1;
  st->s = init->hp[HP_S];
  st->m = init->hp[HP_M];
  *state = st;
  return 0;
}

/* One row, from the label alone (no soft targets: the margin and the
 * target would need a rule of their own). The core skips zero-weight rows
 * (zero gradient), so not even a NaN of theirs reaches the mean. */
static double cosface_row(void *state, const tb_loss_row *r) {
  cosface_state *st = state;
  const int k = r->k, y = r->y;
  if (k != st->rows.k || y < 0 || y >= k) return NAN; /* another K, or a label out of range */
  const double s = st->s, m = st->m;
  double *z = tbu_scratch_row(&st->rows, 0), *p = tbu_scratch_row(&st->rows, 1);
  for (int j = 0; j < k; j++) z[j] = s * (r->z[j] - (j == y ? m : 0.0));
  const double lse = st->rows.host->softmax_lse(p, z, k);
  double u;
  const int top = tbu_softmax_top(p, k, &u) == y; /* u = 1 - p_y, without cancellation */
  const double loss = top ? -log1p(-u) : lse - z[y];
  if (r->dz) {
    const double g = r->grad_scale * s;
    for (int j = 0; j < k; j++) r->dz[j] = g * (j == y ? (top ? -u : p[j] - 1) : p[j]);
  }
  return loss;
}

static double cosface_head_scale(void *state, const tb_loss_batch *b) {
  (void)b;
  return ((const cosface_state *)state)->s;
}

static const tb_loss_def cosface = {
  TB_DEF_SIZES(tb_loss_def),
  .name = "cosface",
  .version = "1",
  .summary = "large margin cosine loss (CosFace, AM-Softmax): cross-entropy of s (cos theta "
             "- m on the label), for a cosine head",
  .reference = "Wang et al., \"CosFace: Large Margin Cosine Loss for Deep Face Recognition\", "
               "CVPR 2018",
  .services = 0,
  .flags = 0, /* the label only: a batch transform that makes soft targets is refused */
  .requires = TB_REQ_COSINE_HEAD,
  .hparams = hparams,
  .n_hparams = N_HP,
  .validate = cosface_validate,
  .create = cosface_create,
  .eval = NULL, /* the row-wise form: the core walks the batch, weights and 1/N */
  .row = cosface_row,
  .destroy = free, /* one allocation (TBU_LOSS_ALLOC) */
  .head_scale = cosface_head_scale,
};

static const tb_loss_def *const losses[] = {&cosface, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
