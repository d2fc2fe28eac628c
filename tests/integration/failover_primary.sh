#!/usr/bin/env bash
# failover.sh with the victim chosen among the primaries: the appenders of
# its log streams get no answer at all (no "sealed" refusal from a live
# primary). They must learn from the surviving replicas what became of
# their unanswered batches (BATCH_STATUS) and send only what is not in the
# log to another log stream: every appender finishes, nothing is lost and
# nothing is in the log twice.
export FAILOVER_VICTIM=primary
exec bash "$(dirname "$0")/failover.sh"
