/*
 * kstat.c - read the TcpExt counters from /proc/net/netstat.
 *
 * The file has pairs of lines: "TcpExt: Name1 Name2 ..." and then
 * "TcpExt: value1 value2 ...", so a field is found by its column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstat.h"

static void
set_field(struct tcpext *t, const char *name, const char *value)
{
	long long v = strtoll(value, NULL, 10);

	if (strcmp(name, "ListenOverflows") == 0)
		t->listen_overflows = v;
	else if (strcmp(name, "ListenDrops") == 0)
		t->listen_drops = v;
	else if (strcmp(name, "SyncookiesSent") == 0)
		t->syncookies_sent = v;
}

int
tcpext_read(struct tcpext *t)
{
	char names[8192], values[8192], *sn, *sv, *n, *v;
	FILE *f;
	int rc = -1;

	t->listen_overflows = t->listen_drops = t->syncookies_sent = -1;
	if ((f = fopen("/proc/net/netstat", "r")) == NULL)
		return -1;
	while (fgets(names, sizeof(names), f) != NULL &&
	    fgets(values, sizeof(values), f) != NULL) {
		if (strncmp(names, "TcpExt:", 7) != 0)
			continue;
		n = strtok_r(names + 7, " \n", &sn);
		v = strtok_r(values + 7, " \n", &sv);
		for (; n != NULL && v != NULL; n = strtok_r(NULL, " \n", &sn),
		    v = strtok_r(NULL, " \n", &sv))
			set_field(t, n, v);
		rc = 0;
		break;
	}
	if (fclose(f) == EOF)
		rc = -1;
	return rc;
}
