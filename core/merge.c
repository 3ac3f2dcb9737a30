/*
 * merge.c — joining results databases: the shards of a sweep (`run --shard
 * I/N`), or any databases of this schema, into one output database.
 *
 * SQLite does the copying: each input is ATTACHed read-only and its rows go
 * in with INSERT ... SELECT. Nothing here lists the tables: the schema of
 * the output says what to copy and how, so a table added by a later schema
 * is merged without a change here as long as it declares its references.
 *   - An *entity* table has an INTEGER PRIMARY KEY `id` (environment,
 *     sweeps, scenarios, components, runs). A row is the same in two
 *     databases when its identity matches: the columns of the table's first
 *     UNIQUE constraint (a run's config_hash, a scenario's name and script
 *     hash, a component's build), else all its columns but `id` (sweeps).
 *     A row the output lacks is inserted under a new id; temp.merge_map_N
 *     maps the input's ids to the output's. `first_seen` keeps the earliest
 *     and `last_seen` the latest of the two.
 *   - Every other table is rows hanging off entities: copied with each
 *     foreign key column mapped (INSERT OR IGNORE on its keys, or only rows
 *     the output lacks when it has no unique key).
 *   - A column named like `*_id` without a declared foreign key is refused
 *     rather than copied with an id that means something else here.
 *   - `meta` (the schema version) stays the output's.
 * Runs follow the rule of run statuses (README, "Running on a cluster"):
 * a final result (complete, diverged) beats a run to retry (crashed,
 * timeout, failed); of two runs to retry the later one stays; two final
 * results of one configuration must be the same result (status and every
 * metric value), else the merge stops and names both databases. A run that
 * wins replaces the output's row (and all rows hanging off it).
 *
 * Order: everything that can refuse is checked first, reading each input in
 * turn (only ten databases may be attached at once, so inputs are attached
 * one at a time): readable, not being written by a sweep (a shared flock
 * against `run`'s exclusive one), of this schema, every shard of each
 * sharded sweep present, no conflicting results. Only then is each input
 * written, in a transaction of its own; an interrupted merge leaves whole
 * inputs merged and running it again completes it.
 *
 * Provides: tb_merge.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "merge.h"
#include "util.h"

#define FINAL "('complete', 'diverged')"

typedef struct mtable {
  char *name;
  int ncols;
  char **cols;
  int *ref;   /* per column: index of the entity table its foreign key names, or -1 */
  int entity; /* INTEGER PRIMARY KEY id */
  int *ident; /* identity columns of an entity (indexes into cols) */
  int nident;
  int keyed;  /* has a PRIMARY KEY or UNIQUE constraint besides a rowid */
  int done;
} mtable;

typedef struct merger {
  sqlite3 *db;
  const char *out_path;
  const char **in; /* distinct inputs; k = index + 1 (0 is the output) */
  int n_in;
  int *fds;        /* each input, flock()ed shared while we read it */
  char **uris;
  mtable *t;
  int nt;
  int *order;      /* tables, each after the tables it refers to */
  int runs;        /* index of `runs` */
  FILE *log;
  char *err;
  size_t errlen;
} merger;

