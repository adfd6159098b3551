#!/bin/sh
# deps.sh - install what the named make targets need on a Debian machine,
# and nothing when it is all there already.
#
#   sh scripts/deps.sh TARGET...   build test bench demo handouts stress fuzz,
#                                  or all
#
# The Makefile calls it before it compiles anything, with the goals it
# was given (`make test` runs deps.sh build test).  It runs apt-get only
# when a command is missing, so it is cheap to call from every make run.
# Installing needs root (CI and fresh machines run it as root);
# otherwise it names what is missing, and how to install it, and fails.
set -eu

# One line a command: the command (or, when it starts with '/', a file),
# its Debian package, the make targets that need it.  The tests exercise what the bench runs, so `test` needs
# the bench's tools too (a test whose tool is missing skips).
NEEDS='
cc		gcc		build
/usr/include/zlib.h	zlib1g-dev	build
make		make		build
/usr/include/liburing.h	liburing-dev	build
python3		python3		test bench demo handouts stress
prove		perl		test stress
ss		iproute2	test demo handouts stress
pandoc		pandoc		test handouts
hyperfine	hyperfine	test bench
gnuplot		gnuplot-nox	test bench
redis-server	redis-server	test bench
redis-benchmark	redis-tools	test bench
iperf3		iperf3		bench
perf		linux-perf	bench
valgrind	valgrind	stress
java		default-jre-headless	test
/usr/share/java/hdrhistogram.jar	libhdrhistogram-java	test
clang		clang		fuzz
'

[ $# -gt 0 ] || set -- all
for t; do
	case $t in
	build|test|bench|demo|handouts|stress|fuzz|all) ;;
	*)	echo "usage: deps.sh build|test|bench|demo|handouts|stress|fuzz|all..." >&2
		exit 2 ;;
	esac
done
targets=$*

# wanted TARGET...: does a target on the command line need this?
wanted() {
	for t in $targets; do
		[ "$t" = all ] && return 0
		case " $* " in *" $t "*) return 0 ;; esac
	done
	return 1
}

missing=
add() {
	case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac
}

# libFuzzer and its sanitizer runtimes are clang's runtime package,
# which clang only recommends: named after the clang installed.
fuzz_runtime() {
	wanted fuzz && command -v clang >/dev/null 2>&1 || return 0
	clang -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q / &&
	    return 0
	echo "libclang-rt-$(clang --version |
	    sed -n 's/.*clang version \([0-9]*\).*/\1/p')-dev"
}

while read -r cmd pkg for; do
	[ -n "$cmd" ] || continue
	# shellcheck disable=SC2086
	wanted $for || continue
	case $cmd in
	/*)	[ -e "$cmd" ] || add "$pkg" ;;
	*)	command -v "$cmd" >/dev/null 2>&1 || add "$pkg" ;;
	esac
done <<EOF
$NEEDS
EOF
rt=$(fuzz_runtime)
[ -n "$rt" ] && add "$rt"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: make $targets needs these packages:$missing" >&2
	echo "deps.sh: as root: apt-get install$missing" >&2
	exit 1
fi

# Debian starts redis-server as a service on install; socklab runs its
# own instances on ephemeral loopback ports and wants no system one.  A
# policy-rc.d that forbids (exit 101) keeps invoke-rc.d from starting
# any service during our install, with or without systemd.
policy=/usr/sbin/policy-rc.d
ours=
cleanup() { [ -z "$ours" ] || rm -f "$policy"; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
	ours=1
fi

install() {
	echo "deps.sh: make $targets: apt-get install $*"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
install $missing
# A clang installed just now may still lack its fuzzer runtime.
rt=$(fuzz_runtime)
[ -z "$rt" ] || install "$rt"
exit 0
