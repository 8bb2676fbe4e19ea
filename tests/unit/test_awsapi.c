/* The answers of CloudFormation, STS, S3 and Step Functions as ddbmig
 * reads them: the XML reader's rules (entities, CDATA, namespaces, what
 * it refuses) and each parser against AWS-shaped documents
 * (tests/fixtures/fuzz_xml/, also the fuzz target's seeds). */
#include <stdlib.h>
#include <string.h>

#include "ddbmig/awsapi.h"
#include "ddbmig/xml.h"
#include "test.h"
#include "testutil.h"

static char *fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz_xml/%s", DDBMIG_FIXTURES_DIR, name);
    dm_buf b;
    dm_buf_init(&b, 0);
    if (dm_read_file(path, &b, NULL) != DM_OK)
        return NULL;
    *len = b.len;
    return b.data;
}

static int parse(const char *text, xml_node **root)
{
    return xml_parse(text, strlen(text), root, NULL);
}

TEST(xml_decodes_text)
{
    xml_node *r = NULL;
    CHECK_INT(parse("<?xml version=\"1.0\"?><a:R xmlns:a=\"u\"><B x='1'>x &amp; &lt;y&gt; &quot;&apos; &#65;&#x42;"
                    "<![CDATA[<raw>&amp;]]></B><C/><B>second</B></a:R>",
                    &r),
              DM_OK);
    CHECK_STR(r->name, "R");
    CHECK_STR(xml_path_text(r, "B"), "x & <y> \"' AB<raw>&amp;");
    CHECK_STR(xml_path_text(r, "C"), "");
    CHECK_STR(xml_next_same(xml_child(r, "B"))->text, "second");
    CHECK(xml_path(r, "B/none") == NULL);
    CHECK(xml_path_text(r, "D") == NULL);
    xml_free(r);
    /* Multibyte references become UTF-8. */
    CHECK_INT(parse("<a>&#x2014;&#128512;</a>", &r), DM_OK);
    CHECK_STR(r->text, "\xE2\x80\x94\xF0\x9F\x98\x80");
    xml_free(r);
}

TEST(xml_refuses_what_it_cannot_read_safely)
{
    static const char *const bad[] = {
        "",
        "text",
        "<a>",
        "<a></b>",
        "<a></a><b></b>",
        "<a></a>trailing",
        "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a>&unknown;</a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a>&#x110000;</a>",
        "<a>&amp</a>",
        "<a b=c></a>",
        "<a b=\"c></a>",
        "<a><!-- unterminated </a>",
        "<a><![CDATA[ unterminated </a>",
        "</a>",
        "< a></a>",
        "<ns:/>",
        "<ns:></ns:>",
        "<a><b:></b:></a>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xml_node *r = NULL;
        dm_error e = {0};
        CHECK_INT(xml_parse(bad[i], strlen(bad[i]), &r, &e), DM_ERR_PARSE);
        CHECK(r == NULL);
        CHECK(strstr(e.message, "malformed XML at byte") != NULL);
    }
    /* A NUL byte inside text. */
    xml_node *r = NULL;
    CHECK_INT(xml_parse("<a>x\0y</a>", 10, &r, NULL), DM_ERR_PARSE);
}

TEST(xml_bounds_nesting)
{
    dm_buf b;
    dm_buf_init(&b, 0);
    for (int i = 0; i < 64; i++)
        dm_buf_puts(&b, "<a>");
    for (int i = 0; i < 64; i++)
        dm_buf_puts(&b, "</a>");
    xml_node *r = NULL;
    CHECK_INT(xml_parse(b.data, b.len, &r, NULL), DM_OK);
    xml_free(r);
    dm_buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        dm_buf_puts(&b, "<a>");
    CHECK_INT(xml_parse(b.data, b.len, &r, NULL), DM_ERR_PARSE);
    dm_buf_cleanup(&b);
}

TEST(cloudformation_stack_and_outputs)
{
    size_t n;
    char *x = fixture("describe_stacks.xml", &n);
    CHECK(x != NULL);
    cfn_stack s;
    bool found = false;
    CHECK_INT(cfn_parse_stack(x, n, &s, &found, NULL), DM_OK);
    CHECK(found);
    CHECK_STR(s.name, "orders-fix");
    CHECK_STR(s.status, "UPDATE_ROLLBACK_COMPLETE");
    CHECK_STR(s.reason, "Resource update cancelled \xE2\x80\x94 see \xE2\x80\x9C" "events\xE2\x80\x9D");
    CHECK_INT(s.n_outputs, 2);
    CHECK_STR(cfn_output(&s, "TotalSegments"), "4000");
    CHECK_STR(cfn_output(&s, "StateMachineArn"), "arn:aws:states:us-east-1:123456789012:stateMachine:orders-fix-ddbmig");
    CHECK(cfn_output(&s, "CodeBucket") == NULL); /* a parameter, not an output */
    free(x);
    const char *empty = "<DescribeStacksResponse><DescribeStacksResult><Stacks/></DescribeStacksResult>"
                        "</DescribeStacksResponse>";
    CHECK_INT(cfn_parse_stack(empty, strlen(empty), &s, &found, NULL), DM_OK);
    CHECK(!found);
    const char *other = "<Other/>";
    CHECK_INT(cfn_parse_stack(other, strlen(other), &s, &found, NULL), DM_ERR_PARSE);
    CHECK(cfn_status_in_progress("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"));
    CHECK(!cfn_status_in_progress("CREATE_COMPLETE"));
    CHECK(!cfn_status_in_progress("_IN_PROGRESS"));
    CHECK(cfn_status_ok("UPDATE_COMPLETE"));
    CHECK(!cfn_status_ok("UPDATE_ROLLBACK_COMPLETE"));
}

