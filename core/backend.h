/*
 * backend.h — the math backend of the runs a sweep would reuse, against
 * the one this build computes with (backend.c).
 *
 * Provides: tb_backend_check_resume.
 */
#ifndef TB_BACKEND_H
#define TB_BACKEND_H

#include <stddef.h>
#include <stdio.h>

#include "script.h"
#include "store.h"

/* Of the runs of `sw` that `st` holds as complete or diverged — the runs a
 * sweep without --force skips — count those recorded under another math
 * backend, version or kernel than tb_blas_describe's, and when there are
 * any, write one warning line to `out` naming how many, which backend and
 * `--force`. Nothing to do with force or without a database (st NULL).
 * 0, or -1 with the reason in err (the database could not be read). */
int tb_backend_check_resume(const tb_sweep *sw, tb_store *st, int force, FILE *out, char *err,
                            size_t errlen);

#endif /* TB_BACKEND_H */
