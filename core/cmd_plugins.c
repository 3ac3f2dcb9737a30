/*
 * cmd_plugins.c — the commands that show the components, generic over
 * kinds: `trainbench plugins` (every component by kind — plugins with their
 * file, built-ins as such —, what it shadows, rejected files) and
 * `trainbench describe NAME` (reference and hyperparameter table of every
 * type, for every component of that name whatever its kind), and `trainbench
 * describe metrics` (the metrics registry, metrics.h, one line each).
 *
 * Provides: tb_cmd_plugins, tb_cmd_describe.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "hparam.h"
#include "metrics.h"
#include "registry.h"
#include "trainbench/plugin.h"

static const char *usage_plugins =
    "usage: trainbench plugins\n"
    "\n"
    "List every component by kind — losses, optimizers and schedules from plugins\n"
    "(name, version, summary, file), datasets and models built into trainbench — the\n"
    "files a component shadows, and plugin files that were rejected with the reason.\n"
    "Search order: $TRAINBENCH_PLUGIN_PATH, then the plugins beside the executable.\n";

static const char *usage_describe =
    "usage: trainbench describe NAME\n"
    "\n"
    "Show the reference, version, file and hyperparameter table (types, defaults,\n"
    "ranges, lengths, fields) of every component called NAME: a loss, optimizer or\n"
    "schedule, a dataset (tb.data.NAME) or a model (tb.model.NAME).\n"
    "`trainbench describe metrics` lists what every evaluation pass measures;\n"
    "`trainbench describe METRIC` shows one of them.\n";

/* Every component, plugins' then built-ins', in kind order. */
static int n_all(const tb_registry *reg) { return tb_registry_count(reg) + tb_builtin_count(); }
static const tb_component *at_all(const tb_registry *reg, int i) {
  int n = tb_registry_count(reg);
  return i < n ? tb_registry_at(reg, i) : tb_builtin_at(i - n);
}

int tb_cmd_plugins(int argc, char **argv) {
  if (tb_cmd_want_help(argc, argv)) return fputs(usage_plugins, stdout), 0;
  if (argc > 1) {
    fprintf(stderr, "trainbench plugins: unexpected argument '%s'\n%s", argv[1], usage_plugins);
    return 2;
  }
  tb_registry *reg;
  if (tb_cmd_open_registry(&reg, 1)) return 1;
  int n = n_all(reg);
  int wname = 4, wver = 7;
  for (int i = 0; i < n; i++) {
    const tb_component *c = at_all(reg, i);
    if ((int)strlen(c->name) > wname) wname = (int)strlen(c->name);
    if ((int)strlen(c->version) > wver) wver = (int)strlen(c->version);
  }
  printf("%-9s  %-*s  %-*s  %s\n", "kind", wname, "name", wver, "version", "summary / file");
  for (int kind = 1; kind <= TB_N_KINDS; kind++)
    for (int i = 0; i < n; i++) {
      const tb_component *c = at_all(reg, i);
      if (c->kind != kind) continue;
      printf("%-9s  %-*s  %-*s  %s\n", tb_kind_name(c->kind), wname, c->name, wver, c->version,
             c->summary);
      printf("%-9s  %-*s  %-*s  %s\n", "", wname, "", wver, "", c->file ? c->file : "built in");
      for (int s = 0; s < c->n_shadows; s++)
        printf("%-9s  %-*s  %-*s  shadows %s\n", "", wname, "", wver, "", c->shadows[s]);
    }
  int np = tb_registry_problem_count(reg);
  if (np) printf("\nrejected plugin files:\n");
  for (int i = 0; i < np; i++) printf("  %s\n", tb_registry_problem(reg, i));
  tb_registry_close(reg);
  return 0;
}

/* The type column: the type, or the kind a component hyperparameter takes. */
static const char *type_text(const tb_hparam *h) {
  return h->type == TB_HP_COMPONENT ? tb_kind_name(h->component_kind) : tb_hp_type_name(h->type);
}

/* The range column: what a value may be, generic over types. */
static void range_text(const tb_hparam *h, char *out, size_t len) {
  char a[32], b[32], el[96];
  tb_fmt_real(a, sizeof a, h->min);
  tb_fmt_real(b, sizeof b, h->max);
  if (h->max >= DBL_MAX && h->min <= -DBL_MAX)
    snprintf(el, sizeof el, "finite");
  else if (h->max >= DBL_MAX)
    snprintf(el, sizeof el, ">= %s", a);
  else if (h->min <= -DBL_MAX)
    snprintf(el, sizeof el, "<= %s", b);
  else
    snprintf(el, sizeof el, "[%s, %s]", a, b);
  const char *integers = (h->flags & TB_HPF_INTEGER) ? " integers" : "";
  switch (h->type) {
  case TB_HP_REAL: snprintf(out, len, "%s%s", el, h->log_scale ? " log" : ""); break;
  case TB_HP_INT:
    if (fabs(h->min) >= TB_HP_INT_LIMIT && fabs(h->max) >= TB_HP_INT_LIMIT)
      snprintf(out, len, "|x| <= 2^53");
    else
      snprintf(out, len, "%s", el);
    break;
  case TB_HP_BOOL: snprintf(out, len, "true | false"); break;
  case TB_HP_CHOICE: {
    size_t k = 0;
    out[0] = 0;
    for (int j = 0; h->choices[j] && k < len; j++)
      k += (size_t)snprintf(out + k, len - k, "%s%s", j ? " | " : "", h->choices[j]);
    break;
  }
  case TB_HP_STRING: snprintf(out, len, "text"); break;
  case TB_HP_LIST:
    if (h->flags & TB_HPF_K)
      snprintf(out, len, "K%s in %s (or none)", integers, el);
    else if (h->max_n > 0 && h->min_n == h->max_n)
      snprintf(out, len, "%d%s in %s", h->min_n, integers, el);
    else if (h->max_n > 0)
      snprintf(out, len, "%d to %d%s in %s", h->min_n, h->max_n, integers, el);
    else
      snprintf(out, len, "any number%s in %s", integers, el);
    break;
  case TB_HP_RECORD: {
    size_t k = (size_t)snprintf(out, len, "{");
    for (int j = 0; h->choices[j] && k < len; j++)
      k += (size_t)snprintf(out + k, len - k, "%s%s", j ? ", " : "", h->choices[j]);
    if (k < len) snprintf(out + k, len - k, "}%s in %s", integers, el);
    break;
  }
  case TB_HP_MATRIX:
    snprintf(out, len, "%s%s in %s", (h->flags & TB_HPF_K) ? "K x K (or none)" : "rows x cols",
             integers, el);
    break;
  case TB_HP_COMPONENT:
    snprintf(out, len, "any %s (name or tb.%s(...))", tb_kind_name(h->component_kind),
             tb_kind_name(h->component_kind));
    break;
  default: snprintf(out, len, "?");
  }
}

