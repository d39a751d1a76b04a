/* schedule.h: training schedules as functions of t in [0, 1], the fraction of the budget
 * spent (DESIGN.md "Budget"): learning rate, EMA momentum, DINO teacher temperature and
 * weight decay. Values out of [0, 1] are clamped, so a last step that overshoots the
 * budget by a little gets the final value. All pure functions; nothing to checkpoint. */
#ifndef HASTEN_SCHEDULE_H
#define HASTEN_SCHEDULE_H

typedef enum { SCHED_COSINE = 0, SCHED_POLY = 1 } SchedDecay;

typedef struct {
    double base_lr;     /* peak rate, reached at the end of warm-up */
    double min_lr;      /* floor at t = 1 (0 for MoCo v3, 1e-6 for DINO) */
    double warmup_frac; /* fraction of the budget spent warming up, in [0, 1) */
    SchedDecay decay;
    double alpha;       /* exponent of SCHED_POLY (2 by default) */
} LrSchedule;

/* The common case: cosine decay to 0 after warmup_frac (alpha preset to 2 for a caller
 * that switches decay to SCHED_POLY). */
LrSchedule sched_lr_default(double base_lr, double warmup_frac);

/* Warm-up (t < w): lr = base_lr * t / w, linear from 0.
 * After it, with u = (t - w) / (1 - w) the fraction of the post-warm-up budget spent
 * (0 at the end of warm-up, 1 at the end of the budget):
 *   cosine: lr = min_lr + (base_lr - min_lr) * (1 + cos(pi u)) / 2
 *   poly:   lr = min_lr + (base_lr - min_lr) * (1 - u)^alpha
 * so with min_lr = 0 poly is exactly base_lr * (1 - u)^alpha. */
double sched_lr(const LrSchedule *s, double t);

/* Half-cosine from v0 at t = 0 to v1 at t = 1: v1 - (v1 - v0) * (1 + cos(pi t)) / 2.
 * DINO's weight decay is sched_cosine_ramp(0.04, 0.4, t). */
double sched_cosine_ramp(double v0, double v1, double t);

/* EMA momentum m(t) = 1 - (1 + cos(pi t)) / 2 * (1 - m0): m0 = 0.99 (MoCo v3),
 * 0.996 (DINO teacher); m(0.5) = (1 + m0) / 2. */
double sched_momentum(double m0, double t);

/* DINO teacher temperature: linear from tau0 to tau1 over the first warmup_frac of the
 * budget, then constant tau1 (0.04 -> 0.07 in the paper). warmup_frac = 0 means tau1. */
double sched_teacher_temp(double tau0, double tau1, double warmup_frac, double t);

#endif
