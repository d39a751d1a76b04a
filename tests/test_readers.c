/* test_readers.c: the dataset readers on files this test writes itself (gzip'd IDX via zlib,
 * CIFAR records, PNG/JPEG via libpng/libjpeg) in a fresh folder under /tmp. Good files must
 * round-trip pixel for pixel; bad ones must end the program with exit 2 and a message naming
 * the file, which is checked in a forked child whose stderr goes to a pipe. */
#include "common.h"
#include "check.h"
#include "dataset.h"
#include "rng.h"

#include <ftw.h>
#include <stdarg.h>
#include <jpeglib.h>
#include <limits.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char TMP[PATH_MAX];


/* --- writing test files --- */

/* TMP/rel, with the folders on the way created.
 * Returns one of 64 static buffers, reused in turn. */
static const char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *tpath(const char *fmt, ...)
{
    static char bufs[64][PATH_MAX];
    static int next;
    char *buf = bufs[next++ % 64], rel[PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    HASSERT(snprintf(buf, PATH_MAX, "%s/%s", TMP, rel) < PATH_MAX);
    for (char *p = buf + strlen(TMP) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
    return buf;
}


static void write_raw(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb6");
        HASSERT(f != NULL);
        HASSERT(len == 0 || gzwrite(f, data, (unsigned)len) == (int)len);
        HASSERT(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        HASSERT(f != NULL);
        HASSERT(fwrite(data, 1, len, f) == len);
        HASSERT(fclose(f) == 0);
    }
}


static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    Rng r = rng_stream(seed, 99, 0, 0);

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng_next(&r) >> 56);
}


static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}


/* An IDX image file whose header claims n images of rows x cols but holds `actual`.
 * Returns the pixels written (caller frees). */
static uint8_t *write_idx_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows,
                                 uint32_t cols, size_t actual, int gz, uint64_t seed)
{
    size_t px = actual * rows * cols;
    uint8_t *buf = xmalloc(16 + px);

    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    fill_random(buf + 16, px, seed);
    write_raw(path, buf, 16 + px, gz);
    memmove(buf, buf + 16, px);
    return buf;
}


static void write_idx_labels(const char *path, const uint8_t *labels, size_t n, int gz)
{
    uint8_t *buf = xmalloc(8 + n);

    put_be32(buf, 0x00000801u);
    put_be32(buf + 4, (uint32_t)n);
    memcpy(buf + 8, labels, n);
    write_raw(path, buf, 8 + n, gz);
    free(buf);
}


/* An 8-bit gray (c = 1) or RGB (c = 3) PNG from interleaved [h, w, c] pixels. */
static void write_png(const char *path, const uint8_t *pix, int w, int h, int c)
{
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);

    HASSERT(fp != NULL && png != NULL && info != NULL);
    if (setjmp(png_jmpbuf(png)))
        die_at(__FILE__, __LINE__, __func__, NULL, "libpng failed writing %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, pix + (size_t)y * w * c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    HASSERT(fclose(fp) == 0);
}


/* A PNG of any colour type and depth from packed rows of `stride` bytes; `interlace` writes
 * Adam7. plte (n entries) is for palette images. */
static void write_png_ex(const char *path, const uint8_t *rows, size_t stride, int w, int h,
                         int color, int depth, int interlace, const png_color *plte, int n)
{
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *ptrs = xmalloc((size_t)h * sizeof(png_bytep));

    HASSERT(fp != NULL && png != NULL && info != NULL);
    if (setjmp(png_jmpbuf(png)))
        die_at(__FILE__, __LINE__, __func__, NULL, "libpng failed writing %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (plte != NULL)
        png_set_PLTE(png, info, plte, n);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        ptrs[y] = (png_bytep)(rows + (size_t)y * stride);
    png_write_image(png, ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(ptrs);
    HASSERT(fclose(fp) == 0);
}


/* A quality-100 JPEG without chroma subsampling, so decoding comes back within a few levels. */
static void write_jpeg(const char *path, const uint8_t *pix, int w, int h, int c)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    FILE *fp = fopen(path, "wb");

    HASSERT(fp != NULL);
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, fp);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 100, TRUE);
    for (int i = 0; i < cinfo.num_components; i++)
        cinfo.comp_info[i].h_samp_factor = cinfo.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    HASSERT(fclose(fp) == 0);
}


/* Smooth content with a little noise: what a JPEG keeps well. Interleaved [h, w, c]. */
static uint8_t *smooth_image(int w, int h, int c, uint64_t seed)
{
    uint8_t *p = xmalloc((size_t)w * h * c);
    Rng r = rng_stream(seed, 98, 0, 0);

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                p[((size_t)y * w + x) * c + k] =
                    (uint8_t)(40 + 9 * x + 7 * y + 50 * k + (int)(rng_next(&r) >> 62));
    return p;
}


