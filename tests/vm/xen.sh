# SPDX-License-Identifier: GPL-2.0
# Xen guests: Xen 4.17 under QEMU TCG with a PV dom0 (a Debian kernel from
# tests/vm/kernels.conf) and PV domUs of the same kernel, all from
# initramfs images.  Sourced after common.sh, fetch.sh, build.sh and
# boot.sh; tests/vm/run --xen uses it (see ../shared/recipes/xen-under-qemu
# for what Xen needed under TCG, measured).
#
# Cache: $CACHE/xen/ holds the hypervisor and the toolstack unpacked from
# Debian's xen-hypervisor-4.17-amd64, xen-utils-4.17 and the libraries they
# link, fetched with apt-get download (never installed: the hypervisor
# package would hook into the host's boot loader).

XEN_SERIES=4.17
XEN_PACKAGES=(xen-hypervisor-$XEN_SERIES-amd64 xen-utils-$XEN_SERIES xenstore-utils
	libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
	libxengnttab1 libxenhypfs1 libxenmisc$XEN_SERIES libxenstore4
	libxentoolcore1 libxentoollog1 libyajl2)
# The distro modules dom0 needs for a toolstack and for grant tables from
# userspace; a domU only the grant devices.  vgem is every guest's importer.
XEN_DOM0_MODULES=(vgem xen_evtchn xen_privcmd xenfs xen_gntdev xen_gntalloc)
XEN_DOMU_MODULES=(vgem xen_gntdev xen_gntalloc)
XEN_TOOLS=(xl xenstored xenconsoled xen-init-dom0 xenconsole libxl-save-helper)

# Unpacks the Xen packages into $CACHE/xen (once) and sets XEN_ROOT.
fetch_xen() {
	local dest=$CACHE/xen ver p debs=() tmp d
	XEN_ROOT=$dest
	vm_lock "$CACHE/.lock"
	if [ ! -e "$dest/.complete" ]; then
		ver=$(apt_candidate "xen-utils-$XEN_SERIES")
		[ -n "$ver" ] || { apt_update_once && ver=$(apt_candidate "xen-utils-$XEN_SERIES"); } ||
			vm_die "xen-utils-$XEN_SERIES is not on the mirror"
		for p in "${XEN_PACKAGES[@]}"; do
			# The libraries outside Xen's source package have their own versions.
			case $p in
			libyajl*) debs+=("$(fetch_deb "$p" "$(apt_candidate "$p")")") ;;
			*) debs+=("$(fetch_deb "$p" "$ver")") ;;
			esac
		done
		vm_say "unpacking Xen $ver"
		tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX")
		for d in "${debs[@]}"; do
			dpkg-deb -x "$d" "$tmp" || vm_die "cannot unpack $d"
		done
		# QEMU's multiboot loader wants the plain 32-bit ELF.
		gzip -dc "$tmp/boot/xen-$XEN_SERIES-amd64.gz" >"$tmp/xen" ||
			vm_die "no Xen image in xen-hypervisor-$XEN_SERIES-amd64"
		echo "$ver" >"$tmp/.pkgversion"
		touch "$tmp/.complete"
		rm -rf "$dest"
		mv "$tmp" "$dest"
	fi
	vm_unlock
}