static int fail(merger *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->err, m->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int db_fail(merger *m, const char *what) {
  return fail(m, "%s: %s", what, sqlite3_errmsg(m->db));
}

/* Run SQL (several statements); `sql` is sqlite3_free()d. */
static int exec_free(merger *m, char *sql, const char *what) {
  if (!sql) abort();
  char *msg = NULL;
  int rc = sqlite3_exec(m->db, sql, NULL, NULL, &msg);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    fail(m, "%s: %s", what, msg ? msg : sqlite3_errmsg(m->db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static int exec(merger *m, const char *sql, const char *what) {
  return exec_free(m, sqlite3_mprintf("%s", sql), what);
}

/* One integer from a query; -1 on error (with err). */
static int query_int(merger *m, const char *sql, int64_t *v) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK) return db_fail(m, "merge");
  int rc = sqlite3_step(s);
  *v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_finalize(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(m, "merge");
}

static const char *src_path(const merger *m, int64_t k) {
  return k <= 0 || k > m->n_in ? m->out_path : m->in[k - 1];
}

/* ---- merge_digest(...): one result as a value ---------------------------- */

/* An aggregate over rows (a run's metric rows): the sum of a 64-bit hash of
 * each row's typed values, so equal multisets of rows give equal digests in
 * any order. Reals are hashed by their bits, so 0.1 and its nearest
 * neighbour differ. */
static void digest_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  uint64_t *sum = sqlite3_aggregate_context(ctx, sizeof *sum);
  if (!sum) return;
  XXH3_state_t *h = XXH3_createState();
  if (!h) abort();
  XXH3_64bits_reset(h);
  for (int i = 0; i < argc; i++) {
    unsigned char type = (unsigned char)sqlite3_value_type(argv[i]);
    XXH3_64bits_update(h, &type, 1);
    if (type == SQLITE_INTEGER) {
      int64_t v = sqlite3_value_int64(argv[i]);
      XXH3_64bits_update(h, &v, sizeof v);
    } else if (type == SQLITE_FLOAT) {
      double v = sqlite3_value_double(argv[i]);
      XXH3_64bits_update(h, &v, sizeof v);
    } else if (type != SQLITE_NULL) {
      const void *p = sqlite3_value_blob(argv[i]);
      int64_t n = sqlite3_value_bytes(argv[i]);
      XXH3_64bits_update(h, &n, sizeof n);
      if (p) XXH3_64bits_update(h, p, (size_t)n);
    }
  }
  *sum += XXH3_64bits_digest(h);
  XXH3_freeState(h);
}

static void digest_final(sqlite3_context *ctx) {
  uint64_t *sum = sqlite3_aggregate_context(ctx, 0);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", sum ? (unsigned long long)*sum : 0ULL);
  sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

/* ---- the inputs ------------------------------------------------------------ */

/* A read-only URI for an input: immutable (no locks, no -shm) when it has
 * no write-ahead log to read, which is how a sweep that ended leaves it;
 * else read-only through its log (a sweep that was killed). */
static char *input_uri(const char *path) {
  char wal[4096];
  snprintf(wal, sizeof wal, "%s-wal", path);
  struct stat st;
  int has_log = stat(wal, &st) == 0 && st.st_size > 0;
  sqlite3_str *u = sqlite3_str_new(NULL);
  sqlite3_str_appendall(u, "file:");
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("/._-~+,=@", *p))
      sqlite3_str_appendchar(u, 1, (char)*p);
    else
      sqlite3_str_appendf(u, "%%%02X", *p);
  }
  sqlite3_str_appendall(u, has_log ? "?mode=ro" : "?mode=ro&immutable=1");
  return sqlite3_str_finish(u);
}

static int open_inputs(merger *m, const char *const *in, int n_in) {
  struct stat out_st;
  if (stat(m->out_path, &out_st) != 0) return fail(m, "cannot stat '%s'", m->out_path);
  dev_t *dev = calloc((size_t)n_in + 1, sizeof *dev);
  ino_t *ino = calloc((size_t)n_in + 1, sizeof *ino);
  m->in = calloc((size_t)n_in + 1, sizeof *m->in);
  m->fds = calloc((size_t)n_in + 1, sizeof *m->fds);
  m->uris = calloc((size_t)n_in + 1, sizeof *m->uris);
  if (!dev || !ino || !m->in || !m->fds || !m->uris) abort();
  int rc = 0;
  for (int i = 0; i < n_in && !rc; i++) {
    int fd = open(in[i], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      rc = fail(m, "cannot open '%s': %s", in[i], strerror(errno));
      if (fd >= 0) close(fd);
      break;
    }
    if (st.st_dev == out_st.st_dev && st.st_ino == out_st.st_ino) {
      close(fd);
      rc = fail(m, "'%s' is the output database itself", in[i]);
      break;
    }
    int dup = 0;
    for (int j = 0; j < m->n_in; j++) dup |= dev[j] == st.st_dev && ino[j] == st.st_ino;
    if (dup) {
      fprintf(m->log, "trainbench merge: '%s' is given twice; merged once\n", in[i]);
      close(fd);
      continue;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
      close(fd);
      rc = fail(m, "'%s' is being written right now (a `run` or `rm` holds it); merge it when "
                   "that is done",
                in[i]);
      break;
    }
    dev[m->n_in] = st.st_dev;
    ino[m->n_in] = st.st_ino;
    m->fds[m->n_in] = fd;
    m->uris[m->n_in] = input_uri(in[i]);
    m->in[m->n_in++] = in[i];
  }
  free(dev);
  free(ino);
  return rc;
}

static int attach(merger *m, int k) {
  char what[4200];
  snprintf(what, sizeof what, "cannot read '%s'", src_path(m, k));
  if (exec_free(m, sqlite3_mprintf("ATTACH %Q AS src", m->uris[k - 1]), what)) return -1;
  int64_t n;
  if (query_int(m, "SELECT count(*) FROM src.sqlite_schema", &n)) {
    char e[TB_ERRLEN];
    snprintf(e, sizeof e, "%s", m->err);
    sqlite3_exec(m->db, "DETACH src", NULL, NULL, NULL);
    return fail(m, "cannot read '%s': %s", src_path(m, k), e);
  }
  return 0;
}

static void detach(merger *m) { sqlite3_exec(m->db, "DETACH src", NULL, NULL, NULL); }

/* ---- the schema ------------------------------------------------------------ */

static int table_index(const merger *m, const char *name) {
  for (int i = 0; i < m->nt; i++)
    if (sqlite3_stricmp(m->t[i].name, name) == 0) return i;
  return -1;
}

static int col_index(const mtable *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (sqlite3_stricmp(t->cols[i], name) == 0) return i;
  return -1;
}

static void free_schema(merger *m) {
  for (int i = 0; i < m->nt; i++) {
    for (int c = 0; c < m->t[i].ncols; c++) free(m->t[i].cols[c]);
    free(m->t[i].cols);
    free(m->t[i].ref);
    free(m->t[i].ident);
    free(m->t[i].name);
  }
  free(m->t);
  free(m->order);
}

/* The output's tables, their columns, references and identities. */
static int read_schema(merger *m) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(m->db,
                         "SELECT name FROM main.sqlite_schema WHERE type = 'table'"
                         " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'meta'"
                         " ORDER BY name",
                         -1, &s, NULL) != SQLITE_OK)
    return db_fail(m, "cannot read the schema");
  while (sqlite3_step(s) == SQLITE_ROW) {
    m->t = realloc(m->t, (size_t)(m->nt + 1) * sizeof *m->t);
    if (!m->t) abort();
    memset(&m->t[m->nt], 0, sizeof m->t[m->nt]);
    m->t[m->nt++].name = strdup((const char *)sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  m->order = calloc((size_t)m->nt + 1, sizeof *m->order);
  if (!m->order) abort();
  /* columns, and which are the rowid primary key */
  for (int i = 0; i < m->nt; i++) {
    mtable *t = &m->t[i];
    char *sql = sqlite3_mprintf("SELECT name, pk, upper(type) FROM pragma_table_info(%Q, 'main')"
                                " ORDER BY cid", t->name);
    int rc = sqlite3_prepare_v2(m->db, sql, -1, &s, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return db_fail(m, "cannot read the schema");
    int npk = 0, id_pk = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      t->cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
      t->ref = realloc(t->ref, (size_t)(t->ncols + 1) * sizeof *t->ref);
      if (!t->cols || !t->ref) abort();
      const char *name = (const char *)sqlite3_column_text(s, 0);
      int pk = sqlite3_column_int(s, 1);
      npk += pk > 0;
      if (pk == 1 && strcmp(name, "id") == 0 &&
          strcmp((const char *)sqlite3_column_text(s, 2), "INTEGER") == 0)
        id_pk = 1;
      t->ref[t->ncols] = -1;
      t->cols[t->ncols++] = strdup(name);
    }
    sqlite3_finalize(s);
    t->entity = id_pk && npk == 1;
    t->keyed = npk > 0 && !t->entity;
  }
  /* references, identities */
  for (int i = 0; i < m->nt; i++) {
    mtable *t = &m->t[i];
    char *sql = sqlite3_mprintf("SELECT \"from\", \"table\", \"to\" FROM"
                                " pragma_foreign_key_list(%Q, 'main')", t->name);
    int rc = sqlite3_prepare_v2(m->db, sql, -1, &s, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return db_fail(m, "cannot read the schema");
    while (sqlite3_step(s) == SQLITE_ROW) {
      const char *from = (const char *)sqlite3_column_text(s, 0);
      const char *to_t = (const char *)sqlite3_column_text(s, 1);
      const char *to_c = (const char *)sqlite3_column_text(s, 2);
      int c = col_index(t, from), r = table_index(m, to_t);
      if (c < 0 || r < 0 || !m->t[r].entity || (to_c && strcmp(to_c, "id") != 0)) {
        sqlite3_finalize(s);
        return fail(m, "merge cannot carry table '%s': its column '%s' refers to %s(%s), which "
                       "has no integer id to remap",
                    t->name, from, to_t, to_c ? to_c : "rowid");
      }
      t->ref[c] = r;
    }
    sqlite3_finalize(s);
    for (int c = 0; c < t->ncols; c++) {
      size_t n = strlen(t->cols[c]);
      if (t->ref[c] < 0 && n > 3 && strcmp(t->cols[c] + n - 3, "_id") == 0)
        return fail(m, "merge cannot carry table '%s': its column '%s' names no table (no "
                       "REFERENCES), so its ids cannot be remapped",
                    t->name, t->cols[c]);
    }
    /* the first UNIQUE constraint, for an entity's identity */
    sql = sqlite3_mprintf("SELECT name, origin FROM pragma_index_list(%Q, 'main')"
                          " WHERE \"unique\" ORDER BY seq DESC", t->name);
    rc = sqlite3_prepare_v2(m->db, sql, -1, &s, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return db_fail(m, "cannot read the schema");
    char *uniq = NULL;
    while (sqlite3_step(s) == SQLITE_ROW) {
      t->keyed = 1;
      if (!uniq && strcmp((const char *)sqlite3_column_text(s, 1), "u") == 0)
        uniq = strdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    if (!t->entity) {
      free(uniq);
      continue;
    }
    t->ident = calloc((size_t)t->ncols, sizeof *t->ident);
    if (!t->ident) abort();
    if (uniq) {
      sql = sqlite3_mprintf("SELECT name FROM pragma_index_info(%Q, 'main') ORDER BY seqno",
                            uniq);
      rc = sqlite3_prepare_v2(m->db, sql, -1, &s, NULL);
      sqlite3_free(sql);
      free(uniq);
      if (rc != SQLITE_OK) return db_fail(m, "cannot read the schema");
      while (sqlite3_step(s) == SQLITE_ROW) {
        int c = col_index(t, (const char *)sqlite3_column_text(s, 0));
        if (c >= 0) t->ident[t->nident++] = c;
      }
      sqlite3_finalize(s);
    }
    if (t->nident == 0)
      for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c], "id") != 0) t->ident[t->nident++] = c;
  }
  /* each table after those it refers to */
  int placed = 0;
  while (placed < m->nt) {
    int progress = 0;
    for (int i = 0; i < m->nt; i++) {
      if (m->t[i].done) continue;
      int ready = 1;
      for (int c = 0; c < m->t[i].ncols; c++) {
        int r = m->t[i].ref[c];
        if (r >= 0 && r != i && !m->t[r].done) ready = 0;
      }
      if (!ready) continue;
      m->t[i].done = 1;
      m->order[placed++] = i;
      progress = 1;
    }
    if (!progress) return fail(m, "merge cannot order the tables: their references form a cycle");
  }
  m->runs = table_index(m, "runs");
  if (m->runs < 0 || !m->t[m->runs].entity || col_index(&m->t[m->runs], "config_hash") < 0 ||
      col_index(&m->t[m->runs], "status") < 0)
    return fail(m, "'%s' has no table of runs that merge knows", m->out_path);
  return 0;
}

/* ---- checking the inputs ------------------------------------------------ */

static int check_input(merger *m, int k) {
  const char *path = src_path(m, k);
  int64_t has_runs, version;
  if (query_int(m, "SELECT count(*) FROM src.sqlite_schema WHERE type = 'table' AND"
                   " name IN ('runs', 'sweeps', 'environment')", &has_runs))
    return -1;
  if (has_runs < 3) return fail(m, "'%s' is not a trainbench results database", path);
  if (query_int(m, "PRAGMA src.user_version", &version)) return -1;
  if (version < TB_SCHEMA_VERSION)
    return fail(m, "'%s' has results schema %lld and this trainbench merges schema %d: a "
                   "`trainbench run` of this version on it upgrades it (nothing is retrained)",
                path, (long long)version, TB_SCHEMA_VERSION);
  if (version > TB_SCHEMA_VERSION)
    return fail(m, "'%s' has results schema %lld, newer than this trainbench's (%d): merge "
                   "with the trainbench that wrote it",
                path, (long long)version, TB_SCHEMA_VERSION);
  return 0;
}

/* What the merge decides from: every input's sweeps (shard, script, math
 * kernel) and runs (configuration, status), the output's too (k = 0). */
static int gather(merger *m, const char *schema, int k) {
  char what[4200];
  snprintf(what, sizeof what, "cannot read '%s'", src_path(m, k));
  return exec_free(
      m,
      sqlite3_mprintf(
          "INSERT INTO temp.merge_sweep SELECT %d, s.script_hash, s.script_path,"
          " s.shard_index, s.shard_count, s.finished_at IS NOT NULL,"
          " e.math_backend || ' ' || e.math_version || ' (' || e.math_kernel || ')'"
          " FROM %s.sweeps s LEFT JOIN %s.environment e ON e.id = s.environment_id;"
          "INSERT INTO temp.merge_cand SELECT config_hash, %d, status, finished_at, scenario,"
          " seed, loss, optimizer, NULL FROM %s.runs %s",
          k, schema, schema, k, schema,
          k == 0 ? "WHERE config_hash IN (SELECT config_hash FROM temp.merge_cand)" : ""),
      what);
}

/* Sharded sweeps must have all their shards, here or in the output. */
static int check_shards(merger *m, int partial) {
  sqlite3_stmt *s;
  const char *sql =
      "WITH RECURSIVE g AS (SELECT DISTINCT script_hash, shard_count FROM temp.merge_sweep"
      "  WHERE k > 0 AND shard_count > 1),"
      " n(script_hash, shard_count, i) AS (SELECT script_hash, shard_count, 1 FROM g"
      "  UNION ALL SELECT script_hash, shard_count, i + 1 FROM n WHERE i < shard_count)"
      " SELECT n.script_hash, n.shard_count, n.i,"
      "  (SELECT script_path FROM temp.merge_sweep w WHERE w.script_hash IS n.script_hash"
      "   AND w.shard_count = n.shard_count ORDER BY k LIMIT 1)"
      " FROM n WHERE NOT EXISTS (SELECT 1 FROM temp.merge_sweep w"
      "  WHERE w.script_hash IS n.script_hash AND w.shard_count = n.shard_count"
      "  AND w.shard_index = n.i)"
      " ORDER BY n.script_hash, n.shard_count, n.i";
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(m, "cannot check the shards");
  sqlite3_str *msg = sqlite3_str_new(NULL);
  char prev[128] = "";
  int listed = 0, groups = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *hash = (const char *)sqlite3_column_text(s, 0);
    int count = sqlite3_column_int(s, 1), i = sqlite3_column_int(s, 2);
    const char *path = (const char *)sqlite3_column_text(s, 3);
    char group[128];
    snprintf(group, sizeof group, "%s/%d", hash ? hash : "", count);
    if (strcmp(group, prev) != 0) {
      snprintf(prev, sizeof prev, "%s", group);
      sqlite3_str_appendf(msg, "%sshards of '%s' (script hash %.8s, %d shards) missing:",
                          groups++ ? "; " : "", path ? path : "?", hash ? hash : "?", count);
      listed = 0;
    }
    if (listed < 20)
      sqlite3_str_appendf(msg, " %d/%d", i, count);
    else if (listed == 20)
      sqlite3_str_appendall(msg, " ...");
    listed++;
  }
  sqlite3_finalize(s);
  char *text = sqlite3_str_finish(msg);
  int rc = 0;
  if (groups && !partial)
    rc = fail(m, "%s (give their databases too, or --partial to merge without them; a "
                 "script changed between shards makes two incomplete sweeps)",
              text);
  else if (groups)
    fprintf(m->log, "trainbench merge: warning: %s; merged without them (--partial)\n", text);
  sqlite3_free(text);
  if (rc) return rc;

  /* a shard present only as a sweep that never ended (killed) */
  sql = "SELECT w.shard_index, w.shard_count, group_concat(DISTINCT p.path)"
        " FROM temp.merge_sweep w JOIN temp.merge_src p ON p.k = w.k"
        " WHERE w.shard_count > 1 AND w.script_hash IN"
        "  (SELECT script_hash FROM temp.merge_sweep WHERE k > 0)"
        " GROUP BY w.script_hash, w.shard_index, w.shard_count HAVING max(w.finished) = 0"
        " ORDER BY w.script_hash, w.shard_index";
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(m, "cannot check the shards");
  while (sqlite3_step(s) == SQLITE_ROW)
    fprintf(m->log,
            "trainbench merge: warning: shard %d/%d ('%s') never finished: the runs it recorded "
            "are merged; rerun that shard (it resumes) and merge again for the rest\n",
            sqlite3_column_int(s, 0), sqlite3_column_int(s, 1),
            (const char *)sqlite3_column_text(s, 2));
  sqlite3_finalize(s);
  return 0;
}

