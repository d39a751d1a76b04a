/* h5io_data.c: groups, datasets, tables and attributes inside an open HDF5 file.
 * Datasets are row-major with little-endian IEEE/two's-complement file types; tables are 2-D
 * float64 [rows, columns] with unlimited rows and a string-array attribute "columns".
 * Missing objects and wrong shapes in a file are user errors that name the file. */
#include "h5io.h"
#include "h5io_priv.h"
#include "common.h"

#include <errno.h>
#include <string.h>

/* A write-side HDF5 call, with HDF5's error printing off: a negative result is reported with
 * the errno it left (disk full: a user error; anything else: HDF5's stack, then die_at). */
#define TRY_WRITE(call, loc, what) \
    do { \
        H5ioQuiet q_; \
        h5io_quiet_on(&q_); \
        errno = 0; \
        if ((long long)(call) < 0) \
            H5IO_WRITE_FAILED((loc), (what), errno); \
        h5io_quiet_off(&q_); \
    } while (0)

#define TABLE_CHUNK_VALUES 4096 /* doubles per table chunk: 32 KiB, a few hundred rows */


static hid_t file_type(H5ioType t)
{
    switch (t) {
    case H5IO_F32: return H5T_IEEE_F32LE;
    case H5IO_F64: return H5T_IEEE_F64LE;
    case H5IO_I32: return H5T_STD_I32LE;
    case H5IO_I64: return H5T_STD_I64LE;
    }
    die_at(__FILE__, __LINE__, __func__, NULL, "unknown H5ioType %d", (int)t);
}


static hid_t mem_type(H5ioType t)
{
    switch (t) {
    case H5IO_F32: return H5T_NATIVE_FLOAT;
    case H5IO_F64: return H5T_NATIVE_DOUBLE;
    case H5IO_I32: return H5T_NATIVE_INT32;
    case H5IO_I64: return H5T_NATIVE_INT64;
    }
    die_at(__FILE__, __LINE__, __func__, NULL, "unknown H5ioType %d", (int)t);
}


static size_t type_size(H5ioType t)
{
    return (t == H5IO_F32 || t == H5IO_I32) ? 4 : 8;
}


/* "FILE" and "/abs/path" for a message about path under loc. */
typedef struct {
    char file[4096];
    char path[2048];
} Where;


static void where_of(hid_t loc, const char *path, Where *w)
{
    h5io_file_label(loc, w->file, sizeof w->file);
    h5io_abs_path(loc, path, w->path, sizeof w->path);
}


/* ---- groups ---- */

static int is_self(const char *path)
{
    return strcmp(path, ".") == 0 || strcmp(path, "/") == 0 || path[0] == '\0';
}


/* Calls visit(loc, prefix, arg) for each prefix of path that ends a component ("/a", "/a/b",
 * ...); stops and returns 0 when visit does. */
static int walk_prefixes(hid_t loc, const char *path, int (*visit)(hid_t, const char *, void *),
                         void *arg)
{
    size_t n = strlen(path);
    char *buf = xmalloc(n + 1);
    int ok = 1;

    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n && ok; i++) {
        if (i < n && buf[i] != '/')
            continue;
        if (buf[i - 1] == '/')
            continue; /* empty component: "//" or a trailing "/" */
        char saved = buf[i];
        buf[i] = '\0';
        ok = visit(loc, buf, arg);
        buf[i] = saved;
    }
    free(buf);
    return ok;
}


static int link_exists(hid_t loc, const char *prefix, void *arg)
{
    (void)arg;
    return H5Lexists(loc, prefix, H5P_DEFAULT) > 0;
}


int h5_exists(hid_t loc, const char *path)
{
    H5ioQuiet q;
    int ok;

    if (is_self(path))
        return 1;
    h5io_quiet_on(&q);
    /* H5Lexists fails rather than answering 0 when an intermediate is missing; and a dangling
     * soft link exists as a link but not as an object. */
    ok = walk_prefixes(loc, path, link_exists, NULL) &&
         H5Oexists_by_name(loc, path, H5P_DEFAULT) > 0;
    h5io_quiet_off(&q);
    return ok;
}


