#!/usr/bin/env bash
# Builds a small English corpus from documentation that Debian machines already have (no download):
# the Vim user manual, the common licences and Perl's pod pages, whichever exist. Deterministic: files are
# concatenated in sorted order. Used for the training and quantisation measurements in docs/.
#   data/local-corpus.sh OUT.txt
set -euo pipefail
out="${1:?usage: data/local-corpus.sh OUT.txt}"
tmp="$out.tmp"
: > "$tmp"
add() { for f in "$@"; do [ -f "$f" ] && { cat "$f"; printf '\n'; } >> "$tmp"; done; return 0; }
shopt -s nullglob
add $(ls /usr/share/vim/vim*/doc/usr_*.txt 2>/dev/null | sort)
add $(ls /usr/share/common-licenses/* 2>/dev/null | sort)
add $(ls /usr/share/perl/*/pod/*.pod 2>/dev/null | sort)
if [ ! -s "$tmp" ]; then rm -f "$tmp"; echo "no source documents found on this machine" >&2; exit 1; fi
mv "$tmp" "$out"
echo "$out: $(wc -c < "$out") bytes" >&2
