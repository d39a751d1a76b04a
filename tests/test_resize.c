/* test_resize.c: property tests of the resize maps (src/resize.h): grid sides, bilinear
 * matrices, the FlexiViT pseudo-inverse resize (<x, w> = <Bx, w_hat>), the adjointness of
 * every backward, and the error paths. */
#include "check.h"
#include "common.h"
#include "resize.h"
#include "rng.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SEED = 2385 };


static double *rand_d(size_t n, uint64_t stream)
{
    Rng r = rng_stream(SEED, RNG_EVAL, stream, 0);
    double *v = xmalloc(n * sizeof *v);

    for (size_t i = 0; i < n; i++)
        v[i] = rng_normal(&r);
    return v;
}


static float *rand_f(size_t n, uint64_t stream)
{
    Rng r = rng_stream(SEED, RNG_EVAL, stream, 1);
    float *v = xmalloc(n * sizeof *v);

    for (size_t i = 0; i < n; i++)
        v[i] = (float)rng_normal(&r);
    return v;
}


static double dot_d(const double *a, const double *b, size_t n)
{
    double s = 0.0;

    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}


static double dot_f(const float *a, const float *b, size_t n)
{
    double s = 0.0;

    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}


/* y (r) = A (r x c) x (c), or y (c) = A^T x (r) when trans. */
static void matvec(double *y, const double *A, const double *x, int r, int c, int trans)
{
    int ny = trans ? c : r;

    memset(y, 0, (size_t)ny * sizeof *y);
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) {
            if (trans)
                y[j] += A[(size_t)i * c + j] * x[i];
            else
                y[i] += A[(size_t)i * c + j] * x[j];
        }
}


static double norm_d(const double *a, size_t n)
{
    return sqrt(dot_d(a, a, n));
}


static void test_grid_side(void)
{
    static const int cases[][3] = {
        { 976, 16, 61 }, { 32, 5, 6 }, { 28, 4, 7 }, { 28, 8, 4 }, { 224, 16, 14 },
        { 240, 30, 8 }, { 32, 6, 5 }, { 32, 3, 11 }, { 32, 12, 3 }, { 28, 7, 4 }, { 5, 16, 1 },
    };
    char name[96];

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(name, sizeof name, "grid side S=%d P=%d", cases[k][0], cases[k][1]);
        check_close(resize_grid_side(cases[k][0], cases[k][1]), cases[k][2], 0.0, name);
    }
}


static void test_bilinear_1d(void)
{
    static const int sizes[][2] = {
        { 5, 4 }, { 4, 5 }, { 8, 3 }, { 3, 8 }, { 16, 4 }, { 1, 7 }, { 7, 1 }, { 61, 14 },
    };
    char name[96];

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int o = sizes[k][0], n = sizes[k][1];
        double *R = xmalloc((size_t)o * n * sizeof *R), worst = 0.0;
        resize_bilinear_1d(R, o, n);
        for (int i = 0; i < o; i++) {
            double s = 0.0;
            for (int j = 0; j < n; j++)
                s += R[(size_t)i * n + j];
            worst = fmax(worst, fabs(s - 1.0));
        }
        snprintf(name, sizeof name, "bilinear 1d %d<-%d: max |row sum - 1|", o, n);
        check_close(worst, 0.0, 1e-14, name);
        free(R);
    }

    for (int n = 1; n <= 7; n += 3) {
        double *R = xmalloc((size_t)n * n * sizeof *R), worst = 0.0;
        resize_bilinear_1d(R, n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                worst = fmax(worst, fabs(R[i * n + j] - (i == j)));
        snprintf(name, sizeof name, "bilinear 1d %d<-%d is the identity: max |R - I|", n, n);
        check_close(worst, 0.0, 0.0, name);
        free(R);
    }

    /* 4 -> 5: x = 0.8 i - 0.1 gives -0.1 (clamped to 0), 0.7, 1.5, 2.3, 3.1 (clamped to 3). */
    double R[5 * 4];
    static const double want[5 * 4] = {
        1, 0, 0, 0,   0.3, 0.7, 0, 0,   0, 0.5, 0.5, 0,   0, 0, 0.7, 0.3,   0, 0, 0, 1,
    };
    double worst = 0.0;
    resize_bilinear_1d(R, 5, 4);
    for (int i = 0; i < 20; i++)
        worst = fmax(worst, fabs(R[i] - want[i]));
    check_close(worst, 0.0, 1e-15, "bilinear 1d 5<-4 against hand-computed weights");
}


