/* fuzz_common.c: the user-error hook, the stubs that stop a command before real work, and
 * tracking of the streams a reader opens, so that an input that ends in a user error leaks
 * no file descriptor (a fuzzer runs millions of them in one process). */
#include "fuzz_common.h"

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

jmp_buf fuzz_jmp;
int fuzz_why;
static int armed;

#define MAX_OPEN 64
static FILE *open_files[MAX_OPEN];
static gzFile open_gz[MAX_OPEN];

FILE *__real_fopen(const char *path, const char *mode);
int __real_fclose(FILE *f);
gzFile __real_gzopen(const char *path, const char *mode);
int __real_gzclose_r(gzFile g);
int __real_pipe(int fd[2]);


static void fuzz_jump(int why)
{
    if (!armed)
        abort();   /* a stub or a user error outside FUZZ_RUN: a bug in the driver */
    fuzz_why = why;
    armed = 0;
    longjmp(fuzz_jmp, 1);
}


static void on_user_error(void)
{
    fuzz_jump(1);
}


/* Closes what the last run left open. */
static void fuzz_cleanup(void)
{
    for (int i = 0; i < MAX_OPEN; i++) {
        if (open_files[i] != NULL)
            __real_fclose(open_files[i]);
        if (open_gz[i] != NULL)
            __real_gzclose_r(open_gz[i]);
        open_files[i] = NULL;
        open_gz[i] = NULL;
    }
}


void fuzz_arm(void)
{
#ifdef HASTEN_FUZZ
    user_error_hook = on_user_error;
#else
    (void)on_user_error;   /* the replayer lets user errors exit 2 */
#endif
    armed = 1;
}


void fuzz_disarm(void)
{
    armed = 0;
    fuzz_cleanup();
}


/* ---- streams (tracked only inside a run: libFuzzer's own files are its business) ---- */

FILE *__wrap_fopen(const char *path, const char *mode)
{
    FILE *f = __real_fopen(path, mode);

    for (int i = 0; armed && f != NULL && i < MAX_OPEN; i++)
        if (open_files[i] == NULL) {
            open_files[i] = f;
            break;
        }
    return f;
}


int __wrap_fclose(FILE *f)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_files[i] == f)
            open_files[i] = NULL;
    return __real_fclose(f);
}


gzFile __wrap_gzopen(const char *path, const char *mode)
{
    gzFile g = __real_gzopen(path, mode);

    for (int i = 0; armed && g != NULL && i < MAX_OPEN; i++)
        if (open_gz[i] == NULL) {
            open_gz[i] = g;
            break;
        }
    return g;
}


int __wrap_gzclose_r(gzFile g)
{
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_gz[i] == g)
            open_gz[i] = NULL;
    return __real_gzclose_r(g);
}


/* ---- stubs: the command line parsed, the real work would start here ---- */

struct TrainConfig;
struct Method;

int __wrap_train_run(void *c, int resume, long step)
{
    (void)c;
    (void)resume;
    (void)step;
    fuzz_jump(2);
    return 0;
}


long long __wrap_h5in_open(const char *path)
{
    (void)path;
    fuzz_jump(2);
    return -1;
}


void __wrap_method_init(void)
{
    fuzz_jump(2);
}


/* The sanitizers' symbolizer pipes too, outside any run: that one goes through. */
int __wrap_pipe(int fd[2])
{
    if (!armed)
        return __real_pipe(fd);
    fuzz_jump(2);
    return -1;
}


/* ---- files ---- */

const char *fuzz_dir(void)
{
    static char dir[64];

    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/hasten-fuzz-XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
    }
    return dir;
}


void fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    char path[512];
    int fd;

    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    for (char *p = path + strlen(fuzz_dir()) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            abort();
        *p = '/';
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
    close(fd);
}
