/*
 * hash.h — content hashes for configurations, datasets and plugin files
 * (hash.c): XXH3-128, written as 32 lowercase hex digits and a NUL.
 *
 * Provides: tb_hash_bytes, tb_hash_file, tb_fopen_regular.
 */
#ifndef TB_HASH_H
#define TB_HASH_H

#include <stddef.h>
#include <stdio.h>

#define TB_HASHLEN 33
void tb_hash_bytes(char out[TB_HASHLEN], const void *data, size_t n);
/* The file's content hash; a path that is not a regular file (a FIFO, a
 * device such as /dev/zero, a directory) is an error, never a read that
 * blocks or never ends. */
int tb_hash_file(char out[TB_HASHLEN], const char *path, char *err, size_t errlen);
/* fopen(path, "rb") of a regular file only: the open never blocks (a FIFO
 * without a writer would), and anything else is an error naming the path and
 * what it is. What (e.g. "script", "data file") opens the message. NULL and
 * err set on failure. */
FILE *tb_fopen_regular(const char *path, const char *what, char *err, size_t errlen);

#endif /* TB_HASH_H */
