#!/bin/sh
# Installs Debian's Open MPI for the multi-process tests (tests/SeekSharp.Tests/Distributed). The tests run this when
# mpirun or libmpi is missing; it needs root (or sudo) and apt. Training on one process never needs it.
set -e
if command -v mpirun >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40'; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "setup-openmpi.sh: apt-get not found; install Open MPI yourself" >&2; exit 1; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else echo "setup-openmpi.sh: needs root or sudo to apt-get install openmpi-bin" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
# The test suite may install chromium and Open MPI at the same moment (tests run in parallel), and the system may be
# running apt itself: wait for dpkg's lock rather than failing on it.
APT="apt-get -o DPkg::Lock::Timeout=600"
$SUDO $APT update -q >/dev/null || true
$SUDO $APT install -y -q --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null
command -v mpirun
