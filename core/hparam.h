/*
 * hparam.h — hyperparameters of every component, one validator for every
 * type (hparam.c): the rules a table must follow (checked when a plugin is
 * loaded, and by tests for the built-in tables), what a value of each type
 * may be, and instances — a component with one value per hyperparameter
 * and, for a COMPONENT hyperparameter, the instance of the component it
 * names. Instances are the nodes of a run's configuration tree (config.h).
 *
 * Types (trainbench/plugin.h): real, int, bool, choice (scalars: `hp[i]`
 * holds them as doubles, the option's index for a choice), string, list,
 * record (named numbers, `choices` lists the fields), matrix and component.
 * Every value is also a tb_value, which plugins receive beside `hp`.
 *
 * Two flags are the core's own and never appear in plugin.h (the loader
 * refuses them from plugins): TB_HPF_OPTIONAL, a hyperparameter whose
 * absence is a value of its own (`split_seed`, `label`: absent is NaN for a
 * number, NULL for a text or a list, never a magic number), and
 * TB_HPF_NOT_IDENTITY, a value that is not part of the run's identity
 * because another one stands for it (a CSV file's path: its content hash).
 *
 * Instances are immutable once built and shared by reference count (the
 * runs of a grid share the instances their alternatives have in common);
 * build them with tb_instance_new and the tb_instance_set* functions, check
 * them with tb_instance_check, then only read them.
 *
 * Provides: tb_hparam_table_check, tb_value_check, tb_value_absent,
 * tb_value_equal, tb_value_is_default, tb_value_default, tb_hp_type_name,
 * tb_component_label, tb_instance_new, tb_instance_named, tb_instance_copy,
 * tb_instance_ref, tb_instance_unref,
 * tb_instance_set, tb_instance_set_num, tb_instance_set_text,
 * tb_instance_set_list, tb_instance_set_child, tb_instance_check,
 * tb_instance_same, tb_instance_is_default, tb_instance_at,
 * tb_instance_value, tb_instance_num, tb_hp_value_text.
 */
#ifndef TB_HPARAM_H
#define TB_HPARAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "registry.h"
#include "trainbench/plugin.h"

/* Core-only flags (bits a plugin cannot set: the loader refuses them). */
#define TB_HPF_OPTIONAL (1u << 16)     /* may be absent: no default; absent is NaN / NULL */
#define TB_HPF_NOT_IDENTITY (1u << 17) /* left out of the identity (another value stands for it) */
#define TB_HPF_PLUGIN_FLAGS (TB_HPF_INTEGER | TB_HPF_K | TB_HPF_REQUIRED)

/* Integers are carried as doubles: an INT value must be exact in one. */
#define TB_HP_INT_LIMIT 9007199254740992.0 /* 2^53 */

/* The elements a list, record or matrix value may have at most; the fields
 * of a record. */
#define TB_HP_MAX_ELEMENTS 65536
#define TB_HP_MAX_FIELDS 64

typedef struct tb_instance {
  const tb_component *comp;
  int n;                       /* comp->n_hparams */
  double *hp;                  /* [n] scalar view: REAL/INT/BOOL/CHOICE; NaN for the others */
  tb_value *values;            /* [n] every value (lists and texts owned by the instance) */
  struct tb_instance **child;  /* [n] COMPONENT: the instance it names; NULL elsewhere */
  int refs;
} tb_instance;

/* ---- tables ---------------------------------------------------------------- */

/* "real", "int", "bool", "choice", "string", "list", "record", "matrix",
 * "component"; "?" for anything else. */
const char *tb_hp_type_name(int type);
/* Check a table of n rows: lowercase identifiers, no name twice, a known
 * type, flags this row may carry (`core` = 1 allows the core-only ones),
 * choices and record fields listed, ranges not empty, list lengths
 * consistent, and the default a valid value (or none: REQUIRED/OPTIONAL).
 * The message names the row. */
int tb_hparam_table_check(const tb_hparam *h, int n, int core, char *err, size_t errlen);

/* ---- values ---------------------------------------------------------------- */

/* The default value of row h, lending the table's arrays and texts; an
 * absent value for REQUIRED and OPTIONAL rows and for a COMPONENT (whose
 * default is an instance: tb_instance_new builds it). */
void tb_value_default(const tb_hparam *h, tb_value *v);
/* 1 if v is the absent value of its type (NaN number, NULL text or list). */
int tb_value_absent(const tb_hparam *h, const tb_value *v);
/* Check one value against its row: the type's shape, integers, ranges,
 * choices, lengths (with k >= 0, also the K-sized ones; k = -1 when K is
 * not known yet). A COMPONENT value is checked through its instance. The
 * message starts with the name: "'lr' = 20 is out of range [0, 10]". An
 * absent value passes here (tb_instance_check says what is missing). */
