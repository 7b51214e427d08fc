#!/usr/bin/env bash
# Install, from the system's packages, what flowkit's test suite needs and pip cannot give:
# Slurm (slurmctld, slurmd, the client commands) and munge, for extensions/flowkit-slurm's
# tests, which start a private cluster of their own (extensions/flowkit-slurm/tests/slurmcluster.py).
#
# Does nothing, quickly and quietly, when they are installed. Installs them as root, or through
# passwordless sudo; otherwise says what to install and exits 0 (the Slurm tests then skip, or
# fail under FLOWKIT_REQUIRE_SERVICES=1). Never starts a system service: Debian's maintainer
# scripts would start munge and Slurm's daemons, which the tests neither use nor stop.
set -euo pipefail

# slurm-wlm is these three; without recommends, not its dozen heavy extra plugins.
PACKAGES=(slurmctld slurmd slurm-client munge)
HOW="apt-get install --no-install-recommends ${PACKAGES[*]}"

installed() {
    local command
    for command in slurmctld slurmd munged sbatch; do
        # Debian puts the daemons in /usr/sbin, which a non-root PATH lacks.
        command -v "$command" >/dev/null || [ -x "/usr/sbin/$command" ] || return 1
    done
}

installed && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-test-services: Slurm and munge are not installed; as root: $HOW" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-test-services: Slurm and munge are not installed and this is not Debian or" \
        "Ubuntu: install slurmctld, slurmd, Slurm's client commands and munge" >&2
    exit 0
fi

echo "install-test-services: installing ${PACKAGES[*]} (for the Slurm tests)" >&2
# policy-rc.d answering 101 is Debian's way to keep maintainer scripts from starting services.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    "${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
installed
