/*
 * fuzz_sessions: libFuzzer target for the TLS session store's reader
 * (src/table/sessions.c): attaching to a store some other program left,
 * then looking sessions up in it, storing and dropping them. Each input
 * is a store's segment (header and slots, sessions_input.h) behind a
 * name file whose record is valid and names it: the record's own paths
 * are the segment code's, which fuzz_table covers. swerve_sessions_attach()
 * must refuse the store with a reason or accept one whose slots fit the
 * mapping; what it accepts is then used as the library and swervectl use
 * it, with the keys the input's slots hold: every lookup hands out at
 * most a slot's bytes, and only with a result the API names; every store
 * and drop stays inside the mapping. Lock words are used as the input
 * left them: the bounded lock copes with any word.
 *
 * The segment is made IPC_PRIVATE, mode 0600, and marked removed as soon
 * as the harness has it mapped, before swerve attaches, so not even a
 * crash leaves it behind; the name file is removed as soon as attach
 * returns. The record is always complete, so attach never waits for a
 * creator (a timed path of the unit tests).
 *
 * Thread-safety: libFuzzer calls the target from one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "base/swerve.h"
#include "fuzz.h"
#include "sessions_input.h"
#include "../unit/test_shm_support.h"

#define broken(what) fuzz_broken("fuzz_sessions", what, NULL)

#define KEYS_TRIED 16   /* slots looked at for keys */
#define LINK_PAGE 4096

struct input {
	size_t seg_size;
	uint8_t ops[FUZZ_SESSIONS_OPS][FUZZ_SESSIONS_OP_BYTES];
	size_t nops;
	int shmid;
	void *map;
};

/* Reads the input's head; the rest is the segment's bytes. */
static void parse(struct input *in, const uint8_t **p, size_t *left)
{
	uint8_t head[5] = { 0 };
	size_t k = *left < sizeof(head) ? *left : sizeof(head);

	memcpy(head, *p, k);
	*p += k;
	*left -= k;
	in->seg_size = 1 + ((uint32_t)head[0] | (uint32_t)head[1] << 8 |
			    (uint32_t)head[2] << 16 |
			    (uint32_t)head[3] << 24) % FUZZ_SESSIONS_MAX;
	in->nops = head[4] % (FUZZ_SESSIONS_OPS + 1);
	memset(in->ops, 0, sizeof(in->ops));
	k = in->nops * FUZZ_SESSIONS_OP_BYTES;
	k = *left < k ? *left : k;
	memcpy(in->ops, *p, k);
	*p += k;
	*left -= k;
}

/* The name file: a complete record naming the segment. */
static void write_name(const char *name, const struct input *in)
{
	struct test_link l;
	int fd;

	memset(&l, 0, sizeof(l));
	l.magic = FUZZ_SESSIONS_LINK_MAGIC;
	l.version = SWERVE_SESSIONS_VERSION;
	l.creator_pid = (uint32_t)getpid();
	l.created_ms = swerve_now_ms();
	if (in->seg_size >= offsetof(struct swerve_sessions_header, nonce) +
				    sizeof(l.nonce))
		memcpy(&l.nonce, (uint8_t *)in->map +
		       offsetof(struct swerve_sessions_header, nonce),
		       sizeof(l.nonce));
	l.size = in->seg_size;
	l.shmid = in->shmid;
	l.sum = swerve_hash64(&l, offsetof(struct test_link, sum),
			      SWERVE_HASH_SEED);
	fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || pwrite(fd, &l, sizeof(l), 0) != (ssize_t)sizeof(l) ||
	    ftruncate(fd, LINK_PAGE) == -1) {
		perror("fuzz_sessions: writing the name file");
		shm_unlink(name);
		exit(1);
	}
	close(fd);
}

/* The keys the first slots hold, as the library would ask for them. */
static size_t find_keys(const struct swerve_sessions *st,
			struct swerve_session_key *keys)
{
	size_t i, n = 0;

	for (i = 0; i < st->nslots && i < KEYS_TRIED; i++) {
		if (st->slots[i].h1 == 0 && st->slots[i].h2 == 0)
			continue;
		keys[n].h1 = st->slots[i].h1;
		keys[n].h2 = st->slots[i].h2;
		keys[n].group = st->slots[i].group;
		keys[n].verify = st->slots[i].verify;
		n++;
	}
	return n;
}

static void check_get(ssize_t n)
{
	if (n > 0 && (size_t)n > SWERVE_SESSIONS_BLOB_MAX)
		broken("a lookup handed out more than a slot holds");
	if (n <= 0 && n != -ENOENT && n != -ESTALE && n != -EKEYREJECTED &&
	    n != -EBUSY && n != -EBADMSG)
		broken("a lookup failed in a way the API does not name");
}

static void run_op(struct swerve_sessions *st, const uint8_t *op,
		   const struct swerve_session_key *keys, size_t nkeys,
		   int64_t *now)
{
	static uint8_t buf[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_key k = {
		.h1 = op[1] | 1, .h2 = op[2], .group = op[3], .verify = 1,
	};
	size_t len;
	int rc;

	if (nkeys > 0)
		k = keys[(op[0] >> 2) % nkeys];
	switch (op[0] & 3) {
	case FUZZ_SESSIONS_GET:
		k.verify ^= op[3] & 1; /* sometimes other settings */
		check_get(swerve_sessions_get(st, &k, *now, buf, sizeof(buf)));
		break;
	case FUZZ_SESSIONS_PUT:
		len = 1 + ((size_t)op[1] << 8 | op[2]) %
				  SWERVE_SESSIONS_BLOB_MAX;
		memset(buf, op[3], len);
		rc = swerve_sessions_put(st, &k, *now + 1 + op[3], *now, buf,
					 len);
		if (rc != 0 && rc != -EBUSY)
			broken("a sound session was not stored");
		check_get(swerve_sessions_get(st, &k, *now, buf, sizeof(buf)));
		break;
	case FUZZ_SESSIONS_DROP:
		if (swerve_sessions_drop(st, (op[1] & 1) ? 0 : k.group) >
		    st->nslots)
			broken("more sessions dropped than there are slots");
		break;
	default:
		*now += (int64_t)op[1] * 3600;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct swerve_session_key keys[KEYS_TRIED];
	static char name[64];
	int64_t now = FUZZ_SESSIONS_NOW;
	struct swerve_sessions st;
	struct input in;
	char err[256];
	size_t i, nkeys;
	int rc;

	if (name[0] == '\0')
		snprintf(name, sizeof(name), "/swerve-fuzz-%d.tls",
			 (int)getpid());
	parse(&in, &data, &size);
	in.map = fuzz_segment("fuzz_sessions", in.seg_size, data, size,
			      &in.shmid);
	write_name(name, &in);
	rc = swerve_sessions_attach(name, false, &st, err, sizeof(err));
	shm_unlink(name);
	shmdt(in.map);
	if (rc != 0) {
		if (err[0] == '\0')
			broken("refused without a reason");
		return 0;
	}
	if (sizeof(struct swerve_sessions_header) +
		    (size_t)st.nslots * sizeof(struct swerve_session_slot) >
	    st.size)
		broken("accepted slots that do not fit the segment");
	nkeys = find_keys(&st, keys);
	for (i = 0; i < in.nops; i++)
		run_op(&st, in.ops[i], keys, nkeys, &now);
	swerve_sessions_detach(&st);
	return 0;
}
