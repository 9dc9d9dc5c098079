/*
 * A broadcast server in C, with the control channel of echo/servers.mjs: the
 * floor for broadcast.bench.mjs. It accepts WebSocket upgrades without
 * looking at them (gen/clients.mjs sends a fixed key, so the accept value is a
 * constant) and, on BROADCAST, writes one frame built beforehand to every open
 * socket with a single write(2) each: no WebSocket state, no per-client
 * framing, no runtime in between. Its send loop is what one write per socket
 * costs on this machine, so ws's time over its time is the most any
 * implementation, in any language, could gain over ws while still writing to
 * every socket: where that ratio is under 2×, a 2× target is out of reach.
 * broadcast.bench.mjs compiles it with the system's C compiler when there is
 * one and leaves the column out otherwise.
 *
 *   broadcaster <port>      (0: any free port)
 *
 * Prints `READY <port>` once listening on 127.0.0.1, then answers one line per
 * command line on stdin, as echo/servers.mjs does:
 *
 *   CLIENTS          → `CLIENTS <n>`: upgraded connections still open
 *   GC               → `GC` (nothing to collect)
 *   MEM              → `MEM {"gc":false}`
 *   BROADCAST <size> → `BROADCAST {"t0":..,"t1":..,"sent":n}`: an unmasked
 *                      binary frame of <size> bytes of 'a' (at most 64 KiB) to
 *                      every open connection; t0 and t1 are CLOCK_MONOTONIC in
 *                      ns (the clock of process.hrtime) just before and just
 *                      after the send loop, `sent` how many writes were whole
 *
 * Exits 0 on SIGTERM or when stdin ends.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* For RAW_ACCEPT, the answer to the key every generator sends; the client helpers go unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "raw.h"
#pragma GCC diagnostic pop

#define MAX_SIZE 65536
#define COMMAND_MAX 256

static const char RESPONSE[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\nSec-WebSocket-Accept: " RAW_ACCEPT "\r\n\r\n";

enum state { FREE, HEAD, OPEN };

/* Indexed by fd: no lookup, and no head buffer (only how much of the blank line was seen). */
struct conn {
  unsigned char state;
  unsigned char matched;
  int slot;
};

static struct conn *conns;
static size_t capacity;
/* The open connections, dense, so that the send loop touches nothing else. */
static int *open_fds;
static int open_count;
static int epfd;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void answer(const char *line) {
  fputs(line, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void forget(int fd) {
  struct conn *c = &conns[fd];
  if (c->state == OPEN) {
    int last = open_fds[--open_count];
    open_fds[c->slot] = last;
    conns[last].slot = c->slot;
  }
  c->state = FREE;
  close(fd);
}

static void watch(int fd) {
  struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) < 0) die("epoll_ctl");
}

static void on_accept(int listener) {
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return;
      die("accept4");
    }
    if ((size_t)fd >= capacity) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd] = (struct conn){.state = HEAD};
    watch(fd);
  }
}

static void on_readable(int fd) {
  static unsigned char buffer[64 * 1024];
  static const char blank[] = "\r\n\r\n";
  struct conn *c = &conns[fd];
  ssize_t n = read(fd, buffer, sizeof buffer);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    forget(fd);
    return;
  }
  /* Open connections only ever send a close; whatever comes is dropped. */
  if (n < 0 || c->state != HEAD) return;
  for (ssize_t i = 0; i < n && c->matched < 4; i++) {
    if (buffer[i] == blank[c->matched])
      c->matched++;
    else
      c->matched = buffer[i] == '\r';
  }
  if (c->matched < 4) return;
  /* A fresh socket's send buffer takes the whole response; a short write means it is gone. */
  if (write(fd, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1)) {
    forget(fd);
    return;
  }
  c->state = OPEN;
  c->slot = open_count;
  open_fds[open_count++] = fd;
}

