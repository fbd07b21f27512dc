// SPDX-License-Identifier: MIT
#include "kvmprobe.h"

#include <stddef.h>
#include <sys/stat.h>

const char *kvm_unusable_reason(void)
{
	struct stat st;

	if (stat("/sys/module/kvm_pvm", &st) == 0)
		return "/dev/kvm here is kvm-pvm, which cannot boot a standard Linux guest";
	if (stat("/dev/kvm", &st) != 0)
		return "/dev/kvm does not exist (no hardware virtualization, or KVM not loaded)";
	return NULL;
}