static void flip_byte(const char *path, long offset)
{
    FILE *fp = fopen(path, "r+b");
    int ch;

    HASSERT(fp != NULL && fseek(fp, offset, SEEK_SET) == 0);
    ch = fgetc(fp);
    HASSERT(ch != EOF && fseek(fp, offset, SEEK_SET) == 0);
    fputc(ch ^ 0x5A, fp);
    HASSERT(fclose(fp) == 0);
}


static long file_size(const char *path)
{
    struct stat st;

    HASSERT(stat(path, &st) == 0);
    return (long)st.st_size;
}


/* --- running a loader that must fail --- */

typedef enum { JOB_IDX, JOB_CIFAR, JOB_FOLDER, JOB_NAMED, JOB_SUBSET } JobKind;

typedef struct {
    JobKind kind;
    const char *a, *b;      /* paths, or a dataset name and path */
    int k;                  /* classes, or subset size */
} Job;


static void run_job(const Job *j)
{
    Dataset d = { 0 }, t = { 0 };

    switch (j->kind) {
    case JOB_IDX: idx_load(&d, j->a, j->b, j->k, "test"); break;
    case JOB_CIFAR: cifar_load(&d, &j->a, 1, j->k, "test"); break;
    case JOB_FOLDER: image_folder_load(&d, &t, j->a); break;
    case JOB_NAMED: dataset_load(&d, &t, j->a, j->b); break;
    case JOB_SUBSET:
        dataset_alloc(&t, 50, 1, 2, 3, 7, "fifty");
        dataset_subset(&d, &t, (size_t)j->k, 1);
        break;
    }
    dataset_free(&d);
    dataset_free(&t);
}


