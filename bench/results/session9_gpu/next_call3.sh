#!/bin/bash
# Proposed third call of the next session: session 8's proposed second call, unchanged (not run in session 9: no
# machine was lent; ~580 s on one H200): issue 16 runs side by side (weights in /tmp/runs for a later call that goes on
# from each run's stage), decoder qa1 with ARMT, Detect & Memorize in float32 at 1,021,952 tokens.
exec bash bench/results/session8_gpu/next_call2.sh
