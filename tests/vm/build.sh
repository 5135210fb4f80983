# SPDX-License-Identifier: GPL-2.0
# Builds what a guest runs: the modules for one guest kernel, and the static
# library, CLI and test programs (the same for every kernel).  Sourced after
# common.sh; callers hold the build lock.
#
#   $BUILD_ROOT/KRELEASE/kernel/   a per-kernel copy of kernel/ (Kbuild builds
#                                  in place: two kernels must not share objects),
#   $BUILD_ROOT/KRELEASE/include   with include/ beside it as in the repository
#   $GUEST_BUILD/                  BUILD= of `make userspace` and tests/Makefile

GUEST_BUILD=$BUILD_ROOT/guest
KERNEL_DIR=$(realpath -m "${DMABRIDGE_KERNEL_DIR:-$REPO/kernel}")

# Runs a build quietly: its log is shown when it fails, and its warnings when
# something was recompiled (a no-op build has nothing to say).
run_build() {
	local what=$1 log
	shift
	log=$(mktemp)
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		vm_die "$what failed"
	fi
	grep -E 'warning:' "$log" >&2 || true
	rm -f "$log"
}

# The source files under directory $1 (tracked or new, not ignored, when it
# is in a git work tree), relative to it: products of an in-tree build must
# not leak into the per-kernel copy.
source_files() {
	if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$1" ls-files -co --exclude-standard . |
			while read -r f; do
				if [ -f "$1/$f" ]; then printf '%s\n' "$f"; fi
			done
	else
		(cd "$1" && find . -type f ! -name '*.o' ! -name '*.ko' ! -name '.*' |
			sed 's|^\./||')
	fi
}

# Builds the modules against KSRC for release KREL and sets MODULES to their
# paths in load order (modules.order: the core comes first).  No module
# sources at all is not an error while the modules are being written.
build_modules() {
	local copy=$BUILD_ROOT/$KREL/kernel m
	MODULES=()
	if [ -z "$(find "$KERNEL_DIR" -name "*.c" -print -quit)" ]; then
		vm_warn "no module sources in $KERNEL_DIR: guests get none of ours"
		return 0
	fi
	# A tree of symlinks to the sources: edits show through by mtime, and
	# objects land in the copy.  Rebuilt each time so removed files vanish.
	mkdir -p "$copy"
	find "$copy" -type l -delete
	source_files "$KERNEL_DIR" | while read -r f; do
		mkdir -p "$copy/$(dirname "$f")"
		ln -s "$KERNEL_DIR/$f" "$copy/$f"
	done
	# The modules include the repository's include/ (the UAPI) as
	# kernel/../../include: the copy has it in the same place.
	ln -sfn "$(dirname "$KERNEL_DIR")/include" "$BUILD_ROOT/$KREL/include"
	run_build "module build for $KREL" \
		make -C "$copy" -j"$(nproc)" KERNEL_SRC="$KSRC" TESTING=1 W=1
	# 6.1 lists /abs/path/foo.ko, 6.12 foo.o relative to the module dir.
	while read -r m; do
		m=${m%.o}
		m=${m%.ko}.ko
		[ "${m:0:1}" = / ] || m=$copy/$m
		[ -e "$m" ] || vm_die "modules.order names $m but it was not built"
		MODULES+=("$m")
	done <"$copy/modules.order"
	[ ${#MODULES[@]} -gt 0 ] || vm_warn "kernel/ built no modules"
}

# The library and CLI, static, under $GUEST_BUILD (the contract with lib/
# and tools/: `make userspace STATIC=1 BUILD=DIR`).
build_userspace() {
	if [ ! -e "$REPO/lib/Makefile" ] || [ ! -e "$REPO/tools/Makefile" ]; then
		vm_warn "lib/ or tools/ not there yet: guests get no library or CLI"
		return 0
	fi
	run_build "userspace build" \
		make -C "$REPO" -j"$(nproc)" userspace STATIC=1 BUILD="$GUEST_BUILD"
}

build_tests() {
	run_build "test build" \
		make -C "$REPO/tests" -j"$(nproc)" BUILD="$GUEST_BUILD" \
		UPSTREAM_SRC="$CACHE/upstream"
}

build_all() {
	vm_lock "$BUILD_ROOT/.lock"
	build_modules
	build_userspace
	build_tests
}
