#!/usr/bin/env bash
# Installs the client programs `npm run test:clients` drives, from Debian's
# packages, when any is missing. Needs root (CI runs as root); otherwise it
# names what to install and stops.
set -euo pipefail

packages=(
  postgresql-client
  python3-psycopg2 python3-psycopg python3-sqlalchemy
  libpostgresql-jdbc-java default-jdk-headless
  pgcli python3-pexpect
  odbc-postgresql unixodbc python3-pyodbc
)

missing=()
for package in "${packages[@]}"; do
  # psql may come from a versioned package (postgresql-client-15) without the metapackage.
  [ "$package" = postgresql-client ] && command -v psql >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test:clients needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
