/*
 * child.c — forking an isolated child process, shared by the sweep's
 * workers and the checker's children: the child reports on a dedicated pipe,
 * its stdout and stderr go to a second pipe (the parent keeps their tail as
 * the reason of a crash), its stdin is /dev/null, and it gets SIGKILL when
 * the parent dies so no orphan survives a kill -9.
 *
 * Provides: tb_child_fork, tb_wait_status_text.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb.h"

int tb_child_fork(tb_child *ch, int *msg_fd, const int *close_fds, int n_close, char *err,
                  size_t errlen) {
  int pm[2], po[2];
  if (pipe(pm)) {
    tb_errf(err, errlen, "cannot create a pipe: %s", strerror(errno));
    return -1;
  }
  if (pipe(po)) {
    tb_errf(err, errlen, "cannot create a pipe: %s", strerror(errno));
    close(pm[0]), close(pm[1]);
    return -1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    tb_errf(err, errlen, "cannot fork: %s", strerror(errno));
    close(pm[0]), close(pm[1]), close(po[0]), close(po[1]);
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(4); /* the parent died before prctl */
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < n_close; i++)
      if (close_fds[i] >= 0) close(close_fds[i]);
    close(pm[0]);
    close(po[0]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0), close(devnull);
    dup2(po[1], 1);
    dup2(po[1], 2);
    close(po[1]);
    *msg_fd = pm[1];
    return 0;
  }
  close(pm[1]);
  close(po[1]);
  fcntl(pm[0], F_SETFL, O_NONBLOCK);
  fcntl(po[0], F_SETFL, O_NONBLOCK);
  ch->pid = pid;
  ch->fd_msg = pm[0];
  ch->fd_out = po[0];
  return 1;
}

void tb_wait_status_text(int wstatus, char *out, size_t len) {
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    const char *abbrev = sigabbrev_np(sig);
    snprintf(out, len, "killed by signal %d (SIG%s: %s)", sig, abbrev ? abbrev : "?",
             strsignal(sig));
  } else if (WIFEXITED(wstatus)) {
    snprintf(out, len, "exited with status %d", WEXITSTATUS(wstatus));
  } else {
    snprintf(out, len, "ended");
  }
}
