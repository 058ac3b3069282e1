#!/usr/bin/env bash
# Builds the base image SAM runs the functions on, for machines that cannot
# pull public.ecr.aws/lambda/provided:al2023 (no registry is reachable here
# or on CI), and prints its name. Usage: sam-base-image.sh arm64|x86_64
#
# The image is a small root file system from Debian packages: busybox-static
# of the function's architecture (SAM's own Dockerfile on top of this image
# runs `mv` and `chmod` to install its emulator), the machine's CA bundle,
# /tmp and the Lambda directories. The functions are static Go binaries and
# need nothing else. It is built `FROM scratch` for that platform, and is
# named workflows-local/lambda-provided, not the public.ecr.aws tag, so a
# machine that can pull still gets the real image.
#
# On an x86-64 host an arm64 image needs arm64 emulation: qemu-user-static
# and binfmt-support, installed here (root) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:?usage: sam-base-image.sh arm64|x86_64}
case "$arch" in
  arm64) deb_arch=arm64 platform=linux/arm64 ;;
  x86_64) deb_arch=amd64 platform=linux/amd64 ;;
  *) echo "sam-base-image: unknown architecture $arch" >&2; exit 2 ;;
esac
# The recipe's version: a change to this script builds the image again.
recipe=$(sha256sum "$0" | cut -c1-16)
image=workflows-local/lambda-provided:al2023-$arch

log() { echo "sam-base-image: $*" >&2; }

ensure_emulation() {
  [ "$deb_arch" = "$(dpkg --print-architecture 2>/dev/null || echo unknown)" ] && return
  [ "$arch" = arm64 ] || { log "no emulation for $arch on this host"; exit 1; }
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    if [ "$(id -u)" != 0 ]; then
      log "arm64 emulation is not registered: install qemu-user-static and binfmt-support (root), or use LAMBDA_GOARCH=amd64"
      exit 1
    fi
    if ! command -v qemu-aarch64-static >/dev/null || ! command -v update-binfmts >/dev/null; then
      log "installing qemu-user-static and binfmt-support (Debian) for arm64 emulation"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support >&2
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable qemu-aarch64 >&2 || true
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { log "could not register arm64 emulation"; exit 1; }
  fi
}

# Emulation first, every time: an image built before a reboot (which drops
# binfmt registrations) would not run without it.
ensure_emulation
if [ "$(docker image inspect -f '{{index .Config.Labels "workflows.recipe"}}' "$image" 2>/dev/null || true)" = "$recipe" ]; then
  echo "$image"
  exit 0
fi

work=.data/sam/base-image-$arch
rm -rf "$work" && mkdir -p "$work/rootfs" "$work/apt/lists/partial" "$work/apt/archives/partial"
# The package comes from Debian's archive for that architecture, fetched
# with apt's own sources list into a private state directory, so the
# machine's dpkg architectures and package lists are left as they were.
apt_opts=(-o "APT::Architecture=$deb_arch" -o "APT::Architectures::=$deb_arch"
  -o "Dir::State::Lists=$PWD/$work/apt/lists" -o "Dir::Cache::Archives=$PWD/$work/apt/archives"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
log "fetching busybox-static:$deb_arch (Debian)"
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$work" && apt-get "${apt_opts[@]}" download "busybox-static:$deb_arch" >&2)
dpkg-deb -x "$work"/busybox-static_*.deb "$work/rootfs"

root=$work/rootfs
rm -rf "$root/usr/share"
for applet in sh mv chmod cp rm ls cat mkdir ln env echo; do ln -sf busybox "$root/bin/$applet"; done
mkdir -p "$root/tmp" "$root/var/task" "$root/var/runtime" "$root/opt" "$root/etc/ssl/certs" "$root/etc/pki/tls/certs"
chmod 1777 "$root/tmp"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  ln -sf ../../../ssl/certs/ca-certificates.crt "$root/etc/pki/tls/certs/ca-bundle.crt"
fi
printf 'root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nsbx_user1051:x:990:\n' >"$root/etc/group"
cat >"$work/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=en_US.UTF-8 TZ=:/etc/localtime LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
LABEL workflows.recipe=$recipe
WORKDIR /var/task
EOF
log "building $image ($platform) from scratch"
# The classic builder: BuildKit is a separate plugin Debian's docker.io may
# lack, and SAM's own build on top of this image uses the classic API too.
if ! DOCKER_BUILDKIT=0 docker build -q --platform "$platform" -t "$image" "$work" >"$work/build.log" 2>&1; then
  log "docker build failed:"; cat "$work/build.log" >&2; exit 1
fi
# The emulator works: the image's shell runs.
docker run --rm --platform "$platform" --network none "$image" sh -c 'echo ok' | grep -qx ok ||
  { log "the image's shell does not run on this host"; exit 1; }
echo "$image"
