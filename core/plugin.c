/*
 * plugin.c — the plugin loader and the registry of components.
 *
 * Search order: the folders of TRAINBENCH_PLUGIN_PATH (colon-separated), then
 * the plugins beside the executable. Each folder is scanned for *.so files
 * (and one level of subfolders), sorted by path. The first component of a
 * (kind, name) wins; later ones are recorded as shadowed. Two components of
 * one kind and name in the same folder are an error.
 *
 * Loading one file is a chain of checks that stops at the first failure and
 * says which: cannot open / no entry point / ABI mismatch (a 1.x plugin:
 * "ABI 1.0: rebuild against 2.2") / struct too short / bad component.
 * Rejected files are kept as "problems" with the file and the reason; they
 * do not stop the other plugins from loading.
 *
 * ABI 2.0 growth: every definition a plugin hands over starts with its size,
 * and each is copied into a zeroed host-sized struct (so fields a later minor
 * appends read as 0/NULL from an older plugin); hyperparameter tables are
 * copied row by row from the plugin's stride into host rows. The minimum
 * sizes per minor are the frozen literals of plugin.h.
 *
 * Hyperparameter tables are checked by hparam.c, the one validator of
 * every type; the built-in components (data.c, model.c) are found through
 * tb_registry_find like plugins.
 *
 * Provides: tb_registry_* (tb_registry_new: an empty one; tb_registry_add_descriptor:
 * the checks of a descriptor without a file), tb_default_plugin_dir,
 * tb_builtin_count, tb_builtin_at, tb_kind_name, tb_kind_of.
 */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "config.h"
#include "hash.h"
#include "plugin_probe.h"
#include "hparam.h"
#include "registry.h"
#include "stages.h"
#include "trainbench/plugin.h"
#include "util.h"

#ifndef TB_PLUGINDIR_REL
#define TB_PLUGINDIR_REL "../lib/trainbench/plugins"
#endif

struct tb_registry {
  tb_component **items;
  int n, cap;
  char **problems;
  int n_problems, cap_problems;
  void **handles;
  int n_handles, cap_handles;
};

/* Minimum sizes per minor version of ABI major 2: the frozen literals. */
static const struct {
  uint32_t plugin, hparam, loss, opt, sched;
} min_sizes[TB_ABI_MINOR + 1] = {
    /* 2.0 */ {TB_PLUGIN_SIZE_2_0, TB_HPARAM_SIZE_2_0, TB_LOSS_DEF_SIZE_2_0,
               TB_OPTIMIZER_DEF_SIZE_2_0, TB_SCHEDULE_DEF_SIZE_2_0},
    /* 2.1 */ {TB_PLUGIN_SIZE_2_0, TB_HPARAM_SIZE_2_0, TB_LOSS_DEF_SIZE_2_1,
               TB_OPTIMIZER_DEF_SIZE_2_0, TB_SCHEDULE_DEF_SIZE_2_0},
    /* 2.2 */ {TB_PLUGIN_SIZE_2_0, TB_HPARAM_SIZE_2_0, TB_LOSS_DEF_SIZE_2_1,
               TB_OPTIMIZER_DEF_SIZE_2_0, TB_SCHEDULE_DEF_SIZE_2_0}, /* the host table grew */
};

const char *tb_kind_name(int kind) {
  switch (kind) {
  case TB_KIND_LOSS: return "loss";
  case TB_KIND_OPTIMIZER: return "optimizer";
  case TB_KIND_SCHEDULE: return "schedule";
  case TB_KIND_DATASET: return "dataset";
  case TB_KIND_MODEL: return "model";
  case TB_KIND_CORRUPTION: return "corruption";
  case TB_KIND_TRANSFORM: return "transform";
  case TB_KIND_REDUCTION: return "reduction";
  }
  return "?";
}

int tb_kind_of(const char *name) {
  for (int k = 1; k <= TB_N_KINDS; k++)
    if (name && strcmp(tb_kind_name(k), name) == 0) return k;
  return 0;
}