/* Runs the job in a child; passes when it exits 2 with every phrase in its stderr. */
static void expect_error(const char *name, Job j, const char *const *phrases)
{
    int fd[2], status = 0, ok;
    char err[4096], detail[4400], junk[512];
    size_t len = 0;
    ssize_t r;
    pid_t pid;

    HASSERT(pipe(fd) == 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    HASSERT(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        close(fd[1]);
        run_job(&j);
        _exit(0);
    }
    close(fd[1]);
    while ((r = read(fd[0], len < sizeof(err) - 1 ? err + len : junk,
                     len < sizeof(err) - 1 ? sizeof(err) - 1 - len : sizeof(junk))) > 0)
        if (len < sizeof(err) - 1)
            len += (size_t)r;
    err[len] = '\0';
    close(fd[0]);
    HASSERT(waitpid(pid, &status, 0) == pid);

    ok = WIFEXITED(status) && WEXITSTATUS(status) == 2;
    for (int i = 0; phrases[i] != NULL; i++)
        ok = ok && strstr(err, phrases[i]) != NULL;
    if (len > 0 && err[len - 1] == '\n')
        err[len - 1] = '\0';
    if (WIFEXITED(status))
        snprintf(detail, sizeof(detail), "exit %d, stderr \"%s\"", WEXITSTATUS(status), err);
    else
        snprintf(detail, sizeof(detail), "killed by signal %d, stderr \"%s\"",
                 WTERMSIG(status), err);
    check_true(ok, name, detail);
}

#define PHRASES(...) ((const char *const[]){ __VA_ARGS__, NULL })


/* --- checks on loaded data --- */

static void check_shape(const Dataset *d, size_t n, int c, int h, int w, int K, const char *name)
{
    char detail[200];

    snprintf(detail, sizeof(detail), "observed n=%zu %dx%dx%d K=%d, expected n=%zu %dx%dx%d K=%d",
             d->n, d->channels, d->height, d->width, d->num_classes, n, c, h, w, K);
    check_true(d->n == n && d->channels == c && d->height == h && d->width == w
               && d->num_classes == K, name, detail);
}


static void check_bytes(const uint8_t *got, const uint8_t *want, size_t len, const char *name)
{
    char detail[160];
    size_t i = 0;

    while (i < len && got[i] == want[i])
        i++;
    if (i == len)
        snprintf(detail, sizeof(detail), "%zu bytes identical", len);
    else
        snprintf(detail, sizeof(detail), "byte %zu of %zu: observed %u, expected %u", i, len,
                 got[i], want[i]);
    check_true(i == len, name, detail);
}


static void check_labels(const Dataset *d, const uint8_t *want, const char *name)
{
    char detail[160];
    size_t i = 0;

    while (i < d->n && d->labels[i] == want[i])
        i++;
    if (i == d->n)
        snprintf(detail, sizeof(detail), "%zu labels identical", d->n);
    else
        snprintf(detail, sizeof(detail), "label %zu: observed %d, expected %u", i, d->labels[i],
                 want[i]);
    check_true(i == d->n, name, detail);
}


/* Planar [c, h, w] from interleaved [h, w, c]. */
static uint8_t *to_planar(const uint8_t *hwc, int w, int h, int c)
{
    uint8_t *out = xmalloc((size_t)w * h * c);

    for (int k = 0; k < c; k++)
        for (int p = 0; p < w * h; p++)
            out[(size_t)k * w * h + p] = hwc[(size_t)p * c + k];
    return out;
}


/* --- IDX --- */

static void test_idx_good(int gz)
{
    const char *img = tpath("idx%d/images.idx%s", gz, gz ? ".gz" : "");
    const char *lab = tpath("idx%d/labels.idx%s", gz, gz ? ".gz" : "");
    uint8_t labels[7] = { 3, 9, 0, 4, 4, 7, 1 };
    uint8_t *px = write_idx_images(img, 0x00000803u, 7, 5, 6, 7, gz, 11);
    Dataset d;

    write_idx_labels(lab, labels, 7, gz);
    idx_load(&d, img, lab, 10, "idx");
    check_shape(&d, 7, 1, 5, 6, 10, gz ? "idx gzip shape 7x1x5x6" : "idx plain shape 7x1x5x6");
    check_bytes(d.pixels, px, 7 * 30, gz ? "idx gzip pixels round-trip" : "idx plain pixels");
    check_labels(&d, labels, gz ? "idx gzip labels round-trip" : "idx plain labels");
    dataset_free(&d);
    free(px);
}


static void test_idx_errors(void)
{
    const char *lab7 = tpath("idxe/labels7.gz"), *lab6 = tpath("idxe/labels6.gz");
    const char *img7 = tpath("idxe/images7.gz"), *p;
    uint8_t labels[100] = { 1, 2, 3, 4, 5, 6, 7 };
    uint8_t swapped[16] = { 0x03, 0x08, 0, 0, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 6 };

    write_idx_labels(lab7, labels, 7, 1);
    write_idx_labels(lab6, labels, 6, 1);
    free(write_idx_images(img7, 0x00000803u, 7, 5, 6, 7, 1, 12));

    p = tpath("idxe/swapped.gz");
    write_raw(p, swapped, sizeof(swapped), 1);
    expect_error("idx byte-swapped magic 03 08 00 00 rejected", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "0x00000803", "byte-swapped"));

    p = tpath("idxe/header60000.gz");
    free(write_idx_images(p, 0x00000803u, 60000, 28, 28, 0, 1, 13));
    expect_error("idx header 0000EA60 0000001C 0000001C read as 60000 of 28x28",
                 (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "60000 images of 28x28", "47040016 bytes expected, 16 found"));

    p = tpath("idxe/short99.gz");
    free(write_idx_images(p, 0x00000803u, 100, 28, 28, 99, 1, 14));
    expect_error("idx 100 claimed, 99 held", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "78416 bytes expected, 77632 found"));

    p = tpath("idxe/short99.raw");
    free(write_idx_images(p, 0x00000803u, 100, 28, 28, 99, 0, 14));
    expect_error("idx plain 100 claimed, 99 held", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "78416 bytes expected, 77632 found"));

    p = tpath("idxe/long101.gz");
    free(write_idx_images(p, 0x00000803u, 100, 28, 28, 101, 1, 15));
    expect_error("idx trailing bytes rejected", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "78416 bytes expected, 79200 found"));

    p = tpath("idxe/truncated.gz");
    free(write_idx_images(p, 0x00000803u, 100, 28, 28, 100, 1, 16));
    HASSERT(truncate(p, file_size(p) / 2) == 0);
    expect_error("idx truncated gzip stream", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "truncated"));

    p = tpath("idxe/corrupt.gz");
    free(write_idx_images(p, 0x00000803u, 100, 28, 28, 100, 1, 17));
    flip_byte(p, file_size(p) / 2);
    expect_error("idx corrupt gzip data", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "corrupt gzip data"));

    p = tpath("idxe/header10.gz");
    write_raw(p, (const uint8_t[]){ 0, 0, 8, 3, 0, 0, 0, 7, 0, 0 }, 10, 1);
    expect_error("idx header cut short", (Job){ JOB_IDX, p, lab7, 10 },
                 PHRASES(p, "16 bytes expected, 10 found"));

    expect_error("idx label count differs", (Job){ JOB_IDX, img7, lab6, 10 },
                 PHRASES(img7, lab6, "7 images", "6 labels"));

    p = tpath("idxe/labels_bad.gz");
    labels[5] = 10;
    write_idx_labels(p, labels, 7, 1);
    expect_error("idx label 10 outside [0,10)", (Job){ JOB_IDX, img7, p, 10 },
                 PHRASES(p, "label 10", "0 to 9"));

    expect_error("idx image file as label file", (Job){ JOB_IDX, img7, img7, 10 },
                 PHRASES(img7, "0x00000801", "0x00000803"));

    p = tpath("idxe/missing.gz");
    expect_error("idx missing file", (Job){ JOB_IDX, p, lab7, 10 }, PHRASES(p, "cannot open"));
}


