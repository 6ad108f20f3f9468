/*
 * keys.c: the names of the shared table's rows. The table is the one owner
 * of row keys: every process, the library and swervectl alike, derives a
 * row's key here, from the service's name and what identifies the row
 * inside it, so that the same endpoint meets the same row everywhere. A
 * key is a 64-bit FNV-1a hash of text, never an address the table could be
 * made to route to (docs/design.md 2.2), and never 0 (a free row).
 *
 *   service row        "service\0"
 *   endpoint row       "service\0endpoint"          (its text: 127.0.0.2:80)
 *   address row        "service\0name:port/address" (behind a DNS name)
 *   name status row    "service\0name:port#dns"
 *
 * Endpoint text is never empty, so no endpoint key equals a service key.
 *
 * Thread-safety: pure functions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/swerve.h"
#include "table/shm.h"

/* hash("service\0" + <a> + <b>), never 0. */
static uint64_t row_key(const char *service, const char *a, const char *b)
{
	uint64_t h;

	h = swerve_hash64(service, strlen(service), SWERVE_HASH_SEED);
	h = swerve_hash64("", 1, h);
	h = swerve_hash64(a, strlen(a), h);
	h = swerve_hash64(b, strlen(b), h);
	return h != 0 ? h : 1;
}

uint64_t swerve_shm_service_key(const char *service)
{
	return row_key(service, "", "");
}

uint64_t swerve_shm_endpoint_key(const char *service, const char *endpoint)
{
	return row_key(service, endpoint, "");
}

uint64_t swerve_shm_address_key(const char *service, const char *endpoint,
				const struct sockaddr_storage *addr)
{
	char text[1 + INET6_ADDRSTRLEN] = "/";

	if (addr->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr,
			  text + 1, sizeof(text) - 1);
	else if (addr->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)addr)->sin6_addr,
			  text + 1, sizeof(text) - 1);
	return row_key(service, endpoint, text);
}

uint64_t swerve_shm_status_key(const char *service, const char *endpoint)
{
	return row_key(service, endpoint, "#dns");
}
