/* libFuzzer target for checkpoint files: any input is either refused or
 * parsed into a document whose every segment is within range and whose
 * start keys are JSON objects. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    checkpoint_doc d;
    if (checkpoint_parse((const char *)data, size, &d, NULL) != DM_OK)
        return 0;
    if (d.n_segs < 1 || d.n_segs > 1000000 || !d.segs || !d.status || !d.table)
        abort();
    for (int i = 0; i < d.n_segs; i++) {
        const checkpoint_seg *s = &d.segs[i];
        if (s->scanned < 0 || s->failed < 0 || s->work_ms < 0)
            abort();
        if (s->start_key) {
            json_t *k = json_loads(s->start_key, 0, NULL);
            if (!json_is_object(k))
                abort();
            json_decref(k);
        }
    }
    checkpoint_doc_cleanup(&d);
    return 0;
}
