#!/bin/sh
# Runs every test program given, shows its output, and totals the "N passed, N failed" lines.
# A program that exits 0 with a line "<name>: skipped: <why>" and no summary (test_cuda
# without a GPU) is listed as skipped, not failed. Exits non-zero when any program fails or
# dies without its summary line.
total_pass=0
total_fail=0
broken=""
skipped=""
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    skip=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_]+: skipped: ' | tail -n 1)
    if [ -z "$line" ] && [ -n "$skip" ] && [ $rc -eq 0 ]; then
        skipped="$skipped $(basename "$t")(${skip#*: skipped: })"
        continue
    fi
    if [ -z "$line" ] || [ $rc -ne 0 ]; then
        [ $rc -ne 0 ] && broken="$broken $t(exit $rc)" || broken="$broken $t(no summary)"
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    total_pass=$((total_pass + ${p:-0}))
    total_fail=$((total_fail + ${f:-0}))
done
echo "== programs with failures:${broken:- none}"
echo "== programs skipped:${skipped:- none}"
echo "total: $total_pass passed, $total_fail failed"
[ -z "$broken" ] && [ "$total_fail" -eq 0 ]
