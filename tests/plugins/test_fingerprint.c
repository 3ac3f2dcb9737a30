/*
 * test_fingerprint.c — numeric fingerprints (core/fingerprint.c) through the
 * real loader and dlopen of built plugins:
 *   - every bundled component fingerprints, twice identically, and no two
 *     are alike;
 *   - builds of one source whose numbers differ (a loss scaled by 1.01 or
 *     1.001, label smoothing spread another way, another default lr, eps
 *     inside the square root, another rule at a non-default setting, another
 *     update rule) are not the same; builds that differ only in flags (-O0,
 *     -O3, no vectorization, FMA contraction) are, for the test plugin and
 *     for every bundled plugin;
 *   - components that crash, abort, exit or hang give an error naming them,
 *     their file and what happened, and this process carries on; one that
 *     floods its output is fingerprinted all the same;
 *   - the host services reach an optimizer that declares them;
 *   - the text form round-trips, and garbage does not decode;
 *   - the comparison's tolerance, on made-up vectors.
 * With --asan (run with the sanitizer runtimes preloaded): ASan + UBSan
 * builds are the same as the plain ones.
 *
 * usage: test_fingerprint FP_DIR            (TB_BUILD_PLUGINS, TB_TEST_PLUGINS set)
 *        test_fingerprint FP_DIR --asan BUILD_PLUGINS_DIR
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/check.h"
#include "fingerprint.h"
#include "registry.h"
#include "util.h"

#define TIMEOUT 60.0

static const char *fp_dir;
static tb_registry *regs[256];
static int n_regs;

/* The component kind/name of one plugin file, loaded into its own registry. */
static const tb_component *load(const char *dir, const char *file, int kind, const char *name) {
  char path[4096], err[TB_ERRLEN];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  tb_registry *reg = tb_registry_new();
  if (tb_registry_add_file(reg, path, err, sizeof err)) {
    CHECK(0, "load %s: %s", path, err);
    tb_registry_close(reg);
    return NULL;
  }
  regs[n_regs++] = reg;
  const tb_component *c = tb_registry_find(reg, kind, name);
  if (!c) CHECK(0, "%s provides %s '%s'", path, tb_kind_name(kind), name);
  return c;
}

static int fingerprint(const tb_component *c, tb_fingerprint *fp) {
  char err[TB_ERRLEN];
  int rc = tb_fingerprint_component(c, TIMEOUT, fp, err, sizeof err);
  if (rc) CHECK(0, "fingerprint of %s '%s': %s", tb_kind_name(c->kind), c->name, err);
  return rc;
}

static int bitwise(const tb_fingerprint *a, const tb_fingerprint *b) {
  return a->n == b->n && memcmp(a->v, b->v, sizeof(double) * (size_t)a->n) == 0;
}

/* A build that differs from `ref` only in flags: the same fingerprint. */
static void expect_same(const tb_component *ref, const tb_component *c, const char *what) {
  tb_fingerprint a, b;
  if (!ref || !c || fingerprint(ref, &a) || fingerprint(c, &b)) return;
  char diff[400], how[80] = "bit for bit";
  tb_fingerprint_diff(&a, &b, diff, sizeof diff);
  if (!bitwise(&a, &b)) {
    double worst = 0;
    for (int i = 0; i < a.n && i < b.n; i++)
      if (isfinite(a.v[i]) && isfinite(b.v[i]) && a.v[i] != b.v[i])
        worst = fmax(worst, fabs(a.v[i] - b.v[i]) / fmax(fabs(a.v[i]), fabs(b.v[i])));
    snprintf(how, sizeof how, "not bit for bit: largest relative difference %.1e", worst);
  }
  CHECK(tb_fingerprint_same(&a, &b) == 1, "%s '%s' %s: same fingerprint (%s)%s%s",
        tb_kind_name(c->kind), c->name, what, how, diff[0] ? "; " : "", diff);
}

