# syntax=docker/dockerfile:1
# The gateway's image: gunicorn -c gunicorn.conf.py wsgi:app as a non-root user (README: Deploy).
#   docker build -t llm-gateway .
#   docker compose run --rm gateway flask db upgrade    # migrations: an explicit step, never at start
# CI lints this file with hadolint (tests/test_deploy_files.py); the image build is not run there.
ARG PYTHON_VERSION=3.11

# Build stage: the runtime dependencies (requirements.txt up to "# Tests and tooling") in a venv.
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements.txt .
RUN sed '/^# Tests and tooling/,$d' requirements.txt > requirements-runtime.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements-runtime.txt

# Runtime stage: the venv, the code, and nothing of the build.
FROM python:${PYTHON_VERSION}-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=wsgi \
    GATEWAY_BIND=0.0.0.0:8000 \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin gateway
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY gunicorn.conf.py wsgi.py gateway.example.yaml ./
COPY server ./server
COPY migrations ./migrations
COPY app ./app
# instance/: the request-log spool and the dashboard's secret_key (a volume in compose.yaml);
# the only directory the gateway writes besides /tmp (its Prometheus multiprocess files).
RUN mkdir -p /app/instance/spool && chown -R gateway:gateway /app/instance
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['GATEWAY_BIND'].rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=4)"]
# SIGTERM (docker stop) drains in-flight requests for up to graceful_timeout (60 s): give the
# container a longer stop timeout (compose.yaml: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
