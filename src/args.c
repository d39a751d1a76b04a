/* args.c: flag parsing with clear messages for every mistake. */
#include "args.h"

#include "common.h"

#include <errno.h>
#include <math.h>
#include <string.h>

void args_init(Args *a, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->used = xcalloc((size_t)argc + 1, 1);
}


void args_free(Args *a)
{
    free(a->used);
    a->used = NULL;
}


/* Finds "--flag value" and marks both as used; returns the value or NULL. A flag given twice
 * is a mistake: silently taking the first would leave the second to be reported as unknown. */
static const char *find(Args *a, const char *flag)
{
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], flag) == 0) {
            if (i + 1 >= a->argc)
                user_error("%s: missing value", flag);
            for (int j = i + 2; j < a->argc; j++)
                if (strcmp(a->argv[j], flag) == 0 && !a->used[j])
                    user_error("%s given twice (%s and %s); give it once", flag, a->argv[i + 1],
                               j + 1 < a->argc ? a->argv[j + 1] : "no value");
            a->used[i] = a->used[i + 1] = 1;
            return a->argv[i + 1];
        }
    return NULL;
}


int args_int(Args *a, const char *flag, int def, int lo, int hi)
{
    const char *s = find(a, flag);
    char *end;
    long v;

    if (s == NULL)
        return def;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        user_error("%s %s: expected a whole number in [%d, %d]", flag, s, lo, hi);
    if (v < lo || v > hi)
        user_error("%s %s: out of range; expected a whole number in [%d, %d]", flag, s, lo, hi);
    return (int)v;
}


static double parse_double(const char *flag, const char *s, const char *range)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
        user_error("%s %s: expected a number in %s", flag, s, range);
    return v;
}


double args_double(Args *a, const char *flag, double def, double lo, double hi)
{
    const char *s = find(a, flag);
    char range[96];
    double v;

    if (s == NULL)
        return def;
    snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    v = parse_double(flag, s, range);
    if (v < lo || v > hi)
        user_error("%s %s: out of range; expected a number in %s", flag, s, range);
    return v;
}


double args_double_open(Args *a, const char *flag, double def, double lo, double hi)
{
    const char *s = find(a, flag);
    char range[96];
    double v;

    if (s == NULL)
        return def;
    snprintf(range, sizeof range, "(%g, %g]", lo, hi);
    v = parse_double(flag, s, range);
    if (v <= lo || v > hi)
        user_error("%s %s: out of range; expected a number in %s", flag, s, range);
    return v;
}


const char *args_str(Args *a, const char *flag, const char *def)
{
    const char *s = find(a, flag);
    return s != NULL ? s : def;
}


int args_choice(Args *a, const char *flag, int def, const char *const *choices)
{
    const char *s = find(a, flag);
    char list[256] = "";

    if (s == NULL)
        return def;
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(s, choices[i]) == 0)
            return i;
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    user_error("%s %s: expected one of %s", flag, s, list);
}


int args_flag(Args *a, const char *flag)
{
    for (int i = 0; i < a->argc; i++)
        if (strcmp(a->argv[i], flag) == 0) {
            a->used[i] = 1;
            return 1;
        }
    return 0;
}


const char *args_positional(Args *a)
{
    for (int i = 0; i < a->argc; i++)
        if (!a->used[i] && strncmp(a->argv[i], "--", 2) != 0) {
            a->used[i] = 1;
            return a->argv[i];
        }
    return NULL;
}


void args_finish(Args *a, const char *command)
{
    for (int i = 0; i < a->argc; i++)
        if (!a->used[i])
            user_error("%s: unknown argument '%s'; see 'hasten %s --help'", command,
                       a->argv[i], command);
}
