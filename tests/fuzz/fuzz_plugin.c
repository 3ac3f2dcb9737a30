/*
 * fuzz_plugin.c — libFuzzer target: the plugin loader's checks of a
 * descriptor (plugin.c, through tb_registry_add_descriptor: what
 * tb_registry_add_file applies once tb_plugin_entry has returned) and
 * hparam.c's checks of the hyperparameter tables, on descriptors built
 * from the fuzz bytes, without dlopen.
 *
 * The bytes are read as a stream of choices (an exhausted stream reads as
 * zeros): the ABI version, each struct's declared size, 0-3 losses,
 * optimizers and schedules with names, services, flags, requires, which
 * functions are set, and hyperparameter tables whose every field — type,
 * numbers (often NaN, infinities, 2^53), choices, defaults, list lengths,
 * component kinds and names, flags — comes from the bytes. tests/fuzz/
 * make_corpus.py writes inputs in this format (its `Desc` mirrors read_*).
 *
 * A plugin's memory is what it says it is: every definition is allocated
 * with exactly the size it declares (at least its version fields), every
 * table with exactly n_hparams rows of its declared stride, every list with
 * def_n elements, so the sanitizers catch a host that reads past what a
 * plugin declared. Lies a host cannot detect (a size larger than the memory
 * behind it) are not made.
 *
 * What must hold: a refusal comes with a message; an accepted component
 * gets an instance at its defaults, or a message (a required value, a
 * default component not loaded), and when none of its rows is required
 * or a component and it has no validate hook, its defaults pass
 * tb_instance_check (the table check promised as much), and every value
 * prints. Every crash, leak and undefined behaviour the sanitizers see
 * aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hparam.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

static int verbose = -1; /* TB_FUZZ_VERBOSE=1: say what became of each input */

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_plugin: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

/* ---- the byte stream, and everything allocated for one descriptor -------------- */

typedef struct {
  const uint8_t *p;
  size_t n;
  void **owned; /* freed after the registry that borrows them is closed */
  int n_owned, cap_owned;
} stream;

static void *own(stream *s, void *p) {
  if (!p) fail("out of memory", NULL);
  if (s->n_owned == s->cap_owned) {
    s->cap_owned = s->cap_owned ? 2 * s->cap_owned : 64;
    s->owned = realloc(s->owned, sizeof *s->owned * (size_t)s->cap_owned);
    if (!s->owned) fail("out of memory", NULL);
  }
  s->owned[s->n_owned++] = p;
  return p;
}

static uint8_t read_u8(stream *s) {
  if (!s->n) return 0;
  s->n--;
  return *s->p++;
}

static uint32_t read_u32(stream *s) {
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) x |= (uint32_t)read_u8(s) << (8 * i);
  return x;
}

/* A string: a few that matter to the checks (valid names, names of the
 * built plugins and of the kinds, bad identifiers), or raw bytes. */
static const char *read_str(stream *s) {
  static const char *const pool[] = {
      NULL, "", "a", "lr", "base", "sgd", "adam", "cross_entropy", "focal", "constant",
      "x1", "_", "1x", "A", "lr ", "gamma", "momentum", "relu", "digits", "loss"};
  uint8_t sel = read_u8(s);
  if (sel < 2 * sizeof pool / sizeof *pool) return pool[sel % (sizeof pool / sizeof *pool)];
  size_t len = read_u8(s) % 48;
  char *t = own(s, malloc(len + 1));
  for (size_t i = 0; i < len; i++) t[i] = (char)read_u8(s);
  t[len] = 0;
  return t;
}

