/* fuzz_common.h: what every fuzz target shares. A target's LLVMFuzzerTestOneInput writes its
 * input where the reader wants it, then runs the reader inside FUZZ_RUN: a user error (in a
 * fuzz build, user_error calls a hook) or a stub standing in for real work (train_run,
 * h5in_open, method_init, pipe: linked with -Wl,--wrap) longjmps back, and fuzz_cleanup()
 * closes the files the reader left open. A crash, a sanitizer report, die_at (exit 1) or a
 * hang is a finding. Built two ways: with clang and libFuzzer (make fuzz), and with the
 * ordinary compiler and replay_main.c as a corpus replayer (make test). */
#ifndef HASTEN_FUZZ_COMMON_H
#define HASTEN_FUZZ_COMMON_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

extern jmp_buf fuzz_jmp;

/* Runs stmt; a user error or a stub longjmps back here. (setjmp may only be the whole
 * controlling expression of an if, hence a statement macro.) */
#define FUZZ_RUN(stmt) do { fuzz_arm(); if (setjmp(fuzz_jmp) == 0) { stmt; } fuzz_disarm(); } \
                       while (0)

extern int fuzz_why;
void fuzz_arm(void);
void fuzz_disarm(void);

/* A private temp folder for this process, made on first use. */
const char *fuzz_dir(void);

/* Writes data to dir/name (creating the parent folders of name). */
void fuzz_write(const char *name, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
