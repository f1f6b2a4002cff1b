# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Helpers of the full-nesting tests and benchmark (tests/nested/), sourced
# by busybox sh at every level: in the lab (L0) and in each L1.
#
# Levels: the lab VM (TCG, our kernel, real KVM) is L0; an L1 is a KVM guest
# of L0 running our kernel and our QEMU (lab.cpio as its initramfs, so it
# carries everything L0 has); an L2 is a guest of an L1 (the unmodified
# Debian kernel with guest.cpio). No level below L0 shares a folder with the
# one above (our QEMU has no virtio-9p): a level gets its job as an extra
# cpio appended to its initramfs (/job/run and /job/nested/...), and its
# results come back on its serial console, a file of the level above. Every
# console byte of an L2 is an exit through two levels: consoles stay quiet
# (quiet loglevel=3 span.quiet=1), jobs print a few short lines.
#
# Files: /job/nested/ holds this file, vmlinux-debian, modules/ (Debian's
# virtio modules, loaded by l2_load_virtio), nested-bench (static) and, at
# L0 only, lab.cpio (the L1 initramfs).
#
# Result lines: "NESTED-TAP: ok NAME" / "NESTED-TAP: not ok NAME # why"
# (ok, nok, skip, check, grep_check, console_lines, guest_status:
# tests/lib/lab.sh, the helpers shared with the span tests, in $N);
# scripts/run-nested-tests numbers them. Measurements: "NESTED-M: key=value".
PATH=/span/bin:$PATH
N=/job/nested
export TAP_MARK=NESTED-TAP
# shellcheck source-path=SCRIPTDIR/../lib source=lab.sh
. $N/lab.sh
T=/tmp/nested
QEMU=qemu-system-x86_64
mkdir -p "$T"

# now_ms: this level's monotonic clock in ms (guest clocks under TCG are
# only good for ratios measured the same way in one run).
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# mem_avail_kb: MemAvailable of this level.
mem_avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }

# heartbeat_start [SEC]: print "NESTED-HB: <uptime> <ctxt>" every SEC (10)
# seconds in the background (HB is its pid), so that the level above can
# tell a stuck level (heartbeats stop) from a slow guest inside it.
heartbeat_start() {
	(while :; do echo "NESTED-HB: up=$(cut -d' ' -f1 /proc/uptime) $(grep '^ctxt' /proc/stat)"; sleep "${1:-10}"; done) &
	HB=$!
}
heartbeat_stop() { kill "$HB" 2>/dev/null; }
# last_heartbeat CONSOLE: the last heartbeat line of a console (or "none").
last_heartbeat() { l=$(console_lines "$1" 'NESTED-HB:' | tail -n 1); echo "${l:-no heartbeat}"; }