/* --- CIFAR --- */

/* `count` records with random pixels and labels below K; returns the records (caller frees). */
static uint8_t *write_cifar(const char *path, size_t count, int K, uint64_t seed)
{
    size_t rec = K == 10 ? 3073 : 3074;
    uint8_t *buf = xmalloc(count * rec);

    fill_random(buf, count * rec, seed);
    for (size_t i = 0; i < count; i++) {
        if (K == 100)
            buf[i * rec] %= 20;
        buf[i * rec + rec - 3073] %= (uint8_t)K;
    }
    write_raw(path, buf, count * rec, 0);
    return buf;
}


static void check_cifar(const Dataset *d, uint8_t **recs, const size_t *counts, int nfiles,
                        int K, const char *name)
{
    size_t rec = K == 10 ? 3073 : 3074, i = 0, bad = SIZE_MAX;
    char detail[160];

    for (int f = 0; f < nfiles; f++)
        for (size_t j = 0; j < counts[f]; j++, i++) {
            const uint8_t *r = recs[f] + j * rec;
            if (bad == SIZE_MAX && (d->labels[i] != r[rec - 3073]
                                    || memcmp(dataset_image(d, i), r + rec - 3072, 3072) != 0))
                bad = i;
        }
    snprintf(detail, sizeof(detail), bad == SIZE_MAX ? "%zu records identical"
             : "record %zu differs", bad == SIZE_MAX ? i : bad);
    check_true(bad == SIZE_MAX && i == d->n, name, detail);
}


static void test_cifar(void)
{
    size_t counts[6] = { 2, 3, 1, 2, 4, 3 }, c100[2] = { 5, 2 };
    uint8_t *recs[6];
    Dataset tr, te;
    const char *p;

    for (int f = 0; f < 5; f++)
        recs[f] = write_cifar(tpath("c10/data_batch_%d.bin", f + 1), counts[f], 10, 20 + f);
    recs[5] = write_cifar(tpath("c10/test_batch.bin"), counts[5], 10, 26);
    dataset_load(&tr, &te, "cifar10", tpath("c10"));
    check_shape(&tr, 12, 3, 32, 32, 10, "cifar10 train shape");
    check_shape(&te, 3, 3, 32, 32, 10, "cifar10 test shape");
    check_cifar(&tr, recs, counts, 5, 10, "cifar10 train round-trip in batch order");
    check_cifar(&te, recs + 5, counts + 5, 1, 10, "cifar10 test round-trip");
    check_true(tr.class_names != NULL && strcmp(tr.class_names[9], "truck") == 0,
               "cifar10 class 9 is truck", tr.class_names ? tr.class_names[9] : "(none)");
    dataset_free(&tr);
    dataset_free(&te);
    for (int f = 0; f < 6; f++)
        free(recs[f]);

    recs[0] = write_cifar(tpath("c100/train.bin"), c100[0], 100, 30);
    recs[1] = write_cifar(tpath("c100/test.bin"), c100[1], 100, 31);
    dataset_load(&tr, &te, "cifar100", tpath("c100"));
    check_shape(&tr, 5, 3, 32, 32, 100, "cifar100 train shape");
    check_cifar(&tr, recs, c100, 1, 100, "cifar100 train round-trip, fine labels");
    check_cifar(&te, recs + 1, c100 + 1, 1, 100, "cifar100 test round-trip");
    dataset_free(&tr);
    dataset_free(&te);
    free(recs[0]);
    free(recs[1]);

    p = tpath("c10e/partial.bin");
    free(write_cifar(p, 2, 10, 32));
    HASSERT(truncate(p, 2 * 3073 + 5) == 0);
    expect_error("cifar size not whole records", (Job){ JOB_CIFAR, p, NULL, 10 },
                 PHRASES(p, "6151 bytes", "3073-byte records"));

    p = tpath("c10e/c100_as_c10.bin");
    free(write_cifar(p, 3, 100, 33));
    expect_error("cifar100 file read as cifar10", (Job){ JOB_CIFAR, p, NULL, 10 },
                 PHRASES(p, "9222 bytes", "3073-byte records"));

    p = tpath("c10e/label10.bin");
    recs[0] = write_cifar(p, 3, 10, 34);
    recs[0][3073] = 10;
    write_raw(p, recs[0], 3 * 3073, 0);
    free(recs[0]);
    expect_error("cifar10 label 10 rejected", (Job){ JOB_CIFAR, p, NULL, 10 },
                 PHRASES(p, "label 10 in record 1", "0 to 9"));

    p = tpath("c10e/fine100.bin");
    recs[0] = write_cifar(p, 2, 100, 35);
    recs[0][3074 + 1] = 100;
    write_raw(p, recs[0], 2 * 3074, 0);
    free(recs[0]);
    expect_error("cifar100 fine label 100 rejected", (Job){ JOB_CIFAR, p, NULL, 100 },
                 PHRASES(p, "label 100 in record 1", "0 to 99"));

    free(write_cifar(tpath("c10m/data_batch_1.bin"), 1, 10, 36));
    expect_error("cifar10 missing batch", (Job){ JOB_NAMED, "cifar10", tpath("c10m"), 0 },
                 PHRASES("cannot open", "data_batch_2.bin"));
}


