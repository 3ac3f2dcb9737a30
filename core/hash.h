/*
 * hash.h — content hashes for configurations, datasets and plugin files
 * (hash.c): XXH3-128, written as 32 lowercase hex digits and a NUL.
 *
 * Provides: tb_hash_bytes, tb_hash_file.
 */
#ifndef TB_HASH_H
#define TB_HASH_H

#include <stddef.h>

#define TB_HASHLEN 33
void tb_hash_bytes(char out[TB_HASHLEN], const void *data, size_t n);
int tb_hash_file(char out[TB_HASHLEN], const char *path, char *err, size_t errlen);

#endif /* TB_HASH_H */