/* A build whose numbers differ: not the same. */
static void expect_differ(const tb_component *ref, const tb_component *c, const char *what) {
  tb_fingerprint a, b;
  if (!ref || !c || fingerprint(ref, &a) || fingerprint(c, &b)) return;
  char diff[400];
  tb_fingerprint_diff(&a, &b, diff, sizeof diff);
  CHECK(tb_fingerprint_same(&a, &b) == 0 && strcmp(a.hash, b.hash) != 0,
        "%s '%s' %s: another fingerprint (%s)", tb_kind_name(c->kind), c->name, what, diff);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const struct {
  const char *name;
  int kind;
} bundled[] = {{"cross_entropy", TB_KIND_LOSS}, {"focal", TB_KIND_LOSS},
               {"brier", TB_KIND_LOSS},         {"hinge", TB_KIND_LOSS},
               {"sgd", TB_KIND_OPTIMIZER},      {"adam", TB_KIND_OPTIMIZER},
               {"rmsprop", TB_KIND_OPTIMIZER},  {"adagrad", TB_KIND_OPTIMIZER}};
#define N_BUNDLED 8

/* build/plugins/losses, build/plugins/optimizers */
static const char *kind_dir(int kind) { return kind == TB_KIND_LOSS ? "losses" : "optimizers"; }

/* ---- every bundled component -------------------------------------------------- */

static void test_bundled(const char *build_plugins) {
  tb_registry *reg;
  char err[TB_ERRLEN];
  if (tb_registry_open(&reg, build_plugins, err, sizeof err)) {
    CHECK(0, "open the bundled plugins: %s", err);
    return;
  }
  regs[n_regs++] = reg;
  const int n = tb_registry_count(reg);
  const tb_component *cs[64];
  for (int i = 0; i < n && i < 64; i++) cs[i] = tb_registry_at(reg, i);
  static tb_fingerprint all[64], one[64];
  double t0 = now();
  int rc = tb_fingerprint_components(cs, n, TIMEOUT, all, err, sizeof err);
  double t1 = now();
  CHECK(rc == 0 && n >= 9, "%d bundled components fingerprinted in one call (%.0f ms)%s%s", n,
        1e3 * (t1 - t0), rc ? ": " : "", rc ? err : "");
  for (int i = 0; i < n; i++) {
    t0 = now();
    rc = tb_fingerprint_component(cs[i], TIMEOUT, &one[i], err, sizeof err);
    t1 = now();
    char ea[TB_FP_TEXTMAX], eb[TB_FP_TEXTMAX];
    int enc = tb_fingerprint_encode(&all[i], ea, sizeof ea) == 0 &&
              tb_fingerprint_encode(&one[i], eb, sizeof eb) == 0;
    CHECK(rc == 0 && enc && strcmp(ea, eb) == 0 && tb_fingerprint_same(&all[i], &one[i]) == 1,
          "%s '%s': twice the same fingerprint, bit for bit (%d values, %s..., %.1f ms alone)",
          tb_kind_name(cs[i]->kind), cs[i]->name, one[i].n, one[i].hash, 1e3 * (t1 - t0));
  }
  /* no two components are taken for each other (adam and adamw included) */
  int alike = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (tb_fingerprint_same(&all[i], &all[j]) != 0) {
        alike++;
        printf("      %s and %s are alike\n", cs[i]->name, cs[j]->name);
      }
  CHECK(alike == 0, "no two of the %d bundled components have the same fingerprint", n);
}

/* ---- builds with other numbers ------------------------------------------------ */

static void test_numbers(void) {
  const tb_component *loss = load(fp_dir, "fp_base.so", TB_KIND_LOSS, "fp_loss");
  const tb_component *opt = load(fp_dir, "fp_base.so", TB_KIND_OPTIMIZER, "fp_opt");
  static const struct {
    const char *file, *what;
    int kind;
  } v[] = {
      {"fp_scale101.so", "scaled by 1.01", TB_KIND_LOSS},
      {"fp_scale1001.so", "scaled by 1.001", TB_KIND_LOSS},
      {"fp_smooth_km1.so", "smoothing over K-1 classes (shows only at smoothing > 0)",
       TB_KIND_LOSS},
      {"fp_def_lr.so", "with default lr 2e-3", TB_KIND_OPTIMIZER},
      {"fp_eps_inside.so", "with eps inside the square root", TB_KIND_OPTIMIZER},
      {"fp_alt_nobc.so", "with another rule without bias correction (not the default)",
       TB_KIND_OPTIMIZER},
      {"fp_sign_rule.so", "with a sign update rule", TB_KIND_OPTIMIZER},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const int k = v[i].kind;
    const tb_component *c = load(fp_dir, v[i].file, k, k == TB_KIND_LOSS ? "fp_loss" : "fp_opt");
    if (c && strcmp(c->version, "1") != 0) CHECK(0, "%s keeps version 1", v[i].file);
    expect_differ(k == TB_KIND_LOSS ? loss : opt, c, v[i].what);
  }
  /* the other component of a file whose numbers changed in one of them */
  expect_same(opt, load(fp_dir, "fp_scale101.so", TB_KIND_OPTIMIZER, "fp_opt"),
              "beside a rescaled loss in the same file");
}

/* ---- builds with other flags -------------------------------------------------- */

static void test_flags(const char *build_plugins) {
  static const char *flags[] = {"O0", "O3", "novec", "fma"};
  static const char *what[] = {"built with -O0 (vs -O2)", "built with -O3 (vs -O2)",
                               "built with -fno-tree-vectorize",
                               "built with -mfma (FMA contraction)"};
  for (int f = 0; f < 4; f++) {
    char file[256], path[4096];
    snprintf(file, sizeof file, "fp_%s.so", flags[f]);
    snprintf(path, sizeof path, "%s/%s", fp_dir, file);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
      printf("skip  %s: not built for this compiler or machine\n", file);
      continue;
    }
    fclose(probe);
#if defined(__x86_64__)
    if (strcmp(flags[f], "fma") == 0 && !__builtin_cpu_supports("fma")) {
      printf("skip  %s: this CPU has no FMA\n", file);
      continue;
    }
#endif
    expect_same(load(fp_dir, "fp_base.so", TB_KIND_LOSS, "fp_loss"),
                load(fp_dir, file, TB_KIND_LOSS, "fp_loss"), what[f]);
    expect_same(load(fp_dir, "fp_base.so", TB_KIND_OPTIMIZER, "fp_opt"),
                load(fp_dir, file, TB_KIND_OPTIMIZER, "fp_opt"), what[f]);
    for (int b = 0; b < N_BUNDLED; b++) {
      char base[256];
      snprintf(base, sizeof base, "%s/%s.so", kind_dir(bundled[b].kind), bundled[b].name);
      snprintf(file, sizeof file, "%s_%s.so", bundled[b].name, flags[f]);
      expect_same(load(build_plugins, base, bundled[b].kind, bundled[b].name),
                  load(fp_dir, file, bundled[b].kind, bundled[b].name), what[f]);
    }
  }
  /* adam.c also provides adamw */
  expect_same(load(build_plugins, "optimizers/adam.so", TB_KIND_OPTIMIZER, "adamw"),
              load(fp_dir, "adam_O0.so", TB_KIND_OPTIMIZER, "adamw"), what[0]);
}