/* --- image folders --- */

static void test_folder_png_gray(void)
{
    uint8_t *a = xmalloc(35), *b = xmalloc(35), *z = xmalloc(35), *c = xmalloc(35);
    Dataset tr, te;

    fill_random(a, 35, 40);
    fill_random(b, 35, 41);
    fill_random(z, 35, 42);
    fill_random(c, 35, 43);
    /* Written out of order on purpose: the loader must sort classes and files by name. */
    write_png(tpath("fg/train/cat/b.png"), b, 7, 5, 1);
    write_png(tpath("fg/train/cat/a.png"), a, 7, 5, 1);
    write_png(tpath("fg/train/ant/z.png"), z, 7, 5, 1);
    write_raw(tpath("fg/train/cat/.DS_Store"), "junk", 4, 0);
    write_png(tpath("fg/test/cat/c.png"), c, 7, 5, 1);

    dataset_load(&tr, &te, "folder", tpath("fg"));
    check_shape(&tr, 3, 1, 5, 7, 2, "folder gray png train shape (dotfile skipped)");
    check_shape(&te, 1, 1, 5, 7, 2, "folder gray png test shape");
    check_true(strcmp(tr.class_names[0], "ant") == 0 && strcmp(tr.class_names[1], "cat") == 0,
               "folder classes sorted by name", tr.class_names[0]);
    check_bytes(dataset_image(&tr, 0), z, 35, "folder png ant/z.png first");
    check_bytes(dataset_image(&tr, 1), a, 35, "folder png cat/a.png before cat/b.png");
    check_bytes(dataset_image(&tr, 2), b, 35, "folder png cat/b.png");
    check_bytes(dataset_image(&te, 0), c, 35, "folder png test image");
    check_labels(&tr, (const uint8_t[]){ 0, 1, 1 }, "folder train labels by class");
    check_labels(&te, (const uint8_t[]){ 1 }, "folder test label maps to train's class");
    dataset_free(&tr);
    dataset_free(&te);
    free(a);
    free(b);
    free(z);
    free(c);
}


/* Mean and max absolute difference between a decoded JPEG and what was encoded. */
static void check_jpeg_close(const uint8_t *got, const uint8_t *want, size_t len,
                             const char *name)
{
    double sum = 0.0;
    int mx = 0;
    char detail[160];

    for (size_t i = 0; i < len; i++) {
        int e = abs((int)got[i] - (int)want[i]);
        sum += e;
        mx = e > mx ? e : mx;
    }
    snprintf(detail, sizeof(detail), "mean |err| %.3f (tol 1.5), max %d (tol 8)", sum / len, mx);
    check_true(sum / len <= 1.5 && mx <= 8, name, detail);
}


