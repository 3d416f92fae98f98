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
    return mesh_recv_batch_gro(fd, buffers, stride, capacity, count, lengths, sources, NULL);
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

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
/* Largest UDP payload of one IPv4 datagram: what a GSO message may total. */
#define MESH_GSO_MAX_BYTES 65507

int mesh_udp_set_gro(int fd, int on) {
    return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) < 0 ? -errno : 0;
}

int mesh_recv_batch_gro(int fd, unsigned char *buffers, size_t stride, size_t capacity, int count,
                        int *lengths, mesh_addr *sources, int *segment_sizes) {
    if (count > MESH_BATCH_MAX) count = MESH_BATCH_MAX;
    struct mmsghdr msgs[MESH_BATCH_MAX];
    struct iovec iovs[MESH_BATCH_MAX];
    struct sockaddr_storage addrs[MESH_BATCH_MAX];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } controls[MESH_BATCH_MAX];
    for (int i = 0; i < count; i++) {
        iovs[i].iov_base = buffers + (size_t)i * stride;
        iovs[i].iov_len = capacity;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        if (segment_sizes) {
            msgs[i].msg_hdr.msg_control = controls[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof controls[i].buf;
        }
    }
    int n;
    do {
        n = recvmmsg(fd, msgs, (unsigned)count, MSG_WAITFORONE, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        lengths[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int)msgs[i].msg_len;
        from_sockaddr(&addrs[i], &sources[i]);
        if (!segment_sizes) continue;
        segment_sizes[i] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int size;
                memcpy(&size, CMSG_DATA(c), sizeof size);
                segment_sizes[i] = size > 0 ? size : 0;
            }
        }
    }
    return n;
}

static int same_destination(const mesh_addr *a, const mesh_addr *b) {
    return a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

int mesh_send_batch_gso(int fd, const unsigned char *buffers, size_t stride, int count,
                        const int *lengths, const mesh_addr *destinations, int max_segments, int *gso_refused) {
    if (count > MESH_BATCH_MAX) count = MESH_BATCH_MAX;
    if (max_segments < 1) max_segments = 1;
    *gso_refused = 0;
    struct mmsghdr msgs[MESH_BATCH_MAX];
    struct iovec iovs[MESH_BATCH_MAX];
    struct sockaddr_in6 addrs[MESH_BATCH_MAX];
    union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } controls[MESH_BATCH_MAX];
    int first_slot[MESH_BATCH_MAX + 1];
    int messages = 0;
    for (int i = 0; i < count;) {
        int size = lengths[i], j = i + 1, total = size;
        /* A run: same destination, same length; a shorter one may end it. */
        while (j < count && j - i < max_segments && same_destination(&destinations[j], &destinations[i])
               && lengths[j] <= size && total + lengths[j] <= MESH_GSO_MAX_BYTES) {
            total += lengths[j];
            j++;
            if (lengths[j - 1] < size) break;
        }
        for (int k = i; k < j; k++) {
            iovs[k].iov_base = (void *)(buffers + (size_t)k * stride);
            iovs[k].iov_len = (size_t)lengths[k];
        }
        struct msghdr *h = &msgs[messages].msg_hdr;
        memset(h, 0, sizeof *h);
        to_sockaddr(&destinations[i], &addrs[messages]);
        h->msg_name = &addrs[messages];
        h->msg_namelen = sizeof addrs[messages];
        h->msg_iov = &iovs[i];
        h->msg_iovlen = (size_t)(j - i);
        if (j - i > 1) {
            h->msg_control = controls[messages].buf;
            h->msg_controllen = sizeof controls[messages].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t segment = (uint16_t)size;
            memcpy(CMSG_DATA(c), &segment, sizeof segment);
        }
        first_slot[messages++] = i;
        i = j;
    }
    first_slot[messages] = count;
    int sent = 0; /* messages */
    while (sent < messages) {
        int n = sendmmsg(fd, msgs + sent, (unsigned)(messages - sent), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EIO && msgs[sent].msg_hdr.msg_controllen > 0) {
                *gso_refused = 1;
                return first_slot[sent];
            }
            if (errno == EAGAIN || errno == ENOBUFS) return sent > 0 ? first_slot[sent] : -errno;
            sent++; /* skip a message the kernel refuses (unreachable, too big) */
            continue;
        }
        sent += n;
    }
    return count;
}
