/*
 * store.c — the SQLite results database.
 *
 * One file in WAL mode. The parent process of a sweep is its only writer: it
 * holds an exclusive flock() on "PATH.lock" (which contains its pid) for as
 * long as the store is open, so a second sweep on the same database refuses
 * at once instead of interleaving runs. Readers (query, summary) open the
 * database read-only and never touch the lock: WAL lets them read while a
 * sweep writes.
 *
 * The schema is created by migration 0 -> 1; later versions append a
 * migration to `migrations[]`. The version lives in PRAGMA user_version (the
 * authority) and in meta('schema_version') for people reading with SQL.
 *
 * Non-finite numbers: sqlite3_bind_double() stores NaN as NULL, which would
 * make a diverged run's NaN loss look like a missing value. So every real a
 * run produces (metrics, hyperparameters, timings) goes through bind_real():
 * finite values are stored as REAL and non-finite ones as the TEXT 'NaN',
 * 'Infinity' or '-Infinity'. `typeof(value) = 'real'` selects finite values.
 *
 * Provides: tb_store_open_write, tb_store_open_read, tb_store_close,
 * tb_store_db, tb_store_lock_fd, tb_store_put_scenario, tb_store_run_status,
 * tb_store_put_run.
 */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "sqlfn.h"
#include "tb.h"

struct tb_store {
  sqlite3 *db;
  char *path;
  int lock_fd;      /* -1 for readers */
  int64_t env_id;   /* environment row of this process (writers) */
};

/* ------------------------------------------------------------------------ */
/* Schema and migrations                                                    */
/* ------------------------------------------------------------------------ */

/* migrations[v] takes a database from schema version v to v + 1. */
static const char *const migrations[TB_SCHEMA_VERSION] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"

    "CREATE TABLE scenarios(name TEXT PRIMARY KEY, script_path TEXT, script_text TEXT,"
    " updated_at REAL);"

    /* NOT NULL everywhere so that UNIQUE really deduplicates (NULLs are distinct) */
    "CREATE TABLE environment(id INTEGER PRIMARY KEY, cpu TEXT NOT NULL,"
    " openblas_core TEXT NOT NULL, openblas_threads INTEGER NOT NULL,"
    " compiler TEXT NOT NULL, trainbench_version TEXT NOT NULL, host TEXT NOT NULL,"
    " os TEXT NOT NULL,"
    " UNIQUE(cpu, openblas_core, openblas_threads, compiler, trainbench_version, host, os));"

    "CREATE TABLE runs(id INTEGER PRIMARY KEY, scenario TEXT NOT NULL, status TEXT NOT NULL,"
    " seed INTEGER, loss TEXT, optimizer TEXT, model TEXT, dataset TEXT,"
    " config TEXT NOT NULL, config_hash TEXT NOT NULL UNIQUE,"
    " started_at REAL, finished_at REAL, wall_seconds REAL, steps INTEGER,"
    " loss_evals INTEGER, grad_evals INTEGER, jvp_evals INTEGER, error TEXT,"
    " environment_id INTEGER REFERENCES environment(id));"
    "CREATE INDEX runs_by_group ON runs(scenario, loss, optimizer);"

    /* rowid order is the order of each component's hyperparameter table */
    "CREATE TABLE params(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " component TEXT NOT NULL, key TEXT NOT NULL, value,"
    " UNIQUE(run_id, component, key));"
    "CREATE INDEX params_by_key ON params(component, key, value);"

    "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value,"
    " PRIMARY KEY(run_id, epoch, split, name)) WITHOUT ROWID;"
    /* serves final_metrics and "last value of one curve" lookups */
    "CREATE INDEX metrics_by_curve ON metrics(run_id, split, name, epoch);"

    /* The value of each curve (run, split, name) at its last recorded epoch:
     * a test split measured only at the end still has a final value. SQLite
     * takes the bare column `value` from the row holding max(epoch). */
    "CREATE VIEW final_metrics AS"
    " SELECT run_id, split, name, max(epoch) AS epoch, value FROM metrics"
    " GROUP BY run_id, split, name;"

    "CREATE TABLE timings(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " epoch INTEGER NOT NULL, seconds REAL, PRIMARY KEY(run_id, epoch)) WITHOUT ROWID;"

    "CREATE TABLE run_plugins(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL, name TEXT NOT NULL, version TEXT, file TEXT, file_hash TEXT,"
    " PRIMARY KEY(run_id, kind)) WITHOUT ROWID;",
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int db_fail(char *err, size_t errlen, sqlite3 *db, const char *what) {
  tb_errf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
  return -1;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    tb_errf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* One integer from a statement like "PRAGMA user_version". */
static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc == SQLITE_ROW ? 0 : -1;
}

