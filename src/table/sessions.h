/*
 * sessions: the host-wide TLS session store, where the processes of one
 * user share their TLS sessions and tickets per endpoint, so that a
 * short-lived program (curl run a thousand times through swerve) resumes
 * instead of paying a full handshake each time (docs/design.md 2.10).
 *
 * It is not the health table: the table holds health only (design.md
 * 2.2), and a session is a secret. The store is a shared segment of its
 * own (segment.h: a SysV segment of mode 0600 behind a one-page file of
 * mode 0600 in /dev/shm, per user, validated on attach), named after the
 * table with ".tls" appended ("/swerve.1000.tls"), and made by the first
 * process that stores a session. It holds, per slot, one serialized
 * session (OpenSSL's i2d_SSL_SESSION bytes: opaque here), the key it was
 * stored under, the service it belongs to, a hash of the verification
 * settings it was verified with, when it expires, and a checksum. No
 * address and no pointer; what a reader takes out is checked (length,
 * key, settings, expiry, checksum) before the caller parses it.
 *
 * Layout: a one-page header, then SWERVE_SESSIONS_SLOTS slots of one page
 * each, in sets of SWERVE_SESSIONS_WAYS: a key's set is fixed by its hash,
 * so a lookup reads at most eight slots, and a store replaces, within the
 * set, the key's own slot, else a free, void or expired one, else the
 * oldest. A zeroed slot is free, and the header keeps a bit per slot in
 * use, so a new store touches no page but its header, and memory goes
 * only to slots in use.
 *
 * Thread- and process-safety: readers take no lock: each slot carries a
 * sequence number that is odd while it is written, and a reader copies a
 * slot out and keeps the copy only when the number was even and did not
 * move; a slot busy after a few tries is a miss. Writers take the slot's
 * lock word (shm_lock.c: bounded wait of 2 ms, a stopped or dead holder
 * taken over after its 200 ms lease, signals blocked while it is held),
 * so nothing here makes a caller wait more than a few milliseconds.
 * A handle (struct swerve_sessions) may be used by several threads once
 * attached; attach, detach and unlink are for one thread at a time.
 */
#ifndef SWERVE_SESSIONS_H
#define SWERVE_SESSIONS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "table/segment.h"

#define SWERVE_SESSIONS_MAGIC 0x31534c5456525753ull /* "SWRVTLS1" */
#define SWERVE_SESSIONS_VERSION 1u
#define SWERVE_SESSIONS_SLOTS 1024u  /* 4 MiB of slots at most */
#define SWERVE_SESSIONS_WAYS 8u      /* slots a key may live in */
#define SWERVE_SESSIONS_PAGE 4096u   /* the header's size, and a slot's */
/* TLS 1.3's longest ticket lifetime (RFC 8446 4.6.1): a later expiry is
 * damage, not a session. */
#define SWERVE_SESSIONS_MAX_LIFETIME (7 * 24 * 3600)
/* The suffix of the store's name after the table's. */
#define SWERVE_SESSIONS_SUFFIX ".tls"

/* One session: a page. */
struct swerve_session_slot {
	_Atomic uint64_t lock;   /* shm_lock.c's word: writers only */
	_Atomic uint64_t seq;    /* even: stable; odd: being written */
	/* Written between two moves of <seq>, read as a copy. */
	uint64_t h1, h2;         /* the key; 0, 0: free */
	uint64_t group;          /* the service (swerve_sessions_group()) */
	uint64_t verify;         /* the verification settings' hash */
	uint64_t generation;     /* the header's when written */
	uint64_t stamp;          /* the header's clock then: oldest first */
	int64_t expires;         /* CLOCK_REALTIME, seconds */
	uint32_t len;            /* bytes of <blob> */
	uint32_t pad;
	uint64_t sum;            /* of h1 .. pad and the blob's len bytes */
	unsigned char blob[SWERVE_SESSIONS_PAGE - 88];
};

/* The largest session the store keeps; larger ones stay in the process. */
#define SWERVE_SESSIONS_BLOB_MAX \
	(sizeof(((struct swerve_session_slot *)0)->blob))

