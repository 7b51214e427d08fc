#!/usr/bin/env bash
# Install, from the system's packages, what flowkit's test suite needs and pip cannot give:
# Slurm (slurmctld, slurmd, the client commands) and munge, for extensions/flowkit-slurm's
# tests, which start a private cluster of their own (extensions/flowkit-slurm/tests/slurmcluster.py);
# Debian's Chromium and a font, for the web UI's browser tests (tests/ui/browser/, driven by
# Playwright: never `playwright install`, whose downloaded browsers need libraries Debian names
# otherwise); Apache Airflow in a virtual environment of its own, and Metaflow in another, for
# the benchmarks' side-by-side test (below).
#
# Does nothing, quickly and quietly, when they are installed. Installs them as root, or through
# passwordless sudo; otherwise says what to install and exits 0 (the Slurm and browser tests then
# skip, or fail under FLOWKIT_REQUIRE_SERVICES=1). Never starts a system service: Debian's
# maintainer scripts would start munge and Slurm's daemons, which the tests neither use nor stop.
set -euo pipefail

# slurm-wlm is these three; without recommends, not its dozen heavy extra plugins.
SLURM=(slurmctld slurmd slurm-client munge)
# Headless Chromium needs no recommends (GL drivers, upower, printing); without a font it draws
# every character as a box, so one sans and monospace family comes along.
BROWSER=(chromium fonts-dejavu-core)

slurm_installed() {
    local command
    for command in slurmctld slurmd munged sbatch; do
        # Debian puts the daemons in /usr/sbin, which a non-root PATH lacks.
        command -v "$command" >/dev/null || [ -x "/usr/sbin/$command" ] || return 1
    done
}

browser_installed() {
    command -v chromium >/dev/null &&
        [ -n "$(find /usr/share/fonts -name DejaVuSans.ttf -print -quit 2>/dev/null)" ]
}

# Apache Airflow 3, for tests/export's runs of exported DAGs (`airflow dags test`), in a
# virtual environment of its own: ~300 MB and ~3 minutes to install, and its dependencies
# must not pin flowkit's. Pinned to the release those tests were written against; Airflow's
# constraint files cannot be fetched here, so pip resolves its dependencies itself. The
# DAGs' tasks run flowkit from flowkit's own environment, so this one needs only Airflow.
AIRFLOW_VENV="${FLOWKIT_AIRFLOW_VENV:-/opt/flowkit-airflow}"
AIRFLOW_VERSION=3.3.2

airflow_installed() {
    [ "$("$AIRFLOW_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))' 2>/dev/null)" = "$AIRFLOW_VERSION" ]
}

if ! airflow_installed; then
    if mkdir -p "$AIRFLOW_VENV" 2>/dev/null && [ -w "$AIRFLOW_VENV" ]; then
        echo "install-test-services: installing apache-airflow $AIRFLOW_VERSION in $AIRFLOW_VENV (for the Airflow export tests)" >&2
        python3 -m venv "$AIRFLOW_VENV" &&
            "$AIRFLOW_VENV/bin/pip" install -q "apache-airflow==$AIRFLOW_VERSION" >/dev/null ||
            echo "install-test-services: installing Airflow in $AIRFLOW_VENV failed" >&2
    else
        echo "install-test-services: cannot write $AIRFLOW_VENV for Airflow; set FLOWKIT_AIRFLOW_VENV to a folder you can write, or run as root" >&2
    fi
fi

# Metaflow (and numpy) in .bench/metaflow-venv, for tests/benchmarks' side-by-side run
# (`python -m benchmarks --quick`): installed here rather than by that test, so the suite's
# time is the tests' own. The system's python3 runs it (flowkit's environment may not exist yet).
python3 "$(dirname "$0")/../benchmarks/metaflow_env.py" >/dev/null ||
    echo "install-test-services: installing Metaflow into .bench/metaflow-venv failed" >&2

PACKAGES=()
slurm_installed || PACKAGES+=("${SLURM[@]}")
browser_installed || PACKAGES+=("${BROWSER[@]}")
[ "${#PACKAGES[@]}" -eq 0 ] && exit 0
HOW="apt-get install --no-install-recommends ${PACKAGES[*]}"

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-test-services: missing ${PACKAGES[*]}; as root: $HOW" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-test-services: missing ${PACKAGES[*]} and this is not Debian or Ubuntu:" \
        "install Slurm's daemons and client commands, munge, and Chromium as chromium" >&2
    exit 0
fi

echo "install-test-services: installing ${PACKAGES[*]} (for the Slurm and browser tests)" >&2
# policy-rc.d answering 101 is Debian's way to keep maintainer scripts from starting services.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    "${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
slurm_installed && browser_installed
