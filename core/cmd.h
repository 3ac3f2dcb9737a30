/*
 * cmd.h — the commands of `trainbench` implemented outside main.c; each
 * takes its own argv (argv[0] is the command's name) and returns the exit
 * status main.c exits with.
 *
 * Provides: tb_cmd_check (check.c), tb_cmd_new (scaffold.c).
 */
#ifndef TB_CMD_H
#define TB_CMD_H

int tb_cmd_check(int argc, char **argv); /* check.c: `trainbench check` */
int tb_cmd_new(int argc, char **argv);   /* scaffold.c: `trainbench new` */

#endif /* TB_CMD_H */
