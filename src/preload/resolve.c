/*
 * resolve.c: getaddrinfo() and the gethostbyname family for configured
 * names. A configured name is answered with the service's two service
 * addresses, built by glibc itself from numeric strings (so socktype
 * fan-out, service names, errors and memory are glibc's own, and glibc's
 * freeaddrinfo frees them); every other name goes to libc untouched.
 *
 * Thread-safety: reads the published config only; the non-reentrant forms
 * share one static result, as glibc's do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "preload/preload.h"

/*
 * The canonical name to report: the name asked as the config spells hosts
 * (lower case, no trailing dot), which is the configured host itself when
 * it matched exactly.
 */
static char *canonical_name(const char *node)
{
	char buf[256];

	if (swerve_config_host_normalize(node, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

/*
 * "a.b.c.d" or "::ffff:a.b.c.d" for <vip> into <buf> (at least 24 bytes).
 * By hand: snprintf was half the cost of a served getaddrinfo.
 */
static void vip_text(uint32_t vip, bool mapped, char *buf)
{
	char *p = buf;
	int shift, v;

	if (mapped) {
		memcpy(p, "::ffff:", 7);
		p += 7;
	}
	for (shift = 24; shift >= 0; shift -= 8) {
		v = (int)((vip >> shift) & 0xff);
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		if (shift > 0)
			*p++ = '.';
	}
	*p = '\0';
}

struct vip_pick {
	int vip;      /* index in svc->vips */
	bool mapped;  /* as ::ffff:a.b.c.d */
};

static void freeaddrinfo_list(struct addrinfo *ai)
{
	if (ai != NULL)
		freeaddrinfo(ai);
}

/*
 * Answers <node> for service <svc> like glibc answers a name whose only
 * records are the service addresses: one glibc call per address on a
 * numeric string (so socktype fan-out, service names, errors and memory are
 * glibc's own), chained, with glibc's flags and canonical name put back.
 */
static int service_getaddrinfo(const struct swerve_service *svc,
			       const char *node, const char *service,
			       const struct addrinfo *hints,
			       struct addrinfo **res)
{
	struct addrinfo h, *head = NULL, **tail = &head, *part, *p;
	struct vip_pick order[3];
	int family, flags, rc, i, n;
	char num[64];

	memset(&h, 0, sizeof(h));
	if (hints != NULL) {
		h = *hints;
		h.ai_addrlen = 0;
		h.ai_addr = NULL;
		h.ai_canonname = NULL;
		h.ai_next = NULL;
	} else {
		/* glibc's default hints (getaddrinfo(3)). */
		h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;
	}
	family = h.ai_family;
	flags = h.ai_flags;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return EAI_FAMILY;
	if (flags & ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST |
		      AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_NUMERICSERV |
		      AI_IDN | AI_CANONIDN))
		return EAI_BADFLAGS;
	/* A name with only IPv4 records asked for AF_INET6 without
	 * AI_V4MAPPED: glibc says it does not know it. */
	if (family == AF_INET6 && !(flags & AI_V4MAPPED))
		return EAI_NONAME;

	/*
	 * Which addresses, in which order. AF_UNSPEC: IPv4, v4-mapped IPv6,
	 * IPv4 again (the second address): curl moves to the other family at
	 * once and races it after 200 ms, and a client whose IPv6 sockets are
	 * IPv6-only (ruby) still has an IPv4 address to move on to.
	 */
	if (family == AF_INET) {
		n = 2;
		order[0] = (struct vip_pick){ 0, false };
		order[1] = (struct vip_pick){ 1, false };
	} else if (family == AF_INET6) {
		n = 2;
		order[0] = (struct vip_pick){ 0, true };
		order[1] = (struct vip_pick){ 1, true };
	} else {
		n = 3;
		order[0] = (struct vip_pick){ 0, false };
		order[1] = (struct vip_pick){ 1, true };
		order[2] = (struct vip_pick){ 1, false };
	}
	h.ai_flags = (flags & AI_NUMERICSERV) | AI_NUMERICHOST;
	for (i = 0; i < n; i++) {
		vip_text(svc->vips[order[i].vip], order[i].mapped, num);
		h.ai_family = order[i].mapped ? AF_INET6 : AF_INET;
		rc = swerve_libc_getaddrinfo(num, service, &h, &part);
		if (rc != 0) {
			freeaddrinfo_list(head);
			return rc;
		}
		*tail = part;
		while (*tail != NULL)
			tail = &(*tail)->ai_next;
	}
	for (p = head; p != NULL; p = p->ai_next)
		p->ai_flags = flags;
	if ((flags & AI_CANONNAME) && head != NULL) {
		char *canon = canonical_name(node);

		if (canon == NULL) {
			freeaddrinfo_list(head);
			return EAI_MEMORY;
		}
		free(head->ai_canonname);
		head->ai_canonname = canon;
	}
	*res = head;
	return 0;
}

SWERVE_EXPORT int getaddrinfo(const char *node, const char *service,
			      const struct addrinfo *hints,
			      struct addrinfo **res)
{
	const struct swerve_service *svc;
	struct swerve_gen *g;
	int rc, saved;

	if (swerve_guard || node == NULL || res == NULL ||
	    (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)))
		return swerve_libc_getaddrinfo(node, service, hints, res);
	if (!swerve_runtime_on())
		return swerve_libc_getaddrinfo(node, service, hints, res);
	swerve_reload_check();
	g = swerve_gens_enter();
	svc = g != NULL ? swerve_config_match_name(g->cfg, node) : NULL;
	saved = errno;
	if (svc == NULL || !swerve_runtime_enter()) {
		swerve_gens_exit(g);
		errno = saved;
		return swerve_libc_getaddrinfo(node, service, hints, res);
	}
	/* Resolving is what a caller of getaddrinfo expects to wait for: the
	 * names behind the service are brought up to date here, so that the
	 * connect() that follows rarely has to. */
	swerve_runtime_refresh_names(swerve_gens_index(g, svc), -1);
	rc = service_getaddrinfo(svc, node, service, hints, res);
	swerve_runtime_leave();
	swerve_log(SWERVE_LOG_DEBUG, "getaddrinfo(%s) -> service %s: %s", node,
		   svc->name, rc == 0 ? "ok" : gai_strerror(rc));
	swerve_gens_exit(g);
	errno = saved;
	return rc;
}

/* ---------------------------------------------------- gethostbyname */

/*
 * Fills <ret> in <buf> with the service addresses of <svc> for <name>, like
 * glibc's hosts-file answer: the name, no aliases, the IPv4 addresses.
 * Returns 0 or ERANGE when <buflen> is too small (callers grow and retry).
 */
static int fill_hostent(const uint32_t *vips, const char *name,
			struct hostent *ret, char *buf, size_t buflen)
{
	size_t nlen = strlen(name), need, off;
	char **aliases, **list;
	uintptr_t a;
	int i;

	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	/* pointer-aligned: aliases[1], addr_list[N + 1], then addresses,
	 * then the name. */
	a = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	off = (size_t)(a - (uintptr_t)buf);
	need = off + sizeof(char *) * (1 + SWERVE_VIPS_PER_SERVICE + 1) +
	       4 * SWERVE_VIPS_PER_SERVICE + nlen + 1;
	if (buflen < need)
		return ERANGE;
	aliases = (char **)(void *)(buf + off);
	list = aliases + 1;
	aliases[0] = NULL;
	off += sizeof(char *) * (2 + SWERVE_VIPS_PER_SERVICE);
	for (i = 0; i < SWERVE_VIPS_PER_SERVICE; i++) {
		uint32_t be = htonl(vips[i]);

		list[i] = buf + off;
		memcpy(buf + off, &be, 4);
		off += 4;
	}
	list[SWERVE_VIPS_PER_SERVICE] = NULL;
	memcpy(buf + off, name, nlen);
	buf[off + nlen] = '\0';
	ret->h_name = buf + off;
	ret->h_aliases = aliases;
	ret->h_addrtype = AF_INET;
	ret->h_length = 4;
	ret->h_addr_list = list;
	return 0;
}

/* The service addresses of the service serving <name> into <vips>; false
 * when swerve should not answer. Copied: a reload may free the config
 * once this call is counted out. */
static bool hostent_vips(const char *name, uint32_t *vips)
{
	const struct swerve_service *svc;
	struct swerve_gen *g;

	if (swerve_guard || name == NULL || !swerve_runtime_on())
		return false;
	swerve_reload_check();
	g = swerve_gens_enter();
	if (g == NULL)
		return false;
	svc = swerve_config_match_name(g->cfg, name);
	if (svc != NULL)
		memcpy(vips, svc->vips, sizeof(svc->vips));
	swerve_gens_exit(g);
	return svc != NULL;
}

/*
 * The answer of the reentrant forms for a configured name: glibc's for a
 * name with only IPv4 records. Shared by the four hooks, which must never
 * call one another by name (inside the library that is a call through the
 * PLT into swerve's own export: scripts/check-door.sh refuses it).
 */
static int answer_hostent(const uint32_t *vips, const char *name,
			  int af, struct hostent *ret, char *buf,
			  size_t buflen, struct hostent **result,
			  int *h_errnop)
{
	int rc;

	*result = NULL;
	if (af != AF_INET) {
		/* Only IPv4 records, as glibc answers such a name. */
		*h_errnop = HOST_NOT_FOUND;
		return 0;
	}
	rc = fill_hostent(vips, name, ret, buf, buflen);
	if (rc != 0) {
		*h_errnop = NETDB_INTERNAL;
		errno = rc;
		return rc;
	}
	*h_errnop = 0;
	*result = ret;
	return 0;
}

SWERVE_EXPORT int gethostbyname2_r(const char *name, int af,
				   struct hostent *ret, char *buf,
				   size_t buflen, struct hostent **result,
				   int *h_errnop)
{
	uint32_t vips[SWERVE_VIPS_PER_SERVICE];

	if (!hostent_vips(name, vips))
		return swerve_libc_gethostbyname2_r(name, af, ret, buf, buflen,
						    result, h_errnop);
	return answer_hostent(vips, name, af, ret, buf, buflen, result,
			      h_errnop);
}

SWERVE_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
				  char *buf, size_t buflen,
				  struct hostent **result, int *h_errnop)
{
	uint32_t vips[SWERVE_VIPS_PER_SERVICE];

	if (!hostent_vips(name, vips))
		return swerve_libc_gethostbyname_r(name, ret, buf, buflen,
						   result, h_errnop);
	return answer_hostent(vips, name, AF_INET, ret, buf, buflen, result,
			      h_errnop);
}

/* Like glibc's, the non-reentrant forms share one static result. */
static struct hostent static_hostent;
static char static_hostbuf[1024];

static struct hostent *answer_static(const uint32_t *vips, const char *name,
				     int af)
{
	struct hostent *result = NULL;
	int herr = 0;

	answer_hostent(vips, name, af, &static_hostent, static_hostbuf,
		       sizeof(static_hostbuf), &result, &herr);
	h_errno = herr;
	return result;
}

SWERVE_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	uint32_t vips[SWERVE_VIPS_PER_SERVICE];

	if (!hostent_vips(name, vips))
		return swerve_libc_gethostbyname2(name, af);
	return answer_static(vips, name, af);
}

SWERVE_EXPORT struct hostent *gethostbyname(const char *name)
{
	uint32_t vips[SWERVE_VIPS_PER_SERVICE];

	if (!hostent_vips(name, vips))
		return swerve_libc_gethostbyname(name);
	return answer_static(vips, name, AF_INET);
}

