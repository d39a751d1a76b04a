/* resize.c: bilinear resize matrices, the FlexiViT pseudo-inverse resize and their host
 * apply functions. Layouts as in resize.h: row-major grids, weights [OC, CH, P, P],
 * position embeddings [G*G, C], images [CH, H, W]. */
#include "resize.h"
#include "common.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <string.h>

/* Singular values below this fraction of the largest count as zero in the pseudo-inverse:
 * the bilinear matrices have well separated singular values or exact zeros, and rounding
 * leaves the zeros near 1e-16 * s_max. */
#define RESIZE_PINV_RTOL 1e-10


int resize_grid_side(int S, int P)
{
    HASSERT(S >= 1 && P >= 1);

    /* floor(S/P + 1/2) = floor((2S + P) / 2P) in integers: a float scale factor would turn
     * 976/16 = 61 into 60.999... and lose a row (dino#8). */
    long g = (2L * S + P) / (2L * P);
    return g < 1 ? 1 : (int)g;
}


/* The two taps of output i in a half-pixel linear resize from in_n to out_n samples:
 * weight 1 - *f on *lo and *f on *hi (hi == lo at the clamped ends). */
static void bilinear_taps(int i, int out_n, int in_n, int *lo, int *hi, double *f)
{
    /* x = (i + 0.5) * in_n / out_n - 0.5 as one division, so x is exactly i when
     * out_n == in_n and the resize is the identity. */
    double x = (double)((2L * i + 1) * in_n - out_n) / (2.0 * out_n);

    if (x < 0.0)
        x = 0.0;
    if (x > in_n - 1)
        x = in_n - 1;
    *lo = (int)x;
    *hi = *lo + 1 < in_n ? *lo + 1 : *lo;
    *f = x - *lo;
}


void resize_bilinear_1d(double *R, int out_n, int in_n)
{
    HASSERT(out_n >= 1 && in_n >= 1);
    memset(R, 0, (size_t)out_n * in_n * sizeof *R);
    for (int i = 0; i < out_n; i++) {
        int lo, hi;
        double f;

        bilinear_taps(i, out_n, in_n, &lo, &hi, &f);
        R[(size_t)i * in_n + lo] += 1.0 - f;
        R[(size_t)i * in_n + hi] += f;
    }
}


double *resize_bilinear_2d(int out_h, int out_w, int in_h, int in_w)
{
    size_t nout = (size_t)out_h * out_w, nin = (size_t)in_h * in_w;
    double *Ry = xmalloc((size_t)out_h * in_h * sizeof *Ry);
    double *Rx = xmalloc((size_t)out_w * in_w * sizeof *Rx);
    double *R = xmalloc(nout * nin * sizeof *R);

    resize_bilinear_1d(Ry, out_h, in_h);
    resize_bilinear_1d(Rx, out_w, in_w);

    /* R[(oy, ox), (iy, ix)] = Ry[oy, iy] * Rx[ox, ix]. */
    for (int oy = 0; oy < out_h; oy++)
        for (int ox = 0; ox < out_w; ox++) {
            double *row = R + ((size_t)oy * out_w + ox) * nin;
            for (int iy = 0; iy < in_h; iy++)
                for (int ix = 0; ix < in_w; ix++)
                    row[(size_t)iy * in_w + ix] = Ry[(size_t)oy * in_h + iy] *
                                                  Rx[(size_t)ox * in_w + ix];
        }
    free(Ry);
    free(Rx);
    return R;
}


/* pinv(A) (n x m) of a tall A (m x n, m >= n), from A = U S V^T: pinv(A) = V S^+ U^T.
 * GSL's one-sided SVD needs m >= n, which is why the caller picks the tall orientation. */
static double *pinv_tall(const double *A, int m, int n)
{
    HASSERT(m >= n && n >= 1);
    gsl_matrix *U = gsl_matrix_alloc(m, n);
    gsl_matrix *V = gsl_matrix_alloc(n, n);
    gsl_vector *s = gsl_vector_alloc(n);
    gsl_vector *work = gsl_vector_alloc(n);
    CHECK_ALLOC(U);
    CHECK_ALLOC(V);
    CHECK_ALLOC(s);
    CHECK_ALLOC(work);

    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(U, i, j, A[(size_t)i * n + j]);
    int status = gsl_linalg_SV_decomp(U, V, s, work);
    if (status != GSL_SUCCESS)
        die_at(__FILE__, __LINE__, __func__, NULL, "gsl_linalg_SV_decomp (%d x %d): %s", m, n,
               gsl_strerror(status));

    /* GSL returns the singular values in decreasing order. */
    double tol = RESIZE_PINV_RTOL * gsl_vector_get(s, 0);
    double *P = xcalloc((size_t)n * m, sizeof *P);
    for (int k = 0; k < n; k++) {
        double sk = gsl_vector_get(s, k);
        if (!(sk > tol))
            break;
        for (int j = 0; j < n; j++) {
            double vjk = gsl_matrix_get(V, j, k) / sk;
            double *prow = P + (size_t)j * m;
            for (int i = 0; i < m; i++)
                prow[i] += vjk * gsl_matrix_get(U, i, k);
        }
    }
    gsl_matrix_free(U);
    gsl_matrix_free(V);
    gsl_vector_free(s);
    gsl_vector_free(work);
    return P;
}


