/* h5io_priv.h: what h5io_file.c and h5io_data.c share and nobody else needs: silencing HDF5's
 * own error printing around expected failures, naming a file in messages, and turning a
 * failed write into a user error. */
#ifndef HASTEN_H5IO_PRIV_H
#define HASTEN_H5IO_PRIV_H

#include <hdf5.h>

/* HDF5's automatic error printer, saved while it is switched off. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} H5ioQuiet;

void h5io_quiet_on(H5ioQuiet *q);
void h5io_quiet_off(const H5ioQuiet *q);

/* Writes into buf the name of loc's file for messages: the target path, not its temp file. */
void h5io_file_label(hid_t loc, char *buf, size_t n);

/* Writes into buf path as seen from the root: "/checkpoints/000100" for a relative path
 * under the group loc. */
void h5io_abs_path(hid_t loc, const char *path, char *buf, size_t n);

/* A write, flush or close on loc's file failed with errno err (read right after the failure).
 * Disk trouble (ENOSPC, EFBIG, EDQUOT, EIO, ...) is a user error naming the file; the temp file
 * goes away through the exit handler. Anything else is an internal failure: HDF5's stack is
 * printed and die_at reports where. */
__attribute__((noreturn))
void h5io_write_failed(const char *file, int line, const char *func, hid_t loc,
                       const char *what, int err);

#define H5IO_WRITE_FAILED(loc, what, err) \
    h5io_write_failed(__FILE__, __LINE__, __func__, (loc), (what), (err))

#endif
