#!/usr/bin/env bash
# (b) the ordering test with replication factor 3.
export RF=3 TEST_NAME=order_rf3
exec bash "$(dirname "$0")/order.sh"