/* A zeroed host-sized copy of a definition of `have` bytes. */
static void *host_copy(const void *def, uint32_t have, size_t host_size) {
  void *c = calloc(1, host_size);
  if (!c) abort();
  memcpy(c, def, have < host_size ? have : host_size);
  return c;
}

static void *xgrow(void *p, int *cap, int need, size_t elem) {
  if (need <= *cap) return p;
  int c = *cap ? *cap * 2 : 16;
  while (c < need) c *= 2;
  void *q = realloc(p, (size_t)c * elem);
  if (!q) abort();
  *cap = c;
  return q;
}

static void add_problem(tb_registry *reg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_problem(tb_registry *reg, const char *fmt, ...) {
  char buf[TB_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  reg->problems = xgrow(reg->problems, &reg->cap_problems, reg->n_problems + 1, sizeof(char *));
  reg->problems[reg->n_problems++] = strdup(buf);
}

static int valid_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
  return 1;
}

/* ---- loading one file ---------------------------------------------------- */

/* Copy a plugin's hyperparameter table row by row from its stride into host
 * rows (fields a plugin of an older minor lacks read as zero), then check it
 * with the one validator of hparam.c: every type of the 2.0 header is
 * carried to plugins, the core-only flags are not theirs to set. */
static int copy_hparams(tb_component *c, const void *table, int n, uint32_t stride, char *err,
                        size_t errlen) {
  if (n < 0 || n > TB_MAX_HP) {
    tb_errf(err, errlen, "bad hyperparameter count %d (at most %d)", n, TB_MAX_HP);
    return -1;
  }
  if (n > 0 && !table) {
    tb_errf(err, errlen, "%d hyperparameters declared but no table (hparams is NULL)", n);
    return -1;
  }
  c->hparams = calloc(n ? (size_t)n : 1, sizeof(tb_hparam));
  if (!c->hparams) abort();
  c->n_hparams = n;
  for (int i = 0; i < n; i++)
    memcpy(&c->hparams[i], (const char *)table + (size_t)i * stride,
           stride < sizeof(tb_hparam) ? stride : sizeof(tb_hparam));
  return tb_hparam_table_check(c->hparams, n, 0, err, errlen);
}

static void free_component(tb_component *c) {
  if (!c) return;
  free(c->hparams);
  free((void *)c->loss);
  free((void *)c->opt);
  free((void *)c->sched);
  free((char *)c->file);
  for (int i = 0; i < c->n_shadows; i++) free(c->shadows[i]);
  free(c->shadows);
  free(c);
}

static tb_component *make_component(int kind, const char *name, const char *version,
                                    const char *summary, const char *reference,
                                    uint32_t services, uint32_t flags, uint32_t requires,
                                    const void *hparams, int n_hparams, uint32_t stride,
                                    tb_validate_fn validate, const char *missing,
                                    const char *file, const char *hash, char *err,
                                    size_t errlen) {
  if (!valid_identifier(name)) {
    tb_errf(err, errlen, "%s has no valid name", tb_kind_name(kind));
    return NULL;
  }
  if (missing) {
    tb_errf(err, errlen, "%s '%s' lacks a required function: %s", tb_kind_name(kind), name,
            missing);
    return NULL;
  }
  tb_component *c = calloc(1, sizeof *c);
  c->kind = kind;
  c->name = name;
  c->version = version ? version : "0";
  c->summary = summary ? summary : "";
  c->reference = reference ? reference : "";
  c->services = services;
  c->flags = flags;
  c->requires = requires;
  c->validate = validate;
  c->file = strdup(file);
  snprintf(c->file_hash, sizeof c->file_hash, "%s", hash);
  char msg[TB_ERRLEN];
  if (copy_hparams(c, hparams, n_hparams, stride, msg, sizeof msg)) {
    tb_errf(err, errlen, "%s '%s': %s", tb_kind_name(kind), name, msg);
    free_component(c);
    return NULL;
  }
  return c;
}

/* The checks of a descriptor once the entry point has returned it, in order,
 * stopping at the first failure: ABI version, struct sizes, then each
 * definition (name, required functions, hyperparameter table, services,
 * requirements, a name given twice). The components found go to out[]
 * (caller owns them); they borrow p's strings and tables. Kept apart from
 * dlopen so the checks can be driven by descriptors built in memory
 * (tests/fuzz/fuzz_plugin.c). */
static int check_descriptor(const tb_plugin *p, const char *path, const char *hash,
                            tb_component ***out, int *n_out, char *err, size_t errlen) {
  *out = NULL;
  *n_out = 0;
  if (p->abi_major == 1) {
    /* a 1.x descriptor is laid out differently: read nothing past the version */
    tb_errf(err, errlen, "ABI %u.%u: rebuild against %d.%d (trainbench/plugin.h)", p->abi_major,
            p->abi_minor, TB_ABI_MAJOR, TB_ABI_MINOR);
    return -1;
  }
  if (p->abi_major != TB_ABI_MAJOR || p->abi_minor > TB_ABI_MINOR) {
    tb_errf(err, errlen, "ABI mismatch: plugin built for ABI %u.%u, host speaks %d.%d",
            p->abi_major, p->abi_minor, TB_ABI_MAJOR, TB_ABI_MINOR);
    return -1;
  }
  if (p->size < min_sizes[p->abi_minor].plugin) {
    tb_errf(err, errlen, "struct tb_plugin too short: %u bytes, ABI %u.%u needs at least %u",
            p->size, p->abi_major, p->abi_minor, min_sizes[p->abi_minor].plugin);
    return -1;
  }
  tb_plugin desc;
  memset(&desc, 0, sizeof desc);
  memcpy(&desc, p, p->size < sizeof desc ? p->size : sizeof desc);
  tb_component **items = NULL;
  int n = 0, cap = 0;
  const void *const *lists[TB_N_PLUGIN_KINDS] = {(const void *const *)desc.losses,
                                                 (const void *const *)desc.optimizers,
                                                 (const void *const *)desc.schedules};
  static const char *const struct_names[TB_N_PLUGIN_KINDS] = {"tb_loss_def", "tb_optimizer_def",
                                                              "tb_schedule_def"};
  const uint32_t need[TB_N_PLUGIN_KINDS] = {min_sizes[p->abi_minor].loss,
                                            min_sizes[p->abi_minor].opt,
                                            min_sizes[p->abi_minor].sched};
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_SCHEDULE; kind++) {
    const void *const *list = lists[kind - 1];
    for (int i = 0; list && list[i]; i++) {
      /* every definition opens with its size and its hyperparameter rows' size */
      const uint32_t *sizes = list[i];
      char msg[TB_ERRLEN];
      tb_component *c = NULL;
      if (sizes[0] < need[kind - 1]) {
        snprintf(msg, sizeof msg, "struct %s too short: %u bytes, ABI %u.%u needs at least %u",
                 struct_names[kind - 1], sizes[0], p->abi_major, p->abi_minor, need[kind - 1]);
        tb_errf(err, errlen, "%s", msg);
        goto reject;
      }
      if (sizes[1] < min_sizes[p->abi_minor].hparam) {
        tb_errf(err, errlen, "struct tb_hparam too short: %u bytes, ABI %u.%u needs at least %u",
                sizes[1], p->abi_major, p->abi_minor, min_sizes[p->abi_minor].hparam);
        goto reject;
      }
      if (kind == TB_KIND_LOSS) {
        tb_loss_def *l = host_copy(list[i], sizes[0], sizeof *l);
        const char *missing = !l->create                ? "create"
                              : !l->eval && !l->row     ? "eval or row"
                              : (l->flags & TB_LOSS_NOT_MEAN) && !l->eval
                                  ? "eval (a loss that is not a mean has no row form)"
                              : (l->requires & TB_REQ_COSINE_HEAD) && !l->head_scale
                                  ? "head_scale (a loss that requires a cosine head reports "
                                    "its scale s: ABI 2.1)"
                                  : NULL;
        c = make_component(kind, l->name, l->version, l->summary, l->reference, l->services,
                           l->flags, l->requires, l->hparams, l->n_hparams, l->hparam_size,
                           l->validate, missing, path, hash, msg, sizeof msg);
        if (c) c->loss = l; else free(l);
      } else if (kind == TB_KIND_OPTIMIZER) {
        tb_optimizer_def *o = host_copy(list[i], sizes[0], sizeof *o);
        const char *missing = !o->create ? "create" : !o->step ? "step" : NULL;
        c = make_component(kind, o->name, o->version, o->summary, o->reference, o->services,
                           o->flags, 0, o->hparams, o->n_hparams, o->hparam_size, o->validate,
                           missing, path, hash, msg, sizeof msg);
        if (c) c->opt = o; else free(o);
        /* the schedule scales `lr`; a wrapper's base has its own */
        int wraps = 0;
        for (int j = 0; c && j < c->n_hparams; j++)
          wraps |= c->hparams[j].type == TB_HP_COMPONENT &&
                   c->hparams[j].component_kind == TB_KIND_OPTIMIZER;
        if (c && !wraps && tb_hparam_index(c, "lr") < 0) {
          snprintf(msg, sizeof msg, "optimizer '%s' declares no 'lr' hyperparameter", c->name);
          free_component(c);
          c = NULL;
        }
      } else {
        tb_schedule_def *sd = host_copy(list[i], sizes[0], sizeof *sd);
        const char *missing = !sd->factor ? "factor" : NULL;
        c = make_component(kind, sd->name, sd->version, sd->summary, sd->reference,
                           sd->services, sd->flags, 0, sd->hparams, sd->n_hparams,
                           sd->hparam_size, sd->validate, missing, path, hash, msg, sizeof msg);
        if (c) c->sched = sd; else free(sd);
      }
      /* a schedule is created without a host stream and steps nothing */
      if (c && c->kind == TB_KIND_SCHEDULE && c->services) {
        snprintf(msg, sizeof msg, "schedule '%s' declares services (%#x), which a schedule "
                 "cannot use", c->name, c->services);
        free_component(c);
        c = NULL;
      }
      /* a wrapper runs its base through TB_SERVICE_BASE: it needs a component
       * hyperparameter of its own kind to name the base by */
      int own_kind_child = 0;
      for (int j = 0; c && j < c->n_hparams; j++)
        own_kind_child |= c->hparams[j].type == TB_HP_COMPONENT &&
                          c->hparams[j].component_kind == c->kind;
      if (c && (c->services & TB_SERVICE_BASE) &&
          (c->kind == TB_KIND_SCHEDULE || !own_kind_child)) {
        snprintf(msg, sizeof msg,
                 "%s '%s' declares TB_SERVICE_BASE but has no %s hyperparameter of type "
                 "component to run as its base",
                 tb_kind_name(c->kind), c->name, tb_kind_name(c->kind));
        free_component(c);
        c = NULL;
      }
      /* what a loss requires is checked against each scenario when a script
       * is loaded (script_runs.c); a bit this host does not know cannot be */
      const uint32_t known_req = TB_REQ_SOFT_TARGETS | TB_REQ_COSINE_HEAD | TB_REQ_SAMPLE_IDS;
      if (c && c->kind == TB_KIND_LOSS && (c->requires & ~known_req)) {
        snprintf(msg, sizeof msg, "loss '%s' requires what this trainbench does not know "
                 "(flags %#x)", c->name, c->requires & ~known_req);
        free_component(c);
        c = NULL;
      }
      for (int j = 0; c && j < n; j++)
        if (items[j]->kind == c->kind && strcmp(items[j]->name, c->name) == 0) {
          snprintf(msg, sizeof msg, "%s '%s' is provided twice", tb_kind_name(c->kind), c->name);
          free_component(c);
          c = NULL;
        }
      if (!c) {
        tb_errf(err, errlen, "bad component: %s", msg);
        goto reject;
      }
      items = xgrow(items, &cap, n + 1, sizeof *items);
      items[n++] = c;
    }
  }
  *out = items;
  *n_out = n;
  return 0;
reject:
  for (int j = 0; j < n; j++) free_component(items[j]);
  free(items);
  return -1;
}

