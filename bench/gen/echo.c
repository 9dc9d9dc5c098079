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
 *   echo <port> <connections> <inflight> <size> <seconds> [session]
 *
 * With `session`, each connection speaks the resumable session protocol
 * (docs/session-protocol.md) as a real client would, for session.bench.mjs:
 * it offers `proj-session.v1`, sends `hello`, waits for `ready`, then streams
 * as above; it counts only data messages (binary frames: the bench sends no
 * text, so every text frame is a control message, an `ack`), and sends
 * `ack <received>` after every 64 data messages, as @proj/client does, so
 * that the server's replay log stays short. Everything else is the same
 * code for both modes.
 *
 * Prints one JSON line: messages echoed per second in the measured window
 * (after a 500 ms warm-up), payload MiB/s, this process's CPU share, and the
 * window's counts: data messages sent, control messages received, and the
 * socket bytes written and read (handshakes excluded: all connections are
 * open before the window).
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
/* Session mode: acknowledge after this many data messages (@proj/client's ackEvery). */
#define ACK_EVERY 64
#define SESSION_TOKEN "proj-session.v1"
/* The largest control frame written: header (2) + mask (4) + "\0ack " + 16 digits. */
#define CONTROL_MAX 32

/* READY: session mode, `hello` sent, waiting for `ready`. */
enum state { CONNECTING, HEAD, READY, OPEN };

struct conn {
  int fd;
  enum state state;
  int want_write;
  struct raw_head head;
  /* Frames still to send, and how much of the first one is already written. */
  long owed;
  size_t sent;
  struct raw_scanner scanner;
  /* Session mode: a control frame (`hello`, `ack`) being written, never inside a data frame. */
  unsigned char control[CONTROL_MAX];
  size_t control_len, control_sent;
  /* Session mode: data messages received on this connection, and the last one acknowledged. */
  long delivered, acked;
};

static int epfd, inflight;
static struct sockaddr_in address;
static char request[512];
static size_t request_len;
static unsigned char *frame;
static size_t frame_len;
static long received, total, opened;
static int measuring, session;
/* The measured window's data messages sent, control messages received, socket bytes each way. */
static long sent_messages, control_received;
static unsigned long long bytes_out, bytes_in;

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

/* Queues the masked text frame NUL + `text` (a session control message) on `c`. */
static void queue_control(struct conn *c, const char *text) {
  size_t length = 1 + strlen(text);
  unsigned char *out = c->control;
  out[0] = 0x81;
  out[1] = 0x80 | length;
  memcpy(out + 2, RAW_MASK, 4);
  out[6] = 0 ^ RAW_MASK[0];
  for (size_t i = 1; i < length; i++) out[6 + i] = text[i - 1] ^ RAW_MASK[i & 3];
  c->control_len = 6 + length;
  c->control_sent = 0;
}

/* Session mode: queues `ack` once ACK_EVERY data messages wait and no control frame is pending. */
static void maybe_ack(struct conn *c) {
  if (!session || c->control_len > 0 || c->delivered - c->acked < ACK_EVERY) return;
  char text[CONTROL_MAX];
  snprintf(text, sizeof text, "ack %ld", c->delivered);
  queue_control(c, text);
  c->acked = c->delivered;
}

/*
 * Writes the pending control frame and the owed data frames until done or the
 * socket is full (then waits for EPOLLOUT).
 */
