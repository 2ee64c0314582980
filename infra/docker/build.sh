#!/usr/bin/env bash
# Build, tag and push clipflow's images. Run from anywhere; the build context is the repository.
#
#   infra/docker/build.sh images [--registry R] [--tag T] [--push] [--base-cpu IMG]
#                                [--base-gpu IMG] [cpu|gpu ...]
#       Builds infra/docker/<kind>.Dockerfile as R/clipflow-<kind>:T (default: both kinds,
#       clipflow-<kind>:<project version>), and with --push pushes each tag. --base-* builds
#       FROM another image (default: each Dockerfile's own, python:3.11-slim-bookworm and
#       NVIDIA's CUDA runtime). Environment: REGISTRY, TAG, PUSH=1 as the options;
#       BUILD_NETWORK (default host) is the network of the build's RUN steps.
#   infra/docker/build.sh base [--cache DIR] [--name IMG]
#       A local Debian bookworm base with Debian's python3 (3.11), made with debootstrap and
#       docker import, for hosts that reach Debian's mirror and PyPI but no image registry.
#       The root filesystem's tarball is kept in DIR and reused (root only). The host's own
#       CAs in /usr/local/share/ca-certificates are trusted in it, as behind a TLS proxy.
#   infra/docker/build.sh run [DOCKER-RUN-OPTIONS... --] IMAGE [COMMAND...]
#       docker run --rm on the host network (never a bridge network's private addresses).
#
# Every command prints each docker/debootstrap call before running it; DRY_RUN=1 only prints.
# Needs a BuildKit-capable docker: `docker buildx` when the client has it, else the classic
# client with DOCKER_BUILDKIT=1 (the Dockerfiles use RUN --mount and per-Dockerfile ignores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DOCKER=${DOCKER:-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf 'build.sh: %s\n' "$*" >&2; }
run() {
  printf '+ %s\n' "$*" >&2
  [ "${DRY_RUN:-0}" = 1 ] || "$@"
}
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

project_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n 1
}

# "buildx build" where the client has buildx, else the classic client's BuildKit.
build_cmd() {
  if [ "${DRY_RUN:-0}" != 1 ] && "$DOCKER" buildx version >/dev/null 2>&1; then
    echo "$DOCKER buildx build --load"
  else
    # docker 23+ without buildx refuses this and says so; 20.10 builds with its own BuildKit
    echo "env DOCKER_BUILDKIT=1 $DOCKER build"
  fi
}

images() {
  local registry=${REGISTRY:-} tag=${TAG:-} push=${PUSH:-0} base_cpu="" base_gpu="" kinds=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --registry) registry=$2; shift 2 ;;
      --tag) tag=$2; shift 2 ;;
      --push) push=1; shift ;;
      --base-cpu) base_cpu=$2; shift 2 ;;
      --base-gpu) base_gpu=$2; shift 2 ;;
      cpu|gpu) kinds+=("$1"); shift ;;
      *) say "unknown argument: $1"; usage ;;
    esac
  done
  [ ${#kinds[@]} -gt 0 ] || kinds=(cpu gpu)
  tag=${tag:-$(project_version)}
  if [ "$push" = 1 ] && [ -z "$registry" ]; then
    say "--push needs --registry (or REGISTRY): where should the images go?"; exit 2
  fi
  local kind ref base
  for kind in "${kinds[@]}"; do
    ref="clipflow-$kind:$tag"
    [ -z "$registry" ] || ref="${registry%/}/$ref"
    base=$base_cpu
    [ "$kind" = gpu ] && base=$base_gpu
    local args=(-f "$ROOT/infra/docker/$kind.Dockerfile" -t "$ref" --network "${BUILD_NETWORK:-host}")
    [ -z "$base" ] || args+=(--build-arg "BASE_IMAGE=$base")
    # shellcheck disable=SC2046  # build_cmd is words by design
    run $(build_cmd) "${args[@]}" "$ROOT"
    [ "$push" != 1 ] || run "$DOCKER" push "$ref"
    echo "$ref"
  done
}

base() {
  local cache=${CLIPFLOW_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clipflow-images}
  local name=clipflow-base:bookworm-py311
  while [ $# -gt 0 ]; do
    case "$1" in
      --cache) cache=$2; shift 2 ;;
      --name) name=$2; shift 2 ;;
      *) say "unknown argument: $1"; usage ;;
    esac
  done
  local tarball="$cache/bookworm-python3.tar"
  if [ ! -s "$tarball" ]; then
    [ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }
    local rootfs="$cache/rootfs"
    run mkdir -p "$cache"
    run rm -rf "$rootfs"
    run debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$MIRROR"
    run rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin
    # The host's own CAs (a TLS-inspecting proxy's, say): the image's ca-certificates adds
    # them to its bundle, which pip and uv are pointed at below, so the build reaches PyPI.
    local cas=(/usr/local/share/ca-certificates/*.crt)
    if [ -e "${cas[0]}" ]; then
      run mkdir -p "$rootfs/usr/local/share/ca-certificates"
      run cp "${cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
    fi
    run tar -C "$rootfs" --numeric-owner -cf "$tarball.part" .
    run mv "$tarball.part" "$tarball"
    run rm -rf "$rootfs"
  fi
  if [ "${DRY_RUN:-0}" = 1 ] || ! "$DOCKER" image inspect "$name" >/dev/null 2>&1; then
    local bundle=/etc/ssl/certs/ca-certificates.crt
    run "$DOCKER" import --change 'CMD ["python3"]' --change "ENV SSL_CERT_FILE=$bundle" \
      --change "ENV PIP_CERT=$bundle" "$tarball" "$name"
  fi
  echo "$name"
}

run_in() {
  local opts=()
  if printf '%s\n' "$@" | grep -qx -- --; then
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
  fi
  [ $# -ge 1 ] || usage
  run "$DOCKER" run --rm --network host "${opts[@]}" "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  images) images "$@" ;;
  base) base "$@" ;;
  run) run_in "$@" ;;
  *) usage ;;
esac
