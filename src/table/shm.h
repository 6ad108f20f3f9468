/*
 * shm: the host-wide health table. It owns the table's layout (a header
 * with magic, version and sizes; fixed-size rows keyed by a 64-bit hash of
 * "service\0endpoint"; the event ring), where it lives (shm_segment.c: a
 * SysV shared memory segment that nobody can shrink, found through a
 * one-page POSIX shared memory file of mode 0600 that names it), attachment
 * with validation, and every update of a row: it locks the row, lets
 * outlier.c change the outlier state (detection and operator edits alike),
 * publishes the result and adds the events.
 *
 * It holds health state only: streaks, ejection times, counters, and a
 * bounded ring of ejection events (eject, un-eject, overflow, panic enter
 * and exit) that names endpoints by row key, never by address. No
 * addresses, no pointers, so a process that scribbles on it can degrade
 * routing but never redirect traffic. shm.c implements the rows,
 * shm_lock.c the row locks, shm_segment.c the segment and what happens
 * when it turns out damaged, shm_check.c the consistency check, and
 * shm_events.c the ring.
 *
 * Thread- and process-safety: rows are claimed with compare-and-swap on the
 * key; each row's outlier state is updated under a lock word of its own
 * (shm_lock.c) that a waiter gives up on after two milliseconds (the
 * outcome then stays in this process only) and breaks when its holder is
 * gone or stopped for longer than its lease: nothing in the table can make
 * a process wait longer than that. Readers on the connect path read the
 * published `ejected_until_ms` with one atomic load and take no lock.
 *
 * Each service's row (key swerve_shm_service_key()) also keeps an epoch
 * that moves whenever the health of the service changes: an endpoint
 * ejected or back in service, or a new panic mask. A process may compute
 * the service's routing plan once and reuse it while the epoch stays the
 * same; reading the epoch is one atomic load too.
 */
#ifndef SWERVE_SHM_H
#define SWERVE_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/config.h"
#include "policy/outlier.h"

#define SWERVE_SHM_MAGIC 0x3154424c56525753ull /* "SWRVLBT1" */
#define SWERVE_SHM_VERSION 7u
#define SWERVE_SHM_ROWS 4096u  /* endpoints per host; 4096 * 256 B = 1 MiB */
#define SWERVE_SHM_EVENTS 1024u /* the event ring: 1024 * 64 B = 64 KiB */
/* Every row carries it: random bytes written over a row show. */
#define SWERVE_SHM_ROW_TAG 0x4f525753u /* "SWRO" */

/* One endpoint's health. 256 bytes, cache-line aligned. */
struct swerve_shm_row {
	_Atomic uint64_t key;              /* 0 = free */
	_Atomic uint64_t ejected_until_ms; /* 0: not ejected; lock-free reads */
	_Atomic uint32_t tag;              /* SWERVE_SHM_ROW_TAG, always */
	_Atomic uint32_t quiet;            /* 1: st has no streak, backoff or
					    * ejection, so a success changes
					    * nothing and takes no lock */
	_Atomic uint64_t lock;             /* shm_lock.c; 0 = free */
	_Atomic uint64_t connects_ok;
	_Atomic uint64_t connects_failed;
	_Atomic uint64_t updated_ms;       /* last outcome or edit */
	/* Service rows only (key swerve_shm_service_key()): the panic mask
	 * last noted, so one process reports each change, and the epoch of
	 * the service's health (swerve_shm_epoch()). */
	_Atomic uint64_t panic_mask;
	_Atomic uint64_t epoch;
	/* DNS status rows only (key swerve_shm_status_key()): connects
	 * routed on a stale answer while the name did not resolve. There,
	 * connects_ok and connects_failed count lookups, and updated_ms is
	 * the time of the last good answer. */
	_Atomic uint64_t stale_uses;
	/* Rows of addresses behind a name (swerve_shm_row_named()): when an
	 * answer last named the address, and how long after that and after
	 * the last outcome the row may be given to another key when the
	 * table is full. horizon_ms 0: never. */
	_Atomic uint64_t named_ms;
	_Atomic uint64_t horizon_ms;
	/* Endpoints of protocol = http services: final responses by status
	 * class (1xx and 600 and above are in none), requests abandoned
	 * unanswered after response_timeout, and connections reset or
	 * closed before a response's header block. Their connects count in
	 * connects_ok and connects_failed as any connect does. */
	_Atomic uint64_t responses_2xx;
	_Atomic uint64_t responses_3xx;
	_Atomic uint64_t responses_4xx;
	_Atomic uint64_t responses_5xx;
	_Atomic uint64_t timeouts;
	_Atomic uint64_t resets;
	/* Endpoints of services with tls: TLS handshakes that completed
	 * (and of those, the resumed ones) and that failed, and the
	 * X509_V_ERR_* code of the last failed handshake whose certificate
	 * did not verify (0: none yet). Counters only: a failure's outcome
	 * also goes through swerve_shm_report() as a connect failure. */
	_Atomic uint64_t tls_ok;
	_Atomic uint64_t tls_failed;
	_Atomic uint64_t tls_resumed;
	_Atomic uint64_t tls_verify_error;
	struct swerve_outlier_state st;    /* under lock */
	uint8_t pad[256 - 22 * 8 - sizeof(struct swerve_outlier_state)];
};

