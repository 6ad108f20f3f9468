/*
 * Unit tests of the HTTP/1.x tracker (policy/httptrack.c): a table of real
 * exchanges and odd cases of the kinds curl's and nginx's test suites
 * carry, each fed whole, byte by byte and in small pieces, with the same
 * events expected every time.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "policy/httptrack.h"
#include "test_httptrack_support.h"

#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
#define HEAD "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
#define OK0 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define CHUNKED_200 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
#define PG_STARTUP "\0\0\0\x29\0\3\0\0user\0postgres\0database\0postgres\0\0"
#define PG_AUTH_OK "R\0\0\0\x08\0\0\0\0S\0\0\0\x16" "DateStyle\0ISO, MDY\0"
#define MYSQL_HELLO "\x4a\0\0\0\x0a" "8.0.32\0\x08\0\0\0" "abcdefgh\0"

struct ht_case {
	const char *name;
	struct ht_step steps[HT_MAX_STEPS];
	const char *expect;
};

static const struct ht_case cases[] = {
	{ "content_length",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
			    "hello"), HT_EOF }, "200" },
	{ "keep_alive_sequence",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	    HT_W(GET), HT_R("HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Length: 0\r\n\r\n"),
	    HT_W(GET), HT_R("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n"
			    "\r\nno!") }, "200 503 404" },
	{ "chunked_extensions_trailers",
	  { HT_W(GET), HT_R(CHUNKED_200 "4;name=value\r\nWiki\r\n"
			    "5 ; ext=\"q;x\"\r\npedia\r\nE\r\n in\r\n\r\n"
			    "chunks."
			    "\r\n0\r\nExpires: Wed, 21 Oct 2015\r\n"
			    "X-Checksum: 1\r\n\r\n"),
	    HT_W(GET), HT_R("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n") },
	  "200 500" },
	{ "zero_chunk_only",
	  { HT_W(GET), HT_R(CHUNKED_200 "0\r\n\r\n"), HT_W(GET),
	    HT_R("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n") },
	  "200 502" },
	{ "last_chunk_with_extension",
	  { HT_W(GET), HT_R(CHUNKED_200 "3\r\nabc\r\n0;end\r\n\r\n"), HT_W(GET),
	    HT_R(OK0) }, "200 200" },
	{ "continue_then_final",
	  { HT_W("POST /up HTTP/1.1\r\nExpect: 100-continue\r\n"
		 "Content-Length: 5\r\n\r\n"),
	    HT_R("HTTP/1.1 100 Continue\r\n\r\n"), HT_W("hello"),
	    HT_R("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "201 200" },
	{ "early_hints_then_final",
	  { HT_W(GET), HT_R("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; "
			    "rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"
			    "Content-Length: 2\r\n\r\nok") }, "200" },
	{ "several_interim",
	  { HT_W(GET), HT_R("HTTP/1.1 100 Continue\r\n\r\n"
			    "HTTP/1.1 102 Processing\r\n\r\n"
			    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
			    "HTTP/1.1 504 Gateway Timeout\r\n"
			    "Content-Length: 1\r\n\r\nx"), HT_W(GET),
	    HT_R(OK0) }, "504 200" },
	{ "head_with_content_length",
	  { HT_W(HEAD), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
	    HT_W(GET), HT_R("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			    "\r\n") }, "200 404" },
	{ "head_with_chunked",
	  { HT_W(HEAD), HT_R(CHUNKED_200), HT_W(GET), HT_R(OK0) },
	  "200 200" },
	{ "no_content_with_length",
	  { HT_W("DELETE /x HTTP/1.1\r\n\r\n"),
	    HT_R("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "204 200" },
	{ "not_modified_with_length_and_chunked",
	  { HT_W(GET), HT_R("HTTP/1.1 304 Not Modified\r\nContent-Length: 5"
			    "\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "304 200" },
	{ "pipelined_three_mixed",
	  { HT_W("GET /a HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\n"
		 "Host: a\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
		 "abcd"),
	    HT_R("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
		 "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		 "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "3\r\nnew\r\n0\r\n\r\n"), HT_EOF }, "200 200 201" },
	{ "pipelined_head_first",
	  { HT_W(HEAD GET),
	    HT_R("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
		 "HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\n12345"),
	    HT_W(GET), HT_R(OK0) }, "200 500 200" },
	{ "response_before_request_written",
	  { HT_W("POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
	    HT_R("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"),
	    HT_W("defghij"), HT_W(GET), HT_R(OK0) }, "413 200" },
	{ "close_without_length",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
			    "body HTTP/1.1 500 x\r\n\r\n"), HT_W(GET),
	    HT_R("HTTP/1.1 503 x\r\n\r\n"), HT_EOF }, "200" },
	{ "no_length_on_keep_alive_request",
	  { HT_W("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"),
	    HT_R("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		 "HTTP/1.1 500 not a response\r\n\r\n"), HT_W(GET), HT_EOF },
	  "200" },
	{ "http10_without_length",
	  { HT_W("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	    HT_R("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody"), HT_EOF },
	  "200" },
	{ "http10_keep_alive_with_length",
	  { HT_W("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	    HT_R("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
		 "Content-Length: 2\r\n\r\nok"),
	    HT_W("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	    HT_R("HTTP/1.0 503 x\r\nconnection: keep-alive\r\n"
		 "Content-Length: 0\r\n\r\n") }, "200 503" },
	{ "http10_with_length_closes",
	  { HT_W(GET), HT_R("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	    HT_W(GET), HT_EOF }, "200" },
	{ "close_with_pipelined_request",
	  { HT_W(GET GET), HT_R("HTTP/1.1 200 OK\r\nConnection: close\r\n"
				"Content-Length: 0\r\n\r\n"), HT_EOF },
	  "200" },
	{ "close_in_a_list",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n"
			    "Content-Length: 0\r\n\r\n"), HT_W(GET), HT_EOF },
	  "200" },
	{ "websocket_upgrade",
	  { HT_W("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\n\r\n"),
	    HT_R("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\n\r\n\x81\x05hello"),
	    HT_W("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
	    HT_R("HTTP/1.1 500 x\r\n\r\n"), HT_EOF },
	  "101 gave-up:upgrade" },
	{ "h2c_upgrade_ignored",
	  { HT_W("GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
		 "\r\n"),
	    HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), HT_W(GET),
	    HT_R(OK0) }, "200 200" },
	{ "connect_tunnel",
	  { HT_W("CONNECT example.com:443 HTTP/1.1\r\n"
		 "Host: example.com:443\r\n\r\n"),
	    HT_R("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03"),
	    HT_EOF }, "gave-up:connect" },
	{ "http2_preface",
	  { HT_W("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04\0\0\0\0\0"),
	    HT_R("\0\0\0\x04\0\0\0\0\0") }, "gave-up:version" },
	{ "http2_status_line",
	  { HT_W(GET), HT_R("HTTP/2 200\r\n\r\n") }, "gave-up:version" },
	{ "http09_request",
	  { HT_W("GET /\r\n"), HT_R("<html>hello</html>") },
	  "gave-up:version" },
	{ "html_instead_of_status",
	  { HT_W(GET), HT_R("<html>hello</html>\r\n"), HT_EOF },
	  "gave-up:garbage" },
	{ "status_four_digits",
	  { HT_W(GET), HT_R("HTTP/1.1 2000 OK\r\n\r\n") }, "gave-up:garbage" },
	{ "status_leading_zero",
	  { HT_W(GET), HT_R("HTTP/1.1 099 Odd\r\n\r\n") }, "gave-up:garbage" },
	{ "status_two_spaces",
	  { HT_W(GET), HT_R("HTTP/1.1  200 OK\r\n\r\n") }, "gave-up:garbage" },
	{ "status_without_reason",
	  { HT_W(GET), HT_R("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
	    HT_W(GET), HT_R("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n") },
	  "200 503" },
	{ "statuses_5xx",
	  { HT_W(GET GET GET GET GET),
	    HT_R("HTTP/1.1 500 a\r\nContent-Length: 0\r\n\r\n"
		 "HTTP/1.1 502 b\r\nContent-Length: 0\r\n\r\n"
		 "HTTP/1.1 503 c\r\nContent-Length: 0\r\n\r\n"
		 "HTTP/1.1 504 d\r\nContent-Length: 0\r\n\r\n"
		 "HTTP/1.1 599 e\r\nContent-Length: 0\r\n\r\n") },
	  "500 502 503 504 599" },
	{ "postgres_exchange",
	  { HT_W(PG_STARTUP), HT_R(PG_AUTH_OK), HT_W("Q\0\0\0\x0dSELECT 1\0"),
	    HT_R("HTTP/1.1 200 OK\r\n\r\n"), HT_EOF }, "gave-up:garbage" },
	{ "redis_exchange",
	  { HT_W("*1\r\n$4\r\nPING\r\n"), HT_R("+PONG\r\n"),
	    HT_W("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), HT_R("+OK\r\n"),
	    HT_EOF }, "gave-up:garbage" },
	{ "redis_inline_command",
	  { HT_W("PING\r\n"), HT_R("+PONG\r\n") }, "gave-up:garbage" },
	{ "mysql_server_first",
	  { HT_R(MYSQL_HELLO), HT_W(GET), HT_R(OK0), HT_EOF },
	  "gave-up:unsolicited" },
	{ "smtp_server_first",
	  { HT_R("220 mx.example ESMTP\r\n"), HT_W("EHLO a\r\n") },
	  "gave-up:unsolicited" },
	{ "tls_client_hello",
	  { HT_W("\x16\x03\x01\0\xa5\x01\0\0\xa1\x03\x03"),
	    HT_R("\x16\x03\x03\0\x5d\x02") }, "gave-up:garbage" },
	{ "obs_fold",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\n"
			    "Content-Length: 0\r\n\r\n") },
	  "gave-up:obs-fold" },
	{ "space_before_colon",
	  { HT_W(GET),
	    HT_R("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok") },
	  "gave-up:garbage" },
	{ "line_without_colon",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nbroken\r\n\r\n") },
	  "gave-up:garbage" },
	{ "nul_in_header",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n") },
	  "gave-up:garbage" },
	{ "bare_cr",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n") },
	  "gave-up:garbage" },
	{ "same_length_repeated",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			    "Content-Length: 2\r\n\r\nok"),
	    HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2 , 2\r\n\r\n"
			    "ok"), HT_W(GET), HT_R(OK0) }, "200 200 200" },
	{ "different_lengths",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			    "Content-Length: 3\r\n\r\nok") },
	  "gave-up:content-length" },
	{ "length_list_differs",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2,3\r\n\r\n") },
	  "gave-up:content-length" },
	{ "length_not_a_number",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n") },
	  "gave-up:content-length" },
	{ "length_negative",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") },
	  "gave-up:content-length" },
	{ "length_empty",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n") },
	  "gave-up:content-length" },
	{ "length_trailing_comma",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 2,\r\n\r\n") },
	  "gave-up:content-length" },
	{ "length_overflow",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: "
			    "99999999999999999999999\r\n\r\n") },
	  "gave-up:content-length" },
	{ "request_length_conflict",
	  { HT_W("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"
		 "\r\n\r\nab") }, "gave-up:content-length" },
	{ "chunked_wins_over_length",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n"
			    "2\r\nok\r\n0\r\n\r\n"), HT_W(GET), HT_R(OK0) },
	  "200 200" },
	{ "codings_chunked_last",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
			    "chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"), HT_W(GET),
	    HT_R(OK0) }, "200 200" },
	{ "codings_on_two_lines",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "200 200" },
	{ "chunked_not_last_runs_to_eof",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
			    "gzip\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 "
			    "x\r\n\r\n"), HT_W(GET), HT_EOF }, "200" },
	{ "coding_only_gzip_runs_to_eof",
	  { HT_W(GET), HT_R("HTTP/1.1 503 x\r\nTransfer-Encoding: gzip\r\n"
			    "\r\n\x1f\x8b"), HT_EOF }, "503" },
	{ "empty_coding",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n") },
	  "gave-up:transfer-encoding" },
	{ "request_coding_not_chunked",
	  { HT_W("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
	    HT_R("HTTP/1.1 501 x\r\nContent-Length: 0\r\n\r\n") },
	  "gave-up:transfer-encoding" },
	{ "chunked_request_body",
	  { HT_W("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5\r\nhello\r\n0\r\n\r\n" HEAD),
	    HT_R(OK0 "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "200 200 200" },
	{ "chunked_request_trailers_and_length",
	  { HT_W("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n"
		 "X-Sum: 9\r\n\r\n" GET),
	    HT_R("HTTP/1.1 201 x\r\nContent-Length: 0\r\n\r\n" OK0) },
	  "201 200" },
	{ "bare_lf",
	  { HT_W("GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\n\n"),
	    HT_R("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
		 "HTTP/1.1 500 x\nContent-Length: 0\n\n") }, "200 500" },
	{ "bare_lf_chunked",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
			    "2\nok\n0\nX: y\n\n"), HT_W(GET), HT_R(OK0) },
	  "200 200" },
	{ "header_names_any_case",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\n\r\nok"),
	    HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nTRANSFER-encoding: CHUNKED\r\n"
			    "\r\n0\r\n\r\n"), HT_W(GET),
	    HT_R("HTTP/1.1 200 OK\r\nCONNECTION: Close\r\n\r\nx"), HT_W(GET),
	    HT_EOF }, "200 200 200" },
	{ "names_that_almost_match",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Lengths: 9\r\n"
			    "X-Content-Length: 9\r\nContent-Length: 2\r\n"
			    "Transfer-Encodings: chunked\r\nConnection: "
			    "closed\r\n\r\nok"), HT_W(GET), HT_R(OK0) },
	  "200 200" },
	{ "chunk_size_upper_hex_leading_zeros",
	  { HT_W(GET), HT_R(CHUNKED_200 "000A\r\n0123456789\r\n00\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "200 200" },
	{ "bad_chunk_size",
	  { HT_W(GET), HT_R(CHUNKED_200 "zz\r\n") }, "200 gave-up:chunk" },
	{ "empty_chunk_size",
	  { HT_W(GET), HT_R(CHUNKED_200 "\r\n") }, "200 gave-up:chunk" },
	{ "chunk_without_line_end",
	  { HT_W(GET), HT_R(CHUNKED_200 "5\r\nhelloX\r\n") },
	  "200 gave-up:chunk" },
	{ "chunk_size_overflow",
	  { HT_W(GET), HT_R(CHUNKED_200 "10000000000000000\r\n") },
	  "200 gave-up:chunk" },
	{ "eof_before_response",
	  { HT_W(GET), HT_EOF, HT_R(OK0) }, "reset" },
	{ "eof_in_status_line",
	  { HT_W(GET), HT_R("HTTP/1.1 20"), HT_EOF }, "reset" },
	{ "eof_in_headers",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Le"), HT_EOF },
	  "reset" },
	{ "eof_after_interim",
	  { HT_W(GET), HT_R("HTTP/1.1 100 Continue\r\n\r\n"), HT_EOF },
	  "reset" },
	{ "eof_before_request_complete",
	  { HT_W("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nab"), HT_EOF },
	  "reset" },
	{ "eof_mid_body",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
	    HT_EOF }, "200" },
	{ "eof_idle",
	  { HT_W(GET), HT_R(OK0), HT_EOF, HT_EOF }, "200" },
	{ "eof_pipelined_second",
	  { HT_W(GET GET), HT_R(OK0), HT_EOF, HT_EOF }, "200 reset" },
	{ "eof_without_request",
	  { HT_EOF }, "" },
	{ "second_response_to_one_request",
	  { HT_W(GET), HT_R(OK0 OK0) }, "200 gave-up:unsolicited" },
	{ "empty_lines_between_requests",
	  { HT_W("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\n" GET),
	    HT_R("HTTP/1.1 201 x\r\nContent-Length: 0\r\n\r\n" OK0) },
	  "201 200" },
	{ "other_methods",
	  { HT_W("PURGE /x HTTP/1.1\r\n\r\nhead / HTTP/1.1\r\n\r\n"
		 "HEADX / HTTP/1.1\r\n\r\n"),
	    HT_R(OK0 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") },
	  "200 200 200" },
	{ "body_that_looks_like_a_response",
	  { HT_W(GET), HT_R("HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n"
			    "HTTP/1.1 500 Internal Server Error\r\n\r\n"),
	    HT_W(GET), HT_R(OK0) }, "200 200" },
	{ "request_line_with_extra_field",
	  { HT_W("GET / HTTP/1.1 x\r\n\r\n") }, "gave-up:garbage" },
	{ "request_space_first",
	  { HT_W(" GET / HTTP/1.1\r\n\r\n") }, "gave-up:garbage" },
};

ParameterizedTestParameters(httptrack, table)
{
	static int index[sizeof(cases) / sizeof(cases[0])];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		index[i] = (int)i;
	return cr_make_param_array(int, index,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * Whole, byte by byte, and in pieces that cut lines, numbers and line
 * ends at every place: always the same events.
 */
ParameterizedTest(int *i, httptrack, table)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 13 };
	const struct ht_case *c = &cases[*i];
	struct swerve_httptrack t;
	char got[HT_TEXT];
	size_t k;

	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		ht_run(c->steps, chunks[k], &t, got, sizeof(got));
		cr_assert_str_eq(got, c->expect, "%s, pieces of %zu: got '%s'",
				 c->name, chunks[k], got);
	}
}
