/* h5io_file.c: opening HDF5 files safely. Outputs: writer lock, temp file, fsync, rename, and an
 * exit handler that deletes this process's temp files however it exits (user_error included).
 * Inputs: missing, unreadable and non-HDF5 files are user errors. */
#include "h5io.h"
#include "h5io_priv.h"
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define TMP_TAG ".tmp-"

struct H5Out {
    char *path;   /* the target */
    char *tmp;    /* "<path>.tmp-<pid>", where the writes go */
    hid_t file;   /* open on tmp; -1 once closed */
    int lock;     /* the lock begin took, or -1 when the caller held one already */
    pid_t owner;  /* a forked child must not delete its parent's temp file */
    H5Out *next;
};

typedef struct HeldLock {
    int fd;
    pid_t owner;
    dev_t dev;
    ino_t ino;
    char *lockpath;
    struct HeldLock *next;
} HeldLock;

static H5Out *live_outs;
static HeldLock *held_locks;


void h5io_quiet_on(H5ioQuiet *q)
{
    CHECK_HDF5(H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data));
    CHECK_HDF5(H5Eset_auto2(H5E_DEFAULT, NULL, NULL));
}


void h5io_quiet_off(const H5ioQuiet *q)
{
    CHECK_HDF5(H5Eset_auto2(H5E_DEFAULT, q->func, q->data));
}


/* "<path><suffix>" from xmalloc. */
static char *path_with(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *s = xmalloc(n);

    snprintf(s, n, "%s%s", path, suffix);
    return s;
}


/* The length of name without a trailing ".tmp-<digits>", which only our temp files carry. */
static size_t strip_tmp_tag(const char *name)
{
    size_t n = strlen(name);
    size_t i = n;

    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
        i--;
    if (i == n || i < strlen(TMP_TAG) || strncmp(name + i - strlen(TMP_TAG), TMP_TAG,
                                                  strlen(TMP_TAG)) != 0)
        return n;
    return i - strlen(TMP_TAG);
}


void h5io_file_label(hid_t loc, char *buf, size_t n)
{
    char name[4096];
    ssize_t len = H5Fget_name(loc, name, sizeof name);

    if (len < 0) {
        snprintf(buf, n, "(unknown HDF5 file)");
        return;
    }
    snprintf(buf, n, "%.*s", (int)strip_tmp_tag(name), name);
}


void h5io_abs_path(hid_t loc, const char *path, char *buf, size_t n)
{
    char base[2048];
    ssize_t len;

    if (path[0] == '/') {
        snprintf(buf, n, "%s", path);
        return;
    }
    len = H5Iget_name(loc, base, sizeof base);
    if (len <= 0 || strcmp(base, "/") == 0)
        base[0] = '\0';
    if (strcmp(path, ".") == 0)
        snprintf(buf, n, "%s", base[0] ? base : "/");
    else
        snprintf(buf, n, "%s/%s", base, path);
}


static int is_disk_errno(int err)
{
    return err == ENOSPC || err == EFBIG || err == EDQUOT || err == EIO || err == EROFS ||
           err == EACCES || err == EPERM;
}


