/*
 * httptrack_words.h: the HTTP/1.x words and byte classes that the tracker
 * (httptrack.c) recognises, for its own use only: static inline, so that
 * the per-byte calls stay inside the parser's loop.
 *
 * Thread-safety: constant tables and pure functions.
 */
#ifndef SWERVE_HTTPTRACK_WORDS_H
#define SWERVE_HTTPTRACK_WORDS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The words recognised on the fly: header names and tokens compare
 * lowercased, methods exactly (they are case-sensitive). A mask has one bit
 * per word still matching what has been seen of the current name or token.
 */
enum word {
	W_NONE = 0,
	W_CLEN,
	W_TE,
	W_CONN,
	W_CHUNKED,
	W_CLOSE,
	W_KEEPALIVE,
	W_HEAD,
	W_CONNECT,
	W_COUNT,
};

static const char *const words[W_COUNT] = {
	[W_CLEN] = "content-length",
	[W_TE] = "transfer-encoding",
	[W_CONN] = "connection",
	[W_CHUNKED] = "chunked",
	[W_CLOSE] = "close",
	[W_KEEPALIVE] = "keep-alive",
	[W_HEAD] = "HEAD",
	[W_CONNECT] = "CONNECT",
};

/* Their lengths, so that the per-byte loops never call strlen. */
static const uint8_t word_len[W_COUNT] = {
	[W_CLEN] = sizeof("content-length") - 1,
	[W_TE] = sizeof("transfer-encoding") - 1,
	[W_CONN] = sizeof("connection") - 1,
	[W_CHUNKED] = sizeof("chunked") - 1,
	[W_CLOSE] = sizeof("close") - 1,
	[W_KEEPALIVE] = sizeof("keep-alive") - 1,
	[W_HEAD] = sizeof("HEAD") - 1,
	[W_CONNECT] = sizeof("CONNECT") - 1,
};

#define BIT(w) ((uint16_t)(1u << (w)))
#define HEADER_WORDS (BIT(W_CLEN) | BIT(W_TE) | BIT(W_CONN))
#define METHOD_WORDS (BIT(W_HEAD) | BIT(W_CONNECT))

/* Drops from <mask> the words whose byte <pos> is not <c>; only the
 * words still in it are looked at (usually one or none). */
static inline uint16_t narrow(uint16_t mask, unsigned pos, uint8_t c)
{
	uint16_t left = mask & (uint16_t)~BIT(W_NONE);
	unsigned w;

	while (left != 0) {
		w = (unsigned)__builtin_ctz(left);
		left &= (uint16_t)(left - 1);
		if (pos >= word_len[w] || (uint8_t)words[w][pos] != c)
			mask &= (uint16_t)~BIT(w);
	}
	return mask;
}

/* The word of <mask> that is exactly <pos> bytes long, or W_NONE. */
static inline enum word matched(uint16_t mask, unsigned pos)
{
	unsigned w;

	for (w = 1; w < W_COUNT; w++)
		if ((mask & BIT(w)) && word_len[w] == pos)
			return (enum word)w;
	return W_NONE;
}

/* RFC 9110 5.6.2 tchar. */
static inline bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static inline int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif
