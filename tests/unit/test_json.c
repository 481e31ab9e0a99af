/*
 * test_json.c: the JSON reader behind Node's cluster IPC (common/json.c):
 * strict checking, member lookup as JSON.parse resolves it, integers,
 * string decoding, and the writer's escaping.
 */
#include <string.h>

#include "json.h"
#include "test.h"

static enum json_type
check(const char *s)
{
    return json_check(s, strlen(s), NULL);
}

static void
test_check_accepts_and_rejects(void)
{
    ASSERT(check("{}") == JSON_OBJECT);
    ASSERT(check(" {\"a\" : [1, 2.5e-3, -0, true, false, null, \"x\"]} ")
           == JSON_OBJECT);
    ASSERT(check("\"hello\"") == JSON_STRING);
    ASSERT(check("42") == JSON_NUMBER);
    ASSERT(check("null") == JSON_NULL);
    ASSERT(check("[[[]]]") == JSON_ARRAY);
    ASSERT(check("\"\\u00e9\\n\\\"\"") == JSON_STRING);

    ASSERT(check("") == JSON_INVALID);
    ASSERT(check("{") == JSON_INVALID);
    ASSERT(check("{\"a\":1,}") == JSON_INVALID);
    ASSERT(check("{\"a\" 1}") == JSON_INVALID);
    ASSERT(check("{a:1}") == JSON_INVALID);
    ASSERT(check("[1,]") == JSON_INVALID);
    ASSERT(check("01") == JSON_INVALID);
    ASSERT(check("1.") == JSON_INVALID);
    ASSERT(check("-") == JSON_INVALID);
    ASSERT(check("+1") == JSON_INVALID);
    ASSERT(check("tru") == JSON_INVALID);
    ASSERT(check("\"a\nb\"") == JSON_INVALID); /* raw control character */
    ASSERT(check("\"\\x\"") == JSON_INVALID);
    ASSERT(check("\"\\u12g4\"") == JSON_INVALID);
    ASSERT(check("\"abc") == JSON_INVALID);
    ASSERT(check("{} {}") == JSON_INVALID);
    ASSERT(check("{}x") == JSON_INVALID);
    ASSERT(json_check("{}\0", 3, NULL) == JSON_INVALID);
}

static void
test_depth_is_bounded(void)
{
    char deep[2 * (JSON_DEPTH_MAX + 2) + 1];
    size_t i, n = JSON_DEPTH_MAX + 2;

    for (i = 0; i < n; i++) {
        deep[i] = '[';
        deep[n + i] = ']';
    }
    deep[2 * n] = '\0';
    ASSERT(check(deep) == JSON_INVALID);
    n = JSON_DEPTH_MAX;
    for (i = 0; i < n; i++) {
        deep[i] = '[';
        deep[n + i] = ']';
    }
    deep[2 * n] = '\0';
    ASSERT(check(deep) == JSON_ARRAY);
}

static void
test_get_members(void)
{
    const char *s = "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\","
                    "\"data\":{\"act\":\"inner\"},\"address\":null,"
                    "\"port\":8080,\"seq\":1,\"seq\":7,\"ok\":true}";
    struct json_value obj, v;
    int64_t n = 0;
    char buf[32];

    ASSERT(json_check(s, strlen(s), &obj) == JSON_OBJECT);
    ASSERT(json_get(&obj, "act", &v) && json_string_is(&v, "queryServer"));
    ASSERT(json_get(&obj, "data", &v) && v.type == JSON_OBJECT);
    ASSERT(json_get(&obj, "address", &v) && v.type == JSON_NULL);
    ASSERT(json_get(&obj, "port", &v) && json_int(&v, &n) && n == 8080);
    /* A repeated key: the last one, as JSON.parse. */
    ASSERT(json_get(&obj, "seq", &v) && json_int(&v, &n) && n == 7);
    ASSERT(json_get(&obj, "ok", &v) && v.type == JSON_TRUE);
    ASSERT(!json_get(&obj, "inner", &v));
    ASSERT(!json_get(&obj, "fd", &v));
    ASSERT(json_get(&obj, "cmd", &v) && json_string(&v, buf, sizeof(buf)) == 12
           && strcmp(buf, "NODE_CLUSTER") == 0);
    /* An escaped key names the same member. */
    s = "{\"\\u0061ct\":\"x\"}";
    ASSERT(json_check(s, strlen(s), &obj) == JSON_OBJECT);
    ASSERT(json_get(&obj, "act", &v) && json_string_is(&v, "x"));
}