# Copies executables $3... (paths inside the Xen root $1) and every shared
# library they need into guest root $2, the Xen root's libraries first.
xen_copy_programs() {
	local xr=$1 root=$2 f lib dest
	shift 2
	for f in "$@"; do
		mkdir -p "$root/$(dirname "$f")"
		cp "$xr/$f" "$root/$f"
	done
	for lib in $(cd "$xr" && LD_LIBRARY_PATH=$xr/usr/lib/x86_64-linux-gnu ldd "$@" |
		awk '/not found/ { print "missing:" $1 } /=>/ && $3 ~ /^\// { print $3 }
			/^[[:space:]]*\/.*ld-linux/ { print $1 }' | sort -u); do
		case $lib in
		missing:*) vm_die "Xen tools need ${lib#missing:}, which is not in XEN_PACKAGES" ;;
		"$xr"/*) dest=$root/${lib#"$xr"/} ;;
		*) dest=$root$lib ;;
		esac
		mkdir -p "$(dirname "$dest")"
		cp -L "$lib" "$dest"
	done
}

# The xenstore client under all its names (busybox-style: one binary).
xen_install_xenstore() {
	local root=$1 a
	xen_copy_programs "$XEN_ROOT" "$root" usr/bin/xenstore
	for a in read write exists list ls rm chmod watch; do
		ln -sf xenstore "$root/usr/bin/xenstore-$a"
	done
}

# Builds the domU's initramfs ($2) in $1, then dom0's root in $3 with the
# domU's kernel and initramfs inside.  Needs what stage_initramfs needs, plus
# DOMU_COMMAND ("" for none) and XEN_ROOT.
xen_stage() {
	local droot=$1 dinitrd=$2 root=$3 p
	stage_initramfs "$droot"
	stage_distro_modules "$droot" "${XEN_DOMU_MODULES[@]}"
	install -m 755 "$VM_DIR/xen-init" "$droot/init"
	echo domu >"$droot/etc/dmabridge/xen-role"
	printf '%s\n' "$DMESG_BAD" >"$droot/etc/dmabridge/dmesg-bad"
	rm -f "$droot/etc/dmabridge/command"
	xen_install_xenstore "$droot"
	pack_initramfs "$droot" "$dinitrd"
	rm -rf "$droot"

	stage_initramfs "$root"
	stage_distro_modules "$root" "${XEN_DOM0_MODULES[@]}"
	install -m 755 "$VM_DIR/xen-init" "$root/init"
	install -m 755 "$VM_DIR/xen-domu" "$root/opt/dmabridge/guest/xen-domu"
	echo dom0 >"$root/etc/dmabridge/xen-role"
	printf '%s\n' "$DMESG_BAD" >"$root/etc/dmabridge/dmesg-bad"
	if [ -n "$DOMU_COMMAND" ]; then
		printf '%s\n' "$DOMU_COMMAND" >"$root/etc/dmabridge/domu-command"
	fi
	xen_install_xenstore "$root"
	local tools=()
	for p in "${XEN_TOOLS[@]}"; do
		tools+=("usr/lib/xen-$XEN_SERIES/bin/$p")
	done
	xen_copy_programs "$XEN_ROOT" "$root" "${tools[@]}"
	# xl aborts in pthread_cancel without it (glibc loads it on demand).
	mkdir -p "$root/usr/lib/x86_64-linux-gnu"
	cp -L /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/usr/lib/x86_64-linux-gnu/"
	mkdir -p "$root/etc/xen" "$root/opt/dmabridge/domu"
	# dom0 has a fixed size: xl must not balloon it down for a domU.
	echo 'autoballoon="off"' >"$root/etc/xen/xl.conf"
	cp "$XEN_DOMU_KERNEL" "$root/opt/dmabridge/domu/vmlinux"
	mv "$dinitrd" "$root/opt/dmabridge/domu/initramfs.cpio"
}

# Boots Xen with dom0 kernel $2 and initramfs $3 (work directory $1), like
# boot_guest: ttyS0 carries Xen's and both kernels' consoles, ttyS1 the
# command's output, ttyS2 the reports.  Sets GUEST_RC.
#   -cpu max,-smap,-xsave: QEMU 7.2's TCG faults on a PV kernel's
#   user-mode IRET with SMAP on, and xsave corrupted user state at random
#   once two domains ran (../shared/recipes/xen-under-qemu/NOTES.md).
boot_xen() {
	local w=$1 kernel=$2 initrd=$3 mem=$4 timeout=$5 append=$6
	local dom0_mem=$((mem / 2))

	run_qemu "$w" "$timeout" -cpu max,-smap,-xsave -smp 1 -m "$mem" \
		-kernel "$XEN_ROOT/xen" \
		-append "console=com1 com1=115200,8n1,0x3f8,0 dom0_mem=${dom0_mem}M,max:${dom0_mem}M dom0_max_vcpus=1 loglvl=warning guest_loglvl=warning" \
		-initrd "$kernel console=hvc0 loglevel=5 panic=-1 log_buf_len=4M init_on_alloc=0 $append,$initrd"
}
