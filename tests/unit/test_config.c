/* test_config.c — the configuration tree and its identity: exact reals,
 * canonical JSON that holds names, versions and only what differs from the
 * defaults, the legacy JSON byte for byte as main wrote it before issue 7,
 * the one validator of every hyperparameter type (hparam.c) with the
 * messages users see, the built-in components' tables, and the schedule
 * plugins against the factors the engine computed itself before (bit for
 * bit). */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "check.h"
#include "config.h"
#include "hparam.h"
#include "registry.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"
#include "util.h"

static char err[TB_ERRLEN];

/* ---- fake plugin components (no plugin file needed for identities) ---------- */

static const char *const modes[] = {"max", "min", NULL};
static const tb_hparam hp_a[] = {
    TBU_HP_REAL("lr", 0.01, 0, 10, 1, "step size"),
    TBU_HP_BOOL("nesterov", 0, "nesterov momentum"),
    TBU_HP_INT("steps", 3, 1, 100, 0, "an integer"),
    TBU_HP_CHOICE("mode", 1, modes, "a choice"),
};
static const tb_hparam hp_sched[] = {
    TBU_HP_REAL("min_factor", 0, 0, 1, 0, "final factor"),
    TBU_HP_REAL("warmup", 0, 0, DBL_MAX, 0, "warmup epochs"),
};
static tb_component loss = {.kind = TB_KIND_LOSS, .name = "cross_entropy", .version = "1"};
static tb_component opt = {.kind = TB_KIND_OPTIMIZER, .name = "sgd", .version = "1",
                           .hparams = (tb_hparam *)hp_a, .n_hparams = 4};
static tb_component cosine = {.kind = TB_KIND_SCHEDULE, .name = "cosine", .version = "1",
                              .hparams = (tb_hparam *)hp_sched, .n_hparams = 2};

/* The configuration the old test built: iris, an mlp {64, 32} with gelu,
 * cross_entropy, sgd at its defaults, cosine with half an epoch of warmup. */
static void base(tb_run_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->scenario, sizeof c->scenario, "s");
  c->seed = 1;
  c->epochs = 10;
  c->batch_size = 32;
  c->parts[TB_PART_DATA] = tb_instance_named(NULL, TB_KIND_DATASET, "iris", err, sizeof err);
  tb_instance *m = c->parts[TB_PART_MODEL] =
      tb_instance_named(NULL, TB_KIND_MODEL, "mlp", err, sizeof err);
  tb_instance_set_list(m, "hidden", (const double[]){64, 32}, 1, 2, err, sizeof err);
  tb_instance_set_text(m, "activation", "gelu", err, sizeof err);
  c->parts[TB_PART_LOSS] = tb_instance_new(NULL, &loss, err, sizeof err);
  c->parts[TB_PART_OPTIMIZER] = tb_instance_new(NULL, &opt, err, sizeof err);
  tb_instance *s = c->parts[TB_PART_SCHEDULE] = tb_instance_new(NULL, &cosine, err, sizeof err);
  tb_instance_set_num(s, "warmup", 0.5, err, sizeof err);
}

/* derive, hash the data, canonicalize */
static int finish(tb_run_config *c) {
  return tb_config_derive(c, err, sizeof err) || tb_data_spec_resolve(&c->data, err, sizeof err) ||
         tb_config_canonicalize(c, err, sizeof err);
}

/* A copy of part p that the caller may change (the tree's is shared). */
static tb_instance *own(tb_run_config *c, int p) {
  tb_instance *in = tb_instance_copy(c->parts[p]);
  tb_config_set_part(c, p, in);
  tb_instance_unref(in);
  return in;
}