void h5io_write_failed(const char *file, int line, const char *func, hid_t loc,
                       const char *what, int err)
{
    char label[4096], name[4096];
    ssize_t len = H5Fget_name(loc, name, sizeof name);
    int is_temp = len > 0 && strip_tmp_tag(name) != strlen(name);

    h5io_file_label(loc, label, sizeof label);
    if (!is_disk_errno(err)) {
        H5Eprint2(H5E_DEFAULT, stderr);
        die_at(file, line, func, "the HDF5 library printed its error stack above",
               "writing %s in %s failed", what, label);
    }

    /* We are exiting: the exit handler's close of the temp file would only fail again. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    user_error("cannot write %s (%s): %s%s", label, what, strerror(err),
               is_temp ? "; the previous file, if any, is unchanged" : "");
}


/* ---- exit handler ---- */

/* Set when an H5Fclose failed. HDF5 1.10 then keeps the file's id while having freed the file,
 * and its own exit handler crashes on it (HDFGroup/hdf5 issue 2257, fixed in 1.14.1). */
static int hdf5_close_failed;


static herr_t close_file(hid_t file)
{
    herr_t r = H5Fclose(file);

    if (r < 0)
        hdf5_close_failed = 1;
    return r;
}


/* Runs on every exit(), user_error's included: closes and deletes this process's temp files
 * and deletes its lock files. A killed process cannot run it; h5out_begin cleans up after
 * those. */
static void h5io_at_exit(int status, void *arg)
{
    pid_t me = getpid();

    (void)arg;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (H5Out *o = live_outs; o != NULL; o = o->next) {
        if (o->owner != me)
            continue;
        if (o->file >= 0)
            close_file(o->file);
        o->file = -1;
        unlink(o->tmp);
    }
    for (HeldLock *h = held_locks; h != NULL; h = h->next)
        if (h->owner == me)
            unlink(h->lockpath);

    /* TODO(h5io): drop once HDF5 >= 1.14.1 is required. Skipping HDF5's shutdown is safe here:
     * every file we wrote is a temp file just deleted, and inputs are read-only. */
    if (hdf5_close_failed) {
        fflush(NULL);
        _exit(status);
    }
}


static void register_exit_handler(void)
{
    static int done;

    if (done)
        return;
    /* HDF5 registers its own atexit on first use; opening it first makes ours run before its
     * shutdown, while the temp files can still be closed. on_exit, unlike atexit, hands us
     * the exit status for the _exit above. */
    CHECK_HDF5(H5open());
    if (on_exit(h5io_at_exit, NULL) != 0)
        die_at(__FILE__, __LINE__, __func__, NULL, "on_exit failed");
    done = 1;
}


/* ---- writer lock ---- */

/* The pid written in an open lock file, or -1 when it cannot be read. */
static long lock_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}


/* Opens and flocks lockpath; retries when the file we locked was unlinked by a releasing holder
 * meanwhile (then a third process could lock a fresh file under the same name). */
static int lock_open(const char *path, const char *lockpath, struct stat *st)
{
    for (;;) {
        struct stat now;
        int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

        if (fd < 0)
            user_error("cannot write %s: lock file %s: %s", path, lockpath, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            long pid = lock_holder(fd);

            close(fd);
            if (err != EWOULDBLOCK)
                user_error("cannot lock %s: %s", lockpath, strerror(err));
            if (pid > 0)
                user_error("%s is being written by another process (pid %ld, lock %s); wait "
                           "for it to finish or choose another output", path, pid, lockpath);
            user_error("%s is being written by another process (pid unknown, lock %s)", path,
                       lockpath);
        }
        if (fstat(fd, st) == 0 && stat(lockpath, &now) == 0 && now.st_dev == st->st_dev &&
            now.st_ino == st->st_ino)
            return fd;
        close(fd);
    }
}


int h5lock_acquire(const char *path)
{
    char *lockpath = path_with(path, ".lock");
    char pid[32];
    struct stat st;
    HeldLock *h;
    int fd, len;

    register_exit_handler();
    for (h = held_locks; h != NULL; h = h->next) {
        struct stat cur;
        if (h->owner == getpid() && stat(lockpath, &cur) == 0 && cur.st_dev == h->dev &&
            cur.st_ino == h->ino)
            die_at(__FILE__, __LINE__, __func__, NULL, "%s is already locked by this process",
                   path);
    }

    fd = lock_open(path, lockpath, &st);

    /* The pid only serves the message another writer prints: failing to write it is harmless. */
    len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        warn("could not write our pid into %s: %s", lockpath, strerror(errno));

    h = xcalloc(1, sizeof *h);
    *h = (HeldLock){fd, getpid(), st.st_dev, st.st_ino, lockpath, held_locks};
    held_locks = h;
    return fd;
}


void h5lock_release(int lock)
{
    HeldLock **p = &held_locks;

    while (*p != NULL && (*p)->fd != lock)
        p = &(*p)->next;
    HASSERT(*p != NULL);

    HeldLock *h = *p;
    *p = h->next;
    /* Unlink while still holding the lock; a waiter that opened the old file notices the
     * unlink in lock_open and retries. */
    if (h->owner == getpid())
        unlink(h->lockpath);
    close(h->fd);
    free(h->lockpath);
    free(h);
}


