/// Placeholder until the wire module lands.
enum MeshWirePlaceholder {}
