/*  mrconn.h - which metadata repository replica to talk to (private).

    The metadata repository (MR) is a raft group of one or more replicas,
    and only the leader serves: a follower answers every request with
    VL_ENOTLEADER and the leader's client endpoint when it knows it
    (vl_notleader_t). Every MR user (the client library, varlogctl,
    varlogfs, varlogadm, varlogsn) is given the replicas' endpoints as one
    comma-separated list (--mr, VARLOG_MR) and talks to ONE of them at a
    time, the current endpoint, on one DEALER:
    - a VL_ENOTLEADER with a hint: vl_mrconn_hint switches to the leader,
      also when the list does not name it (a replica added since);
    - a VL_ENOTLEADER without a hint, or VL_MRCONN_SILENT_MS of silence
      while an answer is due: vl_mrconn_next rotates through the list;
    - the connection to the current endpoint dropped (the replica's
      process died: its kernel closed the connection; a user that watches
      its socket sees it at once): vl_mrconn_gone notes it and the user
      rotates without waiting for silence. For VL_MRCONN_GONE_MS
      (about an election) a hint naming that endpoint counts as no hint
      (the other replicas name the dead leader until they elect a new
      one) and the rotation passes it by.
    With one endpoint nothing ever rotates: the user waits for it as it
    did before there were replicas.

    The module keeps only that state; the socket is the caller's, which
    reconnects when vl_mrconn_generation changes. Not thread-safe: one
    owner (the client's lock, an actor's thread).
*/
#ifndef VL_MRCONN_H
#define VL_MRCONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*  Endpoints one list may hold (an MR group has at most a few replicas). */
#define VL_MRCONN_MAX 16
/*  Silence from the current endpoint, while an answer is due, after which
    a user moves on to the next one. */
#define VL_MRCONN_SILENT_MS 1000
/*  A user that finds no leader anywhere (an election is under way) waits
    this long before it asks the same replicas again. */
#define VL_MRCONN_PAUSE_MS 100
/*  How long an endpoint whose connection dropped is not gone back to
    (a hint naming it is no hint, vl_mrconn_next passes it by): the
    election timeout of the MR group (varlogmr --election-ms, 500 ms by
    default) and a margin. */
#define VL_MRCONN_GONE_MS 1000

typedef struct vl_mrconn vl_mrconn_t;

/*  Parses endpoints: comma separated, blanks around each ignored,
    duplicates dropped, at most VL_MRCONN_MAX; each must be tcp://HOST:PORT,
    ipc://PATH or inproc://NAME. The current endpoint is the first. Returns
    0 with *self_p (caller owns it), or VL_EINVAL with errbuf naming the
    endpoint that is wrong and what to give instead. */
int vl_mrconn_new(const char *endpoints, vl_mrconn_t **self_p, char *errbuf, size_t errbuf_size);

/*  True when ep has the shape of an endpoint (tcp://HOST:PORT, ipc://PATH
    or inproc://NAME). */
bool vl_mrconn_valid(const char *ep);

/*  Adds to the end of the list the endpoints of members[0..n) (META's
    MR member list, vl_meta_t) it does not hold, as long as there is room:
    a user given one replica learns the others, and rotates to them when
    the current one falls silent. The user's own endpoints stay first.
    Endpoints that are not valid are skipped. Returns how many were
    added. */
size_t vl_mrconn_learn(vl_mrconn_t *self, const vl_meta_member_t *members, size_t n);

/*  Frees *self_p (NULL-safe) and sets it NULL. */
void vl_mrconn_destroy(vl_mrconn_t **self_p);

/*  The endpoint to talk to now (borrowed; valid until the next switch). */
const char *vl_mrconn_current(const vl_mrconn_t *self);

/*  The list as parsed, "A,B,C" (borrowed), for messages. */
const char *vl_mrconn_list(const vl_mrconn_t *self);

/*  Number of endpoints in the list. */
size_t vl_mrconn_size(const vl_mrconn_t *self);

/*  Grows by one at every switch of the current endpoint: a socket made at
    another generation must be made again. */
uint64_t vl_mrconn_generation(const vl_mrconn_t *self);

/*  True when vl_mrconn_next would reach another endpoint: the list has
    more than one, or the current one is a hint the list does not name. */
bool vl_mrconn_can_rotate(const vl_mrconn_t *self);

/*  Follows the leader hint of a VL_ENOTLEADER reply: leader becomes the
    current endpoint. Returns true when the current endpoint changed; false
    when leader is empty, is the current endpoint already, is not a valid
    endpoint, or is gone (vl_mrconn_gone; the user then rotates
    instead). */
bool vl_mrconn_hint(vl_mrconn_t *self, const char *leader);

/*  Moves to the list's next endpoint, after the one last taken from the
    list (from a hint outside the list: after the one that gave it),
    passing by those that are gone unless every other one is. Returns
    true when the current endpoint changed (false with a list of one,
    already current). */
bool vl_mrconn_next(vl_mrconn_t *self);

/*  Notes that the connection to ep dropped just now: for
    VL_MRCONN_GONE_MS vl_mrconn_hint and vl_mrconn_next do not go back to
    it. Only the last few endpoints are remembered. */
void vl_mrconn_gone(vl_mrconn_t *self, const char *ep);

/*  True when ep's connection dropped less than VL_MRCONN_GONE_MS ago. */
bool vl_mrconn_is_gone(const vl_mrconn_t *self, const char *ep);

/*  True when every endpoint of the list but the current one is gone (the
    whole group seems down, or a list of one). */
bool vl_mrconn_others_gone(const vl_mrconn_t *self);

/*  True when a request of this type may be sent again to another replica
    after VL_MRCONN_SILENT_MS without an answer: the silent replica may
    have applied it before it failed, and a repeat must then change
    nothing and answer as the first would have (GET_META, STATUS, MR_STATUS, PING,
    SN_STATUS, TRIM, SEAL, UNSEAL). The others (CREATE_TOPIC, DELETE_TOPIC,
    ADD_SN, REMOVE_SN, ADD_LS, UPDATE_LS, and any type not known here) go
    to one replica that answered just before, and wait for its answer
    only. A VL_ENOTLEADER refusal makes any request safe to send again:
    the follower did nothing with it. */
bool vl_mrconn_resendable(uint16_t type);

#endif