static void test_identity(void) {
  char t[64];
  const double reals[] = {0.1, 1.0 / 3, 1e-300, 5e-324, 1e300, -2.5, 0.01, 123456789.123, 3e-5};
  int exact = 1;
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
    tb_fmt_real(t, sizeof t, reals[i]);
    exact &= strtod(t, NULL) == reals[i];
  }
  tb_fmt_real(t, sizeof t, 0.1);
  CHECK(exact && strcmp(t, "0.1") == 0,
        "reals are written in the shortest text that reads back exactly");
  /* shortest: one digit fewer never reads back (random doubles of every
   * exponent, and short decimals) */
  uint64_t s = 88172645463325252u;
  int shortest = 1, n = 0;
  for (int i = 0; i < 20000; i++, n++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    double x;
    if (i % 2) {
      uint64_t bits = s & ~(UINT64_C(0x7ff) << 52);
      bits |= (uint64_t)(900 + (int)(s >> 52) % 250) << 52; /* exponents 2^-123 .. 2^126 */
      memcpy(&x, &bits, sizeof x);
    } else {
      x = (double)(s % 100000) / 1000.0;
    }
    tb_fmt_real(t, sizeof t, x);
    int digits = 0, lead = 1; /* significant digits: leading zeros do not count */
    for (const char *p = t; *p && *p != 'e'; p++)
      if (*p >= '0' && *p <= '9') {
        lead &= *p == '0';
        digits += !lead;
      }
    char shorter[400];
    snprintf(shorter, sizeof shorter, "%.*g", digits > 1 ? digits - 1 : 1, x);
    shortest &= strtod(t, NULL) == x && (digits <= 1 || strtod(shorter, NULL) != x ||
                                         x == floor(x));
  }
  CHECK(shortest, "%d reals: each text reads back and one digit fewer does not", n);

  tb_run_config a, b;
  base(&a), base(&b);
  CHECK(finish(&a) == 0 && finish(&b) == 0, "configurations resolve: %s", err);
  CHECK(strcmp(a.hash, b.hash) == 0, "equal configurations hash equal");
  printf("      %s\n", a.json);
  CHECK(strstr(a.json, "{\"batch_size\":32,\"data\":{\"content_hash\":") == a.json,
        "top-level keys sorted, the data's content hash in the identity");
  CHECK(strstr(a.json, "\"name\":\"iris\",\"version\":\"1\"},\"epochs\":10,") != NULL,
        "a built-in dataset at its defaults: name and version only");
  CHECK(strstr(a.json, "\"optimizer\":{\"name\":\"sgd\",\"version\":\"1\"}") != NULL,
        "a component at its defaults is its name and version");
  CHECK(strstr(a.json, "\"model\":{\"hp\":{\"activation\":\"gelu\",\"hidden\":[64,32]},"
                       "\"name\":\"mlp\",\"version\":\"1\"}") != NULL,
        "what differs from the defaults, sorted by name, a list as a JSON array");
  CHECK(strstr(a.json, "\"schedule\":{\"hp\":{\"warmup\":0.5},\"name\":\"cosine\"") != NULL,
        "the schedule as a component");

  /* the legacy identity: what main's json.c wrote for this configuration */
  char *legacy = tb_config_legacy_json(&a);
  CHECK(legacy && strcmp(legacy,
                         "{\"batch_size\":32,\"data\":{\"content_hash\":"
                         "\"55530f128b3c45d7525392e91fa98775\",\"name\":\"iris\",\"split\":"
                         "{\"test\":0.2,\"train\":0.6,\"val\":0.2},\"standardize\":true},"
                         "\"epochs\":10,\"loss\":{\"hp\":{},\"name\":\"cross_entropy\","
                         "\"version\":\"1\"},\"model\":{\"activation\":\"gelu\",\"hidden\":"
                         "[64,32],\"init\":\"default\",\"kind\":\"mlp\"},\"optimizer\":{\"hp\":"
                         "{\"lr\":0.01,\"mode\":\"min\",\"nesterov\":false,\"steps\":3},"
                         "\"name\":\"sgd\",\"version\":\"1\"},\"scenario\":\"s\",\"schedule\":"
                         "{\"kind\":\"cosine\",\"min_factor\":0,\"warmup\":0.5},\"seed\":1,"
                         "\"trainbench\":\"1\"}") == 0,
        "the legacy JSON is byte for byte the text of main's json.c (its test printed it): %s",
        legacy ? legacy : "(none)");
  char h[TB_HASHLEN];
  if (legacy) tb_hash_bytes(h, legacy, strlen(legacy));
  char lh[TB_HASHLEN];
  CHECK(legacy && tb_config_legacy_hash(&a, lh) == 0 && strcmp(h, lh) == 0,
        "tb_config_legacy_hash is that text's hash");
  free(legacy);

  /* the model's head: "linear" written out is the same run (old runs keep
   * their identities); "cosine" is another, with no legacy form to match */
  tb_run_config hc;
  base(&hc);
  tb_instance_set_text(own(&hc, TB_PART_MODEL), "head", "linear", err, sizeof err);
  finish(&hc);
  char *hl = tb_config_legacy_json(&hc);
  CHECK(strcmp(a.hash, hc.hash) == 0 && hl && tb_config_legacy_hash(&hc, lh) == 0 &&
            strcmp(h, lh) == 0,
        "head = \"linear\" written out: the same identity and legacy identity");
  free(hl);
  tb_instance_set_text(own(&hc, TB_PART_MODEL), "head", "cosine", err, sizeof err);
  finish(&hc);
  CHECK(strcmp(a.hash, hc.hash) != 0 && strstr(hc.json, "\"head\":\"cosine\"") != NULL &&
            hc.model.head == TB_HEAD_COSINE,
        "head = \"cosine\" is another configuration: %s", hc.json);
  CHECK(tb_config_legacy_json(&hc) == NULL && tb_config_legacy_hash(&hc, lh) == -1,
        "a cosine head has no legacy identity (an old run of the same widths never matches)");
  tb_config_free(&hc);

  /* defaults written out are the same configuration; other values are not */
  tb_instance *o = own(&b, TB_PART_OPTIMIZER);
  tb_instance_set_num(o, "lr", 1e-2, err, sizeof err);
  tb_instance_set_text(o, "mode", "min", err, sizeof err);
  tb_instance_set_num(own(&b, TB_PART_DATA), "standardize", 1, err, sizeof err);
  tb_instance_set_list(own(&b, TB_PART_DATA), "split", (const double[]){0.6, 0.2, 0.2}, 1, 3, err,
                       sizeof err);
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) == 0, "defaults written out (lr = 1e-2, mode, split) hash equal");
  b.timeout = 5;
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) == 0, "the timeout is not part of the hash");
  tb_instance_set_num(own(&b, TB_PART_OPTIMIZER), "lr", 0.010000000000000002, err, sizeof err);
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) != 0, "the next double after 0.01 is another configuration");
  CHECK(strstr(b.json, "\"hp\":{\"lr\":0.010000000000000002}") != NULL, "exact: %s", b.json);
  tb_instance_set_num(own(&b, TB_PART_OPTIMIZER), "lr", 0.01, err, sizeof err);
  tb_instance_set_num(own(&b, TB_PART_SCHEDULE), "min_factor", -0.0, err, sizeof err);
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) == 0, "-0 is 0");
  b.seed = 2;
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) != 0 && strcmp(a.group_hash, b.group_hash) == 0,
        "another seed is another run of the same group");
  b.seed = 1;
  tb_component opt2 = opt;
  opt2.version = "2";
  tb_instance *o2 = tb_instance_new(NULL, &opt2, err, sizeof err);
  tb_config_set_part(&b, TB_PART_OPTIMIZER, o2);
  tb_instance_unref(o2);
  finish(&b);
  CHECK(strcmp(a.hash, b.hash) != 0, "a changed plugin version changes the hash");
  tb_config_free(&a), tb_config_free(&b);

  /* a changed CSV changes the hash; its path is not part of it */
  char dir[] = "/tmp/tb-config-XXXXXX", path[256], path2[256];
  CHECK(mkdtemp(dir) != NULL, "temporary folder");
  snprintf(path, sizeof path, "%s/d.csv", dir);
  snprintf(path2, sizeof path2, "%s/e.csv", dir);
  FILE *f = fopen(path, "w");
  fputs("x,y\n1,0\n2,1\n", f);
  fclose(f);
  f = fopen(path2, "w");
  fputs("x,y\n1,0\n2,1\n", f);
  fclose(f);
  tb_run_config c, d, e;
  base(&c), base(&d), base(&e);
  tb_instance *csv = tb_instance_named(NULL, TB_KIND_DATASET, "csv", err, sizeof err);
  tb_instance_set_text(csv, "path", path, err, sizeof err);
  tb_config_set_part(&c, TB_PART_DATA, csv);
  tb_config_set_part(&d, TB_PART_DATA, csv);
  tb_instance_unref(csv);
  csv = tb_instance_named(NULL, TB_KIND_DATASET, "csv", err, sizeof err);
  tb_instance_set_text(csv, "path", path2, err, sizeof err);
  tb_config_set_part(&e, TB_PART_DATA, csv);
  tb_instance_unref(csv);
  finish(&c), finish(&e);
  CHECK(strcmp(c.hash, e.hash) == 0, "the same bytes under another path: the same configuration");
  CHECK(strstr(c.json, "path") == NULL, "the path is not in the identity: %s", c.json);
  f = fopen(path, "w");
  fputs("x,y\n1,0\n3,1\n", f);
  fclose(f);
  finish(&d);
  CHECK(strcmp(c.hash, d.hash) != 0, "a changed CSV file changes the hash");
  legacy = tb_config_legacy_json(&c);
  CHECK(legacy && strstr(legacy, "\"header\":true,\"label_col\":-1,\"name\":\"csv\""),
        "the legacy JSON of a csv: header and the 0-based label column (-1: the last)");
  free(legacy);
  unlink(path), unlink(path2);
  rmdir(dir);
  tb_config_free(&c), tb_config_free(&d), tb_config_free(&e);
}