void h5_require(hid_t loc, const char *path)
{
    Where w;

    if (h5_exists(loc, path))
        return;
    where_of(loc, path, &w);
    user_error("%s: missing %s", w.file, w.path);
}


/* 1 when the object at path is a group. */
static int is_group(hid_t loc, const char *path)
{
    hid_t obj = H5Oopen(loc, path, H5P_DEFAULT);
    int yes;

    CHECK_HDF5(obj);
    yes = H5Iget_type(obj) == H5I_GROUP;
    CHECK_HDF5(H5Oclose(obj));
    return yes;
}


static int make_group(hid_t loc, const char *prefix, void *arg)
{
    Where w;
    hid_t g;

    (void)arg;
    if (h5_exists(loc, prefix)) {
        if (is_group(loc, prefix))
            return 1;
        where_of(loc, prefix, &w);
        user_error("%s: %s exists and is not a group", w.file, w.path);
    }
    where_of(loc, prefix, &w);
    TRY_WRITE(g = H5Gcreate2(loc, prefix, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), loc, w.path);
    CHECK_HDF5(H5Gclose(g));
    return 1;
}


hid_t h5_group(hid_t loc, const char *path)
{
    hid_t g;

    if (!is_self(path))
        walk_prefixes(loc, path, make_group, NULL);
    g = H5Gopen2(loc, is_self(path) ? "." : path, H5P_DEFAULT);
    CHECK_HDF5(g);
    return g;
}


/* Creates the groups above the object at path. */
static void make_parents(hid_t loc, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL || slash == path)
        return;
    char *parent = xmalloc((size_t)(slash - path) + 1);
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = '\0';
    CHECK_HDF5(H5Gclose(h5_group(loc, parent)));
    free(parent);
}


typedef struct {
    char **names;
    size_t n;
} NameList;


static herr_t collect_name(const char *name, NameList *acc)
{
    acc->names = realloc(acc->names, (acc->n + 1) * sizeof *acc->names);
    CHECK_ALLOC(acc->names);
    acc->names[acc->n] = strcpy(xmalloc(strlen(name) + 1), name);
    acc->n++;
    return 0;
}


/* H5Literate's callback type changed in 1.12; both hand the name over the same way. */
#if H5_VERSION_GE(1, 12, 0)
static herr_t on_link(hid_t g, const char *name, const H5L_info2_t *info, void *arg)
#else
static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *arg)
#endif
{
    (void)g;
    (void)info;
    return collect_name(name, arg);
}


char **h5_list(hid_t loc, const char *group, size_t *n)
{
    NameList acc = {NULL, 0};
    Where w;
    hid_t g;

    where_of(loc, group, &w);
    if (!h5_exists(loc, group))
        user_error("%s: missing %s", w.file, w.path);
    if (!is_self(group) && !is_group(loc, group))
        user_error("%s: %s is not a group", w.file, w.path);
    g = H5Gopen2(loc, is_self(group) ? "." : group, H5P_DEFAULT);
    CHECK_HDF5(g);

    hsize_t idx = 0;
    CHECK_HDF5(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, on_link, &acc));
    CHECK_HDF5(H5Gclose(g));
    *n = acc.n;
    return acc.names;
}


void h5_free_strs(char **strs, size_t n)
{
    if (strs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(strs[i]);
    free(strs);
}


/* ---- datasets ---- */

void h5_write(hid_t loc, const char *path, H5ioType type, int rank, const size_t *dims,
              const void *data)
{
    hsize_t hd[H5IO_MAX_RANK];
    size_t count = 1;
    hid_t space, dset;
    Where w;

    HASSERT(rank >= 0 && rank <= H5IO_MAX_RANK);
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        count *= dims[i];
    }
    where_of(loc, path, &w);
    make_parents(loc, path);
    if (h5_exists(loc, path))
        TRY_WRITE(H5Ldelete(loc, path, H5P_DEFAULT), loc, w.path);

    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, hd, NULL);
    CHECK_HDF5(space);
    TRY_WRITE(dset = H5Dcreate2(loc, path, file_type(type), space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT), loc, w.path);
    if (count > 0)
        TRY_WRITE(H5Dwrite(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), loc,
                  w.path);
    TRY_WRITE(H5Dclose(dset), loc, w.path);
    CHECK_HDF5(H5Sclose(space));
}