/* Load `path`, appending its components to out[] (caller owns them). */
/* The whole load of a file: dlopen (the file's constructors run), the entry
 * point, the descriptor's checks. Its handle in *handle. */
static int open_and_check(const char *path, const char *hash, void **handle,
                          tb_component ***out, int *n_out, char *err, size_t errlen) {
  *out = NULL;
  *n_out = 0;
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    tb_errf(err, errlen, "cannot open: %s", dlerror());
    return -1;
  }
  tb_plugin_entry_fn entry = (tb_plugin_entry_fn)dlsym(h, "tb_plugin_entry");
  if (!entry) {
    tb_errf(err, errlen, "no entry point: symbol 'tb_plugin_entry' not found");
    dlclose(h);
    return -1;
  }
  const tb_plugin *p = entry();
  if (!p) {
    tb_errf(err, errlen, "entry point returned no descriptor");
    dlclose(h);
    return -1;
  }
  if (check_descriptor(p, path, hash, out, n_out, err, errlen)) {
    dlclose(h);
    return -1;
  }
  *handle = h;
  return 0;
}

/* The probe's child: the same load, whose outcome is all that matters (the
 * child exits after it). */
typedef struct probe_args {
  const char *path, *hash;
} probe_args;
static int probe_load(void *ud, char *err, size_t errlen) {
  const probe_args *a = ud;
  void *h;
  tb_component **items;
  int n;
  return open_and_check(a->path, a->hash, &h, &items, &n, err, errlen);
}

