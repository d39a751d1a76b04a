/* cpu_mathfn.h: branch-free float exp and erf that gcc vectorises inside `omp simd` loops
 * (libm's expf/erff are scalar calls and stall the GELU loops). Both work on one float;
 * the coefficients are our own near-minimax fits (Lawson-iterated least squares). */
#ifndef HASTEN_CPU_MATHFN_H
#define HASTEN_CPU_MATHFN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float cpu_bits_to_float(uint32_t i)
{
    float f;

    memcpy(&f, &i, sizeof f);
    return f;
}


static inline int32_t cpu_float_to_bits(float f)
{
    int32_t i;

    memcpy(&i, &f, sizeof i);
    return i;
}


/* e^x with relative error ~2 ulp on the whole float range: x = n ln2 + r, |r| <= ln2/2.
 * n is rounded by the 1.5*2^23 trick (its low mantissa bits then hold n as an integer);
 * ln2 is split hi/lo so r stays exact; 2^n is built in two halves so that n = 128
 * (overflow to inf) and n = -126 (subnormal results) come out right without branches.
 * The ternary clamp keeps NaN a NaN. */
static inline float cpu_expf(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
    float k = fmaf(xc, 1.44269504f, magic);
    float n = k - magic;
    int32_t ni = cpu_float_to_bits(k) - cpu_float_to_bits(magic);
    float r = fmaf(-n, 0.693145752f, xc);
    r = fmaf(-n, 1.42860677e-6f, r);

    /* exp(r) on [-ln2/2, ln2/2], max relative error 1.9e-9 */
    float p = 1.383683787e-03f;
    p = fmaf(p, r, 8.374822091e-03f);
    p = fmaf(p, r, 4.166822605e-02f);
    p = fmaf(p, r, 1.666642010e-01f);
    p = fmaf(p, r, 4.999999208e-01f);
    p = fmaf(p, r, 1.000000036e+00f);
    p = fmaf(p, r, 1.0f);

    /* shifts on unsigned: for a NaN x, ni is garbage and a signed shift would be undefined */
    int32_t n1 = ni >> 1;
    int32_t n2 = ni - n1;
    return p * cpu_bits_to_float((uint32_t)(n1 + 127) << 23)
             * cpu_bits_to_float((uint32_t)(n2 + 127) << 23);
}


/* erf(x) given e = exp(-x^2), for callers that need that exponential too (GELU's backward):
 * one exp serves both. Max absolute error ~1e-7 (tests/test_kernels.c measures it against
 * libm in double). |x| < 1: erf = x + x P(x^2), the leading x kept out of P because 1.128...
 * rounded to float alone would cost 6e-8. 1 <= |x| < 4: erf = 1 - e Q(u), Q fitting
 * erfcx(x) = e^{x^2} erfc(x) in u = (2|x| - 5)/3 in [-1, 1], the fit weighted by e^{-x^2} so
 * its error is the error in erf. Past 4, 1 - erf(x) < 1.6e-8 is below half an ulp of 1: the
 * result is 1 (u is clamped too, so Q stays finite and inf * 0 cannot make a NaN). Every
 * piece is computed and one selected: no branch to stop vectorisation. */
static inline float cpu_erff_given_exp(float x, float e)
{
    float a = fabsf(x);

    float s = a * a;
    float ps = 7.647119541e-05f;
    ps = fmaf(ps, s, -7.942356849e-04f);
    ps = fmaf(ps, s, 5.179749609e-03f);
    ps = fmaf(ps, s, -2.684859135e-02f);
    ps = fmaf(ps, s, 1.128343012e-01f);
    ps = fmaf(ps, s, -3.761260599e-01f);
    ps = fmaf(ps, s, 0.128379158f);
    float small = fmaf(a, ps, a);

    float u = fmaf(a > 4.0f ? 4.0f : a, 0.666666667f, -1.66666667f);
    float q = -6.644450292e-03f;
    q = fmaf(q, u, -9.116453160e-03f);
    q = fmaf(q, u, -1.490138365e-02f);
    q = fmaf(q, u, 9.953344667e-03f);
    q = fmaf(q, u, -2.633964942e-02f);
    q = fmaf(q, u, 5.660505390e-02f);
    q = fmaf(q, u, -1.114495578e-01f);
    q = fmaf(q, u, 2.108065535e-01f);
    float large = a >= 4.0f ? 1.0f : 1.0f - e * q;

    return copysignf(a < 1.0f ? small : large, x);
}


static inline float cpu_erff(float x)
{
    return cpu_erff_given_exp(x, cpu_expf(-x * x));
}

#endif
