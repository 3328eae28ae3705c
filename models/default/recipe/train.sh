#!/usr/bin/env bash
# The whole recipe of models/default, from Debian packages to the shipped folder (models/default/README.md has the
# times and numbers). Every step is deterministic for a given machine; a run that is cut short continues where it was
# with the same command (the training steps resume from their last checkpoint).
#   models/default/recipe/train.sh WORK_DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
work="${1:?usage: models/default/recipe/train.sh WORK_DIR}"
seeksharp="$root/seeksharp"
mkdir -p "$work"

# 1. Data: the pretraining corpus and the chat conversations (data/README.md).
[ -f "$work/data/pretrain.txt" ] || "$root/data/build-corpus.sh" "$work/data"
[ -f "$work/data/chat-train.jsonl" ] || "$root/data/build-chat.sh" "$work/data"

# 2. Tokenizer: byte-level BPE, 8192 ids, DeepSeek-V3's special tokens and chat template.
[ -f "$work/tokenizer/tokenizer.json" ] || "$seeksharp" tokenizer train --input "$work/data/pretrain.txt" --vocab-size 8192 --out "$work/tokenizer"

# 3. Pretraining (about 85 minutes on 2 cores): 1,900 steps of 8 × 512 tokens.
if [ -f "$work/pretrain/run.json" ]; then "$seeksharp" train --resume --out "$work/pretrain"
else
  "$seeksharp" train --config "$root/models/default/recipe/config.json" --tokenizer "$work/tokenizer" --data "$work/data/pretrain.txt" \
    --out "$work/pretrain" --steps 1900 --batch-size 8 --seq-len 512 --lr 1.5e-3 --warmup 100 \
    --eval-every 100 --eval-batches 8 --save-every 100 --seed 1
fi

# 4. Chat fine-tuning (about 27 minutes): loss on the assistant's tokens only, 2% of the conversations held out.
if [ -f "$work/chat/run.json" ]; then "$seeksharp" train --resume --out "$work/chat"
else
  "$seeksharp" train --init-from "$work/pretrain" \
    --chat "$work/data/chat-train.jsonl" --out "$work/chat" --steps 650 --batch-size 8 --seq-len 512 --lr 8e-4 --warmup 30 \
    --val-fraction 0.02 --eval-every 50 --eval-batches 8 --save-every 50 --seed 2
fi

# 5. Ship: 8-bit weights (Q8_0) with the tokenizer and generation defaults, and the training plots.
final="$work/chat"   # a run folder means its newest checkpoint
out="$root/models/default"
rm -rf "$work/ship" && "$seeksharp" quantize --model "$final" --out "$work/ship" --type q8
cp "$root/models/default/recipe/generation_config.json" "$work/ship/"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json generation_config.json; do cp "$work/ship/$f" "$out/$f"; done
"$seeksharp" plot "$work/pretrain" --out "$work/plots/pretrain"
"$seeksharp" plot "$work/chat" --out "$work/plots/chat"
mkdir -p "$out/plots"
for f in loss balance; do cp "$work/plots/pretrain/$f.png" "$out/plots/pretrain-$f.png"; cp "$work/plots/chat/$f.png" "$out/plots/chat-$f.png"; done
for l in 1 2 3 4 5 6; do cp "$work/plots/pretrain/expert-load-layer-$l.png" "$out/plots/pretrain-expert-load-layer-$l.png"; done

# 6. Measure (the model card's numbers): held-out, trained and common headwords, greedy; then speculative decoding.
mkdir -p "$work/eval"
"$seeksharp" eval --model "$out" --qa "$work/data/heldout-qa.jsonl" --out "$work/eval/heldout.jsonl" | tee "$work/eval/heldout.txt"
"$seeksharp" eval --model "$out" --qa "$work/data/seen-qa.jsonl" --out "$work/eval/seen.jsonl" | tee "$work/eval/seen.txt"
"$seeksharp" eval --model "$out" --qa "$work/data/common-qa.jsonl" --out "$work/eval/common.jsonl" | tee "$work/eval/common.txt"
"$seeksharp" eval --model "$out" --qa "$work/data/heldout-qa.jsonl" --limit 100 --speculative off | tee "$work/eval/plain.txt"
"$seeksharp" eval --model "$out" --qa "$work/data/heldout-qa.jsonl" --limit 100 --speculative mtp | tee "$work/eval/speculative.txt"