/* ---- components that misbehave ------------------------------------------------ */

static void test_faulty(const char *test_plugins) {
  /* under a sanitizer a SEGV is reported by it (then "SEGV", exit 1) */
  static const struct {
    const char *name, *expect, *reason, *how;
  } f[] = {
      {"fault_segv", "crashed in the defaults: step 3: ", "SEGV", "segfaults"},
      {"fault_abort", "crashed in the defaults: step 3: ", "killed by signal 6 (SIGABRT",
       "aborts"},
      {"fault_exit0", "ended early in the defaults: step 3: ", "exited with status 0",
       "calls exit(0)"},
      {"fault_hang", "timed out in the defaults: step 3: ", "still running after 2 s, killed",
       "hangs"},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    const tb_component *c = load(test_plugins, "faulty.so", TB_KIND_OPTIMIZER, f[i].name);
    if (!c) continue;
    tb_fingerprint fp;
    char err[TB_ERRLEN], head[1024];
    memset(&fp, 0x55, sizeof fp);
    int rc = tb_fingerprint_component(c, 2.0, &fp, err, sizeof err);
    snprintf(head, sizeof head, "optimizer '%s' (%s): the fingerprint probe %s", f[i].name,
             c->file, f[i].expect);
    CHECK(rc == -1 && fp.n == 0 && strncmp(err, head, strlen(head)) == 0 &&
              strstr(err, f[i].reason) && strstr(err, "/faulty.so"),
          "a component that %s at step 3: an error naming it, its file, the call and the "
          "reason: %s", f[i].how, rc ? err : "(no error)");
  }
  /* a heap overflow is a crash only where AddressSanitizer sees it */
  const char *san = getenv("TB_SANITIZE");
  if (san && strstr(san, "address")) {
    const tb_component *c = load(test_plugins, "faulty.so", TB_KIND_OPTIMIZER, "fault_overflow");
    tb_fingerprint fp;
    char err[TB_ERRLEN];
    int rc = c ? tb_fingerprint_component(c, TIMEOUT, &fp, err, sizeof err) : 0;
    if (c)
      CHECK(rc == -1 && strstr(err, "'fault_overflow'") &&
                strstr(err, "crashed in the defaults: step 3") &&
                strstr(err, "heap-buffer-overflow"),
            "a heap overflow at step 3 under ASan: %s", rc ? err : "(no error)");
  }

  /* NaN is a value like the others: fault_nan turns NaN at training step 1 */
  const tb_component *nan_loss = load(test_plugins, "faulty.so", TB_KIND_LOSS, "fault_nan");
  tb_fingerprint fn1, fn2;
  if (nan_loss && fingerprint(nan_loss, &fn1) == 0 && fingerprint(nan_loss, &fn2) == 0) {
    int n_nan = 0;
    for (int i = 0; i < fn1.n; i++) n_nan += isnan(fn1.v[i]);
    CHECK(n_nan > 0 && tb_fingerprint_same(&fn1, &fn2) == 1 && strcmp(fn1.hash, fn2.hash) == 0,
          "a loss that returns NaN: %d NaN values, twice the same fingerprint", n_nan);
  }

  /* garbage on stdout and stderr is not taken for the probe's reports */
  const tb_component *g = load(test_plugins, "faulty.so", TB_KIND_OPTIMIZER, "fault_garbage");
  tb_fingerprint fg;
  if (g)
    CHECK(fingerprint(g, &fg) == 0 && fg.n > 1,
          "a component that floods its output is fingerprinted");

  /* several at once: the failures are named, the others are fingerprinted as alone */
  const tb_component *cs[5] = {
      load(getenv("TB_BUILD_PLUGINS"), "losses/cross_entropy.so", TB_KIND_LOSS, "cross_entropy"),
      load(test_plugins, "faulty.so", TB_KIND_OPTIMIZER, "fault_segv"),
      load(getenv("TB_BUILD_PLUGINS"), "optimizers/sgd.so", TB_KIND_OPTIMIZER, "sgd"),
      load(test_plugins, "faulty.so", TB_KIND_OPTIMIZER, "fault_hang"),
      load(getenv("TB_BUILD_PLUGINS"), "optimizers/adam.so", TB_KIND_OPTIMIZER, "adam"),
  };
  for (int i = 0; i < 5; i++)
    if (!cs[i]) return;
  tb_fingerprint out[5], alone;
  char err[TB_ERRLEN];
  int rc = tb_fingerprint_components(cs, 5, 2.0, out, err, sizeof err);
  CHECK(rc == -1 && strstr(err, "optimizer 'fault_segv'") && strstr(err, "SEGV") &&
            strstr(err, "optimizer 'fault_hang'") && strstr(err, "timed out") &&
            out[1].n == 0 && out[3].n == 0,
        "five components, two faulty, in one call: both failures named: %s", err);
  for (int i = 0; i < 5; i += 2) {
    int ok = fingerprint(cs[i], &alone) == 0;
    CHECK(ok && out[i].n > 0 && bitwise(&out[i], &alone),
          "%s '%s' after a crash or a hang in the same call: as fingerprinted alone",
          tb_kind_name(cs[i]->kind), cs[i]->name);
  }
}