static void test_folder_rgb(void)
{
    int w = 16, h = 12;
    size_t len = (size_t)w * h * 3;
    uint8_t *png1 = xmalloc(len), *png4 = xmalloc(len);
    uint8_t *jpg2 = smooth_image(w, h, 3, 51), *jpg3 = smooth_image(w, h, 3, 52);
    uint8_t *gray = smooth_image(w, h, 1, 53), *pl;
    Dataset tr, te;

    fill_random(png1, len, 50);
    fill_random(png4, len, 54);
    write_png(tpath("fc/train/x/1.png"), png1, w, h, 3);
    write_jpeg(tpath("fc/train/x/2.jpg"), jpg2, w, h, 3);
    write_jpeg(tpath("fc/train/y/3.jpeg"), jpg3, w, h, 3);
    write_png(tpath("fc/test/y/4.png"), png4, w, h, 3);

    dataset_load(&tr, &te, "folder", tpath("fc"));
    check_shape(&tr, 3, 3, h, w, 2, "folder rgb train shape");
    pl = to_planar(png1, w, h, 3);
    check_bytes(dataset_image(&tr, 0), pl, len, "folder rgb png planar round-trip");
    free(pl);
    pl = to_planar(jpg2, w, h, 3);
    check_jpeg_close(dataset_image(&tr, 1), pl, len, "folder rgb jpeg q100 round-trip");
    free(pl);
    pl = to_planar(png4, w, h, 3);
    check_bytes(dataset_image(&te, 0), pl, len, "folder rgb png test round-trip");
    free(pl);
    check_labels(&tr, (const uint8_t[]){ 0, 0, 1 }, "folder rgb labels");
    dataset_free(&tr);
    dataset_free(&te);

    write_jpeg(tpath("fj/train/only/g.jpg"), gray, w, h, 1);
    write_jpeg(tpath("fj/test/only/g.jpg"), gray, w, h, 1);
    dataset_load(&tr, &te, "folder", tpath("fj"));
    check_shape(&tr, 1, 1, h, w, 1, "folder gray jpeg gives 1 channel");
    check_jpeg_close(dataset_image(&tr, 0), gray, (size_t)w * h, "folder gray jpeg round-trip");
    dataset_free(&tr);
    dataset_free(&te);
    free(png1);
    free(jpg2);
    free(jpg3);
    free(png4);
    free(gray);
}


/* Palette, RGBA, interlaced and 16-bit PNGs all become plain 8-bit gray or RGB. */
static void test_folder_png_variants(void)
{
    enum { W = 9, H = 6, NPX = W * H };
    png_color plte[4] = { { 200, 10, 30 }, { 0, 255, 7 }, { 33, 66, 99 }, { 250, 251, 252 } };
    uint8_t idx[NPX], rgba[NPX * 4], rgb[NPX * 3], want[3][NPX * 3], gray16[NPX * 2], g8[NPX];
    uint8_t *pl;
    Dataset tr, te;

    fill_random(rgba, sizeof(rgba), 70);
    fill_random(rgb, sizeof(rgb), 71);
    fill_random(g8, sizeof(g8), 72);
    for (int p = 0; p < NPX; p++) {
        idx[p] = (uint8_t)((p * 7 + 3) % 4);
        want[0][p * 3] = plte[idx[p]].red;
        want[0][p * 3 + 1] = plte[idx[p]].green;
        want[0][p * 3 + 2] = plte[idx[p]].blue;
        memcpy(want[1] + p * 3, rgba + p * 4, 3);
        gray16[2 * p] = gray16[2 * p + 1] = g8[p];   /* v * 257 scales back to v exactly */
    }
    memcpy(want[2], rgb, sizeof(rgb));
    write_png_ex(tpath("fv/train/k/a_palette.png"), idx, W, W, H, PNG_COLOR_TYPE_PALETTE, 8, 0,
                 plte, 4);
    write_png_ex(tpath("fv/train/k/b_rgba.png"), rgba, W * 4, W, H, PNG_COLOR_TYPE_RGBA, 8, 0,
                 NULL, 0);
    write_png_ex(tpath("fv/train/k/c_adam7.png"), rgb, W * 3, W, H, PNG_COLOR_TYPE_RGB, 8, 1,
                 NULL, 0);
    write_png_ex(tpath("fv/test/k/d.png"), rgb, W * 3, W, H, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0);
    dataset_load(&tr, &te, "folder", tpath("fv"));
    check_shape(&tr, 3, 3, H, W, 1, "folder palette/rgba/interlaced png give 3 channels");
    for (int i = 0; i < 3 && tr.n == 3; i++) {
        static const char *names[3] = { "folder palette png expands to its colours",
                                        "folder rgba png drops alpha",
                                        "folder interlaced png round-trip" };
        pl = to_planar(want[i], W, H, 3);
        check_bytes(dataset_image(&tr, (size_t)i), pl, NPX * 3, names[i]);
        free(pl);
    }
    dataset_free(&tr);
    dataset_free(&te);

    write_png_ex(tpath("f16/train/k/a.png"), gray16, W * 2, W, H, PNG_COLOR_TYPE_GRAY, 16, 0,
                 NULL, 0);
    write_png_ex(tpath("f16/test/k/b.png"), gray16, W * 2, W, H, PNG_COLOR_TYPE_GRAY, 16, 0,
                 NULL, 0);
    dataset_load(&tr, &te, "folder", tpath("f16"));
    check_shape(&tr, 1, 1, H, W, 1, "folder 16-bit gray png gives 1 channel");
    check_bytes(tr.pixels, g8, NPX, "folder 16-bit png scaled to 8 bits");
    dataset_free(&tr);
    dataset_free(&te);
}


