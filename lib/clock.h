/*
 * clock.h - the one clock of lib/, servers/ and clients/: monotonic
 * milliseconds, for deadlines and timers.  Wall-clock time would jump
 * with the system's (NTP, an admin), and a deadline with it.
 */
#ifndef SOCKLAB_CLOCK_H
#define SOCKLAB_CLOCK_H

long long	clock_ms(void);

#endif
