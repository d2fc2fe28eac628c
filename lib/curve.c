/*  curve.c - CurveZMQ settings of the process and its ZAP handler
    (curve.h).

    The settings are written once, before any socket exists, and only read
    afterwards, so sockets of any thread apply them without a lock. The
    ZAP handler is a CZMQ actor with a REP socket bound to
    inproc://zeromq.zap.01 in CZMQ's context, where libzmq sends the
    authentication request of every connection to a CURVE server socket;
    it must be bound before the first such socket binds, or libzmq lets
    every client in.
*/
#include "curve.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "util.h"
#include "varlog_err.h"

#define S_REFUSED_LOG_US (60ll * 1000000) /* a refused key is logged this seldom */

static struct {
    bool on;
    zcert_t *client;        /* this process's key pair */
    char server_public[41]; /* the cluster's public server key (Z85) */
    zcert_t *server;        /* daemons: the secret server key pair */
    char *key_path, *server_path;
    char *allow;
    zactor_t *zap;
} s;

static volatile sig_atomic_t s_reload; /* SIGHUP */

static void s_on_hup(int sig)
{
    (void)sig;
    s_reload = 1;
}

/*  ---- ZAP handler ----------------------------------------------------------- */

typedef struct {
    zcertstore_t *store;
    zhashx_t *refused; /* key -> last log time (int64_t us, boxed) */
} s_zap_t;

static void s_zap_reply(zsock_t *rep, zmsg_t *req, const char *code, const char *text)
{
    zframe_t *version = zmsg_pop(req), *id = zmsg_pop(req);
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_append(reply, &id);
    zmsg_addstr(reply, code);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, ""); /* user id */
    zmsg_addmem(reply, NULL, 0); /* metadata */
    zframe_destroy(&version);
    zmsg_send(&reply, rep);
}

/*  Logs a refused key at most once per S_REFUSED_LOG_US. */
static void s_zap_refused(s_zap_t *z, const char *key, const char *address)
{
    int64_t now = vl_now_us();
    int64_t *last = zhashx_lookup(z->refused, key);
    if (last && now - *last < S_REFUSED_LOG_US)
        return;
    if (!last) {
        if (zhashx_size(z->refused) > 10000)
            zhashx_purge(z->refused); /* bounded: a flood of keys costs logs, not memory */
        last = vl_malloc(sizeof *last);
        zhashx_insert(z->refused, key, last);
    }
    *last = now;
    vl_log(LOG_WARNING,
           "refused a connection from %s: its key %s is not allowed (add its public "
           "certificate to %s; the directory is read again when it changes or on SIGHUP)",
           address, key, s.allow);
}

/*  After SIGHUP: the directory read again (it is also whenever it
    changes, at the next lookup). */
static void s_zap_reload(s_zap_t *z)
{
    if (!s_reload)
        return;
    s_reload = 0;
    zcertstore_destroy(&z->store);
    z->store = zcertstore_new(s.allow);
    vl_log(LOG_NOTICE, "SIGHUP: the allow-list %s is read again", s.allow);
}

static void s_zap_handle(s_zap_t *z, zsock_t *rep)
{
    zmsg_t *req = zmsg_recv(rep);
    if (!req)
        return;
    if (zmsg_size(req) < 6) {
        zmsg_destroy(&req);
        return;
    }
    s_zap_reload(z);
    /* version, request id, domain, address, routing id, mechanism, key */
    zmsg_first(req);
    zmsg_next(req);
    zmsg_next(req);
    zframe_t *address = zmsg_next(req);
    zmsg_next(req);
    zframe_t *mechanism = zmsg_next(req);
    zframe_t *cred = zmsg_next(req);
    char addr[64] = "?";
    if (address && zframe_size(address) < sizeof addr) {
        memcpy(addr, zframe_data(address), zframe_size(address));
        addr[zframe_size(address)] = '\0';
    }
    if (!mechanism || !zframe_streq(mechanism, "CURVE") || !cred || zframe_size(cred) != 32) {
        s_zap_reply(rep, req, "400", "CURVE required");
        zmsg_destroy(&req);
        return;
    }
    char key[41];
    zmq_z85_encode(key, zframe_data(cred), 32);
    if (zcertstore_lookup(z->store, key))
        s_zap_reply(rep, req, "200", "OK");
    else {
        s_zap_refused(z, key, addr);
        s_zap_reply(rep, req, "400", "key not allowed");
    }
    zmsg_destroy(&req);
}

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

static void s_zap_actor(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *rep = zsock_new(ZMQ_REP);
    if (!rep || zsock_bind(rep, "inproc://zeromq.zap.01") != 0) {
        vl_log(LOG_ERR, "cannot start the ZAP handler (another in this process?)");
        zsock_destroy(&rep);
        zsock_signal(pipe, 1);
        return;
    }
    s_zap_t z = {.store = zcertstore_new(s.allow), .refused = zhashx_new()};
    zhashx_set_destructor(z.refused, s_free_item);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, rep, NULL);
    for (;;) {
        void *which = zpoller_wait(poller, 1000);
        s_zap_reload(&z);
        if (which == rep) {
            s_zap_handle(&z, rep);
            continue;
        }
        if (which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            zstr_free(&cmd);
            if (term)
                break;
            continue;
        }
        if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
    zhashx_destroy(&z.refused);
    zcertstore_destroy(&z.store);
    zsock_destroy(&rep);
}

/*  ---- settings ------------------------------------------------------------- */

