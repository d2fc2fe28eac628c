/*  test_err.c - unit tests of the error table (lib/err.c): every code has
    its row, name, message and errno, and a code outside the table reads
    as unknown. varlogfs answers with these errnos and the codes are
    stable on the wire, so the table is pinned here.
*/
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "varlog_err.h"

static void test_err_table(void **state)
{
#define S_ERR_ROW(name, code, errno_, msg) {name, code, errno_, msg, #name},
    static const struct {
        int value, code, errno_;
        const char *msg, *name;
    } rows[] = {VL_ERRORS(S_ERR_ROW)};
#undef S_ERR_ROW
    size_t nrows = sizeof rows / sizeof rows[0];
    /* codes are dense from 0, so every code below VL_ERR_MAX has a row */
    assert_int_equal(nrows, VL_ERR_MAX);
    for (size_t i = 0; i < nrows; i++) {
        assert_int_equal(rows[i].code, (int)i);
        assert_int_equal(rows[i].value, rows[i].code);
        assert_string_equal(vl_err_str(rows[i].code), rows[i].msg);
        assert_string_equal(vl_err_name(rows[i].code), rows[i].name);
        assert_int_equal(vl_err_errno(rows[i].code), rows[i].errno_);
        assert_true(strlen(rows[i].msg) > 0);
        assert_int_equal(strncmp(rows[i].name, "VL_", 3), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(rows[i].name, rows[j].name);
    }
    /* spot checks that pin the mapping varlogfs answers with */
    assert_int_equal(vl_err_errno(VL_OK), 0);
    assert_int_equal(vl_err_errno(VL_ESEALED), EROFS);
    assert_int_equal(vl_err_errno(VL_ENOTOPIC), ENOENT);
    assert_int_equal(vl_err_errno(VL_ETOOBIG), EFBIG);
    assert_int_equal(vl_err_errno(VL_ENOSPC), ENOSPC);
    assert_string_equal(vl_err_name(VL_ETRIMMED), "VL_ETRIMMED");
    assert_string_equal(vl_err_str(VL_OK), "success");

    static const int bad[] = {-1,   -2,     -100,   INT_MIN, VL_ERR_MAX, VL_ERR_MAX + 1,
                              1000, 0x8000, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(vl_err_str(bad[i]), "unknown error");
        assert_string_equal(vl_err_name(bad[i]), "VL_E?");
        assert_int_equal(vl_err_errno(bad[i]), EIO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
    };
    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
