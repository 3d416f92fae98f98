#define _GNU_SOURCE
#include "CMeshShim.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_tun.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

static int tun_attach(char *name_inout, size_t name_cap, short flags) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    strncpy(ifr.ifr_name, name_inout, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    strncpy(name_inout, ifr.ifr_name, name_cap - 1);
    name_inout[name_cap - 1] = 0;
    return fd;
}

int mesh_tun_open_offload(char *name_inout, size_t name_cap, unsigned wanted, unsigned *granted) {
    *granted = 0;
    if (!(wanted & MESH_TUN_VNET_HDR)) return tun_attach(name_inout, name_cap, IFF_TUN | IFF_NO_PI);
    int fd = tun_attach(name_inout, name_cap, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
    if (fd == -EINVAL) return tun_attach(name_inout, name_cap, IFF_TUN | IFF_NO_PI);
    if (fd < 0) return fd;
    *granted = MESH_TUN_VNET_HDR;
    /* Ask for the most, then step down: kernels before 6.2 refuse USO, and a refusal of TSO
       still leaves the header (the kernel accepts coalesced writes without any offload set). */
    static const unsigned steps[] = {
        MESH_TUN_CSUM | MESH_TUN_TSO4 | MESH_TUN_TSO6 | MESH_TUN_USO4 | MESH_TUN_USO6,
        MESH_TUN_CSUM | MESH_TUN_TSO4 | MESH_TUN_TSO6,
        MESH_TUN_CSUM,
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        unsigned want = steps[i] & wanted;
        if (!(want & MESH_TUN_CSUM)) continue;
        unsigned long kernel = TUN_F_CSUM;
        if (want & MESH_TUN_TSO4) kernel |= TUN_F_TSO4;
        if (want & MESH_TUN_TSO6) kernel |= TUN_F_TSO6;
        if (want & MESH_TUN_USO4) kernel |= TUN_F_USO4;
        if (want & MESH_TUN_USO6) kernel |= TUN_F_USO6;
        if (ioctl(fd, TUNSETOFFLOAD, kernel) == 0) {
            *granted |= want;
            break;
        }
    }
    return fd;
}

int mesh_set_nonblocking(int fd, int nonblocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    flags = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int ifreq_call(const char *name, unsigned long req, struct ifreq *ifr) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
    close(s);
    return rc;
}

int mesh_if_index(const char *name) {
    unsigned idx = if_nametoindex(name);
    return idx ? (int)idx : -errno;
}

int mesh_if_set_mtu(const char *name, int mtu) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = mtu;
    return ifreq_call(name, SIOCSIFMTU, &ifr);
}

int mesh_if_set_up(const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int rc = ifreq_call(name, SIOCGIFFLAGS, &ifr);
    if (rc < 0) return rc;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ifreq_call(name, SIOCSIFFLAGS, &ifr);
}

int mesh_poll_readable(int fd, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc = poll(&p, 1, timeout_ms);
    return rc < 0 ? -errno : rc;
}

int64_t mesh_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void mesh_realtime(int64_t *seconds, int32_t *nanoseconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *seconds = ts.tv_sec;
    *nanoseconds = (int32_t)ts.tv_nsec;
}