static void
test_integers(void)
{
    struct json_value v;
    int64_t n = 0;

    ASSERT(json_check("-12", 3, &v) == JSON_NUMBER && json_int(&v, &n)
           && n == -12);
    ASSERT(json_check("9007199254740992", 16, &v) == JSON_NUMBER
           && json_int(&v, &n) && n == 9007199254740992LL);
    ASSERT(json_check("9007199254740993", 16, &v) == JSON_NUMBER
           && !json_int(&v, &n));
    ASSERT(json_check("1.5", 3, &v) == JSON_NUMBER && !json_int(&v, &n));
    ASSERT(json_check("1e3", 3, &v) == JSON_NUMBER && !json_int(&v, &n));
    ASSERT(json_check("\"1\"", 3, &v) == JSON_STRING && !json_int(&v, &n));
}

static void
test_strings(void)
{
    struct json_value v;
    char buf[16];
    const char *s;

    s = "\"a\\\"b\\\\c\\/\\t\"";
    ASSERT(json_check(s, strlen(s), &v) == JSON_STRING);
    ASSERT(json_string(&v, buf, sizeof(buf)) == 7
           && memcmp(buf, "a\"b\\c/\t", 7) == 0);
    s = "\"\\u00e9\\ud83d\\ude00\"";
    ASSERT(json_check(s, strlen(s), &v) == JSON_STRING);
    ASSERT(json_string(&v, buf, sizeof(buf)) == 6
           && memcmp(buf, "\xc3\xa9\xf0\x9f\x98\x80", 6) == 0);
    s = "\"\\ud83d\""; /* a lone surrogate: U+FFFD */
    ASSERT(json_check(s, strlen(s), &v) == JSON_STRING);
    ASSERT(json_string(&v, buf, sizeof(buf)) == 3
           && memcmp(buf, "\xef\xbf\xbd", 3) == 0);
    s = "\"a\\u0000b\""; /* NUL would cut a C string: refused */
    ASSERT(json_check(s, strlen(s), &v) == JSON_STRING);
    ASSERT(json_string(&v, buf, sizeof(buf)) == -1);
    s = "\"0123456789abcdef\""; /* does not fit */
    ASSERT(json_check(s, strlen(s), &v) == JSON_STRING);
    ASSERT(json_string(&v, buf, sizeof(buf)) == -1);
    ASSERT(json_check("5", 1, &v) == JSON_NUMBER
           && json_string(&v, buf, sizeof(buf)) == -1);
}

static void
test_put_string(void)
{
    char buf[64];
    size_t n = 0;
    struct json_value v;
    char back[64];

    ASSERT(json_put_string(buf, sizeof(buf), &n, "a\"b\\\n\x01", 6));
    ASSERT(n == 16 && memcmp(buf, "\"a\\\"b\\\\\\n\\u0001\"", 16) == 0);
    ASSERT(json_check(buf, n, &v) == JSON_STRING);
    ASSERT(json_string(&v, back, sizeof(back)) == 6
           && memcmp(back, "a\"b\\\n\x01", 6) == 0);
    n = 60;
    ASSERT(!json_put_string(buf, sizeof(buf), &n, "abcdef", 6) && n == 60);
}

int
main(void)
{
    RUN(test_check_accepts_and_rejects);
    RUN(test_depth_is_bounded);
    RUN(test_get_members);
    RUN(test_integers);
    RUN(test_strings);
    RUN(test_put_string);
    TEST_EXIT();
}
