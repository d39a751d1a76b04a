/* common.h: error reporting shared by every part of hasten.
 * Internal failures (a library call, an allocation) go through die_at() with file and line;
 * user mistakes (a flag, an input file) go through user_error() with a plain message. */
#ifndef HASTEN_COMMON_H
#define HASTEN_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define HASTEN_VERSION "0.1.0"

/* Prints "file:line: function: what: why", an optional "hint:" line, and exits 1. */
__attribute__((noreturn, format(printf, 5, 6)))
void die_at(const char *file, int line, const char *func, const char *hint, const char *fmt, ...);

/* Prints "error: <message>" on stderr and exits 2: for bad flags and bad input files. */
__attribute__((noreturn, format(printf, 1, 2)))
void user_error(const char *fmt, ...);

#ifdef HASTEN_FUZZ
/* Fuzz builds only: when set, user_error() calls it after printing instead of exiting; it must
 * not return (the fuzz driver longjmps back to the input loop). Production builds lack it. */
extern void (*user_error_hook)(void);
#endif

/* Prints "warning: <message>" on stderr and goes on. */
__attribute__((format(printf, 1, 2)))
void warn(const char *fmt, ...);

/* An assert that stays on in release builds and prints the failed expression. */
#define HASSERT(cond) \
    do { if (!(cond)) die_at(__FILE__, __LINE__, __func__, NULL, "assertion failed: %s", #cond); } \
    while (0)

#define CHECK_ALLOC(p) \
    do { if ((p) == NULL) die_at(__FILE__, __LINE__, __func__, "the machine is out of memory", \
                                 "allocation failed: %s", #p); } while (0)

/* Wraps fopen: the path and errno's text go into the message. */
#define CHECK_FOPEN(fp, path) \
    do { if ((fp) == NULL) die_at(__FILE__, __LINE__, __func__, NULL, "cannot open %s: %s", \
                                  (path), strerror(errno)); } while (0)

/* Wraps fread/fwrite/fclose and friends whose success is a true expression. */
#define CHECK_IO(ok, path) \
    do { if (!(ok)) die_at(__FILE__, __LINE__, __func__, NULL, "I/O failed on %s: %s", \
                           (path), strerror(errno)); } while (0)

/* Wraps an HDF5 call: a negative return is failure. */
#define CHECK_HDF5(ret) \
    do { if ((long long)(ret) < 0) die_at(__FILE__, __LINE__, __func__, \
        "the HDF5 library printed its error stack above", "HDF5 call failed: %s", #ret); } while (0)

/* Never return NULL (they die instead); the attributes let the compiler know. */
__attribute__((malloc, returns_nonnull)) void *xmalloc(size_t bytes);
__attribute__((malloc, returns_nonnull)) void *xcalloc(size_t n, size_t size);
double now_seconds(void);

#endif