/* See the file comment: non-finite reals become TEXT, never NULL. */
static int bind_real(sqlite3_stmt *s, int i, double x) {
  if (isnan(x)) return sqlite3_bind_text(s, i, "NaN", -1, SQLITE_STATIC);
  if (isinf(x)) return sqlite3_bind_text(s, i, x > 0 ? "Infinity" : "-Infinity", -1,
                                         SQLITE_STATIC);
  return sqlite3_bind_double(s, i, x);
}

static int bind_text_or_null(sqlite3_stmt *s, int i, const char *t) {
  if (!t || !*t) return sqlite3_bind_null(s, i);
  return sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
}

/* mkdir -p of the folder that will hold `path` */
static int make_parent_dirs(const char *path, char *err, size_t errlen) {
  char *dir = strdup(path);
  if (!dir) abort();
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    char c = *p;
    if (c != '/' && c != '\0') continue;
    *p = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
      tb_errf(err, errlen, "cannot create folder '%s': %s", dir, strerror(errno));
      free(dir);
      return -1;
    }
    *p = c;
    if (c == '\0') break;
  }
  struct stat sb;
  int ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
  if (!ok) tb_errf(err, errlen, "cannot create folder '%s': not a directory", dir);
  free(dir);
  return ok ? 0 : -1;
}

static tb_store *store_new(const char *path) {
  tb_store *st = calloc(1, sizeof *st);
  if (!st) abort();
  st->path = strdup(path);
  if (!st->path) abort();
  st->lock_fd = -1;
  return st;
}

void tb_store_close(tb_store *st) {
  if (!st) return;
  if (st->db) sqlite3_close_v2(st->db);
  if (st->lock_fd >= 0) {
    /* Leave the lock file in place: unlinking it would let a process that
     * already opened it lock a dead inode while another creates a new one. */
    if (ftruncate(st->lock_fd, 0) != 0) { /* only a stale pid is left behind */ }
    close(st->lock_fd);
  }
  free(st->path);
  free(st);
}

sqlite3 *tb_store_db(tb_store *st) { return st->db; }

int tb_store_lock_fd(tb_store *st) { return st ? st->lock_fd : -1; }

/* ------------------------------------------------------------------------ */
/* The writer's lock                                                        */
/* ------------------------------------------------------------------------ */

static long read_holder_pid(int fd) {
  /* The holder writes its pid right after it locks; give it a moment. */
  for (int attempt = 0; attempt < 50; attempt++) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      long pid = strtol(buf, NULL, 10);
      if (pid > 0) return pid;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

static int take_lock(tb_store *st, char *err, size_t errlen) {
  size_t n = strlen(st->path) + sizeof ".lock";
  char *lock_path = malloc(n);
  if (!lock_path) abort();
  snprintf(lock_path, n, "%s.lock", st->path);
  /* O_CLOEXEC: workers exec'd by the parent must not inherit the lock */
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    tb_errf(err, errlen, "cannot open lock file '%s': %s", lock_path, strerror(errno));
    free(lock_path);
    return -1;
  }
  free(lock_path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      long pid = read_holder_pid(fd);
      if (pid > 0)
        tb_errf(err, errlen, "database '%s' is in use by another trainbench run (pid %ld)",
                st->path, pid);
      else
        tb_errf(err, errlen, "database '%s' is in use by another trainbench run", st->path);
    } else {
      tb_errf(err, errlen, "cannot lock database '%s': %s", st->path, strerror(e));
    }
    close(fd);
    return -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    tb_errf(err, errlen, "cannot write lock file of '%s': %s", st->path, strerror(errno));
    close(fd);
    return -1;
  }
  st->lock_fd = fd;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