/* ---- host services --------------------------------------------------------------- */

static void test_services(const char *test_plugins) {
  /* svc_probe fails its step when eval or jvp misbehave; v[0] is the number
   * of settings and v[1] the steps the defaults setting completed (6) */
  const tb_component *c = load(test_plugins, "svc_probe.so", TB_KIND_OPTIMIZER, "svc_probe");
  tb_fingerprint fp;
  if (c && fingerprint(c, &fp) == 0)
    CHECK(fp.n > 2 && fp.v[1] == 6, "an optimizer checking the eval and jvp services from its "
          "step completes its 6 steps (status %g)", fp.n > 2 ? fp.v[1] : -99.0);
  /* undeclared: eval fails (NaN) but the call is fingerprinted, and counted */
  const tb_component *u = load(test_plugins, "svc_probe.so", TB_KIND_OPTIMIZER, "svc_undeclared");
  tb_fingerprint fu;
  if (u && fingerprint(u, &fu) == 0 && c)
    CHECK(tb_fingerprint_same(&fp, &fu) == 0, "an optimizer calling an undeclared service has "
          "its own fingerprint");
}

/* ---- text form ------------------------------------------------------------------- */

static void test_text(const char *build_plugins) {
  const tb_component *c = load(build_plugins, "losses/focal.so", TB_KIND_LOSS, "focal");
  tb_fingerprint a, b;
  char text[TB_FP_TEXTMAX], err[TB_ERRLEN];
  if (!c || fingerprint(c, &a)) return;
  int rc = tb_fingerprint_encode(&a, text, sizeof text);
  CHECK(rc == 0 && strncmp(text, "fp1:", 4) == 0 && !strchr(text, ' '),
        "encode: 'fp1:<hash>:<values>' without spaces (%zu bytes for %d values)", strlen(text),
        a.n);
  rc = tb_fingerprint_decode(text, &b, err, sizeof err);
  CHECK(rc == 0 && bitwise(&a, &b) && strcmp(a.hash, b.hash) == 0 && b.version == a.version,
        "decode(encode(x)) is x, bit for bit%s%s", rc ? ": " : "", rc ? err : "");
  char small[64];
  CHECK(tb_fingerprint_encode(&a, small, sizeof small) == -1, "encode into a short buffer fails");

  /* non-finite values and -0 survive */
  tb_fingerprint s = {.version = TB_FP_VERSION, .n = 6,
                      .v = {NAN, INFINITY, -INFINITY, -0.0, 0.1, 1e-300}};
  tb_fingerprint t;
  /* a hash for s: encode needs one, decode checks it; take it from a decode
   * of s's values with any hash, whose error names the right one */
  char probe[512];
  snprintf(probe, sizeof probe, "fp1:%032d:NaN,Infinity,-Infinity,-0,0.1,1e-300", 0);
  tb_fingerprint_decode(probe, &t, err, sizeof err);
  const char *right = strstr(err, "hash to ");
  CHECK(right != NULL, "a wrong hash is an error that names the right one: %s", err);
  if (right) {
    snprintf(s.hash, sizeof s.hash, "%.32s", right + 8);
    rc = tb_fingerprint_encode(&s, text, sizeof text) ||
         tb_fingerprint_decode(text, &t, err, sizeof err);
    CHECK(rc == 0 && isnan(t.v[0]) && t.v[1] == INFINITY && t.v[2] == -INFINITY &&
              t.v[3] == 0 && signbit(t.v[3]) && t.v[4] == 0.1 && t.v[5] == 1e-300,
          "NaN, +-inf, -0 and 1e-300 round-trip: %s", text);
  }

  /* garbage */
  static const char *bad[] = {
      "", "hello", "fp", "fp1", "fp1:", "fp0:00000000000000000000000000000000:1",
      "fp1:0000000000000000000000000000000:1", "fp1:0000000000000000000000000000000g:1",
      "fp1:00000000000000000000000000000000:", "fp1:00000000000000000000000000000000:1,",
      "fp1:00000000000000000000000000000000:1,,2", "fp1:00000000000000000000000000000000:1, 2",
      "fp1:00000000000000000000000000000000:1,x", "fp1:00000000000000000000000000000000:nan(7)",
      "fp1:00000000000000000000000000000000:1;2", "FP1:00000000000000000000000000000000:1",
  };
  int n_bad = 0;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    if (tb_fingerprint_decode(bad[i], &t, err, sizeof err) == 0 || !err[0] || t.n != 0) {
      n_bad++;
      printf("      decoded: '%s'\n", bad[i]);
    }
  }
  CHECK(n_bad == 0, "%zu kinds of garbage do not decode, each with a message",
        sizeof bad / sizeof bad[0]);
  /* a tampered value */
  rc = tb_fingerprint_encode(&a, text, sizeof text);
  char *last = strrchr(text, ',');
  if (last && last[1] != '9') last[1] = '9'; else if (last) last[1] = '8';
  rc = tb_fingerprint_decode(text, &t, err, sizeof err);
  CHECK(rc == -1 && strstr(err, "does not match"), "a changed value is caught by the hash: %s",
        err);
  /* too many values */
  size_t k = (size_t)snprintf(text, sizeof text, "fp1:%032d:", 0);
  for (int i = 0; i <= TB_FP_MAXV; i++)
    k += (size_t)snprintf(text + k, sizeof text - k, "%s1", i ? "," : "");
  rc = tb_fingerprint_decode(text, &t, err, sizeof err);
  CHECK(rc == -1 && strstr(err, "more than"), "more than %d values: %s", TB_FP_MAXV, err);
}

