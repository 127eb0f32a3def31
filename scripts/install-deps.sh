#!/usr/bin/env bash
# Installs the Debian 12 packages Sluice needs to build, test and benchmark.
# Only missing packages are installed; nothing happens when all are present.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config
  libboost-dev nlohmann-json3-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev
  libyaml-cpp-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libpq-dev)
# PostgreSQL and a single-node Slurm are started by scripts/postgres.sh and scripts/slurm.sh
# (under a temp dir, never the Debian default cluster or daemons).
TEST_PKGS=(libgtest-dev libgmock-dev libbenchmark-dev curl sqlite3 procps
  postgresql postgresql-client munge slurmctld slurmd slurm-client iproute2)
BENCH_PKGS=(wrk nginx-light time python3)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench)
    want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}")
    # bench/asl runs the reference interpreter with node; a node from elsewhere will do.
    command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm) ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
