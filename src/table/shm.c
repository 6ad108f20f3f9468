/*
 * shm.c: the rows of the host-wide health table: finding and claiming
 * them, handing a forgotten address's row to a new one, and every change
 * of a row's health (outcomes, operator edits, panic, the epoch). Where
 * the table lives and how it is validated is shm_segment.c; the locks are
 * shm_lock.c.
 *
 * Trust. The segment is writable by every process of the user. Its shape
 * is validated on attach, and afterwards only our own copy of the sizes
 * bounds row indices, so a header rewritten later cannot send us outside
 * the mapping. Before each change the header and the row's tag are looked
 * at again (swerve_shm_trust): a table written over is replaced by a
 * private copy and health stays in this process. Row contents are never
 * pointers or addresses, and every state read under a lock is repaired to
 * one outlier.c can produce before use: the worst a scribbler can do is
 * eject or un-eject endpoints.
 *
 * Locks. Each row's outlier state is a handful of fields that must change
 * together (streaks, backoff, ejection), so it is changed under the row's
 * lock word (shm_lock.c), held for a few hundred instructions with every
 * signal blocked, never across a system call that can block, and with
 * nothing logged under it. The state is copied out, changed, and written
 * back only while the lock is still ours. A waiter gives up after a couple
 * of milliseconds and fails open: the outcome is counted but changes no
 * shared state. A lock taken over from a holder that was gone comes with
 * a repair of what it may have left half-written.
 *
 * Quiet rows. Most outcomes are successes on healthy endpoints (connects,
 * and for an http service every response below 500), and a success on a
 * state with no streak, no backoff and no ejection changes nothing. Each
 * row therefore publishes a quiet flag, and a success on a quiet row only
 * bumps its counters, without the lock. A change that may
 * end quietness clears the flag before it writes the state back, so a
 * success that still saw the flag set counts as having come first.
 *
 * Why readers take no lock. The connect path only asks "is this endpoint
 * ejected now?". Every update publishes the answer as a single 64-bit
 * deadline, ejected_until_ms, with a release store, so a reader needs one
 * acquire load and a comparison with its clock: no lock, no system call,
 * safe in a signal handler. An ejection whose deadline passed reads as
 * healthy at once, even before anyone refreshes the row's state.
 *
 * The epoch. The connect path caches each service's routing plan (tiers,
 * priority load, panic) instead of recomputing it per connect, and needs
 * to know when the plan is stale without reading every row. The service's
 * row therefore keeps a counter that moves after each change of an
 * ejection (by detection, expiry noticed, or an operator) and each new
 * panic mask, and never on an outcome that changes no ejection, so a busy
 * healthy service keeps its plan. The change is published first and the
 * counter moved after, with release order, so a reader that loads the new
 * value with acquire order sees the change. Each change is decided under
 * the row lock (or by the panic mask's compare-and-swap), so however many
 * processes see it, it moves the epoch once.
 *
 * Row takeover. Rows are claimed for good, except those of addresses
 * behind names: with IP churn those would fill the 4,096 rows and leave
 * new endpoints without outlier detection. A row that no answer has named
 * and no outcome has touched for its horizon (dns_max_ttl plus the longest
 * ejection of its service) may be given to a new key once the table is
 * full. By then every process that still routes to the old address has
 * let its answer expire and refreshes it before the next connect, naming
 * its rows again (a stale answer is named again too), so nobody reports
 * into the row any more but, at worst, one outcome of a thread that
 * stalled for the whole horizon.
 *
 * The event ring after the rows is written and read by shm_events.c; this
 * file decides which events a change of a row makes.
 *
 * The ejection cap (max_ejection_percent) is checked by counting the
 * service's ejected rows before taking the row lock. Two processes failing
 * different endpoints of one service at the same instant can therefore
 * both pass the check and exceed the cap by one, briefly; one ejection per
 * streak and per endpoint is exact, because it is decided under the lock.
 *
 * Thread- and process-safety: everything here may run in any thread of any
 * process at once; lookups are lock-free, changes happen under the row
 * locks as described, and nothing waits longer than shm_lock.c allows.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/log.h"
#include "base/swerve.h"
#include "table/shm.h"
#include "table/shm_int.h"

_Static_assert(sizeof(struct swerve_shm_row) == 256,
	       "a row is 256 bytes: the layout is shared across processes");
_Static_assert(sizeof(struct swerve_shm_header) == 256,
	       "the header is 256 bytes: the layout is shared too");
_Static_assert(sizeof(((struct swerve_shm_row *)0)->pad) > 0,
	       "row padding must stay positive");
_Static_assert(sizeof(struct swerve_shm_event) == 64,
	       "an event is 64 bytes: the layout is shared too");

/* Said once per process: a full table costs new endpoints their health. */
static atomic_bool said_full;

