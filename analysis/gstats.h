/* gstats.h: one-pass gradient statistics per compression strategy (DESIGN.md section 1,
 * "Gradient-estimation error"). A gradient is one flat float vector of n parameters; K
 * independent minibatch gradients of a strategy are streamed into a GStatsAcc and never stored.
 *
 * Memory. The K draws are dealt round-robin into M groups (draw k goes to group k mod M, so K
 * need not be known in advance and group sizes differ by at most one). Per group the
 * accumulator keeps the Welford mean vector (n doubles) and, per parameter segment, the
 * within-group sum of squared deviations (a scalar, the per-coordinate Welford M2 summed over
 * the segment). Memory is M*n doubles plus O(M * segments + n / block) scalars, whatever K.
 * With GSTATS_KEEP_ALL every draw is its own group (memory K*n doubles): exact per-draw
 * resampling, for small n.
 *
 * Intervals. Every reported figure is a smooth function of the group means and group sums of
 * squares; gstats_compare() computes, over the requested coordinate range, the Gram matrix of
 * the centred group means of both strategies (an (Ms+M0+2)^2 matrix, O(n (Ms+M0)^2) work),
 * from which each figure is re-evaluated with one group left out (delete-a-group jackknife,
 * each strategy in turn, as the two draw sets are independent). The jackknife variances of the
 * two sets are added and the interval is estimate +- t * se with Welch-Satterthwaite degrees
 * of freedom (M_s - 1 and M_0 - 1 for the two parts), so with few groups the interval widens
 * honestly through the t quantile. The jackknife is exact in its replicates (every figure is
 * recomputed from the Gram matrix, no linearisation); for a true bias^2 of zero (a degenerate
 * quadratic statistic) it is conservative, which errs on the safe side for "no bias".
 *
 * TODO(gstats): a bootstrap over draws (gsl_rng multinomial weights on the same Gram matrix)
 * for keep_all; only the jackknife exists now, which is the sound choice for M ~ 10 groups.
 * TODO(gstats): the Gram matrix is a plain O(n P^2) loop; keep_all with large K and n would
 * want a blocked dsyrk. */
#ifndef HASTEN_GSTATS_H
#define HASTEN_GSTATS_H

#include <stddef.h>

#define GSTATS_KEEP_ALL (-1) /* as `groups`: one group per draw, all draws kept */
#define GSTATS_BLOCK 8192   /* coordinates per block of a deterministic parallel sum */

typedef struct {
    size_t n;          /* length of a flat gradient */
    int keep_all;      /* one group per draw */
    size_t groups;     /* M; with keep_all the number of draws so far */
    size_t cap;        /* group slots allocated */
    size_t k;          /* draws added */
    size_t nseg;       /* parameter segments: segment i is [seg_end[i-1], seg_end[i]) */
    size_t *seg_end;
    double *mean;      /* [cap][n] Welford group means */
    size_t *count;     /* [cap] draws per group */
    double *m2;        /* [cap][nseg] within-group sums of squared deviations */
    size_t nblk;       /* fixed coordinate blocks, so sums do not depend on the thread count */
    size_t *blk_start; /* [nblk + 1] */
    size_t *blk_seg;   /* [nblk] segment of each block */
    double *blk_sum;   /* [nblk] scratch for per-block partial sums */
} GStatsAcc;

/* An estimate, its standard error and a two-sided confidence interval. */
typedef struct {
    double est, se, lo, hi, dof;
} GStatsCI;

typedef struct {
    size_t start, end;  /* coordinate range the figures refer to */
    size_t k_s, k_ref;  /* draws K_s, K_0 */
    size_t m_s, m_ref;  /* groups M_s, M_0 */
    double cost;        /* c_s, budget units per sample */
    double level;       /* confidence level of every interval */
    GStatsCI norm_ref;  /* ||g0bar||^2 (biased up by V_0/K_0 as an estimate of ||E g_0||^2) */
    GStatsCI var_s;     /* V_s = sum_k ||g_s^k - gsbar||^2 / (K_s - 1) */
    GStatsCI var_ref;   /* V_0 */
    GStatsCI bias2_raw; /* ||gsbar - g0bar||^2 */
    GStatsCI bias2;     /* b_s = raw - V_s/K_s - V_0/K_0 (unbiased; may be negative) */
    GStatsCI cvar;      /* c_s V_s */
    GStatsCI camse;     /* b_s + c_s V_s */
    GStatsCI bias2_raw_rel, bias2_rel, cvar_rel, camse_rel; /* the above / ||g0bar||^2 */
} GStatsResult;

/* Prepares acc for gradients of length n with `groups` >= 2 groups, or GSTATS_KEEP_ALL.
 * One segment: the whole vector. */
void gstats_init(GStatsAcc *acc, size_t n, int groups);

/* As gstats_init, with nseg parameter segments ending at seg_end[0] < ... < seg_end[nseg-1] = n
 * (e.g. patch embedding, each block, the heads). Range-restricted variances need range ends on
 * segment boundaries. */
void gstats_init_segments(GStatsAcc *acc, size_t n, int groups, size_t nseg,
                          const size_t *seg_end);

void gstats_free(GStatsAcc *acc);

/* Streams one minibatch gradient g[0..n) into acc (accumulated in double). Dies on a
 * non-finite entry: a NaN gradient means the step that produced it is broken. */
void gstats_add(GStatsAcc *acc, const float *g);

/* Bytes acc holds on the heap: M*n doubles plus small bookkeeping (grows only with keep_all). */
size_t gstats_bytes(const GStatsAcc *acc);

/* Compares strategy s against the reference strategy 0 at cost c_s, over the whole vector,
 * with 95% intervals. s and ref must be different accumulators of independent draws (for
 * strategy 0 against itself, feed a second, independent set of strategy-0 draws). Each needs
 * all its groups non-empty and K minus the largest group >= 2. */
GStatsResult gstats_compare(const GStatsAcc *s, const GStatsAcc *ref, double cost_s);

/* As gstats_compare, restricted to coordinates [start, end), which must be segment boundaries
 * of both accumulators, at confidence level `level` in (0, 1). */
GStatsResult gstats_compare_range(const GStatsAcc *s, const GStatsAcc *ref, double cost_s,
                                  size_t start, size_t end, double level);

#endif
