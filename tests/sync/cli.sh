#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# 'dmabridge fence' as shell scripts use it: a timeline held for a command,
# signals and waits by value, timeouts, errors, implicit sync on a dma-buf.
n=0
failed=0

# check NAME EXPECTED_STATUS PATTERN COMMAND: runs COMMAND with sh, checks
# its exit status and that its output matches the grep pattern.
check() {
	name=$1 want=$2 pattern=$3
	shift 3
	n=$((n + 1))
	out=$(sh -c "$*" 2>&1)
	got=$?
	if [ "$got" = "$want" ] && printf '%s\n' "$out" | grep -qE -- "$pattern"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "# exit $got (wanted $want), output:"
		printf '%s\n' "$out" | sed 's/^/#   /'
		failed=1
	fi
}

echo "TAP version 13"
check "timeline runs its command with the timeline inherited" 0 '^value: 7$' \
	'dmabridge fence timeline --name tl --start 7 --exec "dmabridge fence info"'
check "a program after -- gets the timeline too" 0 '^name: prog$' \
	'dmabridge fence timeline -n prog -- dmabridge fence info'
check "the exit status is the command's" 3 '' \
	'dmabridge fence timeline --exec "exit 3"'
check "wait returns when another process signals" 0 '^signaled$' \
	'dmabridge fence timeline --exec "(sleep 0.2; dmabridge fence signal 3) & dmabridge fence wait --timeout 10s 3"'
check "wait times out with 124" 124 'timed out' \
	'dmabridge fence timeline --exec "dmabridge fence wait --timeout 100ms 1"'
check "signal --error fails the waiter" 1 '^error 5 ' \
	'dmabridge fence timeline --exec "(sleep 0.3; dmabridge fence signal --error EIO 2) & dmabridge fence wait 1"'
check "a timeline timeout fails a fence with ETIMEDOUT" 1 '^error 110 ' \
	'dmabridge fence timeline --timeout 200ms --exec "dmabridge fence wait 1"'
check "signal --inc adds" 0 '^value: 5$' \
	'dmabridge fence timeline --exec "dmabridge fence signal 2 && dmabridge fence signal --inc 3 && dmabridge fence info"'
check "the timeline never goes back" 1 'Invalid argument' \
	'dmabridge fence timeline --exec "dmabridge fence signal 2 && dmabridge fence signal 1"'
# Inside a udmabuf's --exec: $DMABRIDGE_FD is the buffer.
tmp=$(mktemp -d)
cat >"$tmp/attach-wait" <<'SCRIPT'
dmabridge fence attach --dmabuf "$DMABRIDGE_FD" 1
dmabridge fence wait --dmabuf "$DMABRIDGE_FD" --timeout 100ms
echo "first=$?"
dmabridge fence signal 1
dmabridge fence wait --dmabuf "$DMABRIDGE_FD" --timeout 10s
SCRIPT
# EXPORT_SYNC_FILE leaves out fences that have signaled, errors and all, so
# the waiter exports while the fence is pending.  It must not hold the
# timeline itself, or the timeline would never close.
cat >"$tmp/attach-close" <<'SCRIPT'
dmabridge fence attach --dmabuf "$DMABRIDGE_FD" 5
(eval "exec $DMABRIDGE_TIMELINE>&-"
 dmabridge fence wait --dmabuf "$DMABRIDGE_FD" --write --timeout 10s
 echo "wait=$?") &
sleep 0.5
SCRIPT
check "a dma-buf waits for an attached fence until it signals" 0 'first=124.*signaled' \
	"dmabridge udmabuf create --size 4K --exec 'dmabridge fence timeline -- sh $tmp/attach-wait' | tr '\\n' ' '"
check "a closed timeline fails the fences it left in a dma-buf" 0 'error 32 .*wait=1' \
	"dmabridge udmabuf create --size 4K --exec 'dmabridge fence timeline -- sh $tmp/attach-close' | tr '\\n' ' '"
check "subcommands need a timeline" 2 'no timeline' \
	'unset DMABRIDGE_TIMELINE; dmabridge fence signal 1'
check "a bad duration is a usage error" 2 'bad duration' \
	'dmabridge fence timeline --timeout 5parsecs --exec true'
check "status refuses what is not a sync_file" 1 'not a sync_file' \
	'dmabridge fence timeline --exec "dmabridge fence status \$DMABRIDGE_TIMELINE"'
rm -rf "$tmp"
echo "1..$n"
exit $failed
