/*
 * Span: shadow-paging coherence across hypervisors, a model for spin.
 * The protocol is described in Documentation/shadow-coherence.rst; the
 * names here follow it.
 *
 * One guest page-table frame F holds the PTE `pte` that maps one virtual
 * page, first to A, then (one guest write) to B. Three hypervisors:
 * H0 hosts vCPU0, which writes the PTE and then performs the TLB
 * shootdown: either an IPI to every other online vCPU, each acknowledging
 * after its INVLPG (like Linux's flush_tlb_others), or a flag in guest
 * memory that the other vCPUs poll before their own INVLPG (so no message
 * crosses hypervisors and channel FIFO order cannot help). H1 hosts vCPU1, which
 * translates through a shadow of F. H2 attaches at any moment and then
 * brings vCPU2 online, which translates too. Later the guest frees F: it
 * stops being a page table, shadows are dropped and so is write
 * protection.
 *
 * A hypervisor's shadow of F is "sync": KVM keeps it coherent only by
 * write-protecting F, so INVLPG does not re-read it. That is why the
 * cross-hypervisor protocol is needed at all.
 *
 * Checked: (1) after the shootdown reached a vCPU, it never translates
 * through a stale shadow (assertion in reader); (2) while any hypervisor
 * holds a shadow of F, every attached hypervisor write-protects F
 * (assertion in monitor); (3) no deadlock (spin's invalid end states);
 * (4) no lost or unanswered message (every channel empty at the end).
 *
 * Build with -DBROKEN_NOWAIT (the writer does not wait for INV_ACKs) or
 * -DBROKEN_NOPROTECT (a peer acknowledges ADD without write-protecting):
 * each must produce a violation; `make check-model` checks that too.
 */

#define NH	3
#define NONE	0
#define A	1
#define B	2

mtype = { ADD, ADD_ACK, DEL, INV, INV_ACK, JOIN, JOIN_ACK, IPI, IPI_ACK };

/* ch[from * NH + to]: the FIFO channel (ring) from one hypervisor to another. */
chan ch[NH * NH] = [6] of { mtype, byte };

byte pte = A;			/* guest memory: the PTE in frame F */
bool attached[NH];		/* hypervisors attached to the span VM */
bool knows[NH * NH];		/* knows[h*NH+p]: h has p in its peer list */
bool shadows[NH];		/* F in S_h (published or being published) */
bool view[NH * NH];		/* view[h*NH+p]: h believes F in S_p */
bool wp[NH];			/* h write-protects F */
byte shadow[NH];		/* h's shadow translation: NONE, A or B */
byte pending[NH];		/* ADD/JOIN/IPI acks h's vCPU still waits for */
byte invpending[NH];		/* INV acks h's vCPU still waits for */
bool online[NH];		/* vCPU h (hosted by H_h) is online */
bool joined;			/* H2 finished attaching */
bool flushed[NH];		/* vCPU h performed the shootdown's INVLPG */
bool late[NH];			/* vCPU h came online after the PTE write */
bool written;			/* vCPU0's PTE write has completed */
bool gflag;			/* guest memory: "flush your TLB" flag */
bool freed;			/* the guest freed F (no longer a page table) */
byte done;			/* processes that finished */

/* wp follows from the state: own shadow or any peer's. */
inline update_wp(h)
{
	wp[h] = shadows[h] || view[h * NH + 0] || view[h * NH + 1] || view[h * NH + 2]
}

/* Send m to every peer h knows; count how many must answer. */
inline to_peers(h, m, v, count)
{
	p = 0;
	do
	:: p < NH ->
		if
		:: p != h && knows[h * NH + p] -> ch[h * NH + p] ! m, v;
			count = count + 1
		:: else -> skip
		fi;
		p++
	:: else -> break
	od
}

/* Start shadowing F: publish it, wait until every peer write-protects it,
 * then walk the guest page table. */
inline shadow_walk(h)
{
	if
	:: shadows[h] -> skip
	:: else ->
		atomic {
			shadows[h] = true;
			update_wp(h);
			pending[h] = 0;
			to_peers(h, ADD, 0, pending[h])
		};
		(pending[h] == 0)
	fi;
	atomic { shadow[h] = pte }
}

/* A guest write to F by the vCPU of h: trapped when F is write-protected
 * here. The write lands in guest memory, local shadows are zapped, every
 * peer that shadows F is told, and the vCPU resumes only after all of
 * them acknowledged (so no later guest action, e.g. the shootdown IPI,
 * can overtake the invalidation). */
inline guest_write(h, v)
{
	atomic {
		if
		:: wp[h] ->
			pte = v;
			shadow[h] = NONE;
			invpending[h] = 0;
			p = 0;
			do
			:: p < NH ->
				if
				:: p != h && knows[h * NH + p] && view[h * NH + p] ->
					ch[h * NH + p] ! INV, 0;
					invpending[h] = invpending[h] + 1
				:: else -> skip
				fi;
				p++
			:: else -> break
			od
		:: else ->
			/* untrapped: by invariant nobody shadows F */
			pte = v
		fi
	};
#ifndef BROKEN_NOWAIT
	(invpending[h] == 0);
#endif
	skip
}