/* "[3,2]" for a stored shape. */
static void format_dims(char *buf, size_t n, int rank, const hsize_t *dims)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%llu", i ? "," : "",
                                 (unsigned long long)dims[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}


/* "[N,4]" for an expected shape: each H5IO_ANY gets its own letter. */
static void format_want(char *buf, size_t n, int rank, const long *dims)
{
    static const char letters[] = "NMKLPQRS";
    size_t used = (size_t)snprintf(buf, n, "[");
    int nany = 0;

    for (int i = 0; i < rank && used < n; i++) {
        if (dims == NULL || dims[i] == H5IO_ANY)
            used += (size_t)snprintf(buf + used, n - used, "%s%c", i ? "," : "",
                                     letters[nany++ % 8]);
        else
            used += (size_t)snprintf(buf + used, n - used, "%s%ld", i ? "," : "", dims[i]);
    }
    if (used < n)
        snprintf(buf + used, n - used, "]");
}


static void check_shape(const Where *w, int rank, const hsize_t *dims, int want_rank,
                        const long *want_dims)
{
    char have[256], want[256];
    int ok = want_rank == H5IO_ANY || want_rank == rank;

    for (int i = 0; ok && want_rank != H5IO_ANY && want_dims != NULL && i < rank; i++)
        ok = want_dims[i] == H5IO_ANY || (hsize_t)want_dims[i] == dims[i];
    if (ok)
        return;
    format_dims(have, sizeof have, rank, dims);
    format_want(want, sizeof want, want_rank, want_dims);
    user_error("%s: %s has shape %s, expected %s", w->file, w->path, have, want);
}


/* Opens the numeric dataset at path; user errors for a missing or non-numeric one. */
static hid_t open_numeric(hid_t loc, const char *path, const Where *w)
{
    H5ioQuiet q;
    hid_t dset, dtype;
    H5T_class_t cls;

    if (!h5_exists(loc, path))
        user_error("%s: missing %s", w->file, w->path);
    h5io_quiet_on(&q);
    dset = H5Dopen2(loc, path, H5P_DEFAULT);
    h5io_quiet_off(&q);
    if (dset < 0)
        user_error("%s: %s is not a dataset", w->file, w->path);
    dtype = H5Dget_type(dset);
    CHECK_HDF5(dtype);
    cls = H5Tget_class(dtype);
    CHECK_HDF5(H5Tclose(dtype));
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        user_error("%s: %s does not hold numbers", w->file, w->path);
    return dset;
}


