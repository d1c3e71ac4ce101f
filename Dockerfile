# The appliance as a container image. Multi-stage: a build stage compiles llama-cpp-python
# (with CUDA for the GPU image) into wheels, the runtime stage installs those wheels and
# nothing else. Models are NOT in the image: they are mounted read-only at /app/models.
#
#   GPU (default):  docker build -t appliance:VERSION .
#   CPU only:       docker build --build-arg GPU=0 -t appliance:VERSION-cpu .
#
# Why deadsnakes: the appliance needs Python >= 3.11 and NVIDIA's ubuntu22.04 images ship
# 3.10. Installing python3.11 from the deadsnakes PPA keeps the same Python minor version as
# the CPU image (python:3.11-slim) and as the test suite, while keeping NVIDIA's CUDA
# devel/runtime pair (same CUDA version in both stages). Both base images and the PPA are
# only reached while building, on the connected machine; the box only ever `docker load`s.
# Needs BuildKit (the default builder since Docker 23) for `RUN --mount`.

ARG GPU=1
# CUDA image tag without the -devel/-runtime flavour; the driver on the box must support it
# (CUDA 12.4: driver >= 550, or >= 525 through CUDA minor-version compatibility).
ARG CUDA_VERSION=12.4.1
ARG CUDA_UBUNTU=ubuntu22.04
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build stages
FROM nvidia/cuda:${CUDA_VERSION}-devel-${CUDA_UBUNTU} AS build-gpu1
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        python3.11 python3.11-dev python3.11-venv build-essential cmake ninja-build git \
 && rm -rf /var/lib/apt/lists/*
# Real GPU architectures to compile kernels for: no GPU is visible while building, so
# "native" detection cannot work. 75 T4, 80 A100, 86 A10/RTX 30xx, 89 L4/L40/RTX 40xx, 90 H100.
ARG CUDA_ARCHITECTURES="75;80;86;89;90"
# GGML_NATIVE=OFF: no -march=native, the image must run on a CPU other than the build host's.
# libcuda.so.1 comes from the driver at run time (the NVIDIA container toolkit mounts it);
# while building, executables link against the toolkit's stub.
ENV BUILD_CMAKE_ARGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES} -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined" \
    LD_LIBRARY_PATH=/usr/local/cuda/lib64/stubs
RUN ln -sf /usr/local/cuda/lib64/stubs/libcuda.so /usr/local/cuda/lib64/stubs/libcuda.so.1 \
 && python3.11 -m venv /opt/build-venv

FROM ${PYTHON_IMAGE} AS build-gpu0
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build git \
 && rm -rf /var/lib/apt/lists/*
ENV BUILD_CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN python3.11 -m venv /opt/build-venv

FROM build-gpu${GPU} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A build machine behind a TLS-inspecting proxy, or with an internal package mirror, passes
# its CA bundle as a BuildKit secret and the index as a build arg (never stored in a layer):
#   DOCKER_BUILDKIT=1 docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt \
#       --build-arg PIP_INDEX=https://pypi.mirror.lan/simple ...
# (make_bundle.sh: PIP_CA=FILE PIP_INDEX=URL). build-pip is pip with them when given.
ARG PIP_INDEX=""
RUN printf '%s\n' '#!/bin/sh' \
        '[ -s /run/secrets/pip_ca ] && export PIP_CERT=/run/secrets/pip_ca' \
        '[ -n "$PIP_INDEX" ] && export PIP_INDEX_URL="$PIP_INDEX"' \
        'exec /opt/build-venv/bin/pip "$@"' >/usr/local/bin/build-pip \
 && chmod 0755 /usr/local/bin/build-pip
RUN --mount=type=secret,id=pip_ca build-pip install --upgrade pip wheel
WORKDIR /src
# llama-cpp-python first (the slow compile, its own cached layer: editing the appliance does
# not recompile llama.cpp), then the project and every dependency as wheels in /wheels; the
# runtime stage installs from there with --no-index. Keep the pin in step with pyproject.toml.
ARG LLAMA_CPP_SPEC="llama-cpp-python>=0.3.16,<0.4"
# With GGML_NATIVE=OFF llama.cpp assumes AVX, AVX2, FMA and F16C (any x86 CPU since 2013-15);
# for an older CPU: --build-arg CPU_FLAGS="-DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
# (slower, runs anywhere). `appliance doctor` names the instructions a CPU lacks.
ARG CPU_FLAGS=""
# constraints.txt: the exact versions the tests passed with (scripts/lock.sh).
COPY constraints.txt ./
RUN --mount=type=secret,id=pip_ca \
    CMAKE_ARGS="${BUILD_CMAKE_ARGS} ${CPU_FLAGS}" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    build-pip wheel --no-deps --no-binary llama-cpp-python -c constraints.txt -w /wheels \
        "${LLAMA_CPP_SPEC}"
COPY pyproject.toml ./
COPY appliance ./appliance
RUN --mount=type=secret,id=pip_ca \
    build-pip wheel --find-links /wheels -c constraints.txt -w /wheels .

# ---------------------------------------------------------------- runtime stages
FROM nvidia/cuda:${CUDA_VERSION}-runtime-${CUDA_UBUNTU} AS runtime-gpu1
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv libgomp1 \
 && apt-get purge -y --auto-remove software-properties-common gpg-agent \
 && rm -rf /var/lib/apt/lists/*
# Which GPU capabilities the NVIDIA container toolkit gives the container.
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility

FROM ${PYTHON_IMAGE} AS runtime-gpu0
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

FROM runtime-gpu${GPU} AS runtime
ARG GPU=1
ARG APPLIANCE_UID=10001
# OCR for scanned PDFs and pictures: Tesseract with English (in tesseract-ocr), orientation
# detection and these language packs (e.g. add tesseract-ocr-deu; ocr.languages: eng+deu).
ARG OCR_PACKAGES="tesseract-ocr-osd tesseract-ocr-chi-sim"
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr ${OCR_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3.11 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-index \
        --find-links /wheels appliance \
 && /opt/venv/bin/appliance --help >/dev/null
RUN groupadd --gid "${APPLIANCE_UID}" appliance \
 && useradd --uid "${APPLIANCE_UID}" --gid appliance --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin appliance \
 && mkdir -p /app/kb /app/data /app/models /app/scripts \
 && chown appliance:appliance /app/data /app/kb
COPY --chmod=0755 scripts/entrypoint.sh /app/scripts/entrypoint.sh
WORKDIR /app
# The container layout is fixed whatever the mounted appliance.yaml says about paths; the
# server listens on every interface inside the container (compose decides what the host
# exposes). Environment variables (.env via compose) override the config file.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    APPLIANCE_CONFIG=/app/appliance.yaml \
    APPLIANCE_PATHS__KB=/app/kb \
    APPLIANCE_PATHS__DATA=/app/data \
    APPLIANCE_PATHS__MODELS=/app/models \
    APPLIANCE_SERVER__HOST=0.0.0.0 \
    APPLIANCE_SERVER__PORT=8000 \
    APPLIANCE_IMAGE_GPU=${GPU} \
    APPLIANCE_IN_CONTAINER=1 \
    HF_HUB_OFFLINE=1
LABEL org.opencontainers.image.title="appliance" \
      org.opencontainers.image.description="Offline knowledge appliance (models mounted at /app/models)"
USER appliance
EXPOSE 8000
VOLUME ["/app/data"]
# /ready answers 200 once the models are loaded, the index is open and the start-up sync is
# done. Python's urllib is the checker: the image has no curl. urlopen raises on a 503.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/scripts/entrypoint.sh"]
CMD []
