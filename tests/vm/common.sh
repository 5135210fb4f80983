# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the VM harness, sourced by tests/vm/run and tests/run.
# Harness chatter goes to stderr so that stdout carries only what the guest's
# command printed.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
CACHE=${DMABRIDGE_CACHE:-$HOME/.cache/dmabridge}
# Builds are per checkout (build/ is gitignored); the cache is per machine.
BUILD_ROOT=${DMABRIDGE_BUILD:-$REPO/build/vm}

vm_say() { printf 'vm: %s\n' "$*" >&2; }
vm_warn() { printf 'vm: warning: %s\n' "$*" >&2; }
vm_die() { printf 'vm: error: %s\n' "$*" >&2; exit 125; }

# Takes an exclusive flock on $1 and sets VM_LOCK_FD; vm_unlock releases it.
# Other engineers run the harness concurrently from the same checkout and the
# same cache: downloads and builds must not interleave.
vm_lock() {
	mkdir -p "$(dirname "$1")"
	exec {VM_LOCK_FD}>"$1"
	if ! flock -n "$VM_LOCK_FD"; then
		vm_say "waiting for $1 (another run holds it)"
		flock "$VM_LOCK_FD"
	fi
}

vm_unlock() {
	exec {VM_LOCK_FD}>&-
}

# The apt packages this harness needs: installs the missing ones.  Checked
# with dpkg-query (cheap) so a warm run never touches apt.
vm_install_deps() {
	local pkgs=() missing=() p
	mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$VM_DIR/packages")
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || vm_die "missing packages (need root to install): ${missing[*]}"
	vm_say "installing ${missing[*]}"
	apt_update_once || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || vm_die "apt-get install ${missing[*]} failed"
}

# apt-get update at most once per run: only when a lookup or download found
# the lists missing or stale.
APT_UPDATED=0
apt_update_once() {
	[ "$APT_UPDATED" = 1 ] && return 1
	APT_UPDATED=1
	vm_say "apt-get update"
	apt-get update -q >&2 || vm_warn "apt-get update failed"
	return 0
}
