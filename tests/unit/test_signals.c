/*  test_signals.c - libvarlog leaves its application's signals alone:
    CZMQ, started by the library's first socket, would otherwise take
    SIGINT and SIGTERM for itself, and a program linking libvarlog would
    no longer stop on Ctrl-C. A binary of its own: nothing may have started
    CZMQ before the library does.
*/
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "varlog.h"

static void s_app_handler(int sig)
{
    (void)sig;
}

static void test_signals_untouched(void **state)
{
    (void)state;
    struct sigaction app = {.sa_handler = s_app_handler};
    sigemptyset(&app.sa_mask);
    assert_int_equal(sigaction(SIGINT, &app, NULL), 0);
    assert_int_equal(signal(SIGTERM, SIG_DFL) == SIG_ERR, 0);

    /* nothing listens there: the open fails, after its sockets were made */
    vl_client_opts_t o = {.timeout_ms = 100};
    vl_client_t *c = NULL;
    char err[256];
    assert_int_not_equal(vl_client_open("tcp://127.0.0.1:9", &o, &c, err, sizeof err), 0);
    assert_null(c);

    struct sigaction now;
    assert_int_equal(sigaction(SIGINT, NULL, &now), 0);
    assert_ptr_equal(now.sa_handler, s_app_handler);
    assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
    assert_ptr_equal(now.sa_handler, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