# kvm_exits_watch CONSOLE OUT: in the background (KW is its pid), follow
# the console of the L2 this level's KVM runs (only the console's owner
# sees it: in V2 that is L1a, so its counts are vCPU 0's) and write OUT.start and
# OUT.end, this level's KVM exit counters (debugfs, by reason) when the L2
# prints "NBENCH cpu-start" and "NBENCH cpu-done" around its CPU job: the
# exits the job itself costs, and this level's CPU time split over the job
# (l1_guest, l1_system, l1_user, l1_idle; l1_uptime_cs is the window's
# length), the CPU time of each thread of the L2's QEMU (thr_NAME, by
# thread name: where this level's CPU went besides the vCPU threads) and
# this level's interrupts (irq_NAME, summed over its CPUs: LOC is its timer,
# RES/CAL its IPIs, numbered lines are by device; OUT.start.irq and
# OUT.end.irq are copies of /proc/interrupts). Counters are read with
# builtins but for that copy, so the watcher adds as little work as it can
# to the level it measures; only the benchmark uses it (EXIT_WATCH=1 in
# $N/params, set by scripts/bench-nested).
KVM_EXIT_STATS="exits halt_exits io_exits mmio_exits irq_exits irq_window_exits request_irq_exits signal_exits insn_emulation hypercalls pf_taken span_exits"
kvm_exits_snapshot() {
	out=$1
	for d in /sys/kernel/debug/kvm/*-*; do
		[ -d "$d" ] || continue
		# the VM's QEMU: its debugfs folder is PID-FD
		p=${d##*/}
		p=${p%%-*}
		# MATCH (optional): only the VM whose QEMU command line has it
		if [ -n "${2:-}" ]; then
			cl=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)
			case "$cl" in *"$2"*) ;; *) continue ;; esac
		fi
		s=
		for k in $KVM_EXIT_STATS; do
			v=0
			[ -r "$d/$k" ] && read -r v < "$d/$k"
			s="$s $k=$v"
		done
		# this level's CPU time split (/proc/stat, USER_HZ ticks): guest is
		# its guest running, system its KVM, user its QEMU
		read -r _ us _ sy id _ _ _ st gu _ < /proc/stat
		read -r up _ < /proc/uptime	# seconds, 2 decimals
		s="$s l1_user=$us l1_system=$sy l1_idle=$id l1_steal=$st l1_guest=$gu l1_uptime_cs=${up%.*}${up#*.}"
		for t in "/proc/$p/task/"*; do
			read -r l < "$t/stat" || continue
			n=${l#*\(}
			n=${n%%\)*}
			# from field 3 (state) on: utime and stime are the 12th and 13th
			# shellcheck disable=SC2086 # the stat fields, one word each
			set -- ${l##*\) }
			s="$s thr_$(echo "$n" | tr ' /' '__')=$((${12} + ${13}))"
		done
		echo "$s" > "$out"
		cat /proc/interrupts > "$out.irq"
		return 0
	done
	return 1
}
# kvm_exits_watch CONSOLE OUT boot: the same over the L2's boot instead,
# from its VM's creation (its debugfs folder appearing) to its job's first
# line ("guest: kernel=..."): what its boot costs (EXIT_WATCH=boot).
kvm_exits_watch() {
	if [ "${3:-}" = boot ]; then
		(while ! kvm_exits_snapshot "$2.start"; do sleep 0.2; done
		 tail -F "$1" 2>/dev/null | while read -r l; do
			case "$l" in *"guest: kernel="*) kvm_exits_snapshot "$2.end"; break ;; esac
		 done) &
		KW=$!
		return
	fi
	# after each snapshot, "NESTED-JOB: cpu-start" ("cpu-done") on this
	# level's console: the level below it watches for that (l0_job_watch);
	# with WATCH_QMP (a span member's QMP input) also a query-span with the
	# id job-start (job-end): span_job_line compares their counters
	(tail -F "$1" 2>/dev/null | while read -r l; do
		case "$l" in
		*"NBENCH cpu-start"*) kvm_exits_snapshot "$2.start"; echo "NESTED-JOB: cpu-start"
			[ -z "$WATCH_QMP" ] || printf '{"execute":"query-span","id":"job-start"}\n' > "$WATCH_QMP" ;;
		*"NBENCH cpu-done"*) kvm_exits_snapshot "$2.end"; echo "NESTED-JOB: cpu-done"
			[ -z "$WATCH_QMP" ] || printf '{"execute":"query-span","id":"job-end"}\n' > "$WATCH_QMP"
			break ;;
		esac
	done) &
	KW=$!
}
# span_job_line QMP_LOG: " span_COUNTER=N ..." of a span member over the
# job: its query-span totals answered to job-end minus those to job-start
# (kvm_exits_watch with WATCH_QMP), or nothing without both answers.
span_job_line() {
	for id in job-start job-end; do
		tr -d '\r' < "$1" | grep "\"id\": \"$id\"" | grep -o '"counters": {[^}]*}' | tail -n 1
	done | awk '{ gsub(/[{}",:]/, " "); for (i = 2; i < NF; i += 2) { if (NR == 1) a[$i] = $(i + 1); else if ($i in a) { o = o " span_" $i "=" ($(i + 1) - a[$i]) } } }
		    END { if (NR == 2) print o }'
}
# l0_job_watch CONSOLE OUT L1...: in the lab (L0), follow the console of
# the L1 that watches the L2's job (kvm_exits_watch relays its markers as
# "NESTED-JOB: ..."), and at each marker snapshot the lab's KVM counters,
# CPU split and QEMU threads of each L1 (named by its console file,
# $T/L1.con) in OUT.L1.start and OUT.L1.end: what every hypervisor's vCPUs
# cost the lab during the job, also those of an L1 without the L2's
# console. An L1 with a job control line ($T/L1.ctl.in, span_topology
# gives one to each L1 without the L2's console) is passed the marker
# first, so that it counts the same job from inside (kvm_exits_ctl_watch).
# L0W is the watcher's pid; l0_job_lines prints the results.
l0_job_watch() {
	con=$1 o=$2
	shift 2
	(tail -F "$con" 2>/dev/null | while read -r l; do
		case "$l" in
		*"NESTED-JOB: cpu-start"*) m=cpu-start x=start ;;
		*"NESTED-JOB: cpu-done"*) m=cpu-done x=end ;;
		*) continue ;;
		esac
		# read-write: opening a FIFO so never blocks, even when its L1 is gone
		for v in "$@"; do [ -p "$T/$v.ctl.in" ] && echo "$m" 1<> "$T/$v.ctl.in"; done
		for v in "$@"; do kvm_exits_snapshot "$o.$v.$x" "file:$T/$v.con"; done
		[ "$m" = cpu-done ] && break
	done) &
	L0W=$!
}
# kvm_exits_ctl_watch TTY OUT: what kvm_exits_watch does, for an L1 that
# has no console of the L2 (V2's L1b): the markers come from the lab on
# the serial line TTY ("cpu-start", "cpu-done"), relayed by l0_job_watch.
# Sets KW.
kvm_exits_ctl_watch() {
	stty -F "$1" raw -echo 2>/dev/null
	(while read -r l; do
		case "$l" in
		cpu-start*) kvm_exits_snapshot "$2.start" ;;
		cpu-done*) kvm_exits_snapshot "$2.end"; break ;;
		esac
	done < "$1") &
	KW=$!
}
# kvm_exits_watch_stop: stop the watcher that kvm_exits_watch or
# kvm_exits_ctl_watch started.
kvm_exits_watch_stop() { kill "$KW" 2>/dev/null; }
# l0_job_lines WHO OUT L1...: one "NESTED-M: level=L0 who=WHO vm=L1
# l0-job-exits ..." line per L1 watched by l0_job_watch (nothing for one
# whose job it did not see).
l0_job_lines() {
	who=$1 o=$2
	shift 2
	kill "$L0W" 2>/dev/null
	for v in "$@"; do
		[ -s "$o.$v.end" ] && echo "NESTED-M: level=L0 who=$who vm=$v l0-job-exits$(kvm_exits_line "$o.$v")"
	done
	return 0
}
# kvm_exits_line OUT: " kvm_REASON=N ... thr_NAME=N ... irq_NAME=N ..." of
# the job (end minus start; threads of one name summed), or nothing if the
# watcher saw no job (stop the watcher first: kvm_exits_watch_stop).
kvm_exits_line() {
	[ -s "$1.start" ] && [ -s "$1.end" ] || return 0
	awk 'function add(k, v) { if (!(k in seen)) { seen[k] = 1; order[++n] = k }; c[f <= 2 ? "s" : "e", k] += v }
	     FNR == 1 { f++ }
	     # /proc/interrupts: a header of CPUs, then NAME: a count per CPU, [chip, device]
	     FILENAME ~ /\.irq$/ && FNR == 1 { ncpu = NF; next }
	     FILENAME ~ /\.irq$/ {
		k = $1; sub(/:$/, "", k); t = 0
		for (i = 2; i <= ncpu + 1 && i <= NF; i++) t += $i
		if (k ~ /^[0-9]+$/) k = k "_" $NF
		add("irq_" k, t); next
	     }
	     { for (i = 1; i <= NF; i++) { split($i, a, "="); add(a[1] ~ /^(l1|thr)_/ ? a[1] : "kvm_" a[1], a[2]) } }
	     END { for (i = 1; i <= n; i++) printf " %s=%d", order[i], c["e", order[i]] - c["s", order[i]]; print "" }' \
		"$1.start" "$1.start.irq" "$1.end" "$1.end.irq"
}

