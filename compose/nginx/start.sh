#!/bin/sh
# Render the egress upstream from GEMINI_UPSTREAM, then become nginx.
#
# The official nginx image can render envsubst templates, Debian's nginx cannot, so this
# plain-sh step does the one substitution the config needs, on both. The value is checked
# to be a bare scheme://host[:port] URL before it is written into nginx syntax.
set -eu

upstream="${GEMINI_UPSTREAM:-http://fake-gemini:8001}"
upstream="${upstream%/}"
if ! printf '%s' "$upstream" | grep -Eq '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$'; then
    echo "api-proxy: GEMINI_UPSTREAM must look like http(s)://host[:port], got '$upstream'" >&2
    exit 64
fi

mkdir -p /tmp/nginx
printf 'set $gemini_upstream "%s";\n' "$upstream" > /tmp/nginx/upstream.conf
echo "api-proxy: egress :8090 -> $upstream" >&2

exec nginx -e stderr -c /etc/nginx/gemini/nginx.conf -g 'daemon off;'