/* Load `path`, appending its components to out[] (caller owns them): after a
 * child process could (plugin_probe.c), so that a file whose constructor or
 * entry point crashes, exits or hangs is a problem, not the end of the
 * command. */
static int load_file(tb_registry *reg, const char *path, tb_component ***out, int *n_out,
                     char *err, size_t errlen) {
  *out = NULL;
  *n_out = 0;
  /* a file that is not an ELF shared object gets its own message */
  FILE *f = tb_fopen_regular(path, "plugin file", err, errlen);
  if (!f) return -1;
  unsigned char magic[4] = {0};
  size_t got = fread(magic, 1, 4, f);
  fclose(f);
  if (got < 4 || memcmp(magic, "\177ELF", 4) != 0) {
    tb_errf(err, errlen, "not a shared object (no ELF header)");
    return -1;
  }
  char hash[TB_HASHLEN];
  if (tb_hash_file(hash, path, err, errlen)) return -1;
  probe_args a = {path, hash};
  void *h;
  if (tb_plugin_probe(hash, probe_load, &a, err, errlen) ||
      open_and_check(path, hash, &h, out, n_out, err, errlen))
    return -1;
  reg->handles = xgrow(reg->handles, &reg->cap_handles, reg->n_handles + 1, sizeof(void *));
  reg->handles[reg->n_handles++] = h;
  return 0;
}

