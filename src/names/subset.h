/*
 * subset: which addresses of a large DNS answer this host keeps.
 *
 * A name may resolve to more addresses than the SWERVE_DNS_MAX_ADDRS
 * endpoints it has room for. Keeping the numerically lowest ones would send
 * every host to the same few and leave IPv6 unused as soon as there are
 * enough IPv4 addresses. Instead each address is scored with a hash of
 * itself and the host's identity (rendezvous hashing: an address that comes
 * or goes moves no other one in or out of the subset), and each family
 * keeps its highest scores, in proportion to its share of the answer and at
 * least one place each when both are present. Every process of a host
 * keeps the same subset; other hosts keep others.
 *
 * Thread-safety: pure functions, but for the host seed, which reads files
 * and may be called from any thread.
 */
#ifndef SWERVE_SUBSET_H
#define SWERVE_SUBSET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * This host's identity: a hash of /etc/machine-id and the host name
 * (containers of one image share the first, not the second).
 */
uint64_t swerve_subset_host_seed(void);

/*
 * How many of <max> places IPv4 gets among <n4> IPv4 and <n6> IPv6
 * addresses, when n4 + n6 > max >= 2: its share, rounded, but at least one
 * place per family present and never more than it has.
 */
size_t swerve_subset_ipv4_places(size_t n4, size_t n6, size_t max);

/*
 * Copies the <max> addresses host <seed> keeps of the <n> (> max) unique
 * addresses <all>, IPv4 ones first, into <out>, in no particular order.
 * Returns <max>, or -ENOMEM.
 */
int swerve_subset_keep(const struct sockaddr_storage *all, size_t n,
		       struct sockaddr_storage *out, size_t max,
		       uint64_t seed);

#endif
