#!/usr/bin/env bash
# Makes a versioned tarball of a built vigil: dist/vigil-VERSION-linux-ARCH.tar.gz, holding the
# installed layout (bin/vigil, share/vigil/…, share/doc/vigil/…) under vigil-VERSION/, and
# LICENSE and README.md at its top. Unpack it anywhere and run bin/vigil.
# Usage: scripts/dist.sh BINARY [OUTDIR]
set -euo pipefail
bin=${1:?usage: scripts/dist.sh BINARY [OUTDIR]}
root="$(cd "$(dirname "$0")/.." && pwd)"
out=${2:-$root/dist}
version=$("$bin" version | awk '{print $2}')
arch=$(uname -m)
name="vigil-$version"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$root/scripts/install.sh" "$bin" "$stage/$name" >/dev/null
# Without the debugging symbols (a release binary halves): the tarball is for running.
if command -v strip >/dev/null; then strip "$stage/$name/bin/vigil"; fi
cp "$root/LICENSE" "$root/README.md" "$stage/$name/"
mkdir -p "$out"
tarball="$out/$name-linux-$arch.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$tarball.partial" "$name"
mv -f "$tarball.partial" "$tarball"
echo "$tarball"
