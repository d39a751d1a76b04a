/* resize.h: the linear maps behind flexible patch sizes (DESIGN.md section 1).
 * Grids and patches are row-major: entry (y, x) of an h x w grid is at y*w + x. A matrix
 * with R rows and K columns is row-major, R x K. Every map here is linear, so the model
 * uploads its matrix once and applies it with a GEMM; the host apply functions below are
 * the reference for what that GEMM computes, and their _backward is the exact transpose. */
#ifndef HASTEN_RESIZE_H
#define HASTEN_RESIZE_H

/* Patches per side when an S-pixel image is cut into P-pixel patches: g = round(S / P) with
 * halves rounded up, computed in integers as (2S + P) / (2P), so 976/16 = 61.0 gives 61 and
 * 28/8 = 3.5 gives 4. Never less than 1 (an image smaller than half a patch still gives one
 * patch). S >= 1 and P >= 1. */
int resize_grid_side(int S, int P);

/* R (out_n x in_n): 1-D linear interpolation with half-pixel centres (align_corners=False,
 * no antialias). Output i samples source x = (i + 0.5) * in_n / out_n - 0.5, clamped to
 * [0, in_n - 1]; weights 1 - f on floor(x) and f on floor(x) + 1. Rows sum to 1. */
void resize_bilinear_1d(double *R, int out_n, int in_n);

/* The (out_h*out_w) x (in_h*in_w) matrix kron(Ry, Rx) that resizes a row-major in_h x in_w
 * grid to out_h x out_w. Returns a malloc'd matrix; the caller frees it. */
double *resize_bilinear_2d(int out_h, int out_w, int in_h, int in_w);

/* The Moore-Penrose pseudo-inverse (n x m) of any m x n matrix A, by GSL's SVD of A or, when
 * A is wide, of A^T; singular values below 1e-10 * s_max count as zero. Returns a malloc'd
 * matrix. */
double *resize_pinv(const double *A, int m, int n);

/* The FlexiViT pseudo-inverse resize M = pinv(B^T), p^2 x p0^2, where
 * B = resize_bilinear_2d(p, p, p0, p0). A weight slice w (p0 x p0) maps to w_hat = M w so
 * that B^T w_hat = w exactly when p >= p0 (so <x, w> = <B x, w_hat> for every patch x), and
 * B^T w_hat is the least-squares fit to w when p < p0. Computed in double from the SVD of
 * the 1-D factor (B is a Kronecker product). Returns a malloc'd matrix. */
double *resize_pinv_matrix_d(int p0, int p);

/* Float copy of resize_pinv_matrix_d(p0, p), computed once per (p0, p) and cached; the
 * pointer stays valid until resize_cache_clear(). The cache is not thread-safe: call the
 * *_matrix functions from one thread (e.g. when a strategy is set up), not inside a parallel
 * region. */
const float *resize_pinv_matrix(int p0, int p);

/* Float copy of resize_bilinear_2d(gh, gw, g0h, g0w), cached like resize_pinv_matrix: the
 * matrix that resizes a position-embedding grid. */
const float *resize_pos_matrix(int g0h, int g0w, int gh, int gw);

/* Frees every cached matrix; pointers handed out before become invalid. */
void resize_cache_clear(void);

/* w [OC, CH, p0, p0] -> w_hat [OC, CH, p, p]: w_hat = M w per (output, input) channel slice,
 * M = resize_pinv_matrix(p0, p). The bias does not change with the patch size. */
void resize_patch_weight(float *w_hat, const float *w, int OC, int CH, int p0, int p);

/* dw [OC, CH, p0, p0] += M^T dw_hat per slice, dw_hat [OC, CH, p, p]. */
void resize_patch_weight_backward(float *dw, const float *dw_hat, int OC, int CH, int p0, int p);

/* pos [g0h*g0w, C] -> out [gh*gw, C], bilinear with half-pixel centres. The grid only: the
 * caller splits off the CLS entry, which is not resized. */
void resize_pos(float *out, const float *pos, int g0h, int g0w, int gh, int gw, int C);

/* dpos [g0h*g0w, C] += R^T dout, dout [gh*gw, C]: the transpose of resize_pos. */
void resize_pos_backward(float *dpos, const float *dout, int g0h, int g0w, int gh, int gw,
                         int C);

/* img [CH, in_h, in_w] -> out [CH, out_h, out_w], bilinear with half-pixel centres per
 * channel (no antialias): brings an S x S image to g*p pixels per side. */
void resize_image(float *out, const float *img, int CH, int in_h, int in_w, int out_h,
                  int out_w);

#endif
