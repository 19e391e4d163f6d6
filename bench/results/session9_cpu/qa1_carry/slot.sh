#!/bin/bash
# Usage: slot.sh QUEUE: run the lines of QUEUE (each: NAME [hf-rmt train flags]) one after another with run.sh,
# re-reading QUEUE after each run so lines can be appended while it works; stops after 21:50 UTC or at a STOP line.
here=$(dirname "$0"); queue=$1; n=0
while true; do
  n=$((n + 1)); line=$(sed -n "${n}p" "$queue")
  if [ -z "$line" ]; then sleep 20; n=$((n - 1)); continue; fi
  [ "$line" = STOP ] && exit 0
  [ "$(date -u +%H%M)" -ge 2150 ] && { echo "past 21:50, not starting: $line"; exit 0; }
  "$here/run.sh" $line
done
