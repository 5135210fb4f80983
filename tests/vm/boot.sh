# SPDX-License-Identifier: GPL-2.0
# One guest: initramfs, QEMU (TCG), and the verdict on its run.  Sourced
# after common.sh, fetch.sh and build.sh.  A Xen harness would reuse
# stage_initramfs for dom0/domU and bring its own boot function.

# Modules of the distro kernel that every guest loads: vgem is the DRM PRIME
# importer our tests hand dma-bufs to.
DISTRO_MODULES=(vgem)

# Prints, in load order, the modules.dep paths that MODULE needs (itself
# last).  modules.dep lists every module's dependencies; the order within a
# line is not something to rely on, hence the walk.
distro_module_order() {
	local dep=$KROOT/lib/modules/$KREL/modules.dep
	awk -v want="$*" '
		{ sub(":", ""); path = $1; name = path; sub(".*/", "", name)
		  sub("\\.ko.*", "", name); gsub("-", "_", name)
		  byname[name] = path; deps[path] = ""
		  for (i = 2; i <= NF; i++) deps[path] = deps[path] " " $i }
		function visit(p,   n, i, d) {
			if (p in seen) return
			seen[p] = 1
			n = split(deps[p], d, " ")
			for (i = 1; i <= n; i++) visit(d[i])
			print p
		}
		END { n = split(want, w, " ")
		      for (i = 1; i <= n; i++) {
			if (!(w[i] in byname)) { print "missing " w[i] > "/dev/stderr"; exit 1 }
			visit(byname[w[i]]) } }' "$dep"
}

# Copies a module, decompressed (busybox insmod reads plain .ko only).
install_module() {
	case $1 in
	*.xz) xz -dc "$1" >"$2" ;;
	*.zst) zstd -dcq "$1" >"$2" ;;
	*.gz) gzip -dc "$1" >"$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

