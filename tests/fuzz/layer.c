// SPDX-License-Identifier: MIT
/*
 * Image layers (src/lib/image/layer.c, piece.c): a layer as a registry or an OCI archive hands
 * it over (tar, gzip- or zstd-compressed, or anything at all) converted into the newc cpio
 * piece the guest kernel unpacks, and its diff id computed. Input: the layer file.
 * A piece that comes out is read back with libarchive: it must be a well-formed cpio
 * whose every path is clean (no "..", no absolute path).
 */
#include <archive.h>
#include <archive_entry.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "lib/image/layer.h"

static char dir[128], path[200];
static int out_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_mkdtemp(dir, sizeof(dir), "layer");
	snprintf(path, sizeof(path), "%s/layer", dir);
	out_fd = memfd_create("piece", MFD_CLOEXEC);
	if (out_fd < 0)
		abort();
	return 0;
}

static void check_piece(void)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r;

	archive_read_support_format_cpio(a);
	if (lseek(out_fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, out_fd, 65536) != ARCHIVE_OK)
		abort();
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);
		char clean[4096];

		if (!p || p[0] == '/' || layer_clean_path(p, clean, sizeof(clean)) || strcmp(p, clean)) {
			fprintf(stderr, "layer fuzz: the piece holds path '%s'\n", p ? p : "(null)");
			abort();
		}
	}
	if (r != ARCHIVE_EOF) {
		fprintf(stderr, "layer fuzz: the piece is not a well-formed cpio: %s\n",
			archive_error_string(a));
		abort();
	}
	archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512], digest[72];

	fz_write_file(path, data, size);
	if (ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0)
		abort();
	why[0] = '\0';
	if (layer_to_piece(path, out_fd, NULL, why, sizeof(why)) == 0)
		check_piece();
	else if (!why[0])
		abort(); /* every refusal says why */
	(void)layer_diff_id(path, digest, why, sizeof(why));
	return 0;
}
