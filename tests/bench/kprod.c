/*  kprod.c - Kafka-side figures of the benchmark suite, with librdkafka
    (Debian's librdkafka-dev), for tests/bench/run.sh:

      kprod mock [BROKERS]           starts librdkafka's in-memory mock
                                     cluster (rdkafka_mock.h; 3 brokers by
                                     default), prints its bootstrap servers
                                     on a line, serves until SIGTERM/SIGINT
      kprod lat BOOTSTRAP TOPIC N    produce-to-ack: one 100-byte message at a
                                     time to partition 0 (acks=all, linger.ms
                                     0), each waited for before the next;
                                     prints JSON with p50/p99/p99.9 in ms
      kprod e2e BOOTSTRAP TOPIC N    the same producer and a consumer of the
                                     partition's tail in another thread: for
                                     each message the time from produce to ack
                                     and from produce to the consumer seeing
                                     it, and seen - ack (negative when the
                                     consumer got it before the producer's
                                     ack); JSON as above (the mock cluster
                                     answers a waiting Fetch only at its max
                                     wait, 500 ms here: use e2e with Kov)

    A benchmark, not a test: nothing is asserted about time. Built by make
    check (tests/bench/kprod); BENCHMARKS.md says what the figures mean.
*/
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MSG_LEN 100
#define WARMUP 100

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*  Prints "NAME": {"p50_ms": ..., ...} of the n samples v (sorted here). */
static void s_pct(const char *name, double *v, size_t n, const char *sep)
{
    qsort(v, n, sizeof *v, s_cmp);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    printf("\"%s\": {\"n\": %zu, \"mean_ms\": %.4f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
           "\"p999_ms\": %.4f}%s",
           name, n, n ? sum / (double)n : 0, n ? v[n / 2] : 0, n ? v[n * 99 / 100] : 0,
           n ? v[n * 999 / 1000] : 0, sep);
}

/* ---- mock cluster -------------------------------------------------------- */

static int s_mock(int brokers)
{
    char err[512];
    /* blocked before librdkafka starts its threads, which inherit the mask:
       sigwait below gets SIGTERM whichever thread it was sent to */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kprod mock: rd_kafka_new: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kprod mock: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- producer and tail consumer --------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long acked;    /* sequence number of the last message acknowledged */
    long seen;     /* ... the consumer saw */
    int err;       /* a delivery failed */
    double *t_ack; /* per message, ms */
    double *t_seen;
    double *t_send;
    long n;
    volatile int stop;
    rd_kafka_t *consumer;
} s_run_t;

static void s_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    s_run_t *r = opaque;
    double t = s_now_ms();
    long i = (long)(intptr_t)m->_private;
    pthread_mutex_lock(&r->mu);
    if (m->err) {
        fprintf(stderr, "kprod: delivery of message %ld failed: %s\n", i, rd_kafka_err2str(m->err));
        r->err = 1;
    } else if (i >= 0 && i < r->n) {
        r->t_ack[i] = t;
    }
    r->acked = i;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *s_consume(void *arg)
{
    s_run_t *r = arg;
    while (!r->stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 100);
        if (!m)
            continue;
        double t = s_now_ms();
        if (!m->err && m->len >= 12) {
            long i = strtol((const char *)m->payload + 1, NULL, 10);
            pthread_mutex_lock(&r->mu);
            if (m->len >= 1 && ((const char *)m->payload)[0] == 'm' && i >= 0 && i < r->n)
                r->t_seen[i] = t;
            r->seen = i;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static rd_kafka_t *s_client(rd_kafka_type_t type, const char *bootstrap, s_run_t *r)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *common[][2] = {{"bootstrap.servers", bootstrap}, {"log_level", "3"}};
    const char *prod[][2] = {{"acks", "all"}, {"linger.ms", "0"}, {"socket.nagle.disable", "true"}};
    const char *cons[][2] = {{"group.id", "kprod"},
                             {"enable.auto.commit", "false"},
                             {"fetch.wait.max.ms", "500"},
                             {"fetch.min.bytes", "1"},
                             {"socket.nagle.disable", "true"},
                             {"fetch.error.backoff.ms", "10"}};
    for (size_t i = 0; i < 2; i++)
        if (rd_kafka_conf_set(conf, common[i][0], common[i][1], err, sizeof err))
            goto fail;
    for (size_t i = 0; type == RD_KAFKA_PRODUCER && i < 3; i++)
        if (rd_kafka_conf_set(conf, prod[i][0], prod[i][1], err, sizeof err))
            goto fail;
    for (size_t i = 0; type == RD_KAFKA_CONSUMER && i < 6; i++)
        if (rd_kafka_conf_set(conf, cons[i][0], cons[i][1], err, sizeof err))
            goto fail;
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set_dr_msg_cb(conf, s_dr);
        rd_kafka_conf_set_opaque(conf, r);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (rk)
        return rk;
    fprintf(stderr, "kprod: rd_kafka_new: %s\n", err);
    return NULL;
fail:
    fprintf(stderr, "kprod: %s\n", err);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/*  Produces message i (seq -1..: warm-up ones are negative) and waits for
    its ack, and with wait_seen for the consumer to see it (5 s at most). */
static int s_one(s_run_t *r, rd_kafka_t *p, const char *topic, long i, long tag, int wait_seen)
{
    char buf[MSG_LEN];
    memset(buf, 'x', sizeof buf);
    int len = snprintf(buf, sizeof buf, "%c%011ld ", i >= 0 ? 'm' : 'w', i >= 0 ? i : tag);
    buf[len] = ' ';
    double t = s_now_ms();
    if (i >= 0)
        r->t_send[i] = t;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE(buf, sizeof buf),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
        RD_KAFKA_V_END);
    if (e) {
        fprintf(stderr, "kprod: produce: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    while (rd_kafka_outq_len(p) > 0)
        rd_kafka_poll(p, 1);
    if (r->err)
        return 1;
    if (!wait_seen)
        return 0;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&r->mu);
    while (r->seen != (i >= 0 ? i : tag) && !r->err)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) != 0)
            break;
    int ok = r->seen == (i >= 0 ? i : tag);
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : 2;
}