/* ---- the one validator ------------------------------------------------------ */

static const char *const fields[] = {"a", "b", NULL};
static const double list_def[] = {1, 2};
static const double rec_def[] = {0.5, 0.5};
static const tb_hparam every_type[] = {
    TBU_HP_REAL("x", 1, 0, 10, 0, "real"),
    TBU_HP_INT("n", 2, 1, 5, 0, "int"),
    {.name = "s", .type = TB_HP_STRING, .def_text = "hello", .help = "string"},
    {.name = "l", .type = TB_HP_LIST, .min = 1, .max = 9, .min_n = 1, .max_n = 3,
     .def_list = list_def, .def_n = 2, .flags = TB_HPF_INTEGER, .help = "list"},
    {.name = "r", .type = TB_HP_RECORD, .min = 0, .max = 1, .choices = fields,
     .def_list = rec_def, .def_n = 2, .help = "record"},
    {.name = "w", .type = TB_HP_LIST, .min = 0, .max = 100, .flags = TB_HPF_K, .help = "per class"},
    {.name = "m", .type = TB_HP_MATRIX, .min = 0, .max = 1, .flags = TB_HPF_K, .help = "K x K"},
    {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_OPTIMIZER,
     .flags = TB_HPF_REQUIRED, .help = "a base"},
};
static tb_component every = {.kind = TB_KIND_OPTIMIZER, .name = "every", .version = "1",
                             .hparams = (tb_hparam *)every_type, .n_hparams = 8};