static void test_bilinear_2d(void)
{
    /* A 2x8 grid whose value at column c is c, resized to 4x4: every row reads
     * 0.5 2.5 4.5 6.5 (x = 2 ox + 0.5, and the two source rows agree). */
    double *R = resize_bilinear_2d(4, 4, 2, 8), g[16], v[16], worst = 0.0;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 8; x++)
            g[y * 8 + x] = x;
    matvec(v, R, g, 16, 16, 0);
    for (int i = 0; i < 16; i++)
        worst = fmax(worst, fabs(v[i] - (0.5 + 2.0 * (i % 4))));
    check_close(worst, 0.0, 1e-14, "bilinear 2d 2x8 column ramp -> 4x4 rows 0.5 2.5 4.5 6.5");
    free(R);

    R = resize_bilinear_2d(7, 3, 4, 5);
    worst = 0.0;
    for (int i = 0; i < 21; i++) {
        double s = 0.0;
        for (int j = 0; j < 20; j++)
            s += R[i * 20 + j];
        worst = fmax(worst, fabs(s - 1.0));
    }
    check_close(worst, 0.0, 1e-14, "bilinear 2d 7x3<-4x5: max |row sum - 1|");
    free(R);
}


/* <x, w> = <B x, w_hat> for random x and w, w_hat = M w, in double and through the cached
 * float matrix. */
static void test_pinv_upsample(int p0, int p)
{
    int n0 = p0 * p0, n = p * p;
    double *B = resize_bilinear_2d(p, p, p0, p0), *M = resize_pinv_matrix_d(p0, p);
    double *x = rand_d(n0, 100 + p), *w = rand_d(n0, 200 + p);
    double *Bx = xmalloc(n * sizeof *Bx), *wh = xmalloc(n * sizeof *wh);
    char name[96];

    matvec(Bx, B, x, n, n0, 0);
    matvec(wh, M, w, n, n0, 0);
    double lhs = dot_d(x, w, n0), rhs = dot_d(Bx, wh, n);
    snprintf(name, sizeof name, "pinv %d->%d double: <x,w>=%.6f vs <Bx,w_hat>", p0, p, lhs);
    check_relerr(fabs(lhs - rhs) / fabs(lhs), 1e-10, name);

    /* B^T w_hat = w for every w, not only along this x. */
    double *back = xmalloc(n0 * sizeof *back);
    matvec(back, B, wh, n, n0, 1);
    for (int i = 0; i < n0; i++)
        back[i] -= w[i];
    snprintf(name, sizeof name, "pinv %d->%d double: |B^T w_hat - w| / |w|", p0, p);
    check_relerr(norm_d(back, n0) / norm_d(w, n0), 1e-10, name);

    /* Float: slices of a [OC=3, CH=2] weight through resize_patch_weight. */
    enum { OC = 3, CH = 2 };
    float *wf = rand_f((size_t)OC * CH * n0, 300 + p), *whf = xmalloc(sizeof(float) * OC * CH * n);
    double worst = 0.0;
    resize_patch_weight(whf, wf, OC, CH, p0, p);
    for (int s = 0; s < OC * CH; s++) {
        double l = 0.0, r = 0.0;
        for (int j = 0; j < n0; j++)
            l += x[j] * wf[(size_t)s * n0 + j];
        for (int i = 0; i < n; i++)
            r += Bx[i] * whf[(size_t)s * n + i];
        worst = fmax(worst, fabs(l - r) / fmax(fabs(l), 1e-3 * norm_d(x, n0)));
    }
    snprintf(name, sizeof name, "pinv %d->%d float resize_patch_weight: worst slice", p0, p);
    check_relerr(worst, 1e-4, name);

    free(B); free(M); free(x); free(w); free(Bx); free(wh); free(back); free(wf); free(whf);
}


/* p < p0: B^T w_hat is the orthogonal projection of w onto the range of B^T, so the residual
 * w - B^T w_hat is orthogonal to that range: B (w - B^T w_hat) = 0. */
