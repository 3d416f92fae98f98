#include "CFastAEAD.h"
#include <string.h>

/* BoringSSL as swift-nio-ssl vendors it, symbols prefixed CNIOBoringSSL_ (its public API). */
typedef struct evp_aead_st EVP_AEAD;
typedef struct evp_aead_ctx_st EVP_AEAD_CTX;
extern const EVP_AEAD *CNIOBoringSSL_EVP_aead_chacha20_poly1305(void) __attribute__((weak));
extern EVP_AEAD_CTX *CNIOBoringSSL_EVP_AEAD_CTX_new(const EVP_AEAD *aead, const uint8_t *key, size_t key_len,
                                                     size_t tag_len) __attribute__((weak));
extern void CNIOBoringSSL_EVP_AEAD_CTX_free(EVP_AEAD_CTX *ctx) __attribute__((weak));
extern int CNIOBoringSSL_EVP_AEAD_CTX_seal_scatter(const EVP_AEAD_CTX *ctx, uint8_t *out, uint8_t *out_tag,
                                                   size_t *out_tag_len, size_t max_out_tag_len, const uint8_t *nonce,
                                                   size_t nonce_len, const uint8_t *in, size_t in_len,
                                                   const uint8_t *extra_in, size_t extra_in_len, const uint8_t *ad,
                                                   size_t ad_len) __attribute__((weak));
extern int CNIOBoringSSL_EVP_AEAD_CTX_open_gather(const EVP_AEAD_CTX *ctx, uint8_t *out, const uint8_t *nonce,
                                                  size_t nonce_len, const uint8_t *in, size_t in_len,
                                                  const uint8_t *in_tag, size_t in_tag_len, const uint8_t *ad,
                                                  size_t ad_len) __attribute__((weak));

int mesh_fast_aead_available(void) {
    return CNIOBoringSSL_EVP_aead_chacha20_poly1305 && CNIOBoringSSL_EVP_AEAD_CTX_new && CNIOBoringSSL_EVP_AEAD_CTX_free
        && CNIOBoringSSL_EVP_AEAD_CTX_seal_scatter && CNIOBoringSSL_EVP_AEAD_CTX_open_gather;
}

void *mesh_fast_aead_new(const uint8_t *key) {
    if (!mesh_fast_aead_available()) return NULL;
    return CNIOBoringSSL_EVP_AEAD_CTX_new(CNIOBoringSSL_EVP_aead_chacha20_poly1305(), key, 32, 16);
}

void mesh_fast_aead_free(void *ctx) {
    if (ctx) CNIOBoringSSL_EVP_AEAD_CTX_free((EVP_AEAD_CTX *)ctx);
}

static void wireguard_nonce(uint64_t counter, uint8_t nonce[12]) {
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

int mesh_fast_aead_seal(const void *ctx, uint64_t counter, uint8_t *buffer, size_t length) {
    uint8_t nonce[12];
    wireguard_nonce(counter, nonce);
    size_t tag_len = 0;
    return CNIOBoringSSL_EVP_AEAD_CTX_seal_scatter((const EVP_AEAD_CTX *)ctx, buffer, buffer + length, &tag_len, 16,
                                                   nonce, 12, buffer, length, NULL, 0, NULL, 0) == 1 && tag_len == 16;
}

int mesh_fast_aead_open(const void *ctx, uint64_t counter, uint8_t *buffer, size_t length) {
    if (length < 16) return 0;
    uint8_t nonce[12];
    wireguard_nonce(counter, nonce);
    return CNIOBoringSSL_EVP_AEAD_CTX_open_gather((const EVP_AEAD_CTX *)ctx, buffer, nonce, 12, buffer, length - 16,
                                                  buffer + length - 16, 16, NULL, 0) == 1;
}
