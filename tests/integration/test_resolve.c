/*
 * What getaddrinfo and gethostbyname answer under the library: exactly
 * glibc's answer for every name swerve does not serve (a table of names,
 * services, families, socket types and flags, compared byte for byte), and
 * for a served name the service addresses with glibc's own conventions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

static const char *config(void)
{
	return t_write("resolve.ini",
		       "[swerve]\n"
		       "vip_cidr = 127.78.0.0/16\n"
		       "\n"
		       "[service mydb]\n"
		       "hosts    = mydb.com, *.db.example\n"
		       "endpoint = 127.10.9.2:18080\n");
}

static void gai_dump(struct run *r, bool preload, const char *cfg,
		     const char *what)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, what, NULL };

	snprintf(bin, sizeof(bin), "%s/tests/gai_dump", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", cfg);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t_shm());
	t_run(r, preload, env, 60, argv);
}

Test(resolve, unserved_names_get_exactly_glibcs_answer, .timeout = 120)
{
	static struct run plain, hooked;
	const char *cfg = config();

	gai_dump(&plain, false, cfg, "matrix");
	gai_dump(&hooked, true, cfg, "matrix");
	cr_assert_eq(plain.status, 0);
	cr_assert_eq(hooked.status, 0, "%s", hooked.err);
	cr_assert(strlen(plain.out) > 1000);
	cr_assert_str_eq(hooked.out, plain.out);
	cr_assert_str_eq(hooked.err, "");
	t_cleanup();
}

/* The lines of <out> for one case "node|service|family|socktype|flags". */
static const char *case_of(const char *out, const char *key, char *buf,
			   size_t cap)
{
	char needle[200];
	const char *p, *end;

	snprintf(needle, sizeof(needle), "\n%s =>", key);
	p = strstr(out, needle);
	if (p == NULL)
		return "";
	p++;
	end = strstr(p + 1, "\n") ;
	while (end != NULL && end[1] == ' ')
		end = strchr(end + 1, '\n');
	if (end == NULL)
		end = p + strlen(p);
	snprintf(buf, cap, "%.*s", (int)(end - p), p);
	return buf;
}

Test(resolve, served_names_get_service_addresses_like_glibc_would,
     .timeout = 60)
{
	static struct run r;
	char buf[2048];
	const char *c;

	gai_dump(&r, true, config(), "MyDB.COM.");
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* AF_UNSPEC, STREAM: an IPv4 and a v4-mapped IPv6 address. */
	c = case_of(r.out, "MyDB.COM.|80|0|1|0x0", buf, sizeof(buf));
	cr_assert(strstr(c, "=> 0\n  2 1 6 0x0 16 127.78.") != NULL, "%s", c);
	cr_assert(strstr(c, "\n  10 1 6 0x0 28 ::ffff:127.78.") != NULL, "%s",
		  c);
	/* AF_INET: two IPv4 addresses. socktype 0: three per address. */
	c = case_of(r.out, "MyDB.COM.|80|2|0|0x0", buf, sizeof(buf));
	cr_assert(strstr(c, "=> 0\n  2 1 6") != NULL, "%s", c);
	cr_assert(strstr(c, "  2 2 17") != NULL, "%s", c);
	cr_assert(strstr(c, "  2 3 0") != NULL, "%s", c);
	/* AF_INET6 without AI_V4MAPPED: a v4-only name is unknown. */
	c = case_of(r.out, "MyDB.COM.|80|10|1|0x0", buf, sizeof(buf));
	cr_assert(strstr(c, "=> -2") != NULL, "%s", c);
	c = case_of(r.out, "MyDB.COM.|80|10|1|0x8", buf, sizeof(buf));
	cr_assert(strstr(c, "=> 0\n  10 1 6 0x8 28 ::ffff:127.78.") != NULL,
		  "%s", c);
	/* AI_CANONNAME: the configured name, on the first result only. */
	c = case_of(r.out, "MyDB.COM.|http|0|1|0x2", buf, sizeof(buf));
	cr_assert(strstr(c, " 80 mydb.com\n") != NULL, "%s", c);
	cr_assert(strstr(c, " 80 -") != NULL, "%s", c);
	/* AI_NUMERICHOST: a name is not numeric, as glibc says. */
	c = case_of(r.out, "MyDB.COM.|80|0|1|0x4", buf, sizeof(buf));
	cr_assert(strstr(c, "=> -2") != NULL, "%s", c);
	/* Errors glibc gives for the service, the family and the flags. */
	c = case_of(r.out, "MyDB.COM.|no-such-service|0|1|0x0", buf,
		    sizeof(buf));
	cr_assert(strstr(c, "=> -8") != NULL, "%s", c);
	c = case_of(r.out, "MyDB.COM.|80|1|1|0x0", buf, sizeof(buf));
	cr_assert(strstr(c, "=> -6") != NULL, "%s", c);
	c = case_of(r.out, "MyDB.COM.|80|0|1|0x10000", buf, sizeof(buf));
	cr_assert(strstr(c, "=> -1") != NULL, "%s", c);
	/* gethostbyname2_r: IPv4 answers, none for AF_INET6, ERANGE. */
	cr_assert(strstr(r.out, "gethostbyname2_r MyDB.COM. 2 => 0 0\n"
				"  mydb.com 127.78.") != NULL ||
		  strstr(r.out, "gethostbyname2_r MyDB.COM. 2 => 0 0\n"
				"  MyDB.COM 127.78.") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "gethostbyname2_r MyDB.COM. 10 => 0 1\n") !=
		  NULL);
	cr_assert(strstr(r.out, "small buffer => 34 null") != NULL);

	gai_dump(&r, true, config(), "x.db.example");
	c = case_of(r.out, "x.db.example|80|2|1|0x0", buf, sizeof(buf));
	cr_assert(strstr(c, "=> 0\n  2 1 6 0x0 16 127.78.") != NULL, "%s", c);
	t_cleanup();
}
