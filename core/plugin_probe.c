/*
 * plugin_probe.c — a plugin file is loaded in a child process before the
 * command that wants it loads it itself. dlopen runs the file's constructors
 * and the loader then calls its entry point: code of the plugin's that, if
 * it crashes, calls exit or never returns, would take down `plugins`,
 * `run`, `check` — every command that loads plugins — without a word. The
 * child does the whole load (dlopen, the entry point, every check of the
 * descriptor) and reports; the parent loads the file only if the child
 * could, and otherwise records why, naming the file: "killed by signal 11
 * (SIGSEGV ...) while it was being loaded", "ended the process (exited with
 * status 3) while it was being loaded", "did not finish loading within 20 s".
 *
 * A file that loaded is remembered by its content hash in a cache file
 * (TRAINBENCH_CACHE_DIR, else $XDG_CACHE_HOME/trainbench, else
 * ~/.cache/trainbench: `plugins-loaded`, one hash a line), so each build of
 * a plugin is probed once, not at every command. Without a usable cache
 * folder every load is probed (slower, never wrong).
 *
 * Provides: tb_plugin_probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "hash.h"
#include "plugin_probe.h"
#include "util.h"

#define PROBE_SECONDS 20.0
#define CACHE_FILE "plugins-loaded"

/* The cache file's path, its folder made if need be; 0, or -1 when there is
 * no usable place (then nothing is cached). */
static int cache_path(char *out, size_t len) {
  const char *dir = getenv("TRAINBENCH_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
             *home = getenv("HOME");
  char base[1024];
  if (dir && *dir)
    snprintf(base, sizeof base, "%s", dir);
  else if (xdg && *xdg)
    snprintf(base, sizeof base, "%s/trainbench", xdg);
  else if (home && *home) {
    char parent[1024];
    snprintf(parent, sizeof parent, "%s/.cache", home);
    mkdir(parent, 0700);
    snprintf(base, sizeof base, "%s/.cache/trainbench", home);
  } else
    return -1;
  if (mkdir(base, 0700) != 0 && errno != EEXIST) return -1;
  if ((size_t)snprintf(out, len, "%s/%s", base, CACHE_FILE) >= len) return -1;
  return 0;
}

static int cached(const char *hash) {
  char path[1100], line[64];
  if (cache_path(path, sizeof path)) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    found = strncmp(line, hash, TB_HASHLEN - 1) == 0 && line[TB_HASHLEN - 1] == '\n';
  fclose(f);
  return found;
}

/* One line, one write with O_APPEND: concurrent commands may append at once
 * without mixing their lines. Best effort: a cache that cannot be written
 * only means the next command probes again. */
static void remember(const char *hash) {
  char path[1100], line[TB_HASHLEN + 1];
  if (cache_path(path, sizeof path)) return;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int n = snprintf(line, sizeof line, "%s\n", hash);
  if (write(fd, line, (size_t)n) != n) { /* best effort */
  }
  close(fd);
}

typedef struct report {
  int got;               /* 1 OK, -1 an error message */
  char msg[TB_ERRLEN];
} report;

static void on_line(void *ud, char *line) {
  report *r = ud;
  if (r->got) return;
  if (strcmp(line, "OK") == 0) {
    r->got = 1;
  } else if (strncmp(line, "E ", 2) == 0) {
    r->got = -1;
    snprintf(r->msg, sizeof r->msg, "%s", line + 2);
  }
}

int tb_plugin_probe(const char *hash, tb_probe_load_fn load, void *ud, char *err,
                    size_t errlen) {
  if (hash && cached(hash)) return 0;
  tb_child ch;
  int fd;
  int forked = tb_child_fork(&ch, &fd, NULL, 0, err, errlen);
  if (forked < 0) return -1;
  if (forked == 0) { /* the child: the whole load, then its outcome on one line */
    char e[TB_ERRLEN] = "", line[TB_ERRLEN + 8];
    const int rc = load(ud, e, sizeof e);
    for (char *c = e; *c; c++)
      if (*c == '\n') *c = ' ';
    const int n = rc ? snprintf(line, sizeof line, "E %s\n", e) : snprintf(line, sizeof line, "OK\n");
    tb_child_send(fd, line, (size_t)n);
    _exit(0);
  }
  report r = {0, ""};
  int ws;
  const int timed_out =
      tb_child_wait(&ch, tb_now_mono() + PROBE_SECONDS, on_line, &r, -1, &ws) < 0;
  char tail[512];
  tb_child_tail_text(&ch, tail, sizeof tail, 300);
  tb_child_close(&ch);
  if (r.got == 1 && !timed_out) {
    if (hash) remember(hash);
    return 0;
  }
  if (r.got == -1) { /* the load failed in an ordinary way: the loader's own message */
    tb_errf(err, errlen, "%s", r.msg);
    return -1;
  }
  char how[400];
  if (timed_out)
    snprintf(how, sizeof how, "did not finish loading within %.0f s (a constructor or the entry "
             "point that never returns?)", PROBE_SECONDS);
  else if (WIFSIGNALED(ws)) {
    char st[128];
    tb_wait_status_text(ws, st, sizeof st);
    snprintf(how, sizeof how, "was %s while it was being loaded (in a constructor, the entry "
             "point or the descriptor it returned)", st);
  } else {
    char st[128];
    tb_wait_status_text(ws, st, sizeof st);
    snprintf(how, sizeof how, "ended the process (%s) while it was being loaded (a constructor "
             "or the entry point called exit?)", st);
  }
  tb_errf(err, errlen, "probed in a child process first: it %s%s%s", how, *tail ? "; its output: " : "",
          tail);
  return -1;
}
