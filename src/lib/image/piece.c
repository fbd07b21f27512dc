// SPDX-License-Identifier: MIT
#include "lib/image/piece.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/image/lazylib.h"
#include "lib/state/paths.h"

#define PIECE_FORMAT_VERSION "arrow-piece-1"

struct archive *piece_writer(const struct archive_lib *L, int fd)
{
	struct archive *a = L->archive_write_new();

	/* newc is what the kernel reads; no padding of the last block. */
	if (a && (L->archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
		  L->archive_write_add_filter_none(a) != ARCHIVE_OK ||
		  L->archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
		  L->archive_write_open_fd(a, fd) != ARCHIVE_OK)) {
		L->archive_write_free(a);
		a = NULL;
	}
	return a;
}

int piece_write(int fd, const struct piece_file *files, size_t n)
{
	const struct archive_lib *L = archive_lib();
	struct archive *a = L ? piece_writer(L, fd) : NULL;
	struct archive_entry *e = L ? L->archive_entry_new() : NULL;
	int ret = 0;

	if (!L)
		return -ELIBACC;
	if (!a || !e) {
		ret = -EIO;
		goto out;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		const struct piece_file *f = &files[i];

		L->archive_entry_clear(e);
		L->archive_entry_set_pathname(e, f->guest_path);
		L->archive_entry_set_mode(e, f->mode);
		L->archive_entry_set_uid(e, 0);
		L->archive_entry_set_gid(e, 0);
		L->archive_entry_set_nlink(e, S_ISDIR(f->mode) ? 2 : 1);
		L->archive_entry_set_ino(e, (la_int64_t)(i + 1));
		L->archive_entry_set_size(e, S_ISREG(f->mode) ? (la_int64_t)f->size : 0);
		if (S_ISLNK(f->mode))
			L->archive_entry_set_symlink(e, f->data);
		if (S_ISCHR(f->mode) || S_ISBLK(f->mode)) {
			L->archive_entry_set_rdevmajor(e, f->rdev_major);
			L->archive_entry_set_rdevminor(e, f->rdev_minor);
		}
		if (L->archive_write_header(a, e) != ARCHIVE_OK) {
			fprintf(stderr, "arrow: cpio entry %s: %s\n", f->guest_path,
				L->archive_error_string(a));
			ret = -EIO;
			break;
		}
		if (S_ISREG(f->mode) && f->size &&
		    L->archive_write_data(a, f->data, f->size) != (la_ssize_t)f->size)
			ret = -EIO;
	}
	if (L->archive_write_close(a) != ARCHIVE_OK && !ret)
		ret = -EIO;
out:
	if (e)
		L->archive_entry_free(e);
	if (a)
		L->archive_write_free(a);
	return ret;
}

int piece_digest(const struct piece_file *files, size_t n, char out[65])
{
	const struct crypto_lib *C = crypto_lib();
	EVP_MD_CTX *ctx = C ? C->EVP_MD_CTX_new() : NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!ctx)
		return C ? -ENOMEM : -ELIBACC;
	C->EVP_DigestInit_ex(ctx, C->EVP_sha256(), NULL);
	C->EVP_DigestUpdate(ctx, PIECE_FORMAT_VERSION, sizeof(PIECE_FORMAT_VERSION));
	for (size_t i = 0; i < n; i++) {
		char meta[64];
		int len = snprintf(meta, sizeof(meta), "|%o|%zu|%u:%u|", (unsigned int)files[i].mode,
				   files[i].size, files[i].rdev_major, files[i].rdev_minor);

		C->EVP_DigestUpdate(ctx, files[i].guest_path, strlen(files[i].guest_path) + 1);
		C->EVP_DigestUpdate(ctx, meta, (size_t)len);
		if (files[i].data && (S_ISREG(files[i].mode) || S_ISLNK(files[i].mode)))
			C->EVP_DigestUpdate(ctx, files[i].data,
					 S_ISLNK(files[i].mode) ? strlen(files[i].data) : files[i].size);
	}
	C->EVP_DigestFinal_ex(ctx, md, &mdlen);
	C->EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int piece_memfd(const struct piece_file *files, size_t n, char **path)
{
	int fd = memfd_create("arrow-piece", 0); /* inherited by arrowh on purpose */
	int ret;

	if (fd < 0)
		return -errno;
	ret = piece_write(fd, files, n);
	if (ret || asprintf(path, "/proc/self/fd/%d", fd) < 0) {
		close(fd);
		return ret ? ret : -ENOMEM;
	}
	return 0;
}

int piece_cached(const char *cache_dir, const struct piece_file *files, size_t n, char **path)
{
	char digest[65], *final = NULL, *tmp = NULL, *dir = NULL;
	int fd = -1, ret;

	ret = piece_digest(files, n, digest);
	if (ret)
		return ret;
	if (!cache_dir || asprintf(&dir, "%s/pieces", cache_dir) < 0 || mkdir_p(dir, 0755) ||
	    asprintf(&final, "%s/%s.cpio", dir, digest) < 0) {
		free(dir);
		free(final);
		return piece_memfd(files, n, path);
	}
	if (access(final, R_OK) == 0) {
		free(dir);
		*path = final;
		return 0;
	}
	/* Build under a unique name, then rename: readers never see a partial piece. */
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, digest) < 0)
		tmp = NULL;
	free(dir);
	if (tmp)
		fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		free(final);
		return piece_memfd(files, n, path);
	}
	ret = piece_write(fd, files, n);
	if (!ret && fchmod(fd, 0644) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, final) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		free(tmp);
		free(final);
		return ret;
	}
	free(tmp);
	*path = final;
	return 0;
}
