#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Between dom0 and PV domUs (run in dom0): a domU's grants as a dma-buf in
# dom0 and the reverse, and a domU destroyed while dom0 still maps its
# grants.  Each domU is judged by xen-domu (exit status, kernel log, our
# modules unloading); prints TAP.
P=/opt/dmabridge/tests/xen/xen_peer
n=0
fails=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fails=$((fails + 1))
	fi
}

echo "1..7"

id=$(xen-domu start fwd "$P grant 0 8 fwd") || exit 1
$P export "$id" "/local/domain/$id/data/fwd" 8
rc=$?
xen-domu wait fwd || rc=1
check $rc "domU grants, dom0 exports and reads the domU's bytes"

id=$(xen-domu start back "$P export 0 data/back 8 && $P dir-export 0 data/dir 1100") || exit 1
$P offer "$id" 8 "/local/domain/$id/data/back"
rc=$?
check $rc "dom0 grants a vgem buffer, the domU exports and reads it"
# More refs than one directory page holds (1023): a chain of two.
$P dir-offer "$id" 1100 "/local/domain/$id/data/dir"
rc=$?
xen-domu wait back || rc=1
check $rc "1100 pages passed with one ref through a PV page directory"

id=$(xen-domu start mapx "$P grant 0 8 mapx") || exit 1
$P map "$id" "/local/domain/$id/data/mapx" 8
rc=$?
xen-domu wait mapx || rc=1
check $rc "domU grants, dom0 maps the refs behind its own buffer and back"

rm -f /tmp/gone
id=$(xen-domu start gone "$P grant 0 4 gone") || exit 1
$P hold "$id" "/local/domain/$id/data/gone" 4 /tmp/gone >/tmp/hold.out 2>&1 &
hold=$!
rc=1
# As long as the peer helper waits for the refs (WAIT_S in xen_peer.c): on
# a loaded host a domU took more than a minute to boot and grant.
for i in $(seq 1200); do
	grep -q holding /tmp/hold.out && { rc=0; break; }
	sleep 0.1
done
xen-domu destroy gone >/dev/null 2>&1 || rc=1
touch /tmp/gone
wait $hold || rc=1
cat /tmp/hold.out
# Once dom0 unmapped its grants, nothing keeps the dead domain around.
gone=1
for i in $(seq 100); do
	xl list 2>/dev/null | awk 'NR > 1 && $2 != 0' | grep -q . || { gone=0; break; }
	sleep 0.1
done
[ $gone = 0 ] || { echo "# a dying domain is left:"; xl list; rc=1; }
xen-domu wait gone >/dev/null || rc=1
check $rc "domU destroyed while dom0 maps its grants: no domain left behind"
# The CLI maps a domain's refs (dom0's own here).
$P grant 0 2 cli >/tmp/cli.out 2>&1 &
granter=$!
refs=
for i in $(seq 100); do
	refs=$(xenstore-read /local/domain/0/data/cli 2>/dev/null) && break
	sleep 0.1
done
out=$(dmabridge xen export 0 "$(echo "$refs" | tr ' ' ,)")
rc=$?
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q "2 pages from domain 0, read-write" || rc=1
dmabridge xen info | grep -q "^gntdev-dmabuf: *$(echo /dev/xen/gntdev-dmabuf)$" || rc=1
kill $granter 2>/dev/null
wait $granter 2>/dev/null
check $rc "dmabridge xen export maps refs, xen info sees the node"
# Every grant and grant mapping of dom0's module is gone again (a released
# import's grants end in the background, tried at most a second apart).
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
	left=$(grep -v ' 0$' /sys/kernel/debug/dmabridge-xen/objects)
	rc=$?
	[ $rc = 1 ] && break
	sleep 0.2
done
echo "$left" | sed 's/^/# /'
[ $rc = 1 ] && rc=0 || rc=1
check $rc "dom0 holds no grant or grant mapping afterwards"
[ $fails = 0 ]
