/*
 * sqlfn.h — statistics as SQL aggregate functions on trainbench's own
 * connections: stdev, variance, median and quantile (see sqlfn.c).
 */
#ifndef TB_SQLFN_H
#define TB_SQLFN_H

struct sqlite3;

/* Register stdev(x), variance(x), median(x) and quantile(x, q) on `db`.
 * Returns 0, or the SQLite error code of the first registration that failed. */
int tb_sql_register(struct sqlite3 *db);

#endif /* TB_SQLFN_H */