static void test_folder_errors(void)
{
    uint8_t *im = smooth_image(8, 6, 3, 60);
    const char *p;
    long size;

    write_png(tpath("fs/train/a/1.png"), im, 7, 5, 3);
    write_png(p = tpath("fs/train/a/2.png"), im, 8, 5, 3);
    write_png(tpath("fs/test/a/3.png"), im, 7, 5, 3);
    expect_error("folder mixed sizes rejected", (Job){ JOB_FOLDER, tpath("fs"), NULL, 0 },
                 PHRASES(p, "8x5 with 3 channels", "expected 7x5 with 3 channels"));

    write_png(tpath("fm/train/a/1.png"), im, 7, 5, 1);
    write_png(tpath("fm/train/b/1.png"), im, 7, 5, 3);
    write_png(tpath("fm/test/a/3.png"), im, 7, 5, 1);
    expect_error("folder mixed channels rejected", (Job){ JOB_FOLDER, tpath("fm"), NULL, 0 },
                 PHRASES("fm/train/b/1.png", "3 channels", "expected 7x5 with 1 channel"));

    write_png(tpath("ft/train/a/1.png"), im, 7, 5, 3);
    write_png(tpath("ft/test/a/2.png"), im, 7, 6, 3);
    expect_error("folder test size must match train", (Job){ JOB_FOLDER, tpath("ft"), NULL, 0 },
                 PHRASES("ft/test/a/2.png", "7x6", "expected 7x5"));

    write_png(tpath("fn/train/a/1.png"), im, 7, 5, 3);
    write_raw(p = tpath("fn/train/a/notes.txt"), "not an image\n", 13, 0);
    write_png(tpath("fn/test/a/2.png"), im, 7, 5, 3);
    expect_error("folder non-image file rejected", (Job){ JOB_FOLDER, tpath("fn"), NULL, 0 },
                 PHRASES(p, "not a PNG or JPEG"));

    write_png(p = tpath("fp/train/a/1.png"), im, 8, 6, 3);
    write_png(tpath("fp/test/a/2.png"), im, 8, 6, 3);
    flip_byte(p, file_size(p) - 30);   /* inside the IDAT data: its CRC no longer matches */
    expect_error("folder corrupt png rejected", (Job){ JOB_FOLDER, tpath("fp"), NULL, 0 },
                 PHRASES(p, "not a readable PNG image"));

    write_jpeg(p = tpath("fq/train/a/1.jpg"), im, 8, 6, 3);
    write_jpeg(tpath("fq/test/a/2.jpg"), im, 8, 6, 3);
    size = file_size(p);
    HASSERT(truncate(p, size / 2) == 0);
    expect_error("folder truncated jpeg rejected", (Job){ JOB_FOLDER, tpath("fq"), NULL, 0 },
                 PHRASES(p, "not a readable JPEG image", "Premature end"));

    p = tpath("fr/train/a/1.jpg");
    write_raw(p, (const uint8_t[]){ 0xFF, 0xD8, 0xFF, 0x12, 0x34, 0x56, 0x78, 0x9A }, 8, 0);
    write_jpeg(tpath("fr/test/a/2.jpg"), im, 8, 6, 3);
    expect_error("folder garbage jpeg rejected", (Job){ JOB_FOLDER, tpath("fr"), NULL, 0 },
                 PHRASES(p, "not a readable JPEG image"));

    write_png(tpath("fx/train/a/1.png"), im, 7, 5, 3);
    write_png(tpath("fx/test/dog/2.png"), im, 7, 5, 3);
    expect_error("folder test class absent from train", (Job){ JOB_FOLDER, tpath("fx"), NULL, 0 },
                 PHRASES("class 'dog'", "train/"));

    write_png(tpath("fy/train/a/1.png"), im, 7, 5, 3);
    expect_error("folder without test/", (Job){ JOB_FOLDER, tpath("fy"), NULL, 0 },
                 PHRASES("cannot open folder", "fy/test"));

    write_png(tpath("fz/train/a/1.png"), im, 7, 5, 3);
    write_raw(p = tpath("fz/train/README"), "x", 1, 0);
    expect_error("folder stray file among classes", (Job){ JOB_FOLDER, tpath("fz"), NULL, 0 },
                 PHRASES(p, "not a folder"));
    free(im);
}


/* --- loader by name, subsets --- */

static void test_named_errors(void)
{
    expect_error("unknown dataset name", (Job){ JOB_NAMED, "imagenet", "/x", 0 },
                 PHRASES("unknown dataset 'imagenet'", "fashion-mnist"));
    expect_error("cifar10 without a path", (Job){ JOB_NAMED, "cifar10", NULL, 0 },
                 PHRASES("cifar10 needs a path"));
    expect_error("fashion-mnist at a missing folder",
                 (Job){ JOB_NAMED, "fashion-mnist", tpath("nowhere"), 0 },
                 PHRASES("nowhere", "make data"));
}


