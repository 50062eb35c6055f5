#!/usr/bin/env bash
# Sets the machine up and runs rlvr's main job on the embedded default.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
./rlvr smoke
