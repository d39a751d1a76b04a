/* schedule.c: learning-rate, momentum, temperature and weight-decay schedules over the
 * fraction t in [0, 1] of the training budget spent. */
#include "schedule.h"
#include "common.h"

#include <math.h>

static const double SCHED_PI = 3.14159265358979323846;


/* Clamps t to [0, 1]; a NaN fraction is a caller bug, not something to train through. */
static double sched_clamp(double t)
{
    HASSERT(!isnan(t));
    return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}


LrSchedule sched_lr_default(double base_lr, double warmup_frac)
{
    LrSchedule s = { base_lr, 0.0, warmup_frac, SCHED_COSINE, 2.0 };
    return s;
}


double sched_lr(const LrSchedule *s, double t)
{
    HASSERT(s->warmup_frac >= 0.0 && s->warmup_frac < 1.0);
    t = sched_clamp(t);

    double w = s->warmup_frac;
    if (t < w)
        return s->base_lr * t / w;

    double u = (t - w) / (1.0 - w);
    double shape = s->decay == SCHED_POLY ? pow(1.0 - u, s->alpha)
                                          : 0.5 * (1.0 + cos(SCHED_PI * u));
    return s->min_lr + (s->base_lr - s->min_lr) * shape;
}


double sched_cosine_ramp(double v0, double v1, double t)
{
    t = sched_clamp(t);
    return v1 - (v1 - v0) * 0.5 * (1.0 + cos(SCHED_PI * t));
}


double sched_momentum(double m0, double t)
{
    return sched_cosine_ramp(m0, 1.0, t);
}


double sched_teacher_temp(double tau0, double tau1, double warmup_frac, double t)
{
    t = sched_clamp(t);
    if (t >= warmup_frac)
        return tau1;
    return tau0 + (tau1 - tau0) * t / warmup_frac;
}
