/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of ept_pmap (tracefs: events/ept_pmap/; trace-cmd record
 * -e ept_pmap), shaped like KVM's kvm_mmu_* and kvm_entry/kvm_exit:
 *
 *   ept_pmap_map, _unmap, _protect  one per MAP, UNMAP, PROTECT that got
 *                     past argument validation, with its errno (0: done);
 *   ept_pmap_flush    a change made translations stale: the space's flush
 *                     generation (STATS' flushes) it moved to;
 *   ept_pmap_invept   a CPU caught up with that generation before entering
 *                     the guest;
 *   ept_pmap_run_entry, _run_exit  one pair per RUN that reached the
 *                     launcher: the guest state going in, the exit record
 *                     (kind, raw reason and qualification, gpa) coming out.
 *
 * Every field is a value of the ABI (include/uapi/linux/ept_pmap.h), so a
 * trace reads like the calls that caused it; no kernel address is shown.
 * CREATE_TRACE_POINTS is defined in main.c only.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ept_pmap

#if !defined(_EPM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _EPM_TRACE_H

#include <linux/tracepoint.h>
#include <linux/ept_pmap.h>

TRACE_EVENT(ept_pmap_map,
	    TP_PROTO(u64 gpa, u64 size, u32 flags, u32 memtype, u64 max_page,
		     int ret),
	    TP_ARGS(gpa, size, flags, memtype, max_page, ret),
	    TP_STRUCT__entry(__field(u64, gpa)
			     __field(u64, size)
			     __field(u64, max_page)
			     __field(u32, flags)
			     __field(u32, memtype)
			     __field(int, ret)),
	    TP_fast_assign(__entry->gpa = gpa;
			   __entry->size = size;
			   __entry->max_page = max_page;
			   __entry->flags = flags;
			   __entry->memtype = memtype;
			   __entry->ret = ret;),
	    TP_printk("gpa 0x%llx size 0x%llx flags %s memtype %s max_page 0x%llx ret %d",
		      __entry->gpa, __entry->size,
		      __print_flags(__entry->flags, "",
				    { EPM_PERM_R, "r" }, { EPM_PERM_W, "w" },
				    { EPM_PERM_X, "x" },
				    { EPM_MAP_IPAT, " ipat" },
				    { EPM_MAP_AD, " ad" }),
		      __print_symbolic(__entry->memtype,
				       { EPM_MEMTYPE_WB, "wb" },
				       { EPM_MEMTYPE_UC, "uc" },
				       { EPM_MEMTYPE_WC, "wc" },
				       { EPM_MEMTYPE_WT, "wt" },
				       { EPM_MEMTYPE_WP, "wp" }),
		      __entry->max_page, __entry->ret)
);

TRACE_EVENT(ept_pmap_unmap,
	    TP_PROTO(u64 gpa, u64 size, int ret),
	    TP_ARGS(gpa, size, ret),
	    TP_STRUCT__entry(__field(u64, gpa)
			     __field(u64, size)
			     __field(int, ret)),
	    TP_fast_assign(__entry->gpa = gpa;
			   __entry->size = size;
			   __entry->ret = ret;),
	    TP_printk("gpa 0x%llx size 0x%llx ret %d",
		      __entry->gpa, __entry->size, __entry->ret)
);

TRACE_EVENT(ept_pmap_protect,
	    TP_PROTO(u64 gpa, u64 size, u32 perm, int ret),
	    TP_ARGS(gpa, size, perm, ret),
	    TP_STRUCT__entry(__field(u64, gpa)
			     __field(u64, size)
			     __field(u32, perm)
			     __field(int, ret)),
	    TP_fast_assign(__entry->gpa = gpa;
			   __entry->size = size;
			   __entry->perm = perm;
			   __entry->ret = ret;),
	    TP_printk("gpa 0x%llx size 0x%llx perm %s ret %d",
		      __entry->gpa, __entry->size,
		      __print_flags(__entry->perm, "",
				    { EPM_PERM_R, "r" }, { EPM_PERM_W, "w" },
				    { EPM_PERM_X, "x" }),
		      __entry->ret)
);

TRACE_EVENT(ept_pmap_flush,
	    TP_PROTO(u64 flushes),
	    TP_ARGS(flushes),
	    TP_STRUCT__entry(__field(u64, flushes)),
	    TP_fast_assign(__entry->flushes = flushes;),
	    TP_printk("flushes %llu", __entry->flushes)
);

TRACE_EVENT(ept_pmap_invept,
	    TP_PROTO(unsigned int cpu, u64 flushes, bool single),
	    TP_ARGS(cpu, flushes, single),
	    TP_STRUCT__entry(__field(u64, flushes)
			     __field(unsigned int, cpu)
			     __field(bool, single)),
	    TP_fast_assign(__entry->flushes = flushes;
			   __entry->cpu = cpu;
			   __entry->single = single;),
	    TP_printk("cpu %u flushes %llu %s", __entry->cpu, __entry->flushes,
		      __entry->single ? "single-context" : "global")
);

TRACE_EVENT(ept_pmap_run_entry,
	    TP_PROTO(const struct epm_run *r),
	    TP_ARGS(r),
	    TP_STRUCT__entry(__field(u64, rip)
			     __field(u64, timeout_ns)
			     __field(u32, mode)),
	    TP_fast_assign(__entry->rip = r->regs.rip;
			   __entry->timeout_ns = r->timeout_ns;
			   __entry->mode = r->mode;),
	    TP_printk("mode %s rip 0x%llx timeout_ns %llu",
		      __print_symbolic(__entry->mode,
				       { EPM_MODE_PROT32, "prot32" },
				       { EPM_MODE_REAL, "real" },
				       { EPM_MODE_LONG64, "long64" }),
		      __entry->rip, __entry->timeout_ns)
);

TRACE_EVENT(ept_pmap_run_exit,
	    TP_PROTO(const struct epm_run *r, int ret),
	    TP_ARGS(r, ret),
	    TP_STRUCT__entry(__field(u64, qual)
			     __field(u64, gpa)
			     __field(u64, rip)
			     __field(u32, kind)
			     __field(u32, reason)
			     __field(int, ret)),
	    TP_fast_assign(__entry->qual = r->exit_qual;
			   __entry->gpa = r->gpa;
			   __entry->rip = r->regs.rip;
			   __entry->kind = r->exit_kind;
			   __entry->reason = r->exit_reason;
			   __entry->ret = ret;),
	    TP_printk("kind %s reason 0x%x qual 0x%llx gpa 0x%llx rip 0x%llx ret %d",
		      __print_symbolic(__entry->kind,
				       { EPM_EXIT_NONE, "none" },
				       { EPM_EXIT_HLT, "hlt" },
				       { EPM_EXIT_VMCALL, "vmcall" },
				       { EPM_EXIT_IO, "io" },
				       { EPM_EXIT_EPT_VIOLATION, "ept_violation" },
				       { EPM_EXIT_EPT_MISCONFIG, "ept_misconfig" },
				       { EPM_EXIT_EXCEPTION, "exception" },
				       { EPM_EXIT_TRIPLE_FAULT, "triple_fault" },
				       { EPM_EXIT_TIMEOUT, "timeout" },
				       { EPM_EXIT_ENTRY_FAIL, "entry_fail" },
				       { EPM_EXIT_INTR, "intr" },
				       { EPM_EXIT_OTHER, "other" }),
		      __entry->reason, __entry->qual, __entry->gpa,
		      __entry->rip, __entry->ret)
);

#endif /* _EPM_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