/* The sweeps of one script that computed with different math kernels: the
 * same configuration gives other last bits there (README, Concepts). */
static int check_kernels(merger *m) {
  sqlite3_stmt *s;
  const char *sql =
      "WITH h AS (SELECT script_hash FROM temp.merge_sweep GROUP BY script_hash"
      "  HAVING count(DISTINCT kernel) > 1 AND max(k) > 0)"
      " SELECT w.script_hash, min(w.script_path), w.kernel, group_concat(DISTINCT"
      "  w.shard_index || '/' || w.shard_count || ' (''' || p.path || ''')')"
      " FROM temp.merge_sweep w JOIN temp.merge_src p ON p.k = w.k"
      " WHERE w.kernel IS NOT NULL AND w.script_hash IN h"
      " GROUP BY w.script_hash, w.kernel ORDER BY w.script_hash, w.kernel";
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(m, "cannot compare the math kernels");
  char prev[64] = "";
  int open = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *hash = (const char *)sqlite3_column_text(s, 0);
    if (!hash) hash = "";
    if (strcmp(prev, hash) != 0) {
      if (open) fputs("; their numbers may differ in the last bits\n", m->log);
      snprintf(prev, sizeof prev, "%s", hash);
      fprintf(m->log, "trainbench merge: warning: the shards of '%s' ran on different math kernels:",
              (const char *)sqlite3_column_text(s, 1));
      open = 0;
    }
    fprintf(m->log, "%s %s on %s", open ? ";" : "", (const char *)sqlite3_column_text(s, 2),
            (const char *)sqlite3_column_text(s, 3));
    open = 1;
  }
  if (open) fputs("; their numbers may differ in the last bits\n", m->log);
  sqlite3_finalize(s);
  return 0;
}

