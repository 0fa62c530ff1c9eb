# REFERENCE ONLY: the naive build `nox -s bench` measures containers/Dockerfile against.
# Never use it for anything else. It is the usual first attempt, so the benchmark can show
# what the real Dockerfile buys:
#   - one stage on the same base, so build tools (pip, setuptools, the build backend) stay in;
#   - the whole context copied before installing, so any source edit re-runs the install
#     and changes every layer after the COPY;
#   - the downloaded wheels stay in the image (offline: the copied wheelhouse; online: pip's
#     cache under /root/.cache), no bytecode care, runs as root.
# Offline it builds the same way as the real image: wheels from build/wheelhouse (copied in
# by `COPY . .`) with --network=none; INDEX_OPTIONS is set by the benchmark.
ARG PYTHON_BASE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b
# hadolint ignore=DL3006
FROM ${PYTHON_BASE} AS naive
ENV PATH=/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /app
COPY . .
ARG INDEX_OPTIONS=""
# hadolint ignore=DL3013,DL3042
RUN python3 -m venv /venv && /venv/bin/pip install ${INDEX_OPTIONS} .
EXPOSE 8000
CMD ["python", "-m", "gemini_service"]
