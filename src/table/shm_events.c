/*
 * shm_events.c: the event ring of the host-wide health table: adding an
 * event and reading the ring back. Its layout is in shm.h; shm.c places it
 * in the segment and decides which events to add.
 *
 * Operators ask "which endpoint was ejected, when, and
 * why?" (istio#18973: Envoy's stats cannot say). After the rows sits a
 * ring of SWERVE_SHM_EVENTS fixed 64-byte slots: eject, un-eject, the
 * first overflow of a streak, panic enter and exit, each with its time,
 * row key (never an address), reason, cause and streak. A writer takes a position
 * with one fetch-and-add on the header and publishes the slot as a
 * seqlock: seq 0, the fields, then seq = position + 1 with release order;
 * a reader that sees seq change while copying drops the copy. No lock, no
 * system call, so an event can be written from the connect path, and a
 * writer killed half-way leaves one slot that readers skip. Each event is
 * decided under the row lock (or by a compare-and-swap for panic), so
 * however many processes see the same failure, one of them writes it.
 *
 * Thread- and process-safety: every function here is lock-free and
 * allocation-free except swerve_shm_events(), which sorts its copy with
 * qsort and is for tools, not for the connect path.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/shm.h"

/* Relaxed per-field access: the slot's seq orders them (seqlock). */
#define EV_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define EV_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

int swerve_shm_event_add(struct swerve_shm *tab,
			 const struct swerve_shm_event_info *ev)
{
	struct swerve_shm_event *slot;
	uint64_t pos;

	if (tab == NULL || tab->hdr == NULL || tab->events == NULL ||
	    tab->nevents == 0 || ev == NULL)
		return -EINVAL;
	pos = atomic_fetch_add_explicit(&tab->hdr->event_next, 1,
					memory_order_relaxed);
	slot = &tab->events[pos % tab->nevents];
	/*
	 * seq 0 first, so a reader that started on the old event sees the
	 * change and drops its copy. Two writers on one slot need the ring
	 * to wrap during a write (SWERVE_SHM_EVENTS events in between); the
	 * later seq wins and a reader may see a mix, bounded to sane fields
	 * by swerve_shm_events(): an event log, never a routing input.
	 */
	atomic_store_explicit(&slot->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	EV_STORE(slot->at_ms, ev->at_ms);
	EV_STORE(slot->key, ev->key);
	EV_STORE(slot->duration_ms, ev->duration_ms);
	EV_STORE(slot->type, (uint32_t)ev->type);
	EV_STORE(slot->reason, (uint32_t)ev->reason);
	EV_STORE(slot->streak, ev->streak);
	EV_STORE(slot->value, ev->value);
	EV_STORE(slot->pid, (uint32_t)getpid());
	EV_STORE(slot->cause, (uint32_t)ev->cause);
	atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
	return 0;
}

/* Reads one slot; false when it is empty, being written, or nonsense. */
static bool read_event(struct swerve_shm_event *slot,
		       struct swerve_shm_event_info *out)
{
	uint64_t s1, s2;
	uint32_t type, reason, cause;

	s1 = atomic_load_explicit(&slot->seq, memory_order_acquire);
	if (s1 == 0)
		return false;
	out->at_ms = EV_LOAD(slot->at_ms);
	out->key = EV_LOAD(slot->key);
	out->duration_ms = EV_LOAD(slot->duration_ms);
	type = EV_LOAD(slot->type);
	reason = EV_LOAD(slot->reason);
	out->streak = EV_LOAD(slot->streak);
	out->value = EV_LOAD(slot->value);
	out->pid = EV_LOAD(slot->pid);
	cause = EV_LOAD(slot->cause);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&slot->seq, memory_order_relaxed);
	if (s1 != s2)
		return false;
	if (type < SWERVE_EVENT_EJECT || type > SWERVE_EVENT_PANIC_EXIT ||
	    reason > SWERVE_REASON_HEALTH ||
	    cause > SWERVE_CAUSE_LOCAL_ORIGIN)
		return false;
	out->seq = s1;
	out->type = (enum swerve_shm_event_type)type;
	out->reason = (enum swerve_outlier_reason)reason;
	out->cause = (enum swerve_outlier_cause)cause;
	return true;
}

static int compare_seq(const void *a, const void *b)
{
	const struct swerve_shm_event_info *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t swerve_shm_events(struct swerve_shm *tab,
			 struct swerve_shm_event_info *out, size_t max,
			 uint64_t *lost)
{
	struct swerve_shm_event_info ev;
	uint64_t oldest = UINT64_MAX;
	size_t i, n = 0;

	if (lost != NULL)
		*lost = 0;
	if (tab == NULL || tab->hdr == NULL || tab->events == NULL ||
	    out == NULL)
		return 0;
	for (i = 0; i < tab->nevents; i++) {
		if (!read_event(&tab->events[i], &ev))
			continue;
		if (n < max) {
			out[n++] = ev;
		} else {
			/* Keep the newest <max>: replace the oldest held. */
			size_t k, min = 0;

			for (k = 1; k < n; k++)
				if (out[k].seq < out[min].seq)
					min = k;
			if (n > 0 && out[min].seq < ev.seq)
				out[min] = ev;
		}
	}
	qsort(out, n, sizeof(*out), compare_seq);
	for (i = 0; i < n; i++)
		if (out[i].seq < oldest)
			oldest = out[i].seq;
	/* seq is 1 + position: everything before the oldest kept is gone. */
	if (lost != NULL && n > 0)
		*lost = oldest - 1;
	return n;
}