TEST(cloudformation_events_newest_first)
{
    size_t n;
    char *x = fixture("events.xml", &n);
    CHECK(x != NULL);
    cfn_event ev[4];
    int k = 0;
    CHECK_INT(cfn_parse_events(x, n, ev, 4, &k, NULL), DM_OK);
    CHECK_INT(k, 2);
    CHECK_STR(ev[0].status, "CREATE_COMPLETE");
    CHECK_STR(ev[1].reason, "Resource creation Initiated");
    CHECK_INT(cfn_parse_events(x, n, ev, 1, &k, NULL), DM_OK);
    CHECK_INT(k, 1);
    free(x);
}

TEST(errors_and_account)
{
    size_t n;
    char *x = fixture("error.xml", &n);
    char code[64], msg[128];
    CHECK(awsreq_xml_error(x, n, code, sizeof code, msg, sizeof msg));
    CHECK_STR(code, "ValidationError");
    CHECK_STR(msg, "Stack with id nope does not exist");
    free(x);
    x = fixture("s3_error.xml", &n);
    CHECK(awsreq_xml_error(x, n, code, sizeof code, msg, sizeof msg));
    CHECK_STR(code, "NoSuchBucket");
    free(x);
    CHECK(!awsreq_xml_error("<html>500</html>", 16, code, sizeof code, msg, sizeof msg));
    x = fixture("sts.xml", &n);
    char account[16];
    CHECK_INT(sts_parse_account(x, n, account, NULL), DM_OK);
    CHECK_STR(account, "123456789012");
    free(x);
    const char *bad = "<R><GetCallerIdentityResult><Account>12345</Account></GetCallerIdentityResult></R>";
    CHECK_INT(sts_parse_account(bad, strlen(bad), account, NULL), DM_ERR_PARSE);
}

TEST(form_encoding)
{
    dm_buf f;
    dm_buf_init(&f, 0);
    CHECK_INT(awsreq_form_add(&f, "Action", "CreateStack"), DM_OK);
    CHECK_INT(awsreq_form_add(&f, "TemplateBody", "{\"a\": \"b&c=d+e/f~\"}"), DM_OK);
    CHECK_STR(dm_buf_cstr(&f), "Action=CreateStack&TemplateBody=%7B%22a%22%3A%20%22b%26c%3Dd%2Be%2Ff~%22%7D");
    dm_buf_cleanup(&f);
}

TEST(bucket_names)
{
    CHECK(s3_valid_bucket("ddbmig-code-123456789012-us-east-1"));
    CHECK(s3_valid_bucket("a.b-c"));
    CHECK(!s3_valid_bucket("ab"));
    CHECK(!s3_valid_bucket("Upper"));
    CHECK(!s3_valid_bucket("-lead"));
    CHECK(!s3_valid_bucket("trail."));
    CHECK(!s3_valid_bucket("a..b"));
    CHECK(!s3_valid_bucket("a/b"));
    CHECK(!s3_valid_bucket(NULL));
}

TEST(step_functions_answers)
{
    json_t *a = json_loads("{\"executionArn\":\"arn:aws:states:us-east-1:1:execution:m:e\",\"name\":\"e\","
                           "\"status\":\"FAILED\",\"startDate\":1.7e9,\"stopDate\":\"2026-11-26T00:00:00Z\","
                           "\"error\":\"Ddbmig.MigrationFailed\",\"cause\":\"x\",\"redriveCount\":2}",
                           0, NULL);
    sfn_execution e;
    CHECK_INT(sfn_parse_execution(a, &e, NULL), DM_OK);
    CHECK_STR(e.status, "FAILED");
    CHECK(e.start_ms == 1700000000000LL);
    CHECK(e.stop_ms > e.start_ms);
    CHECK_INT(e.redrive_count, 2);
    json_decref(a);
    a = json_loads("{\"status\":\"RUNNING\"}", 0, NULL);
    CHECK_INT(sfn_parse_execution(a, &e, NULL), DM_ERR_PARSE);
    json_decref(a);
    a = json_loads("{\"mapRunArn\":\"r\",\"status\":\"RUNNING\",\"itemCounts\":{\"pending\":3,\"running\":2,"
                   "\"succeeded\":5,\"failed\":1,\"timedOut\":0,\"aborted\":0,\"total\":11,\"resultsWritten\":6}}",
                   0, NULL);
    sfn_map_run m;
    CHECK_INT(sfn_parse_map_run(a, &m, NULL), DM_OK);
    CHECK(m.total == 11 && m.pending == 3 && m.succeeded == 5 && m.failed == 1);
    json_decref(a);
    a = json_loads("{\"mapRunArn\":\"r\"}", 0, NULL);
    CHECK_INT(sfn_parse_map_run(a, &m, NULL), DM_ERR_PARSE);
    json_decref(a);
    char arn[256];
    CHECK_INT(sfn_execution_arn("arn:aws:states:eu-west-1:123456789012:stateMachine:fix-ddbmig", "run-1", arn,
                                sizeof arn),
              DM_OK);
    CHECK_STR(arn, "arn:aws:states:eu-west-1:123456789012:execution:fix-ddbmig:run-1");
    CHECK_INT(sfn_execution_arn("arn:aws:lambda:x", "run-1", arn, sizeof arn), DM_ERR_INVALID);
}