/* Rows covered by our own mapping; the shared header is not consulted. */
static size_t table_nrows(const struct swerve_shm *tab)
{
	if (tab == NULL || tab->hdr == NULL || tab->rows == NULL)
		return 0;
	return tab->nrows;
}

/*
 * Spreads FNV keys over the rows. Part of the layout: every process must
 * probe from the same home row, so changing it means bumping
 * SWERVE_SHM_VERSION. (murmur3's 64-bit finaliser.)
 */
static uint64_t mix_key(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Remembers that this process was given <row> for <key>. */
static struct swerve_shm_row *handed(struct swerve_shm *tab,
				     struct swerve_shm_row *row, uint64_t key)
{
	if (row != NULL && tab->mine != NULL)
		__atomic_store_n(&tab->mine[row - tab->rows], key,
				 __ATOMIC_RELAXED);
	return row;
}

static void say_full(const struct swerve_shm *tab)
{
	if (!atomic_exchange(&said_full, true))
		swerve_log(SWERVE_LOG_WARN,
			   "table %s is full (%zu rows): endpoints without a "
			   "row get no outlier detection", tab->name,
			   tab->nrows);
}

/* Linear probing from <key>'s home row; claims a free row if <insert>. */
static struct swerve_shm_row *probe(struct swerve_shm *tab, uint64_t key,
				    bool insert)
{
	struct swerve_shm_row *row;
	size_t nrows = table_nrows(tab), home, i;
	uint64_t cur;

	if (nrows == 0)
		return NULL;
	home = (size_t)(mix_key(key) % nrows);
	for (i = 0; i < nrows; i++) {
		row = &tab->rows[(home + i) % nrows];
		cur = atomic_load_explicit(&row->key, memory_order_acquire);
		if (cur == key)
			return row;
		if (cur != 0)
			continue;
		/* Rows are never freed: a free row ends the probe chain. */
		if (!insert)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(
			    &row->key, &cur, key, memory_order_acq_rel,
			    memory_order_acquire))
			return row;
		/* Somebody claimed it first, maybe for the same key. */
		if (cur == key)
			return row;
	}
	return NULL;
}

static struct swerve_shm_row *take_over(struct swerve_shm *tab, uint64_t key,
					uint64_t horizon_ms, uint64_t now_ms);

/*
 * The row of <key>: found, claimed when <insert>, and with a <horizon_ms>
 * taken over from a forgotten address once the table is full.
 */
static struct swerve_shm_row *lookup(struct swerve_shm *tab, uint64_t key,
				     bool insert, uint64_t horizon_ms,
				     uint64_t now_ms)
{
	struct swerve_shm_row *row;

	if (tab == NULL || key == 0 || table_nrows(tab) == 0)
		return NULL;
	(void)swerve_shm_trust(tab, NULL);
	row = probe(tab, key, insert);
	if (row == NULL && horizon_ms != 0)
		row = take_over(tab, key, horizon_ms, now_ms);
	if (row == NULL && insert)
		say_full(tab);
	return handed(tab, row, key);
}

struct swerve_shm_row *swerve_shm_row(struct swerve_shm *tab, uint64_t key,
				      bool insert)
{
	return lookup(tab, key, insert, 0, 0);
}

/* When <row> may be given to another key; UINT64_MAX: never. */
static uint64_t reclaim_at(const struct swerve_shm_row *row)
{
	uint64_t horizon, last, touched;

	horizon = atomic_load_explicit(&row->horizon_ms, memory_order_relaxed);
	if (horizon == 0)
		return UINT64_MAX;
	last = atomic_load_explicit(&row->named_ms, memory_order_relaxed);
	touched = atomic_load_explicit(&row->updated_ms, memory_order_relaxed);
	if (touched > last)
		last = touched;
	return add_sat(last, horizon);
}