static zcert_t *s_load(const char *path, bool secret, const char *what, char *errbuf,
                       size_t errbuf_size)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(errbuf, errbuf_size, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        snprintf(errbuf, errbuf_size,
                 "%s %s is not a certificate (make key pairs with 'varlogctl keygen')", what, path);
        return NULL;
    }
    static const uint8_t zero[32];
    if (secret && memcmp(zcert_secret_key(cert), zero, 32) == 0) {
        snprintf(errbuf, errbuf_size,
                 "%s %s holds no secret key: give the NAME.key_secret file varlogctl keygen made",
                 what, path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

static bool s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int vl_curve_setup(const vl_curve_opts_t *o, bool serve, char *errbuf, size_t errbuf_size)
{
    bool any = (o->key && *o->key) || (o->server_key && *o->server_key) ||
               (serve && o->allow && *o->allow);
    if (!any)
        return 0;
    if (s.on) {
        if (s_same(s.key_path, o->key) && s_same(s.server_path, o->server_key))
            return 0;
        snprintf(errbuf, errbuf_size,
                 "CURVE keys are set already for this process (%s, %s); one process has one "
                 "identity", s.key_path, s.server_path);
        return VL_EINVAL;
    }
    if (!o->key || !*o->key || !o->server_key || !*o->server_key ||
        (serve && (!o->allow || !*o->allow))) {
        snprintf(errbuf, errbuf_size,
                 "CURVE needs %s: give %s", serve ? "--key, --server-key and --allow" : "both keys",
                 serve ? "all three (or none, to run without CURVE)"
                       : "--key and --server-key (or VARLOG_KEY and VARLOG_SERVER_KEY)");
        return VL_EINVAL;
    }
    zcert_t *client = s_load(o->key, true, "key", errbuf, errbuf_size);
    if (!client)
        return VL_EINVAL;
    zcert_t *server = s_load(o->server_key, serve, "server key", errbuf, errbuf_size);
    if (!server) {
        zcert_destroy(&client);
        return VL_EINVAL;
    }
    if (serve) {
        struct stat st;
        if (stat(o->allow, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errbuf_size, "--allow %s is not a directory of public certificates",
                     o->allow);
            zcert_destroy(&client);
            zcert_destroy(&server);
            return VL_EINVAL;
        }
    }
    s.client = client;
    snprintf(s.server_public, sizeof s.server_public, "%s", zcert_public_txt(server));
    s.key_path = vl_strdup(o->key);
    s.server_path = vl_strdup(o->server_key);
    if (serve) {
        s.server = server;
        s.allow = vl_strdup(o->allow); /* SIGHUP's handler: vl_curve_daemon */
        s.zap = zactor_new(s_zap_actor, NULL);
    } else {
        zcert_destroy(&server);
    }
    s.on = true;
    return 0;
}

int vl_curve_setup_env(char *errbuf, size_t errbuf_size)
{
    if (s.on)
        return 0; /* a program's own --key and --server-key came first */
    vl_curve_opts_t o = {.key = getenv("VARLOG_KEY"), .server_key = getenv("VARLOG_SERVER_KEY")};
    return vl_curve_setup(&o, false, errbuf, errbuf_size);
}

bool vl_curve_on(void)
{
    return s.on;
}

void vl_curve_client(zsock_t *sock)
{
    if (!s.on)
        return;
    zcert_apply(s.client, sock);
    zsock_set_curve_serverkey(sock, s.server_public);
}

void vl_curve_server(zsock_t *sock)
{
    if (!s.on || !s.server)
        return;
    zcert_apply(s.server, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, "varlog");
}

const char *vl_curve_hint(void)
{
    return s.on ? "; or this client's key is not in the cluster's allow-list"
                : "; or the cluster requires CURVE keys: set VARLOG_KEY and VARLOG_SERVER_KEY";
}

void vl_curve_shutdown(void)
{
    zactor_destroy(&s.zap);
}

int vl_curve_keygen(const char *dir, const char *name, char *errbuf, size_t errbuf_size)
{
    char pub[4096], sec[4096];
    snprintf(pub, sizeof pub, "%s/%s.key", dir, name);
    snprintf(sec, sizeof sec, "%s/%s.key_secret", dir, name);
    struct stat st;
    if (stat(pub, &st) == 0 || stat(sec, &st) == 0) {
        snprintf(errbuf, errbuf_size, "%s or its secret file exists already; not overwritten", pub);
        return VL_EEXIST;
    }
    zcert_t *cert = zcert_new();
    zcert_set_meta(cert, "name", "%s", name);
    int rc = zcert_save(cert, pub);
    zcert_destroy(&cert);
    if (rc != 0 || chmod(sec, 0600) != 0) {
        snprintf(errbuf, errbuf_size, "cannot write %s and %s: %s", pub, sec, strerror(errno));
        return VL_EIO;
    }
    return 0;
}

int vl_curve_daemon(const vl_curve_opts_t *o, const char *listen, char *errbuf,
                    size_t errbuf_size)
{
    int rc = vl_curve_setup(o, true, errbuf, errbuf_size);
    if (rc != 0)
        return rc;
    /* systemd's reload sends SIGHUP: harmless without CURVE too */
    struct sigaction sa = {.sa_handler = s_on_hup};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    if (s.on)
        vl_log(LOG_INFO, "CURVE on: server key %s, own key %s, allow-list %s", o->server_key,
               o->key, o->allow);
    else
        vl_log(LOG_NOTICE,
               "no CURVE keys (--key, --server-key, --allow): traffic is not encrypted and "
               "anyone who reaches %s is served; listen on a private address only",
               listen);
    return 0;
}
