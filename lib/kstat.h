/*
 * kstat.h - the kernel's counters of what happened at listen queues.
 *
 * They are the TcpExt line of /proc/net/netstat: counters of the whole
 * network namespace, so other traffic of the machine shows up in them too.
 */
#ifndef SOCKLAB_KSTAT_H
#define SOCKLAB_KSTAT_H

struct tcpext {
	long long	listen_overflows;	/* a SYN or ACK found the accept
						   queue full */
	long long	listen_drops;		/* any drop at a listener */
	long long	syncookies_sent;
};

/* 0, or -1 when /proc/net/netstat cannot be read (a field the kernel
 * does not have reads as -1). */
int	tcpext_read(struct tcpext *);

#endif
