#!/usr/bin/env bash
# Install the Debian packages OpenZone needs, only those missing. Usage: system-deps.sh run|test|ci
set -euo pipefail
need=(fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0)
# npm vendors the front-end assets; any Node.js with npm will do, Debian's if none is there.
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
case "${1:-run}" in
  run) ;;
  test) need+=(chromium) ;;
  ci) need+=(chromium postgresql) ;;
  *) echo "usage: $0 run|test|ci" >&2; exit 2 ;;
esac
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "run as root or install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
