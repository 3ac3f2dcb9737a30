/*
 * builtin.c — the components built into the core, described by the same
 * hyperparameter tables as plugins and checked by the same validator
 * (hparam.c): the datasets — digits, breast_cancer, iris, wine (shipped:
 * split, standardize, split_seed), csv (also path, label, header) and blobs
 * (also n, classes, dim, separation) — and the models — linear (init, head)
 * and mlp (hidden, activation, init, head); and how an instance of each becomes the
 * spec data.c and model.c read. The tables live here rather than beside
 * the code that loads data and runs models so that the registry (and every
 * tool that links it, the loader's tests included) needs neither zlib nor
 * BLAS to know them.
 *
 * Provides: tb_dataset_components, tb_data_spec_from, tb_data_prepare,
 * tb_model_components, tb_model_spec_from.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

/* ---- the dataset components ------------------------------------------------ */

static const char *const split_fields[] = {"train", "val", "test", NULL};
static const double split_default[3] = {0.6, 0.2, 0.2};

#define HP_SPLIT                                                                            \
  {.name = "split", .type = TB_HP_RECORD, .min = 0, .max = 1, .choices = split_fields,    \
   .def_list = split_default, .def_n = 3,                                                   \
   .help = "fractions of the rows (stratified by class); val and test may be 0"}
#define HP_STANDARDIZE                                                                      \
  {.name = "standardize", .type = TB_HP_BOOL, .def = 1, .min = 0, .max = 1,               \
   .help = "center and scale each feature on the training split (constant ones become 0)"}
#define HP_SPLIT_SEED                                                                       \
  {.name = "split_seed", .type = TB_HP_INT, .min = -TB_HP_INT_LIMIT, .max = TB_HP_INT_LIMIT, \
   .flags = TB_HPF_OPTIONAL,                                                                \
   .help = "fixes the split across seeds (absent: each seed splits its own way)"}

/* The fractions sum to 1 and the training split is not empty. split is
 * hyperparameter `at` of the table. */
static int check_split(const tb_value *v, int at, char *err, size_t errlen) {
  const double *f = v[at].list;
  if (!f || v[at].n != 3) return 0; /* the value check says what is wrong */
  if (f[0] == 0) {
    tb_errf(err, errlen, "'split.train' must be > 0");
    return -1;
  }
  double sum = f[0] + f[1] + f[2];
  if (fabs(sum - 1) > 1e-9) {
    char t[4][64];
    tb_fmt_real(t[0], sizeof t[0], sum);
    for (int i = 0; i < 3; i++) tb_fmt_real(t[i + 1], sizeof t[i + 1], f[i]);
    tb_errf(err, errlen, "'split' fractions must sum to 1, got %s (train %s + val %s + test %s)",
            t[0], t[1], t[2], t[3]);
    return -1;
  }
  return 0;
}

static const tb_hparam shipped_hp[] = {HP_SPLIT, HP_STANDARDIZE, HP_SPLIT_SEED};
static int shipped_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  return check_split(v, 0, err, errlen);
}

enum { CSV_PATH, CSV_LABEL, CSV_HEADER, CSV_SPLIT, CSV_STANDARDIZE, CSV_SPLIT_SEED, CSV_N };
static const tb_hparam csv_hp[CSV_N] = {
    [CSV_PATH] = {.name = "path", .type = TB_HP_STRING,
                  .flags = TB_HPF_REQUIRED | TB_HPF_NOT_IDENTITY,
                  .help = "the CSV file (.gz too), relative to the script; its content hash, "
                          "not its path, is part of a run's identity"},
    [CSV_LABEL] = {.name = "label", .type = TB_HP_INT, .min = 1, .max = INT32_MAX,
                   .flags = TB_HPF_OPTIONAL,
                   .help = "1-based column of the label (absent: the last)"},
    [CSV_HEADER] = {.name = "header", .type = TB_HP_BOOL, .def = 1, .min = 0, .max = 1,
                    .help = "the first line names the columns"},
    [CSV_SPLIT] = HP_SPLIT,
    [CSV_STANDARDIZE] = HP_STANDARDIZE,
    [CSV_SPLIT_SEED] = HP_SPLIT_SEED,
};
static int csv_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  return check_split(v, CSV_SPLIT, err, errlen);
}