# pack_initrd BASE DIR OUT: the cpio BASE followed by DIR's files (as /).
pack_initrd() {
	(cd "$2" && find . | cpio -o -H newc 2>/dev/null) > "$3.tail" &&
		cat "$1" "$3.tail" > "$3" && rm -f "$3.tail"
}

# l2_initrd SCRIPT OUT [PARAMS]: an L2 initramfs: guest.cpio (busybox,
# lab-init), SCRIPT as /job/run, Debian's virtio modules in /job/modules,
# nested-bench and span-bench in /job and PARAMS (default $N/params) as
# /job/params.
l2_initrd() {
	d=$T/l2rd.$$
	rm -rf "$d" && mkdir -p "$d/job"
	cp "$1" "$d/job/run"
	[ -d $N/modules ] && cp -r $N/modules "$d/job/"
	[ -x $N/nested-bench ] && cp $N/nested-bench "$d/job/"
	[ -x $N/span-bench ] && cp $N/span-bench "$d/job/"
	[ -f "${3:-$N/params}" ] && cp "${3:-$N/params}" "$d/job/params"
	pack_initrd /boot/guest.cpio "$d" "$2"
	rm -rf "$d"
}

# l1_initrd SCRIPT OUT: an L1 initramfs: lab.cpio (our QEMU, kernel,
# guest.cpio...), SCRIPT as /job/run, and /job/nested without lab.cpio.
l1_initrd() {
	[ -f $N/lab.cpio ] || { echo "nested: no $N/lab.cpio (the L1 initramfs)"; return 1; }
	d=$T/l1rd.$$
	rm -rf "$d" && mkdir -p "$d/job/nested"
	cp "$1" "$d/job/run"
	for f in "$N"/*; do
		case "$f" in */lab.cpio) ;; *) cp -r "$f" "$d/job/nested/" ;; esac
	done
	pack_initrd $N/lab.cpio "$d" "$2"
	rm -rf "$d"
}

