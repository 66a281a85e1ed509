#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test, benchmark and demo mod_idmbalance.
# Idempotent: does nothing when everything is already installed. Starts no service and leaves
# the system's apache2 configuration as it found it (see below).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  apache2 apache2-dev apache2-utils libapr1-dev libaprutil1-dev
  catch2
  tomcat10 openjdk-17-jdk-headless
  libapache2-mod-jk
  python3 python3-pytest
  curl openssl wrk iproute2 keepalived
  valgrind gnuplot-nox
  chromium chromium-driver
  debhelper dpkg-dev lintian
  clang-14 libclang-rt-14-dev clang-format-14
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

# Installing must leave the system's services and apache2 configuration as they were:
# 1. No package may start its service (apache2 on :80, tomcat10 on :8080): while apt runs, a
#    policy-rc.d refuses every start (invoke-rc.d and deb-systemd-invoke both obey it). An
#    existing policy-rc.d is the administrator's and is left alone.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# install-deps.sh (mod_idmbalance): no service starts while it installs\nexit 101\n' \
    | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi
$SUDO apt-get update -q

# 2. apache2 itself comes with Debian's stock layout (000-default, mpm_event, ...); that is the
#    layout users have. Other packages must not change it: libapache2-mod-jk enables jk on
#    install, so whatever they enable is disabled again.
if [[ " ${missing[*]} " == *" apache2 "* ]]; then
  $SUDO apt-get install -y -q --no-install-recommends apache2
fi
enabled() { find /etc/apache2/mods-enabled /etc/apache2/conf-enabled /etc/apache2/sites-enabled \
              -mindepth 1 -maxdepth 1 -name '*.load' -o -name '*.conf' 2>/dev/null | sort; }
before=$(enabled)
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# a2dis* (not rm) records the choice, so a later upgrade of that package does not enable it again.
for path in $(comm -13 <(echo "$before") <(enabled)); do
  name=$(basename "$path"); name=${name%.*}
  echo "install-deps: a package enabled ${path#/etc/apache2/} in the system apache2; disabling it again"
  case "$path" in
    */mods-enabled/*) $SUDO a2dismod -q -f "$name" ;;
    */conf-enabled/*) $SUDO a2disconf -q "$name" ;;
    */sites-enabled/*) $SUDO a2dissite -q "$name" ;;
  esac
done
