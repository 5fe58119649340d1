#!/usr/bin/env bash
# The learning-curve run anyone can repeat: one problem set in its order, solved by the direct baseline and
# by the team with memory off, read-only (the seed banks, never written), learning (each problem after
# the earlier ones wrote their experience) and an oracle memory (read-only, given each earlier problem's
# reference solution: learning's upper bound), each run with a store of its own beside its results; then
# one report with the memory modes side by side, each right answer by where its help came from, the
# learning decomposition, the running-accuracy curve and, for a family set, the accuracy by instance.
#
#   tools/learning_curve.sh tests/data/families.jsonl runs/families [more `xolver bench run` options]
#
# A killed run is resumed by running the same command again (finished problems are skipped).
set -euo pipefail
problems=${1:?usage: tools/learning_curve.sh PROBLEMS.jsonl OUT_DIR [xolver bench run options...]}
out=${2:?usage: tools/learning_curve.sh PROBLEMS.jsonl OUT_DIR [xolver bench run options...]}
shift 2
mkdir -p "$out"
xolver bench run --dataset "$problems" --out "$out/direct.jsonl" --method direct --ordered "$@"
for mode in learn off read-only; do
    xolver bench run --dataset "$problems" --out "$out/xolver-$mode.jsonl" --memory-mode "$mode" --ordered "$@"
done
xolver bench run --dataset "$problems" --out "$out/xolver-oracle.jsonl" --memory-mode read-only --oracle --ordered "$@"
xolver bench report --out "$out/report" "$out/direct.jsonl" "$out/xolver-learn.jsonl" "$out/xolver-off.jsonl" \
    "$out/xolver-read-only.jsonl" "$out/xolver-oracle.jsonl"
echo "report: $out/report/report.md"
