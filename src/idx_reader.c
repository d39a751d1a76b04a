/* idx_reader.c: IDX files (the MNIST family's format), gzip'd or plain, read through zlib.
 * Images become [n, 1, rows, cols] uint8, labels int32. Every byte count is checked against
 * the header, so a short, long, truncated or corrupt file is a user error that names it. */
#include "dataset.h"

#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u   /* unsigned bytes, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u   /* unsigned bytes, 1 dimension */
#define IDX_MAX_SIDE     65535u        /* keeps rows * cols * n inside 64 bits */
#define IDX_FIRST_CHUNK  ((size_t)64 << 20)

/* A file being read, and its name for messages. */
typedef struct {
    gzFile gz;
    const char *path;
} IdxStream;


static IdxStream idx_open(const char *path)
{
    IdxStream s = { NULL, path };

    errno = 0;
    s.gz = gzopen(path, "rb");
    if (s.gz == NULL)
        user_error("cannot open %s: %s", path, errno ? strerror(errno) : "zlib out of memory");
    gzbuffer(s.gz, 1u << 17);
    return s;
}


/* A failed inflate is the file's fault: Z_BUF_ERROR means the gzip stream ended early. zlib
 * inflates ahead of what we have asked for, so the error may show on an early read; no byte
 * position is given because it would mislead. */