/* ---- the registry ---------------------------------------------------------- */

char *tb_services_text(uint32_t s, char *out, size_t len) {
  snprintf(out, len, "%s%s%s%s%s%s", s & TB_SERVICE_RNG ? "rng " : "",
           s & TB_SERVICE_EVAL ? "eval " : "", s & TB_SERVICE_JVP ? "jvp " : "",
           s & TB_SERVICE_NEXT_BATCH ? "next_batch " : "", s & TB_SERVICE_REPORT ? "report " : "",
           s & TB_SERVICE_BASE ? "base " : "");
  size_t n = strlen(out);
  if (n && out[n - 1] == ' ') out[n - 1] = 0;
  return out;
}

const tb_component *tb_registry_find(const tb_registry *reg, int kind, const char *name) {
  if (TB_KIND_IS_BUILTIN(kind)) {
    for (int i = 0; i < tb_builtin_count(); i++)
      if (tb_builtin_at(i)->kind == kind && strcmp(tb_builtin_at(i)->name, name) == 0)
        return tb_builtin_at(i);
    return NULL;
  }
  if (!reg) return NULL;
  for (int i = 0; i < reg->n; i++)
    if (reg->items[i]->kind == kind && strcmp(reg->items[i]->name, name) == 0)
      return reg->items[i];
  return NULL;
}

