/*  stats.c - the storage node's metrics (lib/metrics.h).

    Each replica gets its series when it is made (labelled with its log
    stream and topic ids); the data path bumps them through the replica's
    pointers (relaxed atomics, no lock). Gauges that describe the actor's
    state (subscribers, replication lag, disk) are set once a second on the
    actor's thread, so the HTTP thread that serves a scrape never reads
    the actor's structures; the free space read then is also what the disk
    fault check (replica.c) goes by.
*/
#include <inttypes.h>
#include <sys/statvfs.h>
#include "sn_i.h"

void vl_sn_stats_init(self_t *self)
{
    vl_metrics_t *m = vl_metrics_default();
    self->m_subs = vl_metrics_gauge(m, "varlog_sn_subscribers", "open subscriptions", NULL);
    self->m_seals = vl_metrics_counter(m, "varlog_sn_seals_total",
                                       "log stream replicas sealed on this node", NULL);
    self->m_disk_free = vl_metrics_gauge(m, "varlog_sn_disk_free_bytes",
                                         "free space of the data directory's file system "
                                         "(for unprivileged users)", NULL);
    self->m_disk_size = vl_metrics_gauge(m, "varlog_sn_disk_size_bytes",
                                         "size of the data directory's file system", NULL);
    self->m_segments = vl_metrics_gauge(m, "varlog_sn_vlog_segments",
                                        "segments of the entry log", NULL);
    self->m_replicas = vl_metrics_gauge(m, "varlog_sn_replicas",
                                        "log stream replicas on this node", NULL);
}

void vl_sn_stats_replica(self_t *self, s_replica_t *rep)
{
    vl_metrics_t *m = vl_metrics_default();
    char l[64];
    snprintf(l, sizeof l, "topic=\"%u\",ls=\"%u\"", rep->topic_id, rep->ls_id);
    rep->m_entries = vl_metrics_counter(m, "varlog_sn_append_entries_total",
                                        "entries appended here as primary and committed", l);
    rep->m_bytes = vl_metrics_counter(m, "varlog_sn_append_bytes_total",
                                      "bytes of entries accepted for append here as primary", l);
    rep->m_latency = vl_metrics_histogram(
        m, "varlog_sn_append_seconds",
        "from an APPEND's arrival to its answer (written on every replica and committed)", l);
    rep->m_replicated = vl_metrics_counter(m, "varlog_sn_replicated_entries_total",
                                           "entries received here as a backup", l);
    rep->m_lag = vl_metrics_gauge(m, "varlog_sn_replication_lag_entries",
                                  "on the primary: entries durable here that the slowest "
                                  "backup has not acknowledged",
                                  l);
}

void vl_sn_stats_second(self_t *self)
{
    vl_metric_set(self->m_subs, (int64_t)zhashx_size(self->subs));
    vl_metric_set(self->m_replicas, (int64_t)zhashx_size(self->replicas));
    vl_metric_set(self->m_segments, (int64_t)vl_store_segments(self->store));
    struct statvfs st;
    self->disk_free = UINT64_MAX; /* unknown: no fault of space is declared */
    if (statvfs(self->args->data_dir, &st) == 0) {
        self->disk_free = (uint64_t)st.f_bavail * st.f_frsize;
        vl_metric_set(self->m_disk_free, (int64_t)self->disk_free);
        vl_metric_set(self->m_disk_size, (int64_t)((uint64_t)st.f_blocks * st.f_frsize));
    }
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        uint64_t lag = 0;
        if (rep->primary)
            for (uint32_t i = 0; i < rep->nbackups; i++) {
                uint64_t acked = rep->backups[i].acked;
                if (rep->d.llsn_end > acked && rep->d.llsn_end - acked > lag)
                    lag = rep->d.llsn_end - acked;
            }
        vl_metric_set(rep->m_lag, (int64_t)lag);
    }
}