static void idx_check_stream(const IdxStream *s)
{
    int err;
    const char *msg = gzerror(s->gz, &err);
    size_t plen = strlen(s->path);

    if (err == Z_OK)
        return;
    if (strncmp(msg, s->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2;   /* zlib prefixes the path, which our message gives already */
    if (err == Z_BUF_ERROR)
        user_error("%s: the gzip stream is truncated (%s); the file is incomplete", s->path, msg);
    if (err == Z_ERRNO)
        user_error("%s: read failed: %s", s->path, strerror(errno));
    user_error("%s: corrupt gzip data: %s", s->path, msg);
}


/* Reads up to len bytes into buf; returns how many came (fewer only at the end of the data). */
static size_t idx_read(IdxStream *s, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        unsigned want = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int r = gzread(s->gz, (char *)buf + got, want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    idx_check_stream(s);
    return got;
}


/* Reads to the end and returns how many bytes were left: any is an error the caller reports. */
static size_t idx_count_rest(IdxStream *s)
{
    char scratch[1 << 16];
    size_t rest = 0, got;

    while ((got = idx_read(s, scratch, sizeof(scratch))) > 0)
        rest += got;
    return rest;
}


static void idx_close(IdxStream *s)
{
    int rc = gzclose_r(s->gz);

    /* gzclose also reports a stream that stopped mid-member. */
    if (rc == Z_BUF_ERROR)
        user_error("%s: the gzip stream is truncated; the file is incomplete", s->path);
    if (rc != Z_OK)
        user_error("%s: error closing the file (zlib code %d)", s->path, rc);
    s->gz = NULL;
}


static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}


static void idx_check_magic(const IdxStream *s, const uint8_t *hdr, size_t got, uint32_t want)
{
    uint32_t magic;
    const char *what = want == IDX_IMAGES_MAGIC ? "image" : "label";
    const char *hint = "";

    if (got < 4)
        user_error("%s: %zu bytes, too short for an IDX %s file (magic 0x%08X expected)",
                   s->path, got, what, want);
    magic = be32(hdr);
    if (magic == want)
        return;
    if (magic == __builtin_bswap32(want))
        hint = "; the header is byte-swapped (IDX is big-endian)";
    else if (magic == IDX_IMAGES_MAGIC || magic == IDX_LABELS_MAGIC)
        hint = magic == IDX_IMAGES_MAGIC ? "; this is an IDX image file"
                                         : "; this is an IDX label file";
    user_error("%s: not an IDX %s file: magic 0x%08X, expected 0x%08X%s", s->path, what, magic,
               want, hint);
}


/* Reads exactly `expect` payload bytes after a header of hdr_bytes, growing the buffer as data
 * arrives so that a corrupt header claiming billions of images allocates little before the
 * shortfall shows. `claim` says what the header promised, for the message. */
static uint8_t *idx_read_payload(IdxStream *s, size_t hdr_bytes, size_t expect, const char *claim)
{
    size_t cap = expect < IDX_FIRST_CHUNK ? expect : IDX_FIRST_CHUNK, got = 0, rest;
    uint8_t *buf = xmalloc(cap);

    for (;;) {
        got += idx_read(s, buf + got, cap - got);
        if (got < cap || cap == expect)
            break;
        cap = expect - cap > cap ? 2 * cap : expect;
        buf = realloc(buf, cap);
        CHECK_ALLOC(buf);
    }
    rest = got == expect ? idx_count_rest(s) : 0;
    if (got != expect || rest != 0) {
        free(buf);   /* only so that leak checkers stay quiet about the exit below */
        user_error("%s: header says %s, so %zu bytes expected, %zu found%s", s->path, claim,
                   hdr_bytes + expect, hdr_bytes + got + rest,
                   rest ? " (extra bytes after the last item)" : " (the file is short)");
    }
    return buf;
}


/* Images: [n, 1, rows, cols]. The caller fills in labels. */
static void idx_read_images(Dataset *d, const char *path, int num_classes, const char *name)
{
    IdxStream s = idx_open(path);
    uint8_t hdr[16], *buf;
    uint32_t n, rows, cols;
    size_t got;
    char claim[96];

    got = idx_read(&s, hdr, sizeof(hdr));
    idx_check_magic(&s, hdr, got, IDX_IMAGES_MAGIC);
    if (got < sizeof(hdr))
        user_error("%s: IDX image header truncated: 16 bytes expected, %zu found", path, got);
    n = be32(hdr + 4);
    rows = be32(hdr + 8);
    cols = be32(hdr + 12);
    if (rows == 0 || cols == 0 || rows > IDX_MAX_SIDE || cols > IDX_MAX_SIDE)
        user_error("%s: header says images of %ux%u; expected sides from 1 to %u", path, rows,
                   cols, IDX_MAX_SIDE);
    snprintf(claim, sizeof(claim), "%u images of %ux%u", n, rows, cols);
    buf = idx_read_payload(&s, sizeof(hdr), (size_t)n * rows * cols, claim);
    idx_close(&s);

    /* The payload already has the dataset's layout: adopt the buffer instead of copying. */
    dataset_alloc(d, n, 1, (int)rows, (int)cols, num_classes, name);
    free(d->pixels);
    d->pixels = buf;
}


/* Labels: n bytes, each checked against [0, num_classes). Returns n; *labels is xmalloc'd. */
static size_t idx_read_labels(int32_t **labels, const char *path, int num_classes)
{
    IdxStream s = idx_open(path);
    uint8_t hdr[8], *buf;
    uint32_t n;
    size_t got;
    char claim[64];

    got = idx_read(&s, hdr, sizeof(hdr));
    idx_check_magic(&s, hdr, got, IDX_LABELS_MAGIC);
    if (got < sizeof(hdr))
        user_error("%s: IDX label header truncated: 8 bytes expected, %zu found", path, got);
    n = be32(hdr + 4);
    snprintf(claim, sizeof(claim), "%u labels", n);
    buf = idx_read_payload(&s, sizeof(hdr), n, claim);
    idx_close(&s);

    *labels = xmalloc((n > 0 ? n : 1) * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        if (buf[i] >= num_classes)
            user_error("%s: label %u at index %zu is out of range; expected 0 to %d", path,
                       buf[i], i, num_classes - 1);
        (*labels)[i] = buf[i];
    }
    free(buf);
    return n;
}


void idx_load(Dataset *d, const char *images_path, const char *labels_path, int num_classes,
              const char *name)
{
    int32_t *labels;
    size_t nlab;

    HASSERT(num_classes > 0 && num_classes <= 256);
    idx_read_images(d, images_path, num_classes, name);
    nlab = idx_read_labels(&labels, labels_path, num_classes);
    if (nlab != d->n)
        user_error("%s holds %zu images but %s holds %zu labels; expected one label per image",
                   images_path, d->n, labels_path, nlab);
    memcpy(d->labels, labels, nlab * sizeof(int32_t));
    free(labels);
}
