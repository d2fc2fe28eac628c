/*  stats.c - the metadata repository's metrics (lib/metrics.h).

    Counters are bumped where rounds are applied (lead.c); the gauges of
    the raft engine (term, role, indexes) and of the cluster (topics, log
    streams, storage nodes) are set on the actor's heartbeat timer, so the
    HTTP thread never touches the engine or the state.
*/
#include "server_i.h"
#include "state.h"

void vl_mr_stats_init(self_t *self)
{
    vl_metrics_t *m = vl_metrics_default();
    self->m_rounds = vl_metrics_counter(m, "varlog_mr_commit_rounds_total",
                                        "commit rounds applied (replicated and durable)", NULL);
    self->m_entries = vl_metrics_counter(m, "varlog_mr_committed_entries_total",
                                         "entries the applied rounds committed", NULL);
    self->m_proposal = vl_metrics_histogram(
        m, "varlog_mr_commit_proposal_seconds",
        "from a proposal of commit rounds to its application (raft and the store)", NULL);
    self->m_term = vl_metrics_gauge(m, "varlog_raft_term", "this replica's raft term", NULL);
    self->m_leader = vl_metrics_gauge(m, "varlog_raft_leader",
                                      "1 when this replica leads the group, else 0", NULL);
    self->m_role = vl_metrics_gauge(m, "varlog_raft_role",
                                    "0 unavailable, 1 follower, 2 candidate, 3 leader, 4 diverged (stopped)", NULL);
    self->m_commit_index = vl_metrics_gauge(m, "varlog_raft_commit_index",
                                            "the last raft log index known committed", NULL);
    self->m_applied_index = vl_metrics_gauge(m, "varlog_raft_applied_index",
                                             "the last raft log index applied here", NULL);
    self->m_last_index = vl_metrics_gauge(m, "varlog_raft_last_index",
                                          "the last raft log index written here", NULL);
}

void vl_mr_stats_round(self_t *self, const vl_commit_t *round)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < round->n; i++)
        n += round->items[i].count;
    vl_metric_inc(self->m_rounds);
    vl_metric_add(self->m_entries, n);
}

void vl_mr_stats_heartbeat(self_t *self)
{
    if (!self->raft)
        return;
    vl_metric_set(self->m_term, (int64_t)vl_mrraft_term(self->raft));
    int role = vl_mrraft_role(self->raft);
    vl_metric_set(self->m_leader, role == VL_MRRAFT_LEADER);
    vl_metric_set(self->m_role, role);
    vl_metric_set(self->m_commit_index, (int64_t)vl_mrraft_commit_index(self->raft));
    vl_metric_set(self->m_applied_index, (int64_t)vl_mrraft_applied_index(self->raft));
    vl_metric_set(self->m_last_index, (int64_t)vl_mrraft_last_index(self->raft));
}
