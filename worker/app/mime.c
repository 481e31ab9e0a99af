/*
 * mime.c: Content-Type by file extension, from /etc/mime.types (Debian's
 * media-types package), loaded once into an open-addressing table.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"

#define MIME_SLOTS 4096 /* power of two, well above the ~1,900 entries */
#define MIME_EXT_MAX 16

struct mime_entry {
    char ext[MIME_EXT_MAX]; /* lower case; "" marks a free slot */
    const char *type;       /* in mime_types */
};

static struct mime_entry *mime_table; /* owned */
static char **mime_types;             /* owned strings */
static size_t mime_ntypes;

static uint32_t
mime_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (uint8_t) tolower((unsigned char) s[i])) * 16777619u;
    }
    return h;
}

static void
mime_add(const char *ext, size_t len, const char *type)
{
    uint32_t i = mime_hash(ext, len) & (MIME_SLOTS - 1);
    size_t k;

    if (len == 0 || len >= MIME_EXT_MAX) {
        return;
    }
    while (mime_table[i].ext[0] != '\0') {
        if (strlen(mime_table[i].ext) == len
            && strncasecmp(mime_table[i].ext, ext, len) == 0) {
            return; /* the first mapping in the file wins */
        }
        i = (i + 1) & (MIME_SLOTS - 1);
    }
    for (k = 0; k < len; k++) {
        mime_table[i].ext[k] = (char) tolower((unsigned char) ext[k]);
    }
    mime_table[i].ext[len] = '\0';
    mime_table[i].type = type;
}

/* Loads <path>; returns 0, or -1 (errno set) if it cannot be read. */
int
mime_load(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    size_t used = 0;

    if (f == NULL) {
        return -1;
    }
    mime_table = calloc(MIME_SLOTS, sizeof(*mime_table));
    if (mime_table == NULL) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL, *type, *ext, *copy, **grown;

        if (line[0] == '#') {
            continue;
        }
        type = strtok_r(line, " \t\r\n", &save);
        if (type == NULL || (ext = strtok_r(NULL, " \t\r\n", &save)) == NULL) {
            continue;
        }
        copy = strdup(type);
        grown = realloc(mime_types, (mime_ntypes + 1) * sizeof(*mime_types));
        if (copy == NULL || grown == NULL) {
            free(copy);
            if (grown != NULL) {
                mime_types = grown;
            }
            break;
        }
        mime_types = grown;
        mime_types[mime_ntypes++] = copy;
        for (; ext != NULL && used < MIME_SLOTS * 3 / 4;
             ext = strtok_r(NULL, " \t\r\n", &save), used++) {
            mime_add(ext, strlen(ext), copy);
        }
    }
    fclose(f);
    return 0;
}

/* The type for file <name> (its last extension), or a generic one. */
const char *
mime_type(const char *name, size_t len)
{
    const char *dot = NULL, *p;
    uint32_t i;
    size_t elen;

    for (p = name + len; p > name; p--) {
        if (p[-1] == '.') {
            dot = p;
            break;
        }
        if (p[-1] == '/') {
            break;
        }
    }
    if (dot == NULL || mime_table == NULL) {
        return "application/octet-stream";
    }
    elen = (size_t) (name + len - dot);
    if (elen == 0 || elen >= MIME_EXT_MAX) {
        return "application/octet-stream";
    }
    for (i = mime_hash(dot, elen) & (MIME_SLOTS - 1);
         mime_table[i].ext[0] != '\0'; i = (i + 1) & (MIME_SLOTS - 1)) {
        if (strlen(mime_table[i].ext) == elen
            && strncasecmp(mime_table[i].ext, dot, elen) == 0) {
            return mime_table[i].type;
        }
    }
    return "application/octet-stream";
}

void
mime_free(void)
{
    size_t i;

    for (i = 0; i < mime_ntypes; i++) {
        free(mime_types[i]);
    }
    free(mime_types);
    free(mime_table);
    mime_types = NULL;
    mime_table = NULL;
    mime_ntypes = 0;
}
