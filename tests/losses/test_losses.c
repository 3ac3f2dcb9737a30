/*
 * test_losses.c — conformance of the bundled losses (cross_entropy, focal,
 * brier, hinge, cosface, and the wrapper logit_clip), loaded from the build
 * tree through the real registry.
 *
 * The five plain losses have only the row-wise form: they are evaluated
 * through plugin_util.h's tbu_loss_eval, the row loop the core runs too.
 * cosface reads a cosine head (TB_REQ_COSINE_HEAD): its logits here are
 * cosines, the other losses' inputs scaled into [-0.98, 0.98] (as_cosines),
 * and its head_scale is its s. logit_clip has the batch form and runs its base loss through the
 * eval_base service (TB_SERVICE_BASE): this test is its host, as the trainer
 * is in a run — it creates the base instance from the registry with its own
 * hyperparameters and state, and eval_base runs it with tbu_loss_eval on the
 * wrapper's batch, host_ctx set to the base.
 *
 * Checks, one output line each, exit status 1 if any fails:
 *   descriptor  name, version, summary, reference, services, hyperparameters,
 *               the row-wise form (eval NULL, row set)
 *   reference   every case of reference.txt (PyTorch float64, gen_losses.py):
 *               |a - b| <= 1e-9 |b| for the value; for a gradient entry
 *               |a - b| <= 1e-9 |b| + 1e-13 (w_i / N) (p_ij + t_ij), so even
 *               entries of size e^-100 are held to 1e-9 relative (cosface:
 *               s times that, p the softmax of s (c - m e_y))
 *   fd          central differences (L(z+h e_j) - L(z-h e_j)) / 2h, h = 1e-5,
 *               on random, near-one-hot and +-50 logits, K = 2, 10, 100, N = 1, 7
 *   finite      values and gradients finite at +-50 and +-1e3 logits (cosface
 *               also at cosines of +-1); every gradient row sums to 0 (the
 *               losses but logit_clip are shift invariant: cosface is a
 *               cross-entropy of s (c - m e_y), an affine map of c)
 *   weights     mean = sum_i w_i loss_i / N, rows scale by w_i / N, zero-weight
 *               rows contribute nothing (not even NaN logits), dlogits NULL and
 *               weights NULL give the same numbers
 *   exact       closed forms: focal and brier tails (p_y -> 1) to 1e-12
 *               relative, focal gamma 0 = cross_entropy, hinge ties and kink;
 *               logit_clip with a bound above every row's norm is its base bit
 *               for bit, clipped rows are the base at delta z / ||z||, and a
 *               missing base gives NaN, not a crash; cosface: K = 2 closed
 *               form softplus(s (c_1 - c_0 + m)) into its tail to 1e-12
 *               relative, m = 0 is cross_entropy of s c (gradient times s),
 *               head_scale is s, s = 0 refused, bad rows NaN
 *
 * Shapes: N = samples, K = classes; logits, targets, gradients are [N][K].
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "registry.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"
#include "trainbench/plugin_util.h"

static tb_registry *reg;
static const tb_host_api *host;
static int n_pass, n_fail;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", ok ? "ok  " : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  if (ok)
    n_pass++;
  else
    n_fail++;
}

/* ---- a loss instance: registry component + created state -------------------- */

typedef struct inst {
  const tb_component *c;
  void *state;
  int k;
  double *priors;
  int64_t *counts; /* [K] class counts of a made-up training split of 10 K rows */
  struct inst *base; /* a wrapper's base loss, with its own state; NULL for none */
  int base_slot;     /* the COMPONENT hyperparameter that names it */
} inst;

/* The values of scalar hyperparameters as 2.0 hands them over beside hp; a
 * component's text is its default's name (inst_open sets the base's). */
static void values_of(const tb_component *c, const double *hp, tb_value *v) {
  for (int i = 0; i < c->n_hparams; i++) {
    memset(&v[i], 0, sizeof v[i]);
    v[i].num = hp[i];
    if (c->hparams[i].type == TB_HP_CHOICE) v[i].text = c->hparams[i].choices[(int)hp[i]];
    if (c->hparams[i].type == TB_HP_COMPONENT) v[i].text = c->hparams[i].def_text;
  }
}

static void inst_close(inst *in);

/* A wrapper's base loss (the trainer's svc_eval_base in miniature): the
 * wrapper's batch, run by the base with its own state, host_ctx the base. */
static double host_eval_base(void *hctx, int slot, const tb_loss_batch *b) {
  const inst *w = hctx;
  if (!w || !w->base || slot != w->base_slot) return NAN; /* no such base: as a failed run */
  tb_loss_batch bb = *b;
  bb.host_ctx = w->base;
  return tbu_loss_eval(w->base->c->loss, w->base->state, &bb);
}

/* Create `name` for K classes with defaults, overridden by hp_names/hp_vals;
 * a wrapper (a loss with a COMPONENT hyperparameter of kind loss) gets its
 * base first: `base` (NULL: the hyperparameter's default) with the settings
 * b_names/b_vals. */
static int inst_open_base(inst *in, const char *name, int k, int n_hp,
                          const char *const *hp_names, const double *hp_vals, const char *base,
                          int n_bhp, const char *const *b_names, const double *b_vals) {
  memset(in, 0, sizeof *in);
  char err[TB_ERRLEN];
  in->c = tb_registry_find(reg, TB_KIND_LOSS, name);
  if (!in->c) {
    check(0, "open %s: loss not found in '%s'", name, getenv("TB_BUILD_PLUGINS"));
    return -1;
  }
  in->base_slot = -1;
  for (int i = 0; i < in->c->n_hparams; i++)
    if (in->c->hparams[i].type == TB_HP_COMPONENT &&
        in->c->hparams[i].component_kind == TB_KIND_LOSS) {
      in->base_slot = i;
      break;
    }
  if (base && in->base_slot < 0) {
    check(0, "open %s: base '%s' given, but %s has no loss hyperparameter", name, base, name);
    in->c = NULL;
    return -1;
  }
  if (in->base_slot >= 0) {
    const char *bname = base ? base : in->c->hparams[in->base_slot].def_text;
    in->base = malloc(sizeof *in->base);
    if (!in->base ||
        inst_open_base(in->base, bname ? bname : "(none)", k, n_bhp, b_names, b_vals, NULL, 0,
                       NULL, NULL)) {
      check(0, "open %s: cannot create its base '%s'", name, bname ? bname : "(none)");
      free(in->base);
      in->base = NULL;
      in->c = NULL;
      return -1;
    }
  }
  double hp[TB_MAX_HP];
  tb_hparams_defaults(in->c, hp);
  for (int i = 0; i < n_hp; i++) {
    int idx = tb_hparam_index(in->c, hp_names[i]);
    if (idx < 0) {
      check(0, "open %s: no hyperparameter '%s'", name, hp_names[i]);
      in->c = NULL;
      inst_close(in);
      return -1;
    }
    hp[idx] = hp_vals[i];
  }
  if (tb_hparams_check(in->c, hp, -1, err, sizeof err)) {
    check(0, "open %s: %s", name, err);
    in->c = NULL;
    inst_close(in);
    return -1;
  }
  in->k = k;
  in->priors = malloc(sizeof *in->priors * (size_t)k);
  in->counts = malloc(sizeof *in->counts * (size_t)k);
  for (int j = 0; j < k; j++) in->priors[j] = 1.0 / k, in->counts[j] = 10;
  tb_value values[TB_MAX_HP];
  values_of(in->c, hp, values);
  if (in->base) values[in->base_slot].text = in->base->c->name;
  tb_loss_init init = {.host = host, .hp = hp, .values = values, .n_classes = k,
                       .priors = in->priors, .rng = NULL, .class_counts = in->counts,
                       .train_size = 10 * (int64_t)k};
  err[0] = 0;
  if (in->c->loss->create(&init, &in->state, err, sizeof err)) {
    check(0, "open %s: create failed: %s", name, err);
    in->c = NULL;
    inst_close(in);
    return -1;
  }
  return 0;
}

