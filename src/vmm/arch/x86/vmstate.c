// SPDX-License-Identifier: MIT
#include "vmstate.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_LIST_MAX 1024

/* Everything of one vCPU that has a fixed size. */
struct snap_vcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_debugregs dregs;
	uint32_t has_xcrs;
	uint32_t reserved;
};

struct snap_vm {
	struct kvm_irqchip chips[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

static uint32_t x86_host_signature_tsc(struct vm *vm)
{
	int khz = vm->nr_vcpus ? ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0) : -1;

	return khz > 0 ? (uint32_t)khz : 0;
}

void x86_host_signature(struct vm *vm, struct snap_meta *m)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	m->cpu_vendor[0] = b;
	m->cpu_vendor[1] = d;
	m->cpu_vendor[2] = c;
	__cpuid(1, a, b, c, d);
	m->cpu_signature = a;
	m->tsc_khz = x86_host_signature_tsc(vm);
}

const char *x86_host_compatible(struct vm *vm, const struct snap_meta *m)
{
	struct snap_meta here = { 0 };

	x86_host_signature(vm, &here);
	if (memcmp(here.cpu_vendor, m->cpu_vendor, sizeof(here.cpu_vendor)) ||
	    here.cpu_signature != m->cpu_signature)
		return "the snapshot was made on another CPU model (CPUID family/model/stepping "
		       "differ); restore it on the same kind of host";
	return NULL;
}

/* The MSRs KVM saves and restores for a guest (KVM_GET_MSR_INDEX_LIST). */
static struct kvm_msr_list *msr_index_list(int kvm_fd)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	if (probe.nmsrs == 0 || probe.nmsrs > MSR_LIST_MAX)
		return NULL;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return NULL;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return NULL;
	}
	return list;
}

/*
 * KVM_GET_MSRS/KVM_SET_MSRS stop at the first MSR they refuse and return how many
 * they did before it. Skip that one and go on (an MSR this host lists that this
 * guest's CPUID lacks). in[] -> out[] (the ones done, with values for GET). How many.
 */
static int msrs_transfer(int vcpu_fd, unsigned long req, const struct kvm_msr_entry *in,
			 unsigned int total, struct kvm_msr_entry *out)
{
	struct kvm_msrs *work = calloc(1, sizeof(*work) + total * sizeof(*in));
	unsigned int done = 0, kept = 0;

	if (!work)
		return -ENOMEM;
	while (done < total) {
		int n;

		work->nmsrs = total - done;
		memcpy(work->entries, in + done, work->nmsrs * sizeof(*in));
		n = ioctl(vcpu_fd, req, work);
		if (n < 0) {
			free(work);
			return -errno;
		}
		memcpy(out + kept, work->entries, (size_t)n * sizeof(*in));
		kept += (unsigned int)n;
		done += (unsigned int)n + 1; /* entry n, if any, was refused */
	}
	free(work);
	return (int)kept;
}

static int xsave_size(struct vm *vm)
{
	int size = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return size > (int)sizeof(struct kvm_xsave) ? size : (int)sizeof(struct kvm_xsave);
}

static int save_vcpu(struct vm *vm, struct vcpu *v, struct snap_writer *w,
		     const struct kvm_msr_list *list)
{
	struct snap_vcpu sv;
	struct kvm_msr_entry *in, *out;
	int xs = xsave_size(vm), n;
	void *xsave;

	memset(&sv, 0, sizeof(sv));
	if (ioctl(v->fd, KVM_GET_REGS, &sv.regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sv.sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_LAPIC, &sv.lapic) < 0 || ioctl(v->fd, KVM_GET_MP_STATE, &sv.mp) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &sv.events) < 0 ||
	    ioctl(v->fd, KVM_GET_DEBUGREGS, &sv.dregs) < 0)
		return -errno;
	sv.has_xcrs = ioctl(v->fd, KVM_GET_XCRS, &sv.xcrs) == 0;
	snapw_add(w, SNAP_VCPU, v->id, &sv, sizeof(sv));

	xsave = calloc(1, (size_t)xs);
	if (!xsave)
		return -ENOMEM;
	if (ioctl(v->fd, xs > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  xsave) < 0) {
		free(xsave);
		return -errno;
	}
	snapw_add(w, SNAP_XSAVE, v->id, xsave, (uint64_t)xs);
	free(xsave);

	in = calloc(list->nmsrs, sizeof(*in));
	out = calloc(list->nmsrs, sizeof(*out));
	n = in && out ? 0 : -ENOMEM;
	for (unsigned int i = 0; !n && i < list->nmsrs; i++)
		in[i].index = list->indices[i];
	if (!n)
		n = msrs_transfer(v->fd, KVM_GET_MSRS, in, list->nmsrs, out);
	if (n >= 0)
		snapw_add(w, SNAP_MSRS, v->id, out, (uint64_t)n * sizeof(*out));
	free(in);
	free(out);
	return n < 0 ? n : 0;
}

