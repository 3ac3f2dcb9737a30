/*
 * backend.c — a sweep resumed on another math backend says so. Runs are
 * keyed on their configuration, not on what computed them, so a sweep
 * resumed by a build with another BLAS (OpenBLAS alone, or with LIBXSMM; a
 * different version; another CPU's kernels) reuses runs whose numbers
 * differ from its own in the last bits. That is allowed — the results are
 * the same within float tolerance — but never silent: before training, the
 * runs it would skip are compared with tb_blas_describe through the
 * environment row each run was recorded with.
 *
 * Provides: tb_backend_check_resume.
 */
#include <sqlite3.h>
#include <string.h>

#include "backend.h"
#include "tensor.h"
#include "util.h"

static int db_fail(char *err, size_t errlen, sqlite3 *db) {
  tb_errf(err, errlen, "cannot compare the sweep's recorded runs with this build's math backend: %s",
          sqlite3_errmsg(db));
  return -1;
}

int tb_backend_check_resume(const tb_sweep *sw, tb_store *st, int force, FILE *out, char *err,
                            size_t errlen) {
  if (!st || force || sw->n_runs == 0) return 0;
  if (tb_store_sweep_hashes(st, sw, err, errlen)) return -1;
  sqlite3 *db = tb_store_db(st);
  sqlite3_stmt *s;
  /* the skipped runs by the backend that computed them, the most first
   * (runs of trainbench 0.1 have no environment: nothing to compare) */
  const char *sql =
      "SELECT e.math_backend, e.math_version, e.math_kernel, count(*)"
      " FROM temp.sweep_hashes h JOIN runs r ON r.config_hash = h.h"
      " JOIN environment e ON e.id = r.environment_id"
      " WHERE r.status IN ('complete', 'diverged')"
      " GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3";
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return db_fail(err, errlen, db);
  tb_blas_desc cur;
  tb_blas_describe(&cur);
  long long recorded = 0, other = 0;
  int groups = 0, rc;
  char names[512] = "";
  size_t k = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *be = (const char *)sqlite3_column_text(s, 0);
    const char *ver = (const char *)sqlite3_column_text(s, 1);
    const char *ker = (const char *)sqlite3_column_text(s, 2);
    long long n = sqlite3_column_int64(s, 3);
    recorded += n;
    if (be && ver && ker && strcmp(be, cur.backend) == 0 && strcmp(ver, cur.version) == 0 &&
        strcmp(ker, cur.kernel) == 0)
      continue;
    other += n;
    if (k < sizeof names)
      k += (size_t)snprintf(names + k, sizeof names - k, "%s%lld on %s %s (%s)",
                            groups++ ? ", " : "", n, be ? be : "?", ver ? ver : "?",
                            ker ? ker : "?");
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return db_fail(err, errlen, db);
  if (other == 0) return 0;
  /* one backend: name it; several: each with its count */
  const char *one = strstr(names, " on ");
  fprintf(out,
          "trainbench: warning: %lld of the %lld recorded runs of this sweep ran on %s%s%s; this "
          "build computes with %s %s (%s): their numbers may differ from its own in the last bits; "
          "`--force` reruns them\n",
          other, recorded, groups == 1 ? "" : "other math backends (",
          groups == 1 && one ? one + 4 : names, groups == 1 ? "" : ")", cur.backend, cur.version,
          cur.kernel);
  return 0;
}