/* The message handler of hypervisor h (runs beside its vCPU). */
proctype handler(byte h)
{
	mtype m;
	byte v, from, p;
end:
	do
	:: atomic {
		(nempty(ch[0 * NH + h]) || nempty(ch[1 * NH + h]) || nempty(ch[2 * NH + h])) ->
		if
		:: nempty(ch[0 * NH + h]) -> from = 0
		:: nempty(ch[1 * NH + h]) -> from = 1
		:: nempty(ch[2 * NH + h]) -> from = 2
		fi;
		ch[from * NH + h] ? m, v;
		if
		:: m == ADD ->
#ifndef BROKEN_NOPROTECT
			view[h * NH + from] = true;
			update_wp(h);
#endif
			ch[h * NH + from] ! ADD_ACK, 0
		:: m == DEL ->
			view[h * NH + from] = false;
			update_wp(h)
		:: m == INV ->
			shadow[h] = NONE;
			ch[h * NH + from] ! INV_ACK, 0
		:: m == JOIN ->
			knows[h * NH + from] = true;
			ch[h * NH + from] ! JOIN_ACK, shadows[h]
		:: m == JOIN_ACK ->
			view[h * NH + from] = v;
			knows[h * NH + from] = true;
			update_wp(h);
			pending[h] = pending[h] - 1
		:: m == IPI ->
			/* the guest's INVLPG: a sync shadow is not re-read */
			flushed[h] = true;
			ch[h * NH + from] ! IPI_ACK, 0
		:: m == INV_ACK ->
			invpending[h] = invpending[h] - 1
		:: m == ADD_ACK || m == IPI_ACK ->
			pending[h] = pending[h] - 1
		fi
	   }
	od
}

/* vCPU0 on H0: maps the page (shadow), rewrites the PTE, shoots down the
 * other online vCPUs, later frees the page-table frame. */
proctype writer()
{
	byte p;
	shadow_walk(0);
	guest_write(0, B);
	written = true;
	if
	:: /* shootdown by IPI to every other online vCPU, waiting for acks */
		atomic {
			pending[0] = 0;
			p = 1;
			do
			:: p < NH ->
				if
				:: online[p] && knows[0 * NH + p] -> ch[0 * NH + p] ! IPI, 0;
					pending[0] = pending[0] + 1
				:: else -> skip
				fi;
				p++
			:: else -> break
			od
		};
		(pending[0] == 0)
	:: /* or through guest memory only: a flag the other vCPUs poll
	    * before they INVLPG themselves (no message crosses hypervisors) */
		gflag = true;
		(flushed[1])
	fi;
	/* the guest frees F: H0 stops shadowing it */
	(flushed[1]);
	atomic {
		freed = true;
		shadows[0] = false;
		shadow[0] = NONE;
		update_wp(0);
		p = 0;
		to_peers(0, DEL, 0, p)
	};
	done++
}

/* vCPUs 1 and 2: translate the page through their hypervisor's shadow. */
proctype reader(byte h)
{
	byte p, t;
	(online[h]);
	do
	:: freed -> break
	:: !freed ->
		if
		:: shadow[h] == NONE -> shadow_walk(h)
		:: else -> skip
		fi;
		if
		:: gflag && !flushed[h] -> flushed[h] = true	/* own INVLPG */
		:: else -> skip
		fi;
		atomic {
			t = shadow[h];
			/* (1) after the shootdown reached this vCPU, no stale shadow */
			assert(!((flushed[h] || late[h]) && written) || t == NONE || t == pte)
		}
	od;
	/* the frame is no longer a page table: drop the shadow, tell peers */
	atomic {
		shadows[h] = false;
		shadow[h] = NONE;
		update_wp(h);
		p = 0;
		to_peers(h, DEL, 0, p)
	};
	done++
}

/* H2 attaches: learns every peer's shadowed frames and write-protects
 * them before its vCPU runs. */
proctype attach()
{
	byte p;
	atomic {
		attached[2] = true;
		pending[2] = 0;
		ch[2 * NH + 0] ! JOIN, 0;
		ch[2 * NH + 1] ! JOIN, 0;
		pending[2] = 2
	};
	(pending[2] == 0);
	atomic {
		joined = true;
		online[2] = true;
		late[2] = written
	};
	done++
}

/* (2) whoever holds a shadow of F, everyone attached write-protects F */
proctype monitor()
{
end:
	do
	:: atomic {
		((shadow[0] != NONE || shadow[1] != NONE || shadow[2] != NONE) &&
		 !freed && !(attached[0] && wp[0] && attached[1] && wp[1] &&
		   (!joined || wp[2]))) ->
		assert(false)
	   }
	od
}

init {
	atomic {
		attached[0] = true;
		attached[1] = true;
		knows[0 * NH + 1] = true;
		knows[1 * NH + 0] = true;
		online[0] = true;
		online[1] = true;
		run handler(0);
		run handler(1);
		run handler(2);
		run monitor();
		run writer();
		run reader(1);
		run reader(2);
		run attach()
	};
	/* (4) nothing lost: at the end every channel is empty */
	(done == 4);
	(timeout) ->
	assert(empty(ch[1]) && empty(ch[2]) && empty(ch[3]) && empty(ch[5]) &&
	       empty(ch[6]) && empty(ch[7]));
	assert(pending[0] == 0 && pending[1] == 0 && pending[2] == 0);
	assert(invpending[0] == 0 && invpending[1] == 0 && invpending[2] == 0)
}
