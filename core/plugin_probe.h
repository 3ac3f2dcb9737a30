/*
 * plugin_probe.h — a plugin file loaded in a child process before the
 * command loads it (plugin_probe.c), so that a constructor or entry point
 * that crashes, exits or hangs is a message naming the file, not the end of
 * the command. Loads that succeeded are cached by the file's content hash.
 *
 * Provides: tb_plugin_probe.
 */
#ifndef TB_PLUGIN_PROBE_H
#define TB_PLUGIN_PROBE_H

#include <stddef.h>

/* The whole load of one file (dlopen, entry point, descriptor checks); 0, or
 * -1 with the reason in err. Run in the child. */
typedef int (*tb_probe_load_fn)(void *ud, char *err, size_t errlen);

/* 0 when load(ud) succeeded in a child process (or the file's hash is in the
 * cache of loads that did); -1 with err set otherwise: the loader's own
 * message when it returned one, else how the child ended (a signal, exit, a
 * hang past 20 s) and the tail of its output. */
int tb_plugin_probe(const char *hash, tb_probe_load_fn load, void *ud, char *err,
                    size_t errlen);

#endif /* TB_PLUGIN_PROBE_H */