int x86_save_state(struct vm *vm, struct snap_writer *w)
{
	struct snap_vm sv;
	struct kvm_msr_list *list;
	int ret = 0;

	memset(&sv, 0, sizeof(sv));
	for (unsigned int i = 0; i < 3; i++) {
		sv.chips[i].chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &sv.chips[i]) < 0)
			return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &sv.pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_CLOCK, &sv.clock) < 0)
		return -errno;
	snapw_add(w, SNAP_VM, 0, &sv, sizeof(sv));
	list = msr_index_list(vm->kvm_fd);
	if (!list)
		return -EIO;
	for (unsigned int i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = save_vcpu(vm, &vm->vcpus[i], w, list);
	free(list);
	return ret;
}

/* The MSRs, the TSC-deadline one apart (it needs the LAPIC restored first). */
static int restore_msrs(struct vcpu *v, const struct kvm_msr_entry *e, unsigned int n,
			uint64_t *deadline)
{
	struct kvm_msr_entry *in = calloc(n ? n : 1, sizeof(*in)), *out = calloc(n ? n : 1, sizeof(*out));
	unsigned int k = 0;
	int ret = in && out ? 0 : -ENOMEM;

	for (unsigned int i = 0; !ret && i < n; i++) {
		if (e[i].index == MSR_IA32_TSC_DEADLINE)
			*deadline = e[i].data;
		else
			in[k++] = e[i];
	}
	if (!ret)
		ret = msrs_transfer(v->fd, KVM_SET_MSRS, in, k, out);
	free(in);
	free(out);
	return ret < 0 ? ret : 0;
}

static int restore_vcpu(struct vm *vm, struct vcpu *v, const struct snap_image *img,
			const char **why)
{
	const struct snap_vcpu *sv = snap_find(img, SNAP_VCPU, v->id, sizeof(*sv));
	int xs = xsave_size(vm);
	const void *xsave = snap_find(img, SNAP_XSAVE, v->id, (uint64_t)xs);
	uint64_t msr_len = 0, deadline = 0;
	const struct kvm_msr_entry *msrs = snap_find_any(img, SNAP_MSRS, v->id, &msr_len);
	struct { /* struct kvm_msrs with one entry (a flexible array cannot be nested) */
		uint32_t nmsrs, pad;
		struct kvm_msr_entry e;
	} dl;
	void *xbuf;
	int ret;

	if (!sv || !xsave || !msrs || msr_len % sizeof(*msrs) ||
	    msr_len / sizeof(*msrs) > MSR_LIST_MAX) {
		*why = "the snapshot lacks a vCPU's state, or its XSAVE size differs from this host's";
		return -EINVAL;
	}
	*why = "KVM refused a vCPU's saved state";
	xbuf = malloc((size_t)xs); /* KVM wants it writable and aligned as it was */
	if (!xbuf)
		return -ENOMEM;
	memcpy(xbuf, xsave, (size_t)xs);
	ret = 0;
	if (ioctl(v->fd, KVM_SET_REGS, &sv->regs) < 0 || ioctl(v->fd, KVM_SET_XSAVE, xbuf) < 0 ||
	    (sv->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &sv->xcrs) < 0) ||
	    ioctl(v->fd, KVM_SET_SREGS, &sv->sregs) < 0)
		ret = -errno;
	free(xbuf);
	if (!ret)
		ret = restore_msrs(v, msrs, (unsigned int)(msr_len / sizeof(*msrs)), &deadline);
	if (ret)
		return ret;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &sv->mp) < 0 || ioctl(v->fd, KVM_SET_LAPIC, &sv->lapic) < 0 ||
	    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &sv->events) < 0)
		return -errno;
	memset(&dl, 0, sizeof(dl));
	dl.nmsrs = 1;
	dl.e.index = MSR_IA32_TSC_DEADLINE;
	dl.e.data = deadline;
	if (ioctl(v->fd, KVM_SET_MSRS, &dl) < 0 || ioctl(v->fd, KVM_SET_DEBUGREGS, &sv->dregs) < 0)
		return -errno;
	return 0;
}

int x86_restore_state(struct vm *vm, const struct snap_image *img, const char **why)
{
	const struct snap_vm *sv = snap_find(img, SNAP_VM, 0, sizeof(*sv));
	const struct snap_meta *m = snap_find(img, SNAP_META, 0, sizeof(*m));
	struct kvm_clock_data clock;
	int ret = 0;

	if (!sv || !m) {
		*why = "the snapshot lacks the VM's state";
		return -EINVAL;
	}
	/* a guest that read the TSC rate at boot must keep seeing it */
	if (m->tsc_khz && x86_host_signature_tsc(vm) != m->tsc_khz)
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			if (ioctl(vm->vcpus[i].fd, KVM_SET_TSC_KHZ, m->tsc_khz) < 0) {
				*why = "this host cannot give the guest the TSC rate it booted with";
				return -errno;
			}
	for (unsigned int i = 0; i < 3; i++)
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &sv->chips[i]) < 0) {
			*why = "KVM refused the saved interrupt controller state";
			return -errno;
		}
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &sv->pit) < 0) {
		*why = "KVM refused the saved PIT state";
		return -errno;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus && !ret; i++)
		ret = restore_vcpu(vm, &vm->vcpus[i], img, why);
	if (ret)
		return ret;
	/* kvmclock goes on from where the snapshot stopped: the guest sees no jump */
	memset(&clock, 0, sizeof(clock));
	clock.clock = sv->clock.clock;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		*why = "KVM refused the saved clock";
		return -errno;
	}
	return 0;
}