static int inst_open(inst *in, const char *name, int k, int n_hp, const char *const *hp_names,
                     const double *hp_vals) {
  return inst_open_base(in, name, k, n_hp, hp_names, hp_vals, NULL, 0, NULL, NULL);
}

static int inst_open1(inst *in, const char *name, int k, const char *hp_name, double hp_val) {
  return inst_open(in, name, k, hp_name ? 1 : 0, &hp_name, &hp_val);
}

static void inst_close(inst *in) {
  if (in->c && in->c->loss->destroy) in->c->loss->destroy(in->state);
  free(in->priors);
  free(in->counts);
  if (in->base) inst_close(in->base);
  free(in->base);
  memset(in, 0, sizeof *in);
}

/* A training step's batch, through the loss's form (the row loop for the
 * row-wise losses); a wrapper reaches its base through host_eval_base. */
static double inst_eval_k(const inst *in, int n, int k, const double *z, const int32_t *y,
                          const double *t, const double *w, double *dz) {
  tb_loss_batch b = {.n = n, .k = k, .logits = z, .labels = y, .targets = t, .weights = w,
                     .priors = in->priors, .epoch = 0, .n_epochs = 1, .step = 0, .n_steps = 1,
                     .phase = TB_PHASE_TRAIN, .dlogits = dz, .tensor_size = sizeof(tb_tensor),
                     .host_ctx = (void *)in, .eval_base = host_eval_base};
  return tbu_loss_eval(in->c->loss, in->state, &b);
}

static double inst_eval(const inst *in, int n, const double *z, const int32_t *y, const double *t,
                        const double *w, double *dz) {
  return inst_eval_k(in, n, in->k, z, y, t, w, dz);
}

/* ---- the losses and the hyperparameter values exercised ---------------------- */

typedef struct loss_hp {
  const char *loss, *hp; /* hp NULL: defaults only */
  double val;
} loss_hp;

static const loss_hp sweep[] = {
  {"cross_entropy", "label_smoothing", 0},   {"cross_entropy", "label_smoothing", 0.1},
  {"cross_entropy", "label_smoothing", 0.3}, {"cross_entropy", "label_smoothing", 1},
  {"focal", "gamma", 0},                     {"focal", "gamma", 0.5},
  {"focal", "gamma", 1},                     {"focal", "gamma", 2},
  {"focal", "gamma", 5},                     {"brier", NULL, 0},
  {"hinge", "margin", 0},                    {"hinge", "margin", 0.5},
  {"hinge", "margin", 1},                    {"hinge", "margin", 2},
  /* over its default base, cross_entropy: rows clipped hard, some, none */
  {"logit_clip", "delta", 0.5},              {"logit_clip", "delta", 5},
  {"logit_clip", "delta", 1000},
  /* on cosines: the defaults (s 64, m 0.35), no margin, the widest margin,
   * a scale of 1 and a large one */
  {"cosface", NULL, 0},                      {"cosface", "m", 0},
  {"cosface", "m", 1},                       {"cosface", "s", 1},
  {"cosface", "s", 128},
};
#define N_SWEEP ((int)(sizeof sweep / sizeof sweep[0]))

static const char *loss_names[] = {"cross_entropy", "focal", "brier", "hinge", "logit_clip",
                                   "cosface"};
#define N_LOSS_NAMES ((int)(sizeof loss_names / sizeof loss_names[0]))

/* 1 for the losses whose value is unchanged by adding a constant to a row
 * (each gradient row sums to 0): all but logit_clip, whose clip is not. */
static int shift_invariant(const char *loss) { return strcmp(loss, "logit_clip") != 0; }

static void hp_label(char *out, size_t len, const loss_hp *s) {
  if (s->hp)
    snprintf(out, len, "%s %s=%g", s->loss, s->hp, s->val);
  else
    snprintf(out, len, "%s", s->loss);
}

/* ---- descriptors -------------------------------------------------------------- */

static int has_year(const char *s) {
  for (; s && s[0] && s[1] && s[2] && s[3]; s++)
    if ((s[0] == '1' || s[0] == '2') && (s[1] == '9' || s[1] == '0') && s[2] >= '0' &&
        s[2] <= '9' && s[3] >= '0' && s[3] <= '9')
      return 1;
  return 0;
}

static void test_descriptors(void) {
  static const struct {
    const char *loss, *hp;
    double def, min, max;
    uint32_t flags; /* hinge reads the label only (its formula has no target distribution) */
  } want[] = {
    {"cross_entropy", "label_smoothing", 0, 0, 1, TB_LOSS_SOFT_TARGETS},
    {"focal", "gamma", 2, 0, 10, TB_LOSS_SOFT_TARGETS},
    {"brier", NULL, 0, 0, 0, TB_LOSS_SOFT_TARGETS},
    {"hinge", "margin", 1, 0, 100, 0},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_LOSS, want[i].loss);
    if (!c) {
      check(0, "descriptor %s: not found", want[i].loss);
      continue;
    }
    int ok = strcmp(c->version, "1") == 0 && c->summary[0] && has_year(c->reference) &&
             c->services == 0 && c->loss->destroy && !c->loss->eval && c->loss->row &&
             c->loss->flags == want[i].flags && c->loss->requires == 0;
    for (int h = 0; h < c->n_hparams; h++) ok = ok && c->hparams[h].help && c->hparams[h].help[0];
    if (want[i].hp) {
      ok = ok && c->n_hparams == 1 && strcmp(c->hparams[0].name, want[i].hp) == 0 &&
           c->hparams[0].type == TB_HP_REAL && c->hparams[0].def == want[i].def &&
           c->hparams[0].min == want[i].min && c->hparams[0].max == want[i].max;
    } else {
      ok = ok && c->n_hparams == 0;
    }
    check(ok, "descriptor %s: version '%s', services %u, %d hyperparameter(s), reference '%s', "
          "row-wise form%s", c->name, c->version, c->services, c->n_hparams, c->reference,
          c->loss->eval ? " (but eval set)" : c->loss->row ? "" : " missing");
  }
  /* the wrapper: batch form, TB_SERVICE_BASE, a base of kind loss and delta */
  const tb_component *c = tb_registry_find(reg, TB_KIND_LOSS, "logit_clip");
  if (!c) {
    check(0, "descriptor logit_clip: not found");
    return;
  }
  const int ib = tb_hparam_index(c, "base"), id = tb_hparam_index(c, "delta");
  int ok = strcmp(c->version, "1") == 0 && c->summary[0] && has_year(c->reference) &&
           c->services == TB_SERVICE_BASE && c->loss->destroy && c->loss->eval &&
           !c->loss->row && c->loss->flags == TB_LOSS_SOFT_TARGETS && c->loss->requires == 0 &&
           c->n_hparams == 2 && ib >= 0 && id >= 0;
  for (int h = 0; ok && h < c->n_hparams; h++) ok = c->hparams[h].help && c->hparams[h].help[0];
  ok = ok && c->hparams[ib].type == TB_HP_COMPONENT &&
       c->hparams[ib].component_kind == TB_KIND_LOSS && c->hparams[ib].def_text &&
       strcmp(c->hparams[ib].def_text, "cross_entropy") == 0;
  ok = ok && c->hparams[id].type == TB_HP_REAL && c->hparams[id].def == 10 &&
       c->hparams[id].min == 0.1 && c->hparams[id].max == 1000 && c->hparams[id].log_scale;
  check(ok, "descriptor logit_clip: version '%s', services %u, %d hyperparameter(s) (base "
        "component, delta 10 in [0.1, 1000]), reference '%s', batch form%s", c->version,
        c->services, c->n_hparams, c->reference, c->loss->row ? " (but row set)" : "");

  /* cosface: row form, label only, requires a cosine head and reports s */
  c = tb_registry_find(reg, TB_KIND_LOSS, "cosface");
  if (!c) {
    check(0, "descriptor cosface: not found");
    return;
  }
  const int is = tb_hparam_index(c, "s"), im = tb_hparam_index(c, "m");
  ok = strcmp(c->version, "1") == 0 && c->summary[0] && has_year(c->reference) &&
       c->services == 0 && c->loss->destroy && !c->loss->eval && c->loss->row &&
       c->loss->flags == 0 && c->loss->requires == TB_REQ_COSINE_HEAD && c->loss->head_scale &&
       c->loss->validate && c->n_hparams == 2 && is >= 0 && im >= 0;
  for (int h = 0; ok && h < c->n_hparams; h++) ok = c->hparams[h].help && c->hparams[h].help[0];
  ok = ok && c->hparams[is].type == TB_HP_REAL && c->hparams[is].def == 64 &&
       c->hparams[is].min == 0 && c->hparams[is].max == 1024 && c->hparams[is].log_scale;
  ok = ok && c->hparams[im].type == TB_HP_REAL && c->hparams[im].def == 0.35 &&
       c->hparams[im].min == 0 && c->hparams[im].max == 1;
  check(ok, "descriptor cosface: version '%s', requires %#x (a cosine head), head_scale %s, "
        "s 64 in [0, 1024] log, m 0.35 in [0, 1], reference '%s', row-wise form%s", c->version,
        c->loss->requires, c->loss->head_scale ? "set" : "missing", c->reference,
        c->loss->eval ? " (but eval set)" : c->loss->row ? "" : " missing");
}

