/* rng.h: small counter-based random streams.
 * Every random draw in hasten comes from a stream named by (seed, purpose, epoch or step,
 * sample index), so results do not depend on the thread count or on the order samples are
 * processed, and a rerun with the same seed draws the same numbers. The generator is
 * splitmix64 (one 64-bit word of state, so it is trivial to checkpoint). */
#ifndef HASTEN_RNG_H
#define HASTEN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct { uint64_t s; } Rng;

/* Purposes: distinct constants keep streams of different uses apart. */
enum { RNG_AUGMENT = 1, RNG_TOKEN_DROP = 2, RNG_INIT = 3, RNG_DATA_ORDER = 4, RNG_EVAL = 5,
       RNG_GRADSTATS = 6, RNG_BOOTSTRAP = 7 };

static inline uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(Rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return rng_mix64(r->s);
}

/* The stream for (seed, purpose, a, b): a and b are e.g. the epoch and the sample index. */
static inline Rng rng_stream(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    Rng r;
    r.s = rng_mix64(seed ^ rng_mix64(purpose + 0x632be59bd9b4e019ULL));
    r.s = rng_mix64(r.s ^ rng_mix64(a + 0x8cb92ba72f3d8dd7ULL));
    r.s = rng_mix64(r.s ^ rng_mix64(b + 0x9e3779b97f4a7c15ULL));
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_uniform(Rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0, without modulo bias worth mentioning for n << 2^64. */
static inline uint64_t rng_below(Rng *r, uint64_t n)
{
    return (uint64_t)(rng_uniform(r) * (double)n) % n;
}

/* Standard normal by Box-Muller (one value per call; the second is discarded so the number
 * of draws per call is fixed). */
static inline double rng_normal(Rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);

    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