/* Two final results of one configuration must be one result. The digest
 * (status and every metric row) is computed only where two final results
 * meet. */
static int digest_runs(merger *m, const char *schema, int k) {
  const mtable *mt = NULL;
  int ti = table_index(m, "metrics");
  if (ti >= 0) mt = &m->t[ti];
  sqlite3_str *cols = sqlite3_str_new(NULL);
  sqlite3_str_appendall(cols, "r.status");
  if (mt)
    for (int c = 0; c < mt->ncols; c++)
      if (strcmp(mt->cols[c], "run_id") != 0) sqlite3_str_appendf(cols, ", x.\"%w\"", mt->cols[c]);
  char *list = sqlite3_str_finish(cols);
  char what[4200];
  snprintf(what, sizeof what, "cannot read the results of '%s'", src_path(m, k));
  char *sql = sqlite3_mprintf(
      "UPDATE temp.merge_cand SET digest = (SELECT r.status || ':' || merge_digest(%s)"
      "  FROM %s.runs r %s%s%s WHERE r.config_hash = merge_cand.config_hash)"
      " WHERE k = %d AND status IN " FINAL " AND config_hash IN (SELECT config_hash FROM"
      "  temp.merge_cand WHERE status IN " FINAL " GROUP BY config_hash HAVING count(*) > 1)",
      list, schema, mt ? "LEFT JOIN " : "", mt ? schema : "",
      mt ? ".metrics x ON x.run_id = r.id" : "", k);
  sqlite3_free(list);
  return exec_free(m, sql, what);
}

