#define _GNU_SOURCE
#include "CMeshShim.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>

struct nl_request {
    struct nlmsghdr hdr;
    union {
        struct ifaddrmsg ifa;
        struct rtmsg rt;
    } body;
    char attrs[256];
};

static void add_attr(struct nl_request *req, unsigned short type, const void *data, size_t len) {
    struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->hdr.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    req->hdr.nlmsg_len = NLMSG_ALIGN(req->hdr.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/// Sends one request and waits for the kernel's acknowledgement; returns 0 or -errno.
static int transact(struct nl_request *req) {
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) return -errno;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    req->hdr.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    req->hdr.nlmsg_seq = 1;
    if (sendto(s, req, req->hdr.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int e = errno;
        close(s);
        return -e;
    }
    char buf[4096];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    int rc = -EIO;
    if (n > 0) {
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (NLMSG_OK(h, (unsigned)n) && h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *err = NLMSG_DATA(h);
            rc = err->error;  /* 0 or -errno */
        }
    } else if (n < 0) {
        rc = -errno;
    }
    close(s);
    return rc;
}

int mesh_if_add_address(int ifindex, int family, const unsigned char *addr, int prefix_len) {
    struct nl_request req;
    memset(&req, 0, sizeof req);
    size_t alen = family == 4 ? 4 : 16;
    req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    req.hdr.nlmsg_type = RTM_NEWADDR;
    req.hdr.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    req.body.ifa.ifa_family = family == 4 ? AF_INET : AF_INET6;
    req.body.ifa.ifa_prefixlen = (unsigned char)prefix_len;
    req.body.ifa.ifa_index = (unsigned)ifindex;
    req.body.ifa.ifa_flags = family == 6 ? IFA_F_NODAD : 0;
    add_attr(&req, IFA_LOCAL, addr, alen);
    add_attr(&req, IFA_ADDRESS, addr, alen);
    return transact(&req);
}

int mesh_if_add_route(int ifindex, int family, const unsigned char *dst, int prefix_len) {
    struct nl_request req;
    memset(&req, 0, sizeof req);
    size_t alen = family == 4 ? 4 : 16;
    req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.hdr.nlmsg_type = RTM_NEWROUTE;
    req.hdr.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    req.body.rt.rtm_family = family == 4 ? AF_INET : AF_INET6;
    req.body.rt.rtm_dst_len = (unsigned char)prefix_len;
    req.body.rt.rtm_table = RT_TABLE_MAIN;
    req.body.rt.rtm_protocol = RTPROT_STATIC;
    req.body.rt.rtm_scope = RT_SCOPE_LINK;
    req.body.rt.rtm_type = RTN_UNICAST;
    add_attr(&req, RTA_DST, dst, alen);
    unsigned oif = (unsigned)ifindex;
    add_attr(&req, RTA_OIF, &oif, sizeof oif);
    return transact(&req);
}