/* ---- 1. reference values from PyTorch ---------------------------------------- */

#define REF_RTOL 1e-9
/* Each gradient entry is a difference of terms of size (w_i / N)(p_j + t_j)
 * (p = softmax, t = target): where those cancel (e.g. brier's
 * p_j (g_j - sum_k g_k p_k) at tied logits, truly ~1e-47) both implementations
 * return rounding noise of that size, so the entry also gets REF_ENTRY_ATOL
 * times it. Where p_j is tiny the allowance is tiny too. */
#define REF_ENTRY_ATOL 1e-13
#define REF_MAX_HP 8

typedef struct ref_case {
  char loss[64], id[256];
  int n, k;
  int n_hp;
  char hp_names[REF_MAX_HP][64];
  double hp_vals[REF_MAX_HP];
  char base[64]; /* a wrapper's base loss ("base" line), "" for none */
  int n_bhp;     /* the base's settings ("basehp" lines) */
  char bhp_names[REF_MAX_HP][64];
  double bhp_vals[REF_MAX_HP];
  int32_t *labels;
  double *logits, *targets, *weights, *dlogits;
  double value;
  int have; /* bit mask of the records seen */
} ref_case;

enum { R_LABELS = 1, R_LOGITS = 2, R_TARGETS = 4, R_WEIGHTS = 8, R_LOSS = 16, R_DLOGITS = 32 };

static void ref_free(ref_case *rc) {
  free(rc->labels);
  free(rc->logits);
  free(rc->targets);
  free(rc->weights);
  free(rc->dlogits);
  memset(rc, 0, sizeof *rc);
}

/* Parse exactly `count` numbers from s into out; 0 on success. */
static int parse_reals(const char *s, double *out, int count) {
  char *end;
  for (int i = 0; i < count; i++) {
    out[i] = strtod(s, &end);
    if (end == s) return -1;
    s = end;
  }
  while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
  return *s ? -1 : 0;
}