enum { BL_N, BL_CLASSES, BL_DIM, BL_SEPARATION, BL_SPLIT, BL_STANDARDIZE, BL_SPLIT_SEED, BL_NH };
static const tb_hparam blobs_hp[BL_NH] = {
    [BL_N] = {.name = "n", .type = TB_HP_INT, .def = 600, .min = 1, .max = INT32_MAX,
              .help = "rows (classes take turns: balanced)"},
    [BL_CLASSES] = {.name = "classes", .type = TB_HP_INT, .def = 3, .min = 2, .max = INT32_MAX,
                    .help = "Gaussian classes"},
    [BL_DIM] = {.name = "dim", .type = TB_HP_INT, .def = 2, .min = 1, .max = INT32_MAX,
                .help = "features"},
    [BL_SEPARATION] = {.name = "separation", .type = TB_HP_REAL, .def = 3, .min = 0,
                       .max = DBL_MAX,
                       .help = "standard deviation of the class centers (the classes' own is 1)"},
    [BL_SPLIT] = HP_SPLIT,
    [BL_STANDARDIZE] = HP_STANDARDIZE,
    [BL_SPLIT_SEED] = HP_SPLIT_SEED,
};
static int blobs_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  const double n = v[BL_N].num, classes = v[BL_CLASSES].num, dim = v[BL_DIM].num;
  if (n < classes) {
    tb_errf(err, errlen, "'n' = %.0f must be at least 'classes' = %.0f", n, classes);
    return -1;
  }
  if (n * dim > (double)TB_MAX_DATA_VALUES) {
    tb_errf(err, errlen, "'n' x 'dim' = %.0f x %.0f = %.0f values, more than the limit of %lld",
            n, dim, n * dim, (long long)TB_MAX_DATA_VALUES);
    return -1;
  }
  return check_split(v, BL_SPLIT, err, errlen);
}

#define SHIPPED(name_, summary_, reference_)                                                \
  {.kind = TB_KIND_DATASET, .name = name_, .version = "1", .summary = summary_,             \
   .reference = reference_, .hparams = (tb_hparam *)shipped_hp, .n_hparams = 3,            \
   .validate = shipped_validate}

static const tb_component dataset_defs[] = {
    SHIPPED("digits", "8x8 handwritten digits: 1797 rows, 64 features, 10 classes",
            "UCI Optical Recognition of Handwritten Digits (test set version), CC BY 4.0"),
    SHIPPED("breast_cancer", "breast cancer diagnosis: 569 rows, 30 features, 2 classes",
            "UCI Breast Cancer Wisconsin (Diagnostic), CC BY 4.0"),
    SHIPPED("iris", "iris flowers: 150 rows, 4 features, 3 classes", "UCI Iris, CC BY 4.0"),
    SHIPPED("wine", "wine cultivars: 178 rows, 13 features, 3 classes", "UCI Wine, CC BY 4.0"),
    {.kind = TB_KIND_DATASET, .name = "csv", .version = "1",
     .summary = "a CSV file of numeric features and a label column",
     .reference = "the file's own", .hparams = (tb_hparam *)csv_hp, .n_hparams = CSV_N,
     .validate = csv_validate},
    {.kind = TB_KIND_DATASET, .name = "blobs", .version = "1",
     .summary = "Gaussian classes around random centers, fixed by their parameters",
     .reference = "synthetic (isotropic Gaussian blobs, as scikit-learn's make_blobs)",
     .hparams = (tb_hparam *)blobs_hp, .n_hparams = BL_NH, .validate = blobs_validate},
};
#define N_DATASETS (int)(sizeof dataset_defs / sizeof *dataset_defs)