static void test_subset(void)
{
    Dataset in, s1, s2, s3;
    size_t prev = 0;
    int ok = 1, same, differ;
    char detail[160];

    /* Image i holds the bytes of i, so a subset image says where it came from. */
    dataset_alloc(&in, 50, 1, 2, 3, 7, "fifty");
    for (size_t i = 0; i < 50; i++) {
        memset(dataset_image(&in, i), (int)i, 6);
        in.labels[i] = (int32_t)(i % 7);
    }
    dataset_subset(&s1, &in, 20, 42);
    dataset_subset(&s2, &in, 20, 42);
    dataset_subset(&s3, &in, 20, 43);
    for (size_t i = 0; i < s1.n; i++) {
        size_t src = dataset_image(&s1, i)[0];
        ok = ok && (i == 0 || src > prev) && s1.labels[i] == (int32_t)(src % 7)
             && dataset_image(&s1, i)[5] == src;
        prev = src;
    }
    check_shape(&s1, 20, 1, 2, 3, 7, "subset shape");
    check_true(ok, "subset images distinct, in source order, labels carried", NULL);
    same = memcmp(s1.pixels, s2.pixels, 120) == 0 && memcmp(s1.labels, s2.labels, 80) == 0;
    differ = memcmp(s1.pixels, s3.pixels, 120) != 0;
    snprintf(detail, sizeof(detail), "same seed identical %d, other seed differs %d", same, differ);
    check_true(same && differ, "subset deterministic by seed", detail);
    dataset_free(&s1);
    dataset_free(&s2);
    dataset_free(&s3);

    dataset_subset(&s1, &in, 50, 7);
    ok = 1;
    for (size_t i = 0; i < 50; i++)
        ok = ok && dataset_image(&s1, i)[0] == i;
    check_true(ok, "subset of all 50 is the whole set in order", NULL);
    dataset_free(&s1);
    dataset_free(&in);
    expect_error("subset larger than the set", (Job){ JOB_SUBSET, NULL, NULL, 51 },
                 PHRASES("51 images", "only 50"));
}


/* --- the real Fashion-MNIST, when installed --- */

static void check_per_class(const Dataset *d, size_t want, const char *name)
{
    size_t count[10] = { 0 };
    int in_range = 1, ok;
    char detail[200];

    for (size_t i = 0; i < d->n; i++) {
        if (d->labels[i] < 0 || d->labels[i] > 9)
            in_range = 0;
        else
            count[d->labels[i]]++;
    }
    ok = in_range;
    for (int k = 0; k < 10; k++)
        ok = ok && count[k] == want;
    snprintf(detail, sizeof(detail), "labels in 0..9: %d; class 0: %zu, class 9: %zu, "
             "expected %zu each", in_range, count[0], count[9], want);
    check_true(ok, name, detail);
}


static void test_fashion_mnist(void)
{
    struct stat st;
    Dataset tr, te;
    double t0;
    char detail[64];

    if (stat(FASHION_MNIST_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP fashion-mnist: %s is absent (make data installs it)\n", FASHION_MNIST_DIR);
        return;
    }
    t0 = now_seconds();
    dataset_load(&tr, &te, "fashion-mnist", NULL);
    snprintf(detail, sizeof(detail), "loaded in %.2f s", now_seconds() - t0);
    check_true(1, "fashion-mnist loads", detail);
    check_shape(&tr, 60000, 1, 28, 28, 10, "fashion-mnist train 60000 of 28x28");
    check_shape(&te, 10000, 1, 28, 28, 10, "fashion-mnist test 10000 of 28x28");
    check_per_class(&tr, 6000, "fashion-mnist train 6000 per class");
    check_per_class(&te, 1000, "fashion-mnist test 1000 per class");
    check_true(tr.labels[0] == 9 && strcmp(tr.class_names[9], "Ankle boot") == 0,
               "fashion-mnist first train label is 9 (Ankle boot)", tr.class_names[tr.labels[0]]);
    dataset_free(&tr);
    dataset_free(&te);
}


static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}


int main(void)
{
    snprintf(TMP, sizeof(TMP), "/tmp/hasten_readers_XXXXXX");
    HASSERT(mkdtemp(TMP) != NULL);
    printf("test_readers: files under %s\n", TMP);

    test_idx_good(1);
    test_idx_good(0);
    test_idx_errors();
    test_cifar();
    test_folder_png_gray();
    test_folder_rgb();
    test_folder_png_variants();
    test_folder_errors();
    test_named_errors();
    test_subset();
    test_fashion_mnist();

    nftw(TMP, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary();
}