static int migrate(tb_store *st, int64_t from, char *err, size_t errlen) {
  char what[1200];
  for (int64_t v = from; v < TB_SCHEMA_VERSION; v++) {
    snprintf(what, sizeof what, "cannot upgrade '%s' to schema version %lld", st->path,
             (long long)(v + 1));
    if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, what)) return -1;
    char tail[256];
    snprintf(tail, sizeof tail,
             "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %lld);"
             "PRAGMA user_version = %lld;",
             (long long)(v + 1), (long long)(v + 1));
    if (exec(st->db, migrations[v], err, errlen, what) ||
        exec(st->db, tail, err, errlen, what) ||
        (v == 0 && exec(st->db,
                        "INSERT OR IGNORE INTO meta(key, value) VALUES"
                        " ('created_by', 'trainbench " TB_VERSION "'),"
                        " ('created_at', (julianday('now') - 2440587.5) * 86400.0)",
                        err, errlen, what)) ||
        exec(st->db, "COMMIT", err, errlen, what)) {
      sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  return 0;
}

/* Refuse what this build cannot read; return the version found. */
static int check_version(tb_store *st, int64_t *version, char *err, size_t errlen) {
  char what[1200];
  snprintf(what, sizeof what, "cannot read database '%s'", st->path);
  if (query_int(st->db, "PRAGMA user_version", version))
    return db_fail(err, errlen, st->db, what);
  if (*version > TB_SCHEMA_VERSION) {
    tb_errf(err, errlen,
            "database '%s' has schema version %lld, newer than this trainbench supports "
            "(%d); use a newer trainbench",
            st->path, (long long)*version, TB_SCHEMA_VERSION);
    return -1;
  }
  if (*version == 0) {
    int64_t n = 0;
    if (query_int(st->db, "SELECT count(*) FROM sqlite_master", &n))
      return db_fail(err, errlen, st->db, what);
    if (n > 0) {
      tb_errf(err, errlen, "'%s' is not a trainbench results database", st->path);
      return -1;
    }
  }
  return 0;
}

static void read_cpu_model(char *out, size_t len) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  out[0] = '\0';
  if (f) {
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) != 0 && strncmp(line, "Model", 5) != 0) continue;
      char *colon = strchr(line, ':');
      if (!colon) continue;
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      v[strcspn(v, "\n")] = '\0';
      snprintf(out, len, "%s", v);
      break;
    }
    fclose(f);
  }
}

static int record_environment(tb_store *st, char *err, size_t errlen) {
  struct utsname u;
  char cpu[256], os[400];
  if (uname(&u) != 0) memset(&u, 0, sizeof u);
  read_cpu_model(cpu, sizeof cpu);
  if (!cpu[0]) snprintf(cpu, sizeof cpu, "%s", u.machine[0] ? u.machine : "unknown");
  snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
  const char *core = openblas_get_corename();
#if defined(__clang__)
  const char *compiler = __VERSION__;
#elif defined(__GNUC__)
  const char *compiler = "gcc " __VERSION__;
#else
  const char *compiler = "unknown";
#endif
  sqlite3_stmt *s = NULL;
  const char *sql =
      "INSERT INTO environment(cpu, openblas_core, openblas_threads, compiler,"
      " trainbench_version, host, os) VALUES(?1, ?2, 1, ?3, ?4, ?5, ?6)"
      " ON CONFLICT DO UPDATE SET cpu = excluded.cpu RETURNING id";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot record the environment");
  sqlite3_bind_text(s, 1, cpu, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, core ? core : "unknown", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, compiler, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, TB_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, u.nodename, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 6, os, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) st->env_id = sqlite3_column_int64(s, 0);
  int fail = rc != SQLITE_ROW;
  if (fail) db_fail(err, errlen, st->db, "cannot record the environment");
  sqlite3_finalize(s);
  return fail ? -1 : 0;
}

