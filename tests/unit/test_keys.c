/*
 * Unit tests of the table's row keys (table/keys.c): what each is a hash
 * of, that none is 0, and that the kinds never collide by construction.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "base/swerve.h"
#include "table/shm.h"

/* FNV-1a of <len> bytes of <text> (which may hold NULs), 0 mapped to 1. */
static uint64_t fnv(const char *text, size_t len)
{
	uint64_t h = swerve_hash64(text, len, SWERVE_HASH_SEED);

	return h != 0 ? h : 1;
}

Test(keys, endpoint_keys_hash_service_and_text)
{
	cr_assert_eq(swerve_shm_endpoint_key("web", "127.0.0.2:8080"),
		     fnv("web\0" "127.0.0.2:8080", 18));
	cr_assert_eq(swerve_shm_service_key("web"), fnv("web\0", 4));
	cr_assert_neq(swerve_shm_endpoint_key("web", "127.0.0.2:8080"),
		      swerve_shm_endpoint_key("web2", "127.0.0.2:8080"));
}

Test(keys, address_and_status_keys_of_a_name)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.9", &sin->sin_addr);
	cr_assert_eq(swerve_shm_address_key("db", "db.test:80", &ss),
		     fnv("db\0" "db.test:80/127.0.0.9", 23));
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6->sin6_addr);
	cr_assert_eq(swerve_shm_address_key("db", "db.test:80", &ss),
		     fnv("db\0" "db.test:80/::1", 17));
	cr_assert_eq(swerve_shm_status_key("db", "db.test:80"),
		     fnv("db\0" "db.test:80#dns", 17));
}
