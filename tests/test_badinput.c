/* test_badinput.c: every way a user can hand hasten a bad input, one table row each.
 * A row is a command line of the built program (HASTEN_BIN, else build/hasten), the input
 * files it needs (made here, in a fresh folder per row), the exit status and a phrase stderr
 * must hold. After each run the row's folder must be exactly as before: no file created,
 * changed or removed (name, size, mtime and content hash), and no "*.tmp-*" or "*.lock" left.
 * The programs run with system(), never a fork of this process (libgomp may hang in one). */
#include "check.h"
#include "test_util.h"

#include "common.h"
#include "h5io.h"

#include <errno.h>
#include <ftw.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char base[64];       /* this run's temp folder */
static char good_run[128];  /* a finished tiny run file every HDF5 row copies */
static long good_last;      /* its last checkpoint step */

/* ---- files ---- */

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    CHECK_FOPEN(f, path);
    CHECK_IO(fwrite(data, 1, len, f) == len && fclose(f) == 0, path);
}


static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");

    HASSERT(g != NULL);
    HASSERT(len == 0 || gzwrite(g, data, (unsigned)len) == (int)len);
    HASSERT(gzclose(g) == Z_OK);
}


static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_bytes(path, text, strlen(text));
}


static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}


/* An IDX image file of n 28x28 images with the given magic (gzip'd), pixels pseudo-random. */
static void idx_images(const char *path, uint32_t magic, uint32_t n)
{
    size_t len = 16 + (size_t)n * 28 * 28;
    uint8_t *b = xmalloc(len);

    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, 28);
    put_be32(b + 12, 28);
    for (size_t i = 16; i < len; i++)
        b[i] = (uint8_t)(i * 2654435761u >> 13);
    write_gz(path, b, len);
    free(b);
}


static void idx_labels(const char *path, uint32_t n)
{
    uint8_t *b = xmalloc(8 + n);

    put_be32(b, 0x00000801u);
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (uint8_t)(i * 7 % 10);
    write_gz(path, b, 8 + n);
    free(b);
}


/* dir/fm: a Fashion-MNIST folder of 40 train and 20 test images, all valid. */
static void fm_folder(const char *dir, char *fm)
{
    char p[512];

    snprintf(fm, 512, "%s/fm", dir);
    HASSERT(mkdir(fm, 0755) == 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fm);
    idx_images(p, 0x00000803u, 40);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", fm);
    idx_labels(p, 40);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", fm);
    idx_images(p, 0x00000803u, 20);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", fm);
    idx_labels(p, 20);
}


static void setup_fm_bad_magic(const char *dir)
{
    char fm[512], p[600];

    fm_folder(dir, fm);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fm);
    idx_images(p, 0x00000804u, 40);
}


static void setup_fm_count_mismatch(const char *dir)
{
    char fm[512], p[600];

    fm_folder(dir, fm);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", fm);
    idx_labels(p, 19);
}


static void setup_fm_truncated_gz(const char *dir)
{
    char fm[512], p[600];
    struct stat st;

    fm_folder(dir, fm);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fm);
    HASSERT(stat(p, &st) == 0 && truncate(p, st.st_size / 2) == 0);
}


static void setup_fm_header_lies(const char *dir)
{
    char fm[512], p[600];
    uint8_t hdr[16];

    fm_folder(dir, fm);
    /* A header claiming 4 billion images of 65535 x 65535, and nothing after it. */
    put_be32(hdr, 0x00000803u);
    put_be32(hdr + 4, 0xFFFFFFFFu);
    put_be32(hdr + 8, 65535);
    put_be32(hdr + 12, 65535);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fm);
    write_gz(p, hdr, sizeof hdr);
}


static void setup_fm_plain_garbage(const char *dir)
{
    char fm[512], p[600];
    static const char junk[] = "\x1f\x8b\x08\x00garbage that is no deflate stream";

    fm_folder(dir, fm);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", fm);
    write_bytes(p, junk, sizeof junk - 1);
}


