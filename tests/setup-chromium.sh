#!/bin/sh
# Installs Debian's chromium for the web page's browser test (tests/SeekSharp.Tests/Server/ChatPageBrowserTests.cs).
# The test runs this when no chromium is found; it needs root (or sudo) and apt.
set -e
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "setup-chromium.sh: apt-get not found; install chromium yourself" >&2; exit 1; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else echo "setup-chromium.sh: needs root or sudo to apt-get install chromium" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
# The test suite may install chromium and Open MPI at the same moment (tests run in parallel), and the system may be
# running apt itself: wait for dpkg's lock rather than failing on it.
APT="apt-get -o DPkg::Lock::Timeout=600"
$SUDO $APT update -q >/dev/null || true
$SUDO $APT install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