/* a (r x c) -> malloc'd a^T (c x r). */
static double *transpose_d(const double *a, int r, int c)
{
    double *t = xmalloc((size_t)r * c * sizeof *t);

    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            t[(size_t)j * r + i] = a[(size_t)i * c + j];
    return t;
}


double *resize_pinv(const double *A, int m, int n)
{
    if (m >= n)
        return pinv_tall(A, m, n);

    /* Wide: pinv(A) = pinv(A^T)^T, and A^T is tall. */
    double *At = transpose_d(A, m, n);                  /* n x m */
    double *PAt = pinv_tall(At, n, m);                  /* m x n */
    double *P = transpose_d(PAt, m, n);                 /* n x m */
    free(At);
    free(PAt);
    return P;
}


double *resize_pinv_matrix_d(int p0, int p)
{
    HASSERT(p0 >= 1 && p >= 1);
    size_t n0 = (size_t)p0 * p0;
    double *R = xmalloc((size_t)p * p0 * sizeof *R);
    double *M = xmalloc((size_t)p * p * n0 * sizeof *M);

    /* B = kron(R, R) with R the 1-D p x p0 resize, and pinv(kron(X, Y)) = kron(pinv X, pinv Y),
     * so pinv(B^T) = kron(M1, M1) with M1 = pinv(R^T) (p x p0). Decomposing the p x p0 factor
     * instead of the p^2 x p0^2 matrix takes 16 -> 32 from about a second to microseconds;
     * test_resize compares the two. */
    resize_bilinear_1d(R, p, p0);
    double *Rt = transpose_d(R, p, p0);                 /* p0 x p */
    double *M1 = resize_pinv(Rt, p0, p);                /* p x p0 */
    for (int oy = 0; oy < p; oy++)
        for (int ox = 0; ox < p; ox++) {
            double *row = M + ((size_t)oy * p + ox) * n0;
            for (int iy = 0; iy < p0; iy++)
                for (int ix = 0; ix < p0; ix++)
                    row[(size_t)iy * p0 + ix] = M1[(size_t)oy * p0 + iy] * M1[(size_t)ox * p0 + ix];
        }
    free(R);
    free(Rt);
    free(M1);
    return M;
}


/* The matrix cache: kind plus up to four sizes name a matrix. A linear list, because a run
 * uses a handful of patch sizes. Not thread-safe (see resize.h). */
enum { CACHE_PINV = 1, CACHE_POS = 2 };

typedef struct {
    int kind, a, b, c, d;
    float *m;
} ResizeCacheEntry;

static ResizeCacheEntry *cache;
static int cache_n, cache_cap;


static const float *cache_get(int kind, int a, int b, int c, int d)
{
    for (int i = 0; i < cache_n; i++) {
        ResizeCacheEntry *e = &cache[i];
        if (e->kind == kind && e->a == a && e->b == b && e->c == c && e->d == d)
            return e->m;
    }
    return NULL;
}


/* Stores a float copy of the double matrix md (len entries), frees md, returns the copy. */
static const float *cache_put(int kind, int a, int b, int c, int d, double *md, size_t len)
{
    float *m = xmalloc(len * sizeof *m);

    for (size_t i = 0; i < len; i++)
        m[i] = (float)md[i];
    free(md);
    if (cache_n == cache_cap) {
        cache_cap = cache_cap ? 2 * cache_cap : 8;
        cache = realloc(cache, (size_t)cache_cap * sizeof *cache);
        CHECK_ALLOC(cache);
    }
    cache[cache_n++] = (ResizeCacheEntry){ kind, a, b, c, d, m };
    return m;
}


const float *resize_pinv_matrix(int p0, int p)
{
    const float *m = cache_get(CACHE_PINV, p0, p, 0, 0);

    if (m != NULL)
        return m;
    return cache_put(CACHE_PINV, p0, p, 0, 0, resize_pinv_matrix_d(p0, p),
                     (size_t)p * p * p0 * p0);
}


const float *resize_pos_matrix(int g0h, int g0w, int gh, int gw)
{
    const float *m = cache_get(CACHE_POS, g0h, g0w, gh, gw);

    if (m != NULL)
        return m;
    return cache_put(CACHE_POS, g0h, g0w, gh, gw, resize_bilinear_2d(gh, gw, g0h, g0w),
                     (size_t)gh * gw * g0h * g0w);
}


void resize_cache_clear(void)
{
    for (int i = 0; i < cache_n; i++)
        free(cache[i].m);
    free(cache);
    cache = NULL;
    cache_n = cache_cap = 0;
}


