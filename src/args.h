/* args.h: command-line flags of the form "--name value", parsed with range checks.
 * Every mistake is a user error naming the flag, the value given and what was expected. */
#ifndef HASTEN_ARGS_H
#define HASTEN_ARGS_H

typedef struct {
    int argc;
    char **argv;
    unsigned char *used; /* which argv entries a getter has consumed */
} Args;

void args_init(Args *a, int argc, char **argv);
void args_free(Args *a);

/* Each getter returns the default when the flag is absent. */
int args_int(Args *a, const char *flag, int def, int lo, int hi);
double args_double(Args *a, const char *flag, double def, double lo, double hi);
/* Open-low interval (lo, hi]: for ratios such as the keep ratio. */
double args_double_open(Args *a, const char *flag, double def, double lo, double hi);
const char *args_str(Args *a, const char *flag, const char *def);
/* One of the listed choices (NULL-terminated); returns its index. */
int args_choice(Args *a, const char *flag, int def, const char *const *choices);
int args_flag(Args *a, const char *flag); /* a flag without a value */
/* The next positional argument not yet consumed, or NULL. */
const char *args_positional(Args *a);
/* Dies naming the first flag nobody consumed. */
void args_finish(Args *a, const char *command);

#endif
