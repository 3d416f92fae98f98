#define _GNU_SOURCE
#include "CMeshShim.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void to_sockaddr(const mesh_addr *a, struct sockaddr_in6 *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(a->port);
    memcpy(&sa->sin6_addr, a->ip, 16);
}

static void from_sockaddr(const struct sockaddr_storage *ss, mesh_addr *a) {
    memset(a, 0, sizeof *a);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(a->ip, &s6->sin6_addr, 16);
        a->port = ntohs(s6->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->ip[10] = 0xff;
        a->ip[11] = 0xff;
        memcpy(a->ip + 12, &s4->sin_addr, 4);
        a->port = ntohs(s4->sin_port);
    }
}

int mesh_udp_open(uint16_t port, uint16_t *bound_port, int buffer_bytes) {
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    int off = 0;
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (buffer_bytes > 0) {
        /* FORCE variants need CAP_NET_ADMIN, which meshd has; fall back to the capped ones. */
        if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof buffer_bytes) < 0)
            setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
        if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_bytes, sizeof buffer_bytes) < 0)
            setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
    }
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_any;
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(s);
        return -e;
    }
    socklen_t len = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &len);
    *bound_port = ntohs(sa.sin6_port);
    return s;
}

int mesh_recv_batch(int fd, unsigned char *buffers, size_t stride, size_t capacity, int count,
                    int *lengths, mesh_addr *sources) {
    if (count > MESH_BATCH_MAX) count = MESH_BATCH_MAX;
    struct mmsghdr msgs[MESH_BATCH_MAX];
    struct iovec iovs[MESH_BATCH_MAX];
    struct sockaddr_storage addrs[MESH_BATCH_MAX];
    for (int i = 0; i < count; i++) {
        iovs[i].iov_base = buffers + (size_t)i * stride;
        iovs[i].iov_len = capacity;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int n;
    do {
        n = recvmmsg(fd, msgs, (unsigned)count, MSG_WAITFORONE, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        /* A datagram larger than the slot is truncated; report it as oversized so it is dropped. */
        lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int)msgs[i].msg_len;
        from_sockaddr(&addrs[i], &sources[i]);
    }
    return n;
}

int mesh_send_batch(int fd, const unsigned char *buffers, size_t stride, int count,
                    const int *lengths, const mesh_addr *destinations) {
    if (count > MESH_BATCH_MAX) count = MESH_BATCH_MAX;
    struct mmsghdr msgs[MESH_BATCH_MAX];
    struct iovec iovs[MESH_BATCH_MAX];
    struct sockaddr_in6 addrs[MESH_BATCH_MAX];
    for (int i = 0; i < count; i++) {
        iovs[i].iov_base = (void *)(buffers + (size_t)i * stride);
        iovs[i].iov_len = (size_t)lengths[i];
        to_sockaddr(&destinations[i], &addrs[i]);
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int sent = 0;
    while (sent < count) {
        int n = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            /* Skip a datagram the kernel refuses (unreachable, too big) rather than stalling the batch. */
            if (errno == EAGAIN || errno == ENOBUFS) return sent > 0 ? sent : -errno;
            sent++;
            continue;
        }
        sent += n;
    }
    return sent;
}

int mesh_send_one(int fd, const unsigned char *buffer, size_t length, const mesh_addr *destination) {
    struct sockaddr_in6 sa;
    to_sockaddr(destination, &sa);
    ssize_t n = sendto(fd, buffer, length, 0, (struct sockaddr *)&sa, sizeof sa);
    return n < 0 ? -errno : (int)n;
}
