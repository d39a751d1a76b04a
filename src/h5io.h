/* h5io.h: the HDF5 layer every hasten result and checkpoint is written through.
 * Output files are replaced whole and atomically: write a temp file next to the target, fsync,
 * rename. One writer per output path, enforced by an flock() on "<path>.lock".
 * Datasets are row-major (C order) with explicit little-endian file types, so h5py and h5dump
 * read them without hasten. Bad input files and unwritable paths are user errors (exit 2). */
#ifndef HASTEN_H5IO_H
#define HASTEN_H5IO_H

#include <stddef.h>

#include <hdf5.h>

#define H5IO_MAX_RANK 8
#define H5IO_ANY (-1) /* in an expected rank or dimension: anything goes */

typedef enum { H5IO_F32, H5IO_F64, H5IO_I32, H5IO_I64 } H5ioType;

/* ---- whole-file atomic writes (h5io_file.c) ---- */

typedef struct H5Out H5Out;

/* Starts writing `path`: creates "<path>.tmp-<pid>" (a copy of the existing file when
 * copy_existing and the file exists, so an update is copy + modify + rename). Takes the
 * writer lock for path unless this process already holds it, and removes temp files that
 * killed writers left behind. User error when the path cannot be written. A run that rewrites
 * its file many times holds h5lock_acquire for its whole life, so no other writer slips in
 * between two commits. Not thread-safe (HDF5 here is the serial, non-threadsafe build). */
H5Out *h5out_begin(const char *path, int copy_existing);

/* User error unless path's directory exists and is writable and path is not a directory:
 * what h5out_begin checks first, for commands that measure for minutes before writing. */
void h5out_check_writable(const char *path);

/* The open temp file, for the h5_* helpers below. */
hid_t h5out_file(const H5Out *out);

/* Closes and fsyncs the temp file, renames it over the target and fsyncs the directory.
 * On any failure (ENOSPC, EFBIG, ...) removes the temp file and exits with a user error: the
 * previous file stays as it was. Frees out. */
void h5out_commit(H5Out *out);

/* Closes and deletes the temp file; the target is untouched. Frees out. */
void h5out_abort(H5Out *out);

/* Takes the exclusive writer lock "<path>.lock" (flock LOCK_EX|LOCK_NB) and writes our pid into
 * it. When another process holds it: user error naming the path and the holder's pid.
 * Returns a handle for h5lock_release. The lock also dies with the process. */
int h5lock_acquire(const char *path);

/* Releases a lock from h5lock_acquire and removes its lock file. */
void h5lock_release(int lock);

/* ---- input files (h5io_file.c) ---- */

/* Opens an existing file read-only. User error when it is missing, unreadable or not HDF5. */
hid_t h5in_open(const char *path);

/* Closes a file from h5in_open. */
void h5in_close(hid_t file);

/* ---- groups, existence, listing (h5io_data.c) ---- */

/* Opens the group at path, creating it and every missing intermediate group ("/a/b/c").
 * The caller closes the returned id with H5Gclose. */
hid_t h5_group(hid_t loc, const char *path);

/* 1 when every component of path exists (link walked one component at a time), else 0. */
int h5_exists(hid_t loc, const char *path);

/* User error "FILE: missing PATH" unless path exists. */
void h5_require(hid_t loc, const char *path);

/* The names in a group, sorted; *n gets their count. Free with h5_free_strs. */
char **h5_list(hid_t loc, const char *group, size_t *n);

void h5_free_strs(char **strs, size_t n);

/* ---- datasets (h5io_data.c) ---- */

/* Writes a dataset of rank 0..H5IO_MAX_RANK (rank 0: a scalar), creating parent groups and
 * replacing a dataset already at path. Exits with a user error when the disk refuses. */
void h5_write(hid_t loc, const char *path, H5ioType type, int rank, const size_t *dims,
              const void *data);

/* Reads a numeric dataset converted to `type`, into memory from xmalloc. When want_rank is
 * not H5IO_ANY, checks the rank and every want_dims entry that is not H5IO_ANY; a mismatch is
 * the user error "FILE: PATH has shape [3,2], expected [N,4]". rank and dims (room for
 * H5IO_MAX_RANK) receive the stored shape; either may be NULL. */
void *h5_read(hid_t loc, const char *path, H5ioType type, int want_rank, const long *want_dims,
              int *rank, size_t *dims);

/* ---- tables: extendible 2-D float64 datasets with named columns (h5io_data.c) ---- */

/* Appends nrows rows (row-major, nrows x ncols) to the table at path, creating it (chunked,
 * unlimited rows, string-array attribute "columns") when missing. An existing table with
 * other columns is a user error. */
void h5_table_append(hid_t loc, const char *path, int ncols, const char *const *columns,
                     size_t nrows, const double *rows);

/* Reads a whole table: returns nrows x ncols doubles from xmalloc. columns, when not NULL,
 * receives the column names (free with h5_free_strs(*columns, *ncols)). */
double *h5_table_read(hid_t loc, const char *path, size_t *nrows, int *ncols, char ***columns);

/* The index of name in the table's columns, or a user error naming the table and column. */
int h5_table_column(hid_t loc, const char *path, const char *name);

/* ---- attributes on the object at obj ("." for loc itself) (h5io_data.c) ---- */

/* Writers replace an attribute of the same name. Strings are variable-length UTF-8. */
void h5_attr_str(hid_t loc, const char *obj, const char *name, const char *value);
void h5_attr_i64(hid_t loc, const char *obj, const char *name, long long value);
void h5_attr_f64(hid_t loc, const char *obj, const char *name, double value);
void h5_attr_strs(hid_t loc, const char *obj, const char *name, size_t n,
                  const char *const *values);

int h5_attr_exists(hid_t loc, const char *obj, const char *name);

/* Readers: a missing attribute or one of the wrong kind is a user error naming the file.
 * Strings may be variable- or fixed-length; results come from xmalloc. */
char *h5_attr_get_str(hid_t loc, const char *obj, const char *name);
long long h5_attr_get_i64(hid_t loc, const char *obj, const char *name);
double h5_attr_get_f64(hid_t loc, const char *obj, const char *name);
char **h5_attr_get_strs(hid_t loc, const char *obj, const char *name, size_t *n);

#endif
