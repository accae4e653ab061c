#!/usr/bin/env bash
# Runs the compose file's `scale` profile for real on this host: Redis, the bot and two CPU workers
# (the commented `worker-cpu` service), all from the one stylebot image, and checks that
#   - Redis and both workers turn healthy (the image's HEALTHCHECK: `stylebot healthcheck`);
#   - the bot runs with [queue] backend = "redis" and, with no Discord to reach, retries its login
#     without a traceback;
#   - one real job goes bot image -> Redis -> a worker container -> result (scale_smoke_job.py,
#     run inside the bot's container);
#   - a worker killed (SIGKILL) in the middle of a job: the other worker takes the job over;
#   - Redis killed and restarted while a job waits and no worker runs (it waits in the bot's line,
#     not in Redis) and while a job runs (the append-only file keeps it): both finish, once.
# Not part of .ci/run: the image build downloads several GB.
#
# The compose file is used as it is, with two adjustments for a host without an NVIDIA GPU, made
# on a copy: its `deploy:` blocks (GPU reservations) are deleted, as the README's "CPU-only mode"
# tells users to do, and an override file swaps worker-gpu0 for the commented `worker-cpu` service
# (taken from the compose file's own comment), names the image under test, lowers
# `[queue] reclaim_after_s` to 10 s and makes the health checks run more often.
# No registry is needed: when `redis:7-bookworm` (the compose file's Redis image) is not present
# locally, a stand-in with that tag is built from debian:bookworm-slim and Debian's redis-server,
# and removed again at the end (KEEP_REDIS_STAND_IN=1 keeps it). A real redis:7-bookworm is used
# as it is and never removed.
#
# Environment: DOCKER (default: docker), COMPOSE (default: "$DOCKER compose" if that works, else
# docker-compose), IMAGE (default: stylebot:smoke, shared with docker-smoke.sh), SKIP_BUILD=1 to
# use IMAGE as it is, TORCH_REQUIREMENT (passed to the build as that build argument),
# SMOKE_CONFIG (default: config.example.toml), KILL_ITERATIONS (default: 200; the job that loses
# its worker must run long enough to be killed in the middle).
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
IMAGE=${IMAGE:-stylebot:smoke}
KILL_ITERATIONS=${KILL_ITERATIONS:-200}
if [ -n "${COMPOSE:-}" ]; then
  read -r -a COMPOSE_CMD <<<"$COMPOSE"
elif "$DOCKER" compose version >/dev/null 2>&1; then
  COMPOSE_CMD=("$DOCKER" compose)
else
  COMPOSE_CMD=(docker-compose)
fi
REDIS_IMAGE=redis:7-bookworm  # as in docker-compose.yml; checked below
PROJECT=stylebot-scale-smoke-$$
WORK=$(mktemp -d)
JOB_SCRIPT=scripts/scale_smoke_job.py
BUILT_REDIS_STAND_IN=0
BG_PID=""
STARTED_AT=$SECONDS

COMPOSE_ARGS=(-p "$PROJECT" -f "$WORK/docker-compose.yml" -f "$WORK/worker-cpu.yml" -f "$WORK/smoke.yml" --profile scale)
compose() { "${COMPOSE_CMD[@]}" "${COMPOSE_ARGS[@]}" "$@"; }