/* ---- the comparison -------------------------------------------------------------- */

static void test_compare(void) {
  static tb_fingerprint a, b;
  a.version = b.version = TB_FP_VERSION;
  a.n = b.n = 100;
  for (int i = 0; i < 100; i++) a.v[i] = b.v[i] = sin(i + 1.0) * (i % 7 + 1);
  CHECK(tb_fingerprint_same(&a, &b) == 1, "identical vectors are the same");
  for (int i = 0; i < 100; i++) b.v[i] = a.v[i] * (1 + 3e-7 * ((i % 3) - 1));
  CHECK(tb_fingerprint_same(&a, &b) == 1, "a few float32 roundings apart (3e-7): the same");
  b = a;
  b.v[50] = a.v[50] * (1 + 1e-4);
  CHECK(tb_fingerprint_same(&a, &b) == 0, "one value of 100 off by 1e-4: not the same");
  b = a;
  b.v[7] = -a.v[7];
  CHECK(tb_fingerprint_same(&a, &b) == 0, "one sign flipped: not the same");
  b = a;
  a.v[10] = 0, b.v[10] = 1e-8;
  CHECK(tb_fingerprint_same(&a, &b) == 1, "0 vs 1e-8 beside values of size 1: the same (floor)");
  b.v[10] = 1e-4;
  CHECK(tb_fingerprint_same(&a, &b) == 0, "0 vs 1e-4 beside values of size 1: not the same");
  b = a;
  a.v[3] = b.v[3] = NAN;
  a.v[4] = b.v[4] = -INFINITY;
  CHECK(tb_fingerprint_same(&a, &b) == 1, "NaN matches NaN, -inf matches -inf");
  b.v[3] = 1;
  CHECK(tb_fingerprint_same(&a, &b) == 0, "NaN does not match a number");
  b = a;
  b.v[4] = INFINITY;
  CHECK(tb_fingerprint_same(&a, &b) == 0, "-inf does not match +inf");
  b = a;
  b.n = 99;
  CHECK(tb_fingerprint_same(&a, &b) == 0, "another number of values: not the same");
  b = a;
  b.version = TB_FP_VERSION + 1;
  CHECK(tb_fingerprint_same(&a, &b) == -1, "another probe version: cannot be compared (-1)");
  b = a;
  b.n = 0;
  CHECK(tb_fingerprint_same(&a, &b) == -1, "an empty fingerprint: cannot be compared (-1)");
  /* tiny values scale with their vector: a tiny loss scaled by 1.01 still differs */
  b = a;
  for (int i = 0; i < 100; i++) a.v[i] = 1e-12 * (i + 1), b.v[i] = a.v[i] * 1.01;
  CHECK(tb_fingerprint_same(&a, &b) == 0, "values of 1e-12 scaled by 1.01: not the same");
  for (int i = 0; i < 100; i++) b.v[i] = a.v[i] * (1 + 1e-7);
  a.v[0] = 10, b.v[0] = 10; /* one bookkeeping integer among them */
  CHECK(tb_fingerprint_same(&a, &b) == 1,
        "values of 1e-12 a rounding apart, beside a 10: the same");
  b.v[50] *= 1.001;
  CHECK(tb_fingerprint_same(&a, &b) == 0,
        "values of 1e-12, one off by 1e-3, beside a 10: not the same");
}

