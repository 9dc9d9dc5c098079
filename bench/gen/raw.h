/*
 * The raw-socket WebSocket client pieces the C load generators share, as
 * raw.mjs is for the Node ones: a fixed handshake (RFC 6455's example key, so
 * the expected accept value is a constant), frames masked once and written
 * many times, and a scanner that reads server frames only as far as their
 * headers. Nothing here validates: the servers under test are trusted, and
 * the generators must stay cheaper than them.
 */
#ifndef PROJ_BENCH_RAW_H
#define PROJ_BENCH_RAW_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define RAW_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RAW_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define RAW_HEAD_MAX 2048

static const unsigned char RAW_MASK[4] = {0x12, 0x34, 0x56, 0x78};

static double raw_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU seconds this process has used; its system part in `*system`. */
static double raw_cpu_seconds(double *system) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  *system = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + *system;
}

/* Starts a non-blocking connect with TCP_NODELAY; exits if it cannot even start. */
static int raw_connect(const struct sockaddr_in *address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (const struct sockaddr *)address, sizeof *address) < 0 && errno != EINPROGRESS) {
    perror("connect");
    exit(1);
  }
  return fd;
}

/* How a non-blocking connect ended, once epoll reported the socket: 0 or an errno. */
static int raw_connect_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error;
}

static int raw_upgrade_request(char *out, size_t capacity, int port) {
  return snprintf(out, capacity,
                  "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: " RAW_KEY "\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n",
                  port);
}

/* Points `address` at `port` on the loopback interface and writes the upgrade request for it to
 * `request`; returns the request's length. */
static int raw_target(struct sockaddr_in *address, char *request, size_t capacity, int port) {
  memset(address, 0, sizeof *address);
  address->sin_family = AF_INET;
  address->sin_port = htons(port);
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return raw_upgrade_request(request, capacity, port);
}

/* Bytes of a masked client frame carrying `size` bytes. */
static size_t raw_masked_frame_size(unsigned long long size) {
  return (size < 126 ? 2 : size < 65536 ? 4 : 10) + 4 + size;
}

/*
 * Writes a masked binary frame carrying 0, 1, 2... mod 256 (as raw.mjs's
 * maskedMessage) to `out`, which holds raw_masked_frame_size(size) bytes.
 */
static void raw_masked_message(unsigned char *out, unsigned long long size) {
  size_t header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  out[0] = 0x82;
  if (size < 126) {
    out[1] = 0x80 | size;
  } else if (size < 65536) {
    out[1] = 0x80 | 126;
    out[2] = size >> 8;
    out[3] = size & 0xff;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = size >> (56 - 8 * i);
  }
  memcpy(out + header, RAW_MASK, 4);
  for (unsigned long long i = 0; i < size; i++) out[header + 4 + i] = (i & 0xff) ^ RAW_MASK[i & 3];
}

/* The response head, gathered across reads. */
struct raw_head {
  char text[RAW_HEAD_MAX];
  size_t length;
};

/*
 * Adds a read to the head: 0 while it is incomplete; 1 once it is a 101 with
 * the expected accept value, `*consumed` then being the bytes of this read
 * that belong to it; -1 for a refusal or a head too long.
 */
static int raw_head_push(struct raw_head *head, const unsigned char *bytes, size_t length,
                         size_t *consumed) {
  size_t room = sizeof head->text - 1 - head->length;
  size_t take = length < room ? length : room;
  memcpy(head->text + head->length, bytes, take);
  size_t before = head->length;
  head->length += take;
  head->text[head->length] = 0;
  char *end = strstr(head->text, "\r\n\r\n");
  if (!end) return head->length < sizeof head->text - 1 ? 0 : -1;
  if (strncmp(head->text, "HTTP/1.1 101", 12) != 0 || !strstr(head->text, RAW_ACCEPT)) {
    fprintf(stderr, "handshake refused: %.60s\n", head->text);
    return -1;
  }
  *consumed = (size_t)(end + 4 - head->text) - before;
  return 1;
}

/* Server frames, read by their headers only. */
struct raw_scanner {
  unsigned char header[14];
  int have;
  int opcode;
  unsigned long long skip;
  /* Frames completed so far, by opcode: callers that must tell data from control messages (the
     session mode of echo.c) read the difference across a call. */
  long by_opcode[16];
};

/*
 * Scans server bytes; returns how many frames they complete. Stops right
 * after a close frame and sets `*closed` (0x8: the server gave up or answered
 * our close).
 */
static long raw_scan(struct raw_scanner *s, const unsigned char *bytes, size_t length, int *closed) {
  long completed = 0;
  size_t offset = 0;
  while (offset < length) {
    if (s->skip > 0) {
      size_t take = length - offset < s->skip ? length - offset : s->skip;
      s->skip -= take;
      offset += take;
      if (s->skip > 0) continue;
      completed++;
      s->by_opcode[s->opcode]++;
      if (s->opcode == 0x8) {
        *closed = 1;
        return completed;
      }
      continue;
    }
    s->header[s->have++] = bytes[offset++];
    if (s->have < 2) continue;
    int second = s->header[1] & 0x7f;
    int size = second == 126 ? 4 : second == 127 ? 10 : 2;
    if (s->have < size) continue;
    s->opcode = s->header[0] & 0x0f;
    unsigned long long frame_length = second;
    if (second == 126) frame_length = (s->header[2] << 8) | s->header[3];
    if (second == 127) {
      frame_length = 0;
      for (int i = 2; i < 10; i++) frame_length = (frame_length << 8) | s->header[i];
    }
    s->have = 0;
    if (frame_length > 0) {
      s->skip = frame_length;
      continue;
    }
    completed++;
    s->by_opcode[s->opcode]++;
    if (s->opcode == 0x8) {
      *closed = 1;
      return completed;
    }
  }
  return completed;
}

#endif