static int check_conflicts(merger *m) {
  sqlite3_stmt *s;
  const char *sql =
      "WITH f AS (SELECT * FROM temp.merge_cand WHERE status IN " FINAL "),"
      " a AS (SELECT config_hash, min(k) AS k FROM f GROUP BY config_hash"
      "  HAVING count(DISTINCT digest) > 1)"
      " SELECT f1.config_hash, f1.scenario, f1.seed, f1.loss, f1.optimizer,"
      "  f1.status, f1.k, f2.status, f2.k"
      " FROM a JOIN f f1 ON f1.config_hash = a.config_hash AND f1.k = a.k"
      " JOIN f f2 ON f2.config_hash = a.config_hash AND f2.k = (SELECT min(x.k) FROM f x"
      "  WHERE x.config_hash = a.config_hash AND x.digest IS NOT f1.digest)"
      " ORDER BY f1.scenario, f1.config_hash";
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(m, "cannot compare the results");
  int n = 0;
  char first[TB_ERRLEN] = "";
  while (sqlite3_step(s) == SQLITE_ROW) {
    char line[TB_ERRLEN];
    const char *hash = (const char *)sqlite3_column_text(s, 0);
    snprintf(line, sizeof line,
             "configuration %s (scenario '%s', seed %lld, %s / %s) has two different results: "
             "%s in '%s' and %s in '%s'",
             hash, (const char *)sqlite3_column_text(s, 1),
             (long long)sqlite3_column_int64(s, 2), (const char *)sqlite3_column_text(s, 3),
             (const char *)sqlite3_column_text(s, 4), (const char *)sqlite3_column_text(s, 5),
             src_path(m, sqlite3_column_int64(s, 6)), (const char *)sqlite3_column_text(s, 7),
             src_path(m, sqlite3_column_int64(s, 8)));
    if (n++ == 0)
      snprintf(first, sizeof first, "%s", line);
    else
      fprintf(m->log, "trainbench merge: %s\n", line);
  }
  sqlite3_finalize(s);
  if (n == 0) return 0;
  return fail(m, "%s%s; nothing was merged: keep one of them (`trainbench rm --db DB --where "
                 "\"config_hash = '...'\"` deletes the other) and merge again",
              first, n > 1 ? " (and the other conflicts above)" : "");
}

