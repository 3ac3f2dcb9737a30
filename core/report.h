/*
 * report.h — reading results (report.c): read-only SQL queries printed as a
 * table, CSV or JSON, and the summary of each configuration.
 *
 * Provides: tb_report_query, tb_report_summary.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "store.h"

enum tb_format { TB_FMT_TABLE = 1, TB_FMT_CSV = 2, TB_FMT_JSON = 3 };
/* How `trainbench query` prints, and how long a query may run. */
typedef struct tb_query_opts {
  int format;     /* TB_FMT_* */
  double timeout; /* seconds before the query is stopped; 0: no limit */
  int wide;       /* table: never cut long cells */
  int tty;        /* table: the output is a terminal, where long cells are cut unless wide */
} tb_query_opts;
/* Run SQL that only reads (anything that could write is refused before any
 * statement runs) and print each result set. */
int tb_report_query(tb_store *st, const char *sql, const tb_query_opts *o, FILE *out, char *err,
                    size_t errlen);
typedef struct tb_summary_opts {
  const char *scenario;  /* NULL: every scenario */
  int all_versions;      /* every recorded run, not only the latest script version's */
  int best_only;         /* only the best configuration(s) of each loss and optimizer */
  int max_rows;          /* > 0: best only for scenarios with more configurations */
} tb_summary_opts;
int tb_report_summary(tb_store *st, const tb_summary_opts *o, FILE *out, char *err,
                      size_t errlen);

#endif /* TB_REPORT_H */
