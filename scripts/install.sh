#!/usr/bin/env bash
# Installs a built vigil with its read-only files into PREFIX:
#   PREFIX/bin/vigil
#   PREFIX/share/vigil/Resources/{Views,Locales,Data}   templates, catalogues, demo, OpenAPI, password list
#   PREFIX/share/vigil/Public                           static files
#   PREFIX/share/vigil/systemd/vigil.service            a sandboxed unit (docs/operations.md)
#   PREFIX/share/vigil/vigil.env.example                every setting, commented
#   PREFIX/share/doc/vigil/                             LICENSE, README.md, SECURITY.md, docs/
# The binary finds share/vigil beside its bin directory, whatever the working directory.
# Usage: scripts/install.sh BINARY PREFIX
set -euo pipefail
bin=${1:?usage: scripts/install.sh BINARY PREFIX}
prefix=${2:?usage: scripts/install.sh BINARY PREFIX}
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$bin" ] || { echo "install: $bin is not an executable (build it first)" >&2; exit 1; }
share="$prefix/share/vigil"
install -d "$prefix/bin" "$share" "$share/systemd" "$prefix/share/doc/vigil"
# Replace the tree whole, so that a template removed upstream does not linger.
rm -rf "$share/Resources.new" "$share/Public.new"
cp -R "$root/Resources" "$share/Resources.new"
cp -R "$root/Public" "$share/Public.new"
rm -rf "$share/Resources" "$share/Public"
mv "$share/Resources.new" "$share/Resources"
mv "$share/Public.new" "$share/Public"
install -m 0644 "$root/dist/vigil.service" "$share/systemd/vigil.service"
install -m 0644 "$root/dist/vigil.env.example" "$share/vigil.env.example"
install -m 0644 "$root/LICENSE" "$root/README.md" "$root/SECURITY.md" "$prefix/share/doc/vigil/"
rm -rf "$prefix/share/doc/vigil/docs" && cp -R "$root/docs" "$prefix/share/doc/vigil/docs"
# The binary last, through a temporary name: a running copy is never overwritten in place.
install -m 0755 "$bin" "$prefix/bin/.vigil.new"
mv -f "$prefix/bin/.vigil.new" "$prefix/bin/vigil"
echo "Installed vigil $("$prefix/bin/vigil" version | awk '{print $2}') in $prefix (resources in $share)."
