/* image_folder.c: a folder of PNG and JPEG images, one subfolder per class, via libpng and libjpeg.
 * Decoders give interleaved [height, width, channels] rows; they are stored planar as
 * [channels, height, width] like every Dataset image. Grayscale files give 1 channel, colour 3. */
#include "dataset.h"

#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define IMAGE_MAX_SIDE 16384   /* every image is held in memory at once; larger is a mistake */

/* One decoded image, interleaved [h, w, c]. */
typedef struct {
    int width, height, channels;
    uint8_t *pix;
} RawImage;

/* The files of one split, in load order, with their labels. */
typedef struct {
    char **paths;
    int32_t *labels;
    size_t n, cap;
} FileList;


/* --- PNG --- */

typedef struct {
    char msg[256];
} PngErr;


static void png_on_error(png_structp png, png_const_charp msg)
{
    PngErr *e = png_get_error_ptr(png);

    snprintf(e->msg, sizeof(e->msg), "%s", msg);
    png_longjmp(png, 1);
}


/* libpng warns about harmless things (an sRGB profile it knows to be off); say nothing. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}


/* Decodes a PNG whose 8 signature bytes have been read from fp. */
static void png_decode(RawImage *img, FILE *fp, const char *path)
{
    PngErr err = { "" };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error,
                                             png_on_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    uint8_t *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    int color, depth;
    size_t w, h, c;

    if (png == NULL || info == NULL)
        die_at(__FILE__, __LINE__, __func__, "the machine is out of memory",
               "libpng could not set up a reader for %s", path);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pix);
        free(rows);
        user_error("%s: not a readable PNG image: %s", path, err.msg);
    }
    png_init_io(png, fp);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
    png_read_info(png, info);

    /* Everything becomes 8-bit gray or 8-bit RGB: palettes expand, alpha is dropped. */
    color = png_get_color_type(png, info);
    depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_scale_16(png);
    if (color & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    w = png_get_image_width(png, info);
    h = png_get_image_height(png, info);
    c = png_get_channels(png, info);
    HASSERT((c == 1 || c == 3) && png_get_rowbytes(png, info) == w * c);
    pix = xmalloc(h * w * c);
    rows = xmalloc(h * sizeof(png_bytep));
    for (size_t y = 0; y < h; y++)
        rows[y] = pix + y * w * c;
    png_read_image(png, rows);
    png_read_end(png, NULL);   /* checks the chunks after the pixels too */

    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    img->width = (int)w;
    img->height = (int)h;
    img->channels = (int)c;
    img->pix = pix;
}


/* --- JPEG --- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    const char *path;
} JpegErr;


static void jpeg_on_error(j_common_ptr cinfo)
{
    longjmp(((JpegErr *)cinfo->err)->jb, 1);
}


/* A file that ends early is corrupt, not a warning: libjpeg would pad it with gray. Other
 * warnings (stray bytes between markers, common in scraped data) print once per file. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    JpegErr *e = (JpegErr *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];

    if (level >= 0)
        return;
    if (e->pub.msg_code == JWRN_JPEG_EOF)
        longjmp(e->jb, 1);
    if (e->pub.num_warnings++ == 0) {
        e->pub.format_message(cinfo, msg);
        warn("%s: %s", e->path, msg);
    }
}


static void jpeg_decode(RawImage *img, FILE *fp, const char *path)
{
    struct jpeg_decompress_struct cinfo;
    JpegErr err;
    uint8_t *volatile pix = NULL;
    size_t w, h, c;

    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    err.path = path;
    if (setjmp(err.jb)) {
        char msg[JMSG_LENGTH_MAX];
        err.pub.format_message((j_common_ptr)&cinfo, msg);
        jpeg_destroy_decompress(&cinfo);
        free(pix);
        user_error("%s: not a readable JPEG image: %s", path, msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, fp);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    w = cinfo.output_width;
    h = cinfo.output_height;
    c = (size_t)cinfo.output_components;
    if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE)
        user_error("%s: image is %zux%zu; sides above %d are not supported", path, w, h,
                   IMAGE_MAX_SIDE);
    HASSERT(c == 1 || c == 3);
    pix = xmalloc(h * w * c);
    while (cinfo.output_scanline < h) {
        JSAMPROW row = pix + (size_t)cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);

    img->width = (int)w;
    img->height = (int)h;
    img->channels = (int)c;
    img->pix = pix;
}


/* Decodes a PNG or JPEG, told apart by their first bytes, not by the file's name. */
static void image_decode(RawImage *img, const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t sig[8];
    size_t got;

    if (fp == NULL)
        user_error("cannot open %s: %s", path, strerror(errno));
    got = fread(sig, 1, sizeof(sig), fp);
    if (got == 8 && png_sig_cmp(sig, 0, 8) == 0) {
        png_decode(img, fp, path);
    } else if (got >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rewind(fp);
        jpeg_decode(img, fp, path);
    } else {
        user_error("%s: not a PNG or JPEG image (its first bytes match neither); expected only "
                   "images in a class folder", path);
    }
    fclose(fp);
}