/* dir/c10: CIFAR-10 batches of 3 records each; batch 2 has 100 stray bytes at its end. */
static void setup_cifar_partial(const char *dir)
{
    char c10[512], p[600];
    size_t rec = 3073;
    uint8_t *b = xcalloc(3 * rec + 100, 1);

    snprintf(c10, sizeof c10, "%s/c10", dir);
    HASSERT(mkdir(c10, 0755) == 0);
    for (int i = 1; i <= 6; i++) {
        if (i <= 5)
            snprintf(p, sizeof p, "%s/data_batch_%d.bin", c10, i);
        else
            snprintf(p, sizeof p, "%s/test_batch.bin", c10);
        write_bytes(p, b, 3 * rec + (i == 2 ? 100 : 0));
    }
    free(b);
}


static void setup_cifar_bad_label(const char *dir)
{
    char p[600];
    uint8_t *b = xcalloc(3073, 1);

    setup_cifar_partial(dir);
    snprintf(p, sizeof p, "%s/c10/data_batch_2.bin", dir);
    b[0] = 10;
    write_bytes(p, b, 3073);
    free(b);
}


static void write_png(const char *path, int w, int h)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    uint8_t *row = xcalloc((size_t)w * 3, 1);

    CHECK_FOPEN(f, path);
    HASSERT(png != NULL && info != NULL && !setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < 3 * w; x++)
            row[x] = (uint8_t)(x * 5 + y * 11);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
}


/* dir/img: an image folder whose train/cat class holds one PNG and one text file. */
static void setup_folder_nonimage(const char *dir)
{
    char p[600];
    const char *sub[] = {"img", "img/train", "img/test", "img/train/cat", "img/test/cat"};

    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        HASSERT(mkdir(p, 0755) == 0);
    }
    snprintf(p, sizeof p, "%s/img/train/cat/a.png", dir);
    write_png(p, 32, 32);
    snprintf(p, sizeof p, "%s/img/test/cat/b.png", dir);
    write_png(p, 32, 32);
    write_text(dir, "img/train/cat/notes.txt", "this is no image\n");
}


static void setup_folder_mixed_sizes(const char *dir)
{
    char p[600];

    setup_folder_nonimage(dir);
    snprintf(p, sizeof p, "%s/img/train/cat/notes.txt", dir);
    HASSERT(unlink(p) == 0);
    snprintf(p, sizeof p, "%s/img/train/cat/c.png", dir);
    write_png(p, 16, 32);
}


static void setup_not_hdf5(const char *dir)
{
    write_text(dir, "run.h5", "just text, no HDF5 signature here\n");
}


static void copy_good(const char *dir, char *path)
{
    char cmd[1200];

    snprintf(path, 512, "%s/run.h5", dir);
    snprintf(cmd, sizeof cmd, "cp -p %s %s", good_run, path);
    HASSERT(system(cmd) == 0);
}


static void setup_good_run(const char *dir)
{
    char p[512];

    copy_good(dir, p);
}


/* Copies the good run and edits it with fn (through h5io, as an update of the copy). */
static void edit_good(const char *dir, void (*fn)(hid_t f))
{
    char p[512];

    copy_good(dir, p);
    H5Out *o = h5out_begin(p, 1);
    fn(h5out_file(o));
    h5out_commit(o);
}


static void drop_config(hid_t f)
{
    CHECK_HDF5(H5Ldelete(f, "/config", H5P_DEFAULT));
}


static void drop_checkpoints(hid_t f)
{
    CHECK_HDF5(H5Ldelete(f, "/checkpoints", H5P_DEFAULT));
}


static void reshape_param(hid_t f)
{
    char p[256];
    float x[6] = {2.385f, 1.5f, -0.25f, 3.0f, 0.125f, 7.0f};

    snprintf(p, sizeof p, "/checkpoints/%012ld/params/cls_token", good_last);
    h5_require(f, p);
    h5_write(f, p, H5IO_F32, 2, (size_t[]){3, 2}, x);
}


static void drop_attr(hid_t f)
{
    CHECK_HDF5(H5Adelete_by_name(f, "/config", "width", H5P_DEFAULT));
}


static void setup_no_config(const char *dir) { edit_good(dir, drop_config); }
static void setup_no_checkpoints(const char *dir) { edit_good(dir, drop_checkpoints); }
static void setup_wrong_shape(const char *dir) { edit_good(dir, reshape_param); }
static void setup_missing_attr(const char *dir) { edit_good(dir, drop_attr); }