/* 1 when this process holds the lock of path (taken here, not inherited from a parent). */
static int lock_held(const char *path)
{
    char *lockpath = path_with(path, ".lock");
    struct stat st;
    int held = 0;

    if (stat(lockpath, &st) == 0)
        for (HeldLock *h = held_locks; h != NULL; h = h->next)
            if (h->owner == getpid() && h->dev == st.st_dev && h->ino == st.st_ino)
                held = 1;
    free(lockpath);
    return held;
}


/* ---- atomic output ---- */

/* The directory part of path, from xmalloc. */
static char *dir_of(const char *path)
{
    char *copy = path_with(path, "");
    char *dir = path_with(dirname(copy), "");

    free(copy);
    return dir;
}


void h5out_check_writable(const char *path)
{
    char *dir = dir_of(path);
    struct stat st;

    if (path[0] == '\0')
        user_error("empty output path");
    if (stat(dir, &st) != 0)
        user_error("cannot write %s: directory %s: %s", path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        user_error("cannot write %s: %s is not a directory", path, dir);
    if (access(dir, W_OK) != 0)
        user_error("cannot write %s: directory %s: %s", path, dir, strerror(errno));
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        user_error("cannot write %s: it exists and is not a regular file", path);
    free(dir);
}


/* Deletes "<base>.tmp-<pid>" files in path's directory whose writer is dead. We hold the lock,
 * so no live writer of path can own them, but a live pid may be a reused one: those stay. */
static void remove_stale_temps(const char *path)
{
    char *dir = dir_of(path);
    char *copy = path_with(path, "");
    const char *base = basename(copy);
    size_t nb = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        user_error("cannot write %s: directory %s: %s", path, dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        const char *tag = e->d_name + nb;
        if (strncmp(e->d_name, base, nb) != 0 || strncmp(tag, TMP_TAG, strlen(TMP_TAG)) != 0 ||
            strip_tmp_tag(e->d_name) != nb)
            continue;
        long pid = strtol(tag + strlen(TMP_TAG), NULL, 10);
        if (pid != (long)getpid() && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        char stale[4352];
        snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
        if (pid != (long)getpid())
            warn("removing %s, left by an interrupted writer (pid %ld)", stale, pid);
        if (unlink(stale) != 0 && errno != ENOENT)
            user_error("cannot remove stale temp file %s: %s", stale, strerror(errno));
    }
    closedir(d);
    free(copy);
    free(dir);
}


/* Copies src into the new file dst byte for byte, keeping src's permission bits. */
static void copy_file(const char *src, const char *dst, const char *target)
{
    char buf[1 << 16];
    struct stat st;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out;
    ssize_t n;

    if (in < 0 || fstat(in, &st) != 0)
        user_error("cannot read %s: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0)
        user_error("cannot write %s: %s: %s", target, dst, strerror(errno));

    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int err = errno;
                unlink(dst);
                user_error("cannot write %s: %s", target, strerror(err));
            }
            done += w;
        }
    }
    if (n < 0)
        user_error("cannot read %s: %s", src, strerror(errno));
    close(in);
    if (close(out) != 0) {
        int err = errno;
        unlink(dst);
        user_error("cannot write %s: %s", target, strerror(err));
    }
}


/* File access with the strong close degree: closing the file closes every object in it, so a
 * leaked group id cannot keep the file open (and unflushed) past the rename. */
static hid_t strong_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

    CHECK_HDF5(fapl);
    CHECK_HDF5(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG));
    return fapl;
}


/* Opens the copied temp file for update; the copy of a non-HDF5 file is a user error. */
static hid_t open_copy(const char *tmp, const char *path, hid_t fapl)
{
    H5ioQuiet q;
    hid_t file;

    h5io_quiet_on(&q);
    if (H5Fis_hdf5(tmp) <= 0) {
        unlink(tmp);
        user_error("%s is not an HDF5 file", path);
    }
    file = H5Fopen(tmp, H5F_ACC_RDWR, fapl);
    h5io_quiet_off(&q);
    if (file < 0) {
        unlink(tmp);
        user_error("%s cannot be opened for update (damaged or truncated HDF5 file?)", path);
    }
    return file;
}


static hid_t create_fresh(const char *tmp, const char *path, hid_t fapl)
{
    H5ioQuiet q;
    hid_t file;

    h5io_quiet_on(&q);
    errno = 0;
    file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    int err = errno;
    h5io_quiet_off(&q);
    if (file < 0) {
        unlink(tmp);
        user_error("cannot write %s: %s", path, err ? strerror(err) : "HDF5 could not create it");
    }
    return file;
}


