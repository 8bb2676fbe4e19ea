/* libFuzzer target for the URL parser and the display of URLs in
 * messages: parsing never reads past the text, a parsed URL's parts are
 * consistent with it, and displayed text never holds what came before an
 * '@' after the scheme (user information) nor a control character. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    http_url u;
    dm_error err;
    int rc = http_url_parse(text, &u, &err);
    if (rc != http_url_parse(text, &u, NULL))
        abort(); /* the verdict must not depend on wanting a message */
    if (rc == DM_OK) {
        if (u.path < text || u.path + u.path_len > text + strlen(text))
            abort();
        if (!u.host[0] || !u.port[0] || !u.authority[0] || strchr(u.authority, '@'))
            abort();
        if (strlen(u.port) > 5 || atoi(u.port) < 1 || atoi(u.port) > 65535)
            abort();
    } else {
        for (const char *m = err.message; *m; m++)
            if ((unsigned char)*m < 0x20 || (unsigned char)*m == 0x7f)
                abort();
    }
    char shown[128];
    http_url_display(text, shown, sizeof shown);
    if (strlen(shown) >= sizeof shown)
        abort();
    for (const char *m = shown; *m; m++)
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
            abort();
    /* What stood between "://" and the last '@' is replaced (checked when
     * the text before it is short and printable, so not cut or escaped). */
    const char *sep = strstr(text, "://");
    const char *start = sep ? sep + 3 : text;
    const char *at = strrchr(start, '@');
    bool plain_prefix = start - text < 20;
    for (const char *c = text; c < start; c++)
        plain_prefix = plain_prefix && (unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f;
    if (at && plain_prefix && strstr(shown, "[redacted]") == NULL)
        abort();
    free(text);
    return 0;
}
