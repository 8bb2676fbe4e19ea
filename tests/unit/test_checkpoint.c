/* Checkpoint files: what a run wrote is read back whole; a corrupt or
 * altered file is refused with a reason. */
#include <stdlib.h>
#include <string.h>

#include "engine/checkpoint.h"
#include "engine/engine_impl.h"
#include "test.h"

static char *fixture(const char *name)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_read_file(test_fixture(name), &b, NULL) != DM_OK)
        abort();
    return b.data;
}

TEST(reads_back_a_checkpoint)
{
    char *text = fixture("fuzz_checkpoint/running.json");
    checkpoint_doc d;
    dm_error err = {0};
    CHECK_INT(checkpoint_parse(text, strlen(text), &d, &err), DM_OK);
    CHECK_STR(d.status, "running");
    CHECK_STR(d.marker, "_mig");
    CHECK(d.target_table == NULL && d.version_attribute == NULL);
    CHECK_INT(d.n_segs, 3);
    CHECK(d.segs[0].done && !d.segs[1].done);
    CHECK_STR(d.segs[1].start_key, "{\"pk\":{\"S\":\"k00042\"}}");
    /* Keys finished past the cursor, a NUL inside one kept. */
    CHECK_INT(d.segs[1].n_done, 2);
    CHECK_STR(d.segs[1].done_keys[0], "{\"pk\":{\"S\":\"k00107\"}}");
    CHECK_STR(d.segs[1].done_keys[1], "{\"pk\":{\"S\":\"k\\u0000x\"}}");
    CHECK_INT(d.segs[0].n_done, 0);
    /* A write in doubt, with what it wrote. */
    CHECK_INT(d.segs[1].n_doubt, 1);
    CHECK_STR(d.segs[1].doubt_keys[0], "{\"pk\":{\"S\":\"k00111\"}}");
    CHECK_STR(d.segs[1].doubt_wrote[0], "{\"set\":{\"n\":{\"N\":\"2\"}},\"remove\":[\"old\"]}");
    CHECK_INT(d.segs[0].conflicts, 1);
    checkpoint_doc_cleanup(&d);
    free(text);
}

/* Replaces the first `from` in text with `to`. */
static char *edit(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    if (!p)
        abort();
    size_t n = strlen(text) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    size_t head = (size_t)(p - text);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, p + strlen(from));
    return out;
}

TEST(refuses_corrupt_checkpoints)
{
    char *text = fixture("fuzz_checkpoint/running.json");
    struct { const char *from, *to, *why; } cases[] = {
        {"\"segment\": 2,", "\"segment\": 1,", "listed twice"},
        {"\"segment\": 2,", "\"segment\": 3,", "out of range"},
        {"\"total_segments\": 3", "\"total_segments\": 4", "total_segments"},
        {"\"version\": 1", "\"version\": 2", "version"},
        {"\"status\": \"running\"", "\"status\": \"paused\"", "status"},
        {"\"scanned\": 10", "\"scanned\": -10", "whole number"},
        {"\"scanned\": 10", "\"scanned\": 1.5", "whole number"},
        {"{\"pk\": {\"S\": \"k00042\"}}", "\"k00042\"", "start key"},
        {"\"table\": \"orders\",", "", "missing"},
        {"\"done\": true", "\"done\": 1", "done"},
        {"\"in_doubt\": [", "\"in_doubt\": 3, \"x\": [", "in_doubt that is not a list"},
        {"\"wrote\": {", "\"wrote\": 1, \"y\": {", "segment 1's in_doubt[0] is not"},
        {"\"done_keys\": [{\"pk\": {\"S\": \"k00107\"}}, ", "\"done_keys\": \"x\", \"other\": [", "done_keys"},
        {"{\"pk\": {\"S\": \"k00107\"}}", "\"k00107\"", "segment 1's done_keys[0] is not a key"},
        {"{\"pk\": {\"S\": \"k00107\"}}", "{}", "segment 1's done_keys[0] is not a key"},
        {"\"marker\": \"_mig\"", "\"marker\": 7", "wrong type"},
        {"\"table\": \"orders\"", "\"table\": \"orders\", \"table\": \"other\"", "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *bad = edit(text, cases[i].from, cases[i].to);
        checkpoint_doc d;
        dm_error err = {0};
        int rc = checkpoint_parse(bad, strlen(bad), &d, &err);
        if (rc == DM_OK || !strstr(err.message, cases[i].why))
            fprintf(stderr, "case %zu (%s): rc %d, %s\n", i, cases[i].why, rc, err.message);
        CHECK(rc != DM_OK);
        CHECK_CONTAINS(err.message, cases[i].why);
        free(bad);
    }
    /* Cut anywhere: refused, never half read. */
    for (size_t n = 0; n < strlen(text) - 2; n += 7) {
        checkpoint_doc d;
        CHECK(checkpoint_parse(text, n, &d, NULL) != DM_OK);
    }
    free(text);
}

TEST(segment_lists)
{
    int *segs = NULL, n = 0;
    dm_error err = {0};
    CHECK_INT(seglist_parse("0-3,2,9,5-5", 10, &segs, &n, &err), DM_OK);
    CHECK_INT(n, 6);
    CHECK(segs[0] == 0 && segs[3] == 3 && segs[4] == 5 && segs[5] == 9);
    free(segs);
    static const char *const bad[] = {"", "-1", "3-2", "1,,2", "1-", "10", "0-10", "a", "1;2", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(seglist_parse(bad[i], 10, &segs, &n, &err), DM_ERR_INVALID);
        CHECK(segs == NULL && n == 0);
    }
    CHECK_CONTAINS(err.message, "--segments");
}
