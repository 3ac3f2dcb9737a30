/*
 * check.c — `trainbench check`: the runner of the conformance suite for
 * plugins (the checks themselves are in checks.c).
 *
 * Each selected loss, optimizer and schedule is exercised in a forked child
 * process that reports to the parent over a pipe, one line per event:
 *   "S\t<i>"                              check number i starts
 *   "R\t<pass>\t<check>\t<measured>\t<tolerance>\t<detail>"   one row
 *   "D\t<i>"                              check number i is done
 *   "E"                                   every check is done
 * A child that dies (signal, sanitizer report, exit) or outlives the
 * component's time limit fails the check it was in, and a new child carries
 * on with the next check, so a bad plugin neither takes the checker down nor
 * hides the results of its other checks. The parent prints every row as an
 * aligned table, then "N checks, M failed".
 *
 * Provides: tb_cmd_check, tb_check_emit.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "child.h"
#include "cmd.h"
#include "registry.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define TB_HAVE_LSAN 1
#endif

#define DEFAULT_TIMEOUT 60.0

static const char *usage_check =
    "usage: trainbench check [PLUGIN_FILE | NAME ...] [--timeout SECONDS]\n"
    "\n"
    "Run the conformance suite on plugins and print one row per check: PASS or FAIL,\n"
    "kind, name, check, detail, the measured figure and its tolerance, then\n"
    "\"N checks, M failed\". Exit status 1 if any check failed, 2 on usage errors.\n"
    "\n"
    "Without arguments every loaded component is checked (what `trainbench plugins`\n"
    "lists) and plugin files that were rejected are reported. An argument with a '/'\n"
    "or ending in .so is a plugin file, loaded on its own; any other argument names a\n"
    "loss, optimizer or schedule. Each component runs in a child process: a crash or a\n"
    "hang fails the check it was in, and the other checks still run.\n"
    "\n"
    "      --timeout SEC  time limit per component (default 60)\n"
    "  -h, --help         show this help\n"
    "\n"; /* then tb_checks_help: what each check asserts */

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */
/* ------------------------------------------------------------------------ */

/* Every registry the command opened: the loaded set first, then one per
 * plugin file given (the unique check looks at all of them). */
static tb_registry **g_regs;
static int g_n_regs;

typedef struct row {
  int pass;
  char kind[16];
  char name[128];
  char check[32];
  char measured[48];
  char tol[48];
  char detail[1024];
} row;

static row *rows;
static int n_rows, cap_rows;

static void add_row(int pass, const char *kind, const char *name, const char *check,
                    const char *measured, const char *tol, const char *detail) {
  if (n_rows == cap_rows) {
    cap_rows = cap_rows ? cap_rows * 2 : 64;
    rows = realloc(rows, sizeof *rows * (size_t)cap_rows);
    if (!rows) abort();
  }
  row *r = &rows[n_rows++];
  r->pass = pass;
  snprintf(r->kind, sizeof r->kind, "%s", kind);
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->check, sizeof r->check, "%s", check);
  snprintf(r->measured, sizeof r->measured, "%s", measured && *measured ? measured : "-");
  snprintf(r->tol, sizeof r->tol, "%s", tol && *tol ? tol : "-");
  snprintf(r->detail, sizeof r->detail, "%s", detail);
}

/* ---- the child's side: rows go over the pipe at once, so a crash later
 * loses nothing already said ------------------------------------------------ */

static int g_fd = -1;

