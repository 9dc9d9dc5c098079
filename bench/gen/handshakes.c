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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* RFC 6455's example key, and the Sec-WebSocket-Accept it must get. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum state { CONNECTING, HEAD, ECHO, CLOSING, DRAINING };

struct conn {
  int fd;
  enum state state;
  char head[2048];
  size_t head_len;
  size_t echoed;
  /* Server frames after the echo, scanned by header only. */
  unsigned char header[14];
  int have;
  unsigned long long skip;
  int opcode;
};

static int epfd;
static struct sockaddr_in address;
static char request[512];
static size_t request_len;
static unsigned char message[16 + 65536];
static size_t message_len;
static size_t echo_frame_size;
static const unsigned char close_frame[] = {0x88, 0x82, 0x12, 0x34, 0x56, 0x78, 0x03 ^ 0x12, 0xe8 ^ 0x34};
static int measuring, stopped;
static long completed, total, failed;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(double *system) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  *system = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + *system;
}

static void start(struct conn *c) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS) {
    perror("connect");
    exit(1);
  }
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

static void send_all(struct conn *c, const void *data, size_t length) {
  /* Small writes to a fresh socket: the kernel takes them whole. */
  if (write(c->fd, data, length) != (ssize_t)length) finish(c, 0);
}

/* Scans server frames by their headers; true once a close frame is complete. */
static int scan_for_close(struct conn *c, const unsigned char *bytes, size_t length) {
  size_t offset = 0;
  while (offset < length) {
    if (c->skip > 0) {
      size_t take = length - offset < c->skip ? length - offset : c->skip;
      c->skip -= take;
      offset += take;
      if (c->skip == 0 && c->opcode == 0x8) return 1;
      continue;
    }
    c->header[c->have++] = bytes[offset++];
    if (c->have < 2) continue;
    int second = c->header[1] & 0x7f;
    int size = second == 126 ? 4 : second == 127 ? 10 : 2;
    if (c->have < size) continue;
    c->opcode = c->header[0] & 0x0f;
    unsigned long long len = second;
    if (second == 126) len = (c->header[2] << 8) | c->header[3];
    if (second == 127) {
      len = 0;
      for (int i = 2; i < 10; i++) len = (len << 8) | c->header[i];
    }
    c->have = 0;
    if (len == 0) {
      if (c->opcode == 0x8) return 1;
    } else {
      c->skip = len;
    }
  }
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
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      finish(c, 0);
      return;
    }
    size_t offset = 0;
    if (c->state == HEAD) {
      size_t room = sizeof c->head - 1 - c->head_len;
      size_t take = (size_t)n < room ? (size_t)n : room;
      memcpy(c->head + c->head_len, buffer, take);
      size_t before = c->head_len;
      c->head_len += take;
      c->head[c->head_len] = 0;
      char *end = strstr(c->head, "\r\n\r\n");
      if (!end) {
        if (c->head_len < sizeof c->head - 1) continue;
        finish(c, 0);
        return;
      }
      if (strncmp(c->head, "HTTP/1.1 101", 12) != 0 || !strstr(c->head, ACCEPT)) {
        fprintf(stderr, "handshake refused: %.60s\n", c->head);
        finish(c, 0);
        return;
      }
      offset = (size_t)(end + 4 - c->head) - before;
      c->state = ECHO;
      send_all(c, message, message_len);
      if (c->state != ECHO) return;
    }
    if (c->state == ECHO) {
      size_t need = echo_frame_size - c->echoed;
      size_t take = (size_t)n - offset < need ? (size_t)n - offset : need;
      c->echoed += take;
      offset += take;
      if (c->echoed < echo_frame_size) continue;
      c->state = CLOSING;
      send_all(c, close_frame, sizeof close_frame);
      if (c->state != CLOSING) return;
    }
    if (c->state == CLOSING && scan_for_close(c, buffer + offset, (size_t)n - offset)) {
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
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  request_len = snprintf(request, sizeof request,
                         "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         port);
  /* A masked binary frame carrying 0, 1, 2... mod 256, as raw.mjs's maskedMessage. */
  static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  size_t header = size < 126 ? 2 : 4;
  message[0] = 0x82;
  if (size < 126) {
    message[1] = 0x80 | size;
  } else {
    message[1] = 0x80 | 126;
    message[2] = size >> 8;
    message[3] = size & 0xff;
  }
  memcpy(message + header, mask, 4);
  for (int i = 0; i < size; i++) message[header + 4 + i] = (i & 0xff) ^ mask[i & 3];
  message_len = header + 4 + size;
  echo_frame_size = header + size;

  epfd = epoll_create1(0);
  struct conn *conns = calloc(concurrency, sizeof *conns);
  for (int i = 0; i < concurrency; i++) start(&conns[i]);

  double began = now(), measure_start = 0, cpu_start = 0, system_start = 0;
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, 10);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->state == CONNECTING) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
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
    double t = now();
    if (!measuring && measure_start == 0 && t - began >= warmup) {
      measuring = 1;
      measure_start = t;
      cpu_start = cpu_seconds(&system_start);
    } else if (measuring && t - measure_start >= seconds) {
      measuring = 0;
      stopped = 1;
      double system, cpu = cpu_seconds(&system) - cpu_start, elapsed = t - measure_start;
      printf("{\"completed\":%ld,\"total\":%ld,\"failed\":%ld,\"seconds\":%.6f,\"rate\":%.3f,"
             "\"cpu\":%.4f,\"systemCpu\":%.4f,\"generator\":\"c\"}\n",
             completed, total, failed, elapsed, completed / elapsed, cpu / elapsed,
             (system - system_start) / elapsed);
      return 0;
    }
  }
}
