#!/usr/bin/env bash
# failover.sh with the metadata repository a raft group of three replicas
# (VARLOG_TEST_MRS=3): kill -9 of a storage node under load, sealed and
# unsealed by the admin through the group's leader.
export VARLOG_TEST_MRS=3 TEST_NAME=failover_mr3
exec bash "$(dirname "$0")/failover.sh"
