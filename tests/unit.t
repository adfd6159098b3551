#!/bin/sh
# Run every unit test program, $SOCKLAB_BIN/unit-*, with no arguments.
# Each is one TAP result here: ok if it exits 0 after printing a plan;
# otherwise its output follows as comments.

top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
bin=${SOCKLAB_BIN:-$top/bin}
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' HUP INT TERM

set -- "$bin"/unit-*
if [ ! -x "$1" ]; then
	echo "1..1"
	echo "not ok 1 - unit test programs in $bin (run make)"
	exit 1
fi

echo "1..$#"
n=0
failed=0
for prog; do
	n=$((n + 1))
	name=$(basename "$prog")
	timeout 60 "$prog" >"$out" 2>&1
	rc=$?
	tests=$(grep -c '^ok ' "$out")
	if [ "$rc" -eq 0 ] && grep -q '^1\.\.[1-9]' "$out" &&
	    ! grep -q '^not ok' "$out"; then
		echo "ok $n - $name ($tests tests)"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (exit status $rc)"
		sed 's/^/# /' "$out"
	fi
done
[ "$failed" -eq 0 ]
