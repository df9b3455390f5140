#!/usr/bin/env bash
# Install the PostgreSQL server binaries (initdb, pg_ctl, postgres) that tests/test_tune_postgres.py
# needs to start a throwaway server. Idempotent; installs from apt (as root) only when they are missing.
# It does not create or start a cluster: the test runs its own in a temporary directory.
set -euo pipefail

have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_initdb; then
  echo "PostgreSQL server binaries already present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "initdb not found and no apt-get: install the PostgreSQL server by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
# postgresql-common would create and start a `main` cluster; the test needs none
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/no-main-cluster.conf >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
if ! have_initdb; then
  echo "installed postgresql, but initdb is still not found" >&2
  exit 1
fi
echo "installed: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
