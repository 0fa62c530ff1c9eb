# The offline stand-in for the pinned nginx:1.27-bookworm, built by `invoke bootstrap` on
# hosts without Docker Hub: Debian's nginx-light on the Python stand-in (one shared base
# layer). compose/ brings its own nginx.conf and start script, so behaviour is the same on
# both; curl is there for the compose healthcheck, as in the official image.
ARG BASE=gemini-local/python:3.11-slim-bookworm
# hadolint ignore=DL3006
FROM ${BASE}
# Versions come from Debian stable (security updates included), like the official image's.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light curl \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
# nginx finishes in-flight requests on SIGQUIT (what the official image uses too).
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
