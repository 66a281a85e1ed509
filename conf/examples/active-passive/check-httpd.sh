#!/bin/sh
# keepalived's vrrp_script for the active/passive front ends (keepalived.conf): exit 0 when
# the local httpd answers its status page with the balancer list, 1 otherwise. That answer
# needs the parent and a child alive, the module loaded and the config in force. Members'
# health is left out on purpose: with every Tomcat down both front ends would fail, and
# no front end would hold the address to answer 503.
# The timeout is short: an httpd too busy to answer in 1 s counts as down.
URL="http://127.0.0.1/balancer-status?format=json"

body=$(curl --silent --show-error --fail --max-time 1 "$URL") || exit 1
case "$body" in
  *'"balancers"'*) exit 0 ;;
esac
echo "check-httpd: $URL answered without a balancer list" >&2
exit 1
