#!/usr/bin/env bash
# Runs a command on a machine of one core: every CPU but cpu0 is taken
# offline for the command's run (the lab's control plane, kubelets,
# containerd and pods included: they see one CPU), and put back online
# when it ends, however it ends short of SIGKILL. .ci/run puts every CPU
# online first, in case a run was killed. Needs root. `make test-one-core`.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "one-core: needs root (it takes CPUs offline)" >&2
  exit 1
fi
offline=()
restore() {
  for c in "${offline[@]}"; do echo 1 > "$c/online"; done
  echo "one-core: CPUs online again: $(cat /sys/devices/system/cpu/online)"
}
trap restore EXIT
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ "${c##*/cpu}" = 0 ] && continue
  if [ -w "$c/online" ] && [ "$(cat "$c/online")" = 1 ]; then
    echo 0 > "$c/online"
    offline+=("$c")
  fi
done
echo "one-core: CPUs online: $(cat /sys/devices/system/cpu/online) (nproc $(nproc))"
"$@"
