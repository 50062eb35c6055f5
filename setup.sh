#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for rlvr: the system packages the build needs (g++ and patchelf
# for the libstdc++ fix of TorchSharp's native library), the NuGet restore, a Release build, and an
# `rlvr` command on the PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v g++ >/dev/null || need+=(g++)
command -v patchelf >/dev/null || need+=(patchelf)
command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
dotnet build Rlvr.sln -c Release -nologo -v quiet -clp:ErrorsOnly
if [ -w /usr/local/bin ] && [ ! -e /usr/local/bin/rlvr ]; then ln -s "$PWD/rlvr" /usr/local/bin/rlvr; fi
echo "setup: done (run ./rlvr --help)"
