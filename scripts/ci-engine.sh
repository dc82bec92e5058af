#!/usr/bin/env bash
# ci-engine.sh start|stop|env -- a private Docker Engine for Shoal's engine/executor tests.
#
# Installs nothing: expects `dockerd` (Debian docker.io) and `/bin/busybox` (busybox-static).
# Runs dockerd on its own socket, data root, exec root and pidfile so that it never touches
# another engine on the machine, with --iptables=false --ip-forward=false (an engine that
# manages iptables sets the FORWARD policy to DROP, which breaks other networking here) and
# --bridge=none (no docker0; containers get network mode "none" unless told otherwise).
# Then imports a tiny test image built from busybox-static.
#
# On success `start` prints the lines to export, e.g.
#   export SHOAL_TEST_ENGINE=unix:///run/shoal-ci/docker.sock
#   export SHOAL_TEST_IMAGE=shoal-busybox:test
# Overridable: SHOAL_CI_DIR (state, default /run/shoal-ci), SHOAL_CI_DATA (data root,
# default /var/lib/shoal-ci-docker), SHOAL_CI_TIMEOUT (seconds, default 90), SHOAL_TEST_IMAGE.
set -euo pipefail

CI_DIR=${SHOAL_CI_DIR:-/run/shoal-ci}
DATA=${SHOAL_CI_DATA:-/var/lib/shoal-ci-docker}
TIMEOUT=${SHOAL_CI_TIMEOUT:-90}
IMAGE=${SHOAL_TEST_IMAGE:-shoal-busybox:test}
SOCK="$CI_DIR/docker.sock"
PIDFILE="$CI_DIR/docker.pid"
LOG="$CI_DIR/dockerd.log"
APPLETS="sh sleep echo cat httpd wget nc true false ls env kill ps printf id hostname date yes head tail timeout seq mkdir rm touch grep test"

log() { printf '[ci-engine %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
dk() { docker -H "unix://$SOCK" "$@"; }

engine_pid() {  # pid of our dockerd, empty when not alive
  [ -f "$PIDFILE" ] || return 0
  local p
  p=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q dockerd "/proc/$p/comm" 2>/dev/null \
     && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
    echo "$p"
  fi
}

wait_engine() {
  local s
  s=$(date +%s)
  until curl_ping; do
    [ $(( $(date +%s) - s )) -lt "$TIMEOUT" ] || return 1
    sleep 0.2
  done
}

curl_ping() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -fsS --unix-socket "$SOCK" http://engine/_ping 2>/dev/null || true)" = OK ]
  else
    dk version >/dev/null 2>&1
  fi
}

print_env() {
  echo "export SHOAL_TEST_ENGINE=unix://$SOCK"
  echo "export SHOAL_TEST_IMAGE=$IMAGE"
}

build_image() {
  [ -x /bin/busybox ] || die "/bin/busybox missing (apt-get install -y busybox-static)"
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/shoal-ci-rootfs.XXXXXX")
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/www"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local a
  for a in $APPLETS; do ln -s busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'shoal test page' > "$root/www/index.html"
  tar -C "$root" -c . | dk import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
  rm -rf "$root"
}

start() {
  command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install -y docker.io)"
  command -v docker >/dev/null 2>&1 || die "docker CLI not found"
  mkdir -p "$CI_DIR" "$DATA" "$CI_DIR/exec"
  if [ -n "$(engine_pid)" ]; then
    log "dockerd already running (pid $(engine_pid))"
  else
    [ -f "$CI_DIR/daemon.json" ] || printf '{\n  "deprecated-key-path": "%s/key.json"\n}\n' "$CI_DIR" > "$CI_DIR/daemon.json"
    rm -f "$PIDFILE" "$SOCK"
    # containerd: dockerd starts its own (managed) one under exec-root when none is given.
    setsid dockerd \
      --config-file "$CI_DIR/daemon.json" \
      --data-root "$DATA" \
      --exec-root "$CI_DIR/exec" \
      --pidfile "$PIDFILE" \
      -H "unix://$SOCK" \
      --iptables=false --ip-forward=false --ip-masq=false \
      --bridge=none \
      --cgroup-parent /shoal-ci \
      --log-level "${SHOAL_CI_LOG_LEVEL:-warn}" \
      >>"$LOG" 2>&1 </dev/null &
    if ! wait_engine; then
      tail -n 40 "$LOG" >&2 || true
      die "dockerd did not answer on $SOCK within ${TIMEOUT}s"
    fi
    log "dockerd pid $(engine_pid) up on unix://$SOCK"
  fi
  if ! dk image inspect "$IMAGE" >/dev/null 2>&1; then
    build_image
    log "imported $IMAGE"
  fi
  print_env
}

stop() {
  local p
  p=$(engine_pid)
  if [ -n "$p" ]; then
    # containers of the test image first, so that nothing is left in the cgroup
    local ids
    ids=$(dk ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || dk rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$p"
    local i
    for i in $(seq 1 150); do
      [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || break
      sleep 0.2
    done
    if [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
      log "dockerd $p did not stop; SIGKILL"
      kill -KILL "$p" || true
    fi
    log "dockerd $p stopped"
  else
    log "dockerd not running"
  fi
  rm -f "$PIDFILE" "$SOCK"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
