#!/bin/bash
# Runs copy_run.sh arms one after another (one run at a time). Each line of the file QUEUE:
# NAME ARCH [KNOB=VALUE...] [| train_algorithmic args], e.g. `W1 llama LLAMA_WPE=1 | --seed 1`. Lines are read as
# they come (the file may grow meanwhile); a line STOP ends the queue.
# Usage: bench/results/session8_cpu/queue.sh QUEUE
cd "$(dirname "$0")" || exit 1
n=0
while true; do
  line=$(sed -n "$((n + 1))p" "$1")
  if [ -z "$line" ]; then sleep 5; continue; fi
  n=$((n + 1))
  [ "$line" = STOP ] && exit 0
  read -r name arch rest <<< "$line"
  knobs=${rest%%|*}; args=""; [[ $rest == *"|"* ]] && args=${rest#*|}
  echo "$(date +%T) start $name $arch [$knobs] $args"
  # shellcheck disable=SC2086
  env $knobs ./copy_run.sh "$name" "$arch" $args
  echo "$(date +%T) end $name"
done
