#!/usr/bin/env bash
# Install a Java 17+ runtime (openjdk-17-jre-headless) that pyspark needs for tests/service/test_spark.py and
# examples/spark_screen.py. Idempotent; installs from apt (as root) only when `java` 17 or newer is missing.
set -euo pipefail

java_major() {
  # `java -version` prints e.g. 'openjdk version "17.0.15"' or '"1.8.0_392"' (Java 8) on stderr
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)
  v=${v#1.}
  echo "${v%%[.+-]*}"
}

have_java17() {
  local major
  major=$(java_major) || return 1
  [ -n "$major" ] && [ "$major" -ge 17 ] 2>/dev/null
}

if have_java17; then
  echo "Java $(java_major) already present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Java 17+ not found and no apt-get: install a Java 17+ runtime by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
# the JRE's postinst expects its man page directory, which slim images delete
$sudo mkdir -p /usr/share/man/man1
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
hash -r
if ! have_java17; then
  echo "installed openjdk-17-jre-headless, but java 17+ is still not on the PATH" >&2
  exit 1
fi
echo "installed: Java $(java_major) ($(command -v java))"