void *h5_read(hid_t loc, const char *path, H5ioType type, int want_rank, const long *want_dims,
              int *rank_out, size_t *dims_out)
{
    hsize_t dims[H5IO_MAX_RANK];
    size_t count = 1;
    hid_t dset, space;
    void *data;
    int rank;
    Where w;

    where_of(loc, path, &w);
    dset = open_numeric(loc, path, &w);
    space = H5Dget_space(dset);
    CHECK_HDF5(space);
    rank = H5Sget_simple_extent_ndims(space);
    CHECK_HDF5(rank);
    if (rank > H5IO_MAX_RANK)
        user_error("%s: %s has rank %d, more than the %d hasten reads", w.file, w.path, rank,
                   H5IO_MAX_RANK);
    CHECK_HDF5(H5Sget_simple_extent_dims(space, dims, NULL));
    check_shape(&w, rank, dims, want_rank, want_dims);

    for (int i = 0; i < rank; i++)
        count *= dims[i];
    data = xmalloc(count * type_size(type));
    if (count > 0)
        CHECK_HDF5(H5Dread(dset, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    CHECK_HDF5(H5Sclose(space));
    CHECK_HDF5(H5Dclose(dset));

    if (rank_out != NULL)
        *rank_out = rank;
    for (int i = 0; dims_out != NULL && i < rank; i++)
        dims_out[i] = dims[i];
    return data;
}


/* ---- attributes ---- */

/* A string type in `cset`: variable-length when size is 0, else fixed with room for a NUL. */
static hid_t string_type(size_t size, H5T_cset_t cset)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    CHECK_HDF5(t);
    CHECK_HDF5(H5Tset_size(t, size == 0 ? H5T_VARIABLE : size));
    CHECK_HDF5(H5Tset_cset(t, cset));
    if (size != 0)
        CHECK_HDF5(H5Tset_strpad(t, H5T_STR_NULLTERM));
    return t;
}


/* Writes an attribute of the given file type and shape (n < 0: scalar), replacing one of the
 * same name; data is in memory type mtype. */
static void attr_write(hid_t loc, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                       long n, const void *data)
{
    hsize_t dim = n < 0 ? 1 : (hsize_t)n;
    hid_t space, attr;
    Where w;

    where_of(loc, obj, &w);
    if (!h5_exists(loc, obj))
        die_at(__FILE__, __LINE__, __func__, NULL, "attribute %s on %s: no such object in %s",
               name, w.path, w.file);
    space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    CHECK_HDF5(space);

    if (h5_attr_exists(loc, obj, name))
        TRY_WRITE(H5Adelete_by_name(loc, obj, name, H5P_DEFAULT), loc, w.path);
    TRY_WRITE(attr = H5Acreate_by_name(loc, obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT), loc, w.path);
    if (dim > 0)
        TRY_WRITE(H5Awrite(attr, mtype, data), loc, w.path);
    TRY_WRITE(H5Aclose(attr), loc, w.path);
    CHECK_HDF5(H5Sclose(space));
}


void h5_attr_str(hid_t loc, const char *obj, const char *name, const char *value)
{
    hid_t t = string_type(0, H5T_CSET_UTF8);

    attr_write(loc, obj, name, t, t, -1, &value);
    CHECK_HDF5(H5Tclose(t));
}


void h5_attr_strs(hid_t loc, const char *obj, const char *name, size_t n,
                  const char *const *values)
{
    hid_t t = string_type(0, H5T_CSET_UTF8);

    attr_write(loc, obj, name, t, t, (long)n, values);
    CHECK_HDF5(H5Tclose(t));
}


void h5_attr_i64(hid_t loc, const char *obj, const char *name, long long value)
{
    attr_write(loc, obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, -1, &value);
}


void h5_attr_f64(hid_t loc, const char *obj, const char *name, double value)
{
    attr_write(loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &value);
}


int h5_attr_exists(hid_t loc, const char *obj, const char *name)
{
    H5ioQuiet q;
    int yes;

    if (!h5_exists(loc, obj))
        return 0;
    h5io_quiet_on(&q);
    yes = H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) > 0;
    h5io_quiet_off(&q);
    return yes;
}


/* Opens attribute name on obj and checks its type class; *n gets its element count. */
static hid_t attr_open(hid_t loc, const char *obj, const char *name, int want_string,
                       size_t *n)
{
    hid_t attr, t, space;
    H5T_class_t cls;
    hssize_t npoints;
    Where w;

    where_of(loc, obj, &w);
    if (!h5_exists(loc, obj))
        user_error("%s: missing %s", w.file, w.path);
    if (!h5_attr_exists(loc, obj, name))
        user_error("%s: %s has no attribute '%s'", w.file, w.path, name);
    attr = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_HDF5(attr);
    t = H5Aget_type(attr);
    CHECK_HDF5(t);
    cls = H5Tget_class(t);
    CHECK_HDF5(H5Tclose(t));
    if (want_string ? cls != H5T_STRING : (cls != H5T_INTEGER && cls != H5T_FLOAT))
        user_error("%s: attribute '%s' of %s is not a %s", w.file, name, w.path,
                   want_string ? "string" : "number");
    space = H5Aget_space(attr);
    CHECK_HDF5(space);
    npoints = H5Sget_simple_extent_npoints(space);
    CHECK_HDF5(npoints);
    CHECK_HDF5(H5Sclose(space));
    *n = (size_t)npoints;
    return attr;
}


