#!/usr/bin/env bash
# Builds the image and checks it in real containers: non-root, the engine stylizes the bundled
# example, stylebot refuses to start without a token, the healthcheck fails without a heartbeat and
# follows the gateway state in the heartbeat, and /data is writable and outlives its container.
# Not part of .ci/run: the build downloads several GB.
#
# Environment: DOCKER (default: docker), IMAGE (default: stylebot:smoke),
# TORCHVISION_WEIGHTS=1 to build and check the variant with torchvision's weights baked in,
# SMOKE_GPU=1 on a host with an NVIDIA GPU and the container toolkit to check CUDA too,
# SMOKE_CONFIG (default: config.example.toml) for the config file mounted into the containers.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-stylebot:smoke}
TORCHVISION_WEIGHTS=${TORCHVISION_WEIGHTS:-0}
RUN_ID=stylebot-smoke-$$
VOLUME=$RUN_ID-data
WORK=$(mktemp -d)

cleanup() {
  "$DOCKER" rm -f "$RUN_ID-gateway-down" "$RUN_ID-gateway-up" "$RUN_ID-restart" >/dev/null 2>&1 || true
  "$DOCKER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# The configuration a new user starts from; mounted read-only where the image expects it.
cp "${SMOKE_CONFIG:-config.example.toml}" "$WORK/config.toml"
chmod 0644 "$WORK/config.toml"
CONFIG_MOUNT=(-v "$WORK/config.toml:/config/config.toml:ro")

# Waits up to $3 seconds for container $1's health status to become $2.
wait_for_health() {
  local status=""
  for _ in $(seq "$3"); do
    status=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$1")
    [ "$status" = "$2" ] && return 0
    sleep 1
  done
  fail "$1 is '$status', not '$2', after $3 s"
}

step "build $IMAGE (TORCHVISION_WEIGHTS=$TORCHVISION_WEIGHTS)"
"$DOCKER" build --build-arg "TORCHVISION_WEIGHTS=$TORCHVISION_WEIGHTS" -t "$IMAGE" .
ok "built: $("$DOCKER" image inspect -f '{{.Id}} {{.Size}} bytes' "$IMAGE")"

step "docker-compose.yml is valid"
cp docker-compose.yml "$WORK/"
: > "$WORK/.env"
if "$DOCKER" compose version >/dev/null 2>&1; then
  (cd "$WORK" && "$DOCKER" compose -f docker-compose.yml config -q)
else
  (cd "$WORK" && docker-compose -f docker-compose.yml config -q)
fi
ok "compose config validates"

step "runs as a non-root user"
uid=$("$DOCKER" run --rm "$IMAGE" id -u)
[ "$uid" != 0 ] || fail "the container runs as root"
ok "uid $uid (USER $("$DOCKER" image inspect -f '{{.Config.User}}' "$IMAGE"))"

step "torch and the device it will use"
"$DOCKER" run --rm "$IMAGE" python -c \
  "import torch; print('torch', torch.__version__, 'CUDA build', torch.version.cuda, 'cuda available:', torch.cuda.is_available())"
if [ "${SMOKE_GPU:-0}" = 1 ]; then
  "$DOCKER" run --rm --gpus all "$IMAGE" python -c \
    "import torch; assert torch.cuda.is_available(); print('GPU:', torch.cuda.get_device_name(0))"
  ok "the GPU is visible to torch"
fi
if [ "$TORCHVISION_WEIGHTS" = 1 ]; then
  "$DOCKER" run --rm --network none "$IMAGE" python -c \
    "from torchvision.models import vgg19, VGG19_Weights; vgg19(weights=VGG19_Weights.IMAGENET1K_V1); print('torchvision weights load offline')"
fi

step "a fresh /data volume belongs to the bot's user"
"$DOCKER" volume create "$VOLUME" >/dev/null
owner=$("$DOCKER" run --rm -v "$VOLUME:/data" "$IMAGE" stat -c '%u' /data)
[ "$owner" = "$uid" ] || fail "/data is owned by uid $owner, the bot runs as $uid"
ok "/data owned by uid $owner"

step "stylecore stylizes the bundled example (offline, writes to /data)"
"$DOCKER" run --rm --network none -v "$VOLUME:/data" "$IMAGE" \
  stylecore examples/cat.png examples/starry_night.jpg -o /data/cat_starry.png --size 128 --iterations 20 --quiet
"$DOCKER" run --rm -v "$VOLUME:/data" "$IMAGE" python -c \
  "from PIL import Image; im = Image.open('/data/cat_starry.png'); assert max(im.size) == 128, im.size; print('output', im.format, im.size)"
ok "stylized image written"

step "stylebot without a token exits 2 with one clear line"
set +e
message=$("$DOCKER" run --rm --network none -v "$VOLUME:/data" "${CONFIG_MOUNT[@]}" "$IMAGE" 2>&1)
code=$?
set -e
printf '%s\n' "$message"
[ "$code" = 2 ] || fail "exit code $code, expected 2"
[ "$(printf '%s\n' "$message" | wc -l)" = 1 ] || fail "expected one line"
case "$message" in *DISCORD_TOKEN*) ;; *) fail "the message does not name DISCORD_TOKEN" ;; esac
ok "exit 2"

