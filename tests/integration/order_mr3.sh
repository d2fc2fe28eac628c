#!/usr/bin/env bash
# order.sh with the metadata repository a raft group of three replicas
# (VARLOG_TEST_MRS=3: lib.sh's cluster starts it with mr_group): one global
# order for concurrent appenders and a follower, through the group's leader.
export VARLOG_TEST_MRS=3 TEST_NAME=order_mr3
exec bash "$(dirname "$0")/order.sh"