# l2_load_virtio: (in a Debian L2) load Debian's virtio-pci and virtio-blk
# modules from /job/modules, in dependency order.
l2_load_virtio() {
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
		[ -f /job/modules/$m.ko ] && insmod /job/modules/$m.ko 2>/dev/null
	done
	return 0
}

# vm WHAT KERNEL INITRD CONSOLE [QEMU-ARGS...]: boot one guest under this
# level's KVM in the foreground, console in CONSOLE (a file), QEMU's own
# output in CONSOLE.qemu. WHAT names it in messages ("L1", "L2 of L1a"...).
# SMP (default 2), MEM (256M), TIMEOUT (300 s) and APPEND (extra kernel
# command line) are read from the environment. Sets VM_STATUS to the job's
# exit status (empty if the guest never reported one), VM_MS to the time
# from launch to power-off on this level's clock, and VM_ERR to a one-line
# reason on failure; returns 0 only if the job reported status 0.
vm() {
	what=$1 kern=$2 rd=$3 con=$4; shift 4
	rm -f "$con"
	t0=$(now_ms)
	# no TSC-deadline timer: the lab's idle stall (Documentation/qemu-span.rst);
	# named threads ("CPU 0/KVM"...) for the exit watcher's per-thread times
	timeout -k 5 "${TIMEOUT:-300}" $QEMU -accel kvm -cpu host,-tsc-deadline \
		-name debug-threads=on -smp "${SMP:-2}" -m "${MEM:-256M}" -kernel "$kern" -initrd "$rd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 span.quiet=1 span.run=/job/run${APPEND:+ $APPEND}" \
		-display none -no-reboot -nodefaults -nic none -vga none \
		-serial "file:$con" "$@" > "$con.qemu" 2>&1
	rc=$?
	# shellcheck disable=SC2034 # VM_MS is for the caller (see above)
	VM_MS=$(( $(now_ms) - t0 ))
	VM_STATUS=$(guest_status "$con")
	VM_ERR=
	if [ -z "$VM_STATUS" ]; then
		if [ $rc = 124 ] || [ $rc = 137 ] || grep -q 'terminating on signal' "$con.qemu"; then
			# an L1 prints heartbeats; an L2 does not: its last line then
			hb=$(last_heartbeat "$con")
			[ "$hb" != "no heartbeat" ] || hb="no heartbeat; its last console line: '$(tr -d '\r' < "$con" 2>/dev/null | grep -v '^$' | tail -n 1 | cut -c1-120)'"
			VM_ERR="$what timed out after ${TIMEOUT:-300}s (its last heartbeat: $hb)"
		elif [ ! -s "$con" ]; then
			VM_ERR="$what did not boot: no console output (qemu exit $rc: $(tail -n 2 "$con.qemu" | tr '\n' ' ' | cut -c1-200))"
		else
			VM_ERR="$what stopped without reporting a status (kernel panic or reset?): $(tr -d '\r' < "$con" | tail -n 3 | tr '\n' ' ' | cut -c1-200)"
		fi
		echo "nested: $VM_ERR" >&2
		return 1
	fi
	[ "$VM_STATUS" = 0 ]
}
