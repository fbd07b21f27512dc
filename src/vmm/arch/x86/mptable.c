// SPDX-License-Identifier: MIT
#include "mptable.h"

#include <errno.h>
#include <string.h>

#define MPC_SIGNATURE "PCMP"
#define MPF_SIGNATURE "_MP_"
#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11

struct mpf_intel {
	char signature[4];
	uint32_t physptr;
	uint8_t length;
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4];
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

int mptable_write(const struct guest_mem *gm, uint64_t gpa, unsigned int nr_cpus)
{
	size_t size = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
		      nr_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + (IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc);
	uint8_t *base, *p;
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	uint8_t ioapic_id = (uint8_t)nr_cpus;

	if (nr_cpus == 0 || nr_cpus > MPTABLE_MAX_CPUS || size > 1024)
		return -EINVAL;
	base = gm_ptr(gm, gpa, size);
	if (!base)
		return -EFAULT;
	memset(base, 0, size);

	mpf = (struct mpf_intel *)base;
	mpc = (struct mpc_table *)(mpf + 1);
	p = (uint8_t *)(mpc + 1);

	for (unsigned int i = 0; i < nr_cpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
			.cpufeature = 0x600, /* family 6 */
			.featureflag = (1 << 9) | (1 << 0), /* APIC, FPU */
		};
		memcpy(p, &cpu, sizeof(cpu));
		p += sizeof(cpu);
	}
	{
		struct mpc_bus bus = { .type = MP_BUS, .busid = 0, .bustype = "ISA   " };

		memcpy(p, &bus, sizeof(bus));
		p += sizeof(bus);
	}
	{
		struct mpc_ioapic io = { .type = MP_IOAPIC, .apicid = ioapic_id,
					 .apicver = IOAPIC_VERSION, .flags = 1,
					 .apicaddr = IOAPIC_GPA };

		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
	}
	/* Every I/O APIC pin is an ISA interrupt of the same number, bus default polarity. */
	for (unsigned int irq = 0; irq < IOAPIC_PINS; irq++) {
		struct mpc_intsrc src = { .type = MP_INTSRC, .irqtype = MP_INT, .srcbus = 0,
					  .srcbusirq = (uint8_t)irq, .dstapic = ioapic_id,
					  .dstirq = (uint8_t)irq };

		memcpy(p, &src, sizeof(src));
		p += sizeof(src);
	}
	{
		struct mpc_intsrc lint0 = { .type = MP_LINTSRC, .irqtype = MP_EXTINT,
					    .dstapic = 0xff, .dstirq = 0 };
		struct mpc_intsrc lint1 = { .type = MP_LINTSRC, .irqtype = MP_NMI,
					    .dstapic = 0xff, .dstirq = 1 };

		memcpy(p, &lint0, sizeof(lint0));
		p += sizeof(lint0);
		memcpy(p, &lint1, sizeof(lint1));
		p += sizeof(lint1);
	}

	memcpy(mpc->signature, MPC_SIGNATURE, 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "ARROW   ", 8);
	memcpy(mpc->productid, "ARROWH      ", 12);
	mpc->oemcount = (uint16_t)(nr_cpus + 1 + 1 + IOAPIC_PINS + 2);
	mpc->lapic = 0xfee00000u;
	mpc->checksum = checksum((uint8_t *)mpc, mpc->length);

	memcpy(mpf->signature, MPF_SIGNATURE, 4);
	mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1; /* in 16-byte units */
	mpf->specification = 4;
	mpf->checksum = checksum((uint8_t *)mpf, sizeof(*mpf));
	return 0;
}