/* Add components found in one folder (or one file); `dup_is_error` marks the
 * components of this folder so that two with one name fail. */
static int add_components(tb_registry *reg, tb_component **items, int n, int first_of_folder,
                          char *err, size_t errlen) {
  for (int i = 0; i < n; i++) {
    tb_component *c = items[i];
    tb_component *prev = (tb_component *)tb_registry_find(reg, c->kind, c->name);
    if (prev) {
      int same_folder = 0;
      for (int j = first_of_folder; j < reg->n; j++)
        if (reg->items[j] == prev) same_folder = 1;
      if (same_folder) {
        tb_errf(err, errlen, "%s '%s' is provided by two files of one folder: '%s' and '%s'",
                tb_kind_name(c->kind), c->name, prev->file, c->file);
        for (int j = i; j < n; j++) free_component(items[j]);
        return -1;
      }
      prev->shadows = realloc(prev->shadows, sizeof(char *) * (size_t)(prev->n_shadows + 1));
      prev->shadows[prev->n_shadows++] = strdup(c->file);
      free_component(c);
      continue;
    }
    reg->items = xgrow(reg->items, &reg->cap, reg->n + 1, sizeof *reg->items);
    c->registry = reg;
    reg->items[reg->n++] = c;
  }
  return 0;
}

int tb_registry_add_file(tb_registry *reg, const char *path, char *err, size_t errlen) {
  char abspath[PATH_MAX];
  if (!realpath(path, abspath)) {
    tb_errf(err, errlen, "plugin '%s': cannot open: %s", path, strerror(errno));
    return -1;
  }
  tb_component **items;
  int n;
  char msg[TB_ERRLEN];
  if (load_file(reg, abspath, &items, &n, msg, sizeof msg)) {
    tb_errf(err, errlen, "plugin '%s': %s", path, msg);
    return -1;
  }
  int rc = add_components(reg, items, n, reg->n, err, errlen);
  free(items);
  return rc;
}

int tb_registry_add_descriptor(tb_registry *reg, const tb_plugin *p, const char *file,
                               const char *file_hash, char *err, size_t errlen) {
  tb_component **items;
  int n;
  char msg[TB_ERRLEN];
  if (check_descriptor(p, file, file_hash, &items, &n, msg, sizeof msg)) {
    tb_errf(err, errlen, "plugin '%s': %s", file, msg);
    return -1;
  }
  int rc = add_components(reg, items, n, reg->n, err, errlen);
  free(items);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect *.so files in dir and its direct subfolders. */
static void collect(const char *dir, int depth, char ***files, int *n, int *cap) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st)) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth > 0) collect(p, depth - 1, files, n, cap);
      continue;
    }
    size_t len = strlen(e->d_name);
    if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0) {
      *files = xgrow(*files, cap, *n + 1, sizeof(char *));
      (*files)[(*n)++] = strdup(p);
    }
  }
  closedir(d);
}

/* A plugin folder that someone else can write holds code this process will
 * run: say so (once per folder and command, on stderr). */
static void warn_writable(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return;
  const char *who = NULL;
  char buf[160];
  if (st.st_mode & S_IWOTH) {
    who = "every user";
  } else if ((st.st_mode & S_IWGRP) && st.st_gid != getegid()) {
    struct group *g = getgrgid(st.st_gid);
    snprintf(buf, sizeof buf, "the group '%s'", g ? g->gr_name : "?");
    who = buf;
  } else if (st.st_uid != geteuid() && st.st_uid != 0) {
    struct passwd *pw = getpwuid(st.st_uid);
    snprintf(buf, sizeof buf, "its owner '%s'", pw ? pw->pw_name : "?");
    who = buf;
  }
  if (who)
    fprintf(stderr, "trainbench: warning: plugin folder '%s' can be written by %s: code put "
            "there is loaded and run by trainbench\n", dir, who);
}

