/* SPDX-License-Identifier: MIT */
/*
 * libarchive and libcrypto, loaded when first needed (dlopen) instead of at every
 * start of the CLI: with them linked, `arrow` loaded 15 shared objects (libarchive
 * brings libxml2, ICU, libstdc++...) before main on every command; in the helper VM
 * that was ~80 ms of each `arrow ps`, `arrow logs` and clone start, which use neither.
 * Only building an initramfs piece needs them.
 */
#ifndef ARROW_LAZYLIB_H
#define ARROW_LAZYLIB_H

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#define ARCHIVE_FUNCS(X)                                                                    \
	X(archive_write_new) X(archive_write_free) X(archive_write_set_format_cpio_newc)        \
	X(archive_write_add_filter_none) X(archive_write_set_bytes_in_last_block)              \
	X(archive_write_open_fd) X(archive_write_header) X(archive_write_data)                  \
	X(archive_write_close) X(archive_error_string) X(archive_entry_new)                    \
	X(archive_entry_free) X(archive_entry_clear) X(archive_entry_set_pathname)             \
	X(archive_entry_set_mode) X(archive_entry_set_uid) X(archive_entry_set_gid)            \
	X(archive_entry_set_nlink) X(archive_entry_set_ino) X(archive_entry_set_size)          \
	X(archive_entry_set_symlink) X(archive_entry_set_rdevmajor)                            \
	X(archive_entry_set_rdevminor)

#define CRYPTO_FUNCS(X)                                                                     \
	X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_sha256) X(EVP_DigestInit_ex)                 \
	X(EVP_DigestUpdate) X(EVP_DigestFinal_ex)

#define LAZYLIB_POINTER(f) __typeof__(f) *f;

struct archive_lib {
	ARCHIVE_FUNCS(LAZYLIB_POINTER)
};

struct crypto_lib {
	CRYPTO_FUNCS(LAZYLIB_POINTER)
};

/* The loaded library, or NULL after printing which package is missing. */
const struct archive_lib *archive_lib(void);
const struct crypto_lib *crypto_lib(void);

#endif
