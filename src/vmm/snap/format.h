/* SPDX-License-Identifier: MIT */
/*
 * The snapshot state file: a fixed header (magic, format version, body length,
 * CRC-32 of the body) and a body of tagged sections. Readers check everything
 * before they use a byte of it: a corrupt, truncated or foreign file is refused
 * with one clear reason. Guest memory lives in a separate file (snap/memory.h).
 */
#ifndef ARROW_SNAP_FORMAT_H
#define ARROW_SNAP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "ARROWSNP"
#define SNAP_FORMAT_VERSION 2
#define SNAP_MAX_BODY (64u << 20)

#define SNAP_STATE_FILE "state"
#define SNAP_MEMORY_FILE "memory"

enum snap_tag {
	SNAP_META = 1,     /* struct snap_meta */
	SNAP_VM = 2,       /* irqchip, PIT, clock (arch/x86/vmstate.c) */
	SNAP_VCPU = 3,     /* one per vCPU, index = vCPU id */
	SNAP_MMIO = 4,     /* struct virtio_mmio_state, index = device slot */
	SNAP_CONSOLE = 5,  /* the console's saved part */
	/* 6: reserved. The NIC keeps no state beyond its transport (a frame read from the tap
	 * and not yet delivered is dropped, as a network may) */
	SNAP_XSAVE = 7,    /* one per vCPU: the XSAVE area */
	SNAP_MSRS = 8,     /* one per vCPU: struct kvm_msr_entry[] */
};

struct snap_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t body_len;
	uint32_t body_crc32;
	uint32_t reserved;
};

struct snap_section {
	uint32_t tag;
	uint32_t index;
	uint64_t len;
};

/* What a restore must agree with before anything is loaded. */
struct snap_meta {
	uint64_t memory_bytes;
	uint32_t nr_vcpus;
	uint32_t nr_devices;    /* virtio-mmio slots in use */
	uint32_t nr_ports;      /* console ports */
	uint32_t has_net;
	uint32_t cpu_signature; /* CPUID.1:EAX of the host that made it */
	uint32_t cpu_vendor[3]; /* CPUID.0:EBX,EDX,ECX */
	uint32_t tsc_khz;       /* 0 if unknown */
	uint32_t reserved;
};

struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	int failed; /* an allocation failed: snap_write_file reports -ENOMEM */
};

void snapw_init(struct snap_writer *w);
void snapw_add(struct snap_writer *w, uint32_t tag, uint32_t index, const void *data, uint64_t len);
/* Header + body to path (through path.tmp, fsync'ed, renamed). 0 or -errno. */
int snapw_write_file(struct snap_writer *w, const char *path);
/* The same, path relative to the directory dir_fd (the jailed VMM reaches nothing by name). */
int snapw_write_file_at(struct snap_writer *w, int dir_fd, const char *path);
void snapw_free(struct snap_writer *w);

struct snap_image {
	uint8_t *buf; /* the whole file */
	size_t len;
	const uint8_t *body;
	uint64_t body_len;
};

/*
 * Read and check a state file: 0, or -errno with a one-line reason in why
 * (missing, truncated, not a snapshot, another format version, checksum mismatch,
 * malformed sections).
 */
int snap_read_file(const char *path, struct snap_image *img, const char **why);
/* Check an image already in memory (used by snap_read_file and the unit tests). */
int snap_check(struct snap_image *img, const char **why);
/* The section (tag, index) exactly len bytes long: a pointer into the image, or NULL. */
const void *snap_find(const struct snap_image *img, uint32_t tag, uint32_t index, uint64_t len);
/* The section (tag, index) of any length, or NULL. */
const void *snap_find_any(const struct snap_image *img, uint32_t tag, uint32_t index, uint64_t *len);
void snap_image_free(struct snap_image *img);

#endif
