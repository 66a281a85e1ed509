#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test, benchmark and demo mod_idmbalance.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  apache2 apache2-dev apache2-utils libapr1-dev libaprutil1-dev
  catch2
  tomcat10 openjdk-17-jdk-headless
  libapache2-mod-jk
  python3 python3-pytest
  curl openssl wrk iproute2
  chromium chromium-driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
