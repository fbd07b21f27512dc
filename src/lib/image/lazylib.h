/* SPDX-License-Identifier: MIT */
/*
 * libarchive and libcrypto, loaded when first needed (dlopen) instead of at every
 * start of the CLI: with them linked, `arrow` loaded 15 shared objects (libarchive
 * brings libxml2, ICU, libstdc++...) before main on every command; in the helper VM
 * that was ~80 ms of each `arrow ps`, `arrow logs` and clone start, which use neither.
 * Only building initramfs pieces and images needs them; libcurl only pull and push.
 */
#ifndef ARROW_LAZYLIB_H
#define ARROW_LAZYLIB_H

#include <archive.h>
#include <archive_entry.h>
#define CURL_DISABLE_TYPECHECK /* its macros would hide our function pointers */
#include <curl/curl.h>
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
	X(archive_entry_set_rdevminor) X(archive_entry_set_mtime)                              \
	X(archive_write_set_format_pax_restricted) X(archive_read_new) X(archive_read_free)    \
	X(archive_read_support_filter_all) X(archive_read_support_format_tar)                  \
	X(archive_read_support_format_raw) X(archive_read_open_fd)                             \
	X(archive_read_next_header) X(archive_read_data) X(archive_entry_pathname)             \
	X(archive_entry_mode) X(archive_entry_size) X(archive_entry_symlink)                   \
	X(archive_entry_hardlink) X(archive_entry_uid) X(archive_entry_gid)                    \
	X(archive_entry_mtime) X(archive_entry_rdevmajor) X(archive_entry_rdevminor)        \
	X(archive_read_open) X(archive_read_support_format_empty)

#define CRYPTO_FUNCS(X)                                                                     \
	X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_sha256) X(EVP_DigestInit_ex)                 \
	X(EVP_DigestUpdate) X(EVP_DigestFinal_ex)

#define CURL_FUNCS(X)                                                                       \
	X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo)        \
	X(curl_easy_cleanup) X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all)

#define LAZYLIB_POINTER(f) __typeof__(f) *f;

struct archive_lib {
	ARCHIVE_FUNCS(LAZYLIB_POINTER)
};

struct crypto_lib {
	CRYPTO_FUNCS(LAZYLIB_POINTER)
};

struct curl_lib {
	CURL_FUNCS(LAZYLIB_POINTER)
};

/* The loaded library, or NULL after printing which package is missing. */
const struct archive_lib *archive_lib(void);
const struct crypto_lib *crypto_lib(void);
const struct curl_lib *curl_lib(void);

#endif
