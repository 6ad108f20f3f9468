/*
 * matrix.c: the clients of the matrix, how each is run and what it does
 * when its first address fails late, with the reason measured for it.
 * Constant data; no state.
 */
#include <stddef.h>

#include "clients.h"

#define HTTP_REQ "printf 'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n'"

static const char py_urllib[] =
	"import urllib.request\n"
	"print(urllib.request.urlopen('http://mydb.com/', timeout=5)"
	".read().decode())\n";

static const char py_socket[] =
	"import socket\n"
	"s = socket.create_connection(('mydb.com', 80))\n"
	"s.sendall(b'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n')\n"
	"d = b''\n"
	"while True:\n"
	"    c = s.recv(4096)\n"
	"    if not c:\n"
	"        break\n"
	"    d += c\n"
	"print(d.decode())\n";

static const char py_asyncio[] =
	"import asyncio\n"
	"async def main():\n"
	"    r, w = await asyncio.wait_for("
	"asyncio.open_connection('mydb.com', 80), 10)\n"
	"    w.write(b'GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n')\n"
	"    print((await asyncio.wait_for(r.read(), 10)).decode())\n"
	"asyncio.run(main())\n";

static const char pl_inet[] =
	"use IO::Socket::INET;\n"
	"my $s = IO::Socket::INET->new(PeerAddr => 'mydb.com', "
	"PeerPort => 80, Proto => 'tcp', Timeout => 5)\n"
	"    or die \"connect: $@\\n\";\n"
	"print $s \"GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n\";\n"
	"print while <$s>;\n";

static const char pl_ip[] =
	"use IO::Socket::IP;\n"
	"my $s = IO::Socket::IP->new(PeerHost => 'mydb.com', "
	"PeerPort => 80, Timeout => 5)\n"
	"    or die \"connect: $@\\n\";\n"
	"print $s \"GET / HTTP/1.0\\r\\nHost: mydb.com\\r\\n\\r\\n\";\n"
	"print while <$s>;\n";

static const char rb_nethttp[] =
	"require 'net/http'\n"
	"h = Net::HTTP.new('mydb.com', 80)\n"
	"h.open_timeout = 5\n"
	"h.read_timeout = 5\n"
	"puts h.get('/').body\n";

static const char js_http[] =
	"const http = require('http');\n"
	"const req = http.get('http://mydb.com/', (r) => {\n"
	"  let d = '';\n"
	"  r.on('data', (c) => { d += c; });\n"
	"  r.on('end', () => { process.stdout.write(d);\n"
	"    process.exit(r.statusCode === 200 ? 0 : 1); });\n"
	"});\n"
	"req.setTimeout(10000, () => req.destroy(new Error('timeout')));\n"
	"req.on('error', (e) => { console.error(e.message);"
	" process.exit(1); });\n";

/* Written at run time and compiled once per test with javac. */
const char java_huc[] =
	"import java.io.InputStream;\n"
	"import java.net.HttpURLConnection;\n"
	"import java.net.URL;\n"
	"public class Huc {\n"
	"  public static void main(String[] a) throws Exception {\n"
	"    HttpURLConnection c = (HttpURLConnection)\n"
	"        new URL(\"http://mydb.com/\").openConnection();\n"
	"    c.setConnectTimeout(5000);\n"
	"    c.setReadTimeout(5000);\n"
	"    try (InputStream in = c.getInputStream()) {\n"
	"      System.out.print(new String(in.readAllBytes()));\n"
	"    }\n"
	"  }\n"
	"}\n";

const char java_hc[] =
	"import java.net.URI;\n"
	"import java.net.http.HttpClient;\n"
	"import java.net.http.HttpRequest;\n"
	"import java.net.http.HttpResponse;\n"
	"import java.time.Duration;\n"
	"public class Hc {\n"
	"  public static void main(String[] a) throws Exception {\n"
	"    HttpClient c = HttpClient.newBuilder()\n"
	"        .version(HttpClient.Version.HTTP_1_1)\n"
	"        .connectTimeout(Duration.ofSeconds(5)).build();\n"
	"    HttpResponse<String> r = c.send(HttpRequest.newBuilder(\n"
	"        URI.create(\"http://mydb.com/\"))\n"
	"        .timeout(Duration.ofSeconds(10)).build(),\n"
	"        HttpResponse.BodyHandlers.ofString());\n"
	"    System.out.print(r.body());\n"
	"    System.exit(r.statusCode() == 200 ? 0 : 1);\n"
	"  }\n"
	"}\n";

/*
 * The matrix. Order is the order of the table. The reasons say what was
 * measured of each client when its first address fails.
 */