/* ---- writing ------------------------------------------------------------------ */

/* Column c of table t as read from src row alias s, its id mapped. */
static void put_value(sqlite3_str *q, const mtable *t, int c) {
  if (t->ref[c] >= 0)
    sqlite3_str_appendf(q, "(SELECT new FROM temp.merge_map_%d WHERE old = s.\"%w\")", t->ref[c],
                        t->cols[c]);
  else
    sqlite3_str_appendf(q, "s.\"%w\"", t->cols[c]);
}

static void put_columns(sqlite3_str *q, const mtable *t, int values) {
  int first = 1;
  for (int c = 0; c < t->ncols; c++) {
    if (t->entity && strcmp(t->cols[c], "id") == 0) continue;
    if (!first) sqlite3_str_appendall(q, ", ");
    first = 0;
    if (values)
      put_value(q, t, c);
    else
      sqlite3_str_appendf(q, "\"%w\"", t->cols[c]);
  }
}

/* "m.a IS <s.a mapped> AND ..." over the identity of an entity, or every
 * column of another table */
static void put_same(sqlite3_str *q, const mtable *t) {
  int first = 1;
  for (int j = 0; j < (t->entity ? t->nident : t->ncols); j++) {
    int c = t->entity ? t->ident[j] : j;
    sqlite3_str_appendf(q, "%sm.\"%w\" IS ", first ? "" : " AND ", t->cols[c]);
    put_value(q, t, c);
    first = 0;
  }
  if (first) sqlite3_str_appendall(q, "1");
}

