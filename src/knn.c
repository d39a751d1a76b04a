/* knn.c: weighted cosine kNN on frozen features, as DINO's eval_knn but without its two known
 * bugs: queries are L2-normalised like the memory, and the chunk of queries per gemm is sized
 * from memory and clamped to [1, ntest], so test sets of fewer than 100 rows work.
 * Layout: features [n, D] row-major float32; similarities [chunk, ntrain] per gemm. */
#include "probe.h"
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KNN_SIM_BUDGET ((size_t)64 << 20) /* bytes of similarities held per chunk */
#define KNN_NORM_EPS 1e-12


/* y[n,:] = x[n,:] / max(||x[n,:]||, eps), norms accumulated in double. A zero row stays zero
 * (it is then equally similar, 0, to everything). Dies on a non-finite feature, which would
 * otherwise poison every comparison silently. */
static float *knn_normalised_copy(const float *x, size_t n, int D, const char *which)
{
    float *y = xmalloc(n * (size_t)D * sizeof(float));
    int bad = 0;

    #pragma omp parallel for schedule(static) reduction(|:bad)
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)D;
        float *yi = y + i * (size_t)D;
        double ss = 0.0;
        for (int d = 0; d < D; d++)
            ss += (double)xi[d] * xi[d];
        if (!isfinite(ss))
            bad = 1;
        double inv = 1.0 / fmax(sqrt(ss), KNN_NORM_EPS);
        for (int d = 0; d < D; d++)
            yi[d] = (float)(xi[d] * inv);
    }
    if (bad)
        die_at(__FILE__, __LINE__, __func__, "check the features for NaN or Inf",
               "non-finite %s feature", which);
    return y;
}


static void knn_check_labels(const int32_t *lab, size_t n, int nclasses, const char *which)
{
    for (size_t i = 0; i < n; i++)
        if (lab[i] < 0 || lab[i] >= nclasses)
            die_at(__FILE__, __LINE__, __func__, NULL, "%s label %ld at row %zu is outside [0, %d)",
                   which, (long)lab[i], i, nclasses);
}


/* Min-heap of the k best (similarity, train index) seen so far; the root is the worst kept.
 * "Worse" = lower similarity, or equal similarity and higher index, so that ties keep the
 * lower train index. */
static int knn_worse(float sa, int32_t ia, float sb, int32_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}


static void knn_sift_down(float *hs, int32_t *hi, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && knn_worse(hs[l], hi[l], hs[m], hi[m]))
            m = l;
        if (r < n && knn_worse(hs[r], hi[r], hs[m], hi[m]))
            m = r;
        if (m == i)
            return;
        float ts = hs[i]; hs[i] = hs[m]; hs[m] = ts;
        int32_t ti = hi[i]; hi[i] = hi[m]; hi[m] = ti;
        i = m;
    }
}


/* Selects the k best of s[ntrain] into hs/hi, sorted best first. Partial selection: one pass
 * with a k-heap, O(ntrain log k); indices arrive in increasing order, so a candidate equal to
 * the root is worse than it and only a strictly larger similarity enters. */
static void knn_select(float *hs, int32_t *hi, const float *s, size_t ntrain, int k)
{
    int n = 0;

    for (size_t j = 0; j < ntrain; j++) {
        if (n < k) {
            int c = n++;
            hs[c] = s[j];
            hi[c] = (int32_t)j;
            while (c > 0 && knn_worse(hs[c], hi[c], hs[(c - 1) / 2], hi[(c - 1) / 2])) {
                int p = (c - 1) / 2;
                float ts = hs[c]; hs[c] = hs[p]; hs[p] = ts;
                int32_t ti = hi[c]; hi[c] = hi[p]; hi[p] = ti;
                c = p;
            }
        } else if (s[j] > hs[0]) {
            hs[0] = s[j];
            hi[0] = (int32_t)j;
            knn_sift_down(hs, hi, k, 0);
        }
    }

    /* Heap sort: popping the worst to the back leaves the array best first. */
    for (int m = k - 1; m > 0; m--) {
        float ts = hs[0]; hs[0] = hs[m]; hs[m] = ts;
        int32_t ti = hi[0]; hi[0] = hi[m]; hi[m] = ti;
        knn_sift_down(hs, hi, m, 0);
    }
}


/* Weighted vote of the k neighbours (best first). The weights exp(s/T) are all divided by
 * exp(s_max/T), which leaves the argmax unchanged and keeps them finite for any small T. */
static int32_t knn_vote(double *score, const float *hs, const int32_t *hi,
                        const int32_t *train_lab, int k, int nclasses, float T)
{
    memset(score, 0, (size_t)nclasses * sizeof(double));
    for (int j = 0; j < k; j++)
        score[train_lab[hi[j]]] += exp(((double)hs[j] - hs[0]) / T);

    int32_t best = 0;
    for (int c = 1; c < nclasses; c++)
        if (score[c] > score[best]) /* strict: ties go to the lowest class */
            best = c;
    return best;
}


