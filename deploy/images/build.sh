#!/usr/bin/env bash
# Builds the four service images with buildah, offline, as OCI archives: one multi-platform
# image (an OCI index of linux/amd64 and linux/arm64) per service, plus a CycloneDX SBOM per
# service and platform, generated from the module list linked into the binary.
#
# Called by `make images`, which first cross-compiles the static binaries into
# $BIN_DIR/<os>_<arch>/<service> with the image tag linked in as the version. Everything
# buildah needs is set up here (no Docker engine, no registry, no system-wide configuration):
# its own storage (vfs, which needs no kernel overlay support), a containers.conf that sets no
# ulimits (some machines refuse to raise them) and the runc runtime.
#
# Environment: TAG (image tag, e.g. 0.1.0), COMMIT, SERVICES, PLATFORMS (linux/amd64 ...),
# REGISTRY (the name the archives carry), BIN_DIR (binaries), WORK_DIR (buildah state and
# build context), OUT_DIR (archives and SBOMs), SBOM_TOOL (cyclonedx-gomod),
# SOURCE_DATE_EPOCH (image timestamps; default the last commit's time, so rebuilding the same
# commit gives the same layers).
set -euo pipefail

: "${TAG:?TAG is the image tag}" "${BIN_DIR:?}" "${WORK_DIR:?}" "${OUT_DIR:?}" "${SBOM_TOOL:?}"
COMMIT=${COMMIT:-unknown}
SERVICES=${SERVICES:-gateway dispatcher persister aibridge}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
REGISTRY=${REGISTRY:-ghcr.io/frontdesk-chat/frontdesk}
here=$(cd "$(dirname "$0")" && pwd)

command -v buildah >/dev/null 2>&1 || {
  echo "make images: buildah is not installed (Debian/Ubuntu: apt-get install buildah runc)" >&2
  exit 1
}
runtime=$(command -v runc || true)
[ -n "$runtime" ] || { echo "make images: runc is not installed (apt-get install runc)" >&2; exit 1; }

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

mkdir -p "$WORK_DIR" "$OUT_DIR"
WORK_DIR=$(cd "$WORK_DIR" && pwd)
OUT_DIR=$(cd "$OUT_DIR" && pwd)
# containers.conf of this build only: no default ulimits (buildah would otherwise try to raise
# the open-file limit, which unprivileged or constrained hosts refuse), runc, host network,
# cgroupfs. CONTAINERS_CONF makes buildah read this file instead of the system's.
cat >"$WORK_DIR/containers.conf" <<CONF
[containers]
default_ulimits = []
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
runc = ["$runtime"]
CONF
export CONTAINERS_CONF="$WORK_DIR/containers.conf"
# An empty registries.conf: nothing is ever pulled, and no short name is resolved.
printf 'unqualified-search-registries = []\n' >"$WORK_DIR/registries.conf"
export CONTAINERS_REGISTRIES_CONF="$WORK_DIR/registries.conf"
buildah=(buildah --storage-driver vfs --root "$WORK_DIR/storage" --runroot "$WORK_DIR/run")
# The storage is this build's alone: start it empty, so earlier builds do not pile up in it.
"${buildah[@]}" rmi --all --force >/dev/null 2>&1 || true

# The build context: binaries by platform and the root filesystem every image shares.
ctx="$WORK_DIR/context"
rm -rf "$ctx"
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -s "$f" ]; then ca=$f; break; fi
done
[ -n "$ca" ] || { echo "make images: no CA bundle found (install ca-certificates)" >&2; exit 1; }
cp "$ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
cat >"$ctx/rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$ctx/rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
platforms=()
for p in $PLATFORMS; do
  os=${p%/*} arch=${p#*/}
  mkdir -p "$ctx/${os}_${arch}"
  for s in $SERVICES; do
    [ -x "$BIN_DIR/${os}_${arch}/$s" ] || { echo "make images: $BIN_DIR/${os}_${arch}/$s missing (make build)" >&2; exit 1; }
    cp "$BIN_DIR/${os}_${arch}/$s" "$ctx/${os}_${arch}/$s"
  done
  platforms+=("$p")
done
# Every file in the image is owned by root and not writable by the user that runs it.
chmod -R go-w "$ctx/rootfs/etc" "$ctx"/*_*/

for s in $SERVICES; do
  name="$REGISTRY/$s:$TAG"
  list="localhost/frontdesk-build/$s:$TAG"
  echo "== image $name (${platforms[*]})"
  "${buildah[@]}" build --quiet --pull=never --network host \
    --platform "$(IFS=,; echo "${platforms[*]}")" --manifest "$list" \
    --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false \
    --build-arg SERVICE="$s" --build-arg VERSION="$TAG" --build-arg COMMIT="$COMMIT" \
    --build-arg CREATED="$created" \
    -f "$here/Containerfile" "$ctx" >/dev/null
  archive="$OUT_DIR/$s-$TAG.oci.tar"
  rm -f "$archive"
  "${buildah[@]}" manifest push --quiet --all --format oci "$list" "oci-archive:$archive:$name"
  for p in "${platforms[@]}"; do
    os=${p%/*} arch=${p#*/}
    sbom="$OUT_DIR/$s-$TAG-${os}-${arch}.cdx.json"
    SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH "$SBOM_TOOL" bin -json -version "$TAG" -output "$sbom" "$ctx/${os}_${arch}/$s"
  done
  echo "   $archive"
done
