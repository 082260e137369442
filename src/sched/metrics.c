/* What the scheduler tells its operator: /metrics in Prometheus's text
 * format (requests and latency by route, nodes, jobs, failovers, tokens,
 * budget) and one access-log line per response. */
#include "metrics.h"

#include <stdio.h>

#include "api.h"
#include "dispatch.h"
#include "verify.h"
#include "weft/log.h"
#include "weft/time.h"
#include "weft/version.h"

static const int status_codes[SCHED_N_STATUS] = {200, 202, 204, 400, 401, 403, 404, 405, 408,
                                                 409, 413, 429, 431, 500, 503, 504, 505, 0};
static const double latency_le[SCHED_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   1,     5,    30};

/* "200"..., or "other" for a status the table does not list. */
static const char *status_label(int i)
{
    static const char *const labels[SCHED_N_STATUS] = {"200", "202", "204", "400", "401", "403",
                                                       "404", "405", "408", "409", "413", "429",
                                                       "431", "500", "503", "504", "505", "other"};
    return labels[i];
}

void sched_metrics_on_done(const struct weft_http_req *req, int status, void *ud)
{
    struct sched *s = ud;
    enum sched_route r =
        req->method[0] ? sched_route_match(req->method, req->path, NULL, 0, NULL) : SCHED_R_other;
    int si = SCHED_N_STATUS - 1;
    for (int i = 0; i < SCHED_N_STATUS - 1; i++)
        if (status_codes[i] == status)
            si = i;
    s->m.requests[r][si]++;
    double secs = (double)weft_elapsed_ms(req->start_ms, weft_mono_ms()) / 1000.0;
    for (int i = 0; i < SCHED_N_BUCKETS; i++)
        if (secs <= latency_le[i])
            s->m.latency_bucket[r][i]++;
    s->m.latency_sum[r] += secs;
    s->m.latency_count[r]++;
    int level =
        (sched_route_flags(r) & SCHED_RF_QUIET) && status < 400 ? WEFT_LOG_DEBUG : WEFT_LOG_INFO;
    weft_log(s->log, level, "access %s \"%s %s\" %d %zu %.1fms", req->peer, req->method,
             req->target ? req->target : "", status, req->bytes_out, secs * 1000);
}