static void test_pinv_downsample(int p0, int p)
{
    int n0 = p0 * p0, n = p * p;
    double *B = resize_bilinear_2d(p, p, p0, p0), *M = resize_pinv_matrix_d(p0, p);
    double *w = rand_d(n0, 400 + p), *wh = xmalloc(n * sizeof *wh);
    double *res = xmalloc(n0 * sizeof *res), *Bres = xmalloc(n * sizeof *Bres);
    char name[96];

    matvec(wh, M, w, n, n0, 0);
    matvec(res, B, wh, n, n0, 1);
    for (int i = 0; i < n0; i++)
        res[i] = w[i] - res[i];
    matvec(Bres, B, res, n, n0, 0);
    snprintf(name, sizeof name, "pinv %d->%d least squares: |B (w - B^T w_hat)| / |w|", p0, p);
    check_relerr(norm_d(Bres, n) / norm_d(w, n0), 1e-10, name);

    /* A downsampled patch cannot hold all of w, so the residual must not vanish. */
    snprintf(name, sizeof name, "pinv %d->%d least squares: residual is not zero", p0, p);
    check_true(norm_d(res, n0) > 1e-3 * norm_d(w, n0), name, NULL);

    free(B); free(M); free(w); free(wh); free(res); free(Bres);
}


/* The Kronecker-factored resize_pinv_matrix_d against the pseudo-inverse of the full
 * p0^2 x p^2 matrix B^T (tall when downsampling, wide when upsampling). */
static void test_pinv_kron(int p0, int p)
{
    int n0 = p0 * p0, n = p * p;
    double *B = resize_bilinear_2d(p, p, p0, p0), *Bt = xmalloc((size_t)n * n0 * sizeof *Bt);
    char name[96];

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n0; j++)
            Bt[(size_t)j * n + i] = B[(size_t)i * n0 + j];
    double *full = resize_pinv(Bt, n0, n), *M = resize_pinv_matrix_d(p0, p), worst = 0.0;
    for (size_t i = 0; i < (size_t)n * n0; i++)
        worst = fmax(worst, fabs(full[i] - M[i]));
    snprintf(name, sizeof name, "pinv %d->%d Kronecker factors vs SVD of the full B^T", p0, p);
    check_close(worst, 0.0, 1e-10, name);
    free(B); free(Bt); free(full); free(M);
}


/* The four Moore-Penrose conditions for a rank-2 m x n matrix (columns or rows repeat), so
 * the tolerance on small singular values is exercised in both orientations. */
static void test_pinv_general(int m, int n)
{
    double *A = rand_d((size_t)m * n, 1000 + m), worst[4] = { 0 };
    char name[96];

    /* Every column is a combination of the first two: rank 2. */
    for (int i = 0; i < m; i++)
        for (int j = 2; j < n; j++)
            A[(size_t)i * n + j] = 2.385 * A[(size_t)i * n] - 0.5 * j * A[(size_t)i * n + 1];
    double *P = resize_pinv(A, m, n);                    /* n x m */
    double *AP = xcalloc((size_t)m * m, sizeof *AP), *PA = xcalloc((size_t)n * n, sizeof *PA);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            for (int k = 0; k < n; k++)
                AP[i * m + j] += A[i * n + k] * P[k * m + j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < m; k++)
                PA[i * n + j] += P[i * m + k] * A[k * n + j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double apa = 0.0;
            for (int k = 0; k < m; k++)
                apa += AP[i * m + k] * A[k * n + j];
            worst[0] = fmax(worst[0], fabs(apa - A[i * n + j]));
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double pap = 0.0;
            for (int k = 0; k < n; k++)
                pap += PA[i * n + k] * P[k * m + j];
            worst[1] = fmax(worst[1], fabs(pap - P[i * m + j]));
        }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            worst[2] = fmax(worst[2], fabs(AP[i * m + j] - AP[j * m + i]));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            worst[3] = fmax(worst[3], fabs(PA[i * n + j] - PA[j * n + i]));
    static const char *cond[4] = { "A P A = A", "P A P = P", "A P symmetric", "P A symmetric" };
    for (int c = 0; c < 4; c++) {
        snprintf(name, sizeof name, "pinv of a rank-2 %dx%d matrix: %s", m, n, cond[c]);
        check_close(worst[c], 0.0, 1e-10, name);
    }
    free(A); free(P); free(AP); free(PA);
}


