# scimwatch in a container: `python -m server` as a non-root user, the data folder a volume at /data.
# Not built or run in CI (no container engine there); tests/test_deploy.py checks this file statically.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCIMWATCH_HOST=0.0.0.0 \
    SCIMWATCH_PORT=8080 \
    SCIMWATCH_DATA_DIR=/data

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY server/ server/
# server/web/static/scim-banner.js is a link to the widget's one source file.
COPY widget/scim-banner.js widget/scim-banner.js

# scimwatch refuses a data folder that is not its own or that others can write to: /data is created
# here, owned by the user it runs as and private, and a new named volume starts as a copy of it.
RUN groupadd --system --gid 10001 scimwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin scimwatch \
    && mkdir -m 700 /data \
    && chown scimwatch:scimwatch /data
USER scimwatch
VOLUME /data
EXPOSE 8080

# 503 (a stalled scheduler, an unwritable data folder, failing mail) or no answer: unhealthy.
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

CMD ["python", "-m", "server"]
