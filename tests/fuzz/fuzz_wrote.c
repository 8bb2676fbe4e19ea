/* libFuzzer target for the record of a write in doubt (wplan_wrote_*),
 * read back from a checkpoint: any input is refused or accepted by the
 * check, a refused one is never found in place, and an accepted one is in
 * place in an item that holds what it set (and nothing it removed). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wplan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    static const char base[] = "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}";
    dm_arena *a = dm_arena_new(0);
    ddb_item fixed;
    char *copy = dm_arena_strndup(a, base, strlen(base));
    if (ddb_item_decode(copy, strlen(copy), a, &fixed, NULL, NULL) != DM_OK)
        abort();
    dm_error err = {0};
    bool ok = wplan_wrote_check(text, size, &err) == DM_OK;
    bool in = wplan_wrote_in_place(text, size, &fixed);
    if (!ok && (in || !err.message[0]))
        abort();
    if (ok) {
        /* The item made of exactly what the record set. */
        json_t *doc = json_loadb(text, size, JSON_ALLOW_NUL, NULL);
        json_t *rm = json_object_get(doc, "remove");
        char *set = json_dumps(json_object_get(doc, "set"), JSON_COMPACT);
        ddb_item made;
        char *s2 = set ? dm_arena_strndup(a, set, strlen(set)) : NULL;
        bool removes_none_set = true;
        for (size_t i = 0; i < json_array_size(rm); i++)
            if (json_object_get(json_object_get(doc, "set"), json_string_value(json_array_get(rm, i))))
                removes_none_set = false;
        if (s2 && removes_none_set && ddb_item_decode(s2, strlen(s2), a, &made, NULL, NULL) == DM_OK &&
            !wplan_wrote_in_place(text, size, &made))
            abort();
        free(set);
        json_decref(doc);
    }
    dm_arena_free(a);
    return 0;
}