/* --- folders --- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


static void join_path(char *buf, const char *dir, const char *name)
{
    int len = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

    if (len < 0 || len >= PATH_MAX)
        user_error("path too long: %s/%s", dir, name);
}


/* The entries of dir, sorted by name in byte order, '.'-files left out; each must be a folder
 * (want_dirs) or a regular file. *count gets their number; the names are owned by the caller. */
static char **list_entries(const char *dir, int want_dirs, size_t *count)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    char **names = NULL, path[PATH_MAX];
    size_t n = 0, cap = 0;

    if (dp == NULL)
        user_error("cannot open folder %s: %s", dir, strerror(errno));
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = realloc(names, cap * sizeof(char *));
            CHECK_ALLOC(names);
        }
        names[n] = strdup(de->d_name);
        CHECK_ALLOC(names[n]);
        n++;
    }
    closedir(dp);
    if (n > 0)
        qsort(names, n, sizeof(char *), cmp_str);

    for (size_t i = 0; i < n; i++) {
        struct stat st;
        join_path(path, dir, names[i]);
        if (stat(path, &st) != 0)
            user_error("cannot read %s: %s", path, strerror(errno));
        if (want_dirs && !S_ISDIR(st.st_mode))
            user_error("%s: not a folder; expected one subfolder per class in %s", path, dir);
        if (!want_dirs && !S_ISREG(st.st_mode))
            user_error("%s: not a regular file; expected only image files in %s", path, dir);
    }
    *count = n;
    return names;
}


static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}


/* Appends the images of dir/<class> with label k. */
static void collect_class(FileList *fl, const char *dir, const char *cls, int32_t k)
{
    char cdir[PATH_MAX], path[PATH_MAX];
    size_t nf;
    char **files;

    join_path(cdir, dir, cls);
    files = list_entries(cdir, 0, &nf);
    for (size_t i = 0; i < nf; i++) {
        if (fl->n == fl->cap) {
            fl->cap = fl->cap ? 2 * fl->cap : 256;
            fl->paths = realloc(fl->paths, fl->cap * sizeof(char *));
            fl->labels = realloc(fl->labels, fl->cap * sizeof(int32_t));
            CHECK_ALLOC(fl->paths);
            CHECK_ALLOC(fl->labels);
        }
        join_path(path, cdir, files[i]);
        fl->paths[fl->n] = strdup(path);
        CHECK_ALLOC(fl->paths[fl->n]);
        fl->labels[fl->n] = k;
        fl->n++;
    }
    free_names(files, nf);
}


/* The files of a split. In train/ every class folder must hold images; test/ may lack a class
 * but must not have one that train/ lacks, since its labels would mean nothing. */
