# The Axonize GPU exporter. Build: docker build -t axonize-exporter .
# Live GPUs:  docker run --gpus all -p 9947:9947 -v /proc:/host/proc:ro -v /sys:/host/sys:ro -v /:/host/root:ro \
#                axonize-exporter --path.procfs /host/proc --path.sysfs /host/sys --path.rootfs /host/root
# Captures:   docker run -p 9947:9947 -v /path/to/captures:/captures:ro axonize-exporter --replay /captures/gpus.xml
# Sidecar:    docker run --no-healthcheck -p 9948:9948 --entrypoint axonize-sidecar axonize-exporter --target http://vllm:8000
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY axonize ./axonize
COPY exporter ./exporter
COPY sidecar ./sidecar
COPY gateway ./gateway
COPY bench ./bench
COPY usage ./usage
COPY advisor ./advisor
COPY rules ./rules
COPY alerts ./alerts
COPY grafana ./grafana
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin axonize
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
EXPOSE 9947 9948
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:9947/-/healthy', timeout=2)" || exit 1
ENTRYPOINT ["axonize-exporter"]
