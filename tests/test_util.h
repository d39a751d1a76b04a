/* test_util.h: helpers of the end-to-end tests that run build/hasten and read what it wrote. */
#ifndef HASTEN_TEST_UTIL_H
#define HASTEN_TEST_UTIL_H

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the first megabyte of the file at path contains needle. */
static inline int test_file_contains(const char *path, const char *needle)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}


/* Runs a shell command with its output in dir/log; returns system()'s status. */
static inline int test_run_logged(const char *cmd, const char *dir, const char *log)
{
    char full[2048];

    snprintf(full, sizeof full, "%s > %s/%s 2>&1", cmd, dir, log);
    return system(full);
}

/* The whole file at path as a NUL-terminated string from xmalloc. */
static inline char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;

    CHECK_FOPEN(f, path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = xmalloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

#endif
