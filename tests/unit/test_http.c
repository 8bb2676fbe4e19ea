/* Both HTTP backends against a loopback server with awkward habits
 * (tests/fakes/http_edge.py): framing (length, chunked, until close,
 * interim answers, answers in pieces), kept-alive connections and the
 * server closing them, timeouts, refused and malformed answers, TLS with a
 * private CA, and queuing beyond the connection limit. Then the client on
 * the caller's event loop: the caller's timers firing while requests wait,
 * many connections at once, completion callbacks that start the next
 * request, deadlines of queued requests, and URLs that do not parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddbmig/http.h"
#include "ddbmig/loop.h"
#include "test.h"
#include "testutil.h"

static const char *const backends[] = {"native", "curl"};

typedef struct server {
    pid_t pid;
    char url[96];
} server;

static int serve(server *s, const char *mode, bool tls, const char *host)
{
    int port = 0;
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s/cert.pem", test_tmpdir());
    snprintf(key, sizeof key, "%s/key.pem", test_tmpdir());
    s->pid = test_edge_start(mode, tls ? cert : NULL, tls ? key : NULL, &port);
    snprintf(s->url, sizeof s->url, "%s://%s:%d/echo", tls ? "https" : "http", host, port);
    return s->pid > 0 ? 0 : -1;
}

/* A self-signed certificate for DNS:localhost only, in the tmpdir. */
static int make_cert(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
             test_tmpdir(), test_tmpdir());
    return system(cmd) == 0 ? 0 : -1;
}

static http_client *client(const char *backend, long timeout_ms, const char *ca_file, long max_conns)
{
    setenv("DDBMIG_HTTP", backend, 1);
    http_options o = {.timeout_ms = timeout_ms, .ca_file = ca_file, .max_connections = max_conns};
    return http_client_new(&o);
}

static int post(http_client *c, const char *url, http_request *req)
{
    static const char *const hdrs[] = {"Content-Type: application/json", "X-Test: 1"};
    memset(req, 0, sizeof *req);
    req->method = "POST";
    req->url = url;
    req->headers = hdrs;
    req->n_headers = 2;
    req->body = "hello";
    req->body_len = 5;
    return http_client_perform(c, req);
}

/* Sends one request and checks a whole echo answer on connection conn. */
static int echo_ok(http_client *c, const char *url, int conn)
{
    http_request req;
    char want[64], hv[16];
    snprintf(want, sizeof want, "{\"echo\":5,\"conn\":%d}", conn);
    int ok = post(c, url, &req) == DM_OK && req.net_error == HTTP_NET_OK && req.status == 200 &&
             strcmp(dm_buf_cstr(&req.response), want) == 0 &&
             http_response_header(&req, "x-conn", hv, sizeof hv) && atoi(hv) == conn;
    if (!ok)
        fprintf(stderr, "  %s: status %ld net %d [%s] body [%s], wanted %s\n", url, req.status, req.net_error,
                req.net_message, dm_buf_cstr(&req.response), want);
    http_request_cleanup(&req);
    return ok;
}

/* Runs a mode on both backends: n requests, expecting the connection
 * numbers in conns. */
static int run_mode(const char *mode, int n, const int *conns)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        if (serve(&s, mode, false, "127.0.0.1") != 0)
            return 0;
        http_client *c = client(backends[b], 5000, NULL, 0);
        int ok = c != NULL;
        for (int i = 0; ok && i < n; i++) {
            ok = echo_ok(c, s.url, conns[i]);
            if (!ok)
                fprintf(stderr, "  mode %s, backend %s, request %d\n", mode, backends[b], i + 1);
        }
        http_client_free(c);
        test_fake_stop(s.pid);
        if (!ok)
            return 0;
    }
    return 1;
}

TEST(keep_alive_reuses_the_connection)
{
    static const int conns[] = {1, 1, 1};
    CHECK(run_mode("plain", 3, conns));
}

TEST(chunked_answer_is_decoded)
{
    static const int conns[] = {1, 1};
    CHECK(run_mode("chunked", 2, conns));
}

TEST(answer_ending_with_the_connection)
{
    static const int conns[] = {1, 2};
    CHECK(run_mode("close", 2, conns));
}