static void print_hparams(const tb_component *c) {
  if (c->n_hparams == 0) {
    printf("  (no hyperparameters)\n");
    return;
  }
  printf("  %-26s %-9s %-14s %-26s %s\n", "hyperparameter", "type", "default", "range", "help");
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    char def[256], range[256];
    tb_value d;
    tb_value_default(h, &d);
    if (h->flags & TB_HPF_REQUIRED)
      snprintf(def, sizeof def, "(required)");
    else if (h->flags & TB_HPF_OPTIONAL)
      snprintf(def, sizeof def, "(none)");
    else if (h->type == TB_HP_COMPONENT)
      snprintf(def, sizeof def, "%s", h->def_text ? h->def_text : "-");
    else if ((h->type == TB_HP_LIST || h->type == TB_HP_MATRIX) && d.n == 0)
      snprintf(def, sizeof def, "(none)");
    else
      tb_hp_value_text(h, &d, NULL, def, sizeof def);
    range_text(h, range, sizeof range);
    printf("  %-26s %-9s %-14s %-26s %s\n", h->name, type_text(h), def, range,
           h->help ? h->help : "");
  }
}

static void print_requires(uint32_t r) {
  if (!r) return;
  static const struct {
    uint32_t flag;
    const char *what;
  } req[] = {{TB_REQ_SOFT_TARGETS, "soft targets"},
             {TB_REQ_COSINE_HEAD, "a cosine head (it reports the head's scale s)"},
             {TB_REQ_SAMPLE_IDS, "sample ids"}};
  printf("  requires: ");
  const char *sep = " ";
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
    if (r & req[i].flag) printf("%s%s", sep, req[i].what), sep = "; ";
  printf("\n");
}

/* The registry, one line per metric, as the README lists it (a test
 * compares the two): "- `name` (higher is better): formula; from: ...". */
static void print_metrics(const char *only) {
  for (int i = 0; i < tb_metric_count(); i++) {
    const tb_metric_def *d = tb_metric_at(i);
    if (only && strcmp(only, d->name) != 0) continue;
    char needs[128];
    tb_metric_needs_text(d->needs, needs, sizeof needs);
    printf("- `%s` (%s is better): %s; from: %s\n", d->name,
           d->higher_is_better ? "higher" : "lower", d->formula, needs);
  }
}

int tb_cmd_describe(int argc, char **argv) {
  if (tb_cmd_want_help(argc, argv)) return fputs(usage_describe, stdout), 0;
  if (argc != 2) {
    fprintf(stderr, "trainbench describe: expected one NAME\n%s", usage_describe);
    return 2;
  }
  tb_registry *reg;
  if (tb_cmd_open_registry(&reg, 0)) return 1;
  int found = 0;
  if (strcmp(argv[1], "metrics") == 0 || tb_metric_find(argv[1])) {
    print_metrics(strcmp(argv[1], "metrics") == 0 ? NULL : argv[1]);
    found++;
  }
  for (int kind = 1; kind <= TB_N_KINDS; kind++) {
    const tb_component *c = tb_registry_find(reg, kind, argv[1]);
    if (!c) continue;
    if (found++) printf("\n");
    char label[160];
    printf("%s %s (version %s)", tb_kind_name(c->kind), c->name, c->version);
    if (TB_KIND_IS_BUILTIN(c->kind))
      printf(" — in a script: %s {...}", tb_component_label(c, label, sizeof label));
    printf("\n  %s\n", c->summary);
    printf("  reference: %s\n", c->reference);
    printf("  file:      %s\n", c->file ? c->file : "built in");
    char services[96];
    if (c->file)
      printf("  services:  %s\n",
             c->services ? tb_services_text(c->services, services, sizeof services) : "none");
    print_requires(c->requires);
    if (c->validate) printf("  checks combinations of its hyperparameters\n");
    printf("\n");
    print_hparams(c);
  }
  if (!found) {
    fprintf(stderr, "trainbench describe: no component or metric named '%s' (valid: metrics,",
            argv[1]);
    for (int i = 0, n = n_all(reg), first = 1; i < n; i++) {
      int dup = 0; /* a name two kinds share, once */
      for (int j = 0; j < i && !dup; j++)
        dup = strcmp(at_all(reg, j)->name, at_all(reg, i)->name) == 0;
      if (!dup) fprintf(stderr, "%s %s", first ? "" : ",", at_all(reg, i)->name), first = 0;
    }
    fprintf(stderr, ")\n");
  }
  tb_registry_close(reg);
  return found ? 0 : 1;
}
