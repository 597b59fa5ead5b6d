# Neural Playground. CPU:  docker build -t playground .
# GPU (CuPy with NVIDIA's CUDA library wheels; the host needs the NVIDIA driver and
# container toolkit):  docker build --build-arg GPU=1 -t playground-gpu .
# podman: add --format docker, or the HEALTHCHECK is dropped (OCI images have none).
# BASE: any Debian-like image with Python >= 3.11 and its venv module (README: building
# without a registry).
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG GPU=0
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PLAYGROUND_HOST=0.0.0.0 \
    PLAYGROUND_PORT=8000 \
    PLAYGROUND_DATA_DIR=/data

WORKDIR /app
# The dependencies first, from pyproject.toml alone: a change to the sources reuses this
# layer instead of installing every dependency again.
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['gpu'] * ('$GPU' == '1')))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt "setuptools>=68" wheel \
    && rm /tmp/requirements.txt \
    && useradd --create-home --uid 10001 playground \
    && mkdir -p /data && chown playground /data

COPY README.md ./
COPY backend ./backend
COPY frontend ./frontend
COPY static ./static
COPY templates ./templates
# Editable, so the page's files are found beside the package (backend/api/routes_pages.py);
# no dependency and no download here.
RUN pip install --no-deps --no-build-isolation -e .

USER playground
VOLUME ["/data"]
EXPOSE 8000
# Reads the settings as the server does (PLAYGROUND_*, and the flags of `playground serve`
# as process 1), so a port given either way is the one checked.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["playground", "healthcheck"]
# Exec form: the server is process 1 and gets the SIGTERM of `docker stop` (a shell there
# ignored it, and the server was killed 10 s later without saving). PLAYGROUND_DEVICE
# (cpu, gpu, auto) picks the device.
CMD ["playground", "serve"]
