/*
 * toy_components.h — the fake loss and optimizers the store tests record
 * runs of (test_store.c, test_views.c): a hyperparameter table of each
 * scalar type, and plugin files with and without a hash. Included once per
 * test program (static definitions).
 */
#ifndef TB_TOY_COMPONENTS_H
#define TB_TOY_COMPONENTS_H

#include "registry.h"
#include "trainbench/plugin_util.h"

static const char *const modes[] = {"mean", "sum", NULL};
static tb_hparam loss_hp[] = {
    TBU_HP_REAL("gamma", 2, 0, 10, 0, "focusing"),
    TBU_HP_CHOICE("mode", 0, modes, "reduction"),
};
static tb_hparam opt_hp[] = {
    TBU_HP_REAL("lr", 0.1, 0, 10, 1, "learning rate"),
    TBU_HP_REAL("momentum", 0, 0, 1, 0, "momentum"),
    TBU_HP_BOOL("nesterov", 0, "nesterov"),
    TBU_HP_INT("accum", 1, 1, 64, 0, "accumulation"),
};
static tb_component toy_loss = {
    .kind = TB_KIND_LOSS, .name = "toy_loss", .version = "1.2", .hparams = loss_hp,
    .n_hparams = 2, .file = "/plugins/toy_loss.so",
    .file_hash = "0123456789abcdef0123456789abcdef"};
static tb_component toy_sgd = {
    .kind = TB_KIND_OPTIMIZER, .name = "toy_sgd", .version = "3", .hparams = opt_hp,
    .n_hparams = 4, .file = "/plugins/toy_sgd.so",
    .file_hash = "fedcba9876543210fedcba9876543210"};
static tb_component toy_adam = {
    .kind = TB_KIND_OPTIMIZER, .name = "toy_adam", .version = "1", .hparams = opt_hp,
    .n_hparams = 4, .file = "/plugins/toy_adam.so", .file_hash = ""};

#endif /* TB_TOY_COMPONENTS_H */