is_static() {
	! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# Copies the executables of a build directory into the guest tree; a
# dynamically linked one would not run there, so it is left out loudly.
install_programs() {
	local from=$1 to=$2 f rel
	[ -d "$from" ] || return 0
	while IFS= read -r -d '' f; do
		rel=${f#"$from"/}
		if head -c 4 "$f" | grep -q 'ELF' && ! is_static "$f"; then
			vm_warn "$rel is not statically linked: left out of the guest"
			continue
		fi
		mkdir -p "$to/$(dirname "$rel")"
		cp "$f" "$to/$rel"
	done < <(find "$from" -type f -perm -u+x -print0)
}

# Puts the kernel's modules $2... (with what they depend on, in load
# order) into root $1, listed in its modules.distro, replacing any there.
stage_distro_modules() {
	local root=$1 m i order=()
	shift
	rm -f "$root"/lib/modules/distro/*
	mapfile -t order < <(distro_module_order "$@") ||
		vm_die "cannot resolve $* in $KREL's modules.dep"
	: >"$root/etc/dmabridge/modules.distro"
	for m in "${order[@]}"; do
		i=$(basename "$m")
		i=${i%%.ko*}.ko
		install_module "$KROOT/lib/modules/$KREL/$m" "$root/lib/modules/distro/$i"
		echo "distro/$i" >>"$root/etc/dmabridge/modules.distro"
	done
}

# Builds the guest's root in $1 from what build_all produced.  Needs
# COMMAND_TEXT, SERIES, KREL, KROOT, MODULES and SHARE_DIR.
stage_initramfs() {
	local root=$1 m
	mkdir -p "$root"/{bin,dev,etc/dmabridge,lib/modules/distro,lib/modules/dmabridge} \
		"$root"/{mnt/share,opt/dmabridge/guest,proc,root,sys,tmp}
	is_static /bin/busybox || vm_die "/bin/busybox is not static (install busybox-static)"
	cp /bin/busybox "$root/bin/busybox"
	install -m 755 "$REPO/tests/guest/init" "$root/init"
	find "$REPO/tests/guest" -maxdepth 1 -type f ! -name init \
		-exec install -m 755 {} "$root/opt/dmabridge/guest/" \;

	stage_distro_modules "$root" "${DISTRO_MODULES[@]}"
	: >"$root/etc/dmabridge/modules.ours"
	for m in "${MODULES[@]}"; do
		cp "$m" "$root/lib/modules/dmabridge/"
		echo "dmabridge/$(basename "$m")" >>"$root/etc/dmabridge/modules.ours"
	done

	install_programs "$GUEST_BUILD/bin" "$root/opt/dmabridge/bin"
	install_programs "$GUEST_BUILD/tests" "$root/opt/dmabridge/tests"
	install_programs "$GUEST_BUILD/upstream" "$root/opt/dmabridge/upstream"
	if [ -n "$SHARE_DIR" ]; then
		cp -a "$SHARE_DIR/." "$root/mnt/share/"
	fi
	printf '%s\n' "$COMMAND_TEXT" >"$root/etc/dmabridge/command"
	printf 'SERIES=%s\nRELEASE=%s\n' "$SERIES" "$KREL" >"$root/etc/dmabridge/kernel"
	# The kernel opens /dev/console before /init mounts devtmpfs.
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$root/dev/console" c 5 1
	fi
}

# An uncompressed cpio: decompressing under TCG would cost more boot time
# than reading a few more megabytes.
pack_initramfs() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$2"
}

# Kernel log lines that fail a run, whoever caused them: there is no way
# for a test to declare a splat expected.
DMESG_BAD='WARNING:|BUG:|Oops|Call Trace|cut here|refcount_t:|possible (circular|recursive) locking|inconsistent lock state|DEBUG_LOCKS_WARN_ON|general protection fault|kernel BUG at|Kernel panic|UBSAN:|KASAN:|list_(add|del) corruption|stack-protector|blocked for more than|soft lockup|hard LOCKUP|rcu_sched self-detected|rcu: INFO|detected stall|Bad page|page dumped because|invalid opcode|double free|use-after-free|scheduling while atomic|sleeping function called from invalid context'

# Boots the guest in work directory $1 and waits for it, printing the
# command's output as it comes.  Sets GUEST_RC, the exit status of QEMU
# (or 124/137 from timeout); judge_guest reads the rest from the logs.
boot_guest() {
	local w=$1 kernel=$2 initrd=$3 mem=$4 timeout=$5 append=$6
	local hugepages

	# Upstream's 6.12 udmabuf test needs 1024 hugetlb pages (2 MiB) and a
	# little more; leave a smaller guest a quarter of its memory for them.
	# Debian turns init_on_alloc on, and zeroing the 2 GiB pool under TCG
	# costs 7-10 s per boot; with it off, pages that nobody clears keep old
	# contents, which makes a leak of stale memory visible rather than
	# hiding it.  (--append init_on_alloc=1 restores the default.)
	if [ "$mem" -ge 3072 ]; then
		hugepages=1040
	else
		hugepages=$((mem / 8))
	fi

	run_qemu "$w" "$timeout" -cpu max -smp 2 -m "$mem" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=5 panic=-1 log_buf_len=4M init_on_alloc=0 hugepages=$hugepages $append"
}

# Runs QEMU for the guest of work directory $1 under a timeout of $2 s with
# the machine-specific arguments that follow, and the three serial ports
# every guest init uses (console, command output, harness reports),
# printing the command's output as it comes.  Sets GUEST_RC.
run_qemu() {
	local w=$1 timeout=$2 qpid tpid rc=0
	shift 2

	: >"$w/output"
	timeout --kill-after=10 "$timeout" \
		qemu-system-x86_64 -accel tcg -nodefaults -display none -no-reboot \
		"$@" \
		-chardev file,id=console,path="$w/console.log" -serial chardev:console \
		-chardev file,id=output,path="$w/output",append=on -serial chardev:output \
		-chardev file,id=harness,path="$w/harness" -serial chardev:harness \
		</dev/null >"$w/qemu.log" 2>&1 &
	qpid=$!
	GUEST_PID=$qpid
	tail -n +1 -s 0.1 -f --pid="$qpid" "$w/output" &
	tpid=$!
	wait "$qpid" || rc=$?
	wait "$tpid" || true
	GUEST_PID=
	GUEST_RC=$rc
}

# The value of the guest's "@KEY value" report line ("" when missing).
harness_value() {
	sed -n "s/^@$2 \{0,1\}//p" "$1/harness" | head -n 1 | tr -d '\r'
}

# Shows the end of a log on stderr, for a run that failed before it could
# say why.
show_tail() {
	[ -s "$2" ] || return 0
	printf 'vm: --- last lines of %s ---\n' "$1" >&2
	tail -n 40 "$2" >&2
}

# Turns what the guest reported into VERDICT_RC (see tests/vm/run) and the
# key=value file $WORK/verdict; explains failures on stderr.
judge_guest() {
	local w=$1 timeout=$2 status modload rmmod dmesg=clean first finished=0
	: >>"$w/harness"
	grep -q '^@end' "$w/harness" && finished=1
	status=$(harness_value "$w" status)
	modload=$(harness_value "$w" modload)
	rmmod=$(harness_value "$w" rmmod)
	sed -n '/^@dmesg-begin/,/^@dmesg-end/{/^@/d;p}' "$w/harness" | tr -d '\r' >"$w/dmesg"
	VERDICT_RC=${status:-125}

	if [ "$GUEST_RC" = 124 ] || [ "$GUEST_RC" = 137 ]; then
		vm_say "error: guest timed out after $timeout s"
		show_tail "kernel console" "$w/console.log"
		VERDICT_RC=124
	elif [ -z "$(harness_value "$w" boot)" ]; then
		vm_say "error: guest did not boot (QEMU exit $GUEST_RC)"
		show_tail "QEMU" "$w/qemu.log"
		show_tail "kernel console" "$w/console.log"
		VERDICT_RC=125
	elif [ "$modload" != ok ]; then
		vm_say "error: module load ${modload:-did not finish}"
		VERDICT_RC=125
	elif [ "$finished" = 0 ]; then
		vm_say "error: guest died before finishing (panic, or a test powered it off)"
		# A panic is shown below with the rest of the kernel's trouble.
		grep -q -E "$DMESG_BAD" "$w/console.log" ||
			show_tail "kernel console" "$w/console.log"
		VERDICT_RC=125
	elif [ "$rmmod" != ok ]; then
		vm_say "error: module unload $rmmod"
		VERDICT_RC=125
	fi

	# The kernel log is judged whatever else happened: a splat is usually
	# why the rest went wrong.  Without a dmesg dump, the console (warnings
	# and worse) is what we have.
	local log=$w/dmesg
	[ -s "$log" ] || log=$w/console.log
	first=$(grep -n -m1 -E "$DMESG_BAD" "$log" | cut -d: -f1) || true
	if [ -n "$first" ]; then
		dmesg=dirty
		vm_say "error: the kernel log shows trouble:"
		grep -E "$DMESG_BAD" "$log" | head -n 20 | sed 's/^/vm:   /' >&2
		printf 'vm: --- kernel log from line %d ---\n' "$((first > 10 ? first - 10 : 1))" >&2
		sed -n "$((first > 10 ? first - 10 : 1)),$((first + 80))p" "$log" >&2
		[ "$VERDICT_RC" = 124 ] || VERDICT_RC=125
	fi
	if [ "$VERDICT_RC" = 125 ] && [ "$modload" != ok ] && [ -s "$w/dmesg" ]; then
		show_tail "kernel log" "$w/dmesg"
	fi

	printf 'status=%s\nboot=%s\nmodload=%s\nrmmod=%s\ndmesg=%s\nfinished=%s\ntimeout=%s\nrc=%s\n' \
		"$status" "$(harness_value "$w" boot)" "$modload" "$rmmod" "$dmesg" "$finished" \
		"$([ "$VERDICT_RC" = 124 ] && echo 1 || echo 0)" "$VERDICT_RC" >"$w/verdict"
}
