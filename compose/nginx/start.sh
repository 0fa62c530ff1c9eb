#!/bin/sh
# Render the egress upstream from GEMINI_UPSTREAM and the per-client rate limit from
# GEMINI_CLIENT_RATE / GEMINI_CLIENT_BURST, then become nginx.
#
# The official nginx image can render envsubst templates, Debian's nginx cannot, so this
# plain-sh step does the substitutions the config needs, on both. Every value is checked
# (a bare scheme://host[:port] URL, a rate, a number) before it is written into nginx syntax.
set -eu

upstream="${GEMINI_UPSTREAM:-http://fake-gemini:8001}"
upstream="${upstream%/}"
if ! printf '%s' "$upstream" | grep -Eq '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$'; then
    echo "api-proxy: GEMINI_UPSTREAM must look like http(s)://host[:port], got '$upstream'" >&2
    exit 64
fi

rate="${GEMINI_CLIENT_RATE:-5r/s}"
burst="${GEMINI_CLIENT_BURST:-10}"
if ! printf '%s' "$rate" | grep -Eq '^[1-9][0-9]{0,5}r/[sm]$'; then
    echo "api-proxy: GEMINI_CLIENT_RATE must look like 5r/s or 300r/m, got '$rate'" >&2
    exit 64
fi
if ! printf '%s' "$burst" | grep -Eq '^[0-9]{1,6}$'; then
    echo "api-proxy: GEMINI_CLIENT_BURST must be a whole number, got '$burst'" >&2
    exit 64
fi

mkdir -p /tmp/nginx
printf 'set $gemini_upstream "%s";\n' "$upstream" > /tmp/nginx/upstream.conf
printf 'limit_req_zone $client_key zone=clients:10m rate=%s;\n' "$rate" > /tmp/nginx/limit-zone.conf
printf 'limit_req zone=clients burst=%s nodelay;\n' "$burst" > /tmp/nginx/limit-apply.conf
echo "api-proxy: egress :8090 -> $upstream; per client key: $rate, burst $burst" >&2

exec nginx -e stderr -c /etc/nginx/gemini/nginx.conf -g 'daemon off;'
