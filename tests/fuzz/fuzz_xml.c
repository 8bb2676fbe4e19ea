/* libFuzzer target for the XML reader and the answers read with it
 * (CloudFormation, STS, S3 errors): any input is refused or gives a tree
 * whose texts are as long as they say and hold no NUL; the answer
 * parsers never read past what they were given. */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/awsapi.h"
#include "ddbmig/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const xml_node *n, int depth)
{
    for (; n; n = n->next) {
        if (depth > 64 || !n->name[0] || !n->text || strlen(n->text) != n->text_len)
            abort();
        walk(n->children, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    xml_node *root = NULL;
    if (xml_parse(text, size, &root, NULL) == DM_OK) {
        walk(root, 1);
        xml_free(root);
    }
    cfn_stack *s = malloc(sizeof *s);
    bool found;
    if (s && cfn_parse_stack(text, size, s, &found, NULL) == DM_OK && found && !s->status[0])
        abort();
    free(s);
    cfn_event ev[4];
    int n = 0;
    if (cfn_parse_events(text, size, ev, 4, &n, NULL) == DM_OK && (n < 0 || n > 4))
        abort();
    char account[16];
    if (sts_parse_account(text, size, account, NULL) == DM_OK && strlen(account) != 12)
        abort();
    char code[64], msg[64];
    awsreq_xml_error(text, size, code, sizeof code, msg, sizeof msg);
    return 0;
}