static double rel_err(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* |a - b| over its tolerance: <= 1 passes; NaN if a is NaN. 1e-300 only lets
 * exact zeros compare. */
static double ref_ratio(double a, double b, double atol) {
  return fabs(a - b) / (REF_RTOL * fabs(b) + atol + 1e-300);
}

/* A case's value of hyperparameter `name`: its `hp` line, else the default. */
static double case_hp(const ref_case *rc, const inst *in, const char *name) {
  for (int h = 0; h < rc->n_hp; h++)
    if (strcmp(rc->hp_names[h], name) == 0) return rc->hp_vals[h];
  const int d = tb_hparam_index(in->c, name);
  return d >= 0 ? in->c->hparams[d].def : NAN;
}

static void ref_run(const ref_case *rc) {
  const char *names[REF_MAX_HP], *bnames[REF_MAX_HP];
  for (int i = 0; i < rc->n_hp; i++) names[i] = rc->hp_names[i];
  for (int i = 0; i < rc->n_bhp; i++) bnames[i] = rc->bhp_names[i];
  inst in;
  if (inst_open_base(&in, rc->loss, rc->k, rc->n_hp, names, rc->hp_vals,
                     rc->base[0] ? rc->base : NULL, rc->n_bhp, bnames, rc->bhp_vals)) {
    check(0, "reference %s %s%s%s: cannot open the loss", rc->loss, rc->id,
          rc->base[0] ? " over " : "", rc->base);
    return;
  }
  const int nk = rc->n * rc->k;
  double *dz = malloc(sizeof *dz * (size_t)nk);
  double v = inst_eval(&in, rc->n, rc->logits, rc->labels, rc->targets, rc->weights, dz);
  const double vratio = ref_ratio(v, rc->value, 0);
  double gratio = 0;
  int wi = 0, wj = 0; /* the worst entry, shown on failure */
  double *p = malloc(sizeof *p * (size_t)rc->k), *zc = malloc(sizeof *zc * (size_t)rc->k);
  double *a = malloc(sizeof *a * (size_t)rc->k);
  const int clip = strcmp(rc->loss, "logit_clip") == 0;
  const int cos = strcmp(rc->loss, "cosface") == 0;
  double delta = 0, cs = 1, cm = 0;
  if (clip) delta = case_hp(rc, &in, "delta");
  if (cos) cs = case_hp(rc, &in, "s"), cm = case_hp(rc, &in, "m");
  for (int i = 0; i < rc->n; i++) {
    const size_t o = (size_t)i * rc->k;
    const double scale = (rc->weights ? rc->weights[i] : 1.0) / rc->n;
    /* logit_clip: the base's allowance at the clipped logits z' = c z, c =
     * delta / ||z|| (or 1), carried through the clip's Jacobian
     * c (I - u u^T), u = z / ||z||: c (a_j + |u_j| sum_m |u_m| a_m). Where g'
     * lies along u (K = 2 and z = (50, -50)) dz is 0 up to that noise. */
    double c = 1, norm = 0, ua = 0;
    for (int j = 0; j < rc->k; j++) norm += rc->logits[o + j] * rc->logits[o + j];
    norm = sqrt(norm);
    if (clip && norm > delta) c = delta / norm;
    for (int j = 0; j < rc->k; j++) zc[j] = rc->logits[o + j] * c;
    /* cosface: the softmax of s (c - m e_y), and its gradient is s times it */
    if (cos)
      for (int j = 0; j < rc->k; j++) zc[j] = cs * (zc[j] - (j == rc->labels[i] ? cm : 0.0));
    host->softmax(p, zc, rc->k);
    for (int j = 0; j < rc->k; j++) {
      const double t = rc->targets ? rc->targets[o + j] : (double)(j == rc->labels[i]);
      a[j] = REF_ENTRY_ATOL * scale * cs * (p[j] + t);
      if (c < 1) ua += fabs(rc->logits[o + j] / norm) * a[j];
    }
    for (int j = 0; j < rc->k; j++) {
      const double atol = c < 1 ? c * (a[j] + fabs(rc->logits[o + j] / norm) * ua) : a[j];
      const double r = ref_ratio(dz[o + j], rc->dlogits[o + j], atol);
      if (!(r <= gratio)) gratio = r, wi = i, wj = j; /* NaN sticks */
    }
  }
  free(zc);
  free(a);
  check(vratio <= 1 && gratio <= 1, "reference %s %s: loss %.17g vs %.17g, worst error/tolerance "
        "%.2g (loss) %.2g (gradient)", rc->loss, rc->id, v, rc->value, vratio, gratio);
  if (!(gratio <= 1))
    printf("     worst: dlogits[%d][%d] = %.17g, reference %.17g\n", wi, wj,
           dz[(size_t)wi * rc->k + wj], rc->dlogits[(size_t)wi * rc->k + wj]);
  free(p);
  free(dz);
  inst_close(&in);
}

static void test_reference(void) {
  char path[4096];
  const char *src = getenv("TB_SOURCE_ROOT");
  snprintf(path, sizeof path, "%s/tests/losses/reference.txt", src ? src : ".");
  FILE *f = fopen(path, "r");
  if (!f) {
    check(0, "reference: cannot open '%s'", path);
    return;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, n_cases = 0, bad = 0;
  int per_loss[N_LOSS_NAMES] = {0};
  ref_case rc;
  memset(&rc, 0, sizeof rc);
  while (!bad && getline(&line, &cap, f) > 0) {
    lineno++;
    if (line[0] == '#' || line[0] == '\n') continue;
    char key[32];
    int off = 0;
    if (sscanf(line, "%31s%n", key, &off) != 1) continue;
    const char *rest = line + off;
    const int nk = rc.n * rc.k;
    if (strcmp(key, "case") == 0) {
      ref_free(&rc);
      if (sscanf(rest, "%63s %255s %d %d", rc.loss, rc.id, &rc.n, &rc.k) != 4 || rc.n < 1 ||
          rc.k < 1)
        bad = 1;
    } else if (strcmp(key, "hp") == 0) {
      if (rc.n_hp >= REF_MAX_HP ||
          sscanf(rest, "%63s %lf", rc.hp_names[rc.n_hp], &rc.hp_vals[rc.n_hp]) != 2)
        bad = 1;
      else
        rc.n_hp++;
    } else if (strcmp(key, "base") == 0) {
      if (rc.base[0] || sscanf(rest, "%63s", rc.base) != 1) bad = 1;
    } else if (strcmp(key, "basehp") == 0) {
      if (!rc.base[0] || rc.n_bhp >= REF_MAX_HP ||
          sscanf(rest, "%63s %lf", rc.bhp_names[rc.n_bhp], &rc.bhp_vals[rc.n_bhp]) != 2)
        bad = 1;
      else
        rc.n_bhp++;
    } else if (strcmp(key, "labels") == 0) {
      double *tmp = malloc(sizeof *tmp * (size_t)rc.n);
      rc.labels = malloc(sizeof *rc.labels * (size_t)rc.n);
      if (parse_reals(rest, tmp, rc.n)) bad = 1;
      for (int i = 0; i < rc.n; i++) rc.labels[i] = (int32_t)tmp[i];
      free(tmp);
      rc.have |= R_LABELS;
    } else if (strcmp(key, "logits") == 0) {
      rc.logits = malloc(sizeof *rc.logits * (size_t)nk);
      bad = parse_reals(rest, rc.logits, nk) != 0;
      rc.have |= R_LOGITS;
    } else if (strcmp(key, "targets") == 0) {
      rc.targets = malloc(sizeof *rc.targets * (size_t)nk);
      bad = parse_reals(rest, rc.targets, nk) != 0;
      rc.have |= R_TARGETS;
    } else if (strcmp(key, "weights") == 0) {
      rc.weights = malloc(sizeof *rc.weights * (size_t)rc.n);
      bad = parse_reals(rest, rc.weights, rc.n) != 0;
      rc.have |= R_WEIGHTS;
    } else if (strcmp(key, "loss") == 0) {
      bad = parse_reals(rest, &rc.value, 1) != 0;
      rc.have |= R_LOSS;
    } else if (strcmp(key, "dlogits") == 0) {
      rc.dlogits = malloc(sizeof *rc.dlogits * (size_t)nk);
      bad = parse_reals(rest, rc.dlogits, nk) != 0;
      rc.have |= R_DLOGITS;
    } else if (strcmp(key, "end") == 0) {
      const int need = R_LABELS | R_LOGITS | R_LOSS | R_DLOGITS;
      if ((rc.have & need) != need) {
        bad = 1;
        break;
      }
      ref_run(&rc);
      for (int i = 0; i < N_LOSS_NAMES; i++)
        if (strcmp(rc.loss, loss_names[i]) == 0) per_loss[i]++;
      n_cases++;
      ref_free(&rc);
    } else {
      bad = 1;
    }
  }
  if (bad) check(0, "reference: '%s' line %d is malformed", path, lineno);
  ref_free(&rc);
  free(line);
  fclose(f);
  /* the file must exercise every loss, so an emptied file cannot pass */
  int enough = !bad;
  for (int i = 0; i < N_LOSS_NAMES; i++) enough = enough && per_loss[i] >= 10;
  check(enough, "reference: %d cases read (cross_entropy %d, focal %d, brier %d, hinge %d, "
        "logit_clip %d, cosface %d)", n_cases, per_loss[0], per_loss[1], per_loss[2],
        per_loss[3], per_loss[4], per_loss[5]);
}

/* ---- random inputs ------------------------------------------------------------- */

enum logit_kind { L_NORMAL, L_ONEHOT, L_EXTREME };
static const char *kind_names[] = {"random", "near-one-hot", "extreme+-50"};

static tb_rng rng;

/* Random labels, then logits of the given kind:
 *   normal:   N(0, 3^2)
 *   onehot:   N(0, 0.1^2) with +12 on the label (on a wrong class every third row)
 *   extreme:  +-50 at random plus U(-0.5, 0.5), so that no two logits tie (the
 *             hinge would otherwise sit on a kink of its max) */
static void make_inputs(int kind, int n, int k, double *z, int32_t *y) {
  for (int i = 0; i < n; i++) y[i] = (int32_t)tb_rng_below(&rng, (uint64_t)k);
  for (int i = 0; i < n; i++) {
    double *row = z + (size_t)i * k;
    for (int j = 0; j < k; j++) {
      if (kind == L_NORMAL)
        row[j] = 3 * tb_rng_normal(&rng);
      else if (kind == L_ONEHOT)
        row[j] = 0.1 * tb_rng_normal(&rng);
      else
        row[j] = (tb_rng_uniform(&rng) < 0.5 ? -50 : 50) + tb_rng_uniform(&rng) - 0.5;
    }
    if (kind == L_ONEHOT) row[i % 3 == 2 ? (y[i] + 1) % k : y[i]] = 12;
    if (kind == L_EXTREME && i == 0) { /* the label alone on top: p_y = 1 - O(e^-100) */
      for (int j = 0; j < k; j++) row[j] = -50 + tb_rng_uniform(&rng) - 0.5;
      row[y[i]] = 50;
    }
  }
}

/* 1 for a loss that reads a cosine head (its logits are cos theta). */
static int reads_cosines(const inst *in) {
  return (in->c->loss->requires & TB_REQ_COSINE_HEAD) != 0;
}

/* 1 for a loss that reads soft targets (TB_LOSS_SOFT_TARGETS). */
static int reads_targets(const char *loss) {
  const tb_component *c = tb_registry_find(reg, TB_KIND_LOSS, loss);
  return c && (c->loss->flags & TB_LOSS_SOFT_TARGETS);
}

/* For a loss that reads a cosine head, make_inputs' logits scaled into
 * [-0.98, 0.98] by their largest |z|, as cosines are (what `trainbench
 * check` feeds such a loss): random, near-one-hot (+12 becomes 0.98) and
 * +-50 keep their shapes. Other losses keep their logits. */
static void as_cosines(const inst *in, double *z, int nk) {
  if (!reads_cosines(in)) return;
  double m = 0;
  for (int i = 0; i < nk; i++) m = fmax(m, fabs(z[i]));
  for (int i = 0; m > 0 && i < nk; i++) z[i] *= 0.98 / m;
}

/* Soft target rows: random positive, normalized; labels become their argmax. */
static void make_targets(int n, int k, double *t, int32_t *y) {
  for (int i = 0; i < n; i++) {
    double *row = t + (size_t)i * k, s = 0;
    for (int j = 0; j < k; j++) s += row[j] = tb_rng_uniform(&rng) * tb_rng_uniform(&rng);
    int best = 0;
    for (int j = 0; j < k; j++) {
      row[j] /= s;
      if (row[j] > row[best]) best = j;
    }
    y[i] = best;
  }
}

/* ---- 2. finite differences ------------------------------------------------------ */

#define FD_H 1e-5
#define FD_RTOL 1e-6
#define FD_ATOL 1e-9 /* times max(1, |L|): rounding of L over 2h */

/* Hinge rows are piecewise linear; central differences are exact unless z +- h
 * crosses a kink: the hinge point (margin + z_m - z_y = 0) or a change of the
 * best other class. One coordinate moving by h moves each of those gaps by at
 * most h (plus rounding), so a row whose gaps both exceed 4h is safe; other
 * rows are skipped. With continuous random logits that is rare (it is printed,
 * and more than a quarter of the rows skipped fails the check). */
static int hinge_row_safe(double margin, const double *z, int k, int y) {
  int m = -1, m2 = -1;
  for (int j = 0; j < k; j++) {
    if (j == y) continue;
    if (m < 0 || z[j] > z[m]) {
      m2 = m;
      m = j;
    } else if (m2 < 0 || z[j] > z[m2]) {
      m2 = j;
    }
  }
  if (m < 0) return 1;
  if (fabs(margin + z[m] - z[y]) <= 4 * FD_H) return 0;
  if (m2 >= 0 && z[m] - z[m2] <= 4 * FD_H) return 0;
  return 1;
}

static void fd_one(const loss_hp *s, int kind, int n, int k, int soft) {
  char label[128];
  hp_label(label, sizeof label, s);
  inst in;
  if (inst_open1(&in, s->loss, k, s->hp, s->val)) return;
  const int nk = n * k;
  double *z = malloc(sizeof *z * (size_t)nk), *dz = malloc(sizeof *dz * (size_t)nk);
  double *t = soft ? malloc(sizeof *t * (size_t)nk) : NULL;
  double *w = n > 1 ? malloc(sizeof *w * (size_t)n) : NULL;
  int32_t *y = malloc(sizeof *y * (size_t)n);
  make_inputs(kind, n, k, z, y);
  as_cosines(&in, z, nk);
  if (soft) make_targets(n, k, t, y);
  for (int i = 0; w && i < n; i++) w[i] = 0.5 + tb_rng_uniform(&rng);
  const double L = inst_eval(&in, n, z, y, t, w, dz);
  const int is_hinge = strcmp(s->loss, "hinge") == 0;
  int ok = isfinite(L), checked = 0, skipped_rows = 0;
  double worst = 0; /* largest error / tolerance */
  for (int i = 0; i < n; i++) {
    if (is_hinge && !hinge_row_safe(s->val, z + (size_t)i * k, k, y[i])) {
      skipped_rows++;
      continue;
    }
    for (int j = 0; j < k; j++) {
      double *zj = &z[(size_t)i * k + j];
      const double z0 = *zj, zp = z0 + FD_H, zm = z0 - FD_H;
      *zj = zp;
      const double lp = inst_eval(&in, n, z, y, t, w, NULL);
      *zj = zm;
      const double lm = inst_eval(&in, n, z, y, t, w, NULL);
      *zj = z0;
      const double fd = (lp - lm) / (zp - zm), an = dz[(size_t)i * k + j];
      const double tol = FD_RTOL * fabs(an) + FD_ATOL * fmax(1, fabs(L));
      const double e = fabs(fd - an) / tol;
      if (!(e <= 1)) ok = 0;
      if (e > worst || isnan(e)) worst = e;
      checked++;
    }
  }
  /* a check that skipped most rows would prove nothing */
  ok = ok && skipped_rows * 4 <= n && checked > 0;
  check(ok, "fd %s, %s logits%s, N=%d K=%d: %d entries, worst error/tolerance %.2g, "
        "%d kink row(s) skipped", label, kind_names[kind], soft ? ", soft targets" : "", n, k,
        checked, worst, skipped_rows);
  free(z);
  free(dz);
  free(t);
  free(w);
  free(y);
  inst_close(&in);
}

static void test_fd(void) {
  static const int ks[] = {2, 10, 100}, ns[] = {1, 7};
  for (int s = 0; s < N_SWEEP; s++)
    for (int kind = 0; kind < 3; kind++)
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++) fd_one(&sweep[s], kind, ns[b], ks[a], 0);
  /* soft targets, where the loss reads them (not hinge, not cosface) */
  for (int s = 0; s < N_SWEEP; s++) {
    if (!reads_targets(sweep[s].loss)) continue;
    for (int kind = 0; kind < 3; kind++) fd_one(&sweep[s], kind, 7, 10, 1);
  }
}

/* ---- 3. finite at extreme logits ---------------------------------------------- */

static void finite_one(const loss_hp *s, int k, double scale) {
  char label[128];
  hp_label(label, sizeof label, s);
  inst in;
  if (inst_open1(&in, s->loss, k, s->hp, s->val)) return;
  enum { N = 7 };
  double *z = malloc(sizeof *z * (size_t)(N * k)), *dz = malloc(sizeof *dz * (size_t)(N * k));
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    y[i] = (int32_t)tb_rng_below(&rng, (uint64_t)k);
    double *row = z + (size_t)i * k;
    for (int j = 0; j < k; j++) {
      switch (i) {
      case 0: case 1: case 2: /* random signs */
        row[j] = tb_rng_uniform(&rng) < 0.5 ? -scale : scale;
        break;
      case 3: /* the label alone on top */
        row[j] = j == y[i] ? scale : -scale;
        break;
      case 4: /* the label alone at the bottom */
        row[j] = j == y[i] ? -scale : scale;
        break;
      case 5: /* all tied */
        row[j] = scale;
        break;
      default: /* alternating */
        row[j] = j % 2 ? scale : -scale;
      }
    }
  }
  const double v = inst_eval(&in, N, z, y, NULL, NULL, dz);
  int ok = isfinite(v);
  double worst_sum = 0;
  for (int i = 0; i < N; i++) {
    double sum = 0, mag = 0;
    for (int j = 0; j < k; j++) {
      const double g = dz[(size_t)i * k + j];
      ok = ok && isfinite(g);
      sum += g;
      mag += fabs(g);
    }
    /* 1/N: the natural scale of a row of d(mean loss)/dz, for rows whose
     * entries are all rounding noise around 0 */
    if (shift_invariant(s->loss) && !(fabs(sum) <= 1e-12 * (mag + 1.0 / N))) ok = 0;
    worst_sum = fmax(worst_sum, fabs(sum));
  }
  check(ok, "finite %s, K=%d, logits +-%g: loss %.6g, gradients finite, max |row sum| %.1e%s",
        label, k, scale, v, worst_sum, shift_invariant(s->loss) ? "" : " (not shift invariant)");
  free(z);
  free(dz);
  inst_close(&in);
}

