#!/usr/bin/env bash
# Installs the Debian packages the corpus and chat data come from, when they are missing (needs root or sudo).
set -euo pipefail
packages=(wordnet-base dict-gcide bible-kjv-text bible-kjv fortunes dict-jargon dict-foldoc dict-devil dict-elements)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}" >&2
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