TEST(answer_in_small_pieces)
{
    static const int conns[] = {1, 1};
    CHECK(run_mode("split", 2, conns));
}

TEST(interim_answer_is_skipped)
{
    static const int conns[] = {1};
    CHECK(run_mode("continue", 1, conns));
}

/* The server closes an idle kept-alive connection; the next request goes
 * out on it before the client notices, and is sent again on a new one. */
TEST(connection_closed_while_idle_is_replaced)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "idle-close", false, "127.0.0.1") == 0);
        http_client *c = client(backends[b], 5000, NULL, 0);
        CHECK(c);
        int ok = echo_ok(c, s.url, 1);
        usleep(300 * 1000);
        ok = ok && echo_ok(c, s.url, 2);
        http_client_free(c);
        test_fake_stop(s.pid);
        CHECK(ok);
    }
}

static void expect_failure(const char *mode, long timeout_ms, http_net_error kind, const char *words)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, mode, false, "127.0.0.1") == 0);
        http_client *c = client(backends[b], timeout_ms, NULL, 0);
        CHECK(c);
        http_request req;
        int rc = post(c, s.url, &req);
        http_net_error got = req.net_error;
        long status = req.status;
        char msg[256];
        dm_strlcpy(msg, req.net_message, sizeof msg);
        http_request_cleanup(&req);
        http_client_free(c);
        test_fake_stop(s.pid);
        CHECK_INT(rc, DM_OK);
        CHECK_INT(status, 0);
        if (kind != HTTP_NET_OTHER || b == 0)
            CHECK_INT(got, kind);
        else
            CHECK(got != HTTP_NET_OK);
        if (b == 0 && words)
            CHECK_CONTAINS(msg, words);
    }
}

TEST(silent_server_times_out) { expect_failure("silent", 400, HTTP_NET_TIMEOUT, "in time"); }

TEST(truncated_answer_is_a_reset) { expect_failure("truncated", 5000, HTTP_NET_RESET, "before the answer"); }

TEST(malformed_answer_fails) { expect_failure("garbage", 5000, HTTP_NET_OTHER, "malformed"); }

TEST(oversized_headers_fail)
{
    server s;
    CHECK(serve(&s, "big-head", false, "127.0.0.1") == 0);
    http_client *c = client("native", 5000, NULL, 0);
    http_request req;
    post(c, s.url, &req);
    http_net_error got = req.net_error;
    http_request_cleanup(&req);
    http_client_free(c);
    test_fake_stop(s.pid);
    CHECK_INT(got, HTTP_NET_OTHER);
}

TEST(refused_connection)
{
    server s;
    CHECK(serve(&s, "plain", false, "127.0.0.1") == 0);
    test_fake_stop(s.pid); /* the port is now closed */
    for (size_t b = 0; b < 2; b++) {
        http_client *c = client(backends[b], 2000, NULL, 0);
        http_request req;
        post(c, s.url, &req);
        http_net_error got = req.net_error;
        http_request_cleanup(&req);
        http_client_free(c);
        CHECK_INT(got, HTTP_NET_CONNECT);
    }
}

/* 200 requests in flight over at most 4 connections: all answered, none
 * on a fifth connection. */
TEST(requests_queue_for_a_free_connection)
{
    server s;
    CHECK(serve(&s, "plain", false, "127.0.0.1") == 0);
    http_client *c = client("native", 10000, NULL, 4);
    enum { N = 200 };
    static http_request reqs[N];
    static const char *const hdrs[] = {"Content-Type: application/json"};
    for (int i = 0; i < N; i++) {
        memset(&reqs[i], 0, sizeof reqs[i]);
        reqs[i].method = "POST";
        reqs[i].url = s.url;
        reqs[i].headers = hdrs;
        reqs[i].n_headers = 1;
        reqs[i].body = "hello";
        reqs[i].body_len = 5;
        http_client_start(c, &reqs[i]);
    }
    int answered = 0, max_conn = 0;
    while (http_client_in_flight(c) > 0) {
        http_request *done = NULL;
        if (http_client_wait(c, 1000, &done) != DM_OK)
            break;
        char hv[16];
        if (done && done->status == 200 && http_response_header(done, "x-conn", hv, sizeof hv)) {
            answered++;
            if (atoi(hv) > max_conn)
                max_conn = atoi(hv);
        }
    }
    for (int i = 0; i < N; i++)
        http_request_cleanup(&reqs[i]);
    http_client_free(c);
    test_fake_stop(s.pid);
    CHECK_INT(answered, N);
    CHECK(max_conn >= 1 && max_conn <= 4);
}