enum swerve_shm_event_type {
	SWERVE_EVENT_EJECT = 1,
	SWERVE_EVENT_UNEJECT = 2,
	SWERVE_EVENT_OVERFLOW = 3,     /* threshold reached, cap said no */
	SWERVE_EVENT_PANIC_ENTER = 4,  /* entered, or changed which tiers */
	SWERVE_EVENT_PANIC_EXIT = 5,
};

/* One slot of the event ring, 64 bytes. Fields are read and written with
 * relaxed atomics between the two stores of <seq>. */
struct swerve_shm_event {
	_Atomic uint64_t seq;    /* 1 + ring position once written; 0 while
				  * being written or never written */
	uint64_t at_ms;          /* CLOCK_MONOTONIC */
	uint64_t key;            /* endpoint row key, or service key (panic) */
	uint64_t duration_ms;    /* eject: its length; uneject: the one over */
	uint32_t type;           /* enum swerve_shm_event_type */
	uint32_t reason;         /* enum swerve_outlier_reason */
	uint32_t streak;         /* failures in a row that caused it */
	uint32_t value;          /* eject: ejections so far; panic: mask */
	uint32_t pid;            /* the process that wrote it */
	uint32_t cause;          /* enum swerve_outlier_cause */
	uint8_t pad[64 - 4 * 8 - 6 * 4];
};

/* An event as swerve_shm_event_add() takes and swerve_shm_events() gives. */
struct swerve_shm_event_info {
	uint64_t seq;            /* set by the ring; ignored by _add */
	uint64_t at_ms;
	uint64_t key;
	uint64_t duration_ms;
	enum swerve_shm_event_type type;
	enum swerve_outlier_reason reason;
	enum swerve_outlier_cause cause; /* eject, overflow: what tripped it */
	uint32_t streak;
	uint32_t value;
	uint32_t pid;            /* set by _add */
};

struct swerve_shm_header {
	uint64_t magic;          /* written last on creation */
	uint32_t version;
	uint32_t header_size;
	uint32_t row_size;
	uint32_t nrows;
	_Atomic uint32_t ready;  /* 1 once rows are initialised */
	uint32_t creator_pid;
	uint64_t created_ms;
	uint32_t nevents;        /* ring slots, after the rows */
	uint32_t event_size;
	_Atomic uint64_t event_next; /* ring positions handed out so far */
	uint64_t nonce;          /* also in the file that names the segment */
	uint64_t link_dev;       /* st_dev of that file's file system */
	_Atomic uint64_t reclaim_lock; /* one row takeover at a time */
	char name[128];          /* the table's name, for the orphan sweep */
	uint8_t pad[256 - 80 - 128];
};

struct swerve_shm {
	struct swerve_shm_header *hdr;
	struct swerve_shm_row *rows;
	size_t nrows;            /* validated on attach; never re-read */
	struct swerve_shm_event *events;
	size_t nevents;
	size_t size;
	bool shared;             /* false: process-private (from the start,
				  * or since the shared one was found
				  * damaged) */
	uint64_t nonce;          /* the header's, as validated on attach */
	_Atomic int damaged;     /* 1 once a damaged shared table has been
				  * replaced by a private copy */
	uint64_t *mine;          /* per row: the key this process was given
				  * it for (0: none); keeps them when a
				  * damaged table is replaced */
	char name[128];
};

/*
 * Maps the table <name> (a POSIX shm name, "/swerve.0"), creating it when
 * <create> is true and it does not exist: a one-page file of mode 0600
 * under that name, its page reserved with posix_fallocate, names a SysV
 * segment of mode 0600 that holds the table (shm_segment.c says why). A
 * table made by another process is used only once the file, the segment's
 * owner and size and the header all validate (magic, version, sizes, the
 * nonce they share, every row's tag); a foreign or corrupt one is refused,
 * never repaired in place. Never blocks for more than about 50 ms waiting
 * for another process to finish creating it. No file descriptor stays
 * open. Returns 0, or -errno (-EPROTO for a bad layout, -ENOENT when
 * absent and not created, -ENOSPC when /dev/shm has no page left for the
 * file) with a human reason in <err> (may be NULL).
 */
int swerve_shm_attach(const char *name, bool create, struct swerve_shm *out,
		      char *err, size_t errlen);

