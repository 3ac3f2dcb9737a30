/*
 * child.c — forking an isolated child process, shared by the sweep's
 * workers and the checker's children: the child reports on a dedicated pipe,
 * its stdout and stderr go to a second pipe (the parent keeps their tail as
 * the reason of a crash), its stdin is /dev/null, and it gets SIGKILL when
 * the parent dies so no orphan survives a kill -9.
 *
 * Provides: tb_child_fork, tb_child_send, tb_wait_status_text,
 * tb_child_read_msg, tb_child_read_out, tb_child_tail_text, tb_child_close.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "util.h"

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
  memset(ch, 0, sizeof *ch);
  ch->pid = pid;
  ch->fd_msg = pm[0];
  ch->fd_out = po[0];
  return 1;
}

void tb_child_send(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(3); /* the parent is gone */
    s += w;
    n -= (size_t)w;
  }
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

/* ---- the parent's side: reading a child's pipes -------------------------- */

ssize_t tb_child_read_msg(tb_child *ch, tb_line_fn on_line, void *ud) {
  char chunk[4096];
  ssize_t n = read(ch->fd_msg, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) {
    close(ch->fd_msg);
    ch->fd_msg = -1;
    return 0;
  }
  if (ch->blen + (size_t)n + 1 > ch->bcap) {
    ch->bcap = (ch->blen + (size_t)n + 1) * 2;
    ch->buf = realloc(ch->buf, ch->bcap);
    if (!ch->buf) abort();
  }
  memcpy(ch->buf + ch->blen, chunk, (size_t)n);
  ch->blen += (size_t)n;
  size_t start = 0;
  for (size_t i = 0; i < ch->blen; i++)
    if (ch->buf[i] == '\n') {
      ch->buf[i] = 0;
      on_line(ud, ch->buf + start);
      start = i + 1;
    }
  memmove(ch->buf, ch->buf + start, ch->blen - start);
  ch->blen -= start;
  return n;
}

ssize_t tb_child_read_out(tb_child *ch, int echo_fd) {
  char chunk[4096]; /* smaller than the tail */
  ssize_t n = read(ch->fd_out, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) {
    close(ch->fd_out);
    ch->fd_out = -1;
    return 0;
  }
  if (echo_fd >= 0 && write(echo_fd, chunk, (size_t)n) < 0) { /* the echo is best effort */
  }
  size_t keep = ch->tlen + (size_t)n > TB_TAIL_MAX ? TB_TAIL_MAX - (size_t)n : ch->tlen;
  memmove(ch->tail, ch->tail + ch->tlen - keep, keep);
  memcpy(ch->tail + keep, chunk, (size_t)n);
  ch->tlen = keep + (size_t)n;
  return n;
}

int tb_child_wait(tb_child *ch, double deadline, tb_line_fn on_line, void *ud, int echo_fd,
                  int *wstatus) {
  int reaped = 0, timed_out = 0;
  *wstatus = 0;
  while (ch->fd_msg >= 0 || ch->fd_out >= 0) {
    pid_t w = waitpid(ch->pid, wstatus, WNOHANG);
    if (w == ch->pid || (w < 0 && errno == ECHILD)) {
      reaped = w == ch->pid ? 1 : -1; /* -1: someone else reaped it */
      while (ch->fd_msg >= 0 && tb_child_read_msg(ch, on_line, ud) > 0) {
      }
      while (ch->fd_out >= 0 && tb_child_read_out(ch, echo_fd) > 0) {
      }
      break;
    }
    const double left = deadline > 0 ? deadline - tb_now_mono() : 1;
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd pf[2];
    int np = 0;
    if (ch->fd_msg >= 0) pf[np++] = (struct pollfd){.fd = ch->fd_msg, .events = POLLIN};
    if (ch->fd_out >= 0) pf[np++] = (struct pollfd){.fd = ch->fd_out, .events = POLLIN};
    int prc = poll(pf, (nfds_t)np, (int)fmin(left * 1000 + 1, 200));
    if (prc < 0 && errno != EINTR) break;
    for (int i = 0; prc > 0 && i < np; i++) {
      if (!pf[i].revents) continue;
      if (pf[i].fd == ch->fd_msg)
        tb_child_read_msg(ch, on_line, ud);
      else
        tb_child_read_out(ch, echo_fd);
    }
  }
  if (!reaped) {
    /* the pipes closed first: give the child until the deadline to end on
     * its own, so its status is its own and not our SIGKILL */
    while (!timed_out) {
      pid_t w = waitpid(ch->pid, wstatus, WNOHANG);
      if (w == ch->pid || (w < 0 && errno == ECHILD)) {
        reaped = w == ch->pid ? 1 : -1;
        break;
      }
      if (deadline > 0 && tb_now_mono() > deadline)
        timed_out = 1;
      else
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
  }
  if (!reaped) {
    kill(ch->pid, SIGKILL); /* timed out: no child outlives the call */
    while (waitpid(ch->pid, wstatus, 0) < 0 && errno == EINTR) {
    }
    return -1;
  }
  return reaped;
}

void tb_child_tail_text(const tb_child *ch, char *out, size_t outlen, size_t max) {
  const char *p = ch->tail, *sum = NULL;
  size_t len = ch->tlen;
  /* a sanitizer's report ends with a long legend after its SUMMARY line */
  for (size_t i = 0; i + 9 <= len; i++)
    if (memcmp(p + i, "SUMMARY: ", 9) == 0) sum = p + i;
  if (sum) {
    const char *e = memchr(sum, '\n', len - (size_t)(sum - p));
    len = e ? (size_t)(e - sum) : len - (size_t)(sum - p);
    p = sum;
  }
  if (len > max) p += len - max, len = max;
  /* one line: control characters become spaces, runs of spaces one */
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < outlen; i++) {
    unsigned char c = (unsigned char)p[i];
    char o = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    if (o == ' ' && (n == 0 || out[n - 1] == ' ')) continue;
    out[n++] = o;
  }
  while (n > 0 && out[n - 1] == ' ') n--;
  out[n] = 0;
}

void tb_child_close(tb_child *ch) {
  if (ch->fd_msg >= 0) close(ch->fd_msg);
  if (ch->fd_out >= 0) close(ch->fd_out);
  ch->fd_msg = ch->fd_out = -1;
  free(ch->buf);
  ch->buf = NULL;
  ch->blen = ch->bcap = 0; /* the tail stays readable */
}