static void broadcast(unsigned long size) {
  static unsigned char frame[10 + MAX_SIZE];
  size_t header;
  frame[0] = 0x82;
  if (size < 126) {
    frame[1] = size;
    header = 2;
  } else if (size < 65536) {
    frame[1] = 126;
    frame[2] = size >> 8;
    frame[3] = size & 0xff;
    header = 4;
  } else {
    frame[1] = 127;
    for (int i = 0; i < 8; i++) frame[2 + i] = (unsigned long long)size >> (56 - 8 * i);
    header = 10;
  }
  memset(frame + header, 0x61, size);
  ssize_t length = header + size;
  long sent = 0;
  long long t0 = now_ns();
  /* Failed writes are left to the event loop: closing here would reorder open_fds mid-loop. A
     partial write (a full send buffer, possible only near 64 KiB) is not counted in `sent`,
     which broadcast.bench.mjs checks, so a cut frame cannot pass for a delivery. */
  for (int i = 0; i < open_count; i++) sent += write(open_fds[i], frame, length) == length;
  long long t1 = now_ns();
  printf("BROADCAST {\"t0\":%lld,\"t1\":%lld,\"sent\":%ld}\n", t0, t1, sent);
  fflush(stdout);
}

static void command(char *line) {
  char *name = strtok(line, " \t\r");
  char *argument = strtok(NULL, " \t\r");
  char reply[COMMAND_MAX + 32];
  if (!name) return;
  if (strcmp(name, "CLIENTS") == 0) {
    snprintf(reply, sizeof reply, "CLIENTS %d", open_count);
    answer(reply);
  } else if (strcmp(name, "GC") == 0) {
    answer("GC");
  } else if (strcmp(name, "MEM") == 0) {
    answer("MEM {\"gc\":false}");
  } else if (strcmp(name, "BROADCAST") == 0) {
    char *end;
    unsigned long size = argument ? strtoul(argument, &end, 10) : 0;
    if (!argument || *end || size > MAX_SIZE) {
      snprintf(reply, sizeof reply, "ERROR BROADCAST takes a size of 0 to %d bytes", MAX_SIZE);
      answer(reply);
      return;
    }
    broadcast(size);
  } else {
    snprintf(reply, sizeof reply, "ERROR unknown command %s", name);
    answer(reply);
  }
}

/* Reads what stdin has and runs the complete lines; returns 0 once it ended. */
static int on_stdin(void) {
  static char pending[COMMAND_MAX];
  static size_t length;
  ssize_t n = read(0, pending + length, sizeof pending - 1 - length);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return 0;
  length += n;
  char *start = pending, *newline;
  while ((newline = memchr(start, '\n', pending + length - start))) {
    *newline = 0;
    command(start);
    start = newline + 1;
  }
  length -= start - pending;
  memmove(pending, start, length);
  /* A line longer than any command: drop it rather than stall. */
  if (length == sizeof pending - 1) length = 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: broadcaster <port>\n");
    return 2;
  }
  int port = atoi(argv[1]);

  /* 10,000 clients need more descriptors than the usual soft limit of 1024. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  capacity = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1 << 20) ? 1 << 20 : limit.rlim_cur;
  conns = calloc(capacity, sizeof *conns);
  open_fds = calloc(capacity, sizeof *open_fds);
  if (!conns || !open_fds) die("calloc");

  /* A client gone mid-broadcast must fail its write, not kill the server. */
  signal(SIGPIPE, SIG_IGN);
  /* SIGTERM as an event, not a handler: it ends the loop cleanly, whenever it comes. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  int sigfd = signalfd(-1, &term, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) die("signalfd");

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (listener < 0) die("socket");
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) die("bind");
  /* gen/clients.mjs has 256 handshakes in flight; the kernel caps this at somaxconn. */
  if (listen(listener, 4096) < 0) die("listen");
  socklen_t address_length = sizeof address;
  getsockname(listener, (struct sockaddr *)&address, &address_length);

  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  watch(listener);
  watch(sigfd);
  watch(0);

  printf("READY %d\n", ntohs(address.sin_port));
  fflush(stdout);

  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == sigfd) return 0;
      if (fd == listener)
        on_accept(listener);
      else if (fd == 0) {
        if (!on_stdin()) return 0;
      } else if (conns[fd].state != FREE)
        on_readable(fd);
    }
  }
}
