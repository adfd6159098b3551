/*
 * opt.c - unit test of lib/opt.c, the one parser of option values, and
 * of what lib/net.h says net_accept() does with a signal.
 *
 * A number is digits only: strtol() and strtod() alone take " 80",
 * "+80", "-0", "1e3", "0x10" and "inf", and the programs did.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "log.h"
#include "net.h"
#include "opt.h"

static const char *const bad[] = {
	"", " 80", "80 ", "+80", "-0", "-1", "0x10", "1e3", "8 0", "inf",
	"nan", "\t8", "١٢", ".", "1..2", "1.2.3",
};

static void
numbers(void)
{
	size_t i;
	long v;
	double d;
	int ms;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(opt_long("--port", bad[i], 0, 65535, &v) == -1,
		    "opt_long refuses '%s'", bad[i]);
		ok(opt_double("-d", bad[i], 0, 1e9, &d) == -1,
		    "opt_double refuses '%s'", bad[i]);
		ok(opt_msec("--timeout", bad[i], 1, 86400, &ms) == -1,
		    "opt_msec refuses '%s'", bad[i]);
	}
	ok(opt_long("--port", "80", 0, 65535, &v) == 0 && v == 80, "'80' is 80");
	ms = 7;
	ok(opt_timeout("--timeout", "none", 0, 86400, &ms) == 0 && ms == 0,
	    "--timeout none is 0: no limit");
	ok(opt_timeout("--timeout", "1.5", 0, 86400, &ms) == 0 && ms == 1500,
	    "--timeout 1.5 is 1500 ms");
	ok(opt_timeout("--timeout", "0", 0, 86400, &ms) == -1 &&
	    opt_timeout("--timeout", "None", 0, 86400, &ms) == -1,
	    "opt_timeout refuses '0' (unless zero_ok) and 'None'");
	ok(opt_long("--port", "0", 0, 65535, &v) == 0 && v == 0, "'0' is 0");
	ok(opt_long("--port", "065535", 0, 65535, &v) == 0 && v == 65535,
	    "leading zeros are digits");
	ok(opt_long("--port", "65536", 0, 65535, &v) == -1, "'65536' > max");
	ok(opt_long("-n", "99999999999999999999", 0, 100, &v) == -1,
	    "an overflowing number is refused");
	ok(opt_long("--port", "1.5", 0, 65535, &v) == -1,
	    "a whole number has no fraction");
	ok(opt_double("-d", "1.5", 0, 10, &d) == 0 && d == 1.5, "'1.5'");
	ok(opt_double("-d", "2.", 0, 10, &d) == 0 && d == 2, "'2.'");
	ok(opt_double("-d", ".5", 0, 10, &d) == 0 && d == 0.5, "'.5'");
	ok(opt_msec("--timeout", "0.25", 0, 10, &ms) == 0 && ms == 250,
	    "'0.25' s is 250 ms");
	ok(opt_msec("--timeout", "0", 0, 10, &ms) == -1, "0 when not zero_ok");
	ok(opt_msec("--timeout", "0.0001", 0, 10, &ms) == 0 && ms == 1,
	    "a tiny timeout is 1 ms, not 0");
	is((long)opt_decimal("10s", 1), 2, "opt_decimal('10s') is 2");
	is((long)opt_decimal("1.5ms", 1), 3, "opt_decimal('1.5ms') is 3");
	is((long)opt_decimal("1.5", 0), 1, "opt_decimal('1.5', no fraction) is 1");
	is((long)opt_decimal("+1", 1), 0, "opt_decimal('+1') is 0");
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* lib/net.h: net_accept() retries nothing, EINTR included. */
static void
accept_eintr(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	struct sigaction sa;
	char err[NET_ERR_LEN];
	int lfd, fd;

	lfd = net_listen("127.0.0.1", "0", SOCK_STREAM, 1, 0, err, sizeof(err));
	if (lfd == -1) {
		ok(0, "listen: %s", err);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART, as the servers */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    setitimer(ITIMER_REAL, &it, NULL) == -1) {
		ok(0, "sigaction/setitimer: %s", strerror(errno));
		close(lfd);
		return;
	}
	errno = 0;
	fd = net_accept(lfd, 0, NULL, 0);
	ok(fd == -1 && errno == EINTR,
	    "net_accept returns -1/EINTR on a signal, no retry (%d, %s)", fd,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	close(lfd);
}

int
main(void)
{
	log_setprog("unit-opt");
	numbers();
	accept_eintr();
	return done_testing();
}
