#!/bin/sh
# The linear-regression example with the `kiln` command line only: write the data files, train
# (full batch of 4, no shuffling, 20 epochs), then predict y for x = [5, 10].
# Usage (from the repository root): sh examples/linear-regression/cli.sh [output folder]
set -e
here=$(dirname "$0")
out=${1:-$here/data}
kiln="node $here/../../bin/kiln.js"
node "$here/prepare-data.mjs" "$out"
$kiln train "$here/graph.json" --data "$out/train.safetensors" --epochs 20 --batch-size 4 --no-shuffle --out "$out/weights.safetensors"
$kiln predict "$here/graph.json" --data "$out/predict.safetensors" --weights "$out/weights.safetensors" --json