static int open_db(tb_store *st, int flags, char *err, size_t errlen) {
  if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK) {
    tb_errf(err, errlen, "cannot open database '%s': %s", st->path,
            st->db ? sqlite3_errmsg(st->db) : "out of memory");
    return -1;
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, 10000);
  return 0;
}

int tb_store_open_write(tb_store **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  if (make_parent_dirs(path, err, errlen)) return -1;
  tb_store *st = store_new(path);
  if (take_lock(st, err, errlen) ||
      open_db(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen)) {
    tb_store_close(st);
    return -1;
  }
  char what[1200];
  snprintf(what, sizeof what, "cannot set up database '%s'", path);
  /* Check the version before anything writes: a newer database stays as is. */
  int64_t version = 0;
  if (check_version(st, &version, err, errlen) ||
      exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err, errlen,
           what)) {
    tb_store_close(st);
    return -1;
  }
  sqlite3_stmt *s = NULL;
  int wal = 0;
  if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    wal = mode && strcmp(mode, "wal") == 0;
  }
  sqlite3_finalize(s);
  if (!wal) {
    tb_errf(err, errlen, "cannot switch database '%s' to WAL mode: %s", path,
            sqlite3_errmsg(st->db));
    tb_store_close(st);
    return -1;
  }
  if (migrate(st, version, err, errlen) || record_environment(st, err, errlen)) {
    tb_store_close(st);
    return -1;
  }
  *out = st;
  return 0;
}

/* Reading from a place this process cannot write (a folder or file of
 * another user, a read-only mount). SQLite 3.40 reads a WAL database opened
 * read-only when its "-wal" and "-shm" files exist (a writer is running or
 * died) or when it may create them. A writer that closed cleanly has removed
 * both, and then SQLite refuses ("attempt to write a readonly database", or
 * "unable to open database file" on a read-only mount). Without a -wal file,
 * or with an empty one, the database file holds every committed transaction,
 * so we read it as an immutable file: no locks, no -shm. Immutable means that
 * SQLite trusts the file not to change, so the file's identity at open goes
 * into the URI (tb_ino, tb_size, tb_mtime_ns) and report.c checks it around
 * each query: a writer that starts meanwhile and folds its log into the file
 * makes the query fail instead of returning a torn read.
 * A non-empty -wal that SQLite could not use holds commits that the database
 * file lacks, and a -journal holds a half-written transaction: reading the
 * file alone would give stale or broken numbers, so we refuse and say why. */

static int size_of(const char *path, off_t *size) {
  struct stat sb;
  if (stat(path, &sb) != 0) return -1;
  *size = sb.st_size;
  return 0;
}

/* "file:" URI naming `path`, with `query` appended after "?" (malloc'd). */
static char *file_uri(const char *path, const char *query) {
  size_t n = strlen(path), o = 0;
  char *u = malloc(3 * n + strlen(query) + 32);
  if (!u) abort();
  /* an absolute path gets an explicit authority, so "//x" is not one */
  o += (size_t)sprintf(u, path[0] == '/' ? "file://localhost" : "file:");
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("/-._~", c))
      u[o++] = (char)c;
    else
      o += (size_t)sprintf(u + o, "%%%02X", c);
  }
  sprintf(u + o, "?%s", query);
  return u;
}

/* Why a non-empty log cannot be used from here, for the error message. */
static void log_problem(const char *path, char *why, size_t len, sqlite3 *db) {
  size_t n = strlen(path) + 8;
  char *wal = malloc(n), *shm = malloc(n);
  if (!wal || !shm) abort();
  snprintf(wal, n, "%s-wal", path);
  snprintf(shm, n, "%s-shm", path);
  if (access(wal, R_OK) != 0)
    snprintf(why, len, "the log cannot be read: %s", strerror(errno));
  else if (access(shm, F_OK) != 0)
    snprintf(why, len, "its index '%s' is missing and cannot be created here", shm);
  else if (access(shm, R_OK) != 0)
    snprintf(why, len, "its index '%s' cannot be read: %s", shm, strerror(errno));
  else
    snprintf(why, len, "%s", sqlite3_errmsg(db));
  free(wal);
  free(shm);
}