const tb_component *const *tb_dataset_components(int *n) {
  static const tb_component *list[N_DATASETS];
  if (!list[0])
    for (int i = 0; i < N_DATASETS; i++) list[i] = &dataset_defs[i];
  *n = N_DATASETS;
  return list;
}

int tb_data_spec_from(const tb_instance *in, tb_data_spec *d, char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  const tb_component *c = in->comp;
  snprintf(d->name, sizeof d->name, "%s", c->name);
  d->label_col = -1;
  const tb_value *split = tb_instance_value(in, "split");
  for (int i = 0; i < 3 && split && split->list && split->n == 3; i++) d->split[i] = split->list[i];
  d->standardize = tb_instance_num(in, "standardize") != 0;
  double seed = tb_instance_num(in, "split_seed");
  d->has_split_seed = !isnan(seed);
  d->split_seed = d->has_split_seed ? (int64_t)seed : 0;
  if (strcmp(c->name, "csv") == 0) {
    const tb_value *path = tb_instance_value(in, "path");
    if (!path || !path->text || strlen(path->text) >= sizeof d->path) {
      tb_errf(err, errlen, "'path' is longer than %zu bytes", sizeof d->path - 1);
      return -1;
    }
    snprintf(d->path, sizeof d->path, "%s", path->text);
    double label = tb_instance_num(in, "label");
    d->label_col = isnan(label) ? -1 : (int)label - 1;
    d->header = tb_instance_num(in, "header") != 0;
  } else if (strcmp(c->name, "blobs") == 0) {
    d->n = (int)tb_instance_num(in, "n");
    d->classes = (int)tb_instance_num(in, "classes");
    d->dim = (int)tb_instance_num(in, "dim");
    d->separation = tb_instance_num(in, "separation");
  }
  return 0;
}

int tb_data_prepare(tb_instance *in, const char *base_dir, char *err, size_t errlen) {
  if (strcmp(in->comp->name, "csv") != 0) return 0;
  const tb_value *v = tb_instance_value(in, "path");
  if (!v || !v->text) return 0; /* missing: tb_instance_check says so */
  const char *p = v->text;
  if (!*p) {
    tb_errf(err, errlen, "'path' must be a file name, got ''");
    return -1;
  }
  char *full = NULL;
  if (p[0] == '/' || !base_dir) {
    full = strdup(p);
  } else {
    full = malloc(strlen(base_dir) + strlen(p) + 2);
    if (full) sprintf(full, "%s/%s", base_dir, p);
  }
  if (!full) abort();
  char *real = realpath(full, NULL);
  if (!real) {
    tb_errf(err, errlen, "'path' = '%s': cannot open %s: %s", p, full, strerror(errno));
    free(full);
    return -1;
  }
  free(full);
  int rc = tb_instance_set_text(in, "path", real, err, errlen);
  free(real);
  return rc;
}

/* ---- the model components ----------------------------------------------------- */

/* Options in the order of enum tb_init, enum tb_activation and enum tb_head (from 1). */
static const char *const init_options[] = {"default", "zeros", "he", "glorot", NULL};
static const char *const activation_options[] = {"relu", "tanh", "gelu", NULL};
static const char *const head_options[] = {"linear", "cosine", NULL};

#define HP_INIT                                                                              \
  {.name = "init", .type = TB_HP_CHOICE, .def = 0, .choices = init_options,                 \
   .help = "default: PyTorch's nn.Linear (uniform +-1/sqrt(fan_in)); zeros; he, glorot: "   \
           "uniform, zero biases"}
/* Last in both tables: a hyperparameter added at the end, whose default
 * reproduces the old numbers, moves no existing run's identity. */
#define HP_HEAD                                                                              \
  {.name = "head", .type = TB_HP_CHOICE, .def = 0, .choices = head_options,                 \
   .help = "the output layer: linear (x W^T + b) or cosine (cos theta between the "         \
           "normalized features and weight rows, no bias; the loss owns the scale)"}