static bool reclaimable(const struct swerve_shm_row *row, uint64_t now_ms)
{
	return atomic_load_explicit(&row->key, memory_order_relaxed) != 0 &&
	       now_ms > reclaim_at(row) &&
	       !swerve_shm_is_ejected(row, now_ms);
}

/* Raises <field> to <v> unless it is higher already. */
static void raise_to(_Atomic uint64_t *field, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(field, memory_order_relaxed);

	while (cur < v && !atomic_compare_exchange_weak_explicit(
				  field, &cur, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
}

/* Zeroes the outcome counters and the TLS state of <row> (a fresh row,
 * swervectl reset). */
static void clear_counters(struct swerve_shm_row *row)
{
	_Atomic uint64_t *const counters[] = {
		&row->connects_ok, &row->connects_failed,
		&row->responses_2xx, &row->responses_3xx,
		&row->responses_4xx, &row->responses_5xx,
		&row->timeouts, &row->resets,
		&row->tls_ok, &row->tls_failed, &row->tls_resumed,
		&row->tls_verify_error,
	};
	size_t i;

	for (i = 0; i < SWERVE_ARRAY_LEN(counters); i++)
		atomic_store_explicit(counters[i], 0, memory_order_relaxed);
}

/* Gives <row>, whose lock the caller holds, to <key> as a fresh row. */
static void hand_over(struct swerve_shm_row *row, uint64_t key,
		      uint64_t horizon_ms, uint64_t now_ms)
{
	atomic_store_explicit(&row->quiet, 0, memory_order_seq_cst);
	swerve_outlier_reset(&row->st);
	atomic_store_explicit(&row->ejected_until_ms, 0, memory_order_relaxed);
	clear_counters(row);
	atomic_store_explicit(&row->stale_uses, 0, memory_order_relaxed);
	atomic_store_explicit(&row->panic_mask, 0, memory_order_relaxed);
	atomic_store_explicit(&row->updated_ms, now_ms, memory_order_relaxed);
	atomic_store_explicit(&row->named_ms, now_ms, memory_order_relaxed);
	atomic_store_explicit(&row->horizon_ms, horizon_ms,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&row->epoch, 1, memory_order_relaxed);
	atomic_store_explicit(&row->quiet, 1, memory_order_relaxed);
	/* Last, with release: whoever finds the key finds the fresh row. */
	atomic_store_explicit(&row->key, key, memory_order_release);
}

/* Takes over one reclaimable row for <key>, starting at its home row. */
static struct swerve_shm_row *take_over(struct swerve_shm *tab, uint64_t key,
					uint64_t horizon_ms, uint64_t now_ms)
{
	size_t nrows = table_nrows(tab), home, i;
	struct swerve_shm_hold rh, h;
	struct swerve_shm_row *row, *got = NULL;

	if (swerve_shm_lock(&tab->hdr->reclaim_lock, &rh) != 0)
		return NULL;
	/* Another process may have given <key> a row while we waited. */
	got = probe(tab, key, false);
	home = (size_t)(mix_key(key) % nrows);
	for (i = 0; got == NULL && i < nrows; i++) {
		row = &tab->rows[(home + i) % nrows];
		if (!reclaimable(row, now_ms))
			continue;
		/* A row somebody holds is passed over: waiting for each of
		 * many rows would add up to more than a few milliseconds. */
		if (swerve_shm_trylock(&row->lock, &h) != 0)
			continue;
		/* Under its lock nobody changes it: look again. */
		if (reclaimable(row, now_ms) &&
		    swerve_shm_holds(&row->lock, &h)) {
			hand_over(row, key, horizon_ms, now_ms);
			got = row;
		}
		swerve_shm_unlock(&row->lock, &h);
	}
	swerve_shm_unlock(&tab->hdr->reclaim_lock, &rh);
	return got;
}

struct swerve_shm_row *swerve_shm_row_named(struct swerve_shm *tab,
					    uint64_t key, uint64_t horizon_ms,
					    uint64_t now_ms)
{
	struct swerve_shm_row *row;

	row = lookup(tab, key, true, horizon_ms, now_ms);
	if (row != NULL) {
		raise_to(&row->named_ms, now_ms);
		raise_to(&row->horizon_ms, horizon_ms);
	}
	return row;
}

bool swerve_shm_pristine(const struct swerve_outlier_state *st)
{
	return st->ejected == 0 && st->backoff == 0 && st->c5xx == 0 &&
	       st->gateway == 0 && st->local_origin == 0;
}

/* Publishes the lock-free view of <st>, the state just written back. */
static void publish(struct swerve_shm_row *row,
		    const struct swerve_outlier_state *st, uint64_t now_ms)
{
	atomic_store_explicit(&row->ejected_until_ms,
			      swerve_outlier_ejected_until(st, NULL),
			      memory_order_release);
	if (now_ms != 0)
		atomic_store_explicit(&row->updated_ms, now_ms,
				      memory_order_relaxed);
	atomic_store_explicit(&row->quiet, swerve_shm_pristine(st),
			      memory_order_release);
}

bool swerve_shm_row_repair(struct swerve_shm_row *row, uint64_t now_ms)
{
	struct swerve_outlier_state st = row->st;
	bool changed;

	swerve_outlier_repair(&st, SWERVE_SHM_MAX_EJECTION_MS, now_ms);
	changed = memcmp(&st, &row->st, sizeof(st)) != 0 ||
		  atomic_load(&row->ejected_until_ms) !=
			  swerve_outlier_ejected_until(&st, NULL) ||
		  atomic_load(&row->quiet) != swerve_shm_pristine(&st);
	if (changed) {
		atomic_store_explicit(&row->quiet, 0, memory_order_seq_cst);
		row->st = st;
		publish(row, &st, 0);
	}
	return changed;
}

/*
 * Takes <row>'s lock for a change, after making sure the table and the
 * row can be trusted, and repairs the row when its last holder was gone.
 * Returns 0 with <st> holding a repaired copy of the state, or -errno
 * (the lock is not held: fail open).
 */
static int lock_row(struct swerve_shm *tab, struct swerve_shm_row *row,
		    uint64_t now_ms, struct swerve_shm_hold *h,
		    struct swerve_outlier_state *st)
{
	if (!swerve_shm_trust(tab, row))
		return -EIO;
	if (swerve_shm_lock(&row->lock, h) != 0)
		return -ETIMEDOUT;
	if (h->broken)
		(void)swerve_shm_row_repair(row, now_ms);
	*st = row->st;
	/* What the table holds is input, like a file: made sane first. */
	swerve_outlier_repair(st, SWERVE_SHM_MAX_EJECTION_MS, now_ms);
	return 0;
}

/*
 * Writes <st> back and publishes it, if the lock is still ours; then
 * unlocks. False when somebody took the lock over meanwhile: our change
 * is dropped, theirs stands.
 */
static bool commit_row(struct swerve_shm_row *row, struct swerve_shm_hold *h,
		       const struct swerve_outlier_state *st, uint64_t now_ms)
{
	bool ours = swerve_shm_holds(&row->lock, h);

	if (ours) {
		/* Before the state: a success that saw "quiet" came first. */
		atomic_store_explicit(&row->quiet, 0, memory_order_seq_cst);
		row->st = *st;
		publish(row, st, now_ms);
	}
	swerve_shm_unlock(&row->lock, h);
	return ours;
}

uint64_t swerve_shm_epoch(const struct swerve_shm_row *svc_row)
{
	if (svc_row == NULL)
		return 0;
	return atomic_load_explicit(&svc_row->epoch, memory_order_acquire);
}

void swerve_shm_epoch_bump(struct swerve_shm_row *svc_row)
{
	/* Release: a reader that loads the new value sees what came before. */
	if (svc_row != NULL)
		atomic_fetch_add_explicit(&svc_row->epoch, 1,
					  memory_order_release);
}

int swerve_shm_panic_note(struct swerve_shm *tab, const char *name,
			  uint32_t mask, uint64_t now_ms)
{
	struct swerve_shm_event_info ev;
	struct swerve_shm_row *row;
	uint64_t old, key;

	if (tab == NULL || name == NULL)
		return -EINVAL;
	key = swerve_shm_service_key(name);
	row = swerve_shm_row(tab, key, true);
	if (row == NULL)
		return -ENOSPC;
	old = atomic_load_explicit(&row->panic_mask, memory_order_relaxed);
	if (old == mask)
		return 0;
	/* Whoever wins the swap reports the change; the others saw it too. */
	if (!atomic_compare_exchange_strong_explicit(
		    &row->panic_mask, &old, mask, memory_order_relaxed,
		    memory_order_relaxed))
		return 0;
	swerve_shm_epoch_bump(row);
	memset(&ev, 0, sizeof(ev));
	ev.at_ms = now_ms;
	ev.key = key;
	ev.type = mask != 0 ? SWERVE_EVENT_PANIC_ENTER :
		  SWERVE_EVENT_PANIC_EXIT;
	ev.reason = SWERVE_REASON_HEALTH;
	ev.value = (uint32_t)(mask != 0 ? mask : old);
	return swerve_shm_event_add(tab, &ev);
}

/* The event a state change of <row> makes, from its state <st>. */
static void add_row_event(struct swerve_shm *tab,
			  const struct swerve_shm_row *row,
			  const struct swerve_outlier_state *st,
			  enum swerve_shm_event_type type,
			  enum swerve_outlier_reason reason, uint64_t at_ms)
{
	struct swerve_shm_event_info ev;

	if (tab == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.at_ms = at_ms;
	ev.key = atomic_load_explicit(&row->key, memory_order_relaxed);
	ev.duration_ms = st->ejection_ms;
	ev.value = st->ejections;
	if (type == SWERVE_EVENT_EJECT || type == SWERVE_EVENT_OVERFLOW) {
		ev.streak = st->streak;
		ev.cause = (enum swerve_outlier_cause)st->cause;
	}
	(void)swerve_shm_event_add(tab, &ev);
}

/*
 * A success: an outcome that can only end streaks, never start one: a
 * connect (a tcp connect is Envoy's 200, an http one touches nothing but
 * the local-origin streak), or a status that is no 5xx (it ends the 5xx
 * and gateway streaks, and the local-origin one in split mode). On a
 * pristine state it changes nothing, and it can eject nothing.
 */
static bool is_success(enum swerve_outcome outcome, int http_status)
{
	switch (outcome) {
	case SWERVE_OUTCOME_CONNECT_OK:
	case SWERVE_OUTCOME_HTTP_CONNECT_OK:
		return true;
	case SWERVE_OUTCOME_HTTP_STATUS:
		return http_status < 500 || http_status > 599;
	case SWERVE_OUTCOME_CONNECT_FAILED:
	case SWERVE_OUTCOME_CONNECT_TIMEOUT:
	case SWERVE_OUTCOME_HTTP_RESET:
	case SWERVE_OUTCOME_HTTP_TIMEOUT:
		break;
	}
	return false;
}

/* The counter of <row> that <outcome> bumps, or NULL. */
static _Atomic uint64_t *counter_of(struct swerve_shm_row *row,
				    enum swerve_outcome outcome,
				    int http_status)
{
	switch (outcome) {
	case SWERVE_OUTCOME_CONNECT_OK:
	case SWERVE_OUTCOME_HTTP_CONNECT_OK:
		return &row->connects_ok;
	case SWERVE_OUTCOME_CONNECT_FAILED:
	case SWERVE_OUTCOME_CONNECT_TIMEOUT:
		return &row->connects_failed;
	case SWERVE_OUTCOME_HTTP_RESET:
		return &row->resets;
	case SWERVE_OUTCOME_HTTP_TIMEOUT:
		return &row->timeouts;
	case SWERVE_OUTCOME_HTTP_STATUS:
		break;
	}
	switch (http_status / 100) {
	case 2:
		return &row->responses_2xx;
	case 3:
		return &row->responses_3xx;
	case 4:
		return &row->responses_4xx;
	case 5:
		return &row->responses_5xx;
	}
	return NULL;
}

/* Counts <outcome> in <row>; true when that is all it takes (a success
 * on a quiet row, or no outlier config). */
static bool count_only(struct swerve_shm_row *row,
		       const struct swerve_outlier_cfg *cfg,
		       enum swerve_outcome outcome, int http_status,
		       uint64_t now_ms)
{
	_Atomic uint64_t *counter = counter_of(row, outcome, http_status);

	if (counter != NULL)
		atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	if (cfg == NULL)
		return true;
	/* Exactly 1: any other value is damage, for the locked path. */
	if (!is_success(outcome, http_status) ||
	    atomic_load_explicit(&row->quiet, memory_order_seq_cst) != 1)
		return false;
	/* Every response of a busy keep-alive connection comes here: a
	 * store only when the millisecond changed keeps the line shared. */
	if (atomic_load_explicit(&row->updated_ms, memory_order_relaxed) !=
	    now_ms)
		atomic_store_explicit(&row->updated_ms, now_ms,
				      memory_order_relaxed);
	return true;
}

/* May one more endpoint of the service be ejected? (the cap) */
static bool cap_allows(struct swerve_shm_row *const *rows, size_t n,
		       size_t idx, const struct swerve_outlier_cfg *cfg,
		       bool success, uint64_t now_ms)
{
	uint32_t nejected = 0, cap;
	size_t i;

	/* The cap counts the others; this row's ejection is decided under
	 * the lock. A success cannot eject: skip the O(endpoints) scan. */
	for (i = 0; !success && i < n; i++) {
		/* A names cache's <rows> change with its answers: atomic
		 * loads. */
		const struct swerve_shm_row *other =
			__atomic_load_n(&rows[i], __ATOMIC_RELAXED);

		if (i != idx && other != NULL &&
		    atomic_load_explicit(&other->ejected_until_ms,
					 memory_order_acquire) > now_ms)
			nejected++;
	}
	cap = swerve_outlier_max_ejected(cfg, n > UINT32_MAX ? UINT32_MAX :
					 (uint32_t)n);
	/*
	 * Without outlier detection configured the streaks are still kept
	 * (swervectl shows them) but nothing is ever ejected.
	 */
	return cfg->enabled && nejected < cap;
}

enum swerve_outlier_event swerve_shm_report(
	struct swerve_shm *tab, struct swerve_shm_row *svc_row,
	struct swerve_shm_row *const *rows, size_t n, size_t idx,
	const struct swerve_outlier_cfg *cfg, enum swerve_outcome outcome,
	int http_status, uint64_t now_ms)
{
	enum swerve_outlier_event ev_refresh, ev_note;
	struct swerve_outlier_state st, st_unejected;
	struct swerve_shm_row *row;
	struct swerve_shm_hold h;
	bool may_eject;

	/* A names cache's <rows> change with its answers: atomic loads. */
	row = rows != NULL && idx < n ? __atomic_load_n(&rows[idx],
							__ATOMIC_RELAXED) : NULL;
	if (row == NULL)
		return SWERVE_OUTLIER_NONE;
	/* Even a success looks at the table first: most outcomes are
	 * successes, and damage must not go unnoticed for want of a
	 * failure. The check is a handful of loads. */
	if (!swerve_shm_trust(tab, row) ||
	    count_only(row, cfg, outcome, http_status, now_ms))
		return SWERVE_OUTLIER_NONE;
	may_eject = cap_allows(rows, n, idx, cfg,
			       is_success(outcome, http_status), now_ms);
	if (lock_row(tab, row, now_ms, &h, &st) != 0)
		return SWERVE_OUTLIER_NONE;
	ev_refresh = swerve_outlier_refresh(&st, cfg, now_ms);
	st_unejected = st; /* before note() changes it again */
	ev_note = swerve_outlier_note(&st, cfg, outcome, http_status,
				      may_eject, now_ms);
	if (!commit_row(row, &h, &st, now_ms))
		return SWERVE_OUTLIER_NONE;

	/* Published above, so whoever sees the new epoch sees the change. */
	if (ev_refresh == SWERVE_OUTLIER_UNEJECT ||
	    ev_note == SWERVE_OUTLIER_EJECT)
		swerve_shm_epoch_bump(svc_row);
	if (!cfg->enabled && ev_note == SWERVE_OUTLIER_OVERFLOW)
		ev_note = SWERVE_OUTLIER_NONE;
	/*
	 * Events are written after the unlock: the ring needs no lock, and
	 * the row lock stays as short as it was. Each is decided under the
	 * lock, so one process writes it.
	 */
	if (ev_refresh == SWERVE_OUTLIER_UNEJECT)
		add_row_event(tab, row, &st_unejected, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_EXPIRED,
			      st_unejected.unejected_at_ms);
	if (ev_note == SWERVE_OUTLIER_EJECT) {
		add_row_event(tab, row, &st, SWERVE_EVENT_EJECT,
			      (enum swerve_outlier_reason)st.reason, now_ms);
	} else if (ev_note == SWERVE_OUTLIER_OVERFLOW &&
		   st.streak == swerve_outlier_threshold(
			   cfg, (enum swerve_outlier_reason)st.reason)) {
		/* Once per streak: later failures would flood the ring. */
		add_row_event(tab, row, &st, SWERVE_EVENT_OVERFLOW,
			      (enum swerve_outlier_reason)st.reason, now_ms);
	}
	return ev_note != SWERVE_OUTLIER_NONE ? ev_note : ev_refresh;
}

void swerve_shm_tls_note(struct swerve_shm_row *row, bool ok, bool resumed,
			 int verify_error)
{
	if (row == NULL)
		return;
	/* Relaxed: counters that swervectl reads one by one, like the
	 * connect counters; nothing is published through them. */
	if (ok) {
		atomic_fetch_add_explicit(&row->tls_ok, 1,
					  memory_order_relaxed);
		if (resumed)
			atomic_fetch_add_explicit(&row->tls_resumed, 1,
						  memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&row->tls_failed, 1, memory_order_relaxed);
	if (verify_error > 0)
		atomic_store_explicit(&row->tls_verify_error,
				      (uint64_t)verify_error,
				      memory_order_relaxed);
}

bool swerve_shm_is_ejected(const struct swerve_shm_row *row, uint64_t now_ms)
{
	if (row == NULL)
		return false;
	return atomic_load_explicit(&row->ejected_until_ms,
				    memory_order_acquire) > now_ms;
}

int swerve_shm_snapshot(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
			struct swerve_shm_row *row,
			const struct swerve_outlier_cfg *cfg, uint64_t now_ms,
			struct swerve_outlier_state *out)
{
	enum swerve_outlier_event ev = SWERVE_OUTLIER_NONE;
	struct swerve_outlier_state st;
	struct swerve_shm_hold h;
	int rc;

	if (row == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = lock_row(tab, row, now_ms, &h, &st);
	if (rc != 0)
		return rc;
	/* Written back: an expired ejection is over for everyone. */
	if (cfg != NULL)
		ev = swerve_outlier_refresh(&st, cfg, now_ms);
	if (!commit_row(row, &h, &st, cfg != NULL ? now_ms : 0))
		ev = SWERVE_OUTLIER_NONE;
	*out = st;
	if (ev == SWERVE_OUTLIER_UNEJECT) {
		swerve_shm_epoch_bump(svc_row);
		add_row_event(tab, row, out, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_EXPIRED, out->unejected_at_ms);
	}
	return 0;
}

int swerve_shm_eject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		     struct swerve_shm_row *row, uint64_t duration_ms,
		     uint64_t now_ms)
{
	struct swerve_outlier_state st;
	struct swerve_shm_hold h;
	int rc;

	if (row == NULL || duration_ms == 0 ||
	    duration_ms > SWERVE_SHM_MAX_EJECTION_MS)
		return -EINVAL;
	rc = lock_row(tab, row, now_ms, &h, &st);
	if (rc != 0)
		return rc;
	swerve_outlier_operator_eject(&st, duration_ms, now_ms);
	if (!commit_row(row, &h, &st, now_ms))
		return -ETIMEDOUT;
	swerve_shm_epoch_bump(svc_row);
	add_row_event(tab, row, &st, SWERVE_EVENT_EJECT,
		      SWERVE_REASON_OPERATOR, now_ms);
	return 0;
}

int swerve_shm_uneject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		       struct swerve_shm_row *row, uint64_t now_ms)
{
	struct swerve_outlier_state st;
	enum swerve_outlier_event ev;
	struct swerve_shm_hold h;
	int rc;

	if (row == NULL)
		return -EINVAL;
	rc = lock_row(tab, row, now_ms, &h, &st);
	if (rc != 0)
		return rc;
	ev = swerve_outlier_operator_uneject(&st, now_ms);
	if (!commit_row(row, &h, &st, now_ms))
		return -ETIMEDOUT;
	swerve_shm_epoch_bump(svc_row);
	if (ev == SWERVE_OUTLIER_UNEJECT)
		add_row_event(tab, row, &st, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_OPERATOR, now_ms);
	return 0;
}

int swerve_shm_reset_row(struct swerve_shm_row *svc_row,
			 struct swerve_shm_row *row)
{
	struct swerve_outlier_state st;
	struct swerve_shm_hold h;
	int rc;

	if (row == NULL)
		return -EINVAL;
	rc = lock_row(NULL, row, 0, &h, &st);
	if (rc != 0)
		return rc;
	swerve_outlier_reset(&st);
	if (!commit_row(row, &h, &st, 0))
		return -ETIMEDOUT;
	clear_counters(row);
	swerve_shm_epoch_bump(svc_row);
	return 0;
}