static void setup_sched_order(const char *dir)
{
    write_text(dir, "s.txt", "# phases out of order\n0.0 4 1.0 none\n0.6 7 0.5 online\n"
               "0.3 4 0.75 online\n");
}


static void setup_sched_range(const char *dir)
{
    write_text(dir, "s.txt", "0.0 4 1.0 none\n1.5 4 0.5 online\n");
}


static void setup_sched_negative(const char *dir)
{
    write_text(dir, "s.txt", "-0.2 4 1.0 none\n0.5 4 0.5 online\n");
}


static void setup_sched_start(const char *dir)
{
    write_text(dir, "s.txt", "0.1 4 1.0 none\n");
}


static void setup_sched_garbage(const char *dir)
{
    write_text(dir, "s.txt", "0.0 4 1.0 none\n0.5 four 0.5 online\n");
}


static void setup_sched_keep(const char *dir)
{
    write_text(dir, "s.txt", "0.0 4 1.0 none\n0.5 4 1.5 online\n");
}


static void setup_sched_empty(const char *dir)
{
    write_text(dir, "s.txt", "# nothing but a comment\n\n");
}


static void setup_subdir(const char *dir)
{
    char p[512];

    snprintf(p, sizeof p, "%s/out.h5", dir);
    HASSERT(mkdir(p, 0755) == 0);
}


/* ---- the table ---- */

typedef struct {
    const char *name;
    void (*setup)(const char *dir); /* makes the row's input files in dir; NULL: none */
    const char *shell;              /* shell words before the program ("ulimit -f 64;") */
    const char *args;               /* after the program; '@' stands for the row's folder */
    int status;                     /* expected exit status */
    const char *phrase;             /* stderr must contain it; '@' as in args */
} Case;

#define TINY "train --preset tiny --eval-every 0 --out @/out.h5 "
#define FM "--data @/fm "

