// The primitives the WireGuard module's API is written in (MonotonicTime, UDPAddress) live in
// MeshBase, so modules that only need them (the relay, the coordinator) need not link WireGuard.
// Re-exported so code that imports WireGuard sees them as before.
@_exported import MeshBase
