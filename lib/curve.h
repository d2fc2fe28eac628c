/*  curve.h - CurveZMQ on every socket: encryption and authentication with
    the cluster's keys (CZMQ zcert certificates made by varlogctl keygen).

    A cluster has one server key pair: every daemon's listening socket
    (ROUTER) serves with it, so a client needs only the cluster's public
    server key to talk to any daemon. Every process that connects (clients,
    and daemons talking to each other) has a key pair of its own, and a
    daemon accepts a connection only from a key whose public certificate is
    in its allow-list directory. The settings are the process's (ZeroMQ's
    security is per socket, but one process speaks for one identity):
    set once at start, before any socket is made.

    Daemons: --key FILE (their own secret certificate), --server-key FILE
    (the cluster's secret server certificate) and --allow DIR. Clients:
    VARLOG_KEY (their secret certificate) and VARLOG_SERVER_KEY (the
    cluster's public server certificate), or --key and --server-key. With
    none of them set a process speaks plain ZeroMQ, as before.

    The allow-list is read by a ZAP handler (RFC 27) of this module: a
    thread that answers the ZeroMQ library's authentication requests; it
    reloads the directory when it changes, or on SIGHUP, and logs a refused
    key (at most once a minute per key).
*/
#ifndef VL_CURVE_H
#define VL_CURVE_H
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *key;        /* this process's secret certificate (NULL: none) */
    const char *server_key; /* the cluster's certificate: public for clients,
                               secret for a daemon that serves */
    const char *allow;      /* daemons: directory of allowed public certificates */
} vl_curve_opts_t;

/*  The options of a daemon that serves (opt.h's table; o a
    vl_curve_opts_t *). */
#define VL_CURVE_OPT_DEFS(o)                                                                       \
    VL_OPT_STRING_DEF("key", "FILE",                                                               \
                      "this daemon's secret certificate, its identity when it\n"                   \
                      "connects to others (CURVE; see varlogctl keygen)",                          \
                      &(o)->key),                                                                  \
        VL_OPT_STRING_DEF("server-key", "FILE",                                                    \
                          "the cluster's secret server certificate (CURVE)", &(o)->server_key),    \
        VL_OPT_STRING_DEF("allow", "DIR",                                                          \
                          "directory of the public certificates allowed to\n"                      \
                          "connect (CURVE; read again when it changes or on SIGHUP)",              \
                          &(o)->allow)

/*  What a daemon does at start with its vl_curve_opts_t: CURVE on (and its
    ZAP handler started) or a notice that it runs without; 0, or non-zero
    with errbuf (the daemon exits 2). */
int vl_curve_daemon(const vl_curve_opts_t *o, const char *listen, char *errbuf,
                    size_t errbuf_size);

/*  Turns CURVE on for the process from o (serve: this process binds
    sockets others connect to, so it needs the secret server key and the
    allow-list, and starts the ZAP handler). Nothing set in o: CURVE stays
    off and 0 is returned. Some but not all: VL_EINVAL with what is
    missing. A file that cannot be read or is no certificate: VL_EINVAL.
    Called again (a library client opened twice) it keeps the first
    settings and returns 0 if they name the same files. */
int vl_curve_setup(const vl_curve_opts_t *o, bool serve, char *errbuf, size_t errbuf_size);

/*  The client settings from VARLOG_KEY and VARLOG_SERVER_KEY (0 when
    neither is set), as vl_curve_setup. */
int vl_curve_setup_env(char *errbuf, size_t errbuf_size);

/*  True once CURVE is on. */
bool vl_curve_on(void);

/*  Applies the client settings to a socket about to connect, or the
    server settings to one about to bind; nothing when CURVE is off. */
void vl_curve_client(zsock_t *sock);
void vl_curve_server(zsock_t *sock);

/*  A hint for timeout messages: "" when CURVE is off on this side and ...;
    the text names the keys a handshake needs. */
const char *vl_curve_hint(void);

/*  Stops the ZAP handler (daemons, at exit). */
void vl_curve_shutdown(void);

/*  varlogctl keygen: makes a key pair DIR/NAME.key (public) and
    DIR/NAME.key_secret (0600). 0 or VL_EIO/VL_EEXIST with errbuf. */
int vl_curve_keygen(const char *dir, const char *name, char *errbuf, size_t errbuf_size);

#endif