/* TLS: trusted through a private CA bundle; refused without it, and
 * refused when the certificate names another host. */
TEST(tls_with_a_private_ca)
{
    CHECK(make_cert() == 0);
    char ca[1024];
    snprintf(ca, sizeof ca, "%s/cert.pem", test_tmpdir());
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "plain", true, "localhost") == 0);
        http_client *c = client(backends[b], 5000, ca, 0);
        int ok = echo_ok(c, s.url, 1) && echo_ok(c, s.url, 1);
        http_client_free(c);
        test_fake_stop(s.pid);
        CHECK(ok);
    }
}

static void tls_refused(const char *host, const char *ca, const char *words)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "plain", true, host) == 0);
        http_client *c = client(backends[b], 5000, ca, 0);
        http_request req;
        post(c, s.url, &req);
        http_net_error got = req.net_error;
        char msg[256];
        dm_strlcpy(msg, req.net_message, sizeof msg);
        http_request_cleanup(&req);
        http_client_free(c);
        test_fake_stop(s.pid);
        CHECK_INT(got, HTTP_NET_TLS);
        if (b == 0)
            CHECK_CONTAINS(msg, words);
    }
}

TEST(tls_untrusted_certificate_is_refused)
{
    CHECK(make_cert() == 0);
    tls_refused("localhost", NULL, "not trusted");
}

TEST(tls_certificate_for_another_name_is_refused)
{
    CHECK(make_cert() == 0);
    char ca[1024];
    snprintf(ca, sizeof ca, "%s/cert.pem", test_tmpdir());
    tls_refused("127.0.0.1", ca, "not trusted");
}

TEST(proxy_variables_pick_curl)
{
    unsetenv("DDBMIG_HTTP");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    CHECK_STR(http_backend_name(), "native");
    setenv("HTTPS_PROXY", "http://proxy.example:3128", 1);
    CHECK_STR(http_backend_name(), "curl");
    setenv("DDBMIG_HTTP", "native", 1);
    CHECK_STR(http_backend_name(), "native");
    unsetenv("HTTPS_PROXY");
    setenv("DDBMIG_HTTP", "curl", 1);
    CHECK_STR(http_backend_name(), "curl");
}

/* ---- on the caller's loop -------------------------------------------------- */

static http_client *client_on(const char *backend, dm_loop *loop, long timeout_ms, long max_conns)
{
    setenv("DDBMIG_HTTP", backend, 1);
    http_options o = {.timeout_ms = timeout_ms, .max_connections = max_conns, .loop = loop};
    return http_client_new(&o);
}

static void prepare(http_request *req, const char *url)
{
    static const char *const hdrs[] = {"Content-Type: application/json"};
    memset(req, 0, sizeof *req);
    req->method = "POST";
    req->url = url;
    req->headers = hdrs;
    req->n_headers = 1;
    req->body = "hello";
    req->body_len = 5;
}

static void count_done(http_request *req, void *ud)
{
    (void)req;
    (*(int *)ud)++;
}

typedef struct tick {
    dm_loop_timer t;
    http_client *c;
    int fired;
    size_t in_flight_then;
} tick;

static void on_tick(dm_loop_timer *t, void *ud)
{
    tick *k = ud;
    (void)t;
    k->fired++;
    k->in_flight_then = http_client_in_flight(k->c);
}

/* The caller's timer fires while a request sits on an idle socket (the
 * server never answers), and the request's own deadline still ends it. */
