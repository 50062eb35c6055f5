#!/usr/bin/env bash
# Sets the machine up and runs rlvr's main job on the embedded default: a short W-REINFORCE run of a
# tiny random Qwen2 (made here, with the real Qwen2.5 tokenizer) on the bundled 25 % MATH subset,
# with evaluations, checkpoints and a report. A real experiment: see README.md. (Evaluation top-p is off
# here: a random model's flat distributions make the nucleus search sort the whole vocabulary.)
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
model=runs/tiny-qwen2
run=runs/demo
[ -f "$model/config.json" ] || ./rlvr init-model --config tiny --out "$model" --seed 1
rm -rf "$run"
./rlvr train --model "$model" --objective w-reinforce --out "$run" \
  --steps 4 --rollout-batch-size 16 --rollouts-per-prompt 2 --max-new-tokens 32 --lr 1e-4 \
  --eval-every 2 --eval-limit 32 --eval-max-new-tokens 32 --eval-top-p 1 --save-every 2
./rlvr report "$run" --out "$run/report"
echo "run.sh: done: metrics in $run/metrics.jsonl, report in $run/report/report.md"
