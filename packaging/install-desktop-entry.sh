#!/usr/bin/env bash
# Adds GAN Studio to the desktop's application menu for the current user (Linux, XDG).
# Run after installing the package, e.g. `make run` once or `pip install ganstudio`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
install -Dm644 "$here/ganstudio.desktop" "$data/applications/ganstudio.desktop"
install -Dm644 "$here/../resources/icons/ganstudio.svg" \
  "$data/icons/hicolor/scalable/apps/ganstudio.svg"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "GAN Studio added to the application menu ($data/applications/ganstudio.desktop)."
