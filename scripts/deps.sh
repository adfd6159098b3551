#!/bin/sh
# deps.sh - install what socklab needs on a Debian machine, and nothing
# when it is all there already.
#
#   sh scripts/deps.sh test    what `make test` needs
#   sh scripts/deps.sh bench   what `make bench` needs
#   sh scripts/deps.sh all     both
#
# It runs apt-get only when a command is missing, so it is cheap to call
# from every make run.  Installing needs root (CI and fresh machines run
# it as root); otherwise it says what to install and fails.
set -eu

what=${1:-all}

# command:package pairs
need_test="cc:gcc make:make python3:python3 prove:perl ss:iproute2 \
ip:iproute2 nstat:iproute2 unshare:util-linux clang:clang \
valgrind:valgrind"
need_bench="hyperfine:hyperfine gnuplot:gnuplot-nox \
redis-server:redis-server redis-benchmark:redis-tools"

case $what in
test)	need=$need_test ;;
bench)	need="$need_test $need_bench" ;;
all)	need="$need_test $need_bench" ;;
*)	echo "usage: deps.sh test|bench|all" >&2; exit 2 ;;
esac

missing=
for pair in $need; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 && continue
	case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done
# libFuzzer and the sanitizer runtimes come with clang's runtime package.
if command -v clang >/dev/null 2>&1 &&
    ! clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null |
    grep -q /; then
	ver=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
	[ -n "$ver" ] && missing="$missing libclang-rt-$ver-dev"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root: apt-get install$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts redis-server as a service on install; socklab runs its
# own instances on ephemeral loopback ports and needs no system one.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
