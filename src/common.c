/* common.c: the one place that reports errors and exits. */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

void die_at(const char *file, int line, const char *func, const char *hint, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s:%d: %s: ", file, line, func);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (hint != NULL)
        fprintf(stderr, "hint: %s\n", hint);
    exit(1);
}


#ifdef HASTEN_FUZZ
void (*user_error_hook)(void);
#endif


void user_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
#ifdef HASTEN_FUZZ
    if (user_error_hook != NULL)
        user_error_hook();
#endif
    exit(2);
}


void warn(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes > 0 ? bytes : 1);
    CHECK_ALLOC(p);
    return p;
}


void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size > 0 ? size : 1);
    CHECK_ALLOC(p);
    return p;
}


double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