static void sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sendf(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) tb_child_send(g_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void one_line(char *s) {
  for (; *s; s++)
    if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

void tb_check_emit(int pass, const char *check, const char *measured, const char *tol,
                   const char *fmt, ...) {
  char detail[900], m[48], t[48], line[1100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  snprintf(m, sizeof m, "%s", measured ? measured : "-");
  snprintf(t, sizeof t, "%s", tol ? tol : "-");
  one_line(detail), one_line(m), one_line(t);
  int n = snprintf(line, sizeof line, "R\t%d\t%s\t%s\t%s\t%s\n", pass ? 1 : 0, check, m, t,
                   detail);
  if (n >= (int)sizeof line) {
    n = (int)sizeof line - 1;
    line[n - 1] = '\n';
  }
  tb_child_send(g_fd, line, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* The child: runs the checks of one component from `first` on              */
/* ------------------------------------------------------------------------ */

static void child_main(const tb_component *c, int first, int fd) {
  g_fd = fd;
  const tb_check_def *cs;
  int n = tb_checks_for(c, &cs);
  for (int i = first; i < n; i++) {
    sendf("S\t%d\n", i);
    cs[i].fn(c);
    sendf("D\t%d\n", i);
  }
  sendf("E\n");
  close(fd);
#ifdef TB_HAVE_LSAN
  /* _exit skips LeakSanitizer's own end-of-process check; run it here (a
   * no-op unless ASAN_OPTIONS has detect_leaks=1) */
  if (__lsan_do_recoverable_leak_check()) _exit(23);
#endif
}

/* ------------------------------------------------------------------------ */
/* The parent: one child at a time per component                            */
/* ------------------------------------------------------------------------ */

typedef struct child {
  tb_child t;    /* the process, its pipes (fd_msg carries the rows), its output's tail */
  const tb_component *c;
  int started;   /* last "S" index, -1 before any */
  int done;      /* last "D" index */
  int got_end;
} child;

static void child_line(void *ud, char *line) {
  child *ch = ud;
  const tb_component *c = ch->c;
  if (line[0] == 'S' && line[1] == '\t') {
    ch->started = atoi(line + 2);
  } else if (line[0] == 'D' && line[1] == '\t') {
    ch->done = atoi(line + 2);
  } else if (line[0] == 'E' && line[1] == 0) {
    ch->got_end = 1;
  } else if (line[0] == 'R' && line[1] == '\t') {
    char *f[5], *p = line + 2;
    for (int i = 0; i < 5; i++) {
      f[i] = p;
      char *tab = i < 4 ? strchr(p, '\t') : NULL;
      if (i < 4 && !tab) return; /* malformed: ignore */
      if (tab) *tab = 0, p = tab + 1;
    }
    add_row(atoi(f[0]), tb_kind_name(c->kind), c->name, f[1], f[2], f[3], f[4]);
  }
}

/* Fork a child that runs checks first.. of c; 0 or -1 (message in err). */
static int spawn(child *ch, const tb_component *c, int first, char *err, size_t errlen) {
  memset(ch, 0, sizeof *ch);
  int msg_fd;
  int rc = tb_child_fork(&ch->t, &msg_fd, NULL, 0, err, errlen);
  if (rc < 0) return -1;
  if (rc == 0) {
    child_main(c, first, msg_fd);
    _exit(0); /* not exit(): atexit handlers and stdio buffers belong to the parent */
  }
  ch->c = c;
  ch->started = ch->done = first - 1;
  return 0;
}

/* Run every check of c, restarting after a crash; rows land in rows[]. */
static void run_component(const tb_component *c, double timeout) {
  const tb_check_def *cs;
  const int n = tb_checks_for(c, &cs);
  const char *kind = tb_kind_name(c->kind);
  const double deadline = tb_now_mono() + timeout;
  int next = 0;
  while (next < n) {
    child ch;
    char err[TB_ERRLEN];
    if (spawn(&ch, c, next, err, sizeof err)) {
      for (int i = next; i < n; i++) add_row(0, kind, c->name, cs[i].name, NULL, NULL, err);
      return;
    }
    int timed_out = 0, reaped = 0, wstatus = 0;
    while (ch.t.fd_msg >= 0 || ch.t.fd_out >= 0) {
      /* a process the plugin started may hold the pipes open after the child
       * is gone: at the child's end, take what the pipes hold and stop */
      if (waitpid(ch.t.pid, &wstatus, WNOHANG) == ch.t.pid) {
        reaped = 1;
        while (ch.t.fd_msg >= 0 && tb_child_read_msg(&ch.t, child_line, &ch) > 0) {
        }
        while (ch.t.fd_out >= 0 && tb_child_read_out(&ch.t, 2) > 0) {
        }
        break;
      }
      struct pollfd pf[2];
      int np = 0;
      if (ch.t.fd_msg >= 0) pf[np++] = (struct pollfd){.fd = ch.t.fd_msg, .events = POLLIN};
      if (ch.t.fd_out >= 0) pf[np++] = (struct pollfd){.fd = ch.t.fd_out, .events = POLLIN};
      double left = deadline - tb_now_mono();
      if (left <= 0) {
        timed_out = 1;
        break;
      }
      int rc = poll(pf, (nfds_t)np, (int)fmin(left * 1000 + 1, 1000));
      if (rc < 0 && errno != EINTR) break;
      for (int i = 0; rc > 0 && i < np; i++) {
        if (!pf[i].revents) continue;
        if (pf[i].fd == ch.t.fd_msg)
          tb_child_read_msg(&ch.t, child_line, &ch);
        else
          tb_child_read_out(&ch.t, 2); /* the plugin's messages pass through to our stderr */
      }
    }
    if (timed_out) kill(ch.t.pid, SIGKILL);
    while (!reaped && waitpid(ch.t.pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    tb_child_close(&ch.t);
    if (ch.got_end && !timed_out) {
      if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)) {
        char how[128], tail[400], detail[700];
        tb_wait_status_text(wstatus, how, sizeof how);
        tb_child_tail_text(&ch.t, tail, sizeof tail, 300);
        snprintf(detail, sizeof detail,
                 "the checking process %s after its last check (valgrind or a sanitizer "
                 "reported errors, e.g. leaks; see stderr)%s%s",
                 how, tail[0] ? ": " : "", tail);
        add_row(0, kind, c->name, "exit", NULL, "status 0", detail);
      }
      return;
    }
    /* the check in progress (or the one about to start) failed */
    int cur = ch.started > ch.done ? ch.started : ch.done + 1;
    if (cur >= n) return; /* died after its last check but before "E": nothing lost */
    char how[128], tail[400], detail[700];
    tb_child_tail_text(&ch.t, tail, sizeof tail, 300);
    if (timed_out) {
      snprintf(detail, sizeof detail, "timed out: still running after the component's %g s, "
               "killed%s%s", timeout, tail[0] ? "; output: " : "", tail);
    } else {
      tb_wait_status_text(wstatus, how, sizeof how);
      snprintf(detail, sizeof detail, "crashed: %s%s%s", how, tail[0] ? "; output: " : "",
               tail);
    }
    add_row(0, kind, c->name, cs[cur].name, NULL, NULL, detail);
    if (timed_out) {
      for (int i = cur + 1; i < n; i++)
        add_row(0, kind, c->name, cs[i].name, NULL, NULL,
                "not run: the component's time limit ran out");
      return;
    }
    next = cur + 1;
  }
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

static int is_file_arg(const char *a) {
  size_t n = strlen(a);
  return strchr(a, '/') || (n >= 3 && strcmp(a + n - 3, ".so") == 0);
}

static void print_table(void) {
  int w[6] = {6, 4, 4, 5, 6, 8}; /* result kind name check detail measured */
  for (int i = 0; i < n_rows; i++) {
    const row *r = &rows[i];
    int len[6] = {4, (int)strlen(r->kind), (int)strlen(r->name), (int)strlen(r->check),
                  (int)strlen(r->detail), (int)strlen(r->measured)};
    for (int j = 0; j < 6; j++)
      if (len[j] > w[j]) w[j] = len[j];
  }
  if (w[4] > 60) w[4] = 60; /* longer details push their own row's figures right */
  printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "result", w[1], "kind", w[2], "name",
         w[3], "check", w[4], "detail", w[5], "measured", "tolerance");
  for (int i = 0; i < n_rows; i++) {
    const row *r = &rows[i];
    printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], r->pass ? "PASS" : "FAIL", w[1],
           r->kind, w[2], r->name, w[3], r->check, w[4], r->detail, w[5], r->measured, r->tol);
  }
}

int tb_cmd_check(int argc, char **argv) {
  static const struct option opts[] = {{"timeout", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  double timeout = DEFAULT_TIMEOUT;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    switch (opt) {
    case 't':
      timeout = strtod(optarg, &end);
      if (*end || !(timeout > 0) || !isfinite(timeout)) {
        fprintf(stderr, "trainbench check: --timeout expects seconds > 0, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage_check, stdout), fputs(tb_checks_help, stdout); return 0;
    default: fputs(usage_check, stderr), fputs(tb_checks_help, stderr); return 2;
    }
  }
  const int n_args = argc - optind;
  char **args = argv + optind;

  /* the loaded set, as `trainbench plugins` loads it */
  char dir[PATH_MAX], err[TB_ERRLEN];
  int has_dir = tb_default_plugin_dir(dir, sizeof dir) == 0;
  g_regs = calloc((size_t)n_args + 1, sizeof *g_regs);
  if (!g_regs) abort();
  if (tb_registry_open(&g_regs[0], has_dir ? dir : NULL, err, sizeof err)) {
    fprintf(stderr, "trainbench check: %s\n", err);
    tb_registry_close(g_regs[0]);
    free(g_regs);
    return 1;
  }
  g_n_regs = 1;
  tb_registry *loaded = g_regs[0];

  /* names first: an unknown one is a usage error, before anything runs */
  for (int a = 0; a < n_args; a++) {
    if (is_file_arg(args[a])) continue;
    if (!tb_registry_find(loaded, TB_KIND_LOSS, args[a]) &&
        !tb_registry_find(loaded, TB_KIND_OPTIMIZER, args[a]) &&
        !tb_registry_find(loaded, TB_KIND_SCHEDULE, args[a])) {
      fprintf(stderr, "trainbench check: no loss or optimizer named '%s', and no schedule (valid:",
              args[a]);
      for (int i = 0; i < tb_registry_count(loaded); i++)
        fprintf(stderr, "%s %s", i ? "," : "", tb_registry_at(loaded, i)->name);
      fprintf(stderr, ")\n");
      tb_registry_close(loaded);
      free(g_regs);
      return 2;
    }
  }

  /* the selection, in order, without repeats */
  int cap_sel = tb_registry_count(loaded) + 16, n_sel = 0;
  const tb_component **sel = malloc(sizeof *sel * (size_t)cap_sel);
  if (!sel) abort();
#define SELECT(comp)                                                                   \
  do {                                                                                 \
    const tb_component *c_ = (comp);                                                   \
    int dup_ = 0;                                                                      \
    for (int s_ = 0; s_ < n_sel; s_++) dup_ |= sel[s_] == c_;                          \
    if (dup_) break;                                                                   \
    if (n_sel == cap_sel) {                                                            \
      cap_sel *= 2;                                                                    \
      sel = realloc(sel, sizeof *sel * (size_t)cap_sel);                               \
      if (!sel) abort();                                                               \
    }                                                                                  \
    sel[n_sel++] = c_;                                                                 \
  } while (0)

  if (n_args == 0) {
    for (int i = 0; i < tb_registry_problem_count(loaded); i++) {
      /* "FILE: reason" */
      const char *p = tb_registry_problem(loaded, i);
      const char *colon = strstr(p, ": ");
      char file[PATH_MAX];
      snprintf(file, sizeof file, "%.*s", colon ? (int)(colon - p) : (int)strlen(p), p);
      add_row(0, "plugin", file, "load", NULL, NULL, colon ? colon + 2 : p);
    }
    for (int kind = TB_KIND_LOSS; kind <= TB_KIND_SCHEDULE; kind++)
      for (int i = 0; i < tb_registry_count(loaded); i++)
        if (tb_registry_at(loaded, i)->kind == kind) SELECT(tb_registry_at(loaded, i));
  }
  for (int a = 0; a < n_args; a++) {
    if (!is_file_arg(args[a])) {
      for (int kind = TB_KIND_LOSS; kind <= TB_KIND_SCHEDULE; kind++) {
        const tb_component *c = tb_registry_find(loaded, kind, args[a]);
        if (c) SELECT(c);
      }
      continue;
    }
    tb_registry *fr = tb_registry_new(); /* this file alone, whatever the path holds */
    g_regs[g_n_regs++] = fr;
    if (tb_registry_add_file(fr, args[a], err, sizeof err)) {
      /* the loader says "plugin 'PATH': reason"; the row names the file already */
      char prefix[PATH_MAX + 16];
      snprintf(prefix, sizeof prefix, "plugin '%s': ", args[a]);
      const char *reason = strncmp(err, prefix, strlen(prefix)) == 0 ? err + strlen(prefix) : err;
      add_row(0, "plugin", args[a], "load", NULL, NULL, reason);
      continue;
    }
    if (tb_registry_count(fr) == 0) {
      add_row(0, "plugin", args[a], "load", NULL, NULL,
              "the file provides no loss, optimizer or schedule");
      continue;
    }
    for (int kind = TB_KIND_LOSS; kind <= TB_KIND_SCHEDULE; kind++)
      for (int i = 0; i < tb_registry_count(fr); i++)
        if (tb_registry_at(fr, i)->kind == kind) SELECT(tb_registry_at(fr, i));
  }
#undef SELECT

  tb_checks_set_registries(g_regs, g_n_regs);
  const int tty = isatty(2);
  for (int i = 0; i < n_sel; i++) {
    if (tty) {
      fprintf(stderr, "\rchecking %s '%s' (%d of %d)...\033[K", tb_kind_name(sel[i]->kind),
              sel[i]->name, i + 1, n_sel);
      fflush(stderr);
    }
    run_component(sel[i], timeout);
  }
  if (tty && n_sel) fprintf(stderr, "\r\033[K");

  print_table();
  int failed = 0;
  for (int i = 0; i < n_rows; i++) failed += !rows[i].pass;
  printf("%d checks, %d failed\n", n_rows, failed);
  fflush(stdout);

  free(sel);
  free(rows);
  rows = NULL;
  n_rows = cap_rows = 0;
  for (int r = 0; r < g_n_regs; r++) tb_registry_close(g_regs[r]);
  free(g_regs);
  g_regs = NULL;
  g_n_regs = 0;
  tb_checks_set_registries(NULL, 0);
  return failed ? 1 : 0;
}