static int copy_table(merger *m, int ti, int k) {
  const mtable *t = &m->t[ti];
  const int is_runs = ti == m->runs;
  char pick[128];
  snprintf(pick, sizeof pick, "SELECT config_hash FROM temp.merge_pick WHERE k = %d", k);
  sqlite3_str *q = sqlite3_str_new(NULL);
  if (t->entity) {
    if (is_runs) /* the output's runs that lost to this input's */
      sqlite3_str_appendf(q, "DELETE FROM main.runs WHERE config_hash IN (%s);", pick);
    sqlite3_str_appendf(q, "INSERT INTO main.\"%w\"(", t->name);
    put_columns(q, t, 0);
    sqlite3_str_appendall(q, ") SELECT ");
    put_columns(q, t, 1);
    sqlite3_str_appendf(q, " FROM src.\"%w\" s WHERE ", t->name);
    if (is_runs)
      sqlite3_str_appendf(q, "s.config_hash IN (%s)", pick);
    else {
      sqlite3_str_appendf(q, "NOT EXISTS (SELECT 1 FROM main.\"%w\" m WHERE ", t->name);
      put_same(q, t);
      sqlite3_str_appendall(q, ")");
    }
    sqlite3_str_appendall(q, " ORDER BY s.id;");
    /* the map of ids: a run only when this input's run is the one kept */
    sqlite3_str_appendf(q,
                        "DROP TABLE IF EXISTS temp.merge_map_%d;"
                        "CREATE TEMP TABLE merge_map_%d(old INTEGER PRIMARY KEY, new INTEGER);"
                        "INSERT INTO temp.merge_map_%d SELECT s.id, (SELECT m.id FROM main.\"%w\""
                        " m WHERE ",
                        ti, ti, ti, t->name);
    put_same(q, t);
    sqlite3_str_appendf(q, " ORDER BY m.id LIMIT 1) FROM src.\"%w\" s", t->name);
    if (is_runs) sqlite3_str_appendf(q, " WHERE s.config_hash IN (%s)", pick);
    sqlite3_str_appendall(q, ";");
    /* a row both have: seen first when either saw it first, last when either last */
    static const char *const seen[2][2] = {{"first_seen", "min"}, {"last_seen", "max"}};
    for (int j = 0; j < 2; j++) {
      if (col_index(t, seen[j][0]) < 0) continue;
      sqlite3_str_appendf(
          q,
          "UPDATE main.\"%w\" AS m SET \"%w\" = x.v FROM (SELECT p.new AS id, %s(s.\"%w\") AS v"
          " FROM src.\"%w\" s JOIN temp.merge_map_%d p ON p.old = s.id GROUP BY p.new) AS x"
          " WHERE m.id = x.id AND x.v IS NOT NULL AND (m.\"%w\" IS NULL OR %s(m.\"%w\", x.v)"
          " <> m.\"%w\");",
          t->name, seen[j][0], seen[j][1], seen[j][0], t->name, ti, seen[j][0], seen[j][1],
          seen[j][0], seen[j][0]);
    }
  } else {
    sqlite3_str_appendf(q, "INSERT %sINTO main.\"%w\"(", t->keyed ? "OR IGNORE " : "", t->name);
    put_columns(q, t, 0);
    sqlite3_str_appendall(q, ") SELECT ");
    put_columns(q, t, 1);
    sqlite3_str_appendf(q, " FROM src.\"%w\" s WHERE 1", t->name);
    for (int c = 0; c < t->ncols; c++) /* only the rows of the runs this input brings */
      if (t->ref[c] == m->runs)
        sqlite3_str_appendf(q, " AND s.\"%w\" IN (SELECT old FROM temp.merge_map_%d)",
                            t->cols[c], m->runs);
    if (!t->keyed) {
      sqlite3_str_appendf(q, " AND NOT EXISTS (SELECT 1 FROM main.\"%w\" m WHERE ", t->name);
      put_same(q, t);
      sqlite3_str_appendall(q, ")");
    }
    sqlite3_str_appendall(q, ";");
  }
  char what[4400];
  snprintf(what, sizeof what, "cannot merge table '%s' of '%s'", t->name, src_path(m, k));
  return exec_free(m, sqlite3_str_finish(q), what);
}

static int write_input(merger *m, int k) {
  char what[4200];
  snprintf(what, sizeof what, "cannot merge '%s'", src_path(m, k));
  if (attach(m, k) || exec(m, "BEGIN IMMEDIATE", what)) {
    detach(m);
    return -1;
  }
  for (int i = 0; i < m->nt; i++)
    if (copy_table(m, m->order[i], k)) {
      sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
      detach(m);
      return -1;
    }
  int rc = exec(m, "COMMIT", what);
  if (rc) sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
  detach(m);
  return rc;
}

/* What the output now holds of the scripts merged: per scenario version,
 * its configurations with a final result, to retry, and without a run. */
static void report(merger *m, const tb_merge_stats *st) {
  fprintf(m->log,
          "merge: %lld run%s added, %lld replaced (a result over a run to retry), %lld already "
          "there or beaten; database %s\n",
          (long long)st->added, st->added == 1 ? "" : "s", (long long)st->replaced,
          (long long)st->kept, m->out_path);
  sqlite3_stmt *s;
  const char *sql =
      "SELECT s.name, count(*), sum(r.status IN " FINAL "),"
      " sum(r.status IS NOT NULL AND r.status NOT IN " FINAL "), sum(r.id IS NULL)"
      " FROM main.scenarios s JOIN main.scenario_configs c ON c.scenario_id = s.id"
      " LEFT JOIN main.runs r ON r.config_hash = c.config_hash"
      " WHERE s.script_hash IN (SELECT script_hash FROM temp.merge_sweep WHERE k > 0)"
      " GROUP BY s.id ORDER BY s.name, s.id";
  if (sqlite3_prepare_v2(m->db, sql, -1, &s, NULL) != SQLITE_OK) return;
  while (sqlite3_step(s) == SQLITE_ROW)
    fprintf(m->log,
            "merge: scenario '%s': %lld configurations, %lld with a result, %lld crashed, timed "
            "out or failed (a rerun of their shard retries them), %lld not run\n",
            (const char *)sqlite3_column_text(s, 0), (long long)sqlite3_column_int64(s, 1),
            (long long)sqlite3_column_int64(s, 2), (long long)sqlite3_column_int64(s, 3),
            (long long)sqlite3_column_int64(s, 4));
  sqlite3_finalize(s);
}