static void test_finite(void) {
  static const int ks[] = {2, 10, 100};
  static const double scales[] = {50, 1e3};
  for (int s = 0; s < N_SWEEP; s++)
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 2; b++) finite_one(&sweep[s], ks[a], scales[b]);
  /* a cosine-head loss at the cosines' own bounds too: +-1, all tied at 1 */
  for (int s = 0; s < N_SWEEP; s++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_LOSS, sweep[s].loss);
    if (!c || !(c->loss->requires & TB_REQ_COSINE_HEAD)) continue;
    for (int a = 0; a < 3; a++) finite_one(&sweep[s], ks[a], 1);
  }
}

/* ---- 4. weights and value-only calls ---------------------------------------- */

static int close_rel(double a, double b, double rtol) {
  return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)) + 1e-300;
}

static void weights_one(const loss_hp *s) {
  char label[128];
  hp_label(label, sizeof label, s);
  enum { N = 7, K = 10 };
  static const double w[N] = {1, 0, 2.5, 0, 0.3, 1, 0};
  inst in;
  if (inst_open1(&in, s->loss, K, s->hp, s->val)) return;
  double z[N * K], dz[N * K], dz2[N * K], ones[N], single[N], dsingle[N * K];
  int32_t y[N];
  make_inputs(L_NORMAL, N, K, z, y);
  as_cosines(&in, z, N * K);
  for (int i = 0; i < N; i++) ones[i] = 1;

  /* the weighted mean against rows evaluated one at a time */
  const double v = inst_eval(&in, N, z, y, NULL, w, dz);
  double want = 0;
  for (int i = 0; i < N; i++) {
    single[i] = inst_eval(&in, 1, z + i * K, y + i, NULL, NULL, dsingle + i * K);
    want += w[i] * single[i];
  }
  want /= N;
  int ok_mean = close_rel(v, want, 1e-12), ok_rows = 1, ok_zero = 1;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++) {
      if (w[i] == 0)
        ok_zero = ok_zero && dz[i * K + j] == 0;
      else
        ok_rows = ok_rows && close_rel(dz[i * K + j], w[i] / N * dsingle[i * K + j], 1e-12);
    }
  check(ok_mean, "weights %s: mean %.17g = sum_i w_i loss_i / N = %.17g", label, v, want);
  check(ok_rows, "weights %s: gradient rows are w_i / N times the single-row gradient", label);
  check(ok_zero, "weights %s: zero-weight rows get a zero gradient", label);

  /* zero-weight rows contribute nothing, whatever their logits */
  double z2[N * K];
  memcpy(z2, z, sizeof z);
  for (int i = 0; i < N; i++)
    if (w[i] == 0)
      for (int j = 0; j < K; j++) z2[i * K + j] = j % 2 ? NAN : 1e300;
  const double v2 = inst_eval(&in, N, z2, y, NULL, w, dz2);
  check(v2 == v && memcmp(dz, dz2, sizeof dz) == 0,
        "weights %s: NaN/huge logits in zero-weight rows change nothing (%.17g vs %.17g)", label,
        v2, v);

  /* value only */
  const double v3 = inst_eval(&in, N, z, y, NULL, w, NULL);
  check(v3 == v, "weights %s: dlogits NULL gives the same value (%.17g vs %.17g)", label, v3, v);

  /* weights NULL = all ones */
  const double va = inst_eval(&in, N, z, y, NULL, NULL, dz);
  const double vb = inst_eval(&in, N, z, y, NULL, ones, dz2);
  check(va == vb && memcmp(dz, dz2, sizeof dz) == 0,
        "weights %s: weights NULL equals all-ones weights (%.17g vs %.17g)", label, va, vb);
  inst_close(&in);
}

