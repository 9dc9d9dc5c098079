/*
 * Echo load in C, with the interface and output of gen/echo.mjs: raw
 * connections that keep <inflight> masked binary messages of <size> bytes
 * outstanding each, send a new one for every echo received, and read the
 * server's frames only as far as their headers. One epoll loop, one frame
 * masked once and written again and again (writev of several copies at a
 * time). Where the Node generator needs a large share of its core to move
 * 64 KiB and 1 MiB messages (a buffer and an event per 64 KiB read), this
 * one leaves the server as the limit. echo.bench.mjs compiles it with the
 * system's C compiler when there is one and uses echo.mjs otherwise.
 *
 *   echo <port> <connections> <inflight> <size> <seconds>
 *
 * Prints one JSON line: messages echoed per second in the measured window
 * (after a 500 ms warm-up), payload MiB/s, and this process's CPU share.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "raw.h"

#define WARMUP 0.5
#define IOVECS 64

enum state { CONNECTING, HEAD, OPEN };

struct conn {
  int fd;
  enum state state;
  int want_write;
  struct raw_head head;
  /* Frames still to send, and how much of the first one is already written. */
  long owed;
  size_t sent;
  struct raw_scanner scanner;
};

static int epfd, inflight;
static struct sockaddr_in address;
static char request[512];
static size_t request_len;
static unsigned char *frame;
static size_t frame_len;
static long received, total, opened;
static int measuring;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void watch(struct conn *c, int write) {
  if (c->want_write == write) return;
  c->want_write = write;
  struct epoll_event event = {.events = EPOLLIN | (write ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &event);
}

/* Writes owed frames until done or the socket is full (then waits for EPOLLOUT). */
static void flush(struct conn *c) {
  while (c->owed > 0) {
    struct iovec iov[IOVECS];
    int count = 0;
    size_t want = 0;
    for (long i = 0; i < c->owed && count < IOVECS; i++) {
      size_t skip = i == 0 ? c->sent : 0;
      iov[count].iov_base = frame + skip;
      iov[count].iov_len = frame_len - skip;
      want += iov[count].iov_len;
      count++;
    }
    ssize_t n = writev(c->fd, iov, count);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      die("writev");
    }
    size_t left = (size_t)n;
    while (left > 0) {
      size_t take = frame_len - c->sent < left ? frame_len - c->sent : left;
      c->sent += take;
      left -= take;
      if (c->sent == frame_len) {
        c->sent = 0;
        c->owed--;
      }
    }
    if ((size_t)n < want) break;
  }
  watch(c, c->owed > 0);
}

static struct conn *conns;
static int connections;

static void start_traffic(void) {
  for (int i = 0; i < connections; i++) {
    conns[i].owed = inflight;
    flush(&conns[i]);
  }
}

static void on_readable(struct conn *c) {
  static unsigned char buffer[256 * 1024];
  long completed = 0;
  for (;;) {
    ssize_t n = read(c->fd, buffer, sizeof buffer);
    if (n == 0) {
      fprintf(stderr, "the server closed a connection\n");
      exit(1);
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      die("read");
    }
    size_t offset = 0;
    if (c->state == HEAD) {
      int done = raw_head_push(&c->head, buffer, (size_t)n, &offset);
      if (done == 0) continue;
      if (done < 0) exit(1);
      c->state = OPEN;
      /* Traffic starts once every connection is open, as in echo.mjs:
         otherwise the first connections' echoes starve the last handshakes. */
      if (++opened == connections) start_traffic();
    }
    int closed = 0;
    completed += raw_scan(&c->scanner, buffer + offset, (size_t)n - offset, &closed);
    if (closed) {
      fprintf(stderr, "the server closed a connection\n");
      exit(1);
    }
  }
  if (completed > 0) {
    total += completed;
    if (measuring) received += completed;
    c->owed += completed;
  }
  if (c->state == OPEN && opened == connections) flush(c);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: echo <port> <connections> <inflight> <size> <seconds>\n");
    return 2;
  }
  int port = atoi(argv[1]);
  connections = atoi(argv[2]);
  inflight = atoi(argv[3]);
  long size = atol(argv[4]);
  double seconds = atof(argv[5]);
  if (connections < 1 || inflight < 1 || size < 0) {
    fprintf(stderr, "connections and inflight must be positive, size not negative\n");
    return 2;
  }
  request_len = raw_target(&address, request, sizeof request, port);
  frame_len = raw_masked_frame_size(size);
  frame = malloc(frame_len);
  if (!frame) die("malloc");
  raw_masked_message(frame, size);

  epfd = epoll_create1(0);
  conns = calloc(connections, sizeof *conns);
  for (int i = 0; i < connections; i++) {
    struct conn *c = &conns[i];
    c->fd = raw_connect(&address);
    c->want_write = 1;
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &event);
  }

  double began = 0, measure_start = 0, cpu_start = 0, system;
  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, 10);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->state == CONNECTING) {
        int error = raw_connect_error(c->fd);
        if (error != 0) {
          errno = error;
          die("connect");
        }
        if (!(events[i].events & EPOLLOUT)) continue;
        watch(c, 0);
        c->state = HEAD;
        if (write(c->fd, request, request_len) != (ssize_t)request_len) die("write");
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
      if (c->state == OPEN && (events[i].events & EPOLLOUT)) flush(c);
    }
    double t = raw_now();
    /* The warm-up starts once every connection is open. */
    if (began == 0 && opened == connections) began = t;
    if (began != 0 && !measuring && measure_start == 0 && t - began >= WARMUP) {
      measuring = 1;
      measure_start = t;
      cpu_start = raw_cpu_seconds(&system);
    } else if (measuring && t - measure_start >= seconds) {
      double elapsed = t - measure_start, cpu = raw_cpu_seconds(&system) - cpu_start;
      printf("{\"connections\":%ld,\"messages\":%ld,\"total\":%ld,\"seconds\":%.6f,\"rate\":%.3f,"
             "\"mibps\":%.3f,\"cpu\":%.4f,\"generator\":\"c\"}\n",
             opened, received, total, elapsed, received / elapsed,
             received * (double)size / elapsed / 1048576, cpu / elapsed);
      return 0;
    }
  }
}