static int scan_folder(tb_registry *reg, const char *dir, char *err, size_t errlen) {
  warn_writable(dir);
  char **files = NULL;
  int n = 0, cap = 0;
  collect(dir, 1, &files, &n, &cap);
  if (n) qsort(files, (size_t)n, sizeof *files, cmp_str);
  int first = reg->n, rc = 0;
  for (int i = 0; i < n; i++) {
    tb_component **items;
    int m;
    char msg[TB_ERRLEN];
    if (rc == 0) {
      if (load_file(reg, files[i], &items, &m, msg, sizeof msg)) {
        add_problem(reg, "%s: %s", files[i], msg);
      } else {
        rc = add_components(reg, items, m, first, err, errlen);
        free(items);
      }
    }
    free(files[i]);
  }
  free(files);
  return rc;
}

int tb_default_plugin_dir(char *out, size_t outlen) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = 0;
  char p[PATH_MAX + 64];
  struct stat st;
  /* build tree: <build>/trainbench beside <build>/plugins */
  snprintf(p, sizeof p, "%s/plugins", exe);
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(out, outlen, "%s", p);
    return 0;
  }
  /* installed: <prefix>/bin/trainbench and <prefix>/<libdir>/trainbench/plugins */
  snprintf(p, sizeof p, "%s/%s", exe, TB_PLUGINDIR_REL);
  char r[PATH_MAX];
  if (realpath(p, r) && stat(r, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(out, outlen, "%s", r);
    return 0;
  }
  return -1;
}

tb_registry *tb_registry_new(void) {
  tb_registry *reg = calloc(1, sizeof *reg);
  if (!reg) abort();
  return reg;
}

int tb_registry_open(tb_registry **out, const char *default_dir, char *err, size_t errlen) {
  tb_registry *reg = tb_registry_new();
  *out = reg;
  const char *env = getenv("TRAINBENCH_PLUGIN_PATH");
  if (env && *env) {
    char *copy = strdup(env), *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      if (scan_folder(reg, dir, err, errlen)) {
        free(copy);
        return -1;
      }
    }
    free(copy);
  }
  if (default_dir && scan_folder(reg, default_dir, err, errlen)) return -1;
  return 0;
}

void tb_registry_close(tb_registry *reg) {
  if (!reg) return;
  for (int i = 0; i < reg->n; i++) free_component(reg->items[i]);
  free(reg->items);
  for (int i = 0; i < reg->n_problems; i++) free(reg->problems[i]);
  free(reg->problems);
  for (int i = 0; i < reg->n_handles; i++) dlclose(reg->handles[i]);
  free(reg->handles);
  free(reg);
}

int tb_registry_count(const tb_registry *reg) { return reg->n; }
const tb_component *tb_registry_at(const tb_registry *reg, int i) { return reg->items[i]; }
int tb_registry_problem_count(const tb_registry *reg) { return reg->n_problems; }
const char *tb_registry_problem(const tb_registry *reg, int i) { return reg->problems[i]; }

/* ---- the built-in components ---------------------------------------------- */

/* Every list of built-in components, in the order tb_builtin_at walks them. */
static const tb_component *const *(*const builtin_lists[])(int *) = {
    tb_dataset_components, tb_model_components, tb_corruption_components,
    tb_transform_components, tb_reduction_components};
#define N_BUILTIN_LISTS (int)(sizeof builtin_lists / sizeof *builtin_lists)

int tb_builtin_count(void) {
  int total = 0, n;
  for (int l = 0; l < N_BUILTIN_LISTS; l++) builtin_lists[l](&n), total += n;
  return total;
}

const tb_component *tb_builtin_at(int i) {
  for (int l = 0, n; l < N_BUILTIN_LISTS; l++) {
    const tb_component *const *list = builtin_lists[l](&n);
    if (i < n) return list[i];
    i -= n;
  }
  return NULL;
}