enum { LIN_INIT, LIN_HEAD, LIN_N };
static const tb_hparam linear_hp[LIN_N] = {[LIN_INIT] = HP_INIT, [LIN_HEAD] = HP_HEAD};
enum { MLP_HIDDEN, MLP_ACTIVATION, MLP_INIT, MLP_HEAD, MLP_N };
static const tb_hparam mlp_hp[MLP_N] = {
    [MLP_HIDDEN] = {.name = "hidden", .type = TB_HP_LIST, .min = 1, .max = TB_MAX_WIDTH,
                    .min_n = 1, .max_n = TB_MAX_HIDDEN, .flags = TB_HPF_REQUIRED | TB_HPF_INTEGER,
                    .help = "units of each hidden layer"},
    [MLP_ACTIVATION] = {.name = "activation", .type = TB_HP_CHOICE, .def = 0,
                        .choices = activation_options,
                        .help = "of the hidden layers (gelu: exact, with erf)"},
    [MLP_INIT] = HP_INIT,
    [MLP_HEAD] = HP_HEAD,
};

/* A cosine head divides by the norms of its weight rows: zeros leave them
 * without a direction (every cos theta 0, gradients scaled by 1/eps). */
static int check_head_init(const tb_value *v, int init, int head, char *err, size_t errlen) {
  if (v[head].num + 1 == TB_HEAD_COSINE && v[init].num + 1 == TB_INIT_ZEROS) {
    tb_errf(err, errlen, "'init' = \"zeros\" cannot start a cosine head: its weight rows "
            "have no direction (use default, he or glorot)");
    return -1;
  }
  return 0;
}
static int linear_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  return check_head_init(v, LIN_INIT, LIN_HEAD, err, errlen);
}
static int mlp_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  return check_head_init(v, MLP_INIT, MLP_HEAD, err, errlen);
}

static const tb_component model_defs[] = {
    {.kind = TB_KIND_MODEL, .name = "linear", .version = "1",
     .summary = "one layer: logits = x W^T + b (head = \"cosine\": cos theta)",
     .reference = "multinomial logistic regression (with a softmax loss)",
     .hparams = (tb_hparam *)linear_hp, .n_hparams = LIN_N, .validate = linear_validate},
    {.kind = TB_KIND_MODEL, .name = "mlp", .version = "1",
     .summary = "a multilayer perceptron: affine layers with an activation between them",
     .reference = "Rumelhart, Hinton & Williams, 1986",
     .hparams = (tb_hparam *)mlp_hp, .n_hparams = MLP_N, .validate = mlp_validate},
};
#define N_MODELS (int)(sizeof model_defs / sizeof *model_defs)

const tb_component *const *tb_model_components(int *n) {
  static const tb_component *list[N_MODELS];
  if (!list[0])
    for (int i = 0; i < N_MODELS; i++) list[i] = &model_defs[i];
  *n = N_MODELS;
  return list;
}

void tb_model_spec_from(const tb_instance *in, tb_model_spec *m) {
  memset(m, 0, sizeof *m);
  m->kind = strcmp(in->comp->name, "mlp") == 0 ? TB_MODEL_MLP : TB_MODEL_LINEAR;
  const tb_value *h = tb_instance_value(in, "hidden");
  if (m->kind == TB_MODEL_MLP && h && h->list) {
    m->n_hidden = h->n < TB_MAX_HIDDEN ? (int)h->n : TB_MAX_HIDDEN; /* checked by the table */
    for (int i = 0; i < m->n_hidden; i++) m->hidden[i] = (int)h->list[i];
  }
  double a = tb_instance_num(in, "activation");
  m->activation = isnan(a) ? TB_ACT_RELU : (int)a + 1;
  m->init = (int)tb_instance_num(in, "init") + 1;
  double head = tb_instance_num(in, "head");
  m->head = isnan(head) ? TB_HEAD_LINEAR : (int)head + 1;
}

