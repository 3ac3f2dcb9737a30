/*
 * merge.h — joining results databases (merge.c): the shards of a sweep run
 * with `run --shard I/N`, or any databases, into one.
 *
 * Provides: tb_merge_opts, tb_merge_stats, tb_merge.
 */
#ifndef TB_MERGE_H
#define TB_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

typedef struct tb_merge_opts {
  int partial; /* merge even when shards of a sweep are missing (warned about) */
  FILE *log;   /* warnings and the report of what was merged (stderr) */
} tb_merge_opts;

typedef struct tb_merge_stats {
  int64_t added;    /* runs whose configuration was not in the output */
  int64_t replaced; /* output runs that a result beat (complete over failed) */
  int64_t kept;     /* input runs the output already had, or beaten by another input */
} tb_merge_stats;

/* Merge the databases `in` into the open output store `out`. Everything is
 * checked before anything is written: every input readable, not written by
 * a sweep right now, of this schema; every shard of each sharded sweep
 * present (unless o->partial); no configuration with two different final
 * results (an error naming both databases). Then each input goes in within
 * a transaction of its own, ids remapped, and merging it again adds
 * nothing. The views of `out` are not refreshed: reopen it. */
int tb_merge(tb_store *out, const char *const *in, int n_in, const tb_merge_opts *o,
             tb_merge_stats *stats, char *err, size_t errlen);

#endif /* TB_MERGE_H */
