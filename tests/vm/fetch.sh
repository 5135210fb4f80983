# SPDX-License-Identifier: GPL-2.0
# Guest kernels, their headers and upstream's selftest sources, fetched from
# Debian's apt mirror into the cache with `apt-get download` (never
# installed: installing headers would pull in an image and rebuild the host's
# initramfs).  Sourced after common.sh.
#
# Cache layout ($CACHE):
#   debs/                    the downloaded .debs, so a later run needs no mirror
#   kernels/RELEASE/         image and headers unpacked side by side:
#     boot/vmlinuz-RELEASE, vmlinux (its ELF, booted through PVH),
#     lib/modules/RELEASE (with a modules.dep),
#     usr/src/linux-headers-RELEASE (the KERNEL_SRC for module builds)
#   upstream/SERIES/         from linux-source-SERIES: tools/testing/selftests/
#     {kselftest*.h,drivers/dma-buf,dmabuf-heaps,sync} and usr/include/drm/

# Prints the kernels.conf fields of a series: release, image package, regex.
kconf() {
	awk -v s="$1" '$1 !~ /^#/ && $1 == s { print $2, $3, $4; found = 1; exit }
		END { exit !found }' "$VM_DIR/kernels.conf" ||
		vm_die "kernel series '$1' is not in tests/vm/kernels.conf"
}

kconf_series() {
	awk '$1 !~ /^#/ && NF { print $1 }' "$VM_DIR/kernels.conf"
}

# The version apt would download for PKG ("" when apt does not know it).
apt_candidate() {
	apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}

# Is PKG at exactly VERSION on the mirror (as far as the lists say)?
apt_has() {
	apt-cache show "$1=$2" >/dev/null 2>&1
}

# Sandbox user root: apt's _apt user may not be able to write to the cache.
apt_download() {
	(cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$1" >&2)
}

# Downloads PKG=VERSION into $CACHE/debs unless already there; prints the path.
fetch_deb() {
	local pkg=$1 ver=$2 f
	# Debian names files with the epoch's ':' as '%3a'.
	f=$(compgen -G "$CACHE/debs/${pkg}_${ver//:/%3a}_*.deb" | head -n 1) || true
	if [ -z "$f" ]; then
		vm_say "downloading $pkg $ver"
		mkdir -p "$CACHE/debs"
		# Stale lists point at files the mirror no longer has: one update.
		apt_download "$pkg=$ver" ||
			{ apt_update_once && apt_download "$pkg=$ver"; } ||
			vm_die "apt-get download $pkg=$ver failed"
		f=$(compgen -G "$CACHE/debs/${pkg}_${ver//:/%3a}_*.deb" | head -n 1) ||
			vm_die "apt-get download $pkg=$ver left no .deb"
	fi
	printf '%s\n' "$f"
}

# Is RELEASE usable: image and headers of one version on the mirror?
# Prints the version.
kernel_on_mirror() {
	local rel=$1 img=$2 ver
	ver=$(apt_candidate "$img")
	[ -n "$ver" ] && apt_has "linux-headers-$rel" "$ver" && printf '%s\n' "$ver"
}

# Sets KREL (release) and KPKGVER (Debian version of its packages) for a
# series: the pinned release if it is cached or on the mirror, else the newest
# of the series on the mirror.
resolve_kernel() {
	local series=$1 pin imgpat regex img rel best=
	read -r pin imgpat regex < <(kconf "$series")
	KREL=$pin
	if [ -e "$CACHE/kernels/$pin/.complete" ]; then
		KPKGVER=$(cat "$CACHE/kernels/$pin/.pkgversion")
		return 0
	fi
	img=${imgpat//RELEASE/$pin}
	KPKGVER=$(kernel_on_mirror "$pin" "$img") ||
		{ apt_update_once && KPKGVER=$(kernel_on_mirror "$pin" "$img"); } ||
		KPKGVER=
	[ -n "$KPKGVER" ] && return 0

	# The pin has left the mirror: take the newest release of the series.
	local prefix=${imgpat%%RELEASE*} suffix=${imgpat#*RELEASE}
	while read -r rel; do
		[ -e "$CACHE/kernels/$rel/.complete" ] ||
			kernel_on_mirror "$rel" "${imgpat//RELEASE/$rel}" >/dev/null ||
			continue
		best=$rel
		break
	done < <(apt-cache pkgnames "$prefix" 2>/dev/null |
		sed -nE "s/^${prefix//./\\.}(${regex})${suffix//./\\.}\$/\\1/p" |
		sort -rV)
	[ -n "$best" ] || vm_die "no $series kernel with matching headers on the mirror (pin $pin)"
	vm_warn "pinned kernel $pin is gone from the mirror; using $best (update tests/vm/kernels.conf)"
	KREL=$best
	if [ -e "$CACHE/kernels/$best/.complete" ]; then
		KPKGVER=$(cat "$CACHE/kernels/$best/.pkgversion")
	else
		KPKGVER=$(kernel_on_mirror "$best" "${imgpat//RELEASE/$best}")
	fi
}

# Drops leftovers of interrupted fetches (callers hold the cache lock).
clean_cache_tmp() {
	rm -rf "$CACHE"/.tmp.*
}

# Writes the ELF vmlinux inside bzImage $1 to $2, if it has a PVH entry.
# QEMU boots such a kernel directly: no decompression under TCG, which saves
# seconds on every boot.  Payload position and length are in the setup header.
extract_vmlinux() {
	local bz=$1 out=$2 sects off len
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$sects" != 0 ] || sects=4
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	off=$(((sects + 1) * 512 + off))
	# The payload ends with the 4-byte uncompressed size, which no
	# decompressor wants to see.
	dd if="$bz" of="$out.payload" iflag=skip_bytes,count_bytes \
		skip="$off" count=$((len - 4)) status=none
	case $(od -An -tx1 -N4 "$out.payload" | tr -d ' ') in
	fd377a58) xz -dc <"$out.payload" >"$out" ;;
	28b52ffd) zstd -dcq <"$out.payload" >"$out" ;;
	1f8b08*) gzip -dc <"$out.payload" >"$out" ;;
	*) false ;;
	esac 2>/dev/null || true
	rm -f "$out.payload"
	# XEN_ELFNOTE_PHYS32_ENTRY (18) is the PVH entry point.
	if ! readelf -n "$out" 2>/dev/null | grep -q 'note type: (0x00000012)'; then
		vm_warn "cannot boot $bz as PVH ELF: guests boot the slower bzImage"
		rm -f "$out"
	fi
}