step "stylebot healthcheck without a gateway reports unhealthy"
set +e
message=$("$DOCKER" run --rm --network none -v "$VOLUME:/data" "${CONFIG_MOUNT[@]}" "$IMAGE" \
  stylebot healthcheck --config /config/config.toml 2>&1)
code=$?
set -e
printf '%s\n' "$message"
[ "$code" = 1 ] || fail "exit code $code, expected 1"
ok "exit 1"

step "the engine's HEALTHCHECK: unhealthy with the gateway down, healthy with it up"
# A start period of 0s would mean "the image's"; 1s makes the first failure count.
HEALTH_FLAGS=(--health-interval 2s --health-retries 1 --health-start-period 1s)
# Stands in for the bot: writes its heartbeat where the config says, as the bot's hook does,
# reporting the gateway as $GATEWAY says and the worker as alive.
HEARTBEAT_WRITER="
import os, time
from bot.config import load_config
from bot.ops.health import write_heartbeat
path = load_config('/config/config.toml').heartbeat_path
while True:
    write_heartbeat(path, gateway_connected=os.environ['GATEWAY'] == 'up', worker_last_beat=time.time())
    time.sleep(1)
"
for gateway in down up; do
  name=$RUN_ID-gateway-$gateway
  expected=$([ "$gateway" = up ] && echo healthy || echo unhealthy)
  "$DOCKER" run -d --name "$name" "${HEALTH_FLAGS[@]}" --network none -e "GATEWAY=$gateway" \
    -v "$VOLUME:/data" "${CONFIG_MOUNT[@]}" "$IMAGE" python -c "$HEARTBEAT_WRITER" >/dev/null
  wait_for_health "$name" "$expected" 90
  ok "gateway $gateway: $expected ($("$DOCKER" inspect -f '{{(index .State.Health.Log 0).Output}}' "$name" | head -1))"
  "$DOCKER" rm -f "$name" >/dev/null
done

step "/data is writable and survives restarts and new containers"
"$DOCKER" run -d --name "$RUN_ID-restart" -v "$VOLUME:/data" "$IMAGE" sleep 300 >/dev/null
"$DOCKER" exec "$RUN_ID-restart" python -c "
import sqlite3
with sqlite3.connect('/data/smoke.sqlite3') as db:
    db.execute('CREATE TABLE kept (word TEXT)')
    db.execute(\"INSERT INTO kept VALUES ('still here')\")
"
"$DOCKER" restart "$RUN_ID-restart" >/dev/null
"$DOCKER" exec "$RUN_ID-restart" python -c \
  "import sqlite3; print('after restart:', sqlite3.connect('/data/smoke.sqlite3').execute('SELECT word FROM kept').fetchone()[0])"
"$DOCKER" rm -f "$RUN_ID-restart" >/dev/null
"$DOCKER" run --rm -v "$VOLUME:/data" "$IMAGE" python -c \
  "import sqlite3, os; print('new container:', sqlite3.connect('/data/smoke.sqlite3').execute('SELECT word FROM kept').fetchone()[0], sorted(os.listdir('/data')))"
ok "state kept on the volume"

printf '\nall smoke checks passed\n'
