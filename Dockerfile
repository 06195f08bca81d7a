# modeldepot server image: build a wheel, then install it alone into a slim runtime.
#   docker build -t modeldepot .
#   docker run -p 8470:8470 -v modeldepot-data:/data modeldepot
# The embedded default (SQLite + local blobs under /data) needs nothing else; set
# MODELDEPOT_DATABASE_URL and MODELDEPOT_BLOBSTORE=s3 (see docs/deployment.md) to scale out.

# Dependencies come from the pinned, hashed lock (requirements/server.txt), never from
# pyproject.toml's ranges: the image holds exactly what CI tested.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/server.txt ./requirements/server.txt
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin modeldepot \
    && mkdir -p /data && chown modeldepot /data
COPY --from=build /wheels /wheels
COPY --from=build /src/requirements/server.txt /wheels/server.txt
RUN pip install --no-cache-dir --no-compile --require-hashes -r /wheels/server.txt \
    && pip install --no-cache-dir --no-compile --no-deps /wheels/*.whl && rm -rf /wheels
USER modeldepot
ENV MODELDEPOT_HOST=0.0.0.0 \
    MODELDEPOT_PORT=8470 \
    MODELDEPOT_DATA_DIR=/data \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8470
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8470/healthz', timeout=2); sys.exit(0)"]
# SIGTERM: the server stops accepting, finishes in-flight requests (up to 30 s), exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["modeldepot"]
CMD ["serve"]