static const Case CASES[] = {
    /* Fashion-MNIST (IDX) folders */
    {"idx: bad magic", setup_fm_bad_magic, "", TINY FM, 2,
     "@/fm/train-images-idx3-ubyte.gz: not an IDX image file: magic 0x00000804"},
    {"idx: image and label counts differ", setup_fm_count_mismatch, "", TINY FM, 2,
     "holds 20 images but @/fm/t10k-labels-idx1-ubyte.gz holds 19 labels"},
    {"idx: truncated gzip stream", setup_fm_truncated_gz, "", TINY FM, 2,
     "@/fm/train-images-idx3-ubyte.gz: the gzip stream is truncated"},
    {"idx: header promises far more than the file holds", setup_fm_header_lies, "", TINY FM, 2,
     "@/fm/train-images-idx3-ubyte.gz: header says 4294967295 images of 65535x65535"},
    {"idx: gzip header then garbage", setup_fm_plain_garbage, "", TINY FM, 2,
     "@/fm/train-images-idx3-ubyte.gz: "},
    {"idx: folder missing", NULL, "", TINY "--data @/nothere", 2,
     "fashion-mnist: @/nothere is not a folder"},
    /* CIFAR and image folders */
    {"cifar: size not a whole number of records", setup_cifar_partial, "",
     TINY "--dataset cifar10 --data @/c10", 2,
     "@/c10/data_batch_2.bin: 9319 bytes is not a whole number of 3073-byte records"},
    {"cifar: label out of range", setup_cifar_bad_label, "",
     TINY "--dataset cifar10 --data @/c10", 2,
     "@/c10/data_batch_2.bin: label 10 in record 0 is out of range"},
    {"cifar: folder without batches", NULL, "", TINY "--dataset cifar10 --data @", 2,
     "cannot open @/data_batch_1.bin"},
    {"folder: a non-image file", setup_folder_nonimage, "",
     TINY "--dataset folder --data @/img", 2,
     "@/img/train/cat/notes.txt: not a PNG or JPEG image"},
    {"folder: images of two sizes", setup_folder_mixed_sizes, "",
     TINY "--dataset folder --data @/img", 2, "@/img/train/cat/c.png: image is 16x32"},
    {"dataset: unknown name", NULL, "", TINY "--dataset mnist3d", 2,
     "--dataset mnist3d: expected fashion-mnist, cifar10, cifar100 or folder"},
    /* HDF5 inputs */
    {"probe: not an HDF5 file", setup_not_hdf5, "", "probe @/run.h5", 2,
     "@/run.h5 is not an HDF5 file"},
    {"resume: not an HDF5 file", setup_not_hdf5, "", "train --resume @/run.h5", 2,
     "@/run.h5 is not an HDF5 file"},
    {"report: not an HDF5 file", setup_not_hdf5, "", "report @/run.h5", 2,
     "@/run.h5 is not an HDF5 file"},
    {"gradstats: not an HDF5 file", setup_not_hdf5, "", "gradstats @/run.h5 --out @/s.h5", 2,
     "@/run.h5 is not an HDF5 file"},
    {"cost: --run not an HDF5 file", setup_not_hdf5, "", "cost --run @/run.h5 --out @/s.h5", 2,
     "@/run.h5 is not an HDF5 file"},
    {"probe: missing file", NULL, "", "probe @/none.h5", 2,
     "cannot open @/none.h5: No such file"},
    {"probe: a folder as run file", NULL, "", "probe @", 2, "@ is not an HDF5 file"},
    {"probe: run file without /config", setup_no_config, "", "probe @/run.h5", 2,
     "@/run.h5: missing /config"},
    {"resume: run file without /checkpoints", setup_no_checkpoints, "",
     "train --resume @/run.h5", 2, "@/run.h5: no checkpoint in /checkpoints"},
    {"probe: parameter of the wrong shape", setup_wrong_shape, "", "probe @/run.h5", 2,
     "/params/cls_token has shape [3,2], expected"},
    {"probe: a /config attribute missing", setup_missing_attr, "", "probe @/run.h5", 2,
     "@/run.h5: /config has no attribute 'width'"},
    {"probe: no such checkpoint", setup_good_run, "", "probe @/run.h5 --checkpoint 999999", 2,
     "@/run.h5: no checkpoint at step 999999"},
    {"report: a run file is no study", setup_good_run, "", "report @/run.h5", 2,
     "@/run.h5: missing /strategies"},
    {"gradstats: stage without checkpoint", setup_good_run, "",
     "gradstats @/run.h5 --out @/s.h5 --stages 0.5", 2,
     "@/run.h5: no checkpoint within 0.1 of stage 0.5"},
    /* schedules */
    {"schedule: phases out of order", setup_sched_order, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: phase 3 starts at 0.3, not after phase 2 (0.6)"},
    {"schedule: fraction above 1", setup_sched_range, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: phase 2 starts at 1.5; starts must be in [0, 1]"},
    {"schedule: fraction below 0", setup_sched_negative, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: phase 1 starts at -0.2; starts must be in [0, 1]"},
    {"schedule: first phase after 0", setup_sched_start, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: the first phase starts at 0.1; it must start at 0"},
    {"schedule: malformed line", setup_sched_garbage, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt:2: expected 'start patch keep branches'"},
    {"schedule: keep ratio above 1", setup_sched_keep, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: phase 2: "},
    {"schedule: no phase", setup_sched_empty, "", TINY "--schedule @/s.txt", 2,
     "@/s.txt: the schedule has no phase"},
    {"schedule: missing file", NULL, "", TINY "--schedule @/none.txt", 2,
     "--schedule @/none.txt: cannot open"},
    /* numeric flags */
    {"train --batch 0", NULL, "", TINY "--batch 0", 2, "--batch 0: out of range"},
    {"train --batch 1", NULL, "", TINY "--batch 1", 2, "--batch 1: out of range"},
    {"train --batch x", NULL, "", TINY "--batch 12x", 2, "--batch 12x: expected a whole number"},
    {"train --batch huge", NULL, "", TINY "--batch 99999999999999999999", 2,
     "--batch 99999999999999999999: expected a whole number"},
    {"train --keep 0", NULL, "", TINY "--keep 0", 2, "--keep 0: out of range"},
    {"train --keep 1.5", NULL, "", TINY "--keep 1.5", 2, "--keep 1.5: out of range"},
    {"train --keep nan", NULL, "", TINY "--keep nan", 2, "--keep nan: expected a number"},
    {"train --patch 0", NULL, "", TINY "--patch 0", 2, "--patch 0: out of range"},
    {"train --patch 29", NULL, "", TINY "--patch 29", 2, "--patch 29: out of range"},
    {"train --budget -1", NULL, "", TINY "--budget -1", 2, "--budget -1: out of range"},
    {"train --budget 0", NULL, "", TINY "--budget 0", 2, "--budget 0: out of range"},
    {"train --budget inf", NULL, "", TINY "--budget inf", 2, "--budget inf: expected a number"},
    {"train --budget 1e400", NULL, "", TINY "--budget 1e400", 2,
     "--budget 1e400: expected a number"},
    {"train --budget below one step", NULL, "", TINY "--budget 10", 2,
     "--budget 10: smaller than one step"},
    {"train --lr -1", NULL, "", TINY "--lr -1", 2, "--lr -1: out of range"},
    {"train --lr 0", NULL, "", TINY "--lr 0", 2, "--lr 0: out of range"},
    {"train --min-lr -1", NULL, "", TINY "--min-lr -1", 2, "--min-lr -1: out of range"},
    {"train --warmup 1", NULL, "", TINY "--warmup 1", 2, "--warmup 1: out of range"},
    {"train --width 30 --heads 4", NULL, "", TINY "--width 30 --heads 4", 2, "30"},
    {"train --depth 0", NULL, "", TINY "--depth 0", 2, "--depth 0: out of range"},
    {"train --p0 29 (28 px)", NULL, "", TINY "--p0 29", 2, "--p0 29: out of range"},
    {"train --seed -1", NULL, "", TINY "--seed -1", 2, "--seed -1: out of range"},
    {"train --momentum 1.5", NULL, "", TINY "--momentum 1.5", 2, "--momentum 1.5: out of range"},
    {"train --tau 0", NULL, "", TINY "--tau 0", 2, "--tau 0: out of range"},
    {"train --clip -1", NULL, "", TINY "--clip -1", 2, "--clip -1: out of range"},
    {"train --knn-k 0", NULL, "", TINY "--knn-k 0", 2, "--knn-k 0: out of range"},
    {"train --eval-every 2", NULL, "", "train --preset tiny --out @/o.h5 --eval-every 2", 2,
     "--eval-every 2: out of range"},
    {"train flag given twice", NULL, "", TINY "--eval-every 0.5", 2,
     "--eval-every given twice (0 and 0.5)"},
    {"train --stages decreasing", NULL, "", TINY "--stages 0,0.5,0.2", 2,
     "--stages 0,0.5,0.2: fractions must increase"},
    {"train --stages 1.5", NULL, "", TINY "--stages 0,1.5", 2,
     "--stages 0,1.5: '1.5' is not a fraction in [0, 1]"},
    {"train --stages empty item", NULL, "", TINY "--stages 0,,x", 2, "--stages 0,,x: "},
    {"train --method", NULL, "", TINY "--method byol", 2,
     "--method byol: expected one of moco, simclr, dino"},
    {"train --compress", NULL, "", TINY "--compress half", 2, "--compress half: expected one of"},
    {"train unknown flag", NULL, "", TINY "--bogus 3", 2, "unknown argument '--bogus'"},
    {"train flag without value", NULL, "", TINY "--batch", 2, "--batch: missing value"},
    {"train without --out", NULL, "", "train --preset tiny", 2, "--out RUN.h5 is required"},
    {"probe --checkpoint -1", setup_good_run, "", "probe @/run.h5 --checkpoint -1", 2,
     "--checkpoint -1: out of range"},
    {"probe --knn-k 0", setup_good_run, "", "probe @/run.h5 --knn-k 0", 2,
     "--knn-k 0: out of range"},
    {"probe without run", NULL, "", "probe", 2, "probe: which run?"},
    {"bench --batch 1", NULL, "", "bench --batch 1", 2, "--batch 1: out of range"},
    {"bench --keep 0", NULL, "", "bench --keep 0", 2, "--keep 0: out of range"},
    {"bench --width 10 --heads 3", NULL, "", "bench --width 10 --heads 3", 2, "10"},
    {"bench --mode", NULL, "", "bench --mode all", 2, "--mode all: expected one of"},
    {"cost --keeps 0", NULL, "", "cost --out @/s.h5 --keeps 0", 2,
     "--keeps 0: '0' is not a number in"},
    {"cost --patches 0", NULL, "", "cost --out @/s.h5 --patches 0", 2,
     "--patches 0: '0' is not a number in"},
    {"cost --reps 0", NULL, "", "cost --out @/s.h5 --reps 0", 2, "--reps 0: out of range"},
    {"cost without --out", NULL, "", "cost", 2, "--out STUDY.h5 is required"},
    {"gradstats --draws 1", setup_good_run, "", "gradstats @/run.h5 --out @/s.h5 --draws 1", 2,
     "--draws 1: out of range"},
    {"gradstats --stages 2", setup_good_run, "", "gradstats @/run.h5 --out @/s.h5 --stages 2",
     2, "--stages 2: '2' is not a number in [0, 1]"},
    {"report without study", NULL, "", "report", 2, "usage: hasten report"},
    {"unknown command", NULL, "", "pretrain", 2, "unknown command 'pretrain'"},
    /* outputs */
    {"train --out in a missing folder", NULL, "",
     "train --preset tiny --out /nonexistent/x.h5", 2, "/nonexistent/x.h5"},
    {"train --out is a folder", setup_subdir, "", "train --preset tiny --out @/out.h5", 2,
     "--out @/out.h5 is a folder or other non-file"},
    {"train --out exists", setup_good_run, "", "train --preset tiny --out @/run.h5", 2,
     "--out @/run.h5 exists; continue it with --resume"},
    {"train --out in a read-only folder (not as root)", NULL, "chmod 555 @ &&",
     "train --preset tiny --out @/x.h5", 2, "cannot write @/x.h5"},
    {"cost --out in a missing folder", setup_good_run, "",
     "cost --run @/run.h5 --out /nonexistent/s.h5 --patches 4 --keeps 1 --reps 1", 2,
     "/nonexistent/s.h5"},
    {"gradstats --out in a missing folder", setup_good_run, "",
     "gradstats @/run.h5 --out /nonexistent/s.h5 --draws 2", 2, "/nonexistent/s.h5"},
    /* a full disk: the file size limit stands in for it (dash counts 512-byte blocks) */
    {"train: disk full at the first write", NULL, "ulimit -f 64;", TINY, 2,
     "cannot write @/out.h5"},
    {"resume: disk full rewriting the run file", setup_good_run, "ulimit -f 64;",
     "train --resume @/run.h5", 2, "cannot write @/run.h5"},
    {"probe: disk full writing /probe", setup_good_run, "ulimit -f 64;",
     "probe @/run.h5 --subset-train 100 --subset-test 50 --no-linear", 2,
     "cannot write @/run.h5"},
};

/* ---- running a row ---- */

/* s with every '@' replaced by dir. */
static void expand(char *out, size_t n, const char *s, const char *dir)
{
    size_t k = 0, dl = strlen(dir);

    for (; *s != '\0' && k + dl + 1 < n; s++) {
        if (*s == '@') {
            memcpy(out + k, dir, dl);
            k += dl;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}


static char *snap;       /* the listing nftw is building */
static size_t snap_len, snap_cap;
static size_t snap_root; /* length of the folder's path, cut from every entry */
static int snap_litter;  /* temp or lock files seen */


static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 1469598103934665603ull;
    int c;

    if (f == NULL)
        return 0;
    while ((c = getc(f)) != EOF)
        h = (h ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    return h;
}


static int snap_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char line[1024];
    int len;

    (void)flag;
    (void)ftw;
    if (strstr(path + snap_root, ".tmp-") != NULL || strstr(path + snap_root, ".lock") != NULL)
        snap_litter = 1;
    /* A folder's own size and mtime move when a lock file comes and goes: not compared. */
    if (S_ISDIR(st->st_mode))
        len = snprintf(line, sizeof line, "%s/ %o\n", path + snap_root, (unsigned)st->st_mode);
    else
        len = snprintf(line, sizeof line, "%s %o %lld %lld.%09ld %016llx\n", path + snap_root,
                       (unsigned)st->st_mode, (long long)st->st_size,
                       (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                       (unsigned long long)file_hash(path));
    if (snap_len + (size_t)len + 1 > snap_cap) {
        snap_cap = 2 * (snap_len + (size_t)len + 1);
        snap = realloc(snap, snap_cap);
        CHECK_ALLOC(snap);
    }
    memcpy(snap + snap_len, line, (size_t)len + 1);
    snap_len += (size_t)len;
    return 0;
}


/* A listing of everything under dir (name, mode, size, mtime, content hash), from malloc;
 * *litter is set when a temp or lock file is among them. */
static char *snapshot(const char *dir, int *litter)
{
    snap = NULL;
    snap_len = snap_cap = 0;
    snap_root = strlen(dir);
    snap_litter = 0;
    HASSERT(nftw(dir, snap_entry, 16, FTW_PHYS) == 0);
    *litter = snap_litter;
    return snap != NULL ? snap : strdup("");
}


static void run_case(int i, const Case *c)
{
    char dir[128], cmd[2048], args[1024], shell[512], phrase[512], name[256], det[1200];
    char errpath[160];
    int litter_before, litter_after;

    if (strncmp(c->shell, "chmod", 5) == 0 && geteuid() == 0) {
        printf("skipped %s: root writes into read-only folders\n", c->name);
        return;
    }
    snprintf(dir, sizeof dir, "%s/case%02d", base, i);
    HASSERT(mkdir(dir, 0755) == 0);
    if (c->setup != NULL)
        c->setup(dir);
    char *before = snapshot(dir, &litter_before);

    expand(args, sizeof args, c->args, dir);
    expand(shell, sizeof shell, c->shell, dir);
    expand(phrase, sizeof phrase, c->phrase, dir);
    snprintf(errpath, sizeof errpath, "%s/case%02d.err", base, i);
    snprintf(cmd, sizeof cmd, "%s %s %s > %s/case%02d.out 2> %s", shell, check_hasten_bin(),
             args, base, i, errpath);
    int rc = system(cmd);
    int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
    char *err = test_slurp(errpath);
    HASSERT(err != NULL);   /* tells gcc's -Wformat-truncation so under -fsanitize */
    if (strncmp(c->shell, "chmod", 5) == 0)
        HASSERT(chmod(dir, 0755) == 0);
    char *after = snapshot(dir, &litter_after);

    snprintf(name, sizeof name, "%s: exit status", c->name);
    snprintf(det, sizeof det, "observed %d, expected %d (%s)", status, c->status, args);
    check_true(status == c->status, name, det);

    /* The first line of stderr names what is wrong; the whole of it is searched. */
    snprintf(name, sizeof name, "%s: message", c->name);
    size_t nl = strcspn(err, "\n");
    snprintf(det, sizeof det, "stderr '%.*s', expected to contain '%s'",
             (int)(nl < 600 ? nl : 600), err, phrase);
    check_true(strstr(err, phrase) != NULL && strncmp(err, "error: ", 7) == 0, name, det);

    snprintf(name, sizeof name, "%s: no file created, changed or left behind", c->name);
    check_true(strcmp(before, after) == 0 && !litter_after && !litter_before, name,
               strcmp(before, after) == 0 ? NULL : after);
    free(before);
    free(after);
    free(err);
}


/* A finished tiny run: 2 checkpoints (0 and the end) on a small subset. */
static void make_good_run(void)
{
    char cmd[512];

    snprintf(good_run, sizeof good_run, "%s/good.h5", base);
    snprintf(cmd, sizeof cmd, "%s train --preset tiny --budget 700 --stages 0,1 --eval-every 0 "
             "--subset-train 64 --subset-test 32 --out %s > %s/good.log 2>&1",
             check_hasten_bin(), good_run, base);
    if (!check_true(system(cmd) == 0, "a good tiny run to break", cmd))
        return;

    hid_t f = h5in_open(good_run);
    size_t n;
    char **names = h5_list(f, "/checkpoints", &n);
    good_last = strtol(names[n - 1], NULL, 10);
    h5_free_strs(names, n);
    h5in_close(f);
}


static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}


int main(int argc, char **argv)
{
    size_t ncase = sizeof CASES / sizeof CASES[0];

    snprintf(base, sizeof base, "/tmp/hasten-test-badinput-XXXXXX");
    if (mkdtemp(base) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed: %s", strerror(errno));
    make_good_run();
    for (size_t i = 0; i < ncase; i++)
        if (argc < 2 || strstr(CASES[i].name, argv[1]) != NULL)
            run_case((int)i, &CASES[i]);

    int rc = check_summary();
    if (rc == 0)
        nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
