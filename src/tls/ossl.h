/*
 * ossl: the system's OpenSSL 3, loaded privately and only when a process
 * first needs it (docs/design.md 2.6 and 2.9). The library is not linked
 * against libssl or libcrypto: swerve_ossl_load() dlopen()s libssl.so.3
 * with RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND, so that
 *   - the distribution's security updates of OpenSSL reach swerve;
 *   - a process that never dials a TLS service pays nothing, not even the
 *     load (a few milliseconds, docs/design.md 2.9);
 *   - a host program's own OpenSSL symbols (node exports its bundled
 *     copy's) neither capture swerve's calls nor OpenSSL's calls inside
 *     itself, and swerve's copy stays invisible to the program.
 * Where the host already loaded libssl.so.3 (curl, python's ssl), dlopen
 * returns that very copy: the two share OpenSSL's global state, which is
 * harmless, and its socket BIO would reach swerve's own hooks, which is
 * why client.c brings a BIO of its own.
 *
 * OpenSSL's headers are included for types and constants only. Every
 * function is reached through the table below; the headers' function-like
 * macros (SSL_set_tlsext_host_name, SSL_CTX_set_mode, BIO_set_retry_read,
 * ...) are spelled out by the caller over the functions they expand to
 * (SSL_ctrl, SSL_CTX_ctrl, BIO_set_flags, ...), since expanded here they
 * would name functions the library does not link.
 *
 * Thread-safety: swerve_ossl_load() loads once per process (pthread_once)
 * and may be called from any thread; a forked child keeps its parent's
 * load. The table never changes after a successful load.
 */
#ifndef SWERVE_TLS_OSSL_H
#define SWERVE_TLS_OSSL_H

#include <stddef.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* The shared library loaded, by its soname; libcrypto comes with it. */
#define SWERVE_OSSL_SONAME "libssl.so.3"

/*
 * X(name): every OpenSSL function swerve calls. dlsym() on libssl's handle
 * finds libcrypto's functions too (it searches the handle's dependencies).
 */
#define SWERVE_OSSL_FUNCTIONS(X)                                             \
	X(OPENSSL_init_ssl)                                                  \
	X(OpenSSL_version_num)                                               \
	X(TLS_client_method)                                                 \
	X(SSL_CTX_new)                                                       \
	X(SSL_CTX_free)                                                      \
	X(SSL_CTX_ctrl)                                                      \
	X(SSL_CTX_set_options)                                               \
	X(SSL_CTX_set_verify)                                                \
	X(SSL_CTX_set_default_passwd_cb)                                     \
	X(SSL_CTX_load_verify_locations)                                     \
	X(SSL_CTX_set_default_verify_paths)                                  \
	X(SSL_CTX_load_verify_dir)                                           \
	X(X509_get_default_cert_dir)                                         \
	X(X509_get_default_cert_file)                                        \
	X(X509_get_default_cert_dir_env)                                     \
	X(X509_get_default_cert_file_env)                                    \
	X(SSL_CTX_use_certificate_chain_file)                                \
	X(SSL_CTX_use_PrivateKey_file)                                       \
	X(SSL_CTX_check_private_key)                                         \
	X(SSL_CTX_sess_set_new_cb)                                           \
	X(SSL_CTX_set_cert_verify_callback)                                  \
	X(SSL_new)                                                           \
	X(SSL_free)                                                          \
	X(SSL_ctrl)                                                          \
	X(SSL_set_bio)                                                       \
	X(SSL_set_connect_state)                                             \
	X(SSL_set_ex_data)                                                   \
	X(SSL_get_ex_data)                                                   \
	X(SSL_set1_host)                                                     \
	X(SSL_add1_host)                                                     \
	X(SSL_set_hostflags)                                                 \
	X(SSL_get0_param)                                                    \
	X(SSL_set_session)                                                   \
	X(SSL_do_handshake)                                                  \
	X(SSL_read_ex)                                                       \
	X(SSL_write_ex)                                                      \
	X(SSL_get_error)                                                     \
	X(SSL_pending)                                                       \
	X(SSL_free_buffers)                                                  \
	X(SSL_shutdown)                                                      \
	X(SSL_session_reused)                                                \
	X(SSL_get_verify_result)                                             \
	X(SSL_SESSION_free)                                                  \
	X(SSL_SESSION_is_resumable)                                          \
	X(SSL_SESSION_get_time)                                              \
	X(SSL_SESSION_get_timeout)                                           \
	X(SSL_SESSION_get_ticket_lifetime_hint)                              \
	X(i2d_SSL_SESSION)                                                   \
	X(d2i_SSL_SESSION)                                                   \
	X(X509_verify_cert)                                                  \
	X(X509_STORE_CTX_set_error)                                          \
	X(X509_VERIFY_PARAM_set1_ip_asc)                                     \
	X(X509_verify_cert_error_string)                                     \
	X(ERR_get_error)                                                     \
	X(ERR_clear_error)                                                   \
	X(ERR_error_string_n)                                                \
	X(ERR_reason_error_string)                                           \
	X(BIO_get_new_index)                                                 \
	X(BIO_meth_new)                                                      \
	X(BIO_meth_set_write)                                                \
	X(BIO_meth_set_read)                                                 \
	X(BIO_meth_set_ctrl)                                                 \
	X(BIO_meth_set_create)                                               \
	X(BIO_meth_set_destroy)                                              \
	X(BIO_new)                                                           \
	X(BIO_free)                                                          \
	X(BIO_set_data)                                                      \
	X(BIO_get_data)                                                      \
	X(BIO_set_init)                                                      \
	X(BIO_set_flags)                                                     \
	X(BIO_clear_flags)

/* One pointer per function, with the function's own type and name. */
struct swerve_ossl {
#define SWERVE_OSSL_FIELD(name) __typeof__(name) *name;
	SWERVE_OSSL_FUNCTIONS(SWERVE_OSSL_FIELD)
#undef SWERVE_OSSL_FIELD
};

/*
 * Loads libssl.so.3 and finds every function of the list, once per
 * process; later calls return the first call's answer at the cost of a
 * pthread_once check. Returns 0, -ENOENT (no libssl.so.3: install
 * libssl3) or -ENOSYS (it lacks a function, or OpenSSL failed to
 * initialise), with the reason in <err> (may be NULL). OpenSSL is
 * initialised without an atexit handler, so that a host's exit() never
 * tears it down under a thread that is still using it.
 */
int swerve_ossl_load(char *err, size_t errlen);

/*
 * The table; only after swerve_ossl_load() returned 0 (NULL before).
 */
const struct swerve_ossl *swerve_ossl(void);

/*
 * Writes into <err> the most useful line of this thread's OpenSSL error
 * queue (the first error queued: the cause, not its consequences), or
 * <fallback> when the queue is empty, and clears the queue. Returns the
 * errno of a system error (a file that cannot be opened), else 0. The
 * first call loads OpenSSL's error strings. Needs a successful load.
 */
int swerve_ossl_error(char *err, size_t errlen, const char *fallback);

#endif
