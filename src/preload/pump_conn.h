/*
 * pump_conn.h: one relayed connection of the pump, as pump_loop.c drives
 * it (pump_conn.c owns it). Only the pump thread calls these.
 */
#ifndef SWERVE_PUMP_CONN_H
#define SWERVE_PUMP_CONN_H

#include <stdint.h>

#include "preload/preload.h"

struct swerve_pump_conn;

/* A connection for accepted <fd> (the pump's end of the application's
 * socket) and its registration <r>, for slot <idx>; NULL when out of
 * memory. */
struct swerve_pump_conn *swerve_pump_conn_new(unsigned idx, int fd,
					      struct swerve_pump_reg *r,
					      uint64_t now);
/* Its first attempt, once it is in its slot. It may end inside. */
void swerve_pump_conn_start(struct swerve_pump_conn *c, uint64_t now);
/* epoll reported <events> on its application (<side> 0) or endpoint (1)
 * socket. The connection may end, and its slot be emptied, inside. */
void swerve_pump_conn_event(struct swerve_pump_conn *c, int side,
			    uint32_t events, uint64_t now);
/* Its deadline (ms), 0: none. */
uint64_t swerve_pump_conn_deadline(const struct swerve_pump_conn *c);
/* Its deadline passed. The connection may end inside. */
void swerve_pump_conn_expire(struct swerve_pump_conn *c, uint64_t now);

/* In a forked child: the TLS contexts the parent's pump made are usable
 * again (a lock of theirs may have been held at the fork). */
void swerve_pump_conn_after_fork(void);

/* pump_loop.c: slot <idx> is empty again; its fds. */
void swerve_pump_conn_gone(unsigned idx);
void swerve_pump_fd_set(unsigned idx, int side, int fd);
/* pump.c: registration <r> ended: free, and off the count. */
void swerve_pump_reg_end(struct swerve_pump_reg *r);

#endif