static int refused(tb_instance *in, int k, const char *want) {
  char e[TB_ERRLEN] = "";
  int rc = tb_instance_check(in, k, e, sizeof e);
  if (rc == 0 || !strstr(e, want)) {
    printf("      got: %s\n", rc ? e : "(accepted)");
    return 0;
  }
  return 1;
}

static void test_validator(void) {
  CHECK(tb_hparam_table_check(every_type, 8, 0, err, sizeof err) == 0,
        "a table of every type is valid for a plugin: %s", err);
  for (int i = 0; i < tb_builtin_count(); i++) {
    const tb_component *c = tb_builtin_at(i);
    CHECK(tb_hparam_table_check(c->hparams, c->n_hparams, 1, err, sizeof err) == 0,
          "built-in %s '%s': its table is valid: %s", tb_kind_name(c->kind), c->name, err);
  }
  const tb_component *csv = tb_registry_find(NULL, TB_KIND_DATASET, "csv");
  CHECK(csv && tb_hparam_table_check(csv->hparams, csv->n_hparams, 0, err, sizeof err) != 0 &&
            strstr(err, "has unknown flags"),
        "the core-only flags are refused from a plugin: %s", err);
  tb_hparam bad[] = {{.name = "b", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_DATASET,
                      .flags = TB_HPF_REQUIRED}};
  CHECK(tb_hparam_table_check(bad, 1, 0, err, sizeof err) != 0 && strstr(err, "names no kind"),
        "a plugin's component hyperparameter is of a plugin kind: %s", err);
  tb_hparam bad_rec[] = {{.name = "r", .type = TB_HP_RECORD, .min = 0, .max = 1,
                          .choices = fields, .def_list = rec_def, .def_n = 1}};
  CHECK(tb_hparam_table_check(bad_rec, 1, 0, err, sizeof err) != 0 &&
            strstr(err, "default of 'r' must have 2 fields, got 1"),
        "a record's default has every field: %s", err);

  /* a registry with no plugins: the base must be given */
  tb_instance *in = tb_instance_new(NULL, &every, err, sizeof err);
  CHECK(in && refused(in, -1, "optimizer 'every': missing key 'base'"), "a required component");
  tb_instance *base = tb_instance_new(NULL, &opt, err, sizeof err);
  tb_instance_set_child(in, "base", base, err, sizeof err);
  CHECK(tb_instance_check(in, -1, err, sizeof err) == 0, "the defaults with a base: %s", err);
  CHECK(tb_instance_check(in, 3, err, sizeof err) == 0,
        "empty K-sized values are 'not given' whatever K: %s", err);
  tb_instance_set_num(in, "n", 2.5, err, sizeof err);
  CHECK(refused(in, -1, "optimizer 'every': 'n' = 2.5 is not an integer"), "int");
  tb_instance_set_num(in, "n", 2, err, sizeof err);
  tb_instance_set_list(in, "l", (const double[]){1, 2, 3, 4}, 1, 4, err, sizeof err);
  CHECK(refused(in, -1, "'l' must have 1 to 3 entries, got 4"), "list length");
  tb_instance_set_list(in, "l", (const double[]){1, 2.5}, 1, 2, err, sizeof err);
  CHECK(refused(in, -1, "'l' = 2.5 at position 2 is not an integer"), "integer list");
  tb_instance_set_list(in, "l", (const double[]){1, 10}, 1, 2, err, sizeof err);
  CHECK(refused(in, -1, "'l' = 10 at position 2 is out of range [1, 9]"), "list range");
  tb_instance_set_list(in, "l", list_def, 1, 2, err, sizeof err);
  tb_instance_set_list(in, "r", (const double[]){0.5, 1.5}, 1, 2, err, sizeof err);
  CHECK(refused(in, -1, "'r.b' = 1.5 is out of range [0, 1]"), "record field range");
  tb_instance_set_list(in, "r", rec_def, 1, 2, err, sizeof err);
  tb_instance_set_list(in, "w", (const double[]){1, 2}, 1, 2, err, sizeof err);
  CHECK(tb_instance_check(in, -1, err, sizeof err) == 0, "K unknown: a K-sized list passes");
  CHECK(refused(in, 3, "'w' must have K = 3 entries (one per class), got 2"), "K-sized list");
  tb_instance_set_list(in, "w", NULL, 1, 0, err, sizeof err);
  tb_instance_set_list(in, "m", (const double[]){1, 0, 0, 1}, 2, 2, err, sizeof err);
  CHECK(tb_instance_check(in, 2, err, sizeof err) == 0, "a 2 x 2 matrix for K = 2: %s", err);
  CHECK(refused(in, 3, "'m' must be K x K = 3 x 3 (one row and column per class), got 2 x 2"),
        "K x K matrix");
  tb_instance_set_list(in, "m", (const double[]){1, 0, 0, 2}, 2, 2, err, sizeof err);
  CHECK(refused(in, 2, "'m' = 2 at row 2, column 2 is out of range [0, 1]"), "matrix element");
  tb_instance_set_list(in, "m", NULL, 1, 0, err, sizeof err);
  /* a nested error names the path */
  tb_instance *bad_base = tb_instance_new(NULL, &opt, err, sizeof err);
  tb_instance_set_num(bad_base, "lr", 20, err, sizeof err);
  tb_instance_set_child(in, "base", bad_base, err, sizeof err);
  CHECK(refused(in, -1, "optimizer 'every': 'base': optimizer 'sgd': 'lr' = 20 is out of range "
                        "[0, 10]"),
        "a nested component's error names the path to it");
  tb_instance *lin = tb_instance_named(NULL, TB_KIND_MODEL, "linear", err, sizeof err);
  CHECK(tb_instance_set_child(in, "base", lin, err, sizeof err) != 0 &&
            strstr(err, "'base' must be an optimizer, got model 'linear'"),
        "a component of another kind is refused: %s", err);
  tb_instance_unref(lin);
  /* values as users write them, for labels */
  char text[256];
  tb_hp_value_text(&every_type[4], &in->values[4], NULL, text, sizeof text);
  CHECK(strcmp(text, "{a=0.5,b=0.5}") == 0, "a record as text: %s", text);
  tb_hp_value_text(&every_type[7], &in->values[7], in->child[7], text, sizeof text);
  CHECK(strcmp(text, "sgd(lr=20)") == 0, "a component as text: %s", text);
  tb_instance_unref(base);
  tb_instance_unref(bad_base);
  tb_instance_unref(in);

  /* built-ins: required, optional, validate hooks */
  tb_instance *mlp = tb_instance_named(NULL, TB_KIND_MODEL, "mlp", err, sizeof err);
  CHECK(refused(mlp, -1, "tb.model.mlp: missing key 'hidden'"), "mlp needs hidden");
  tb_instance_unref(mlp);
  tb_instance *blobs = tb_instance_named(NULL, TB_KIND_DATASET, "blobs", err, sizeof err);
  CHECK(tb_instance_check(blobs, -1, err, sizeof err) == 0 &&
            isnan(tb_instance_num(blobs, "split_seed")),
        "an optional value is absent (NaN), not a number: %s", err);
  tb_instance_set_num(blobs, "n", 2, err, sizeof err);
  CHECK(refused(blobs, -1, "tb.data.blobs: 'n' = 2 must be at least 'classes' = 3"),
        "blobs' validate hook");
  tb_instance_set_num(blobs, "n", 600, err, sizeof err);
  tb_instance_set_list(blobs, "split", (const double[]){0.6, 0.3, 0.2}, 1, 3, err, sizeof err);
  CHECK(refused(blobs, -1, "'split' fractions must sum to 1, got 1.0999999999999999 (train 0.6 "
                           "+ val 0.3 + test 0.2)"),
        "the split sums to 1");
  tb_instance_unref(blobs);
}

