#!/usr/bin/env bash
# fs.sh with the metadata repository a raft group of three replicas
# (VARLOG_TEST_MRS=3): varlogfs given every replica's endpoint.
export VARLOG_TEST_MRS=3 TEST_NAME=fs_mr3
exec bash "$(dirname "$0")/fs.sh"
