/* Hashes and encodings over OpenSSL libcrypto, for signing and checksums. */
#ifndef DDBMIG_COMMON_CRYPTO_H
#define DDBMIG_COMMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ddbmig/common.h"

void dm_sha256(const void *data, size_t len, uint8_t out[32]);
void dm_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void dm_hex(const uint8_t *in, size_t n, char *out);
/* Lower-case hex SHA-256 of data into out[65]. */
void dm_sha256_hex(const void *data, size_t len, char out[65]);
uint32_t dm_crc32(const void *data, size_t len);
/* Standard base64 (RFC 4648, padded). Append to out. */
int dm_base64_encode(const void *data, size_t len, dm_buf *out);
/* Decodes standard base64; rejects bad characters and bad padding. */
int dm_base64_decode(const char *s, size_t len, dm_buf *out);

#endif
