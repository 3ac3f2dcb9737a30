/*
 * child.h — isolated child processes (child.c): sweep workers, checker
 * children and fingerprint probes run in a forked process that reports over
 * a pipe, dies with its parent, and whose output's tail says how it ended.
 *
 * Provides: tb_child_fork, tb_child_send, tb_child_read_msg,
 * tb_child_read_out, tb_child_wait, tb_child_tail_text, tb_child_close,
 * tb_wait_status_text.
 */
#ifndef TB_CHILD_H
#define TB_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#define TB_TAIL_MAX 16384

typedef struct tb_child {
  int pid;
  int fd_msg;  /* read end of the child's report pipe (non-blocking), -1 once closed */
  int fd_out;  /* read end of the child's stdout + stderr (non-blocking), -1 once closed */
  char *buf;   /* partial line from fd_msg */
  size_t blen, bcap;
  char tail[TB_TAIL_MAX]; /* the last bytes of fd_out */
  size_t tlen;
} tb_child;

/* Fork. In the parent: fill ch and return 1. In the child: close close_fds
 * (entries < 0 are skipped), point stdout/stderr at the output pipe and stdin
 * at /dev/null, arrange SIGKILL on the parent's death, set *msg_fd to the
 * report pipe's write end and return 0. -1 on failure (message in err). */
int tb_child_fork(tb_child *ch, int *msg_fd, const int *close_fds, int n_close, char *err,
                  size_t errlen);
/* In the child: write all of s to the report pipe; _exit(3) if the parent
 * is gone (nobody is left to read the report). */
void tb_child_send(int fd, const char *s, size_t n);
typedef void (*tb_line_fn)(void *ud, char *line);
/* One read of what fd_msg has ready, calling on_line for each complete line.
 * Returns the bytes read: 0 when nothing is ready, or at the end (then the
 * fd is closed and set to -1). */
ssize_t tb_child_read_msg(tb_child *ch, tb_line_fn on_line, void *ud);
/* The same for fd_out, keeping its tail; a copy goes to echo_fd if >= 0. */
ssize_t tb_child_read_out(tb_child *ch, int echo_fd);
/* Read the child's pipes (lines of fd_msg to on_line, fd_out's tail kept, a
 * copy to echo_fd if >= 0) until both close, or until the child ends — a
 * process it started may hold them open — then take what they hold; and
 * reap it, given until `deadline` (tb_now_mono(); <= 0: none) to end on its
 * own, then killed, so that no child outlives the call. Returns 1 when it
 * ended (its status in *wstatus), 0 when its status was collected elsewhere,
 * -1 when it was killed at the deadline. */
int tb_child_wait(tb_child *ch, double deadline, tb_line_fn on_line, void *ud, int echo_fd,
                  int *wstatus);
/* How the child's output ended, on one line of at most `max` bytes: a
 * sanitizer's SUMMARY line if there is one, else the last bytes. */
void tb_child_tail_text(const tb_child *ch, char *out, size_t outlen, size_t max);
/* Close what is still open and free the line buffer; the tail stays. */
void tb_child_close(tb_child *ch);
/* "killed by signal 11 (SIGSEGV: Segmentation fault)" or "exited with status N" */
void tb_wait_status_text(int wstatus, char *out, size_t len);

#endif /* TB_CHILD_H */
