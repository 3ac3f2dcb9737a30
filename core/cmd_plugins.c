/*
 * cmd_plugins.c — the commands that show the loaded components:
 * `trainbench plugins` (every component, what it shadows, rejected files)
 * and `trainbench describe NAME` (reference and hyperparameter table).
 *
 * Provides: tb_cmd_plugins, tb_cmd_describe.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "registry.h"
#include "trainbench/plugin.h"

static const char *usage_plugins =
    "usage: trainbench plugins\n"
    "\n"
    "List every loaded component (kind, name, version, file, summary), the files a\n"
    "component shadows, and plugin files that were rejected with the reason.\n"
    "Search order: $TRAINBENCH_PLUGIN_PATH, then the plugins beside the executable.\n";

static const char *usage_describe =
    "usage: trainbench describe NAME\n"
    "\n"
    "Show the reference, version, file and hyperparameter table of the loss and/or\n"
    "optimizer called NAME.\n";

int tb_cmd_plugins(int argc, char **argv) {
  if (tb_cmd_want_help(argc, argv)) return fputs(usage_plugins, stdout), 0;
  if (argc > 1) {
    fprintf(stderr, "trainbench plugins: unexpected argument '%s'\n%s", argv[1], usage_plugins);
    return 2;
  }
  tb_registry *reg;
  if (tb_cmd_open_registry(&reg, 1)) return 1;
  int n = tb_registry_count(reg);
  int wname = 4, wver = 7;
  for (int i = 0; i < n; i++) {
    const tb_component *c = tb_registry_at(reg, i);
    if ((int)strlen(c->name) > wname) wname = (int)strlen(c->name);
    if ((int)strlen(c->version) > wver) wver = (int)strlen(c->version);
  }
  printf("%-9s  %-*s  %-*s  %s\n", "kind", wname, "name", wver, "version", "summary / file");
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_OPTIMIZER; kind++)
    for (int i = 0; i < n; i++) {
      const tb_component *c = tb_registry_at(reg, i);
      if (c->kind != kind) continue;
      printf("%-9s  %-*s  %-*s  %s\n", tb_kind_name(c->kind), wname, c->name, wver, c->version,
             c->summary);
      printf("%-9s  %-*s  %-*s  %s\n", "", wname, "", wver, "", c->file);
      for (int s = 0; s < c->n_shadows; s++)
        printf("%-9s  %-*s  %-*s  shadows %s\n", "", wname, "", wver, "", c->shadows[s]);
    }
  int np = tb_registry_problem_count(reg);
  if (np) printf("\nrejected plugin files:\n");
  for (int i = 0; i < np; i++) printf("  %s\n", tb_registry_problem(reg, i));
  tb_registry_close(reg);
  return 0;
}

static void print_hparams(const tb_component *c) {
  if (c->n_hparams == 0) {
    printf("  (no hyperparameters)\n");
    return;
  }
  printf("  %-26s %-7s %-12s %-24s %s\n", "hyperparameter", "type", "default", "range", "help");
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    char def[64], range[96] = "", a[32], b[32];
    const char *type = "real";
    switch (h->type) {
    case TB_HP_INT:
      type = "int";
      snprintf(def, sizeof def, "%lld", (long long)h->def);
      snprintf(range, sizeof range, "[%lld, %lld]", (long long)h->min, (long long)h->max);
      break;
    case TB_HP_BOOL:
      type = "bool";
      snprintf(def, sizeof def, "%s", h->def ? "true" : "false");
      snprintf(range, sizeof range, "true | false");
      break;
    case TB_HP_CHOICE: {
      type = "choice";
      snprintf(def, sizeof def, "%s", h->choices[(int)h->def]);
      size_t k = 0;
      for (int j = 0; h->choices[j] && k < sizeof range; j++)
        k += (size_t)snprintf(range + k, sizeof range - k, "%s%s", j ? " | " : "", h->choices[j]);
      break;
    }
    default:
      tb_fmt_real(def, sizeof def, h->def);
      tb_fmt_real(a, sizeof a, h->min);
      tb_fmt_real(b, sizeof b, h->max);
      snprintf(range, sizeof range, "[%s, %s]%s", a, b, h->log_scale ? " log" : "");
    }
    printf("  %-26s %-7s %-12s %-24s %s\n", h->name, type, def, range, h->help ? h->help : "");
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
  for (int kind = TB_KIND_LOSS; kind <= TB_KIND_OPTIMIZER; kind++) {
    const tb_component *c = tb_registry_find(reg, kind, argv[1]);
    if (!c) continue;
    if (found++) printf("\n");
    printf("%s %s (version %s)\n", tb_kind_name(c->kind), c->name, c->version);
    printf("  %s\n", c->summary);
    printf("  reference: %s\n", c->reference);
    printf("  file:      %s\n", c->file);
    printf("  services:  %s%s%s%s\n", c->services & TB_SERVICE_RNG ? "rng " : "",
           c->services & TB_SERVICE_EVAL ? "eval " : "", c->services & TB_SERVICE_JVP ? "jvp" : "",
           c->services ? "" : "none");
    if (c->validate) printf("  checks combinations of its hyperparameters\n");
    printf("\n");
    print_hparams(c);
  }
  if (!found) {
    fprintf(stderr, "trainbench describe: no loss or optimizer named '%s' (valid:", argv[1]);
    for (int i = 0; i < tb_registry_count(reg); i++)
      fprintf(stderr, "%s %s", i ? "," : "", tb_registry_at(reg, i)->name);
    fprintf(stderr, ")\n");
  }
  tb_registry_close(reg);
  return found ? 0 : 1;
}
