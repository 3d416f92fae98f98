#ifndef MESH_FAST_AEAD_H
#define MESH_FAST_AEAD_H
#include <stddef.h>
#include <stdint.h>

/// ChaCha20-Poly1305 through the BoringSSL that swift-nio-ssl links into the process (its fused
/// AVX2 assembly seals a 1424-byte packet in about 60 % of libsodium's time here). The symbols
/// are weak: where no BoringSSL is linked (the fuzz builds), `mesh_fast_aead_available` is 0 and
/// callers use libsodium.
int mesh_fast_aead_available(void);
/// A context holding one 32-byte key (NULL on allocation failure). Free with mesh_fast_aead_free.
void *mesh_fast_aead_new(const uint8_t *key);
void mesh_fast_aead_free(void *ctx);
/// Seals `length` bytes in place with the nonce 0x00000000 || little-endian `counter`, no
/// additional data; the 16-byte tag goes right after them. Returns 1, or 0 on failure.
int mesh_fast_aead_seal(const void *ctx, uint64_t counter, uint8_t *buffer, size_t length);
/// Opens `length` bytes (ciphertext then tag) in place. Returns 1 when authentic, else 0.
int mesh_fast_aead_open(const void *ctx, uint64_t counter, uint8_t *buffer, size_t length);
#endif