const struct client clients[] = {
	{ "curl", "curl", K_HTTP, NEXT, 1.0,
	  "non-blocking, tries the next address; 1 s gap after a late "
	  "failure within one family",
	  FAILS_OVER, "reads the status; prints the 503's body and exits 0 "
	  "(no -f)",
	  { "curl", "-sS", "--max-time", "10", "http://mydb.com/" } },
	{ "wget", "wget", K_HTTP, BLOCKING, 0,
	  "blocking connect (SIGALRM + siglongjmp with -T), tries the next "
	  "address",
	  FAILS_OVER, "reads the status line, exits 8 (server error)",
	  { "wget", "-q", "-O", "-", "--tries=1", "-T", "5",
	    "http://mydb.com/" } },
	{ "python-urllib", "python3", K_HTTP, NEXT, 0,
	  "timeout=5 makes it non-blocking, per-address timeout, tries the "
	  "next address",
	  FAILS_OVER, "reads the status line, raises HTTPError 503",
	  { "python3", "-c", py_urllib } },
	{ "python-socket", "python3", K_HTTP, BLOCKING, 0,
	  "socket.create_connection without a timeout: blocking connect",
	  FAILS_OVER, "recv() to the end of the stream, prints the whole "
	  "answer",
	  { "python3", "-c", py_socket } },
	{ "python-asyncio", "python3", K_HTTP, NEXT, 0,
	  "non-blocking (epoll, SO_ERROR), tries the next address, no "
	  "per-address timeout of its own",
	  FAILS_OVER, "reads to the end of the stream, prints the whole "
	  "answer",
	  { "python3", "-c", py_asyncio } },
	{ "perl-inet", "perl", K_HTTP, SINGLE, 0,
	  "IO::Socket::INET with Timeout: non-blocking, completion by a "
	  "second connect(), first address only",
	  FAILS_OVER, "reads to the end of the stream line by line",
	  { "perl", "-e", pl_inet } },
	{ "perl-ip", "perl", K_HTTP, NEXT, 0,
	  "IO::Socket::IP with Timeout: non-blocking, tries the next "
	  "address (dup2 over the old fd)",
	  FAILS_OVER, "reads to the end of the stream line by line",
	  { "perl", "-e", pl_ip } },
	{ "nc", "nc.openbsd", K_HTTP, NEXT, 0,
	  "OpenBSD nc -w: non-blocking, select + SO_ERROR, tries the next "
	  "address",
	  FAILS_OVER, "-N shuts its write side down, reads to the end of the "
	  "stream",
	  { "sh", "-c", HTTP_REQ " | nc.openbsd -N -w 5 mydb.com 80" } },
	{ "socat", "socat", K_HTTP, BLOCKING, 0,
	  "blocking connect by default, one (IPv4) address only",
	  FAILS_OVER, "reads to the end of the stream",
	  { "sh", "-c", HTTP_REQ " | socat -T 5 - TCP:mydb.com:80" } },
	{ "ruby-nethttp", "ruby", K_HTTP, NEXT, 0,
	  "Net::HTTP: non-blocking, completion by a second connect(), "
	  "tries the next address",
	  FAILS_OVER, "Net::HTTP reads the response, prints its body",
	  { "ruby", "-e", rb_nethttp } },
	{ "node-http", "node", K_HTTP, NEXT, 0,
	  "libuv: non-blocking, epoll + SO_ERROR, autoSelectFamily tries "
	  "the next address after 250 ms, closes with syscall(SYS_close)",
	  FAILS_OVER, "reads the response, exits 1 on a status other than 200",
	  { "node", "-e", js_http } },
	{ "java-urlconn", "javac", K_HTTP, SINGLE, 0,
	  "HttpURLConnection with setConnectTimeout: non-blocking, first "
	  "address only",
	  FAILS_OVER, "reads the status line; getInputStream() throws an "
	  "IOException",
	  { "java", "-XX:+UseSerialGC", "-cp", "@D", "Huc" } },
	{ "java-httpclient", "javac", K_HTTP, SINGLE, 0,
	  "HttpClient: non-blocking, SO_ERROR read in its selector thread, "
	  "retries the same address once, never the next",
	  FAILS_OVER, "reads the response, exits 1 on a status other than 200",
	  { "java", "-XX:+UseSerialGC", "-cp", "@D", "Hc" } },
	{ "psql", "psql", K_PG, NEXT, 0,
	  "libpq: non-blocking, connect_timeout per address, tries the next "
	  "address",
	  NOT_HTTP, "not HTTP: the PostgreSQL protocol",
	  { "psql", "-X", "-Atc", "select inet_server_addr()",
	    "host=mydb.com port=5432 user=postgres dbname=postgres "
	    "connect_timeout=5 sslmode=disable" } },
	{ "redis-cli", "redis-cli", K_REDIS, SINGLE, 0,
	  "hiredis: non-blocking, second connect(), AF_INET first address "
	  "only (redis-cli repeats the whole lookup once)",
	  NOT_HTTP, "not HTTP: RESP",
	  { "redis-cli", "-h", "mydb.com", "-p", "6379", "config", "get",
	    "bind" } },
	{ "ssh", "ssh", K_SSH, NEXT, 0,
	  "ConnectTimeout makes it non-blocking, per address, tries the "
	  "next address",
	  NOT_HTTP, "not HTTP: SSH",
	  { "ssh", "-F", "/dev/null", "-i", "@D/client_key",
	    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
	    "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
	    "-o", "LogLevel=ERROR", "root@mydb.com",
	    "set -- $SSH_CONNECTION; echo $3" } },
	{ "git-http", "git", K_GIT, NEXT, 1.0,
	  "git ls-remote over HTTP is libcurl in git-remote-http: as curl",
	  FAILS_OVER, "libcurl reads the status of info/refs; git gives up "
	  "(fatal: ... error: 503)",
	  { "git", "ls-remote", "http://mydb.com/repo.git" } },
};

const size_t nclients = sizeof(clients) / sizeof(clients[0]);
