/* SHA-256, HMAC-SHA256, CRC32 and base64 through libcrypto and zlib. */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <zlib.h>

#include "common/crypto.h"

/* OpenSSL 3 looks an algorithm up (locks, provider search) every time a
 * digest is named by EVP_sha256() or HMAC(); fetching it once and doing
 * HMAC's two passes by hand makes a request's four hashes several times
 * cheaper. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static const EVP_MD *md(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md ? sha256_md : EVP_sha256();
}

/* Hashes a then b (either may be empty) into out. */
static void sha256_two(EVP_MD_CTX *ctx, const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_DigestInit_ex(ctx, md(), NULL);
    if (alen)
        EVP_DigestUpdate(ctx, a, alen);
    if (blen)
        EVP_DigestUpdate(ctx, b, blen);
    EVP_DigestFinal_ex(ctx, out, &n);
}

void dm_sha256(const void *data, size_t len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        unsigned int n = 32;
        EVP_Digest(data, len, out, &n, md(), NULL);
        return;
    }
    sha256_two(ctx, data, len, NULL, 0, out);
    EVP_MD_CTX_free(ctx);
}

/* RFC 2104 with a 64-byte block. */
void dm_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        memset(out, 0, 32);
        return;
    }
    if (key_len > sizeof k)
        sha256_two(ctx, key, key_len, NULL, 0, k);
    else
        memcpy(k, key, key_len);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_two(ctx, pad, 64, data, len, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_two(ctx, pad, 64, inner, 32, out);
    EVP_MD_CTX_free(ctx);
    dm_memzero(k, sizeof k);
    dm_memzero(pad, sizeof pad);
}

void dm_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void dm_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t h[32];
    dm_sha256(data, len, h);
    dm_hex(h, 32, out);
}

uint32_t dm_crc32(const void *data, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *p = data;
    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)c;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int dm_base64_encode(const void *data, size_t len, dm_buf *out)
{
    const uint8_t *p = data;
    int rc = dm_buf_reserve(out, (len + 2) / 3 * 4);
    if (rc)
        return rc;
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return DM_OK;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int dm_base64_decode(const char *s, size_t len, dm_buf *out)
{
    if (len % 4)
        return DM_ERR_PARSE;
    int rc = dm_buf_reserve(out, len / 4 * 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(c)) < 0) {
                return DM_ERR_PARSE;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        char bytes[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
        dm_buf_append(out, bytes, (size_t)(3 - pad));
    }
    return DM_OK;
}