void sched_h_metrics(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    struct weft_buf b;
    weft_buf_init(&b, 1u << 20);
    weft_buf_append_str(&b, "# HELP weft_http_requests_total HTTP requests by route and status.\n"
                            "# TYPE weft_http_requests_total counter\n");
    for (int r = 0; r < SCHED_N_ROUTES; r++)
        for (int i = 0; i < SCHED_N_STATUS; i++)
            if (s->m.requests[r][i])
                weft_buf_appendf(&b, "weft_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                 sched_route_name((enum sched_route)r), status_label(i),
                                 (unsigned long long)s->m.requests[r][i]);
    weft_buf_append_str(&b,
                        "# HELP weft_http_request_duration_seconds Time from the first byte of a "
                        "request to the end of its response.\n"
                        "# TYPE weft_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SCHED_N_ROUTES; r++) {
        if (!s->m.latency_count[r])
            continue;
        for (int i = 0; i < SCHED_N_BUCKETS; i++)
            weft_buf_appendf(&b,
                             "weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                             "%llu\n",
                             sched_route_name((enum sched_route)r), latency_le[i],
                             (unsigned long long)s->m.latency_bucket[r][i]);
        weft_buf_appendf(
            &b,
            "weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
            "%llu\n"
            "weft_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
            "weft_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
            sched_route_name((enum sched_route)r), (unsigned long long)s->m.latency_count[r],
            sched_route_name((enum sched_route)r), s->m.latency_sum[r],
            sched_route_name((enum sched_route)r), (unsigned long long)s->m.latency_count[r]);
    }
    int live = 0, gone = 0;
    double budget = 0;
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        if (n->live) {
            live++;
            budget += n->budget_w;
        } else {
            gone++;
        }
    }
    weft_buf_appendf(&b,
                     "# HELP weft_nodes Nodes known to the scheduler by state.\n"
                     "# TYPE weft_nodes gauge\n"
                     "weft_nodes{state=\"live\"} %d\nweft_nodes{state=\"gone\"} %d\n"
                     "# HELP weft_jobs Jobs in memory by state.\n"
                     "# TYPE weft_jobs gauge\n"
                     "weft_jobs{state=\"queued\"} %d\nweft_jobs{state=\"running\"} %d\n",
                     live, gone, s->n_queued, s->n_running);
    weft_buf_append_str(&b, "# HELP weft_jobs_finished_total Requests and jobs that ended, by "
                            "outcome.\n# TYPE weft_jobs_finished_total counter\n");
    for (int i = WEFT_JOB_SUCCEEDED; i <= WEFT_JOB_EXPIRED; i++)
        weft_buf_appendf(&b, "weft_jobs_finished_total{state=\"%s\"} %llu\n",
                         weft_job_state_name((enum weft_job_state)i),
                         (unsigned long long)s->m.finished[i]);
    weft_buf_appendf(
        &b,
        "# HELP weft_failovers_total Jobs moved off a node, by cause.\n"
        "# TYPE weft_failovers_total counter\n"
        "weft_failovers_total{cause=\"connection_closed\"} %llu\n"
        "weft_failovers_total{cause=\"heartbeat_lease\"} %llu\n"
        "weft_failovers_total{cause=\"yield\"} %llu\n"
        "weft_failovers_total{cause=\"node_error\"} %llu\n"
        "# HELP weft_tokens_total Tokens delivered (rate() gives tokens/s).\n"
        "# TYPE weft_tokens_total counter\nweft_tokens_total %llu\n"
        "# HELP weft_heartbeats_total Node heartbeats received.\n"
        "# TYPE weft_heartbeats_total counter\nweft_heartbeats_total %llu\n"
        "# HELP weft_store_up Whether the last lease cycle reached the store (1) or not (0).\n"
        "# TYPE weft_store_up gauge\nweft_store_up %d\n"
        "# HELP weft_budget_watts Power budget offered by live nodes across the region.\n"
        "# TYPE weft_budget_watts gauge\nweft_budget_watts %.1f\n"
        "# HELP weft_build_info Build of this scheduler.\n"
        "# TYPE weft_build_info gauge\nweft_build_info{version=\"%s\"} 1\n",
        (unsigned long long)s->m.failovers_closed, (unsigned long long)s->m.failovers_silent,
        (unsigned long long)s->m.yields, (unsigned long long)s->m.node_errors,
        (unsigned long long)s->m.tokens, (unsigned long long)s->m.heartbeats, !s->store_down,
        budget, weft_version());
    weft_buf_appendf(&b,
                     "# HELP weft_verifications_total Checks of nodes' results (verified results), "
                     "by outcome; runs counts the re-runs and canaries sent.\n"
                     "# TYPE weft_verifications_total counter\n"
                     "weft_verifications_total{result=\"runs\"} %llu\n"
                     "weft_verifications_total{result=\"right\"} %llu\n"
                     "weft_verifications_total{result=\"wrong\"} %llu\n"
                     "weft_verifications_total{result=\"inconclusive\"} %llu\n"
                     "# HELP weft_verification_tokens_total Tokens generated by verification "
                     "runs (their share of the region's compute).\n"
                     "# TYPE weft_verification_tokens_total counter\n"
                     "weft_verification_tokens_total %llu\n"
                     "# HELP weft_node_trust A node's trust from its checked results (0..1).\n"
                     "# TYPE weft_node_trust gauge\n",
                     (unsigned long long)s->m.verify_runs, (unsigned long long)s->m.verify_right,
                     (unsigned long long)s->m.verify_wrong,
                     (unsigned long long)s->m.verify_inconclusive,
                     (unsigned long long)s->m.verify_tokens);
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        weft_buf_appendf(&b, "weft_node_trust{node=\"%s\"} %.4f\n", n->name,
                         sched_verify_trust(s, n));
    }
    weft_buf_append_str(&b, "# HELP weft_node_quarantined Whether a node is quarantined (no work) "
                            "for results proven wrong.\n# TYPE weft_node_quarantined gauge\n");
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        weft_buf_appendf(&b, "weft_node_quarantined{node=\"%s\"} %d\n", n->name, n->quarantined);
    }
    weft_http_respond(req, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    weft_buf_free(&b);
}
