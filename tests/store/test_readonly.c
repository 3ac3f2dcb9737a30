/*
 * test_readonly.c — reading a results database from a place the reader
 * cannot write, with the write-ahead log in every state a writer leaves it:
 * closed cleanly (no log), killed (log and index left), still writing, a log
 * without its index, an unreadable log, an empty log, a leftover rollback
 * journal; a read-only file in a writable folder; and a writer that changes
 * the file under a lock-free read.
 *
 * Root ignores permission bits, so the reader runs in a child process that
 * makes the place read-only for itself, by every method this machine allows:
 *   uid     as root: drop to uid/gid 65534 (nobody) — works wherever root
 *           has CAP_SETUID, as in a default Docker container;
 *   chmod   not root: folder 0555, files 0444;
 *   mount   as root with CAP_SYS_ADMIN: a read-only bind mount of the
 *           folder in a private mount namespace (the EROFS case).
 * A method that is not available is reported as skipped; the test fails if
 * none is.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"
#include "store.h"
#include "util.h"

static const char *check_context(void);
#define CHECK_CONTEXT check_context()
#include "store_check.h"

enum { M_UID, M_CHMOD, M_MOUNT, N_METHODS };
static const char *const method_name[] = {"uid", "chmod", "mount"};
static int method;
static const char *case_name = "";
static char root[] = "/tmp/tb-readonly-XXXXXX";
static char dir[600], db[700];
static const char *read_path = db; /* what the reader opens */