/* ---- schedules --------------------------------------------------------------- */

/* The factor as train.c computed it before schedules were plugins (kind:
 * 1 constant, 2 step, 3 cosine): the oracle, kept verbatim. */
static double old_factor(int kind, double warmup, double every, double gamma, double min_factor,
                         int64_t t, int64_t S, int64_t T) {
  double W = warmup * (double)S;
  double f = 1.0;
  switch (kind) {
  case 2: {
    double e = every * (double)S;
    f = e > 0 ? pow(gamma, floor((double)t / e)) : 1.0;
    break;
  }
  case 3: {
    double span = (double)T - W;
    double prog = span > 0 ? ((double)t - W) / span : 1.0;
    if (prog < 0) prog = 0;
    if (prog > 1) prog = 1;
    f = min_factor + (1.0 - min_factor) * 0.5 * (1.0 + cos(M_PI * prog));
    break;
  }
  default: break;
  }
  if (W > 0 && (double)t < W) f *= ((double)t + 1.0) / W;
  return f;
}

static double factor_of(const tb_component *c, const double *hp, int64_t S, int E, int64_t t) {
  tb_value values[TB_MAX_HP];
  tb_hparams_values(c, hp, values);
  tb_schedule_init init = {.hp = hp, .values = values, .steps_per_epoch = S, .n_steps = S * E,
                           .n_epochs = E};
  void *state = NULL;
  char e[TB_ERRLEN];
  if (c->sched->create(&init, &state, e, sizeof e)) return NAN;
  tb_schedule_ctx ctx = {.step = t, .steps_per_epoch = S, .n_steps = S * E,
                         .epoch = (int)(t / S), .metric_size = sizeof(tb_metric_value)};
  double f = c->sched->factor(state, &ctx);
  if (c->sched->destroy) c->sched->destroy(state);
  return f;
}

