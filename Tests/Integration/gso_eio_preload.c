/* gso_eio_preload.c - LD_PRELOAD'ed into meshd by meshd_offloads.sh: sendmmsg fails with EIO
 * when its first message asks for UDP GSO (a UDP_SEGMENT control message), as the kernel does
 * for a route it cannot segment on (an IPsec route; before Linux 6.11 also a device without tx
 * checksumming). Messages without GSO go to the real sendmmsg. Each refusal is counted in the
 * file named by GSO_EIO_COUNT_FILE (one line per refused call), so the test can see how often
 * meshd asked after the first refusal. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static int wants_gso(const struct msghdr *h) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)h); c; c = CMSG_NXTHDR((struct msghdr *)h, c))
        if (c->cmsg_level == 17 /* SOL_UDP */ && c->cmsg_type == UDP_SEGMENT) return 1;
    return 0;
}

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags) {
    static int (*real)(int, struct mmsghdr *, unsigned int, int);
    if (!real) real = (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT, "sendmmsg");
    if (n > 0 && msgs[0].msg_hdr.msg_controllen > 0 && wants_gso(&msgs[0].msg_hdr)) {
        const char *path = getenv("GSO_EIO_COUNT_FILE");
        if (path) {
            int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            if (f >= 0) { (void)!write(f, "eio\n", 4); close(f); }
        }
        errno = EIO;
        return -1;
    }
    return real(fd, msgs, n, flags);
}
