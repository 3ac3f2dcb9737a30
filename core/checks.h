/*
 * checks.h — between the runner of `trainbench check` (check.c: child
 * processes, rows, time limits, the command) and its suite of checks
 * (checks.c: what is checked). A check is a function of one component that
 * reports its rows through tb_check_emit, in the child process that runs it.
 *
 * Provides: tb_checks_help, tb_checks_for, tb_checks_set_registries
 * (checks.c); tb_check_emit (check.c).
 */
#ifndef TB_CHECKS_H
#define TB_CHECKS_H

#include "registry.h"

typedef struct tb_check_def {
  const char *name;
  void (*fn)(const tb_component *c);
} tb_check_def;

/* The checks of c's kind, in the order they run; their number. */
int tb_checks_for(const tb_component *c, const tb_check_def **out);
/* What each check asserts, for `trainbench check --help`. */
extern const char tb_checks_help[];
/* Every registry the command opened (the loaded set, then one per plugin
 * file given), which the unique check looks through; kept, not copied. */
void tb_checks_set_registries(tb_registry *const *regs, int n);

/* One row of the check in progress: pass or fail, the check's name, the
 * measured figure and its tolerance (NULL: "-") and the detail. */
void tb_check_emit(int pass, const char *check, const char *measured, const char *tol,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* TB_CHECKS_H */