cleanup() {
  local code=$?
  if [ -n "$BG_PID" ]; then kill "$BG_PID" 2>/dev/null || true; fi
  if [ "$code" != 0 ] && [ -f "$WORK/smoke.yml" ]; then
    printf '\n== logs (the run failed)\n' >&2
    compose ps >&2 || true
    compose logs --no-color --tail 40 >&2 || true
  fi
  if [ -f "$WORK/smoke.yml" ]; then
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  fi
  if [ "$BUILT_REDIS_STAND_IN" = 1 ] && [ "${KEEP_REDIS_STAND_IN:-0}" != 1 ]; then
    "$DOCKER" rmi "$REDIS_IMAGE" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s  [%ds]\n' "$*" "$((SECONDS - STARTED_AT))"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# Waits up to $3 seconds for container $1's health status to become $2.
wait_for_health() {
  local status=""
  for _ in $(seq "$3"); do
    status=$("$DOCKER" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")
    [ "${status#* }" = "$2" ] && return 0
    # Waiting for healthy: a crash or a failed check is final, no need to wait on.
    case "$status" in restarting* | exited* | dead* | "running unhealthy") [ "$2" = healthy ] && break ;; esac
    sleep 1
  done
  "$DOCKER" logs --tail 20 "$1" >&2 || true
  fail "container ${1:0:12} is '$status', not '$2' (waited up to $3 s)"
}

# Waits up to $3 seconds for a line matching the extended regex $2 in file $1; prints it.
wait_for_line() {
  local line=""
  for _ in $(seq "$3"); do
    line=$(grep -E -m1 "$2" "$1" || true)
    [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
    sleep 1
  done
  printf -- '--- %s\n' "$1" >&2
  cat "$1" >&2
  fail "no line matching '$2' after $3 s"
}

# The ids of a service's containers, one a line.
containers() { compose ps -q "$1"; }

# Runs scale_smoke_job.py in the bot's container with arguments "$@", in the background, its
# output in $WORK/job.log; sets BG_PID. The outer timeout bounds it even if `exec` hangs.
start_job() {
  : >"$WORK/job.log"
  timeout 600 "${COMPOSE_CMD[@]}" "${COMPOSE_ARGS[@]}" exec -T stylebot python - "$@" <"$JOB_SCRIPT" >"$WORK/job.log" 2>&1 &
  BG_PID=$!
}

# Waits for the background job; fails unless it printed a result.
finish_job() {
  local code=0
  wait "$BG_PID" || code=$?
  BG_PID=""
  grep -v '^progress ' "$WORK/job.log" | sed 's/^/  /'
  [ "$code" = 0 ] || { cat "$WORK/job.log" >&2; fail "the job script exited $code"; }
  grep -q '^result ' "$WORK/job.log" || fail "no result line"
}

# ---------------------------------------------------------------------------------------------

step "images"
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || fail "SKIP_BUILD=1 but there is no image $IMAGE"
  ok "using $IMAGE as it is"
else
  build_args=()
  [ -n "${TORCH_REQUIREMENT:-}" ] && build_args=(--build-arg "TORCH_REQUIREMENT=$TORCH_REQUIREMENT")
  began=$SECONDS
  "$DOCKER" build "${build_args[@]}" -t "$IMAGE" .
  ok "built $IMAGE in $((SECONDS - began)) s"
fi
ok "$IMAGE: $("$DOCKER" image inspect -f '{{.Id}} {{.Size}} bytes' "$IMAGE")"

grep -q "^    image: $REDIS_IMAGE\$" docker-compose.yml || fail "docker-compose.yml's redis image is not $REDIS_IMAGE"
if "$DOCKER" image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
  ok "$REDIS_IMAGE is here already; using it as it is"
else
  began=$SECONDS
  BUILT_REDIS_STAND_IN=1
  # A stand-in for the official image, as the compose file uses it: redis-server on PATH, data in
  # /data, not root, protected mode off (the official image compiles it off: it runs without a
  # config file and is reached over the container network).
  "$DOCKER" build -t "$REDIS_IMAGE" - >"$WORK/redis-build.log" 2>&1 <<'EOF' \
    || { tail -30 "$WORK/redis-build.log" >&2; fail "building the Redis stand-in failed"; }
FROM debian:bookworm-slim
LABEL org.stylebot.smoke="stand-in for the official redis image, built by scripts/docker-scale-smoke.sh"
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data \
    && printf '%s\n' '#!/bin/sh' \
        'if [ "$1" = redis-server ]; then set -- "$@" --protected-mode no; fi' \
        'exec "$@"' >/usr/local/bin/entrypoint.sh \
    && chmod 755 /usr/local/bin/entrypoint.sh
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["redis-server"]
EOF
  ok "built a stand-in $REDIS_IMAGE from Debian's redis-server in $((SECONDS - began)) s ($("$DOCKER" run --rm "$REDIS_IMAGE" redis-server --version | cut -d' ' -f1-3))"
fi

step "compose files for this GPU-less host"
cp docker-compose.yml "$WORK/docker-compose.original.yml"
# "On a host without an NVIDIA GPU, delete the deploy: block" (README, CPU-only mode): every
# service-level `deploy:` and the lines indented under it. Compose cannot drop keys in an override.
awk '/^    deploy:/ { skip = 1; next } skip && /^      / { next } { skip = 0; print }' \
  docker-compose.yml >"$WORK/docker-compose.yml"
! grep -q nvidia "$WORK/docker-compose.yml" || fail "a GPU reservation is left"
if diff "$WORK/docker-compose.original.yml" "$WORK/docker-compose.yml" | grep -q '^>'; then
  fail "deleting the deploy blocks changed more than that"
fi
ok "deleted $(diff "$WORK/docker-compose.original.yml" "$WORK/docker-compose.yml" | grep -c '^<') lines of deploy blocks; nothing else differs"
# The commented worker-cpu service, uncommented as the README says to use it.
{
  echo "services:"
  sed -n '/^  # worker-cpu:$/,/^  #     replicas: [0-9]*$/p' docker-compose.yml | sed -e 's/^  # /  /' -e 's/^  #$//'
} >"$WORK/worker-cpu.yml"
[ "$(wc -l <"$WORK/worker-cpu.yml")" -ge 10 ] || fail "the commented worker-cpu service was not found in docker-compose.yml"
cat >"$WORK/smoke.yml" <<EOF
# The smoke test's own settings, over docker-compose.yml and worker-cpu.yml.
services:
  stylebot:
    image: $IMAGE
  worker-gpu0:
    image: $IMAGE
    scale: 0  # no GPU here: worker-cpu replaces it
  worker-cpu:
    image: $IMAGE
    environment:
      STYLEBOT_QUEUE_RECLAIM_AFTER_S: "10"  # a killed worker's job moves after 10 s, not 60
    healthcheck:
      interval: 5s  # the image's check, more often
  redis:
    healthcheck:
      interval: 2s
EOF
# Step 1 of the README's "When one machine is not enough": backend = "redis" in config.toml, the
# file the bot and the workers share. (Not STYLEBOT_QUEUE_BACKEND in .env: .env is the bot's
# env_file only, the workers would not see it.)
sed 's/^backend = "memory"$/backend = "redis"/' "${SMOKE_CONFIG:-config.example.toml}" >"$WORK/config.toml"
chmod 0644 "$WORK/config.toml"
grep -q '^backend = "redis"$' "$WORK/config.toml" || fail "could not set [queue] backend = \"redis\" in the config"
# The bot cannot reach Discord here: a token that is never checked.
printf '%s\n' 'DISCORD_TOKEN=smoke-test-not-a-real-token' >"$WORK/.env"
(cd "$WORK" && "${COMPOSE_CMD[@]}" -f docker-compose.original.yml --profile scale config -q)
compose config -q
ok "compose config validates (the original and the adjusted files); project $PROJECT"

step "docker compose --profile scale up -d"
began=$SECONDS
compose up -d --no-build
mapfile -t WORKERS < <(containers worker-cpu)
BOT=$(containers stylebot)
REDIS=$(containers redis)
[ "${#WORKERS[@]}" = 2 ] || fail "${#WORKERS[@]} worker-cpu containers, expected 2"
[ -z "$(containers worker-gpu0)" ] || fail "worker-gpu0 runs"
ok "up in $((SECONDS - began)) s: redis ${REDIS:0:12}, stylebot ${BOT:0:12}, workers ${WORKERS[0]:0:12} ${WORKERS[1]:0:12}"

began=$SECONDS
wait_for_health "$REDIS" healthy 60
ok "redis healthy after $((SECONDS - began)) s; $("$DOCKER" exec "$REDIS" redis-cli INFO persistence | grep -E '^aof_enabled' | tr -d '\r')"
for worker in "${WORKERS[@]}"; do
  wait_for_health "$worker" healthy 240
  ok "worker ${worker:0:12} healthy after $((SECONDS - began)) s: $("$DOCKER" exec "$worker" stylebot healthcheck --config /config/config.toml | head -1)"
done
for worker in "${WORKERS[@]}"; do
  "$DOCKER" exec "$worker" cat /tmp/stylebot/heartbeat.json | grep -q '"role": *"worker"' \
    || fail "worker ${worker:0:12}'s heartbeat does not have the worker role"
done
ok "the workers' heartbeats have role \"worker\""

step "the bot: Redis backend, no Discord"
for _ in $(seq 60); do
  compose logs --no-color stylebot >"$WORK/bot.log" 2>&1
  grep -q 'cannot reach Discord' "$WORK/bot.log" && break
  sleep 1
done
grep -m1 'cannot reach Discord' "$WORK/bot.log" || { cat "$WORK/bot.log" >&2; fail "the bot did not log 'cannot reach Discord'"; }
[ "$("$DOCKER" inspect -f '{{.State.Running}} {{.RestartCount}}' "$BOT")" = "true 0" ] || fail "the bot is not running, or restarted"
"$DOCKER" exec "$BOT" python -c \
  "from bot.config import load_config; assert load_config('/config/config.toml').queue.backend == 'redis'"
ok "the bot runs, retrying its login; its config has [queue] backend = \"redis\""
# The job script reads the events stream as the bot does; the real bot must not be reading it too.
# It starts its queue only once logged in, so it holds no Redis connection here.
BOT_IP=$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$BOT")
! "$DOCKER" exec "$REDIS" redis-cli CLIENT LIST | grep -q "addr=$BOT_IP:" || fail "the bot ($BOT_IP) is connected to Redis"
ok "the bot ($BOT_IP) holds no Redis connection (its queue starts once it is logged in)"

step "one job: bot image -> Redis -> worker -> result"
began=$SECONDS
start_job --size 64 --iterations 5 --timeout 240
finish_job
ok "one job through Redis in $((SECONDS - began)) s"

step "a worker killed in the middle of a job: the other one finishes it"
began=$SECONDS
start_job --size 64 --iterations "$KILL_ITERATIONS" --timeout 400
first=$(wait_for_line "$WORK/job.log" '^progress ' 120)
# "progress JOB 20/200 on HOST (DEVICE, WORKER-ID)": HOST is the worker container's short id.
victim_host=${first##* on }
victim_host=${victim_host%% *}
victim_id=${first##*, }
victim_id=${victim_id%)}
victim=""
for worker in "${WORKERS[@]}"; do
  case "$worker" in "$victim_host"*) victim=$worker ;; esac
done
[ -n "$victim" ] || fail "the job runs on '$first', not on one of this project's workers"
"$DOCKER" kill -s KILL "$victim" >/dev/null
! grep -q '^result ' "$WORK/job.log" || fail "the job finished before its worker was killed: raise KILL_ITERATIONS"
ok "killed worker ${victim:0:12} (SIGKILL) at '${first%% on *}', $((SECONDS - began)) s after the job was queued"
finish_job
moved_to=$(grep '^started ' "$WORK/job.log" | tail -1)
case "$moved_to" in *"$victim_id"*) fail "the job finished on the killed worker" ;; esac
ok "the job moved and finished in $((SECONDS - began)) s ($moved_to)"
# The killed worker: Docker does not restart a container stopped by `docker kill` (restart policy
# unless-stopped); start it again.
ok "killed worker now: $("$DOCKER" inspect -f '{{.State.Status}}, restarted {{.RestartCount}} times' "$victim")"
"$DOCKER" start "$victim" >/dev/null
wait_for_health "$victim" healthy 240
ok "worker ${victim:0:12} healthy again"

step "Redis killed and restarted while a job waits and no worker runs"
began=$SECONDS
compose stop -t 30 worker-cpu >/dev/null 2>&1 || fail "compose stop worker-cpu failed"
ok "workers stopped"
start_job --size 64 --iterations 5 --timeout 300
queued=$(wait_for_line "$WORK/job.log" '^queued ' 60)
job_id=${queued#queued }
job_id=${job_id%%:*}
prefix=$(sed -n "s/^queue: .*, prefix '\(.*\)'\$/\1/p" "$WORK/job.log")
[ -n "$prefix" ] || fail "the job script did not say its key prefix"
job_key="$prefix:job:$job_id"
# A waiting job lives in the bot's fair line, its images on the bot's disk: they go to Redis only
# when a worker is free to take them, so a Redis restart cannot lose it.
[ "$("$DOCKER" exec "$REDIS" redis-cli EXISTS "$job_key" | tr -d '\r')" = 0 ] || fail "$job_key is in Redis already"
ok "job $job_id waits in the bot's line; nothing of it is in Redis yet"
"$DOCKER" kill -s KILL "$REDIS" >/dev/null
sleep 1
"$DOCKER" start "$REDIS" >/dev/null
wait_for_health "$REDIS" healthy 60
ok "Redis killed (SIGKILL) and started again"
compose start worker-cpu >/dev/null 2>&1 || fail "compose start worker-cpu failed"
finish_job
ok "the job finished after the workers came back, $((SECONDS - began)) s after it was queued"

step "Redis killed and restarted while a job runs: the append-only file keeps it"
began=$SECONDS
start_job --size 64 --iterations "$KILL_ITERATIONS" --timeout 400
wait_for_line "$WORK/job.log" '^progress ' 180 >/dev/null
job_id=$(sed -n 's/^queued \([^:]*\):.*/\1/p' "$WORK/job.log")
job_key="$prefix:job:$job_id"
running_status=$("$DOCKER" exec "$REDIS" redis-cli HGET "$job_key" status | tr -d '\r')
[ "$running_status" = running ] || fail "$job_key has status '$running_status', not running"
"$DOCKER" kill -s KILL "$REDIS" >/dev/null
! grep -q '^result ' "$WORK/job.log" || fail "the job finished before Redis was killed: raise KILL_ITERATIONS"
sleep 1
"$DOCKER" start "$REDIS" >/dev/null
wait_for_health "$REDIS" healthy 60
status=$("$DOCKER" exec "$REDIS" redis-cli HGET "$job_key" status | tr -d '\r')
case "$status" in running | done) ;; *) fail "after Redis' restart $job_key has status '$status'" ;; esac
ok "Redis killed (SIGKILL) mid-job and started again; $job_key is still there, status $status"
finish_job
[ "$(grep -c '^result ' "$WORK/job.log")" = 1 ] || fail "not exactly one result"
ok "the job finished with one result, $((SECONDS - began)) s after it was queued"

step "logs: no tracebacks"
compose logs --no-color >"$WORK/all.log" 2>&1
if grep -n 'Traceback' "$WORK/all.log" >&2; then
  fail "a traceback in the services' logs (above)"
fi
grep -c 'cannot reach Discord' "$WORK/all.log" | sed 's/^/the bot logged "cannot reach Discord" this many times: /'
ok "no traceback in the logs of redis, stylebot and the workers"

printf '\nall scale smoke checks passed in %d s\n' "$((SECONDS - STARTED_AT))"
