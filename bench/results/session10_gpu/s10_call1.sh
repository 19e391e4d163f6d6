#!/bin/bash
# Session 10, call 1: session 9's proposed first call, run unchanged (~420 s on one H200).
exec bash bench/results/session9_gpu/next_call1.sh
