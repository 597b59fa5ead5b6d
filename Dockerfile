# Neural Playground. CPU:  docker build -t playground .
# GPU (CuPy, needs the NVIDIA runtime):  docker build --build-arg GPU=1 -t playground-gpu .
FROM python:3.11-slim

ARG GPU=0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLAYGROUND_HOST=0.0.0.0 \
    PLAYGROUND_PORT=8000 \
    PLAYGROUND_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY frontend ./frontend
COPY static ./static
COPY templates ./templates
# Editable, so the page's files are found beside the package (backend/api/routes_pages.py).
RUN pip install --no-cache-dir -e . \
    && if [ "$GPU" = "1" ]; then pip install --no-cache-dir -e ".[gpu]"; fi \
    && useradd --create-home --uid 10001 playground \
    && mkdir -p /data && chown playground /data

USER playground
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PLAYGROUND_PORT\"]}/healthz', timeout=4)"
CMD ["sh", "-c", "playground serve --device ${PLAYGROUND_DEVICE:-cpu}"]
