#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# 'dmabridge xen grant', 'map' and 'inspect' in dom0, which grants to
# itself: on udmabufs held by other processes (PID:FD), a vgem buffer in
# use, gntalloc grants (xen_peer) and dma-buf fences.  Prints TAP.
P=/opt/dmabridge/tests/xen/xen_peer
T=$(mktemp -d)
n=0
fails=0

# check NAME STATUS WANT PATTERN...: STATUS must be WANT and the output in
# $out must match every grep -E PATTERN.
check() {
	name=$1 got=$2 want=$3
	shift 3
	ok=1
	[ "$got" = "$want" ] || ok=0
	for pat; do
		printf '%s\n' "$out" | grep -qE -- "$pat" || { ok=0; echo "# no match: $pat"; }
	done
	n=$((n + 1))
	if [ $ok = 1 ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "# exit $got (wanted $want), output:"
		printf '%s\n' "$out" | sed 's/^/#   /'
		fails=$((fails + 1))
	fi
}

# hold_buf NAME ARGS...: a udmabuf ('udmabuf create ARGS') held by another
# process until drop_buf NAME; prints PID:FD.
hold_buf() {
	name=$1
	shift
	touch "$T/$name.hold"
	dmabridge udmabuf create "$@" --exec \
		"echo \$\$:\$DMABRIDGE_FD >$T/$name.ref; while [ -e $T/$name.hold ]; do sleep 0.1; done" \
		>"$T/$name.out" 2>&1 &
	for i in $(seq 100); do
		[ -s "$T/$name.ref" ] && break
		sleep 0.1
	done
	cat "$T/$name.ref"
}

drop_buf() {
	rm -f "$T/$1.hold"
}

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_for() {
	for i in $(seq 100); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# xs_refs KEY: refs xen_peer published at data/KEY, comma-separated.
xs_refs() {
	for i in $(seq 100); do
		r=$(xenstore-read "/local/domain/0/data/$1" 2>/dev/null) && break
		sleep 0.1
	done
	echo "$r" | tr ' ' ,
}

# first_bytes: "PAGE=BYTE " for each page of inspect's output whose first
# line has one byte value throughout, "PAGE=mixed " otherwise.
first_bytes() {
	awk '/^page/ { p = $2 + 0 }
	     /^  0000/ { s = $2; for (i = 3; i <= 17; i++) if ($i != $2) s = "mixed"
			 printf "%d=%s ", p, s }'
}

echo "1..16"

A=$(hold_buf a --size 16K --fill 0x11)
out=$(dmabridge xen grant 0 "$A" --exec 'dmabridge xen export 0 "$DMABRIDGE_XEN_REFS"' 2>&1)
check "grant prints 4 refs, export maps them while they are held" $? 0 \
	'^refs: [0-9]+,[0-9]+,[0-9]+,[0-9]+$' '^access: read-write$' \
	'^dma-buf of 4 pages from domain 0, read-write$' '^released: '
refs=$(printf '%s\n' "$out" | sed -n 's/^refs: //p')
out=$(dmabridge xen export 0 "$refs" 2>&1)
check "the refs are gone after the release" $? 1 "mapping 4 refs of domain 0"

mkfifo "$T/in"
dmabridge xen grant 0 "$A" <"$T/in" >"$T/grant.out" 2>&1 &
g=$!
exec 3>"$T/in"
wait_for "$T/grant.out" '^holding the grants until stdin ends'
refs=$(sed -n 's/^refs: //p' "$T/grant.out")
out=$(dmabridge xen export 0 "$refs" 2>&1)
rc=$?
exec 3>&-
wait $g || rc=1
out="$out
$(cat "$T/grant.out")"
check "grant without --exec holds the refs until stdin ends" $rc 0 \
	'^dma-buf of 4 pages from domain 0, read-write$' '^released: '

# The fifo stays open: only the signal ends the hold.
dmabridge xen grant 0 "$A" <"$T/in" >"$T/grant.out" 2>&1 &
g=$!
exec 3>"$T/in"
wait_for "$T/grant.out" '^holding the grants until stdin ends'
kill -TERM $g
wait $g
rc=$?
exec 3>&-
out=$(cat "$T/grant.out")
check "SIGTERM ends a hold on stdin, and the grants are released" $rc 0 \
	'^released: '
drop_buf a

B=$(hold_buf b --size 8K --fill 0x22)
C=$(hold_buf c --size 4K --fill 0x33)
# B's refs reach the inner command as $R.
cat >"$T/two.sh" <<'SCRIPT'
dmabridge xen grant 0 "$1" --exec 'dmabridge xen inspect 0 "$R,$DMABRIDGE_XEN_REFS" --bytes 16'
SCRIPT
out=$(dmabridge xen grant 0 "$B" --exec "R=\$DMABRIDGE_XEN_REFS sh $T/two.sh $C" 2>&1)
rc=$?
got=$(printf '%s\n' "$out" | first_bytes)
echo "# inspect: $got"
[ "$got" = "0=22 1=22 2=33 " ] || rc=1
check "inspect shows what two granters wrote, in ref order" $rc 0 \
	"^domain 0, 3 refs, first 16 bytes of each page$"
drop_buf b
drop_buf c

# xen_peer fills its gntalloc pages with tests/include's pat_byte(SEED_CPU):
# these are the first bytes of its pages 0 and 1.
$P grant 0 2 cli-insp >"$T/peer.out" 2>&1 &
peer=$!
refs=$(xs_refs cli-insp)
out=$(dmabridge xen inspect 0 "$refs" --bytes 8 2>&1)
check "inspect shows a gntalloc granter's bytes" $? 0 \
	'^  0000  5e f3 aa 94 a0 72 63 40 ' '^  0000  0b d2 b5 c7 78 a0 64 9a '
kill $peer 2>/dev/null
wait $peer 2>/dev/null

D=$(hold_buf d --size 4K --fill 0x5a --readonly)
out=$(dmabridge xen grant 0 "$D" --exec 'dmabridge xen export 0 "$DMABRIDGE_XEN_REFS" && dmabridge xen inspect 0 "$DMABRIDGE_XEN_REFS" --bytes 16' 2>&1)
check "read-only grants: export and inspect map them read-only" $? 0 \
	'^access: read-only' '^dma-buf of 1 pages from domain 0, read-only' \
	'^  0000  5a 5a 5a 5a 5a 5a 5a 5a  5a 5a 5a 5a 5a 5a 5a 5a  \|ZZZZZZZZZZZZZZZZ\|$'
drop_buf d

# map: a peer's two pages over pages 1 and 2 of another process's buffer.
$P grant 0 2 cli-map >"$T/peer.out" 2>&1 &
peer=$!
refs=$(xs_refs cli-map)
M=$(hold_buf m --size 16K --fill 0x66)
out=$(dmabridge xen map 0 "$refs" "$M" --offset 4K --exec "
	dmabridge xen map 0 $refs $M; echo map-again=\$?
	dmabridge xen grant 0 $M --exec true; echo grant=\$?" 2>&1)
check "map onto another process's udmabuf; while held it refuses others" $? 0 \
	'^mapped: 2 refs of domain 0 over bytes 4096 to 12287$' \
	'^dmabridge: buffer in use: it has other importers, CPU mappings or pending fences$' \
	'^map-again=1$' 'Device or resource busy' '^grant=1$' \
	'^released: the buffer has its own pages back$'
out=$(dmabridge xen grant 0 "$M" --exec 'dmabridge xen inspect 0 "$DMABRIDGE_XEN_REFS" --bytes 16' 2>&1)
rc=$?
got=$(printf '%s\n' "$out" | first_bytes)
echo "# inspect: $got"
[ "$got" = "0=66 1=66 2=66 3=66 " ] || rc=1
check "after the release the buffer has its own pages and bytes again" $rc 0 \
	'^released: '
out=$(dmabridge xen grant 0 "$M" --exec "dmabridge xen map 0 $refs $M" 2>&1)
check "map refuses a buffer another importer has attached" $? 1 \
	'^dmabridge: buffer in use: it has other importers, CPU mappings or pending fences$'
drop_buf m

# xen_peer offer keeps a vgem buffer mmapped and granted (attached).
$P offer 0 2 /local/domain/0/data/cli-offer >"$T/offer.out" 2>&1 &
offer=$!
xs_refs cli-offer >/dev/null
vfd=$(grep -l '^exp_name:' /proc/$offer/fdinfo/* 2>/dev/null | head -n 1)
out=$(dmabridge xen map 0 "$refs" "$offer:${vfd##*/}" 2>&1)
check "map refuses a vgem buffer another process maps and grants" $? 1 \
	'buffer in use: it has other importers, CPU mappings or pending fences$'
kill $offer 2>/dev/null
wait $offer 2>/dev/null

# Fences, in a buffer and a timeline this script's children inherit.
cat >"$T/fence.sh" <<SCRIPT
R=$refs
dmabridge fence attach --dmabuf \$DMABRIDGE_FD 1
dmabridge xen map 0 \$R \$DMABRIDGE_FD --exec true; echo busy=\$?
dmabridge fence signal 1
dmabridge xen map 0 \$R \$DMABRIDGE_FD --exec '(sleep 1; dmabridge fence signal 2) & dmabridge fence attach --dmabuf \$DMABRIDGE_FD 2'
echo late=\$?
dmabridge xen map 0 \$R \$DMABRIDGE_FD --exec 'dmabridge fence attach --dmabuf \$DMABRIDGE_FD 3'
echo stuck=\$?
rmmod dmabridge_xen_gntdev_dmabuf 2>/dev/null; echo rmmod=\$?
dmabridge fence signal 3
for i in \$(seq 100); do
	dmabridge xen map 0 \$R \$DMABRIDGE_FD </dev/null >/dev/null 2>&1 && break
	sleep 0.1
done
echo after=\$?
SCRIPT
out=$(dmabridge udmabuf create --size 8K --exec "dmabridge fence timeline -- sh $T/fence.sh" 2>&1)
rc=$?
all=$out
check "map refuses a buffer with a pending fence" $rc 0 '^busy=1$' \
	'buffer in use: it has other importers, CPU mappings or pending fences$'
out=$(printf '%s\n' "$all" | sed -n '/^busy=/,/^late=/p')
check "release waits for a fence that signals later" $rc 0 \
	'^waiting up to 5 s for the buffer.s fences' \
	'^released: the buffer has its own pages back$' '^late=0$'
out=$(printf '%s\n' "$all" | sed -n '/^late=/,$p')
check "release stops waiting after 5 s and finishes once the fence signals" $rc 0 \
	'fences did not signal in 5 s: its own pages go back' '^stuck=1$' \
	'^after=0$'
check "rmmod fails, not hangs, while a release waits for a fence" $rc 0 \
	'^rmmod=1$'
kill $peer 2>/dev/null
wait $peer 2>/dev/null

out=$(for a in "grant x 1:1" "grant 0 1:x" "map 0 1,,2 1:1" "map 0 1 1:1 --offset 100" \
	"inspect 0 1 --bytes 5000" "inspect 0"; do
	dmabridge xen $a; echo "rc=$?"; done 2>&1)
check "usage errors exit 2" "$(printf '%s\n' "$out" | grep -c '^rc=2$')" 6

rm -rf "$T"
[ $fails = 0 ]
