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

int mesh_set_nonblocking(int fd, int nonblocking);

/// What `mesh_tun_open_offload` is asked for and reports as granted.
#define MESH_TUN_VNET_HDR 0x01  /* every read and write carries a 10-byte virtio_net_hdr */
#define MESH_TUN_CSUM     0x02  /* the kernel may hand over packets with a partial checksum */
#define MESH_TUN_TSO4     0x04  /* ... and TCP/IPv4 super-packets */
#define MESH_TUN_TSO6     0x08
#define MESH_TUN_USO4     0x10  /* ... and UDP super-packets (Linux 6.2) */
#define MESH_TUN_USO6     0x20
/// Opens the TUN with the virtio-net header and as many of the `wanted` offloads as the kernel
/// accepts (each refusal steps down: USO, then TSO, then none); without the header when the
/// kernel refuses it or it is not wanted. `granted` gets what holds. Returns an fd or -errno.
int mesh_tun_open_offload(char *name_inout, size_t name_cap, unsigned wanted, unsigned *granted);

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
/// Turns UDP GRO on or off for the socket: the kernel then delivers runs of equal-sized
/// datagrams from one source as one buffer, `segment_sizes[i]` apart. Returns 0 or -errno.
int mesh_udp_set_gro(int fd, int on);
/// As mesh_recv_batch, and `segment_sizes[i]` gets the GRO segment size (0: one datagram;
/// NULL: not asked for, as mesh_recv_batch does).
int mesh_recv_batch_gro(int fd, unsigned char *buffers, size_t stride, size_t capacity, int count,
                        int *lengths, mesh_addr *sources, int *segment_sizes);
/// As mesh_send_batch, but runs of consecutive slots to one destination with equal lengths (the
/// last may be shorter) go out as one UDP GSO message (UDP_SEGMENT), up to `max_segments` each.
/// Returns how many slots were handed to the kernel; when the kernel refuses GSO (EIO: the
/// route's device cannot checksum), stops there and sets *gso_refused, so the caller can send
/// the rest with mesh_send_batch and stop asking. -errno when nothing could be sent.
int mesh_send_batch_gso(int fd, const unsigned char *buffers, size_t stride, int count,
                        const int *lengths, const mesh_addr *destinations, int max_segments, int *gso_refused);
int mesh_send_one(int fd, const unsigned char *buffer, size_t length, const mesh_addr *destination);

/// Waits for readability of one fd; timeout in ms (-1 forever). Returns >0 readable, 0 timeout, -errno.
int mesh_poll_readable(int fd, int timeout_ms);

int64_t mesh_monotonic_ns(void);
void mesh_realtime(int64_t *seconds, int32_t *nanoseconds);
#endif
