#!/usr/bin/env bash
# Here (Debian 12, with network): gather what the GPU host needs into .devdeps/: avo's
# runtime Debian packages and an install of this build. Then carry .devdeps to the host.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .devdeps
(cd .devdeps && apt-get download libclang1-19 libllvm19 libclang-common-19-dev libz3-4 libedit2 \
   libcjson1 libxxhash0 libicu72 libxml2 bubblewrap 2>/dev/null)
rm -rf .devdeps/prefix
cmake --install build --prefix .devdeps/prefix >/dev/null
du -sh .devdeps
