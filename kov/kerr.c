/*  kerr.c - names of Kafka's error codes (the table is in kerr.h). */
#include "kerr.h"

const char *vl_kerr_name(int16_t code)
{
    switch (code) {
#define VL_KERR_CASE_(name, num, str)                                                              \
    case num:                                                                                      \
        return str;
        VL_KERRORS(VL_KERR_CASE_)
#undef VL_KERR_CASE_
    default:
        return "UNKNOWN_CODE";
    }
}