static void test_pinv_identity(int p0)
{
    double *M = resize_pinv_matrix_d(p0, p0), worst = 0.0, worstf = 0.0;
    const float *Mf = resize_pinv_matrix(p0, p0);
    int n = p0 * p0;
    char name[96];

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            worst = fmax(worst, fabs(M[i * n + j] - (i == j)));
            worstf = fmax(worstf, fabs(Mf[i * n + j] - (i == j)));
        }
    snprintf(name, sizeof name, "pinv %d->%d double is the identity: max |M - I|", p0, p0);
    check_close(worst, 0.0, 1e-12, name);
    snprintf(name, sizeof name, "pinv %d->%d float is the identity: max |M - I|", p0, p0);
    check_close(worstf, 0.0, 1e-6, name);
    free(M);
}


static void test_cache(void)
{
    const float *a = resize_pinv_matrix(4, 6), *b = resize_pinv_matrix(6, 4);
    double *d = resize_pinv_matrix_d(4, 6), worst = 0.0;

    check_true(resize_pinv_matrix(4, 6) == a, "pinv cache returns the same matrix for (4, 6)",
               NULL);
    check_true(a != b, "pinv cache keeps (4, 6) and (6, 4) apart", NULL);
    for (int i = 0; i < 36 * 16; i++)
        worst = fmax(worst, fabs(a[i] - d[i]));
    check_close(worst, 0.0, 1e-6, "pinv cached float matrix matches the double one");
    free(d);

    const float *P = resize_pos_matrix(3, 5, 7, 4);
    double *R = resize_bilinear_2d(7, 4, 3, 5);
    worst = 0.0;
    for (int i = 0; i < 28 * 15; i++)
        worst = fmax(worst, fabs(P[i] - R[i]));
    check_close(worst, 0.0, 1e-7, "pos matrix 3x5->7x4 matches resize_bilinear_2d");
    check_true(resize_pos_matrix(3, 5, 7, 4) == P, "pos cache returns the same matrix", NULL);
    free(R);
}


/* <resize_pos(x), y> = <x, resize_pos_backward(y)>, backward accumulating onto 2.385, and
 * resize_pos agreeing with the dense matrix of resize_bilinear_2d. */
static void test_pos(int g0h, int g0w, int gh, int gw, int C)
{
    size_t nin = (size_t)g0h * g0w, nout = (size_t)gh * gw;
    float *x = rand_f(nin * C, 500 + gh), *y = rand_f(nout * C, 600 + gw);
    float *rx = xmalloc(nout * C * sizeof *rx), *ry = xmalloc(nin * C * sizeof *ry);
    char name[128];

    resize_pos(rx, x, g0h, g0w, gh, gw, C);
    for (size_t i = 0; i < nin * C; i++)
        ry[i] = 2.385f;
    resize_pos_backward(ry, y, g0h, g0w, gh, gw, C);
    for (size_t i = 0; i < nin * C; i++)
        ry[i] -= 2.385f;
    double lhs = dot_f(rx, y, nout * C), rhs = dot_f(x, ry, nin * C);
    snprintf(name, sizeof name, "pos %dx%d->%dx%d C=%d adjoint: <Rx,y>=%.6f vs <x,R^T y>",
             g0h, g0w, gh, gw, C, lhs);
    check_relerr(fabs(lhs - rhs) / fabs(lhs), 1e-4, name);

    double *R = resize_bilinear_2d(gh, gw, g0h, g0w), worst = 0.0;
    for (size_t n = 0; n < nout; n++)
        for (int c = 0; c < C; c++) {
            double v = 0.0;
            for (size_t m = 0; m < nin; m++)
                v += R[n * nin + m] * x[m * C + c];
            worst = fmax(worst, fabs(v - rx[n * C + c]));
        }
    snprintf(name, sizeof name, "pos %dx%d->%dx%d matches the dense matrix: max abs diff",
             g0h, g0w, gh, gw);
    check_close(worst, 0.0, 1e-5, name);

    free(x); free(y); free(rx); free(ry); free(R);
}


