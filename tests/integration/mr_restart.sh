#!/usr/bin/env bash
# mr_failover.sh with every MR replica killed at once: two rounds of kill -9
# of all three replicas under load and their restart. The storage nodes
# and appenders wait the outage out; commits resume under whichever replica
# the group elects, nothing acknowledged is lost and nothing is in the log
# twice.
export MR_SCENARIO=all TEST_NAME=mr_restart
exec bash "$(dirname "$0")/mr_failover.sh"
