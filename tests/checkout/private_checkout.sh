#!/bin/sh
# The test command must pass from a checkout that only root can read (a clone in /root is mode
# 0700; apache2's children run as www-data). Copies the integration suite into a fresh mode-0700
# directory, as a checkout there would be, and runs the tests that need www-data to read the
# servers' files (DocumentRoot, htpasswd, the config) with the build dir inside it.
# Usage: private_checkout.sh SOURCE_DIR MODULE [pytest args...]
set -eu
src=$1 module=$2
shift 2
top=$(mktemp -d /tmp/idmb-private-checkout-XXXXXX)
trap 'rm -rf "$top"' EXIT
chmod 0700 "$top"
mkdir -p "$top/tests" "$top/build"
cp -r "$src/tests/integration" "$top/tests/"
if runuser -u www-data -- test -x "$top"; then
    echo "www-data can enter $top: this test would prove nothing" >&2
    exit 1
fi
cd "$top"
IDMB_MODULE=$module IDMB_BUILD_DIR=$top/build \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" \
    tests/integration/test_tls_auth.py tests/integration/test_mapping.py tests/integration/test_vhosts.py
