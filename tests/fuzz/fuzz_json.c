/*
 * fuzz_json.c: libFuzzer target for the JSON reader that parses every
 * line a Node worker sends (common/json.c). Whatever json_check()
 * accepts, the readers must walk without leaving the span; strings must
 * decode within their buffer and re-encode to text json_check() accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"cmd", "act",  "seq",     "ack",
                                       "key", "port", "address", "data"};
    char *s = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    struct json_value v, m;
    char buf[256], out[256 * 6 + 2];
    size_t i;

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    if (json_check(s, size, &v) != JSON_INVALID) {
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            int64_t n;
            long len;

            if (!json_get(&v, keys[i], &m)) {
                continue;
            }
            (void) json_int(&m, &n);
            len = json_string(&m, buf, sizeof(buf));
            if (len >= 0) {
                size_t pos = 0;

                if (!json_put_string(out, sizeof(out), &pos, buf, (size_t) len)
                    || json_check(out, pos, NULL) != JSON_STRING) {
                    abort();
                }
            }
        }
        if (v.type == JSON_STRING) {
            (void) json_string(&v, buf, sizeof(buf));
        }
    }
    free(s);
    return 0;
}