/*
 * Sets up a process-private table with the same layout (anonymous mapping):
 * what a process uses when the shared one is unavailable, so outlier
 * detection still works inside it. Returns 0 or -errno.
 */
int swerve_shm_private(struct swerve_shm *out);

/* Unmaps <tab>; accepts a zeroed struct. Does not unlink. */
void swerve_shm_detach(struct swerve_shm *tab);

/*
 * Removes the table <name> (swervectl reset, tests): the file that names
 * it, and the segment, which lives on in the processes that have it
 * mapped until they exit. Also removes segments of this user that no name
 * leads to any more (left behind by a creator that died, or by a name
 * removed with shm_unlink alone). 0 or -errno of the name's removal.
 */
int swerve_shm_unlink(const char *name);

/*
 * The row for <key> (non-zero), claiming a free one when <insert> is true.
 * Open addressing with linear probing; rows are never freed, and only a
 * row of an address that no answer has named for its horizon is ever
 * given to another key (swerve_shm_row_named()), so a pointer stays valid
 * for the life of the mapping. Returns NULL when absent (and not inserted)
 * or the table is full; a full table is said once per process on stderr.
 * Lock-free.
 */
struct swerve_shm_row *swerve_shm_row(struct swerve_shm *tab, uint64_t key,
				      bool insert);

/*
 * The row for <key>, an address behind a name that an answer names at
 * <now_ms>: found or claimed as swerve_shm_row() does, and stamped as
 * named now, reclaimable <horizon_ms> (dns_max_ttl plus the longest
 * ejection of its service) after its last naming or outcome. When the
 * table is full, a row of another address whose horizon has passed and
 * that is not ejected is taken over: under the table's reclaim lock and
 * the row's lock, so that concurrent takers never give one key two rows
 * nor one row two keys, and with the row's state and counters cleared.
 * Returns NULL when no row is free or reclaimable (said once per process
 * on stderr). Waits for no lock longer than shm_lock.c allows.
 */
struct swerve_shm_row *swerve_shm_row_named(struct swerve_shm *tab,
					    uint64_t key, uint64_t horizon_ms,
					    uint64_t now_ms);

/*
 * Checks <tab> as a whole, the way the fault tests and operators want to
 * know it is sound: the header as validated on attach, and every claimed
 * row: its tag, a lock that is free or whose holder is gone (then taken
 * and repaired, as the next locker would), an outlier state outlier.c can
 * produce, a published deadline that matches it, and a quiet flag that
 * tells the truth. Rows locked by a live holder are skipped. Returns the
 * number of problems found, with the first in <err> (may be NULL).
 */
int swerve_shm_check(struct swerve_shm *tab, uint64_t now_ms, char *err,
		     size_t errlen);

/*
 * Records <outcome> (and <http_status>) for endpoint <idx> of a service whose
 * rows are <rows>[0..n-1] (NULL entries allowed) inside <tab>, with <cfg>
 * its outlier config, at <now_ms>: counts the service's currently ejected
 * rows for the cap, updates streaks under the row lock, publishes
 * ejected_until_ms, bumps the row's counter of the outcome (connects,
 * response classes, timeouts, resets) and adds EJECT, UNEJECT and
 * OVERFLOW (the first of a streak only) to <tab>'s event ring (<tab> may
 * be NULL: no events). When the endpoint is ejected, or an ejection found
 * over is ended, the epoch of <svc_row>, the service's row (may be NULL),
 * moves; an outcome that changes no ejection leaves it alone. Returns the
 * event caused. It waits for the row's lock at most a few milliseconds
 * (shm_lock.c) and otherwise fails open: the outcome is then counted but
 * changes no shared state. A success (a connect, or a status below 500
 * or above 599) on a quiet row takes no lock at all. A damaged shared
 * table is replaced by a private copy first (<tab> may be NULL: no
 * check).
 */
enum swerve_outlier_event swerve_shm_report(
	struct swerve_shm *tab, struct swerve_shm_row *svc_row,
	struct swerve_shm_row *const *rows, size_t n, size_t idx,
	const struct swerve_outlier_cfg *cfg, enum swerve_outcome outcome,
	int http_status, uint64_t now_ms);

/*
 * Counts one TLS handshake with the endpoint of <row> (NULL: nothing):
 * completed when <ok> (and resumed a session when <resumed> too), else
 * failed. A failed one whose certificate did not verify gives its
 * X509_V_ERR_* code (positive) as <verify_error>, which the row keeps as
 * its last verify error. A failure that was no certificate's
 * (<verify_error> 0) and a completed handshake leave the last one as it
 * was: the row shows the most recent certificate failure until a later
 * one replaces it (or swerve_shm_reset_row() clears it). Only counters:
 * the caller reports a failure's outcome through swerve_shm_report() as a
 * connect failure. Lock-free: relaxed atomic adds and a store, safe in
 * any thread.
 */