TEST(caller_timer_fires_while_a_request_waits)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "silent", false, "127.0.0.1") == 0);
        dm_loop *loop = dm_loop_new();
        http_client *c = client_on(backends[b], loop, 800, 0);
        http_request req;
        prepare(&req, s.url);
        int done = 0;
        req.on_done = count_done;
        req.on_done_ud = &done;
        CHECK_INT(http_client_start(c, &req), DM_OK);
        tick k = {.c = c};
        dm_loop_timer_init(&k.t, on_tick, &k);
        dm_loop_timer_start(loop, &k.t, 50);
        int64_t end = dm_monotonic_ms() + 10000;
        while (!done && dm_monotonic_ms() < end)
            dm_loop_run_once(loop, -1);
        http_net_error got = req.net_error;
        http_request_cleanup(&req);
        http_client_free(c);
        CHECK_INT(dm_loop_timer_count(loop), 0); /* the client left nothing behind */
        dm_loop_free(loop);
        test_fake_stop(s.pid);
        CHECK_INT(done, 1);
        CHECK_INT(got, HTTP_NET_TIMEOUT);
        CHECK_INT(k.fired, 1);
        CHECK_INT(k.in_flight_then, 1);
    }
}

/* 40 requests at once to a server that takes its time: each gets a
 * connection of its own, and all are answered. */
TEST(many_connections_at_once)
{
    enum { N = 40 };
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "slow", false, "127.0.0.1") == 0);
        dm_loop *loop = dm_loop_new();
        http_client *c = client_on(backends[b], loop, 10000, 64);
        static http_request reqs[N];
        int done = 0;
        for (int i = 0; i < N; i++) {
            prepare(&reqs[i], s.url);
            reqs[i].on_done = count_done;
            reqs[i].on_done_ud = &done;
            CHECK_INT(http_client_start(c, &reqs[i]), DM_OK);
        }
        int64_t end = dm_monotonic_ms() + 20000;
        while (done < N && dm_monotonic_ms() < end)
            dm_loop_run_once(loop, -1);
        bool seen[N + 1] = {false};
        int ok = 0, distinct = 0;
        for (int i = 0; i < N; i++) {
            char hv[16];
            if (reqs[i].status == 200 && http_response_header(&reqs[i], "x-conn", hv, sizeof hv)) {
                ok++;
                int n = atoi(hv);
                if (n >= 1 && n <= N && !seen[n]) {
                    seen[n] = true;
                    distinct++;
                }
            }
            http_request_cleanup(&reqs[i]);
        }
        http_client_free(c);
        dm_loop_free(loop);
        test_fake_stop(s.pid);
        CHECK_INT(done, N);
        CHECK_INT(ok, N);
        CHECK_INT(distinct, N);
    }
}

/* Each completion callback starts the next request on the same client:
 * 20 in a row, all on the one kept-alive connection. */
typedef struct chain {
    http_client *c;
    http_request req;
    int done, ok, max_conn;
} chain;

static void next_in_chain(http_request *req, void *ud)
{
    chain *ch = ud;
    char hv[16];
    ch->done++;
    if (req->status == 200 && http_response_header(req, "x-conn", hv, sizeof hv)) {
        ch->ok++;
        if (atoi(hv) > ch->max_conn)
            ch->max_conn = atoi(hv);
    }
    if (ch->done < 20)
        http_client_start(ch->c, req); /* the same request again: start resets its answer */
}

TEST(completion_callback_starts_the_next_request)
{
    for (size_t b = 0; b < 2; b++) {
        server s;
        CHECK(serve(&s, "plain", false, "127.0.0.1") == 0);
        dm_loop *loop = dm_loop_new();
        static chain ch;
        memset(&ch, 0, sizeof ch);
        ch.c = client_on(backends[b], loop, 5000, 0);
        prepare(&ch.req, s.url);
        ch.req.on_done = next_in_chain;
        ch.req.on_done_ud = &ch;
        CHECK_INT(http_client_start(ch.c, &ch.req), DM_OK);
        CHECK_INT(ch.done, 0); /* never called from within start */
        int64_t end = dm_monotonic_ms() + 10000;
        while (ch.done < 20 && dm_monotonic_ms() < end)
            dm_loop_run_once(loop, -1);
        http_request_cleanup(&ch.req);
        http_client_free(ch.c);
        dm_loop_free(loop);
        test_fake_stop(s.pid);
        CHECK_INT(ch.done, 20);
        CHECK_INT(ch.ok, 20);
        CHECK_INT(ch.max_conn, 1);
    }
}