static void test_weights(void) {
  for (int s = 0; s < N_SWEEP; s++) weights_one(&sweep[s]);
}

/* ---- exact cases ---------------------------------------------------------------- */

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* K = 2, label 0, z = (t, 0): p_0 = sigmoid(t) -> 1, u = 1 - p_0 = sigmoid(-t).
 *   focal: loss = u^gamma softplus(-t),
 *          dloss/dz_0 = -u^gamma (gamma sigmoid(t) softplus(-t) + u) = -dloss/dz_1
 *   brier: loss = 2 u^2, dloss/dz_0 = -4 u^2 sigmoid(t) = -dloss/dz_1
 * These tiny numbers are where 1 - p_y would cancel to 0. */
static void test_tails(void) {
  static const double ts[] = {1, 5, 20, 40, 100, 300, 700};
  static const double gammas[] = {0, 0.5, 1, 2, 5};
  const int32_t y = 0;
  for (size_t g = 0; g < sizeof gammas / sizeof gammas[0]; g++) {
    inst in;
    if (inst_open1(&in, "focal", 2, "gamma", gammas[g])) return;
    int ok = 1;
    double worst = 0;
    for (size_t a = 0; a < sizeof ts / sizeof ts[0]; a++) {
      const double t = ts[a], z[2] = {t, 0};
      double dz[2];
      const double u = sigmoid(-t), ug = pow(u, gammas[g]);
      const double want = ug * softplus(-t);
      const double dwant = -ug * (gammas[g] * sigmoid(t) * softplus(-t) + u);
      const double v = inst_eval(&in, 1, z, &y, NULL, NULL, dz);
      ok = ok && close_rel(v, want, 1e-12) && close_rel(dz[0], dwant, 1e-12) &&
           close_rel(dz[1], -dwant, 1e-12);
      if (want > 1e-300) worst = fmax(worst, rel_err(v, want));
      if (fabs(dwant) > 1e-300) worst = fmax(worst, rel_err(dz[0], dwant));
    }
    check(ok, "exact focal gamma=%g: tail p_y -> 1 (z_y - z_other = 1..700) matches the closed "
          "form, max rel err %.1e", gammas[g], worst);
    inst_close(&in);
  }
  inst in;
  if (inst_open1(&in, "brier", 2, NULL, 0)) return;
  int ok = 1;
  double worst = 0;
  for (size_t a = 0; a < sizeof ts / sizeof ts[0]; a++) {
    const double t = ts[a], z[2] = {t, 0};
    double dz[2];
    const double u = sigmoid(-t), want = 2 * u * u, dwant = -4 * u * u * sigmoid(t);
    const double v = inst_eval(&in, 1, z, &y, NULL, NULL, dz);
    ok = ok && close_rel(v, want, 1e-12) && close_rel(dz[0], dwant, 1e-12) &&
         close_rel(dz[1], -dwant, 1e-12);
    if (want > 1e-300) worst = fmax(worst, rel_err(v, want));
    if (fabs(dwant) > 1e-300) worst = fmax(worst, rel_err(dz[0], dwant));
  }
  check(ok, "exact brier: tail p_y -> 1 matches the closed form, max rel err %.1e", worst);
  inst_close(&in);
}

/* focal with gamma = 0 is cross_entropy; soft one-hot targets equal labels. */
static void test_equivalences(void) {
  enum { N = 7, K = 10 };
  for (int kind = 0; kind < 3; kind++) {
    inst f, c;
    if (inst_open1(&f, "focal", K, "gamma", 0)) return;
    if (inst_open1(&c, "cross_entropy", K, NULL, 0)) return;
    double z[N * K], df[N * K], dc[N * K];
    int32_t y[N];
    make_inputs(kind, N, K, z, y);
    const double vf = inst_eval(&f, N, z, y, NULL, NULL, df);
    const double vc = inst_eval(&c, N, z, y, NULL, NULL, dc);
    int ok = fabs(vf - vc) <= 1e-12 * fabs(vc) + 1e-13;
    for (int j = 0; j < N * K; j++) ok = ok && fabs(df[j] - dc[j]) <= 1e-12 * fabs(dc[j]) + 1e-15;
    check(ok, "exact focal gamma=0 equals cross_entropy on %s logits (%.17g vs %.17g)",
          kind_names[kind], vf, vc);
    inst_close(&f);
    inst_close(&c);
  }
  for (int l = 0; l < 3; l++) { /* the losses that read soft targets */
    inst in;
    if (inst_open1(&in, loss_names[l], K, NULL, 0)) return;
    double z[N * K], t[N * K], da[N * K], db[N * K];
    int32_t y[N];
    make_inputs(L_NORMAL, N, K, z, y);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < K; j++) t[i * K + j] = j == y[i];
    const double va = inst_eval(&in, N, z, y, NULL, NULL, da);
    const double vb = inst_eval(&in, N, z, y, t, NULL, db);
    int ok = close_rel(va, vb, 1e-14);
    for (int j = 0; j < N * K; j++) ok = ok && fabs(da[j] - db[j]) <= 1e-15;
    check(ok, "exact %s: one-hot soft targets equal integer labels", loss_names[l]);
    inst_close(&in);
  }
  /* label_smoothing = 1: the target is uniform whatever the label */
  {
    inst in;
    if (inst_open1(&in, "cross_entropy", K, "label_smoothing", 1)) return;
    double z[N * K];
    int32_t y[N];
    make_inputs(L_NORMAL, N, K, z, y);
    double want = 0;
    for (int i = 0; i < N; i++) {
      const double lse = host->logsumexp(z + i * K, K);
      for (int j = 0; j < K; j++) want -= (z[i * K + j] - lse) / K;
    }
    want /= N;
    const double v = inst_eval(&in, N, z, y, NULL, NULL, NULL);
    check(close_rel(v, want, 1e-12), "exact cross_entropy label_smoothing=1: mean -log p over "
          "all classes / K (%.17g vs %.17g)", v, want);
    inst_close(&in);
  }
}

