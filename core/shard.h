/*
 * shard.h — splitting a sweep into N shards (shard.c): `run --shard I/N`
 * keeps the runs whose configuration hash falls in shard I.
 *
 * Provides: tb_shard_parse, tb_shard_of, tb_shard_keep.
 */
#ifndef TB_SHARD_H
#define TB_SHARD_H

#include <stddef.h>

#include "script.h"

#define TB_SHARD_MAX 100000

/* "I/N" with 1 <= I <= N <= TB_SHARD_MAX; -1 with err otherwise. */
int tb_shard_parse(const char *s, int *index, int *count, char *err, size_t errlen);
/* The shard (1..count) of a run, from its configuration hash alone: the
 * hash's leading 64 bits modulo count, plus one. */
int tb_shard_of(const char *config_hash, int count);
/* Keep only the runs of `sw` in shard `index` of `count` (the others are
 * freed), in their order. */
void tb_shard_keep(tb_sweep *sw, int index, int count);

#endif /* TB_SHARD_H */
