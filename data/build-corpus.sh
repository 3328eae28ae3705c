#!/usr/bin/env bash
# Builds the default model's pretraining corpus from Debian packages (installed here when missing) and the
# documentation the machine already has. Deterministic: the same packages give the same bytes (data/README.md).
#   data/build-corpus.sh OUT_DIR      → OUT_DIR/pretrain.txt
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: data/build-corpus.sh OUT_DIR}"
mkdir -p "$out"
"$here/install-sources.sh"
bible -l0 'Gen1:1-Rev22:21' > "$out/bible.txt.tmp"          # bible-kjv-text's data, decoded by bible-kjv's reader
mv "$out/bible.txt.tmp" "$out/bible.txt"
"$here/local-corpus.sh" "$out/docs.txt"                       # the Vim user manual, the common licences, Perl's pod pages
dotnet run "$here/DataBuilder.cs" -- corpus "$out" --bible "$out/bible.txt" --docs "$out/docs.txt"
