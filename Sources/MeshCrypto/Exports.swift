// Key generation takes an `EntropySource` (MeshBase): whoever makes keys needs that type.
@_exported import MeshBase
