#!/usr/bin/env bash
# Derives the chat fine-tuning conversations and the held-out evaluation questions from the structured sources
# (WordNet, the elements, the Jargon File, FOLDOC, the Devil's Dictionary, fortunes). Deterministic (data/README.md).
#   data/build-chat.sh OUT_DIR   → chat-train.jsonl, heldout-qa.jsonl, seen-qa.jsonl, common-qa.jsonl, heldout-headwords.txt
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: data/build-chat.sh OUT_DIR}"
mkdir -p "$out"
"$here/install-sources.sh"
dotnet run "$here/DataBuilder.cs" -- chat "$out"