/* Reads n strings of the string attribute attr into xmalloc'd copies. */
static char **attr_read_strs(hid_t attr, size_t n)
{
    hid_t ft = H5Aget_type(attr);
    char **out = xcalloc(n, sizeof *out);

    CHECK_HDF5(ft);
    H5T_cset_t cset = H5Tget_cset(ft);
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = string_type(0, cset);
        char **raw = xcalloc(n, sizeof *raw);
        CHECK_HDF5(H5Aread(attr, mt, raw));
        for (size_t i = 0; i < n; i++) {
            const char *s = raw[i] ? raw[i] : "";
            out[i] = strcpy(xmalloc(strlen(s) + 1), s);
            if (raw[i] != NULL)
                H5free_memory(raw[i]);
        }
        free(raw);
        CHECK_HDF5(H5Tclose(mt));
    } else {
        size_t size = H5Tget_size(ft) + 1;
        hid_t mt = string_type(size, cset);
        char *raw = xcalloc(n, size);
        CHECK_HDF5(H5Aread(attr, mt, raw));
        for (size_t i = 0; i < n; i++)
            out[i] = strcpy(xmalloc(strlen(raw + i * size) + 1), raw + i * size);
        free(raw);
        CHECK_HDF5(H5Tclose(mt));
    }
    CHECK_HDF5(H5Tclose(ft));
    return out;
}


char **h5_attr_get_strs(hid_t loc, const char *obj, const char *name, size_t *n)
{
    hid_t attr = attr_open(loc, obj, name, 1, n);
    char **out = attr_read_strs(attr, *n);

    CHECK_HDF5(H5Aclose(attr));
    return out;
}


char *h5_attr_get_str(hid_t loc, const char *obj, const char *name)
{
    size_t n;
    char **strs = h5_attr_get_strs(loc, obj, name, &n);
    char *s;
    Where w;

    if (n != 1) {
        where_of(loc, obj, &w);
        user_error("%s: attribute '%s' of %s holds %zu strings, expected 1", w.file, name,
                   w.path, n);
    }
    s = strs[0];
    free(strs);
    return s;
}


/* Reads a one-element numeric attribute converted to mtype. */
static void attr_get_number(hid_t loc, const char *obj, const char *name, hid_t mtype,
                            void *value)
{
    size_t n;
    hid_t attr = attr_open(loc, obj, name, 0, &n);
    Where w;

    if (n != 1) {
        where_of(loc, obj, &w);
        user_error("%s: attribute '%s' of %s holds %zu values, expected 1", w.file, name,
                   w.path, n);
    }
    CHECK_HDF5(H5Aread(attr, mtype, value));
    CHECK_HDF5(H5Aclose(attr));
}


long long h5_attr_get_i64(hid_t loc, const char *obj, const char *name)
{
    long long v;

    attr_get_number(loc, obj, name, H5T_NATIVE_LLONG, &v);
    return v;
}


double h5_attr_get_f64(hid_t loc, const char *obj, const char *name)
{
    double v;

    attr_get_number(loc, obj, name, H5T_NATIVE_DOUBLE, &v);
    return v;
}


/* ---- tables ---- */

/* "a,b,c" into buf. */
static void join_names(char *buf, size_t n, size_t count, const char *const *names)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < count && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", names[i]);
}


static void table_create(hid_t loc, const char *path, int ncols, const char *const *columns,
                         const Where *w)
{
    hsize_t dims[2] = {0, (hsize_t)ncols};
    hsize_t maxdims[2] = {H5S_UNLIMITED, (hsize_t)ncols};
    hsize_t chunk[2] = {TABLE_CHUNK_VALUES / (hsize_t)ncols + 1, (hsize_t)ncols};
    hid_t space, dcpl, dset;

    make_parents(loc, path);
    space = H5Screate_simple(2, dims, maxdims);
    CHECK_HDF5(space);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    CHECK_HDF5(dcpl);
    CHECK_HDF5(H5Pset_chunk(dcpl, 2, chunk));
    TRY_WRITE(dset = H5Dcreate2(loc, path, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
                                H5P_DEFAULT), loc, w->path);
    TRY_WRITE(H5Dclose(dset), loc, w->path);
    CHECK_HDF5(H5Pclose(dcpl));
    CHECK_HDF5(H5Sclose(space));
    h5_attr_strs(loc, path, "columns", (size_t)ncols, columns);
}