int tb_value_check(const tb_hparam *h, const tb_value *v, int k, char *err, size_t errlen);
/* Equal values of row h (element by element, as doubles compare: 0 and -0
 * are equal). COMPONENT values compare their instances (tb_instance_same). */
int tb_value_equal(const tb_hparam *h, const tb_value *a, const tb_value *b,
                   const tb_instance *ca, const tb_instance *cb);
/* 1 if v is row h's default (a COMPONENT value never is: its name and
 * version are always part of the identity). */
int tb_value_is_default(const tb_hparam *h, const tb_value *v);

/* The value as a user writes it, for labels and messages: 0.01, 3, true,
 * relu, [64,32], {test=0.2,train=0.6,val=0.2}, [[1,0],[0,1]], adam(lr=0.01)
 * (a component with what differs from its defaults); "-" when absent.
 * `child` is the instance of a COMPONENT value. Returns out. */
char *tb_hp_value_text(const tb_hparam *h, const tb_value *v, const tb_instance *child,
                       char *out, size_t len);

/* ---- components -------------------------------------------------------------- */

/* How messages name a component: "loss 'focal'", "optimizer 'sgd'",
 * "schedule 'cosine'"; the built-ins as scripts write them, "tb.data.csv",
 * "tb.model.mlp". Returns out. */
char *tb_component_label(const tb_component *c, char *out, size_t len);

/* ---- instances ------------------------------------------------------------------ */

/* A new instance of c (one reference) with every default; a COMPONENT
 * hyperparameter with a default gets an instance of that component (found
 * in reg) at its defaults. NULL with err set when the default component is
 * not loaded. */
tb_instance *tb_instance_new(const tb_registry *reg, const tb_component *c, char *err,
                             size_t errlen);
/* The same for the component of this kind and name (NULL with err naming
 * what is not loaded). */
tb_instance *tb_instance_named(const tb_registry *reg, int kind, const char *name, char *err,
                               size_t errlen);
/* A copy with one reference, which may change (tb_instance_set) before it
 * is shared; children are shared (referenced), texts and lists copied. */
tb_instance *tb_instance_copy(const tb_instance *in);
tb_instance *tb_instance_ref(tb_instance *in);
/* Drop a reference; the last one frees the instance and its children's. */
void tb_instance_unref(tb_instance *in);

/* Index of hyperparameter `name` of in's component, or -1. */
int tb_instance_at(const tb_instance *in, const char *name);
/* Set hyperparameter i (an instance with one reference, not yet shared) to a
 * copy of v; for a COMPONENT, `child` (a reference is taken; v's text is
 * ignored). Only the shape is checked here (tb_instance_check checks the
 * rest). 0, or -1 with err. */
int tb_instance_set(tb_instance *in, int i, const tb_value *v, tb_instance *child, char *err,
                    size_t errlen);
/* Shorthands by name: a scalar (REAL, INT, BOOL 0/1, CHOICE index); a text
 * (STRING, or a CHOICE by its option's name); a list (LIST and RECORD: n
 * elements; MATRIX: rows x cols). */
int tb_instance_set_num(tb_instance *in, const char *name, double x, char *err, size_t errlen);
int tb_instance_set_text(tb_instance *in, const char *name, const char *text, char *err,
                         size_t errlen);
int tb_instance_set_list(tb_instance *in, const char *name, const double *x, int64_t rows,
                         int64_t cols, char *err, size_t errlen);
int tb_instance_set_child(tb_instance *in, const char *name, tb_instance *child, char *err,
                          size_t errlen);
/* Check every value (tb_value_check), that required ones are given, the
 * validate hook with k, and every child, recursively. The message names
 * the component and, for a child, the path to it: "optimizer 'lookahead':
 * 'base': optimizer 'adam': 'lr' = 20 is out of range [0, 10]". */
int tb_instance_check(const tb_instance *in, int k, char *err, size_t errlen);
/* The same component (by identity of name and version) with equal values
 * throughout. */
int tb_instance_same(const tb_instance *a, const tb_instance *b);
/* 1 if every value of `in` is its default (children: see tb_value_is_default). */
int tb_instance_is_default(const tb_instance *in);
/* Hyperparameter `name`'s value or number (NaN when absent or not a scalar);
 * NULL / NaN when there is no such hyperparameter. */
const tb_value *tb_instance_value(const tb_instance *in, const char *name);
double tb_instance_num(const tb_instance *in, const char *name);

#endif /* TB_HPARAM_H */
