#!/usr/bin/env bash
# mr_failover.sh with the MR leader SIGSTOPped instead of killed: the other
# replicas elect a leader and commits go on; a log stream is sealed through
# the new leader while the old one is stopped (so the old leader's view
# lacks the seal); the old leader is resumed after three election timeouts
# at least and must step down, the seal must hold on every storage node
# (none applies what the deposed leader still sends: its COMMIT and META
# carry an older term), nothing acknowledged is lost and nothing is in the
# log twice.
export MR_SCENARIO=stop TEST_NAME=mr_fence
exec bash "$(dirname "$0")/mr_failover.sh"