/* ---- sanitizer builds ------------------------------------------------------------- */

static void test_asan(const char *build_plugins) {
  expect_same(load(fp_dir, "fp_base.so", TB_KIND_LOSS, "fp_loss"),
              load(fp_dir, "fp_asan.so", TB_KIND_LOSS, "fp_loss"), "built with ASan + UBSan");
  expect_same(load(fp_dir, "fp_base.so", TB_KIND_OPTIMIZER, "fp_opt"),
              load(fp_dir, "fp_asan.so", TB_KIND_OPTIMIZER, "fp_opt"), "built with ASan + UBSan");
  for (int b = 0; b < N_BUNDLED; b++) {
    char base[256], file[256];
    snprintf(base, sizeof base, "%s/%s.so", kind_dir(bundled[b].kind), bundled[b].name);
    snprintf(file, sizeof file, "%s_asan.so", bundled[b].name);
    expect_same(load(build_plugins, base, bundled[b].kind, bundled[b].name),
                load(fp_dir, file, bundled[b].kind, bundled[b].name), "built with ASan + UBSan");
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[2], "--asan") == 0) {
    fp_dir = argv[1];
    test_asan(argv[3]);
  } else {
    const char *build_plugins = getenv("TB_BUILD_PLUGINS");
    const char *test_plugins = getenv("TB_TEST_PLUGINS");
    if (argc < 2 || !build_plugins || !test_plugins) {
      fprintf(stderr, "usage: test_fingerprint FP_DIR (TB_BUILD_PLUGINS and TB_TEST_PLUGINS set; "
                      "run through meson test)\n");
      return 2;
    }
    fp_dir = argv[1];
    setenv("TRAINBENCH_PLUGIN_PATH", "", 1);
    test_compare();
    test_bundled(build_plugins);
    test_numbers();
    test_flags(build_plugins);
    test_services(test_plugins);
    test_text(build_plugins);
    test_faulty(test_plugins);
  }
  for (int i = 0; i < n_regs; i++) tb_registry_close(regs[i]);
  return check_done();
}