static void collect_split(FileList *fl, const char *dir, char **classes, size_t K, int is_train)
{
    size_t nc;
    char **found = list_entries(dir, 1, &nc);

    memset(fl, 0, sizeof(*fl));
    for (size_t i = 0; i < nc; i++) {
        char **hit = bsearch(&found[i], classes, K, sizeof(char *), cmp_str);
        size_t before = fl->n;
        if (hit == NULL)
            user_error("%s/%s: class '%s' has no folder in train/; expected test/ to hold only "
                       "train/'s classes", dir, found[i], found[i]);
        collect_class(fl, dir, found[i], (int32_t)(hit - classes));
        if (is_train && fl->n == before)
            user_error("%s/%s: no images; expected at least one PNG or JPEG per class", dir,
                       found[i]);
    }
    if (fl->n == 0)
        user_error("%s: no images; expected one subfolder per class holding PNG or JPEG files",
                   dir);
    free_names(found, nc);
}


/* Decodes every file of fl into d; the shape must match *ref (set from the first image when
 * ref->pix is NULL; ref_path names that image in messages). */
static void fill_split(Dataset *d, const FileList *fl, RawImage *ref, char *ref_path,
                       int K, const char *name)
{
    for (size_t i = 0; i < fl->n; i++) {
        RawImage img;
        size_t hw;

        image_decode(&img, fl->paths[i]);
        if (ref->pix == NULL) {
            *ref = img;
            snprintf(ref_path, PATH_MAX, "%s", fl->paths[i]);
        }
        if (img.width != ref->width || img.height != ref->height
            || img.channels != ref->channels)
            user_error("%s: image is %dx%d with %d channel%s; expected %dx%d with %d channel%s "
                       "(width x height) like %s: all images must share one size",
                       fl->paths[i], img.width, img.height, img.channels,
                       img.channels == 1 ? "" : "s", ref->width, ref->height, ref->channels,
                       ref->channels == 1 ? "" : "s", ref_path);
        if (i == 0)
            dataset_alloc(d, fl->n, ref->channels, ref->height, ref->width, K, name);

        /* interleaved [h, w, c] to planar [c, h, w] */
        hw = (size_t)img.width * img.height;
        for (int c = 0; c < img.channels; c++)
            for (size_t p = 0; p < hw; p++)
                dataset_image(d, i)[c * hw + p] = img.pix[p * img.channels + c];
        d->labels[i] = fl->labels[i];
        if (img.pix != ref->pix)
            free(img.pix);
    }
}


static void free_files(FileList *fl)
{
    free_names(fl->paths, fl->n);
    free(fl->labels);
}


void image_folder_load(Dataset *train, Dataset *test, const char *root)
{
    char train_dir[PATH_MAX], test_dir[PATH_MAX], ref_path[PATH_MAX];
    char **classes;
    size_t K;
    FileList fl;
    RawImage ref = { 0, 0, 0, NULL };

    join_path(train_dir, root, "train");
    join_path(test_dir, root, "test");
    classes = list_entries(train_dir, 1, &K);
    if (K == 0)
        user_error("%s: no class subfolders; expected one per class", train_dir);
    if (K > INT32_MAX)
        user_error("%s: %zu classes is too many", train_dir, K);

    memset(train, 0, sizeof(*train));
    memset(test, 0, sizeof(*test));
    collect_split(&fl, train_dir, classes, K, 1);
    fill_split(train, &fl, &ref, ref_path, (int)K, "folder/train");
    free_files(&fl);
    collect_split(&fl, test_dir, classes, K, 0);
    fill_split(test, &fl, &ref, ref_path, (int)K, "folder/test");
    free_files(&fl);
    free(ref.pix);

    /* Both splits own a copy of the class names; the list itself moves into train. */
    train->class_names = classes;
    test->class_names = xcalloc(K, sizeof(char *));
    for (size_t k = 0; k < K; k++) {
        test->class_names[k] = strdup(classes[k]);
        CHECK_ALLOC(test->class_names[k]);
    }
}
