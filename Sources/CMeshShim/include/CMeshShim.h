#ifndef MESH_SHIM_H
#define MESH_SHIM_H
#include <stdint.h>
#include <stddef.h>

/// An IPv6 (or IPv4-mapped) address and port, the form the Swift side keeps endpoints in.
typedef struct {
    unsigned char ip[16];
    uint16_t port;
} mesh_addr;

/// Largest batch a single recvmmsg / sendmmsg call handles.
#define MESH_BATCH_MAX 128

/// Opens (or attaches to) a TUN device without packet information headers.
/// `name_inout` holds the wanted name and receives the kernel's; returns an fd or -errno.
int mesh_tun_open(char *name_inout, size_t name_cap);
int mesh_set_nonblocking(int fd, int nonblocking);

int mesh_if_index(const char *name);
int mesh_if_set_mtu(const char *name, int mtu);
int mesh_if_set_up(const char *name);
/// Adds an address (family 4 or 6, 4 or 16 bytes) with a prefix length, over rtnetlink. Returns 0 or -errno.
int mesh_if_add_address(int ifindex, int family, const unsigned char *addr, int prefix_len);
/// Adds a route for a prefix through the interface, over rtnetlink. Returns 0 or -errno (-EEXIST if present).
int mesh_if_add_route(int ifindex, int family, const unsigned char *dst, int prefix_len);

/// One dual-stack UDP socket bound to `port` (0: any). Returns fd or -errno; `bound_port` gets the port.
int mesh_udp_open(uint16_t port, uint16_t *bound_port, int buffer_bytes);

/// Receives up to `count` datagrams into `buffers` (slot i at buffers + i*stride, `capacity` bytes each).
/// Blocks for the first datagram, then takes whatever else is queued. Returns how many, or -errno.
int mesh_recv_batch(int fd, unsigned char *buffers, size_t stride, size_t capacity, int count,
                    int *lengths, mesh_addr *sources);
/// Sends `count` datagrams: slot i at buffers + i*stride with lengths[i] bytes to destinations[i].
/// Returns how many were handed to the kernel, or -errno.
int mesh_send_batch(int fd, const unsigned char *buffers, size_t stride, int count,
                    const int *lengths, const mesh_addr *destinations);
int mesh_send_one(int fd, const unsigned char *buffer, size_t length, const mesh_addr *destination);

/// Waits for readability of one fd; timeout in ms (-1 forever). Returns >0 readable, 0 timeout, -errno.
int mesh_poll_readable(int fd, int timeout_ms);

int64_t mesh_monotonic_ns(void);
void mesh_realtime(int64_t *seconds, int32_t *nanoseconds);
#endif