/* After a read-only open failed with SQLITE_READONLY or SQLITE_CANTOPEN:
 * reopen the database as an immutable file when that is safe (see above). */
static int open_read_immutable(tb_store *st, char *err, size_t errlen) {
  /* SQLite follows symbolic links: the log is beside the real file */
  char *real = realpath(st->path, NULL);
  if (!real) {
    tb_errf(err, errlen, "no results database at '%s'", st->path);
    return -1;
  }
  size_t n = strlen(real) + 16;
  char *side = malloc(n);
  if (!side) abort();
  off_t wal_size = 0, journal_size = 0;
  snprintf(side, n, "%s-wal", real);
  int has_wal = size_of(side, &wal_size) == 0 && wal_size > 0;
  snprintf(side, n, "%s-journal", real);
  int has_journal = size_of(side, &journal_size) == 0 && journal_size > 0;
  free(side);
  if (has_wal) {
    char why[600];
    log_problem(real, why, sizeof why, st->db);
    tb_errf(err, errlen,
            "cannot read database '%s' consistently: its write-ahead log '%s-wal' holds "
            "changes not yet in the database file, and %s; reading the file alone would give "
            "stale results (a user who can write the folder can fold the log in with: "
            "sqlite3 '%s' 'PRAGMA wal_checkpoint(TRUNCATE)')",
            st->path, real, why, real);
    free(real);
    return -1;
  }
  if (has_journal) {
    tb_errf(err, errlen,
            "cannot read database '%s' consistently: '%s-journal' holds an interrupted "
            "transaction that only a user who can write the folder can roll back",
            st->path, real);
    free(real);
    return -1;
  }
  struct stat sb;
  if (stat(real, &sb) != 0) {
    tb_errf(err, errlen, "no results database at '%s'", st->path);
    free(real);
    return -1;
  }
  char query[256];
  snprintf(query, sizeof query, "immutable=1&tb_ino=%llu&tb_size=%lld&tb_mtime_ns=%lld",
           (unsigned long long)sb.st_ino, (long long)sb.st_size,
           (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec);
  char *uri = file_uri(real, query);
  free(real);
  sqlite3_close_v2(st->db);
  st->db = NULL;
  char *path = st->path;
  st->path = uri; /* open_db opens st->path */
  int rc = open_db(st, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err, errlen);
  st->path = path;
  free(uri);
  if (rc) /* open_db named the URI: name the file instead */
    tb_errf(err, errlen, "cannot open database '%s': %s", path,
            st->db ? sqlite3_errmsg(st->db) : "out of memory");
  return rc;
}

int tb_store_open_read(tb_store **out, const char *path, char *err, size_t errlen) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    tb_errf(err, errlen, "no results database at '%s'", path);
    return -1;
  }
  tb_store *st = store_new(path);
  int64_t version = 0;
  int rc = open_db(st, SQLITE_OPEN_READONLY, err, errlen) ||
           check_version(st, &version, err, errlen);
  if (rc && st->db) {
    int code = sqlite3_extended_errcode(st->db) & 0xff;
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)
      rc = open_read_immutable(st, err, errlen) || check_version(st, &version, err, errlen);
  }
  if (rc) {
    tb_store_close(st);
    return -1;
  }
  if (version == 0) {
    tb_errf(err, errlen, "'%s' is not a trainbench results database", path);
    tb_store_close(st);
    return -1;
  }
  if (tb_sql_register(st->db) != SQLITE_OK) {
    db_fail(err, errlen, st->db, "cannot register the SQL functions");
    tb_store_close(st);
    return -1;
  }
  *out = st;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

