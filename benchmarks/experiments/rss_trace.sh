#!/bin/bash
# The resident memory of one process over time: "UNIX-SECONDS RSS-KB" every 5 s while it lives.
#   bash benchmarks/experiments/rss_trace.sh PID OUT-FILE &
# (the docstrings runs of docs/documents.md, "Memory": started beside benchmarks/checkpoint_choice.py)
pid=$1
out=$2
while kill -0 "$pid" 2>/dev/null; do
  echo "$(date +%s) $(ps -o rss= -p "$pid" | tr -d ' ')" >> "$out"
  sleep 5
done