# Unpacks image and headers of KREL/KPKGVER (from resolve_kernel) into
# $CACHE/kernels/KREL.  The caller holds the cache lock.
fetch_kernel() {
	local series=$1 rel=$KREL ver=$KPKGVER dest="$CACHE/kernels/$KREL"
	[ -e "$dest/.complete" ] && return 0
	local pin imgpat regex
	read -r pin imgpat regex < <(kconf "$series")

	local deps common kbuild debs=() tmp d
	# The headers name their -common and kbuild packages; take them from
	# there rather than guessing (6.1's kbuild package is per series, 6.12's
	# per release).
	deps=$(apt-cache show "linux-headers-$rel=$ver" | sed -n 's/^Depends: //p' | head -n 1)
	common=$(tr ',' '\n' <<<"$deps" | awk '$1 ~ /^linux-headers-.*-common$/ { print $1; exit }')
	kbuild=$(tr ',' '\n' <<<"$deps" | awk '$1 ~ /^linux-kbuild-/ { print $1; exit }')
	[ -n "$common" ] && [ -n "$kbuild" ] ||
		vm_die "cannot tell the -common/kbuild packages of linux-headers-$rel ($deps)"

	debs+=("$(fetch_deb "${imgpat//RELEASE/$rel}" "$ver")")
	debs+=("$(fetch_deb "linux-headers-$rel" "$ver")")
	debs+=("$(fetch_deb "$common" "$ver")")
	# kbuild is only required to be >= the headers' version.
	if apt_has "$kbuild" "$ver"; then
		debs+=("$(fetch_deb "$kbuild" "$ver")")
	else
		debs+=("$(fetch_deb "$kbuild" "$(apt_candidate "$kbuild")")")
	fi

	vm_say "unpacking kernel $rel"
	tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX")
	for d in "${debs[@]}"; do
		dpkg-deb -x "$d" "$tmp" || vm_die "cannot unpack $d"
	done
	[ -e "$tmp/boot/vmlinuz-$rel" ] || vm_die "no boot/vmlinuz-$rel in the image package"
	extract_vmlinux "$tmp/boot/vmlinuz-$rel" "$tmp/vmlinux"
	# Debian generates modules.dep at install time; we never install.
	depmod -b "$tmp" "$rel" || vm_die "depmod failed for $rel"
	# The -amd64 headers include the -common ones by absolute path.
	sed -i "s|^include /usr/src/|include $dest/usr/src/|" \
		"$tmp/usr/src/linux-headers-$rel/Makefile"
	echo "$ver" >"$tmp/.pkgversion"
	touch "$tmp/.complete"
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp" "$dest"
}

# Extracts upstream's selftests (and the DRM uapi they include, and
# checkpatch for tests/host/kernel-checks) of a series
# from linux-source-SERIES, preferably of the guest kernel's version.  Any
# version will do when that one has left the mirror: a stable update rarely
# touches these tests.
fetch_upstream_tests() {
	local series=$1 want=$2 dest="$CACHE/upstream/$1" ver deb tmp top
	# A cache from before checkpatch was extracted counts as incomplete.
	if [ -e "$dest/.complete" ] && [ -e "$dest/scripts/checkpatch.pl" ]; then
		[ "$(cat "$dest/.pkgversion")" = "$want" ] && return 0
		apt_has "linux-source-$series" "$want" || return 0
	fi
	ver=$want
	apt_has "linux-source-$series" "$ver" || ver=$(apt_candidate "linux-source-$series")
	[ -n "$ver" ] || { apt_update_once && ver=$(apt_candidate "linux-source-$series"); } ||
		vm_die "linux-source-$series is not on the mirror"
	deb=$(fetch_deb "linux-source-$series" "$ver")

	vm_say "extracting selftests from linux-source-$series $ver"
	tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX")
	top=linux-source-$series
	# Only a few small paths are wanted, but xz has to stream the whole tree.
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/$top.tar.xz" |
		xz -dc |
		tar -x -C "$tmp" --strip-components=1 \
			"$top/tools/testing/selftests/kselftest.h" \
			"$top/tools/testing/selftests/kselftest_harness.h" \
			"$top/tools/testing/selftests/drivers/dma-buf" \
			"$top/tools/testing/selftests/dmabuf-heaps" \
			"$top/tools/testing/selftests/sync" \
			"$top/include/uapi/drm" \
			"$top/scripts/checkpatch.pl" \
			"$top/scripts/spelling.txt" \
			"$top/scripts/const_structs.checkpatch" ||
		vm_die "cannot extract selftests from $deb"
	# What `make headers_install` does to these headers, for our purpose:
	# the sparse annotations mean nothing to userspace compilers.
	mkdir -p "$tmp/usr/include"
	mv "$tmp/include/uapi/drm" "$tmp/usr/include/drm"
	rm -rf "$tmp/include"
	sed -i -E 's/\b(__user|__force|__iomem)\b//g' "$tmp"/usr/include/drm/*.h
	echo "$ver" >"$tmp/.pkgversion"
	touch "$tmp/.complete"
	rm -rf "$dest"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp" "$dest"
}

# Everything a guest of SERIES needs from the mirror.  Sets KREL, KPKGVER,
# KROOT (unpacked kernel) and KSRC (its headers).  Upstream's tests of every
# series are fetched too: guests run both 6.1's and 6.12's selftests.
fetch_all() {
	local series=$1 s
	vm_lock "$CACHE/.lock"
	clean_cache_tmp
	for s in $(kconf_series); do
		[ "$s" = "$series" ] && continue
		resolve_kernel "$s"
		fetch_upstream_tests "$s" "$KPKGVER"
	done
	resolve_kernel "$series"
	fetch_kernel "$series"
	fetch_upstream_tests "$series" "$KPKGVER"
	vm_unlock
	KROOT=$CACHE/kernels/$KREL
	KSRC=$KROOT/usr/src/linux-headers-$KREL
}
