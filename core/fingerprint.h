/*
 * fingerprint.h — numeric fingerprints of losses, optimizers and schedules:
 * what a component computes on fixed probe inputs, so that a plugin rebuilt with
 * other numbers under the same name and version can be told apart from one
 * rebuilt only with other compiler flags. fingerprint.c says what is probed,
 * how two fingerprints are compared and the text form kept in the store.
 *
 * Provides: tb_fingerprint_component, tb_fingerprint_components,
 * tb_fingerprint_same, tb_fingerprint_diff, tb_fingerprint_encode,
 * tb_fingerprint_decode.
 */
#ifndef TB_FINGERPRINT_H
#define TB_FINGERPRINT_H

#include <stddef.h>

#include "hash.h"
#include "registry.h"

/* The probe's version: bump it whenever the probe inputs or the summary
 * values change, since fingerprints of two versions cannot be compared. */
#define TB_FP_VERSION 1
#define TB_FP_MAXV 512 /* summary values at most */
/* Room for the text form: "fp<version>:<hash>:" and TB_FP_MAXV values of at
 * most 24 characters, comma-separated, and the NUL. */
#define TB_FP_TEXTMAX (16 + TB_HASHLEN + 25 * TB_FP_MAXV)

typedef struct tb_fingerprint {
  int version;           /* the probe version that made it; 0 with n = 0: none */
  int n;                 /* values in v; 0: no fingerprint (the probe failed) */
  char hash[TB_HASHLEN]; /* of the values rounded to 6 significant digits */
  double v[TB_FP_MAXV];  /* the summary values (may hold NaN or +-inf) */
} tb_fingerprint;

/* Probe c in a child process, which is killed after `timeout` seconds (<= 0:
 * no limit). 0, or -1 with err naming c, its file and the reason (a signal
 * by name, a timeout, the call it was in, its last output); the caller is
 * never taken down by the plugin. */
int tb_fingerprint_component(const tb_component *c, double timeout, tb_fingerprint *out,
                             char *err, size_t errlen);
/* Probe n components in one child process (a new one carries on after a
 * crash or a timeout), each with `timeout` seconds; out[i] for cs[i]. 0 when
 * every component was probed; -1 otherwise, with out[i].n = 0 for each that
 * failed and err naming every failure as above, separated by "; ". */
int tb_fingerprint_components(const tb_component *const *cs, int n, double timeout,
                              tb_fingerprint *out, char *err, size_t errlen);
/* 1 when a and b agree within the tolerance (whatever the hashes say), 0 when
 * they differ, -1 when they cannot be compared: made by different probe
 * versions, or one of them empty (then record the new one; do not refuse). */
int tb_fingerprint_same(const tb_fingerprint *a, const tb_fingerprint *b);
/* Where a and b differ, on one line: "37 of 112 values differ, the first at
 * #12: 0.5213 vs 0.5265 (relative 1e-2)"; "" when they are the same. */
void tb_fingerprint_diff(const tb_fingerprint *a, const tb_fingerprint *b, char *out,
                         size_t outlen);
/* The text form (see fingerprint.c); 0, or -1 if outlen is too small
 * (TB_FP_TEXTMAX always suffices) or fp is empty. */
int tb_fingerprint_encode(const tb_fingerprint *fp, char *out, size_t outlen);
/* Parse the text form, checking the hash against the values; 0, or -1 with
 * err saying what is wrong and where. */
int tb_fingerprint_decode(const char *text, tb_fingerprint *fp, char *err, size_t errlen);

#endif /* TB_FINGERPRINT_H */