int tb_store_put_scenario(tb_store *st, const tb_scenario_info *sc, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  const char *sql =
      "INSERT INTO scenarios(name, script_path, script_text, updated_at)"
      " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
      " script_path = excluded.script_path, script_text = excluded.script_text,"
      " updated_at = excluded.updated_at";
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(err, errlen, st->db, "cannot record scenario");
  sqlite3_bind_text(s, 1, sc->name, -1, SQLITE_TRANSIENT);
  bind_text_or_null(s, 2, sc->script_path);
  bind_text_or_null(s, 3, sc->script_text);
  sqlite3_bind_double(s, 4, now_seconds());
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) {
    tb_errf(err, errlen, "cannot record scenario '%s': %s", sc->name, sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
    return -1;
  }
  sqlite3_finalize(s);
  return 0;
}

int tb_store_run_status(tb_store *st, const char *config_hash, char *status, size_t len) {
  sqlite3_stmt *s = NULL;
  if (len) status[0] = '\0';
  if (sqlite3_prepare_v2(st->db, "SELECT status FROM runs WHERE config_hash = ?1", -1, &s,
                         NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(s, 1, config_hash, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s), found = 0;
  if (rc == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(s, 0);
    if (len) snprintf(status, len, "%s", t ? t : "");
    found = 1;
  } else if (rc != SQLITE_DONE) {
    found = -1;
  }
  sqlite3_finalize(s);
  return found;
}

static const char *model_kind_name(int k) {
  return k == TB_MODEL_LINEAR ? "linear" : k == TB_MODEL_MLP ? "mlp" : "unknown";
}
/* "[128,64]" */
static void hidden_json(char *out, size_t len, const tb_model_spec *m) {
  size_t o = (size_t)snprintf(out, len, "[");
  for (int i = 0; i < m->n_hidden && o < len; i++)
    o += (size_t)snprintf(out + o, len - o, "%s%d", i ? "," : "", m->hidden[i]);
  if (o < len) snprintf(out + o, len - o, "]");
}

/* The short model text of the runs table: "linear", "mlp[128]/relu". */
static void model_text(char *out, size_t len, const tb_model_spec *m) {
  if (m->kind != TB_MODEL_MLP) {
    snprintf(out, len, "%s", model_kind_name(m->kind));
    return;
  }
  char h[TB_MAX_HIDDEN * 12 + 4];
  hidden_json(h, sizeof h, m);
  snprintf(out, len, "mlp%s/%s", h, tb_activation_name(m->activation));
}

static void dataset_text(char *out, size_t len, const tb_data_spec *d) {
  if (strcmp(d->name, "csv") == 0) {
    const char *base = strrchr(d->path, '/');
    snprintf(out, len, "csv:%s", base ? base + 1 : d->path);
  } else {
    snprintf(out, len, "%s", d->name);
  }
}

/* One params row. The value is bound by the caller-supplied kind. */
typedef struct param_writer {
  sqlite3_stmt *s;
  int64_t run_id;
  const char *component;
  int failed;
} param_writer;

static sqlite3_stmt *pw_begin(param_writer *w, const char *key) {
  sqlite3_reset(w->s);
  sqlite3_clear_bindings(w->s);
  sqlite3_bind_int64(w->s, 1, w->run_id);
  sqlite3_bind_text(w->s, 2, w->component, -1, SQLITE_STATIC);
  sqlite3_bind_text(w->s, 3, key, -1, SQLITE_TRANSIENT);
  return w->s;
}
static void pw_end(param_writer *w) {
  if (!w->failed && sqlite3_step(w->s) != SQLITE_DONE) w->failed = 1;
}
static void pw_real(param_writer *w, const char *key, double v) {
  bind_real(pw_begin(w, key), 4, v);
  pw_end(w);
}
static void pw_int(param_writer *w, const char *key, int64_t v) {
  sqlite3_bind_int64(pw_begin(w, key), 4, v);
  pw_end(w);
}
static void pw_text(param_writer *w, const char *key, const char *v) {
  sqlite3_bind_text(pw_begin(w, key), 4, v, -1, SQLITE_TRANSIENT);
  pw_end(w);
}

static void put_component_params(param_writer *w, const tb_component *c, const double *hp) {
  if (!c) return;
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    switch (h->type) {
    case TB_HP_INT:
    case TB_HP_BOOL:
      pw_int(w, h->name, (int64_t)llround(hp[i]));
      break;
    case TB_HP_CHOICE: {
      /* the option's name, as users write it in Lua */
      long idx = lround(hp[i]), n = 0;
      while (h->choices && h->choices[n]) n++;
      if (idx >= 0 && idx < n)
        pw_text(w, h->name, h->choices[idx]);
      else
        pw_int(w, h->name, idx);
      break;
    }
    default:
      pw_real(w, h->name, hp[i]);
    }
  }
}

static void put_params(param_writer *w, const tb_run_config *cfg) {
  w->component = "loss";
  put_component_params(w, cfg->loss, cfg->loss_hp);
  w->component = "optimizer";
  put_component_params(w, cfg->opt, cfg->opt_hp);

  const tb_model_spec *m = &cfg->model;
  w->component = "model";
  pw_text(w, "kind", model_kind_name(m->kind));
  if (m->kind == TB_MODEL_MLP) {
    char h[TB_MAX_HIDDEN * 12 + 4];
    hidden_json(h, sizeof h, m);
    pw_text(w, "hidden", h);
    pw_text(w, "activation", tb_activation_name(m->activation));
  }
  pw_text(w, "init", tb_init_name(m->init));

  const tb_data_spec *d = &cfg->data;
  w->component = "data";
  pw_text(w, "name", d->name);
  if (strcmp(d->name, "csv") == 0) {
    pw_text(w, "path", d->path);
    pw_int(w, "label_col", d->label_col);
    pw_int(w, "header", d->header);
  } else if (strcmp(d->name, "blobs") == 0) {
    pw_int(w, "n", d->n);
    pw_int(w, "classes", d->classes);
    pw_int(w, "dim", d->dim);
    pw_real(w, "separation", d->separation);
  }
  pw_real(w, "split_train", d->split[0]);
  pw_real(w, "split_val", d->split[1]);
  pw_real(w, "split_test", d->split[2]);
  pw_int(w, "standardize", d->standardize);
  if (d->has_split_seed) pw_int(w, "split_seed", d->split_seed);
  if (d->content_hash[0]) pw_text(w, "content_hash", d->content_hash);

  const tb_sched_spec *sc = &cfg->sched;
  w->component = "schedule";
  pw_text(w, "kind", tb_sched_name(sc->kind));
  pw_real(w, "warmup", sc->warmup);
  if (sc->kind == TB_SCHED_STEP) {
    pw_real(w, "every", sc->every);
    pw_real(w, "gamma", sc->gamma);
  } else if (sc->kind == TB_SCHED_COSINE) {
    pw_real(w, "min_factor", sc->min_factor);
  }

  w->component = "run";
  pw_int(w, "epochs", cfg->epochs);
  pw_int(w, "batch_size", cfg->batch_size);
  pw_int(w, "seed", cfg->seed);
}

static int put_run_rows(tb_store *st, const tb_run_config *cfg, const tb_run_result *res) {
  sqlite3 *db = st->db;
  sqlite3_stmt *s = NULL;
  int ok = 0;
  char model[TB_MAX_HIDDEN * 12 + 32], dataset[1100];
  model_text(model, sizeof model, &cfg->model);
  dataset_text(dataset, sizeof dataset, &cfg->data);

  /* ON DELETE CASCADE takes the old run's rows with it */
  if (sqlite3_prepare_v2(db, "DELETE FROM runs WHERE config_hash = ?1", -1, &s, NULL)) goto out;
  sqlite3_bind_text(s, 1, cfg->hash, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) goto out;
  sqlite3_finalize(s);

  const char *ins =
      "INSERT INTO runs(scenario, status, seed, loss, optimizer, model, dataset, config,"
      " config_hash, started_at, finished_at, wall_seconds, steps, loss_evals, grad_evals,"
      " jvp_evals, error, environment_id)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
  if (sqlite3_prepare_v2(db, ins, -1, &s, NULL)) goto out;
  sqlite3_bind_text(s, 1, cfg->scenario, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, tb_status_name(res->status), -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, cfg->seed);
  bind_text_or_null(s, 4, cfg->loss ? cfg->loss->name : NULL);
  bind_text_or_null(s, 5, cfg->opt ? cfg->opt->name : NULL);
  sqlite3_bind_text(s, 6, model, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, dataset, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 8, cfg->json, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 9, cfg->hash, -1, SQLITE_STATIC);
  bind_real(s, 10, res->started_at);
  bind_real(s, 11, res->finished_at);
  bind_real(s, 12, res->wall_seconds);
  sqlite3_bind_int64(s, 13, res->steps);
  sqlite3_bind_int64(s, 14, res->loss_evals);
  sqlite3_bind_int64(s, 15, res->grad_evals);
  sqlite3_bind_int64(s, 16, res->jvp_evals);
  bind_text_or_null(s, 17, res->error);
  if (st->env_id > 0) sqlite3_bind_int64(s, 18, st->env_id);
  if (sqlite3_step(s) != SQLITE_DONE) goto out;
  sqlite3_finalize(s);
  int64_t run_id = sqlite3_last_insert_rowid(db);

  if (sqlite3_prepare_v2(db,
                         "INSERT INTO params(run_id, component, key, value)"
                         " VALUES(?1, ?2, ?3, ?4)",
                         -1, &s, NULL))
    goto out;
  param_writer w = {s, run_id, "", 0};
  put_params(&w, cfg);
  if (w.failed) goto out;
  sqlite3_finalize(s);

  /* OR REPLACE: a metric reported twice keeps its last value rather than
   * losing a whole finished run to a constraint error. */
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO metrics(run_id, epoch, split, name, value)"
                         " VALUES(?1, ?2, ?3, ?4, ?5)",
                         -1, &s, NULL))
    goto out;
  for (int i = 0; i < res->n_metrics; i++) {
    const tb_metric *m = &res->metrics[i];
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int(s, 2, m->epoch);
    sqlite3_bind_text(s, 3, m->split, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, m->name, -1, SQLITE_TRANSIENT);
    bind_real(s, 5, m->value);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
  }
  sqlite3_finalize(s);

  if (sqlite3_prepare_v2(db, "INSERT INTO timings(run_id, epoch, seconds) VALUES(?1, ?2, ?3)",
                         -1, &s, NULL))
    goto out;
  for (int i = 0; i < res->n_epoch_times; i++) {
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int(s, 2, i + 1);
    bind_real(s, 3, res->epoch_seconds[i]);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
  }
  sqlite3_finalize(s);

  if (sqlite3_prepare_v2(db,
                         "INSERT INTO run_plugins(run_id, kind, name, version, file, file_hash)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                         -1, &s, NULL))
    goto out;
  const tb_component *comps[2] = {cfg->loss, cfg->opt};
  for (int i = 0; i < 2; i++) {
    const tb_component *c = comps[i];
    if (!c) continue;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_text(s, 2, tb_kind_name(c->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->name, -1, SQLITE_STATIC);
    bind_text_or_null(s, 4, c->version);
    bind_text_or_null(s, 5, c->file);
    bind_text_or_null(s, 6, c->file_hash);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
  }
  ok = 1;
out:
  sqlite3_finalize(s);
  return ok ? 0 : -1;
}

int tb_store_put_run(tb_store *st, const tb_run_config *cfg, const tb_run_result *res,
                     char *err, size_t errlen) {
  if (!cfg->json || !cfg->hash[0]) {
    tb_errf(err, errlen, "cannot record a run of scenario '%s' without its canonical "
            "configuration", cfg->scenario);
    return -1;
  }
  char what[256];
  snprintf(what, sizeof what, "cannot record run %s", cfg->hash);
  if (exec(st->db, "BEGIN IMMEDIATE", err, errlen, what)) return -1;
  if (put_run_rows(st, cfg, res)) {
    db_fail(err, errlen, st->db, what);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  if (exec(st->db, "COMMIT", err, errlen, what)) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}
