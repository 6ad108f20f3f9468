/*
 * test_httptrack_support.c: feeds scripted exchanges to an HTTP tracker
 * and renders its events as text (see the header).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_httptrack_support.h"

struct sink {
	char *out;
	size_t outlen;
};

void ht_event_text(const struct swerve_httptrack_event *ev, char *out,
		   size_t outlen)
{
	switch (ev->kind) {
	case SWERVE_HTTPTRACK_STATUS:
		snprintf(out, outlen, "%d", ev->status);
		break;
	case SWERVE_HTTPTRACK_RESET:
		snprintf(out, outlen, "reset");
		break;
	case SWERVE_HTTPTRACK_GAVE_UP:
		snprintf(out, outlen, "gave-up:%s",
			 swerve_httptrack_why_name(ev->why));
		break;
	default:
		snprintf(out, outlen, "kind%d", (int)ev->kind);
		break;
	}
}

static void append(void *arg, const struct swerve_httptrack_event *ev)
{
	struct sink *s = arg;
	size_t used = strlen(s->out);
	char text[64];

	ht_event_text(ev, text, sizeof(text));
	snprintf(s->out + used, s->outlen - used, "%s%s", used ? " " : "",
		 text);
}

void ht_feed(struct swerve_httptrack *t, char op, const void *data,
	     size_t len, size_t chunk, uint64_t now_ms, char *out,
	     size_t outlen)
{
	struct sink s = { out, outlen };
	const char *p = data;
	size_t k;
	char *copy;

	if (op == 'E') {
		swerve_httptrack_eof(t, append, &s);
		return;
	}
	while (len > 0) {
		k = chunk == 0 || chunk > len ? len : chunk;
		copy = malloc(k);
		if (copy == NULL)
			abort();
		memcpy(copy, p, k);
		if (op == 'W')
			swerve_httptrack_write(t, copy, k, now_ms, append, &s);
		else
			swerve_httptrack_read(t, copy, k, now_ms, append, &s);
		free(copy);
		p += k;
		len -= k;
	}
}

void ht_run(const struct ht_step *steps, size_t chunk,
	    struct swerve_httptrack *t, char *out, size_t outlen)
{
	size_t i;

	swerve_httptrack_init(t);
	out[0] = '\0';
	for (i = 0; i < HT_MAX_STEPS && steps[i].op != 0; i++)
		ht_feed(t, steps[i].op, steps[i].data, steps[i].len, chunk,
			1000 + i, out, outlen);
}