/* "[uid/clean] ": the method and case a failed check ran under */
static const char *check_context(void) {
  static char buf[128];
  snprintf(buf, sizeof buf, "[%s/%s] ", method_name[method], case_name);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Writing with the real store                                              */
/* ------------------------------------------------------------------------ */

static void add_runs(tb_store *w, int n) {
  for (int i = 0; i < n; i++) {
    char *msg = NULL;
    if (sqlite3_exec(tb_store_db(w),
                     "INSERT INTO runs(scenario, status, config, config_hash, group_hash,"
                     " started_at) VALUES ('ro', 'complete', '{}', lower(hex(randomblob(16))),"
                     " 'g', 1.7e9)",
                     NULL, NULL, &msg) != SQLITE_OK) {
      fprintf(stderr, "cannot add a run: %s\n", msg);
      exit(1);
    }
  }
}

static tb_store *open_writer(void) {
  char err[TB_ERRLEN];
  tb_store *w = NULL;
  if (tb_store_open_write(&w, db, err, sizeof err)) {
    fprintf(stderr, "[%s/%s] cannot open the writer: %s\n", method_name[method], case_name, err);
    exit(1);
  }
  return w;
}

/* A fresh folder with a database of `n` runs, closed cleanly (no log). */
static void fresh_db(const char *name, int n) {
  case_name = name;
  snprintf(dir, sizeof dir, "%s/%s-%s", root, method_name[method], name);
  snprintf(db, sizeof db, "%s/r.db", dir);
  if (mkdir(dir, 0755) != 0 || chmod(dir, 0755) != 0) {
    perror(dir);
    exit(1);
  }
  tb_store *w = open_writer();
  add_runs(w, n);
  tb_store_close(w);
}

/* A writer that dies without closing: its log and index stay. */
static void killed_writer(int n) {
  pid_t pid = fork();
  if (pid == 0) {
    tb_store *w = open_writer();
    add_runs(w, n);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static off_t file_size(const char *suffix) {
  char p[800];
  struct stat sb;
  snprintf(p, sizeof p, "%s%s", db, suffix);
  return stat(p, &sb) == 0 ? sb.st_size : -1;
}

static void set_mode(const char *suffix, mode_t mode) {
  char p[800];
  snprintf(p, sizeof p, "%s%s", db, suffix);
  if (chmod(p, mode) != 0 && errno != ENOENT) perror(p);
}

static void remove_file(const char *suffix) {
  char p[800];
  snprintf(p, sizeof p, "%s%s", db, suffix);
  if (unlink(p) != 0) perror(p);
}

/* The folder's names and the database file's bytes, to compare. */
static char *folder_state(void) {
  char cmd[1600];
  snprintf(cmd, sizeof cmd, "cd '%s' && ls -a && cksum r.db", dir);
  FILE *p = popen(cmd, "r");
  char *text = calloc(1, 4096);
  if (!p || !text) abort();
  size_t n = fread(text, 1, 4095, p);
  text[n] = '\0';
  pclose(p);
  return text;
}

/* ------------------------------------------------------------------------ */
/* The reader, in a child that cannot write the folder                      */
/* ------------------------------------------------------------------------ */

/* Make the folder read-only for this process (in the child); 0 on success. */
static int lose_write_access(int m, const char *folder) {
  if (m == M_UID)
    return setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0;
  if (m == M_MOUNT)
    return unshare(CLONE_NEWNS) != 0 ||
           mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
           mount(folder, folder, NULL, MS_BIND, NULL) != 0 ||
           mount(NULL, folder, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0;
  return 0; /* chmod: done by the parent */
}

static void chmod_all(int read_only, int folder_too) {
  if (method != M_CHMOD) return;
  if (folder_too && chmod(dir, read_only ? 0555 : 0755) != 0) perror(dir);
  set_mode("", read_only ? 0444 : 0644);
  set_mode("-wal", read_only ? 0444 : 0644);
  set_mode("-shm", read_only ? 0444 : 0644);
}

typedef struct reading {
  int ok;           /* the query ran */
  int immutable;    /* read as an immutable file (no log) */
  int folder_rw;    /* the reader could have written the folder */
  char text[2048];  /* its CSV output, or the error */
} reading;

static void put_all(int fd, const void *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) _exit(3);
    p = (const char *)p + w;
    n -= (size_t)w;
  }
}

/* Fork a reader: open the database, (if `go` >= 0: say 'R' on `ready` and
 * wait for a byte on `go`), query the number of runs, report on `result`. */
static void reader_child(int result, int ready, int go) {
  reading r = {0};
  char err[TB_ERRLEN] = "";
  if (lose_write_access(method, dir)) {
    snprintf(r.text, sizeof r.text, "setup: %s", strerror(errno));
    put_all(result, &r, sizeof r);
    _exit(2);
  }
  r.folder_rw = access(dir, W_OK) == 0;
  tb_store *st = NULL;
  if (tb_store_open_read(&st, read_path, err, sizeof err)) {
    snprintf(r.text, sizeof r.text, "%s", err);
  } else {
    const char *file = sqlite3_db_filename(tb_store_db(st), "main");
    r.immutable = sqlite3_uri_boolean(file, "immutable", 0);
    if (go >= 0) {
      char c = 'R';
      put_all(ready, &c, 1);
      if (read(go, &c, 1) != 1) _exit(3);
    }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    tb_query_opts o = {.format = TB_FMT_CSV, .timeout = 60};
    r.ok = tb_report_query(st, "SELECT count(*) AS n FROM runs", &o, f, err, sizeof err) == 0;
    fclose(f);
    snprintf(r.text, sizeof r.text, "%s", r.ok ? out : err);
    free(out);
    tb_store_close(st);
  }
  put_all(result, &r, sizeof r);
  _exit(0);
}

/* Run a reader as it is (modes already set) and collect what it saw. */
static reading spawn_reader(void) {
  int fd[2];
  reading r = {0};
  if (pipe(fd) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    reader_child(fd[1], -1, -1);
  }
  close(fd[1]);
  ssize_t got = read(fd[0], &r, sizeof r);
  close(fd[0]);
  waitpid(pid, NULL, 0);
  if (got != (ssize_t)sizeof r) snprintf(r.text, sizeof r.text, "the reader died");
  return r;
}

static reading read_db(void) {
  chmod_all(1, 1);
  reading r = spawn_reader();
  chmod_all(0, 1);
  if (r.folder_rw) {
    fprintf(stderr, "[%s/%s] the reader could write the folder: the test tests nothing\n",
            method_name[method], case_name);
    failures++;
  }
  return r;
}

static void expect_runs(const reading *r, int n, int immutable) {
  char want[64];
  snprintf(want, sizeof want, "n\n%d\n", n);
  CHECK_HAS(r->ok ? r->text : "(failed)", "n\n");
  CHECK_HAS(r->text, want);
  if (r->ok && r->immutable != immutable) {
    fprintf(stderr, "[%s/%s] read %s, expected %s\n", method_name[method], case_name,
            r->immutable ? "as an immutable file" : "through the log",
            immutable ? "as an immutable file" : "through the log");
    failures++;
  }
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */
/* ------------------------------------------------------------------------ */

static void run_cases(void) {
  /* a writer closed cleanly: no log, no index, and none may be created */
  fresh_db("clean", 3);
  CHECK(file_size("-wal") < 0 && file_size("-shm") < 0);
  char *before = folder_state();
  reading r = read_db();
  expect_runs(&r, 3, 1);
  char *after = folder_state();
  CHECK_HAS(after, before); /* same names, same bytes */
  CHECK(strcmp(before, after) == 0);
  free(before);
  free(after);

  /* a killed writer: the last runs are only in the log */
  fresh_db("killed", 2);
  killed_writer(3);
  CHECK(file_size("-wal") > 0 && file_size("-shm") > 0);
  r = read_db();
  expect_runs(&r, 5, 0);

  /* a writer at work: the reader sees what it committed, then more */
  fresh_db("live", 1);
  tb_store *w = open_writer();
  add_runs(w, 2);
  r = read_db();
  expect_runs(&r, 3, 0);
  add_runs(w, 4);
  r = read_db();
  expect_runs(&r, 7, 0);
  tb_store_close(w);

  /* a log without its index, which the reader cannot create: refused */
  fresh_db("no-index", 1);
  killed_writer(2);
  remove_file("-shm");
  CHECK(file_size("-wal") > 0);
  r = read_db();
  CHECK(!r.ok);
  CHECK_HAS(r.text, "cannot read database");
  CHECK_HAS(r.text, "consistently: its write-ahead log");
  CHECK_HAS(r.text, "is missing and cannot be created here");
  CHECK_HAS(r.text, "stale results");

  /* the same through a symbolic link from elsewhere: the log that counts
   * is the one beside the real file */
  char link[800];
  snprintf(link, sizeof link, "%s/%s-link.db", root, method_name[method]);
  if (symlink(db, link) != 0) perror(link);
  read_path = link;
  r = read_db();
  read_path = db;
  CHECK(!r.ok);
  CHECK_HAS(r.text, "holds changes not yet in the database file");

  /* a log the reader may not read: refused (root reads it anyway) */
  if (method != M_MOUNT) {
    fresh_db("unreadable-log", 1);
    killed_writer(2);
    if (method == M_CHMOD) {
      chmod_all(1, 1);
      set_mode("-wal", 0);
      r = spawn_reader();
      chmod_all(0, 1);
    } else {
      set_mode("-wal", 0600); /* root's, unreadable for nobody */
      r = spawn_reader();
    }
    CHECK(!r.ok);
    CHECK_HAS(r.text, "holds changes not yet in the database file");
    CHECK_HAS(r.text, "Permission denied");
  }

  /* an empty log and no index: nothing is missing from the file */
  fresh_db("empty-log", 4);
  FILE *f;
  char p[800];
  snprintf(p, sizeof p, "%s-wal", db);
  f = fopen(p, "w");
  if (f) fclose(f);
  r = read_db();
  expect_runs(&r, 4, 1);

  /* a leftover rollback journal may hold a half-written transaction */
  fresh_db("journal", 1);
  snprintf(p, sizeof p, "%s-journal", db);
  f = fopen(p, "w");
  if (f) {
    fputs("not empty", f);
    fclose(f);
  }
  r = read_db();
  CHECK(!r.ok);
  CHECK_HAS(r.text, "-journal' holds an interrupted transaction");

  /* a read-only file in a folder the reader may write */
  if (method != M_MOUNT) {
    fresh_db("file-only", 2);
    if (method == M_UID) chmod(dir, 0777);
    chmod_all(1, 0);
    r = spawn_reader();
    chmod_all(0, 0);
    chmod(dir, 0755);
    expect_runs(&r, 2, 0);
  }

  /* a writer that starts during a lock-free read and folds its log into
   * the file: the query fails instead of mixing old and new pages */
  fresh_db("changed", 2);
  int res[2], ready[2], go[2];
  if (pipe(res) != 0 || pipe(ready) != 0 || pipe(go) != 0) abort();
  chmod_all(1, 1);
  pid_t pid = fork();
  if (pid == 0) {
    close(res[0]);
    close(ready[0]);
    close(go[1]);
    reader_child(res[1], ready[1], go[0]);
  }
  close(res[1]);
  close(ready[1]);
  close(go[0]);
  char c = 0;
  int opened = read(ready[0], &c, 1) == 1 && c == 'R';
  CHECK(opened);
  chmod_all(0, 1);
  if (opened) {
    w = open_writer();
    add_runs(w, 50);
    tb_store_close(w); /* checkpoint: the database file changes */
  }
  if (write(go[1], "G", 1) != 1) perror("write");
  r = (reading){0};
  if (read(res[0], &r, sizeof r) != (ssize_t)sizeof r) snprintf(r.text, sizeof r.text, "died");
  waitpid(pid, NULL, 0);
  close(res[0]);
  close(ready[0]);
  close(go[1]);
  CHECK(!r.ok);
  CHECK_HAS(r.text, "changed while it was read");
  CHECK_HAS(r.text, "run the query again");
  /* and again: now it reads */
  r = read_db();
  expect_runs(&r, 52, 1);
}

/* ------------------------------------------------------------------------ */

/* Can a child lose write access to `root` by method m? */
static int available(int m, char *why, size_t len) {
  if (m == M_CHMOD && geteuid() == 0) {
    snprintf(why, len, "root ignores permission bits");
    return 0;
  }
  if (m != M_CHMOD && geteuid() != 0) {
    snprintf(why, len, "needs root");
    return 0;
  }
  int fd[2];
  if (pipe(fd) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    int e = lose_write_access(m, root) ? errno : 0;
    put_all(fd[1], &e, sizeof e);
    _exit(0);
  }
  close(fd[1]);
  int e = -1;
  if (read(fd[0], &e, sizeof e) != (ssize_t)sizeof e) e = -1;
  close(fd[0]);
  waitpid(pid, NULL, 0);
  if (e) snprintf(why, len, "%s", e > 0 ? strerror(e) : "the probe died");
  return e == 0;
}

int main(void) {
  if (!mkdtemp(root) || chmod(root, 0755) != 0) {
    perror("mkdtemp");
    return 1;
  }
  int ran = 0;
  for (method = 0; method < N_METHODS; method++) {
    char why[256] = "";
    if (!available(method, why, sizeof why)) {
      printf("skipped: read-only by %s (%s)\n", method_name[method], why);
      continue;
    }
    int before = failures;
    run_cases();
    printf("%s: read-only by %s\n", failures == before ? "ok" : "FAILED", method_name[method]);
    ran++;
  }
  if (!ran) {
    fprintf(stderr, "no way to make a folder read-only for a reader here\n");
    failures++;
  }
  char cmd[700];
  snprintf(cmd, sizeof cmd, "chmod -R u+rwX '%s' && rm -rf '%s'", root, root);
  if (failures == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  if (failures) fprintf(stderr, "%d check(s) failed; files kept in %s\n", failures, root);
  return failures ? 1 : 0;
}
