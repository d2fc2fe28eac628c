#!/usr/bin/env bash
# fs_failover.sh with a primary as the victim (one that leaves a log stream
# running): the lines written to its log stream get no answer, and the
# mount's appender must learn from the surviving replicas what became of
# them and move only what is not in the file: every line whose close
# succeeded is there exactly once.
# Replication factor 2: no node hosts all three log streams, so the primary
# of the one the mount writes to can always be killed with another left.
export FS_FAILOVER_VICTIM=primary FS_FAILOVER_RF=2
exec bash "$(dirname "$0")/fs_failover.sh"