struct swerve_sessions_header {
	uint64_t magic;          /* written last on creation */
	uint32_t version;
	uint32_t header_size;
	uint32_t slot_size;
	uint32_t nslots;
	_Atomic uint32_t ready;
	uint32_t creator_pid;
	uint64_t created_ms;
	uint64_t nonce;          /* also in the file that names the segment */
	uint64_t link_dev;       /* st_dev of that file's file system */
	_Atomic uint64_t generation; /* moved by a reset: older slots void */
	_Atomic uint64_t clock;  /* stamps handed out */
	char name[SWERVE_SEGMENT_NAME_MAX]; /* for the orphan sweep */
	/* A bit per slot that may hold a session: lookups, stores and
	 * drops read no page of a slot never used. */
	_Atomic uint64_t used[SWERVE_SESSIONS_SLOTS / 64];
	uint8_t pad[SWERVE_SESSIONS_PAGE - 72 - SWERVE_SEGMENT_NAME_MAX -
		    SWERVE_SESSIONS_SLOTS / 8];
};

/* A process's handle on the store. */
struct swerve_sessions {
	struct swerve_sessions_header *hdr;
	struct swerve_session_slot *slots;
	uint32_t nslots;         /* validated on attach; never re-read */
	size_t size;
	char name[SWERVE_SEGMENT_NAME_MAX];
};

/* What a session is stored under and checked against. */
struct swerve_session_key {
	uint64_t h1, h2;         /* the endpoint, SNI and names; not 0, 0 */
	uint64_t group;          /* the service: swerve_sessions_group() */
	uint64_t verify;         /* the verification settings */
};

/*
 * The store's name for the table named <table>: "<table>.tls" into <out>.
 * 0, or -ENAMETOOLONG.
 */
int swerve_sessions_name(const char *table, char *out, size_t len);

/* The group of the service named <service> (never 0). */
uint64_t swerve_sessions_group(const char *service);

/*
 * Attaches the store <name> (a POSIX shm name), made when <create> and
 * absent; validated (magic, version, sizes, the nonce the file and the
 * header share). 0, or -errno with the reason in <err> (segment.h).
 */
int swerve_sessions_attach(const char *name, bool create,
			   struct swerve_sessions *out, char *err,
			   size_t errlen);

/* Unmaps the store. NULL or never attached: nothing. */
void swerve_sessions_detach(struct swerve_sessions *st);

/*
 * Removes the store <name> (its segment and its name) and sweeps stores
 * no name leads to. Processes that have it mapped keep it until they
 * exit: swerve_sessions_drop() it first. 0, -ENOENT or -errno.
 */
int swerve_sessions_unlink(const char *name);

/*
 * Copies the session stored under <key> into <buf> (<len> bytes), if it
 * was written since the last reset, with the same verification settings,
 * expires after <now> (CLOCK_REALTIME seconds) and adds up. Returns its
 * length, or:
 *   -ENOENT        none;
 *   -ESTALE        expired: dropped;
 *   -EKEYREJECTED  stored with other verification settings: dropped;
 *   -EBUSY         being written (a miss);
 *   -EBADMSG       the slot of the key is damaged (say so, and stop
 *                  trusting the store).
 *   -ENOSPC        <len> is smaller than the session.
 * Never waits: a drop that cannot lock at once is left to a writer.
 */
ssize_t swerve_sessions_get(struct swerve_sessions *st,
			    const struct swerve_session_key *key, int64_t now,
			    void *buf, size_t len);

/*
 * Stores <blob> (<len> bytes) under <key>, to expire at <expires>
 * (CLOCK_REALTIME seconds, after <now>, at most
 * SWERVE_SESSIONS_MAX_LIFETIME later). 0, or -EINVAL (empty, too large or
 * a bad expiry), -EBUSY (its slot stayed locked).
 */
int swerve_sessions_put(struct swerve_sessions *st,
			const struct swerve_session_key *key, int64_t expires,
			int64_t now, const void *blob, size_t len);

/*
 * Drops every session of <group> (0: every session, and every slot
 * written before this call is void for every process from now on),
 * wiping its bytes. Returns how many were dropped. Waits at most a few
 * milliseconds per slot that a live writer holds (for swervectl).
 */
unsigned swerve_sessions_drop(struct swerve_sessions *st, uint64_t group);

#endif