static int s_run(const char *bootstrap, const char *topic, long n, int e2e)
{
    s_run_t r = {.n = n, .acked = -1, .seen = -1};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.t_ack = calloc((size_t)n, sizeof(double));
    r.t_seen = calloc((size_t)n, sizeof(double));
    r.t_send = calloc((size_t)n, sizeof(double));
    rd_kafka_t *p = s_client(RD_KAFKA_PRODUCER, bootstrap, &r);
    int rc = 1;
    pthread_t th;
    int started = 0;
    if (!p)
        goto cleanup;
    if (e2e) {
        r.consumer = s_client(RD_KAFKA_CONSUMER, bootstrap, &r);
        if (!r.consumer)
            goto cleanup;
        rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tl, topic, 0)->offset = RD_KAFKA_OFFSET_END;
        rd_kafka_assign(r.consumer, tl);
        rd_kafka_topic_partition_list_destroy(tl);
        pthread_create(&th, NULL, s_consume, &r);
        started = 1;
        /* until the consumer sits at the tail: warm-up messages until one is seen */
        long tag = 1000000000;
        while (s_one(&r, p, topic, -1, tag, 1) == 2 && tag < 1000000020)
            tag++;
        if (r.seen != tag) {
            fprintf(stderr, "kprod: the consumer saw none of 20 warm-up messages\n");
            goto cleanup;
        }
    }
    for (long w = 0; w < WARMUP; w++)
        if (s_one(&r, p, topic, -1, 2000000000 + w, e2e) != 0) {
            fprintf(stderr, "kprod: warm-up message %ld: no ack%s\n", w,
                    e2e ? " or not seen in 5 s" : "");
            goto cleanup;
        }
    for (long i = 0; i < n; i++)
        if (s_one(&r, p, topic, i, 0, e2e) != 0) {
            fprintf(stderr, "kprod: message %ld: no ack%s\n", i, e2e ? " or not seen in 5 s" : "");
            goto cleanup;
        }
    double *ack = calloc((size_t)n, sizeof(double)), *seen = calloc((size_t)n, sizeof(double));
    double *after = calloc((size_t)n, sizeof(double));
    for (long i = 0; i < n; i++) {
        ack[i] = r.t_ack[i] - r.t_send[i];
        seen[i] = r.t_seen[i] - r.t_send[i];
        after[i] = r.t_seen[i] - r.t_ack[i];
    }
    printf("{");
    s_pct("produce_to_ack", ack, (size_t)n, e2e ? ", " : "");
    if (e2e) {
        s_pct("produce_to_seen", seen, (size_t)n, ", ");
        s_pct("ack_to_seen", after, (size_t)n, "");
    }
    printf("}\n");
    free(ack);
    free(seen);
    free(after);
    rc = 0;
cleanup:
    r.stop = 1;
    if (started)
        pthread_join(th, NULL);
    if (r.consumer) {
        rd_kafka_consumer_close(r.consumer);
        rd_kafka_destroy(r.consumer);
    }
    if (p) {
        rd_kafka_flush(p, 5000);
        rd_kafka_destroy(p);
    }
    free(r.t_ack);
    free(r.t_seen);
    free(r.t_send);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "mock") == 0)
        return s_mock(argc >= 3 ? atoi(argv[2]) : 3);
    if (argc == 5 && (strcmp(argv[1], "lat") == 0 || strcmp(argv[1], "e2e") == 0)) {
        long n = atol(argv[4]);
        if (n > 0)
            return s_run(argv[2], argv[3], n, strcmp(argv[1], "e2e") == 0);
    }
    fprintf(stderr, "usage: kprod mock [BROKERS] | kprod lat|e2e BOOTSTRAP TOPIC N (N > 0)\n");
    return 2;
}
