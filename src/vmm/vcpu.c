// SPDX-License-Identifier: MIT
/* vCPU threads: run the guest and dispatch its exits to the buses. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "jail.h"
#include "snap/guard.h"
#include "vm.h"

static void kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN */
}

/* Remember how the guest went down, for the message when it did so before the app exited. */
static void note_reset(struct vm *vm, struct vcpu *v, const char *kind)
{
	struct kvm_regs regs;
	const char *none = NULL;

	if (!__atomic_compare_exchange_n(&vm->reset_kind, &none, kind, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		vm->reset_rip = regs.rip;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size;

	/* data_offset comes from the kernel; still, never index past the mapping. */
	if (run->io.data_offset > v->vm->run_size ||
	    (uint64_t)size * run->io.count > v->vm->run_size - run->io.data_offset)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&v->vm->pio, run->io.port, data, size);
		else
			bus_read(&v->vm->pio, run->io.port, data, size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static void report_kvm_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		fprintf(stderr, "arrowh: vCPU %u: KVM could not enter the guest (reason %#llx)\n",
			v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fprintf(stderr, "arrowh: vCPU %u: KVM internal error, suberror %u%s\n", v->id,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? " (instruction emulation failed; is this kvm-pvm? use 'arrow machine')"
				: "");
	else
		fprintf(stderr, "arrowh: vCPU %u: unexpected exit reason %u\n", v->id,
			run->exit_reason);
}

/*
 * Kicked out of KVM_RUN: park while a pause lasts. false when the VM stops (the
 * thread ends), true to run on.
 */
static bool vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool run_on;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->pause_requested && vm->stop_reason == VM_RUNNING) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_requested && vm->stop_reason == VM_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->stop_lock);
		vm->nr_parked--;
	}
	run_on = vm->stop_reason == VM_RUNNING;
	if (run_on) /* only under the lock: vm_pause and vm_request_stop set it under it too */
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->stop_lock);
	return run_on;
}

int vm_pause(struct vm *vm)
{
	unsigned int started = 0;
	struct timespec deadline;
	int ret;

	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_requested = true;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		started++;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGRTMIN);
	}
	/*
	 * A vCPU blocked in a device (its output sink full because the host reader stalled)
	 * cannot park: give up after a while rather than hold the main thread for good.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += VM_PAUSE_TIMEOUT_S;
	ret = 0;
	while (vm->nr_parked < started && vm->stop_reason == VM_RUNNING && !ret)
		ret = -pthread_cond_timedwait(&vm->pause_cond, &vm->stop_lock, &deadline);
	if (vm->stop_reason != VM_RUNNING)
		ret = -ECANCELED;
	if (ret) { /* the parked ones run on */
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->pause_cond);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	return ret;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	seccomp_install_thread(JAIL_THREAD_VCPU); /* jailed: without the I/O loop's calls */

	for (;;) {
		if (v->id == 0 && !vm->t_first_run_ns)
			vm->t_first_run_ns = monotonic_ns();
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* KVM_RUN completed the last exit's I/O before it returned */
				if (__atomic_load_n(&v->run->immediate_exit, __ATOMIC_SEQ_CST) &&
				    !vcpu_park(v))
					break;
				continue;
			}
			snap_guard_kvm_failed(errno); /* a clone's memory file changed? says so */
			fprintf(stderr, "arrowh: vCPU %u: KVM_RUN: %s\n", v->id, strerror(errno));
			vm_request_stop(vm, VM_STOP_KVM_ERROR);
			break;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			v->exits_io++;
			v->last_exit_addr = v->run->io.port;
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			v->exits_mmio++;
			v->last_exit_addr = v->run->mmio.phys_addr;
			handle_mmio(v);
			break;
		case KVM_EXIT_INTR:
			v->exits_intr++;
			break;
		case KVM_EXIT_SHUTDOWN:
		case KVM_EXIT_SYSTEM_EVENT:
		case KVM_EXIT_HLT:
			note_reset(vm, v, v->run->exit_reason == KVM_EXIT_SHUTDOWN ? "triple fault"
					  : v->run->exit_reason == KVM_EXIT_HLT ? "halt with interrupts off"
										: "system event");
			vm_request_stop(vm, VM_STOP_GUEST_RESET);
			break;
		default:
			report_kvm_error(v);
			vm_request_stop(vm, VM_STOP_KVM_ERROR);
			break;
		}
		/* a pause goes round once more: KVM_RUN then completes this exit's I/O */
		if (__atomic_load_n(&v->run->immediate_exit, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&vm->stop_reason, __ATOMIC_SEQ_CST) != VM_RUNNING)
			break;
	}
	return NULL;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) < 0)
		return -errno;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

		if (ret)
			return -ret;
		v->started = 1;
	}
	return 0;
}
