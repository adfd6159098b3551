#define _GNU_SOURCE		/* IP_BIND_ADDRESS_NO_PORT */
/*
 * loadgen_source.c - --source ADDR[-ADDR]: the local addresses sessions
 * connect from, round-robin.
 *
 * One client address reaches one server address:port from at most the
 * ephemeral range (~28k ports here); more sessions need more client
 * addresses, as tcpkali does with aliases.  Each socket is bound to its
 * address before connect() with IP_BIND_ADDRESS_NO_PORT, so that the
 * kernel picks the port at connect() time from the whole 4-tuple: a plain
 * bind() to port 0 would reserve a port for every address and server,
 * and run out at the same wall (Cloudflare, "bind before connect").
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loadgen.h"

#define MAX_SOURCES	65536	/* a /16 */

static int
parse_one(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* Address number i of the range (IPv4: the first plus i). */
static void
source_addr(const struct opts *o, uint32_t i, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	*ss = o->src;
	if (ss->ss_family == AF_INET)
		sin->sin_addr.s_addr = htonl(ntohl(sin->sin_addr.s_addr) + i);
}

/* Bind fd to the address of session number session; -1 and errno. */
int
source_bind(int fd, const struct opts *o, uint32_t session)
{
	struct sockaddr_storage ss;
	int one = 1;

	if (o->nsrc == 0)
		return 0;
	source_addr(o, session % o->nsrc, &ss);
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one)) == -1)
		return -1;
	return bind(fd, (const struct sockaddr *)&ss, o->srclen);
}

/* An address that cannot be bound is refused now, not per session. */
static void
try_bind(const struct opts *o, uint32_t i)
{
	char name[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_storage ss;
	const void *a;
	int fd, err;

	source_addr(o, i, &ss);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die(1, "socket: %s", strerror(errno));
	err = source_bind(fd, o, i) == -1 ? errno : 0;
	if (close(fd) == -1)
		die(1, "close: %s", strerror(errno));
	if (err == 0)
		return;
	a = ss.ss_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)&ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	inet_ntop(ss.ss_family, a, name, sizeof(name));
	die(2, "--source: cannot bind %s: %s (not a local address?)", name,
	    strerror(err));
}

/* "A" or "A-B" (IPv4, A <= B); after the server address is resolved. */
void
source_parse(struct opts *o, const char *arg)
{
	struct sockaddr_storage hi;
	socklen_t hilen;
	char lo[INET6_ADDRSTRLEN + 1];
	const char *dash = strchr(arg, '-');
	uint32_t a, b;
	size_t n = dash ? (size_t)(dash - arg) : strlen(arg);

	if (n >= sizeof(lo))
		die(2, "--source: '%s' is not an address (see --help)", arg);
	memcpy(lo, arg, n);
	lo[n] = '\0';
	if (parse_one(lo, &o->src, &o->srclen) == -1)
		die(2, "--source: '%s' is not an address (see --help)", lo);
	o->nsrc = 1;
	if (dash != NULL) {
		if (parse_one(dash + 1, &hi, &hilen) == -1 ||
		    hi.ss_family != AF_INET || o->src.ss_family != AF_INET)
			die(2, "--source: '%s' is not a range of IPv4 "
			    "addresses such as 127.0.0.2-127.0.0.9 (see "
			    "--help)", arg);
		a = ntohl(((struct sockaddr_in *)&o->src)->sin_addr.s_addr);
		b = ntohl(((struct sockaddr_in *)&hi)->sin_addr.s_addr);
		if (b < a || b - a >= MAX_SOURCES)
			die(2, "--source: '%s' is not a range of 1 to %d "
			    "addresses, lowest first (see --help)", arg,
			    MAX_SOURCES);
		o->nsrc = b - a + 1;
	}
	if (o->src.ss_family != o->addr.ss_family)
		die(2, "--source: '%s' is IPv%c but %s is not (see --help)",
		    arg, o->src.ss_family == AF_INET ? '4' : '6', o->host);
	o->source = arg;
	try_bind(o, 0);
	try_bind(o, o->nsrc - 1);
}
