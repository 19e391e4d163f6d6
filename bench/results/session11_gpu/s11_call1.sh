#!/bin/bash
# Session 11, call 1: session 10's proposed script, run unchanged (its header says what it does).
exec bash bench/results/session10_gpu/next_call1.sh "$@"
