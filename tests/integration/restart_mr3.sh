#!/usr/bin/env bash
# restart.sh with the metadata repository a raft group of three replicas
# (VARLOG_TEST_MRS=3): kill -9 of every daemon, all three MR replicas
# included, while appends are in flight, and their restart.
export VARLOG_TEST_MRS=3 TEST_NAME=restart_mr3
exec bash "$(dirname "$0")/restart.sh"
