#!/usr/bin/env bash
# Builds the Consort container image with no registry: a root filesystem made
# here (the host-built `consort` binary, exactly the shared libraries `ldd`
# lists, passwd/group for a non-root user) copied into `FROM scratch`.
#
#   bash deploy/build-image.sh            # release build, image consort:latest
#   CONSORT_IMAGE_PROFILE=debug bash deploy/build-image.sh
#   CONSORT_IMAGE=consort:dev bash deploy/build-image.sh
#   CONSORT_BINARY=path/to/consort bash deploy/build-image.sh   # no cargo build
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${CONSORT_IMAGE_PROFILE:-release}
IMAGE=${CONSORT_IMAGE:-consort:latest}
if [ -n "${CONSORT_BINARY:-}" ]; then
  BIN=$CONSORT_BINARY
  PROFILE="prebuilt"
elif [ "$PROFILE" = release ]; then
  bash deploy/prereqs.sh
  cargo build --release -p consort
  BIN=${CARGO_TARGET_DIR:-target}/release/consort
else
  bash deploy/prereqs.sh
  cargo build -p consort
  BIN=${CARGO_TARGET_DIR:-target}/debug/consort
fi

CTX=${CONSORT_IMAGE_CONTEXT:-target/image}
rm -rf "$CTX"
ROOT="$CTX/rootfs"
OWNED="$CTX/owned"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc" "$ROOT/tmp" "$OWNED/crypto" "$OWNED/data"
chmod 1777 "$ROOT/tmp"
cp "$BIN" "$ROOT/usr/local/bin/consort"
strip "$ROOT/usr/local/bin/consort"

# The dynamic loader and every library the binary links, at the same paths.
copy_lib() { cp --parents -L "$1" "$ROOT/"; }
ldd "$BIN" | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}' | sort -u | while read -r lib; do
  copy_lib "$lib"
done
# Name resolution (container DNS) through glibc's NSS.
libdir=$(dirname "$(ldd "$BIN" | awk '/libc.so/ {print $3}')")
for nss in libnss_dns.so.2 libnss_files.so.2 libresolv.so.2; do
  if [ -e "$libdir/$nss" ]; then copy_lib "$libdir/$nss"; fi
done
cat > "$ROOT/etc/nsswitch.conf" <<'NSS'
hosts: files dns
NSS
cat > "$ROOT/etc/passwd" <<'PW'
root:x:0:0:root:/:/sbin/nologin
consort:x:10001:10001:consort:/data:/sbin/nologin
PW
cat > "$ROOT/etc/group" <<'GR'
root:x:0:
consort:x:10001:
GR
mkdir -p "$ROOT/etc/consort"
cp deploy/compose/network.toml "$ROOT/etc/consort/network.toml"
cp deploy/Dockerfile "$CTX/Dockerfile"

docker build -q -t "$IMAGE" "$CTX" >/dev/null
size=$(docker image inspect "$IMAGE" --format '{{.Size}}')
echo "built $IMAGE ($PROFILE): $((size / 1024 / 1024)) MiB"