static void flush(struct conn *c) {
  for (;;) {
    struct iovec iov[IOVECS];
    int count = 0;
    size_t want = 0;
    /* A control frame goes out between data frames, never inside one. */
    size_t control = c->sent == 0 ? c->control_len - c->control_sent : 0;
    if (control > 0) {
      iov[count].iov_base = c->control + c->control_sent;
      iov[count].iov_len = control;
      want += control;
      count++;
    }
    for (long i = 0; i < c->owed && count < IOVECS; i++) {
      size_t skip = i == 0 ? c->sent : 0;
      iov[count].iov_base = frame + skip;
      iov[count].iov_len = frame_len - skip;
      want += iov[count].iov_len;
      count++;
    }
    if (count == 0) break;
    ssize_t n = writev(c->fd, iov, count);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      die("writev");
    }
    if (measuring) bytes_out += (size_t)n;
    size_t left = (size_t)n;
    if (control > 0) {
      size_t take = control < left ? control : left;
      c->control_sent += take;
      left -= take;
      if (c->control_sent == c->control_len) {
        c->control_len = c->control_sent = 0;
        maybe_ack(c);
      }
    }
    while (left > 0) {
      size_t take = frame_len - c->sent < left ? frame_len - c->sent : left;
      c->sent += take;
      left -= take;
      if (c->sent == frame_len) {
        c->sent = 0;
        c->owed--;
        if (measuring) sent_messages++;
      }
    }
    if ((size_t)n < want) break;
  }
  watch(c, c->owed > 0 || c->control_len > 0);
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
    if (measuring) bytes_in += (size_t)n;
    size_t offset = 0;
    if (c->state == HEAD) {
      int done = raw_head_push(&c->head, buffer, (size_t)n, &offset);
      if (done == 0) continue;
      if (done < 0) exit(1);
      if (session) {
        if (!strstr(c->head.text, SESSION_TOKEN)) {
          fprintf(stderr, "the server did not select " SESSION_TOKEN "\n");
          exit(1);
        }
        c->state = READY;
        queue_control(c, "hello");
        flush(c);
      } else {
        c->state = OPEN;
        /* Traffic starts once every connection is open, as in echo.mjs:
           otherwise the first connections' echoes starve the last handshakes. */
        if (++opened == connections) start_traffic();
      }
    }
    int closed = 0;
    long text = c->scanner.by_opcode[0x1];
    long binary = c->scanner.by_opcode[0x2];
    long frames = raw_scan(&c->scanner, buffer + offset, (size_t)n - offset, &closed);
    if (closed) {
      fprintf(stderr, "the server closed a connection\n");
      exit(1);
    }
    if (!session) {
      completed += frames;
      continue;
    }
    text = c->scanner.by_opcode[0x1] - text;
    if (c->state == READY && text > 0) {
      /* The first control message after `hello` is `ready`: nothing else comes before it. */
      text--;
      c->state = OPEN;
      if (++opened == connections) start_traffic();
    }
    if (measuring) control_received += text;
    long data = c->scanner.by_opcode[0x2] - binary;
    c->delivered += data;
    completed += data;
  }
  if (completed > 0) {
    total += completed;
    if (measuring) received += completed;
    c->owed += completed;
  }
  maybe_ack(c);
  if (c->state == OPEN && opened == connections) flush(c);
}

int main(int argc, char **argv) {
  if (argc != 6 && !(argc == 7 && strcmp(argv[6], "session") == 0)) {
    fprintf(stderr, "usage: echo <port> <connections> <inflight> <size> <seconds> [session]\n");
    return 2;
  }
  session = argc == 7;
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
  if (session) {
    /* The same request with the session offer before its blank line. */
    request_len -= 2;
    request_len += snprintf(request + request_len, sizeof request - request_len,
                            "Sec-WebSocket-Protocol: " SESSION_TOKEN "\r\n\r\n");
  }
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
      if (c->state >= READY && (events[i].events & EPOLLOUT)) flush(c);
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
             "\"mibps\":%.3f,\"cpu\":%.4f,\"generator\":\"c\",\"sent\":%ld,\"control\":%ld,"
             "\"bytesOut\":%llu,\"bytesIn\":%llu}\n",
             opened, received, total, elapsed, received / elapsed,
             received * (double)size / elapsed / 1048576, cpu / elapsed, sent_messages,
             control_received, bytes_out, bytes_in);
      return 0;
    }
  }
}