H5Out *h5out_begin(const char *path, int copy_existing)
{
    char suffix[32];
    H5Out *o;
    hid_t fapl;

    h5out_check_writable(path);
    register_exit_handler();
    for (o = live_outs; o != NULL; o = o->next)
        HASSERT(o->owner != getpid() || strcmp(o->path, path) != 0);

    o = xcalloc(1, sizeof *o);
    o->path = path_with(path, "");
    snprintf(suffix, sizeof suffix, TMP_TAG "%ld", (long)getpid());
    o->tmp = path_with(path, suffix);
    o->file = -1;
    o->owner = getpid();
    o->lock = lock_held(path) ? -1 : h5lock_acquire(path);
    remove_stale_temps(path);

    /* Registered before the temp file exists, so every exit from here on deletes it. */
    o->next = live_outs;
    live_outs = o;

    fapl = strong_fapl();
    if (copy_existing && access(path, F_OK) == 0) {
        copy_file(path, o->tmp, path);
        o->file = open_copy(o->tmp, path, fapl);
    } else {
        o->file = create_fresh(o->tmp, path, fapl);
    }
    CHECK_HDF5(H5Pclose(fapl));
    return o;
}


hid_t h5out_file(const H5Out *out)
{
    HASSERT(out != NULL && out->file >= 0);
    return out->file;
}


/* Takes out off the live list, drops the lock begin took, frees it. */
static void out_finish(H5Out *out)
{
    H5Out **p = &live_outs;

    while (*p != out)
        p = &(*p)->next;
    *p = out->next;
    if (out->lock >= 0)
        h5lock_release(out->lock);
    free(out->path);
    free(out->tmp);
    free(out);
}


/* fsync of a directory makes the rename durable; some filesystems refuse it (EINVAL). */
static void sync_dir(const char *path)
{
    char *dir = dir_of(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        warn("cannot sync directory %s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
}


void h5out_commit(H5Out *out)
{
    H5ioQuiet q;
    hid_t file = out->file;
    int fd;

    HASSERT(file >= 0);
    h5io_quiet_on(&q);
    errno = 0;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        H5IO_WRITE_FAILED(file, "flush", errno);
    errno = 0;
    out->file = -1;
    if (close_file(file) < 0)
        user_error("cannot write %s: closing the file failed: %s", out->path,
                   errno ? strerror(errno) : "HDF5 error");
    h5io_quiet_off(&q);

    fd = open(out->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        user_error("cannot write %s: fsync of %s: %s", out->path, out->tmp, strerror(errno));
    if (close(fd) != 0)
        user_error("cannot write %s: %s", out->path, strerror(errno));
    if (rename(out->tmp, out->path) != 0)
        user_error("cannot replace %s: %s", out->path, strerror(errno));
    sync_dir(out->path);
    out_finish(out);
}


void h5out_abort(H5Out *out)
{
    H5ioQuiet q;

    if (out->file >= 0) {
        h5io_quiet_on(&q);
        if (close_file(out->file) < 0)
            warn("closing the temp file %s failed; it is deleted all the same", out->tmp);
        h5io_quiet_off(&q);
        out->file = -1;
    }
    if (unlink(out->tmp) != 0 && errno != ENOENT)
        warn("cannot remove %s: %s", out->tmp, strerror(errno));
    out_finish(out);
}


/* ---- input ---- */

hid_t h5in_open(const char *path)
{
    H5ioQuiet q;
    struct stat st;
    hid_t file;

    if (stat(path, &st) != 0 || access(path, R_OK) != 0)
        user_error("cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        user_error("%s is not an HDF5 file (not a regular file)", path);

    h5io_quiet_on(&q);
    htri_t is = H5Fis_hdf5(path);
    file = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    h5io_quiet_off(&q);
    if (is <= 0)
        user_error("%s is not an HDF5 file", path);
    if (file < 0)
        user_error("%s cannot be opened (damaged or truncated HDF5 file?)", path);
    return file;
}


void h5in_close(hid_t file)
{
    CHECK_HDF5(H5Fclose(file));
}