double knn_top1_chunked(const Backend *be, const float *train_feat, const int32_t *train_lab,
                        size_t ntrain, const float *test_feat, const int32_t *test_lab,
                        size_t ntest, int D, int nclasses, int k, float T, size_t chunk,
                        int32_t *pred_out)
{
    HASSERT(be != NULL && ntrain >= 1 && ntest >= 1 && D >= 1 && nclasses >= 1);
    HASSERT(k >= 1 && T > 0.0f && isfinite(T));
    HASSERT(ntrain <= (size_t)INT32_MAX && ntest <= (size_t)INT32_MAX);
    knn_check_labels(train_lab, ntrain, nclasses, "train");
    knn_check_labels(test_lab, ntest, nclasses, "test");
    if ((size_t)k > ntrain)
        k = (int)ntrain;

    /* Queries per gemm: as many as fit the similarity budget, at least one, at most all. */
    if (chunk == 0)
        chunk = KNN_SIM_BUDGET / (ntrain * sizeof(float));
    if (chunk < 1)
        chunk = 1;
    if (chunk > ntest)
        chunk = ntest;

    float *trn = knn_normalised_copy(train_feat, ntrain, D, "train");
    float *tst = knn_normalised_copy(test_feat, ntest, D, "test");
    size_t row_bytes = (size_t)D * sizeof(float);
    float *d_train = be->alloc(ntrain * row_bytes);
    float *d_q = be->alloc(chunk * row_bytes);
    float *d_s = be->alloc(chunk * ntrain * sizeof(float));
    float *s = xmalloc(chunk * ntrain * sizeof(float));
    be->upload(d_train, trn, ntrain * row_bytes);
    free(trn);

    size_t correct = 0;
    for (size_t q0 = 0; q0 < ntest; q0 += chunk) {
        int m = (int)(ntest - q0 < chunk ? ntest - q0 : chunk);

        /* s[m, ntrain] = q[m, D] @ train[ntrain, D]^T: cosines, both sides being unit rows. */
        be->upload(d_q, tst + q0 * D, (size_t)m * row_bytes);
        be->gemm(0, 1, m, (int)ntrain, D, 1.0f, d_q, D, d_train, D, 0.0f, d_s, (int)ntrain);
        be->download(s, d_s, (size_t)m * ntrain * sizeof(float));

        #pragma omp parallel reduction(+:correct)
        {
            float *hs = xmalloc((size_t)k * sizeof(float));
            int32_t *hi = xmalloc((size_t)k * sizeof(int32_t));
            double *score = xmalloc((size_t)nclasses * sizeof(double));

            #pragma omp for schedule(static)
            for (int r = 0; r < m; r++) {
                knn_select(hs, hi, s + (size_t)r * ntrain, ntrain, k);
                int32_t p = knn_vote(score, hs, hi, train_lab, k, nclasses, T);
                if (pred_out != NULL)
                    pred_out[q0 + r] = p;
                correct += (p == test_lab[q0 + r]);
            }
            free(hs);
            free(hi);
            free(score);
        }
    }

    free(s);
    free(tst);
    be->free(d_s);
    be->free(d_q);
    be->free(d_train);
    return (double)correct / (double)ntest;
}


double knn_top1(const Backend *be, const float *train_feat, const int32_t *train_lab,
                size_t ntrain, const float *test_feat, const int32_t *test_lab, size_t ntest,
                int D, int nclasses, int k, float T, int32_t *pred_out)
{
    return knn_top1_chunked(be, train_feat, train_lab, ntrain, test_feat, test_lab, ntest, D,
                            nclasses, k, T, 0, pred_out);
}


/* px [n, P] uint8 -> out [n, P] float: px / 255 - mean[p]. */
static void knn_pixels_centred(float *out, const uint8_t *px, size_t n, size_t P,
                               const double *mean)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < P; p++)
            out[i * P + p] = (float)(px[i * P + p] / 255.0 - mean[p]);
}


double knn_top1_pixels(const Backend *be, const uint8_t *train_px, const int32_t *train_lab,
                       size_t ntrain, const uint8_t *test_px, const int32_t *test_lab,
                       size_t ntest, size_t pixels_per_image, int nclasses, int k, float T,
                       int32_t *pred_out)
{
    size_t P = pixels_per_image;
    HASSERT(ntrain >= 1 && ntest >= 1 && P >= 1 && P <= (size_t)INT32_MAX);

    /* Per-dimension train mean, summed in double (60000 images of 0..1 values). */
    double *mean = xcalloc(P, sizeof(double));
    for (size_t i = 0; i < ntrain; i++)
        for (size_t p = 0; p < P; p++)
            mean[p] += train_px[i * P + p];
    for (size_t p = 0; p < P; p++)
        mean[p] /= 255.0 * (double)ntrain;

    float *trn = xmalloc(ntrain * P * sizeof(float));
    float *tst = xmalloc(ntest * P * sizeof(float));
    knn_pixels_centred(trn, train_px, ntrain, P, mean);
    knn_pixels_centred(tst, test_px, ntest, P, mean);
    free(mean);

    double acc = knn_top1(be, trn, train_lab, ntrain, tst, test_lab, ntest, (int)P, nclasses,
                          k, T, pred_out);
    free(trn);
    free(tst);
    return acc;
}