/* User error unless the table at path has exactly these columns. */
static void table_check_columns(hid_t loc, const char *path, int ncols,
                                const char *const *columns, const Where *w)
{
    size_t n;
    char **have = h5_attr_get_strs(loc, path, "columns", &n);
    int same = n == (size_t)ncols;
    char hbuf[1024], wbuf[1024];

    for (size_t i = 0; same && i < n; i++)
        same = strcmp(have[i], columns[i]) == 0;
    if (!same) {
        join_names(hbuf, sizeof hbuf, n, (const char *const *)have);
        join_names(wbuf, sizeof wbuf, (size_t)ncols, columns);
        user_error("%s: %s has columns [%s], expected [%s]", w->file, w->path, hbuf, wbuf);
    }
    h5_free_strs(have, n);
}


void h5_table_append(hid_t loc, const char *path, int ncols, const char *const *columns,
                     size_t nrows, const double *rows)
{
    hsize_t dims[2], start[2], count[2] = {nrows, (hsize_t)ncols};
    hid_t dset, fspace, mspace;
    Where w;

    HASSERT(ncols > 0);
    where_of(loc, path, &w);
    if (h5_exists(loc, path))
        table_check_columns(loc, path, ncols, columns, &w);
    else
        table_create(loc, path, ncols, columns, &w);
    if (nrows == 0)
        return;

    dset = open_numeric(loc, path, &w);
    fspace = H5Dget_space(dset);
    CHECK_HDF5(fspace);
    if (H5Sget_simple_extent_ndims(fspace) != 2)
        user_error("%s: %s is not a 2-D table", w.file, w.path);
    CHECK_HDF5(H5Sget_simple_extent_dims(fspace, dims, NULL));
    CHECK_HDF5(H5Sclose(fspace));
    start[0] = dims[0];
    start[1] = 0;
    dims[0] += nrows;

    TRY_WRITE(H5Dset_extent(dset, dims), loc, w.path);
    fspace = H5Dget_space(dset);
    CHECK_HDF5(fspace);
    CHECK_HDF5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
    mspace = H5Screate_simple(2, count, NULL);
    CHECK_HDF5(mspace);
    TRY_WRITE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, rows), loc, w.path);
    TRY_WRITE(H5Dclose(dset), loc, w.path);
    CHECK_HDF5(H5Sclose(mspace));
    CHECK_HDF5(H5Sclose(fspace));
}


double *h5_table_read(hid_t loc, const char *path, size_t *nrows, int *ncols, char ***columns)
{
    const long want[2] = {H5IO_ANY, H5IO_ANY};
    size_t dims[2], n;
    double *rows = h5_read(loc, path, H5IO_F64, 2, want, NULL, dims);
    char **names = h5_attr_get_strs(loc, path, "columns", &n);
    Where w;

    if (n != dims[1]) {
        where_of(loc, path, &w);
        user_error("%s: %s has %zu columns but %zu column names", w.file, w.path, dims[1], n);
    }
    *nrows = dims[0];
    *ncols = (int)dims[1];
    if (columns != NULL)
        *columns = names;
    else
        h5_free_strs(names, n);
    return rows;
}


int h5_table_column(hid_t loc, const char *path, const char *name)
{
    size_t n;
    char **names = h5_attr_get_strs(loc, path, "columns", &n);
    char buf[1024];
    Where w;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            h5_free_strs(names, n);
            return (int)i;
        }
    }
    join_names(buf, sizeof buf, n, (const char *const *)names);
    where_of(loc, path, &w);
    user_error("%s: %s has no column '%s' (columns: %s)", w.file, w.path, name, buf);
}