/* Hinge: ties of the best other class go to the lowest index; at the hinge
 * point the loss and the subgradient are 0. */
static void test_hinge_exact(void) {
  inst in;
  if (inst_open1(&in, "hinge", 4, "margin", 1)) return;
  enum { N = 3, K = 4 };
  const double z[N * K] = {
    1, 3, 3, 0,   /* label 0: classes 1 and 2 tie at 3 -> class 1, loss 1 + 3 - 1 = 3 */
    2, 1, 0, 1,   /* label 0: margin + 1 - 2 = 0, the hinge point -> loss 0, gradient 0 */
    5, 7, -1, 7,  /* label 2: classes 1 and 3 tie at 7 -> class 1, loss 1 + 7 + 1 = 9 */
  };
  const int32_t y[N] = {0, 0, 2};
  const double want_dz[N * K] = {
    -1.0 / 3, 1.0 / 3, 0, 0,
    0, 0, 0, 0,
    0, 1.0 / 3, -1.0 / 3, 0,
  };
  double dz[N * K];
  const double v = inst_eval(&in, N, z, y, NULL, NULL, dz);
  int ok = v == 4; /* (3 + 0 + 9) / 3 */
  for (int j = 0; j < N * K; j++) ok = ok && dz[j] == want_dz[j];
  check(ok, "exact hinge: ties pick the lowest index, hinge point has loss and gradient 0 "
        "(loss %.17g, want 4)", v);
  /* a batch of another K than create's is refused with NaN, not read out of bounds */
  check(isnan(inst_eval_k(&in, 1, 3, z, y, NULL, NULL, NULL)), "exact hinge: a batch with K=3 "
        "on a K=4 state returns NaN");
  inst_close(&in);
}

/* logit_clip: with delta above every row's norm it is its base, bit for bit;
 * below, the base at delta z / ||z||; nested, the smaller bound; without a
 * base (eval_base NULL, or a host that has none) NaN, not a crash. */
static void test_logit_clip_exact(void) {
  enum { N = 7, K = 10 };
  static const double w[N] = {1, 0, 2.5, 0.5, 0.3, 1, 2};
  static const struct {
    const char *base, *hp;
    double val;
  } bases[] = {{"cross_entropy", NULL, 0}, {"cross_entropy", "label_smoothing", 0.1},
               {"focal", "gamma", 2}, {"hinge", "margin", 1}, {"brier", NULL, 0}};
  for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
    const char *bhp = bases[bi].hp;
    const double bval = bases[bi].val;
    const char *dname = "delta";
    for (int kind = 0; kind < 3; kind++) {
      inst base, wide, tight;
      if (inst_open1(&base, bases[bi].base, K, bhp, bval)) return;
      const double big = 1000, small = 0.5;
      if (inst_open_base(&wide, "logit_clip", K, 1, &dname, &big, bases[bi].base, bhp ? 1 : 0,
                         &bhp, &bval)) {
        inst_close(&base);
        return;
      }
      if (inst_open_base(&tight, "logit_clip", K, 1, &dname, &small, bases[bi].base,
                         bhp ? 1 : 0, &bhp, &bval)) {
        inst_close(&base);
        inst_close(&wide);
        return;
      }
      double z[N * K], zc[N * K], da[N * K], db[N * K];
      int32_t y[N];
      make_inputs(kind, N, K, z, y);
      /* every row's norm is below 1000 (at most 50.5 sqrt(10)) */
      const double va = inst_eval(&wide, N, z, y, NULL, w, da);
      const double vb = inst_eval(&base, N, z, y, NULL, w, db);
      check(va == vb && memcmp(da, db, sizeof da) == 0,
            "exact logit_clip delta=1000 over %s%s%s, %s logits: the base bit for bit "
            "(%.17g vs %.17g)", bases[bi].base, bhp ? " " : "", bhp ? bhp : "", kind_names[kind],
            va, vb);
      /* every row's norm is above 0.5: the base at 0.5 z / ||z|| */
      int all_clipped = 1;
      for (int i = 0; i < N; i++) {
        double ss = 0;
        for (int j = 0; j < K; j++) ss += z[i * K + j] * z[i * K + j];
        all_clipped = all_clipped && sqrt(ss) > small;
        for (int j = 0; j < K; j++) zc[i * K + j] = z[i * K + j] * (small / sqrt(ss));
      }
      const double vt = inst_eval(&tight, N, z, y, NULL, w, NULL);
      const double vc = inst_eval(&base, N, zc, y, NULL, w, NULL);
      check(all_clipped && close_rel(vt, vc, 1e-13),
            "exact logit_clip delta=0.5 over %s%s%s, %s logits: the base at 0.5 z / ||z|| "
            "(%.17g vs %.17g)", bases[bi].base, bhp ? " " : "", bhp ? bhp : "", kind_names[kind],
            vt, vc);
      inst_close(&base);
      inst_close(&wide);
      inst_close(&tight);
    }
  }
  /* nested: clip(clip(z, 2), 5) = clip(z, 2), the gradient too */
  {
    const char *dname = "delta";
    const double d5 = 5, d2 = 2;
    inst outer, inner;
    if (inst_open_base(&outer, "logit_clip", K, 1, &dname, &d5, "logit_clip", 1, &dname, &d2))
      return;
    if (inst_open1(&inner, "logit_clip", K, "delta", 2)) {
      inst_close(&outer);
      return;
    }
    double z[N * K], da[N * K], db[N * K];
    int32_t y[N];
    make_inputs(L_NORMAL, N, K, z, y);
    const double va = inst_eval(&outer, N, z, y, NULL, w, da);
    const double vb = inst_eval(&inner, N, z, y, NULL, w, db);
    int ok = close_rel(va, vb, 1e-13);
    for (int j = 0; j < N * K; j++) ok = ok && fabs(da[j] - db[j]) <= 1e-13 * fabs(db[j]) + 1e-17;
    check(ok, "exact logit_clip delta=5 over logit_clip delta=2 equals logit_clip delta=2 "
          "(%.17g vs %.17g)", va, vb);
    inst_close(&outer);
    inst_close(&inner);
  }
  /* no base: NaN, whether the host lacks the service or has no base to run */
  {
    inst in;
    if (inst_open1(&in, "logit_clip", K, NULL, 0)) return;
    double z[N * K], dz[N * K];
    int32_t y[N];
    make_inputs(L_NORMAL, N, K, z, y);
    inst nobase = in;
    nobase.base = NULL;
    tb_loss_batch b = {.n = N, .k = K, .logits = z, .labels = y, .priors = in.priors,
                       .n_epochs = 1, .n_steps = 1, .phase = TB_PHASE_TRAIN, .dlogits = dz,
                       .tensor_size = sizeof(tb_tensor), .host_ctx = &nobase,
                       .eval_base = host_eval_base};
    const double v1 = tbu_loss_eval(in.c->loss, in.state, &b);
    b.eval_base = NULL;
    b.host_ctx = NULL;
    const double v2 = tbu_loss_eval(in.c->loss, in.state, &b);
    check(isnan(v1) && isnan(v2), "exact logit_clip without a base returns NaN (a host with no "
          "base: %g, no eval_base service: %g)", v1, v2);
    inst_close(&in);
  }
}

/* cosface with s and m set (the others at their defaults). */
static int cosface_open(inst *in, int k, double sv, double mv) {
  static const char *const names[] = {"s", "m"};
  const double vals[] = {sv, mv};
  return inst_open(in, "cosface", k, 2, names, vals);
}

