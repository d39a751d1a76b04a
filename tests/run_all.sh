#!/bin/sh
# Runs every test program given, shows its output, and totals the "N passed, N failed" lines.
# Exits non-zero when any program fails or dies without its summary line.
total_pass=0
total_fail=0
broken=""
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ] || [ $rc -ne 0 ]; then
        [ $rc -ne 0 ] && broken="$broken $t(exit $rc)" || broken="$broken $t(no summary)"
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    total_pass=$((total_pass + ${p:-0}))
    total_fail=$((total_fail + ${f:-0}))
done
echo "== programs with failures:${broken:- none}"
echo "total: $total_pass passed, $total_fail failed"
[ -z "$broken" ] && [ "$total_fail" -eq 0 ]