void swerve_shm_tls_note(struct swerve_shm_row *row, bool ok, bool resumed,
			 int verify_error);

/* True when <row> is ejected at <now_ms>; one atomic load. NULL: false. */
bool swerve_shm_is_ejected(const struct swerve_shm_row *row, uint64_t now_ms);

/*
 * Copies the row's state under its lock, refreshed to <now_ms> (an expired
 * ejection shows as un-ejected, its UNEJECT goes to <tab>'s ring and the
 * epoch of <svc_row> moves; <tab> and <svc_row> may be NULL). Returns 0,
 * -EINVAL for a NULL row or -ETIMEDOUT when the lock stayed busy.
 */
int swerve_shm_snapshot(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
			struct swerve_shm_row *row,
			const struct swerve_outlier_cfg *cfg, uint64_t now_ms,
			struct swerve_outlier_state *out);

/*
 * Operator edits (swervectl): eject <row> now for <duration_ms> (counts as an
 * ejection, backoff unchanged), un-eject it, or reset it to a fresh row
 * (streaks, backoff, counters, the last TLS verify error). Each moves the
 * epoch of <svc_row>, the row of the service <row> belongs to (may be
 * NULL). Ejections and un-ejections go to <tab>'s ring with reason
 * SWERVE_REASON_OPERATOR (<tab> may be NULL). 0, -EINVAL, or -ETIMEDOUT
 * when the lock stayed busy.
 */
int swerve_shm_eject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		     struct swerve_shm_row *row, uint64_t duration_ms,
		     uint64_t now_ms);
int swerve_shm_uneject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		       struct swerve_shm_row *row, uint64_t now_ms);
int swerve_shm_reset_row(struct swerve_shm_row *svc_row,
			 struct swerve_shm_row *row);

/*
 * Appends <ev> to the event ring of <tab> (seq and pid are filled in).
 * Lock-free and allocation-free: one fetch-and-add and a few stores, safe
 * on the connect path. When the ring is full the oldest event is
 * overwritten. Returns 0, or -EINVAL for a NULL or ring-less table.
 */
int swerve_shm_event_add(struct swerve_shm *tab,
			 const struct swerve_shm_event_info *ev);

/*
 * Copies up to <max> events of <tab>'s ring into <out>, oldest first,
 * skipping slots being written or holding nonsense. <*lost> (may be NULL)
 * gets how many older events the ring no longer holds. Returns the count.
 */
size_t swerve_shm_events(struct swerve_shm *tab,
			 struct swerve_shm_event_info *out, size_t max,
			 uint64_t *lost);

/*
 * Row keys (keys.c, their one owner): of service <service> itself (panic
 * mask, epoch); of its endpoint whose text is <endpoint> ("127.0.0.2:80");
 * of address <addr> behind its named endpoint <endpoint> ("db.test:80");
 * of that name's status row. The same in every process; never 0.
 */
uint64_t swerve_shm_service_key(const char *service);
uint64_t swerve_shm_endpoint_key(const char *service, const char *endpoint);
uint64_t swerve_shm_address_key(const char *service, const char *endpoint,
				const struct sockaddr_storage *addr);
uint64_t swerve_shm_status_key(const char *service, const char *endpoint);

/*
 * Notes that service <name> is in panic as <mask> says
 * (swerve_balancer_panic_mask(), 0 for none) at <now_ms>. The last mask is
 * kept in the service's row and changed with compare-and-swap, so of all
 * the processes that see the same change exactly one adds PANIC_ENTER
 * (0 -> non-zero, or a different non-zero mask) or PANIC_EXIT (-> 0), and
 * moves the service's epoch. Lock-free; one row lookup. Returns 0, -EINVAL
 * or -ENOSPC (table full).
 */
int swerve_shm_panic_note(struct swerve_shm *tab, const char *name,
			  uint32_t mask, uint64_t now_ms);

/*
 * The epoch of the service whose row is <svc_row> (NULL: 0): a counter that
 * moves after every change of the service's health, once the change is
 * published. A routing plan computed from rows read after the epoch read E
 * stays good as long as the epoch still reads E; so read the epoch first,
 * then the rows. An ejection that merely runs out moves it only once a
 * report or snapshot notices, so a cached plan must also end at the
 * earliest ejected_until_ms it relied on. One acquire load, no lock: safe
 * on the connect path and in signal handlers.
 */
uint64_t swerve_shm_epoch(const struct swerve_shm_row *svc_row);

/*
 * Moves the epoch of <svc_row> (NULL: nothing), after a change of the
 * service's health has been published. One atomic add, no lock.
 */
void swerve_shm_epoch_bump(struct swerve_shm_row *svc_row);

#endif