static void test_patch_weight_adjoint(int p0, int p)
{
    enum { OC = 4, CH = 3 };
    size_t n0 = (size_t)OC * CH * p0 * p0, n = (size_t)OC * CH * p * p;
    float *x = rand_f(n0, 700 + p), *y = rand_f(n, 800 + p);
    float *rx = xmalloc(n * sizeof *rx), *ry = xmalloc(n0 * sizeof *ry);
    char name[128];

    resize_patch_weight(rx, x, OC, CH, p0, p);
    for (size_t i = 0; i < n0; i++)
        ry[i] = 2.385f;
    resize_patch_weight_backward(ry, y, OC, CH, p0, p);
    for (size_t i = 0; i < n0; i++)
        ry[i] -= 2.385f;
    double lhs = dot_f(rx, y, n), rhs = dot_f(x, ry, n0);
    snprintf(name, sizeof name, "patch weight %d->%d adjoint: <Mw,y>=%.6f vs <w,M^T y>",
             p0, p, lhs);
    check_relerr(fabs(lhs - rhs) / fabs(lhs), 1e-4, name);
    free(x); free(y); free(rx); free(ry);
}


static void test_image(int in_h, int in_w, int out_h, int out_w)
{
    enum { CH = 3 };
    size_t nin = (size_t)CH * in_h * in_w, nout = (size_t)CH * out_h * out_w;
    float *img = xmalloc(nin * sizeof *img), *out = xmalloc(nout * sizeof *out);
    double worst = 0.0;
    char name[96];

    for (size_t i = 0; i < nin; i++)
        img[i] = 2.385f;
    resize_image(out, img, CH, in_h, in_w, out_h, out_w);
    for (size_t i = 0; i < nout; i++)
        worst = fmax(worst, fabs(out[i] - 2.385f));
    snprintf(name, sizeof name, "image %dx%d->%dx%d of constant 2.385: max deviation",
             in_h, in_w, out_h, out_w);
    check_close(worst, 0.0, 1e-6, name);

    /* Per channel, resize_image is resize_pos with C = 1. */
    float *ramp = rand_f(nin, 900 + out_h), *ref = xmalloc(nout / CH * sizeof *ref);
    resize_image(out, ramp, CH, in_h, in_w, out_h, out_w);
    resize_pos(ref, ramp + nin / CH, in_h, in_w, out_h, out_w, 1);
    worst = 0.0;
    for (size_t i = 0; i < nout / CH; i++)
        worst = fmax(worst, fabs(out[nout / CH + i] - ref[i]));
    snprintf(name, sizeof name, "image %dx%d->%dx%d channel 1 equals resize_pos: max diff",
             in_h, in_w, out_h, out_w);
    check_close(worst, 0.0, 0.0, name);
    free(img); free(out); free(ramp); free(ref);
}


/* Runs fn in a child with stderr silenced and checks that it exits with status 1
 * (die_at's code). */
static void check_dies(void (*fn)(void), const char *name)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    check_close(code, 1, 0.0, name);
}


static void bad_grid(void) { resize_grid_side(224, 0); }
static void bad_pinv(void) { free(resize_pinv_matrix_d(0, 4)); }
static void bad_pos(void) { float o[4], p[4] = { 0 }; resize_pos(o, p, 2, 2, 0, 2, 1); }


int main(void)
{
    test_grid_side();
    test_bilinear_1d();
    test_bilinear_2d();

    static const int ups[] = { 5, 6, 8, 12 };
    for (int k = 0; k < 4; k++)
        test_pinv_upsample(4, ups[k]);
    test_pinv_upsample(8, 16);
    test_pinv_upsample(8, 10);
    test_pinv_downsample(4, 2);
    test_pinv_downsample(4, 3);
    test_pinv_downsample(8, 5);
    test_pinv_downsample(16, 4);
    test_pinv_kron(4, 6);
    test_pinv_kron(4, 3);
    test_pinv_kron(8, 12);
    test_pinv_kron(6, 4);
    test_pinv_general(7, 4);
    test_pinv_general(4, 7);
    test_pinv_identity(4);
    test_pinv_identity(8);
    test_cache();

    test_pos(7, 7, 12, 12, 5);
    test_pos(14, 14, 5, 5, 3);
    test_pos(3, 5, 7, 4, 2);
    test_pos(4, 4, 4, 4, 3);
    test_patch_weight_adjoint(4, 6);
    test_patch_weight_adjoint(8, 5);

    test_image(28, 28, 32, 32);
    test_image(32, 32, 20, 20);
    test_image(17, 23, 30, 12);

    check_dies(bad_grid, "resize_grid_side(224, 0) exits with status");
    check_dies(bad_pinv, "resize_pinv_matrix_d(0, 4) exits with status");
    check_dies(bad_pos, "resize_pos to a 0x2 grid exits with status");

    resize_cache_clear();
    return check_summary();
}
