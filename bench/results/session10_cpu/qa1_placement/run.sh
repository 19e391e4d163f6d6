#!/bin/bash
# Usage: run.sh NAME [hf-rmt train flags...]; output in $RUNS/NAME, log in logs/NAME.log (as session 9's run.sh),
# under `timeout` (SIGTERM ends training after the current step and saves the stage reached).
source "$(dirname "$0")/common.sh"
name=$1; shift
mkdir -p "$RUNS" "$LOGS"
echo "$(date -u +%FT%TZ) $HFRMT train $COMMON --output-dir $RUNS/$name $*" > "$LOGS/$name.log"
timeout ${TIMEOUT:-1800} $HFRMT train $COMMON --output-dir "$RUNS/$name" "$@" 2>&1 | stdbuf -oL tr '\r' '\n' | grep --line-buffered -v -e '^ *[0-9]*%|' -e 'it/s\]$' >> "$LOGS/$name.log"
echo "exit ${PIPESTATUS[0]} $(date -u +%FT%TZ)" >> "$LOGS/$name.log"