/* With one connection busy on a silent server, a second request waits in
 * the queue and its own (shorter) deadline ends it there. */
TEST(queued_request_times_out_waiting_for_a_connection)
{
    server s;
    CHECK(serve(&s, "silent", false, "127.0.0.1") == 0);
    dm_loop *loop = dm_loop_new();
    http_client *c = client_on("native", loop, 5000, 1);
    http_request first, second;
    prepare(&first, s.url);
    prepare(&second, s.url);
    first.timeout_ms = 600;
    second.timeout_ms = 150;
    int done = 0;
    first.on_done = second.on_done = count_done;
    first.on_done_ud = second.on_done_ud = &done;
    http_client_start(c, &first);
    http_client_start(c, &second);
    int64_t end = dm_monotonic_ms() + 10000;
    while (done < 2 && dm_monotonic_ms() < end)
        dm_loop_run_once(loop, -1);
    char m1[256], m2[256];
    dm_strlcpy(m1, first.net_message, sizeof m1);
    dm_strlcpy(m2, second.net_message, sizeof m2);
    http_net_error e1 = first.net_error, e2 = second.net_error;
    http_request_cleanup(&first);
    http_request_cleanup(&second);
    http_client_free(c);
    dm_loop_free(loop);
    test_fake_stop(s.pid);
    CHECK_INT(done, 2);
    CHECK_INT(e1, HTTP_NET_TIMEOUT);
    CHECK_INT(e2, HTTP_NET_TIMEOUT);
    CHECK_CONTAINS(m1, "no complete answer");
    CHECK_CONTAINS(m2, "became free in time");
}

/* A URL the parser refuses fails the request with the parser's reason, on
 * both backends, without showing user information. */
TEST(unparsable_url_fails_the_request)
{
    static const char *const urls[] = {"http://alice:s3cr3t@127.0.0.1:1/", "http//127.0.0.1:1/", "ftp://h/",
                                       "http://[::1", "http://h:99999/", "http://h/a b"};
    static const char *const words[] = {"user name or password", "does not start with a scheme",
                                        "scheme 'ftp'", "no closing ']'", "out of range", "space"};
    for (size_t b = 0; b < 2; b++) {
        http_client *c = client(backends[b], 2000, NULL, 0);
        for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
            http_request req;
            prepare(&req, urls[i]);
            int rc = http_client_perform(c, &req);
            char msg[256];
            dm_strlcpy(msg, req.net_message, sizeof msg);
            http_net_error got = req.net_error;
            http_request_cleanup(&req);
            CHECK_INT(rc, DM_OK);
            CHECK_INT(got, HTTP_NET_OTHER);
            CHECK_CONTAINS(msg, "is not a valid URL");
            CHECK_CONTAINS(msg, words[i]);
            CHECK(strstr(msg, "s3cr3t") == NULL);
        }
        http_client_free(c);
    }
}

typedef struct nested {
    http_client *c;
    int rc;
} nested;

static void perform_inside(http_request *req, void *ud)
{
    nested *n = ud;
    http_request inner;
    prepare(&inner, req->url);
    n->rc = http_client_perform(n->c, &inner);
    http_request_cleanup(&inner);
}

TEST(perform_from_a_callback_is_refused)
{
    server s;
    CHECK(serve(&s, "plain", false, "127.0.0.1") == 0);
    http_client *c = client("native", 5000, NULL, 0);
    nested n = {.c = c, .rc = 99};
    http_request req;
    prepare(&req, s.url);
    req.on_done = perform_inside;
    req.on_done_ud = &n;
    http_client_start(c, &req);
    while (http_client_in_flight(c) > 0)
        dm_loop_run_once(http_client_loop(c), -1);
    http_request_cleanup(&req);
    http_client_free(c);
    test_fake_stop(s.pid);
    CHECK_INT(n.rc, DM_ERR_INVALID);
}
