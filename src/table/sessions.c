/*
 * sessions.c: the host-wide TLS session store (sessions.h): its layout as
 * a kind of shared segment (segment.h), and the slots: lookup without a
 * lock, store and drop under the slot's lock word.
 *
 * Why a sequence number and a lock word, and a checksum. Readers must
 * never wait for a writer that may be stopped (Ctrl-Z, a debugger, a
 * frozen cgroup), so they take no lock: a slot's <seq> is odd while it
 * is written, and a reader keeps its copy only when <seq> was even before
 * and unchanged after. Writers exclude each other with the slot's lock
 * word, taken the way the table's rows are (shm_lock.c): a live holder is
 * waited for at most 2 ms, a holder older than the 200 ms lease is taken
 * over. A holder taken over while stopped may still write a few bytes
 * when it resumes; the checksum over the key, the settings, the expiry
 * and the bytes makes such a torn slot, and any other scribbling, show:
 * a slot that does not add up is never handed out, and its reader is
 * told (-EBADMSG) so that the process can say so once and stop using the
 * store.
 *
 * Every slot written before the header's generation moved (swervectl
 * reset) is void: a running process keeps its mapping of a removed
 * store, and must not resume what the reset dropped.
 *
 * Thread- and process-safety: as sessions.h says.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "base/log.h"
#include "base/swerve.h"
#include "table/sessions.h"
#include "table/shm_int.h"

#define LINK_MAGIC 0x324b4e4c56525753ull /* "SWRVLNK2" */
/* The header's bits cover this many slots: a store with more is not of
 * this layout. */
#define MAX_SLOTS SWERVE_SESSIONS_SLOTS
/* Looks at a slot being written before calling it busy. */
#define READ_TRIES 4

_Static_assert(sizeof(struct swerve_session_slot) == SWERVE_SESSIONS_PAGE,
	       "a slot is a page");
_Static_assert(sizeof(struct swerve_sessions_header) == SWERVE_SESSIONS_PAGE,
	       "the header is a page");
_Static_assert(SWERVE_SESSIONS_SLOTS % SWERVE_SESSIONS_WAYS == 0,
	       "slots come in whole sets");

/* A slot's fields between <seq> and the blob, as one copy. */
struct slot_meta {
	uint64_t h1, h2, group, verify, generation, stamp;
	int64_t expires;
	uint32_t len, pad;
	uint64_t sum;
};

_Static_assert(sizeof(struct slot_meta) ==
		       offsetof(struct swerve_session_slot, blob) -
			       offsetof(struct swerve_session_slot, h1),
	       "the meta copy is the slot's fields");

/* Where slot <s> keeps what struct slot_meta copies. */
static void *meta_of(struct swerve_session_slot *s)
{
	return (unsigned char *)s + offsetof(struct swerve_session_slot, h1);
}

/* ---- the store as a kind of segment ---- */

static size_t store_bytes(uint32_t nslots)
{
	return sizeof(struct swerve_sessions_header) +
	       (size_t)nslots * sizeof(struct swerve_session_slot);
}

static void store_init(void *map, uint64_t nonce, uint64_t dev,
		       const char *name)
{
	struct swerve_sessions_header *hdr = map;

	/* Slots stay zero, which is free: no page is touched for them. */
	hdr->version = SWERVE_SESSIONS_VERSION;
	hdr->header_size = (uint32_t)sizeof(*hdr);
	hdr->slot_size = (uint32_t)sizeof(struct swerve_session_slot);
	hdr->nslots = SWERVE_SESSIONS_SLOTS;
	hdr->creator_pid = (uint32_t)getpid();
	hdr->created_ms = swerve_now_ms();
	hdr->nonce = nonce;
	hdr->link_dev = dev;
	atomic_store_explicit(&hdr->generation, 1, memory_order_relaxed);
	snprintf(hdr->name, sizeof(hdr->name), "%s", name);
	atomic_store_explicit(&hdr->ready, 1, memory_order_release);
	__atomic_store_n(&hdr->magic, SWERVE_SESSIONS_MAGIC, __ATOMIC_RELEASE);
}