static double read_num(stream *s) {
  static const double pool[] = {0, 1, -1, 0.5, 2, 10, 1e-3, 100, -0.0, 0.9, 3, 64,
                                9007199254740992.0, 1e308, -1e308, 2147483648.0};
  uint8_t sel = read_u8(s);
  if (sel < 3 * sizeof pool / sizeof *pool) return pool[sel % (sizeof pool / sizeof *pool)];
  switch (sel % 4) {
  case 0: return NAN;
  case 1: return INFINITY;
  case 2: return -INFINITY;
  }
  uint64_t bits = (uint64_t)read_u32(s) | (uint64_t)read_u32(s) << 32;
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

static int32_t read_int(stream *s) {
  static const int32_t pool[] = {0, 1, 2, 3, 4, 8, -1, 64, 65, 65536, 65537, INT32_MAX,
                                 INT32_MIN};
  uint8_t sel = read_u8(s);
  if (sel < 2 * sizeof pool / sizeof *pool) return pool[sel % (sizeof pool / sizeof *pool)];
  return (int32_t)read_u32(s);
}

/* A NULL-terminated list of 0-5 strings, or NULL. */
static const char *const *read_names(stream *s) {
  uint8_t sel = read_u8(s);
  if (sel % 7 == 6) return NULL;
  int n = sel % 7 == 5 ? 0 : sel % 7;
  if (sel >= 224) n = 65; /* more record fields than allowed */
  const char **v = own(s, calloc((size_t)n + 1, sizeof *v));
  for (int i = 0; i < n; i++) {
    v[i] = read_str(s);
    if (!v[i]) v[i] = "f";
  }
  return v;
}

/* A size field: the frozen size of the declared minor, the host's, one
 * short, a longer one (a later minor's), or any small number. */
static uint32_t read_size(stream *s, uint32_t frozen, uint32_t host) {
  uint8_t sel = read_u8(s);
  switch (sel % 8) {
  case 0: case 1: case 2: return frozen;
  case 3: return host;
  case 4: return frozen ? frozen - 1 : 0;
  case 5: return host + 8 * (sel >> 3 & 3);
  }
  return sel;
}

/* dummies: the checks only look at which are set; a validate hook may be
 * called by tb_instance_check */
static int d_create(void) { return 0; }
static int validate_ok(const tb_value *v, int k, char *err, size_t errlen) {
  (void)v, (void)k, (void)err, (void)errlen;
  return 0;
}
static int validate_no(const tb_value *v, int k, char *err, size_t errlen) {
  (void)v, (void)k;
  tb_errf(err, errlen, "refused by the fuzz validate hook");
  return 1;
}

static void read_hparam(stream *s, tb_hparam *h) {
  memset(h, 0, sizeof *h);
  h->name = read_str(s);
  uint8_t t = read_u8(s);
  h->type = t < 240 ? 1 + t % 9 : (int[]){0, -1, 10, 11}[t % 4]; /* mostly known types */
  h->def = read_num(s);
  h->min = read_num(s);
  h->max = read_num(s);
  h->log_scale = read_u8(s) % 3;
  h->choices = read_names(s);
  h->help = read_str(s);
  h->def_text = read_str(s);
  h->def_n = read_int(s);
  h->def_cols = read_int(s);
  if (h->def_n >= 0 && h->def_n <= 4096 && read_u8(s) % 4) {
    double *v = own(s, malloc(sizeof *v * ((size_t)h->def_n + 1)));
    for (int i = 0; i < h->def_n; i++) v[i] = i < 16 ? read_num(s) : v[i % 16];
    h->def_list = v;
  }
  h->min_n = read_int(s);
  h->max_n = read_int(s);
  uint8_t k = read_u8(s);
  h->component_kind = k < 250 ? k % 6 : (int)k - 256; /* 0-5, and a few negative */
  uint8_t f = read_u8(s);
  h->flags = f & 7;
  if (f & 8) h->flags |= 1u << (3 + (f >> 4)); /* an unknown bit, or a core-only one */
}

/* A table of n rows at the declared stride, or NULL / a bad count. */
static const void *read_table(stream *s, uint32_t stride, int *n_out) {
  uint8_t sel = read_u8(s);
  int n = sel % 8;
  if (sel >= 240) n = (int[]){-1, 65, INT32_MAX, INT32_MIN}[sel % 4];
  *n_out = n;
  if (read_u8(s) % 16 == 15 || n <= 0 || n > TB_MAX_HP) return NULL;
  if (stride == 0) return NULL;
  char *t = own(s, calloc((size_t)n, stride));
  for (int i = 0; i < n; i++) {
    tb_hparam h;
    read_hparam(s, &h);
    memcpy(t + (size_t)i * stride, &h, stride < sizeof h ? stride : sizeof h);
  }
  return t;
}

typedef void (*fn)(void);

/* One definition of `kind`, allocated with exactly the size it declares. */
static const void *read_def(stream *s, int kind, uint32_t minor) {
  static const uint32_t frozen[4][3] = {
      {0, 0, 0},
      {TB_LOSS_DEF_SIZE_2_0, TB_LOSS_DEF_SIZE_2_1, TB_LOSS_DEF_SIZE_2_1},
      {TB_OPTIMIZER_DEF_SIZE_2_0, TB_OPTIMIZER_DEF_SIZE_2_0, TB_OPTIMIZER_DEF_SIZE_2_0},
      {TB_SCHEDULE_DEF_SIZE_2_0, TB_SCHEDULE_DEF_SIZE_2_0, TB_SCHEDULE_DEF_SIZE_2_0}};
  static const uint32_t host[4] = {0, sizeof(tb_loss_def), sizeof(tb_optimizer_def),
                                   sizeof(tb_schedule_def)};
  uint32_t size = read_size(s, frozen[kind][minor > 2 ? 2 : minor], host[kind]);
  uint32_t hsize = read_size(s, TB_HPARAM_SIZE_2_0, sizeof(tb_hparam));
  const char *name = read_str(s), *version = read_str(s), *summary = read_str(s),
             *reference = read_str(s);
  uint32_t services = read_u8(s), flags = read_u8(s), requires = read_u8(s);
  if (services & 0x80) services = read_u32(s);
  if (requires & 0x80) requires = read_u32(s);
  flags &= 0x7f;
  requires &= 0x7f;
  services &= 0x7f;
  uint8_t fns = read_u8(s);
  uint8_t v = read_u8(s) % 3;
  tb_validate_fn validate = v == 1 ? validate_ok : v == 2 ? validate_no : NULL;
  int n_hp;
  const void *table = read_table(s, hsize, &n_hp);
  fn set = (fn)d_create;

  union {
    tb_loss_def l;
    tb_optimizer_def o;
    tb_schedule_def sd;
    char pad[512];
  } u;
  memset(&u, 0, sizeof u);
  if (kind == TB_KIND_LOSS) {
    u.l = (tb_loss_def){.size = size, .hparam_size = hsize, .name = name, .version = version,
                        .summary = summary, .reference = reference, .services = services,
                        .flags = flags, .requires = requires, .hparams = table,
                        .n_hparams = n_hp, .validate = validate};
    if (fns & 1) u.l.create = (void *)set;
    if (fns & 2) u.l.eval = (void *)set;
    if (fns & 4) u.l.row = (void *)set;
    if (fns & 8) u.l.destroy = (void *)set;
    if (fns & 16) u.l.head_scale = (void *)set;
  } else if (kind == TB_KIND_OPTIMIZER) {
    u.o = (tb_optimizer_def){.size = size, .hparam_size = hsize, .name = name,
                             .version = version, .summary = summary, .reference = reference,
                             .services = services, .flags = flags, .hparams = table,
                             .n_hparams = n_hp, .validate = validate};
    if (fns & 1) u.o.create = (void *)set;
    if (fns & 2) u.o.step = (void *)set;
    if (fns & 8) u.o.destroy = (void *)set;
    if (fns & 16) u.o.eval_params = (void *)set;
  } else {
    u.sd = (tb_schedule_def){.size = size, .hparam_size = hsize, .name = name,
                             .version = version, .summary = summary, .reference = reference,
                             .services = services, .flags = flags, .hparams = table,
                             .n_hparams = n_hp, .validate = validate};
    if (fns & 1) u.sd.create = (void *)set;
    if (fns & 2) u.sd.factor = (void *)set;
    if (fns & 8) u.sd.destroy = (void *)set;
  }
  /* the loader reads the two size fields of any definition before checking them */
  size_t alloc = size < 8 ? 8 : size;
  char *d = own(s, calloc(1, alloc));
  memcpy(d, &u, alloc < sizeof u ? alloc : sizeof u);
  return d;
}

/* ---- the oracle on accepted components ------------------------------------------- */

static void check_component(const tb_registry *reg, const tb_component *c) {
  char err[TB_ERRLEN] = "", text[512];
  tb_component_label(c, text, sizeof text);
  double hp[TB_MAX_HP];
  tb_value values[TB_MAX_HP];
  tb_hparams_defaults(c, hp);
  tb_hparams_values(c, hp, values);
  tb_instance *in = tb_instance_new(reg, c, err, sizeof err);
  if (!in) {
    if (!err[0]) fail("tb_instance_new failed without a message", c->name);
    if (verbose) fprintf(stderr, "  %s: no instance: %s\n", text, err);
    return;
  }
  int plain = !c->validate;
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    plain &= !(h->flags & TB_HPF_REQUIRED) && h->type != TB_HP_COMPONENT;
    char value[512];
    tb_hp_value_text(h, &in->values[i], in->child[i], value, sizeof value);
  }
  for (int k = -1; k <= 3; k += 4) {
    err[0] = 0;
    int rc = tb_instance_check(in, k, err, sizeof err);
    if (rc && !err[0]) fail("tb_instance_check failed without a message", c->name);
    if (rc && plain && k < 0) fail("an accepted table's defaults do not pass their check", err);
    if (verbose) fprintf(stderr, "  %s, k = %d: %s\n", text, k, rc ? err : "defaults pass");
  }
  tb_instance_unref(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  stream s = {.p = data, .n = size};
  uint8_t ver = read_u8(&s);
  uint32_t major = ver & 0x80 ? ver & 3 : TB_ABI_MAJOR, minor = (ver >> 2) & 3;
  uint32_t psize = read_size(&s, TB_PLUGIN_SIZE_2_0, sizeof(tb_plugin));
  const void **lists[3];
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_SCHEDULE; kind++) {
    uint8_t n = read_u8(&s);
    if (n % 5 == 4) {
      lists[kind - 1] = NULL;
      continue;
    }
    const void **list = own(&s, calloc((size_t)n % 5 + 1, sizeof *list));
    for (int i = 0; i < n % 5; i++) list[i] = read_def(&s, kind, minor);
    lists[kind - 1] = list;
  }
  tb_plugin desc = {major, minor, psize, (const tb_loss_def *const *)lists[0],
                    (const tb_optimizer_def *const *)lists[1],
                    (const tb_schedule_def *const *)lists[2]};
  /* the loader reads the version and size before checking them */
  size_t alloc = psize < 12 ? 12 : psize;
  tb_plugin *p = own(&s, calloc(1, alloc));
  memcpy(p, &desc, alloc < sizeof desc ? alloc : sizeof desc);

  tb_registry *reg = tb_registry_new();
  char err[TB_ERRLEN] = "";
  if (verbose < 0) verbose = getenv("TB_FUZZ_VERBOSE") && atoi(getenv("TB_FUZZ_VERBOSE"));
  if (tb_registry_add_descriptor(reg, p, "/fuzz/plugin.so", "0123456789abcdef", err,
                                 sizeof err)) {
    if (!err[0]) fail("a descriptor refused without a message", NULL);
    if (verbose) fprintf(stderr, "refused: %s\n", err);
  } else {
    if (verbose) fprintf(stderr, "accepted: %d components\n", tb_registry_count(reg));
    for (int i = 0; i < tb_registry_count(reg); i++) check_component(reg, tb_registry_at(reg, i));
  }
  tb_registry_close(reg);
  for (int i = 0; i < s.n_owned; i++) free(s.owned[i]);
  free(s.owned);
  return 0;
}