void resize_patch_weight(float *w_hat, const float *w, int OC, int CH, int p0, int p)
{
    /* w_hat[s] (p*p) = M (p*p x p0*p0) . w[s] (p0*p0) for each slice s = (oc, ch). */
    const float *M = resize_pinv_matrix(p0, p);
    size_t n0 = (size_t)p0 * p0, n = (size_t)p * p, ns = (size_t)OC * CH;

    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < n; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < n0; j++)
                acc += (double)M[i * n0 + j] * w[s * n0 + j];
            w_hat[s * n + i] = (float)acc;
        }
}


void resize_patch_weight_backward(float *dw, const float *dw_hat, int OC, int CH, int p0, int p)
{
    /* forward: w_hat[s, i] = sum_j M[i, j] w[s, j]  =>  dw[s, j] += sum_i M[i, j] dw_hat[s, i] */
    const float *M = resize_pinv_matrix(p0, p);
    size_t n0 = (size_t)p0 * p0, n = (size_t)p * p, ns = (size_t)OC * CH;

    for (size_t s = 0; s < ns; s++)
        for (size_t j = 0; j < n0; j++) {
            double acc = 0.0;
            for (size_t i = 0; i < n; i++)
                acc += (double)M[i * n0 + j] * dw_hat[s * n + i];
            dw[s * n0 + j] += (float)acc;
        }
}


/* The four taps of output (oy, ox) in a separable half-pixel resize: source indices idx[k]
 * (row-major in the input grid) with weights wt[k]. */
static void bilinear_taps_2d(int oy, int ox, int in_h, int in_w, int out_h, int out_w,
                             size_t idx[4], double wt[4])
{
    int y0, y1, x0, x1;
    double fy, fx;

    bilinear_taps(oy, out_h, in_h, &y0, &y1, &fy);
    bilinear_taps(ox, out_w, in_w, &x0, &x1, &fx);
    idx[0] = (size_t)y0 * in_w + x0;
    idx[1] = (size_t)y0 * in_w + x1;
    idx[2] = (size_t)y1 * in_w + x0;
    idx[3] = (size_t)y1 * in_w + x1;
    wt[0] = (1.0 - fy) * (1.0 - fx);
    wt[1] = (1.0 - fy) * fx;
    wt[2] = fy * (1.0 - fx);
    wt[3] = fy * fx;
}


void resize_pos(float *out, const float *pos, int g0h, int g0w, int gh, int gw, int C)
{
    /* out[n, c] = sum_k wt[k] pos[idx[k], c]: the rows of resize_bilinear_2d(gh, gw, g0h,
     * g0w), of which only these four entries are non-zero. */
    HASSERT(g0h >= 1 && g0w >= 1 && gh >= 1 && gw >= 1 && C >= 1);
    for (int oy = 0; oy < gh; oy++)
        for (int ox = 0; ox < gw; ox++) {
            size_t idx[4];
            double wt[4];
            float *o = out + ((size_t)oy * gw + ox) * C;

            bilinear_taps_2d(oy, ox, g0h, g0w, gh, gw, idx, wt);
            for (int c = 0; c < C; c++) {
                double acc = 0.0;
                for (int k = 0; k < 4; k++)
                    acc += wt[k] * pos[idx[k] * C + c];
                o[c] = (float)acc;
            }
        }
}


void resize_pos_backward(float *dpos, const float *dout, int g0h, int g0w, int gh, int gw,
                         int C)
{
    /* forward: out[n, c] = sum_k wt[k] pos[idx[k], c]  =>  dpos[idx[k], c] += wt[k] dout[n, c].
     * Scattered in output order; the coincident taps at clamped edges add up. */
    HASSERT(g0h >= 1 && g0w >= 1 && gh >= 1 && gw >= 1 && C >= 1);
    for (int oy = 0; oy < gh; oy++)
        for (int ox = 0; ox < gw; ox++) {
            size_t idx[4];
            double wt[4];
            const float *d = dout + ((size_t)oy * gw + ox) * C;

            bilinear_taps_2d(oy, ox, g0h, g0w, gh, gw, idx, wt);
            for (int k = 0; k < 4; k++)
                for (int c = 0; c < C; c++)
                    dpos[idx[k] * C + c] += (float)(wt[k] * d[c]);
        }
}


void resize_image(float *out, const float *img, int CH, int in_h, int in_w, int out_h,
                  int out_w)
{
    size_t nin = (size_t)in_h * in_w, nout = (size_t)out_h * out_w;

    HASSERT(in_h >= 1 && in_w >= 1 && out_h >= 1 && out_w >= 1 && CH >= 1);
    for (int oy = 0; oy < out_h; oy++)
        for (int ox = 0; ox < out_w; ox++) {
            size_t idx[4];
            double wt[4];

            bilinear_taps_2d(oy, ox, in_h, in_w, out_h, out_w, idx, wt);
            for (int ch = 0; ch < CH; ch++) {
                const float *plane = img + ch * nin;
                double acc = 0.0;
                for (int k = 0; k < 4; k++)
                    acc += wt[k] * plane[idx[k]];
                out[ch * nout + (size_t)oy * out_w + ox] = (float)acc;
            }
        }
}
