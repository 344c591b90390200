# syntax=docker/dockerfile:1
# rcommerce: gRPC on 50051, REST bridge on 8080.
#   docker build -t rcommerce .
#   docker run -p 8080:8080 -p 50051:50051 -v rcommerce-data:/app/var rcommerce
# With no settings it serves the embedded SQLite database in /app/var, migrated on first
# start. Configure with RCOMMERCE_* variables (see rcommerce.toml), e.g.
# RCOMMERCE_DATABASE__URL and RCOMMERCE_CACHE__URL; docker-compose.yml shows PostgreSQL + Redis.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies change less often than the code: resolve them in their own layer first.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
    > /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY rcommerce ./rcommerce
RUN pip install --no-deps . \
    && python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RCOMMERCE_SERVER__HOST=0.0.0.0
RUN groupadd --system --gid 10001 rcommerce \
    && useradd --system --uid 10001 --gid rcommerce --home-dir /app --shell /usr/sbin/nologin rcommerce \
    && mkdir -p /app/var \
    && chown -R rcommerce:rcommerce /app
COPY --from=builder /opt/venv /opt/venv
COPY --chown=rcommerce:rcommerce rcommerce.toml /app/rcommerce.toml
WORKDIR /app
USER rcommerce
VOLUME ["/app/var"]
EXPOSE 50051 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rcommerce"]
CMD ["serve"]
