/* The TCP connection to the Runtime API: a local server, so a plain blocking
 * socket. Only the connect is bounded: a GET /next blocks while the sandbox
 * is frozen, for seconds or hours, and must not be cut (Nike-Inc/hal#54). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/digits.h"
#include "runtime/internal.h"

int rt_addr_parse(const char *api, rt_addr *out)
{
    const char *host = api, *host_end, *port;
    if (*api == '[') {
        host++;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        port = host_end + 2;
    } else {
        host_end = strrchr(api, ':');
        if (!host_end || memchr(api, ':', (size_t)(host_end - api)))
            return -1; /* no port, or an IPv6 address without brackets */
        port = host_end + 1;
    }
    size_t hn = (size_t)(host_end - host);
    uint64_t p;
    if (hn == 0 || hn >= sizeof out->host || rns_parse_digits(port, strlen(port), 5, &p) != 0 || p < 1 || p > 65535)
        return -1;
    memcpy(out->host, host, hn);
    out->host[hn] = '\0';
    snprintf(out->port, sizeof out->port, "%u", (unsigned)p);
    return 0;
}

/* Waits for a non-blocking connect: 0, or -1 with errno set. */
static int wait_connected(int fd, int timeout_ms)
{
    int64_t end = rns_mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int64_t left = end - rns_mono_ms();
        int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int so = 0;
        socklen_t len = sizeof so;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
            return -1;
        errno = so;
        return so ? -1 : 0;
    }
}

/* 0 with *fd connected, or -1 with errno set. */
static int connect_one(const struct sockaddr *sa, socklen_t len, int timeout_ms, int *fd)
{
    int s = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
    if (s < 0)
        return -1;
    int one = 1, rc = connect(s, sa, len);
    if (rc != 0 && errno == EINPROGRESS)
        rc = wait_connected(s, timeout_ms);
    if (rc == 0)
        rc = fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    if (rc == 0)
        rc = setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rc != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    *fd = s;
    return 0;
}

/* An IP literal, or "localhost" the way curl answers it: no lookup, so no
 * /etc/hosts, resolver configuration or DNS socket before the first /next. */
static int literal_addrs(const rt_addr *a, struct sockaddr_storage out[2], socklen_t len[2])
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out[0];
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[1];
    uint16_t port = htons((uint16_t)atoi(a->port));
    memset(out, 0, 2 * sizeof *out);
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    len[0] = sizeof *v4;
    len[1] = sizeof *v6;
    if (strcasecmp(a->host, "localhost") == 0) {
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v6->sin6_addr = in6addr_loopback;
        return 2;
    }
    if (inet_pton(AF_INET, a->host, &v4->sin_addr) == 1)
        return 1;
    if (inet_pton(AF_INET6, a->host, &v6->sin6_addr) == 1) {
        out[0] = out[1];
        len[0] = len[1];
        return 1;
    }
    return 0;
}

static void connect_error(const rt_addr *a, int e, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot connect to %s port %s: %s", a->host, a->port, strerror(e));
}

static int open_by_name(const rt_addr *a, int timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(a->host, a->port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", a->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = ENOENT;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        if (connect_one(ai->ai_addr, ai->ai_addrlen, timeout_ms, &fd) != 0)
            e = errno;
    freeaddrinfo(res);
    if (fd < 0)
        connect_error(a, e, err, errlen);
    return fd;
}

int rt_conn_open(const rt_addr *a, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_storage ss[2];
    socklen_t len[2];
    int n = literal_addrs(a, ss, len);
    if (n == 0)
        return open_by_name(a, timeout_ms, err, errlen);
    int fd = -1, e = 0;
    for (int i = 0; i < n && fd < 0; i++)
        if (connect_one((const struct sockaddr *)&ss[i], len[i], timeout_ms, &fd) != 0)
            e = errno;
    if (fd < 0)
        connect_error(a, e, err, errlen);
    return fd;
}

int rt_conn_send(int fd, const char *head, size_t head_len, const char *body, size_t body_len)
{
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body_len ? 2 : 1};
    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        /* a partial send: skip what went out */
        while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov->iov_len) {
            n -= (ssize_t)msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
            msg.msg_iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static ssize_t read_socket(void *ctx, char *p, size_t n)
{
    return recv(*(int *)ctx, p, n, 0);
}

rt_source rt_conn_source(int *fd)
{
    return (rt_source){.read = read_socket, .ctx = fd};
}