static int store_check(const void *map, size_t size, uint64_t nonce,
		       const char *name, uint32_t shape[2], char *err,
		       size_t errlen)
{
	const struct swerve_sessions_header *hdr = map;
	uint32_t nslots = hdr->nslots;

	if (__atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) !=
		    SWERVE_SESSIONS_MAGIC ||
	    atomic_load_explicit(&hdr->ready, memory_order_acquire) != 1 ||
	    hdr->version != SWERVE_SESSIONS_VERSION || hdr->nonce != nonce) {
		swerve_log_reason(err, errlen, "session store %s names a "
				  "segment that is not its store; remove it "
				  "with swervectl reset", name);
		return -EPROTO;
	}
	if (hdr->header_size != sizeof(struct swerve_sessions_header) ||
	    hdr->slot_size != sizeof(struct swerve_session_slot) ||
	    nslots == 0 || nslots > MAX_SLOTS ||
	    nslots % SWERVE_SESSIONS_WAYS != 0 || size < store_bytes(nslots)) {
		swerve_log_reason(err, errlen, "session store %s has %u slots "
				  "of %u bytes in %zu bytes: not this swerve's "
				  "layout", name, nslots, hdr->slot_size, size);
		return -EPROTO;
	}
	shape[0] = nslots;
	shape[1] = 0;
	return 0;
}

static bool store_owner(const void *map, uint64_t dev, char *name,
			size_t len, uint64_t *nonce)
{
	const struct swerve_sessions_header *hdr = map;

	snprintf(name, len, "%.*s", (int)sizeof(hdr->name) - 1, hdr->name);
	*nonce = hdr->nonce;
	return __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) ==
		       SWERVE_SESSIONS_MAGIC &&
	       hdr->version == SWERVE_SESSIONS_VERSION && hdr->link_dev == dev;
}

static const struct swerve_segment_kind store_kind = {
	.what = "session store",
	.link_magic = LINK_MAGIC,
	.version = SWERVE_SESSIONS_VERSION,
	.size = sizeof(struct swerve_sessions_header) +
		(size_t)SWERVE_SESSIONS_SLOTS *
			sizeof(struct swerve_session_slot),
	.min_size = sizeof(struct swerve_sessions_header),
	.max_size = sizeof(struct swerve_sessions_header) +
		    (size_t)MAX_SLOTS * sizeof(struct swerve_session_slot),
	.init = store_init,
	.check = store_check,
	.owner = store_owner,
};

