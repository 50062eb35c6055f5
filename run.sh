#!/usr/bin/env bash
# Sets the machine up and runs rlvr's main job: the experiment of "The Surprising Effectiveness of Negative
# Reinforcement in LLM Reasoning" at toy scale, made from nothing on this machine (docs/demo.md):
#   1. synthetic MATH-format problems (rlvr data synth),
#   2. a small byte-level BPE tokenizer learned on them (rlvr train-tokenizer),
#   3. a small random Qwen2 model with that vocabulary (rlvr init-model),
#   4. supervised fine-tuning into the demo base model (rlvr sft),
#   5. PSR, NSR and W-REINFORCE from that same base with identical settings, pass@1 during training and
#      pass@k before and after (rlvr sweep), then the report (report.md with figures and a findings table).
# Every choice is pinned in recipes/demo/. Steps 2-4 take about 10-20 minutes on 2 cores, so the demo base model they
# make ships in assets/demo-base and is used as it is; RLVR_REBUILD_BASE=1 makes it here instead (docs/demo.md).
# What exists already (data, tokenizer, model, finished runs) is reused and an interrupted step continues; delete
# runs/demo (or set RLVR_DEMO to another folder) to start over.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
recipe=recipes/demo
demo=${RLVR_DEMO:-runs/demo}
data=$demo/data
prompt=(--prompt "$recipe/prompt.txt")
start=$(date +%s)
say() { echo "run.sh [$(( $(date +%s) - start ))s]: $*"; }

if [ ! -f "$data/test.jsonl" ]; then
  say "1/5 synthetic data"
  ./rlvr data synth --out "$data" --seed 1 --train 20000 --test 500
fi
base=$demo/demo-base
if [ "${RLVR_REBUILD_BASE:-0}" != 1 ] && [ ! -f "$base/config.json" ] && [ -f assets/demo-base/config.json ]; then
  say "2-4/5 using the shipped demo base model (assets/demo-base; RLVR_REBUILD_BASE=1 rebuilds it)"
  base=assets/demo-base
fi
if [ "$base" != assets/demo-base ] && [ ! -f "$demo/tokenizer/tokenizer.json" ]; then
  say "2/5 tokenizer"
  ./rlvr train-tokenizer --data "$data/train.jsonl" --text "$recipe/prompt.txt" --vocab-size 448 --out "$demo/tokenizer"
fi
if [ "$base" != assets/demo-base ] && [ ! -f "$demo/init/config.json" ]; then
  say "3/5 random model"
  ./rlvr init-model --config tiny --tokenizer "$demo/tokenizer" --layers 4 --hidden-size 128 --heads 4 --kv-heads 2 \
    --intermediate-size 384 --max-position-embeddings 512 --rope-theta 10000 --seed 1 --out "$demo/init"
fi
if [ "$base" != assets/demo-base ] && [ ! -f "$demo/sft/summary.json" ]; then
  say "4/5 supervised fine-tuning (the demo base model)"
  if [ -f "$demo/sft/config.json" ]; then
    ./rlvr sft --resume "$demo/sft"
  else
    ./rlvr sft --config "$recipe/sft.json" --model "$demo/init" --train-data "$data/train.jsonl" --eval-data "$data/test.jsonl" \
      "${prompt[@]}" --out "$demo/sft" --final-model "$base"
  fi
fi
say "5/5 PSR, NSR and W-REINFORCE from the demo base model"
# The three runs train at once, one torch thread each, so that both cores work (measured: 23 CPU minutes in 12 wall minutes).
./rlvr sweep --models "$base" --objectives psr,nsr,w-reinforce --seeds 1 --config "$recipe/rl.json" --jobs 3 \
  --train-data "$data/train.jsonl" --eval-data "$data/test.jsonl" "${prompt[@]}" --smooth 1 --out "$demo/rl"
say "done: the report is $demo/rl/report/report.md"