/* cosface: K = 2, label 0, cosines (a, b), z = (s (a - m), s b), x = z_1 - z_0:
 *   loss = softplus(x),  dloss/dc_0 = -s sigmoid(x) = -dloss/dc_1,
 * into the tail (x down to -2048 at s = 1024, where the answer underflows)
 * where -log p_y and p_y - 1 computed directly round to 0. Then: m = 0 is
 * cross_entropy of s c (its gradient times s); head_scale is s, whatever
 * batch->scale says; s = 0 is refused; a bad label or K gives NaN. */
static void test_cosface_exact(void) {
  static const double ss[] = {1, 30, 64, 128, 1024}, ms[] = {0, 0.35, 1};
  static const double cs[][2] = {{1, -1}, {0.9, -0.9}, {0.7, 0.2}, {0.5, 0.5}, {0.1, 0.3},
                                 {-0.4, 0.6}, {-1, 1}, {0.3, 0.65}};
  const int32_t y = 0;
  for (size_t a = 0; a < sizeof ss / sizeof ss[0]; a++) {
    int ok = 1, tail = 0;
    double worst = 0;
    for (size_t b = 0; b < sizeof ms / sizeof ms[0]; b++) {
      inst in;
      if (cosface_open(&in, 2, ss[a], ms[b])) return;
      for (size_t e = 0; e < sizeof cs / sizeof cs[0]; e++) {
        const double x = ss[a] * cs[e][1] - ss[a] * (cs[e][0] - ms[b]);
        const double want = softplus(x), dwant = -ss[a] * sigmoid(x);
        double dz[2];
        const double v = inst_eval(&in, 1, cs[e], &y, NULL, NULL, dz);
        ok = ok && close_rel(v, want, 1e-12) && close_rel(dz[0], dwant, 1e-12) &&
             close_rel(dz[1], -dwant, 1e-12);
        if (want > 1e-300) worst = fmax(worst, rel_err(v, want));
        if (fabs(dwant) > 1e-300) worst = fmax(worst, rel_err(dz[0], dwant));
        tail += want > 0 && want < 1e-16;
      }
      inst_close(&in);
    }
    check(ok && (ss[a] < 30 || tail > 0), "exact cosface s=%g, m=0,0.35,1: K=2 loss "
          "softplus(s (c_1 - c_0 + m)) and gradient -+s sigmoid(.), %d value(s) below 1e-16, "
          "max rel err %.1e", ss[a], tail, worst);
  }

  /* m = 0: cross_entropy of s c, gradient s times cross_entropy's */
  enum { N = 7, K = 10 };
  for (size_t a = 0; a < sizeof ss / sizeof ss[0]; a += 2) {
    for (int kind = 0; kind < 3; kind++) {
      inst cf, ce;
      if (cosface_open(&cf, K, ss[a], 0)) return;
      if (inst_open1(&ce, "cross_entropy", K, NULL, 0)) return;
      double c[N * K], z[N * K], dcf[N * K], dce[N * K];
      int32_t yy[N];
      make_inputs(kind, N, K, c, yy);
      as_cosines(&cf, c, N * K);
      for (int j = 0; j < N * K; j++) z[j] = ss[a] * c[j];
      const double vf = inst_eval(&cf, N, c, yy, NULL, NULL, dcf);
      const double vc = inst_eval(&ce, N, z, yy, NULL, NULL, dce);
      /* 1e-15 s: where p_y rounds to 1, cross_entropy's p_y - 1 is 0 or
       * rounding noise, cosface's -u the true tiny value */
      int ok = fabs(vf - vc) <= 1e-12 * fabs(vc) + 1e-13;
      double worst = 0; /* error / tolerance */
      for (int j = 0; j < N * K; j++) {
        const double want = ss[a] * dce[j];
        const double e = fabs(dcf[j] - want) / (1e-12 * fabs(want) + 1e-15 * ss[a]);
        ok = ok && e <= 1;
        worst = fmax(worst, e);
      }
      check(ok, "exact cosface m=0 s=%g equals cross_entropy of s c on %s cosines (%.17g vs "
            "%.17g; gradient s times, worst error/tolerance %.2g)", ss[a], kind_names[kind], vf,
            vc, worst);
      inst_close(&cf);
      inst_close(&ce);
    }
  }

  /* head_scale: s, whatever batch->scale says, which the loss does not read */
  {
    int ok = 1;
    double c[N * K];
    int32_t yy[N];
    make_inputs(L_NORMAL, N, K, c, yy);
    for (size_t a = 0; a < sizeof ss / sizeof ss[0]; a++) {
      inst in;
      if (cosface_open(&in, K, ss[a], 0.35)) return;
      as_cosines(&in, c, N * K);
      tb_loss_batch b = {.n = N, .k = K, .logits = c, .labels = yy, .priors = in.priors,
                         .n_epochs = 1, .n_steps = 1, .phase = TB_PHASE_TRAIN,
                         .tensor_size = sizeof(tb_tensor), .scale = 0};
      const double h0 = in.c->loss->head_scale(in.state, &b), v0 = tbu_loss_eval(in.c->loss,
                                                                                   in.state, &b);
      b.scale = 7;
      const double h7 = in.c->loss->head_scale(in.state, &b), v7 = tbu_loss_eval(in.c->loss,
                                                                                   in.state, &b);
      ok = ok && h0 == ss[a] && h7 == ss[a] && v0 == v7;
      inst_close(&in);
    }
    check(ok, "exact cosface: head_scale is s (1 to 1024), and batch->scale changes nothing");
  }

  /* s = 0 is no scale: refused by validate and by create; bad rows give NaN */
  {
    const tb_component *c = tb_registry_find(reg, TB_KIND_LOSS, "cosface");
    if (!c) return;
    double hp[TB_MAX_HP];
    tb_hparams_defaults(c, hp);
    hp[tb_hparam_index(c, "s")] = 0;
    tb_value values[TB_MAX_HP];
    values_of(c, hp, values);
    char verr[TB_ERRLEN] = "", cerr[TB_ERRLEN] = "";
    const int vr = c->loss->validate(values, K, verr, sizeof verr);
    tb_loss_init init = {.host = host, .hp = hp, .values = values, .n_classes = K};
    void *state = NULL;
    const int cr = c->loss->create(&init, &state, cerr, sizeof cerr);
    if (!cr && c->loss->destroy) c->loss->destroy(state);
    check(vr && cr && strstr(verr, "'s'") && strstr(cerr, "'s'"),
          "exact cosface: s = 0 refused by validate ('%s') and create ('%s')", verr, cerr);

    inst in;
    if (cosface_open(&in, 3, 64, 0.35)) return;
    const double cz[3] = {0.1, 0.2, 0.3};
    const int32_t bad[2] = {3, -1};
    check(isnan(inst_eval(&in, 1, cz, &bad[0], NULL, NULL, NULL)) &&
          isnan(inst_eval(&in, 1, cz, &bad[1], NULL, NULL, NULL)) &&
          isnan(inst_eval_k(&in, 1, 2, cz, &y, NULL, NULL, NULL)),
          "exact cosface: a label out of range, or a batch with K=2 on a K=3 state, returns NaN");
    inst_close(&in);
  }
}

int main(void) {
  char err[TB_ERRLEN];
  const char *dir = getenv("TB_BUILD_PLUGINS");
  if (!dir) {
    fprintf(stderr, "test_losses: TB_BUILD_PLUGINS is not set\n");
    return 1;
  }
  host = tb_host_api_get();
  tb_rng_init(&rng, 20240611, "test_losses");
  if (tb_registry_open(&reg, dir, err, sizeof err)) {
    fprintf(stderr, "test_losses: %s\n", err);
    tb_registry_close(reg);
    return 1;
  }
  for (int i = 0; i < tb_registry_problem_count(reg); i++)
    printf("note: %s\n", tb_registry_problem(reg, i));

  test_descriptors();
  test_reference();
  test_fd();
  test_finite();
  test_weights();
  test_tails();
  test_equivalences();
  test_hinge_exact();
  test_logit_clip_exact();
  test_cosface_exact();

  tb_registry_close(reg);
  printf("%d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