static void test_schedules(void) {
  const char *dir = getenv("TB_BUILD_PLUGINS");
  if (!dir) {
    CHECK(0, "TB_BUILD_PLUGINS names the built plugins (run through meson test)");
    return;
  }
  tb_registry *reg = tb_registry_new();
  const char *names[4] = {"constant", "step", "cosine", "linear"};
  for (int i = 0; i < 4; i++) {
    char p[1024];
    snprintf(p, sizeof p, "%s/schedules/%s.so", dir, names[i]);
    CHECK(tb_registry_add_file(reg, p, err, sizeof err) == 0, "load %s: %s", p, err);
  }
  const tb_component *cst = tb_registry_find(reg, TB_KIND_SCHEDULE, "constant");
  const tb_component *stp = tb_registry_find(reg, TB_KIND_SCHEDULE, "step");
  const tb_component *cos_ = tb_registry_find(reg, TB_KIND_SCHEDULE, "cosine");
  const tb_component *lin = tb_registry_find(reg, TB_KIND_SCHEDULE, "linear");
  if (!cst || !stp || !cos_ || !lin) {
    tb_registry_close(reg);
    return;
  }
  /* bit for bit against the old engine, over warmups (none, fractional,
   * whole, longer than the run), step sizes and run shapes */
  const double warmups[] = {0, 0.5, 1, 2, 2.25, 40};
  const int64_t Ss[] = {1, 7, 10, 17};
  const int Es[] = {1, 3, 20};
  long n = 0, same = 0;
  for (size_t w = 0; w < sizeof warmups / sizeof *warmups; w++)
    for (size_t si = 0; si < sizeof Ss / sizeof *Ss; si++)
      for (size_t ei = 0; ei < sizeof Es / sizeof *Es; ei++) {
        const int64_t S = Ss[si], T = S * Es[ei];
        for (int64_t t = 0; t <= T; t++) {
          double hc[1] = {warmups[w]};
          double hs[3] = {2.5, 0.3, warmups[w]}; /* every, gamma, warmup */
          double hk[2] = {0.05, warmups[w]};     /* min_factor, warmup */
          const double got[3] = {factor_of(cst, hc, S, Es[ei], t), factor_of(stp, hs, S, Es[ei], t),
                                 factor_of(cos_, hk, S, Es[ei], t)};
          const double want[3] = {old_factor(1, warmups[w], 0, 0, 0, t, S, T),
                                  old_factor(2, warmups[w], 2.5, 0.3, 0, t, S, T),
                                  old_factor(3, warmups[w], 0, 0, 0.05, t, S, T)};
          for (int k = 0; k < 3; k++, n++) same += memcmp(&got[k], &want[k], sizeof(double)) == 0;
        }
      }
  CHECK(n > 1000 && same == n, "constant, step and cosine: %ld of %ld factors bit for bit those "
        "of the engine before (warmups 0 to 40 epochs, 1 to 17 steps per epoch)", same, n);
  /* the quickstart's schedule: cosine {warmup = 2} over 30 epochs of 17 steps */
  double q[2] = {0, 2};
  int qs = 1;
  for (int64_t t = 0; t < 30 * 17; t++) {
    double a = factor_of(cos_, q, 17, 30, t), b = old_factor(3, 2, 0, 0, 0, t, 17, 30 * 17);
    qs &= memcmp(&a, &b, sizeof a) == 0;
  }
  CHECK(qs, "the quickstart's cosine {warmup = 2}: every step's factor unchanged");
  /* linear: 1 to end_factor, both ends exact */
  double l[2] = {0.1, 0}, lw[2] = {0, 1};
  CHECK(factor_of(lin, l, 10, 10, 0) == 1 && factor_of(lin, l, 10, 10, 100) == 0.1 &&
            close_to(factor_of(lin, l, 10, 10, 50), 0.55, 1e-15, 0),
        "linear: 1 at the start, end_factor at the end, halfway between at half");
  CHECK(factor_of(lin, lw, 10, 10, 0) == 0.1 && factor_of(lin, lw, 10, 10, 9) == 1 &&
            factor_of(lin, lw, 10, 10, 10) == 1 && factor_of(lin, lw, 10, 10, 100) == 0,
        "linear with a warmup of one epoch: 0.1, ..., 1, then down to 0");
  /* the step schedule's open ranges */
  double bad_every[3] = {0, 0.1, 0};
  CHECK(tb_hparams_check(stp, bad_every, -1, err, sizeof err) != 0 &&
            strstr(err, "schedule 'step': 'every' must be > 0"),
        "step: every = 0 is refused: %s", err);
  tb_registry_close(reg);
}

int main(void) {
  test_identity();
  test_validator();
  test_schedules();
  return check_done();
}