int swerve_sessions_name(const char *table, char *out, size_t len)
{
	int n = snprintf(out, len, "%s" SWERVE_SESSIONS_SUFFIX, table);

	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

uint64_t swerve_sessions_group(const char *service)
{
	return swerve_hash64(service, strlen(service), SWERVE_HASH_SEED) | 1;
}

int swerve_sessions_attach(const char *name, bool create,
			   struct swerve_sessions *out, char *err,
			   size_t errlen)
{
	struct swerve_segment seg;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = swerve_segment_attach(&store_kind, name, create, &seg, err,
				   errlen);
	if (rc != 0)
		return rc;
	out->hdr = seg.map;
	out->slots = (struct swerve_session_slot *)(out->hdr + 1);
	out->nslots = seg.shape[0];
	out->size = seg.size;
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

void swerve_sessions_detach(struct swerve_sessions *st)
{
	if (st == NULL)
		return;
	if (st->hdr != NULL)
		shmdt(st->hdr);
	memset(st, 0, sizeof(*st));
}

int swerve_sessions_unlink(const char *name)
{
	return swerve_segment_unlink(&store_kind, name);
}

/* ---- slots ---- */

static uint64_t meta_sum(const struct slot_meta *m, const void *blob)
{
	uint64_t h = swerve_hash64(m, offsetof(struct slot_meta, sum),
				   SWERVE_HASH_SEED);

	return swerve_hash64(blob, m->len, h);
}

/* Slot <i>'s bit in the header: whether it may hold a session. */
static bool in_use(struct swerve_sessions *st, size_t i)
{
	return (atomic_load_explicit(&st->hdr->used[i / 64],
				     memory_order_relaxed) >>
		(i % 64)) & 1;
}

static void mark(struct swerve_sessions *st, size_t i, bool used)
{
	uint64_t bit = 1ull << (i % 64);

	if (used)
		atomic_fetch_or(&st->hdr->used[i / 64], bit);
	else
		atomic_fetch_and(&st->hdr->used[i / 64], ~bit);
}

/* The first slot of <key>'s set. */
static size_t set_of(const struct swerve_sessions *st,
		     const struct swerve_session_key *key)
{
	uint32_t nsets = st->nslots / SWERVE_SESSIONS_WAYS;

	return (size_t)(key->h1 % nsets) * SWERVE_SESSIONS_WAYS;
}

/*
 * Copies slot <s> into <m> and, when it holds <key>, its bytes into
 * <buf> (<len> bytes). 1: a stable copy of the key's slot; 0: a stable
 * slot of another key; -EBUSY: being written; -EBADMSG: a length no
 * writer of ours stores; -ENOSPC: <buf> is too small.
 */
static int copy_out(struct swerve_session_slot *s,
		    const struct swerve_session_key *key, struct slot_meta *m,
		    void *buf, size_t len)
{
	bool mine, fits;
	uint64_t s1;
	int tries;

	for (tries = 0; tries < READ_TRIES; tries++) {
		s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		memcpy(m, meta_of(s), sizeof(*m));
		mine = m->h1 == key->h1 && m->h2 == key->h2;
		fits = m->len <= SWERVE_SESSIONS_BLOB_MAX && m->len <= len;
		if (mine && fits)
			memcpy(buf, s->blob, m->len);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
			continue;
		if (!mine)
			return 0;
		if (m->len > SWERVE_SESSIONS_BLOB_MAX)
			return -EBADMSG;
		return fits ? 1 : -ENOSPC;
	}
	return -EBUSY;
}

/* Starts a write of the locked slot <s>: <seq> odd; returns it. */
static uint64_t write_begin(struct swerve_session_slot *s)
{
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	/* Odd already: a writer taken over left it so; move past it. */
	seq = (seq & 1) ? seq + 2 : seq + 1;
	atomic_store_explicit(&s->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return seq;
}

/* Publishes the write begun at <seq>, while <h> still holds the slot
 * (else the holder that took it over publishes), and unlocks. */
static void write_end(struct swerve_session_slot *s, uint64_t seq,
		      struct swerve_shm_hold *h)
{
	if (swerve_shm_holds(&s->lock, h))
		atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
	swerve_shm_unlock(&s->lock, h);
}

/* Wipes the locked slot <i>: free, its secret bytes zeroed. */
static void wipe(struct swerve_sessions *st, size_t i,
		 struct swerve_shm_hold *h)
{
	struct swerve_session_slot *s = &st->slots[i];
	uint64_t seq = write_begin(s);

	memset(meta_of(s), 0, sizeof(struct slot_meta));
	explicit_bzero(s->blob, sizeof(s->blob));
	mark(st, i, false);
	write_end(s, seq, h);
}

/* Drops slot <i> if it still holds what <m> saw, without waiting. */
static void drop_seen(struct swerve_sessions *st, size_t i,
		      const struct slot_meta *m)
{
	struct swerve_session_slot *s = &st->slots[i];
	struct swerve_shm_hold h;

	if (swerve_shm_trylock(&s->lock, &h) != 0)
		return;
	if (s->h1 == m->h1 && s->h2 == m->h2 && s->stamp == m->stamp)
		wipe(st, i, &h);
	else
		swerve_shm_unlock(&s->lock, &h);
}

/* What a stable copy <m> of the key's slot, its bytes in <buf>, is
 * worth (swerve_sessions_get()); drops what must go. */
static ssize_t judge(struct swerve_sessions *st, size_t i,
		     const struct swerve_session_key *key,
		     const struct slot_meta *m, const void *buf, int64_t now)
{
	uint64_t gen = atomic_load_explicit(&st->hdr->generation,
					    memory_order_acquire);

	if (meta_sum(m, buf) != m->sum ||
	    m->expires > now + SWERVE_SESSIONS_MAX_LIFETIME || m->len == 0)
		return -EBADMSG;
	if (m->generation != gen) {
		drop_seen(st, i, m);
		return -ENOENT;
	}
	if (m->expires <= now) {
		drop_seen(st, i, m);
		return -ESTALE;
	}
	if (m->verify != key->verify || m->group != key->group) {
		drop_seen(st, i, m);
		return -EKEYREJECTED;
	}
	return (ssize_t)m->len;
}

ssize_t swerve_sessions_get(struct swerve_sessions *st,
			    const struct swerve_session_key *key, int64_t now,
			    void *buf, size_t len)
{
	size_t i, set = set_of(st, key);
	struct slot_meta m;
	bool busy = false;
	int rc;

	for (i = set; i < set + SWERVE_SESSIONS_WAYS; i++) {
		if (!in_use(st, i))
			continue;
		rc = copy_out(&st->slots[i], key, &m, buf, len);
		if (rc == 0)
			continue;
		if (rc == -EBUSY) {
			busy = true;
			continue;
		}
		if (rc < 0)
			return rc;
		return judge(st, i, key, &m, buf, now);
	}
	return busy ? -EBUSY : -ENOENT;
}

/*
 * The slot of <key>'s set to write: the key's own, else a free, void or
 * expired one, else the oldest. Read without the lock: a guess, which a
 * concurrent writer may spoil (then the key may briefly have two slots,
 * and the reader finds one of them).
 */
static size_t victim(struct swerve_sessions *st,
		     const struct swerve_session_key *key, uint64_t gen,
		     int64_t now)
{
	size_t i, set = set_of(st, key), oldest = set, spare = SIZE_MAX;
	struct swerve_session_slot *s;

	for (i = set; i < set + SWERVE_SESSIONS_WAYS; i++) {
		if (!in_use(st, i)) {
			if (spare == SIZE_MAX)
				spare = i;
			continue;
		}
		s = &st->slots[i];
		if (s->h1 == key->h1 && s->h2 == key->h2)
			return i;
		if (spare == SIZE_MAX &&
		    ((s->h1 == 0 && s->h2 == 0) || s->generation != gen ||
		     s->expires <= now))
			spare = i;
		if (s->stamp < st->slots[oldest].stamp)
			oldest = i;
	}
	return spare != SIZE_MAX ? spare : oldest;
}

int swerve_sessions_put(struct swerve_sessions *st,
			const struct swerve_session_key *key, int64_t expires,
			int64_t now, const void *blob, size_t len)
{
	uint64_t gen = atomic_load_explicit(&st->hdr->generation,
					    memory_order_acquire);
	struct swerve_session_slot *s;
	struct swerve_shm_hold h;
	struct slot_meta m;
	uint32_t old_len;
	uint64_t seq;
	size_t i;

	if (len == 0 || len > SWERVE_SESSIONS_BLOB_MAX || expires <= now ||
	    expires > now + SWERVE_SESSIONS_MAX_LIFETIME ||
	    (key->h1 == 0 && key->h2 == 0))
		return -EINVAL;
	i = victim(st, key, gen, now);
	s = &st->slots[i];
	if (swerve_shm_lock(&s->lock, &h) != 0)
		return -EBUSY;
	memset(&m, 0, sizeof(m));
	m.h1 = key->h1;
	m.h2 = key->h2;
	m.group = key->group;
	m.verify = key->verify;
	m.generation = gen;
	m.stamp = atomic_fetch_add(&st->hdr->clock, 1) + 1;
	m.expires = expires;
	m.len = (uint32_t)len;
	m.sum = meta_sum(&m, blob);
	old_len = s->len <= SWERVE_SESSIONS_BLOB_MAX ? s->len
						     : SWERVE_SESSIONS_BLOB_MAX;
	mark(st, i, true);
	seq = write_begin(s);
	memcpy(meta_of(s), &m, sizeof(m));
	memcpy(s->blob, blob, len);
	/* The previous session's tail is a secret too. */
	if (old_len > len)
		explicit_bzero(s->blob + len, old_len - len);
	write_end(s, seq, &h);
	return 0;
}

unsigned swerve_sessions_drop(struct swerve_sessions *st, uint64_t group)
{
	struct swerve_session_slot *s;
	struct swerve_shm_hold h;
	unsigned n = 0;
	size_t i;

	/* Void everywhere at once, even in mappings of a removed store. */
	if (group == 0)
		atomic_fetch_add_explicit(&st->hdr->generation, 1,
					  memory_order_release);
	for (i = 0; i < st->nslots; i++) {
		s = &st->slots[i];
		if (!in_use(st, i) || (group != 0 && s->group != group))
			continue;
		if (swerve_shm_lock(&s->lock, &h) != 0)
			continue;
		if (group == 0 || s->group == group) {
			wipe(st, i, &h);
			n++;
		} else {
			swerve_shm_unlock(&s->lock, &h);
		}
	}
	return n;
}