int tb_merge(tb_store *out, const char *const *in, int n_in, const tb_merge_opts *o,
             tb_merge_stats *stats, char *err, size_t errlen) {
  merger mg;
  merger *m = &mg;
  memset(m, 0, sizeof *m);
  m->db = tb_store_db(out);
  m->out_path = tb_store_path(out);
  m->log = o && o->log ? o->log : stderr;
  m->err = err;
  m->errlen = errlen;
  memset(stats, 0, sizeof *stats);
  int rc = -1;
  if (sqlite3_create_function(m->db, "merge_digest", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                              NULL, NULL, digest_step, digest_final) != SQLITE_OK) {
    db_fail(m, "merge");
    goto out;
  }
  if (open_inputs(m, in, n_in) || read_schema(m) ||
      exec(m,
           "DROP TABLE IF EXISTS temp.merge_src; DROP TABLE IF EXISTS temp.merge_sweep;"
           "DROP TABLE IF EXISTS temp.merge_cand; DROP TABLE IF EXISTS temp.merge_pick;"
           "CREATE TEMP TABLE merge_src(k INTEGER PRIMARY KEY, path TEXT NOT NULL);"
           "CREATE TEMP TABLE merge_sweep(k INTEGER, script_hash TEXT, script_path TEXT,"
           " shard_index INTEGER, shard_count INTEGER, finished INTEGER, kernel TEXT);"
           "CREATE TEMP TABLE merge_cand(config_hash TEXT NOT NULL, k INTEGER NOT NULL,"
           " status TEXT, finished_at REAL, scenario TEXT, seed INTEGER, loss TEXT,"
           " optimizer TEXT, digest TEXT, PRIMARY KEY(config_hash, k));"
           "CREATE TEMP TABLE merge_pick(config_hash TEXT PRIMARY KEY, k INTEGER NOT NULL)",
           "merge"))
    goto out;
  for (int k = 0; k <= m->n_in; k++)
    if (exec_free(m, sqlite3_mprintf("INSERT INTO temp.merge_src VALUES(%d, %Q)", k,
                                     src_path(m, k)), "merge"))
      goto out;
  /* read everything that decides */
  for (int k = 1; k <= m->n_in; k++) {
    if (attach(m, k)) goto out;
    int bad = check_input(m, k) || gather(m, "src", k);
    detach(m);
    if (bad) goto out;
  }
  if (gather(m, "main", 0) || check_shards(m, o && o->partial) || check_kernels(m)) goto out;
  int64_t meet = 0;
  if (query_int(m, "SELECT count(*) FROM (SELECT 1 FROM temp.merge_cand WHERE status IN " FINAL
                   " GROUP BY config_hash HAVING count(*) > 1)", &meet))
    goto out;
  if (meet > 0) {
    for (int k = 1; k <= m->n_in; k++) {
      if (attach(m, k)) goto out;
      int bad = digest_runs(m, "src", k);
      detach(m);
      if (bad) goto out;
    }
    if (digest_runs(m, "main", 0) || check_conflicts(m)) goto out;
  }
  /* the run kept for each configuration: a final result first (the
   * output's, else the first input's), else the latest attempt */
  if (exec(m,
           "INSERT INTO temp.merge_pick SELECT config_hash, k FROM (SELECT config_hash, k,"
           " row_number() OVER (PARTITION BY config_hash ORDER BY status IN " FINAL " DESC,"
           "  CASE WHEN status IN " FINAL " THEN 0 ELSE -coalesce(finished_at, 0) END, k) AS rn"
           " FROM temp.merge_cand) WHERE rn = 1",
           "merge"))
    goto out;
  int64_t added, replaced, cand;
  if (query_int(m, "SELECT count(*) FROM temp.merge_pick p WHERE k > 0 AND NOT EXISTS"
                   " (SELECT 1 FROM temp.merge_cand c WHERE c.config_hash = p.config_hash AND"
                   " c.k = 0)", &added) ||
      query_int(m, "SELECT count(*) FROM temp.merge_pick WHERE k > 0", &replaced) ||
      query_int(m, "SELECT count(*) FROM temp.merge_cand WHERE k > 0", &cand))
    goto out;
  stats->added = added;
  stats->replaced = replaced - added;
  stats->kept = cand - replaced;
  for (int k = 1; k <= m->n_in; k++)
    if (write_input(m, k)) goto out;
  report(m, stats);
  rc = 0;
out:
  for (int i = 0; i < m->nt; i++) {
    char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS temp.merge_map_%d", i);
    sqlite3_exec(m->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
  }
  sqlite3_exec(m->db,
               "DROP TABLE IF EXISTS temp.merge_src; DROP TABLE IF EXISTS temp.merge_sweep;"
               "DROP TABLE IF EXISTS temp.merge_cand; DROP TABLE IF EXISTS temp.merge_pick",
               NULL, NULL, NULL);
  free_schema(m);
  for (int i = 0; i < m->n_in; i++) {
    close(m->fds[i]);
    sqlite3_free(m->uris[i]);
  }
  free(m->fds);
  free(m->uris);
  free(m->in);
  return rc;
}
