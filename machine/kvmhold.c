// SPDX-License-Identifier: MIT
/*
 * kvmhold: the machine-mode helper's keeper of one idle KVM VM (docs/machine.md).
 *
 * The helper runs Debian's packaged kernel, which has jump labels: KVM flips static keys
 * (preempt_notifier_key in __schedule, the local APIC's sw/hw-disabled keys) each time the
 * number of VMs or vCPUs goes between zero and one, and each flip live-patches kernel text
 * with int3 breakpoints. Under QEMU's multi-threaded TCG a vCPU of the helper sometimes
 * executes such an int3 after the patch has finished, and the helper kernel dies ("Oops:
 * int3" at __schedule, then "Fatal exception in interrupt"). One VM with one vCPU, created
 * at the helper's boot and never run, keeps those counts above zero, so Arrows starting
 * and stopping never patch text. Started by machine/init after kvm_amd/kvm_intel loads;
 * it lives until the helper powers off.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "kvmhold: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	/* An in-kernel irqchip as arrowh has, so the vCPU gets an in-kernel local APIC. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		return fail("KVM_CREATE_VCPU");
	/* Tell the init it may go on, then hold the VM until the helper powers off. */
	if (write(1, "ok\n", 3) != 3)
		return fail("stdout");
	close(1);
	for (;;)
		pause();
}
