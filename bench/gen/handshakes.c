/*
 * Handshake load in C: the same cycle as handshakes.mjs (connect, upgrade with
 * a fixed key, one masked binary message and its echo, closing handshake,
 * TCP close), from <concurrency> loops on one epoll, as fast as the server
 * allows. On a 2-core machine the Node generator spends about 70 µs per cycle
 * and caps every server near 12k cycles/s, even a bare node:net one; this one
 * spends a fraction of that, so the server under test is the limit.
 * handshake.bench.mjs compiles it with the system's C compiler when there is
 * one and falls back to handshakes.mjs otherwise.
 *
 *   handshakes <port> <concurrency> <size> <seconds> <warm-up ms>
 *
 * Prints one JSON line, as handshakes.mjs does: cycles completed per second in
 * the measured window, failures, and this process's CPU share.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raw.h"

enum state { CONNECTING, HEAD, ECHO, CLOSING, DRAINING };

struct conn {
  int fd;
  enum state state;
  struct raw_head head;
  size_t echoed;
  struct raw_scanner scanner;
};

static int epfd;
static struct sockaddr_in address;
static char request[512];
static size_t request_len;
static unsigned char message[16 + 65536];
static size_t message_len;
static size_t echo_frame_size;
static unsigned char close_frame[8];
static int measuring, stopped;
static long completed, total, failed;

static void start(struct conn *c) {
  memset(c, 0, sizeof *c);
  c->fd = raw_connect(&address);
  c->state = CONNECTING;
  struct epoll_event event = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &event);
}

/* Ends a cycle (a success only once the server's FIN followed its close frame) and starts the next. */
static void finish(struct conn *c, int ok) {
  close(c->fd);
  if (ok) {
    total++;
    if (measuring) completed++;
  } else if (!stopped) {
    failed++;
  }
  start(c);
}

/* Small writes to a fresh socket: the kernel takes them whole. False if the cycle failed. */
static int send_all(struct conn *c, const void *data, size_t length) {
  if (write(c->fd, data, length) == (ssize_t)length) return 1;
  finish(c, 0);
  return 0;
}

static void on_readable(struct conn *c) {
  unsigned char buffer[65536];
  for (;;) {
    ssize_t n = read(c->fd, buffer, sizeof buffer);
    if (n == 0) {
      finish(c, c->state == DRAINING);
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) finish(c, 0);
      return;
    }
    size_t offset = 0;
    if (c->state == HEAD) {
      int done = raw_head_push(&c->head, buffer, (size_t)n, &offset);
      if (done == 0) continue;
      if (done < 0) {
        finish(c, 0);
        return;
      }
      c->state = ECHO;
      if (!send_all(c, message, message_len)) return;
    }
    if (c->state == ECHO) {
      size_t need = echo_frame_size - c->echoed;
      size_t take = (size_t)n - offset < need ? (size_t)n - offset : need;
      c->echoed += take;
      offset += take;
      if (c->echoed < echo_frame_size) continue;
      c->state = CLOSING;
      if (!send_all(c, close_frame, sizeof close_frame)) return;
    }
    int closed = 0;
    if (c->state == CLOSING) raw_scan(&c->scanner, buffer + offset, (size_t)n - offset, &closed);
    if (closed) {
      /* The server answered our close: the WebSocket is closed, the TCP connection ends. */
      c->state = DRAINING;
      shutdown(c->fd, SHUT_WR);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: handshakes <port> <concurrency> <size> <seconds> <warm-up ms>\n");
    return 2;
  }
  int port = atoi(argv[1]), concurrency = atoi(argv[2]), size = atoi(argv[3]);
  double seconds = atof(argv[4]), warmup = atof(argv[5]) / 1000;
  if (size < 0 || size > 65535 || concurrency < 1) {
    fprintf(stderr, "size must be 0-65535 and concurrency positive\n");
    return 2;
  }
  request_len = raw_target(&address, request, sizeof request, port);
  raw_masked_message(message, size);
  message_len = raw_masked_frame_size(size);
  echo_frame_size = message_len - 4;
  /* A masked close frame with status 1000. */
  close_frame[0] = 0x88;
  close_frame[1] = 0x82;
  memcpy(close_frame + 2, RAW_MASK, 4);
  close_frame[6] = 0x03 ^ RAW_MASK[0];
  close_frame[7] = 0xe8 ^ RAW_MASK[1];

  epfd = epoll_create1(0);
  struct conn *conns = calloc(concurrency, sizeof *conns);
  for (int i = 0; i < concurrency; i++) start(&conns[i]);

  double began = raw_now(), measure_start = 0, cpu_start = 0, system_start = 0;
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, 10);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->state == CONNECTING) {
        if (raw_connect_error(c->fd) != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
          finish(c, 0);
          continue;
        }
        if (!(events[i].events & EPOLLOUT)) continue;
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &event);
        c->state = HEAD;
        send_all(c, request, request_len);
        continue;
      }
      on_readable(c);
    }
    double t = raw_now();
    if (!measuring && measure_start == 0 && t - began >= warmup) {
      measuring = 1;
      measure_start = t;
      cpu_start = raw_cpu_seconds(&system_start);
    } else if (measuring && t - measure_start >= seconds) {
      measuring = 0;
      stopped = 1;
      double system, cpu = raw_cpu_seconds(&system) - cpu_start, elapsed = t - measure_start;
      printf("{\"completed\":%ld,\"total\":%ld,\"failed\":%ld,\"seconds\":%.6f,\"rate\":%.3f,"
             "\"cpu\":%.4f,\"systemCpu\":%.4f,\"generator\":\"c\"}\n",
             completed, total, failed, elapsed, completed / elapsed, cpu / elapsed,
             (system - system_start) / elapsed);
      return 0;
    }
  }
}
