/*
 * builtin.h — the components built into the core, described by the same
 * hyperparameter tables as plugins (hparam.h): the datasets (digits,
 * breast_cancer, iris, wine, csv, blobs; loaded by data.c) and the models
 * (linear, mlp; run by model.c); and how an instance of each becomes the spec the data and
 * model code reads (config.h's tb_data_spec and tb_model_spec). All in
 * builtin.c.
 *
 * Provides: tb_dataset_components, tb_data_spec_from, tb_data_prepare,
 * tb_model_components, tb_model_spec_from.
 */
#ifndef TB_BUILTIN_H
#define TB_BUILTIN_H

#include <stddef.h>

#include "config.h"
#include "hparam.h"
#include "registry.h"

/* The dataset components, in a fixed order; their number in *n. */
const tb_component *const *tb_dataset_components(int *n);
/* The spec of a dataset instance (content hash and loaded data left empty:
 * tb_data_load fills them). 0, or -1 with err (a path too long). */
int tb_data_spec_from(const tb_instance *in, tb_data_spec *d, char *err, size_t errlen);
/* What a dataset instance needs before its values are final: a csv's path,
 * relative to `base_dir` unless absolute, becomes the real path of the file
 * (an error names the path as given and the one tried). 0 for the others. */
int tb_data_prepare(tb_instance *in, const char *base_dir, char *err, size_t errlen);

/* The model components, in a fixed order; their number in *n. */
const tb_component *const *tb_model_components(int *n);
/* The spec of a model instance. */
void tb_model_spec_from(const tb_instance *in, tb_model_spec *m);

#endif /* TB_BUILTIN_H */
