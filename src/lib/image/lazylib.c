// SPDX-License-Identifier: MIT
#include "lib/image/lazylib.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

/* Open soname and resolve each name into the table at fns (an array of pointers). */
static bool load(const char *soname, const char *package, const char *const *names,
		 void **fns, size_t n)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "arrow: cannot load %s (%s); install the package %s\n", soname,
			dlerror(), package);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		fns[i] = dlsym(h, names[i]);
		if (!fns[i]) {
			fprintf(stderr, "arrow: %s lacks %s; install a current %s\n", soname, names[i],
				package);
			return false;
		}
	}
	return true;
}

#define LAZYLIB_NAME(f) #f,

const struct archive_lib *archive_lib(void)
{
	static struct archive_lib lib;
	static int state; /* 0 not tried, 1 loaded, -1 failed */
	static const char *const names[] = { ARCHIVE_FUNCS(LAZYLIB_NAME) };

	_Static_assert(sizeof(lib) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
		       "one pointer per name");
	if (!state)
		state = load("libarchive.so.13", "libarchive13", names, (void **)&lib,
			     sizeof(names) / sizeof(names[0])) ? 1 : -1;
	return state > 0 ? &lib : NULL;
}

const struct crypto_lib *crypto_lib(void)
{
	static struct crypto_lib lib;
	static int state;
	static const char *const names[] = { CRYPTO_FUNCS(LAZYLIB_NAME) };

	_Static_assert(sizeof(lib) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
		       "one pointer per name");
	if (!state)
		state = load("libcrypto.so.3", "libssl3", names, (void **)&lib,
			     sizeof(names) / sizeof(names[0])) ? 1 : -1;
	return state > 0 ? &lib : NULL;
}

const struct curl_lib *curl_lib(void)
{
	static struct curl_lib lib;
	static int state;
	static const char *const names[] = { CURL_FUNCS(LAZYLIB_NAME) };

	_Static_assert(sizeof(lib) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
		       "one pointer per name");
	if (!state)
		state = load("libcurl.so.4", "libcurl4", names, (void **)&lib,
			     sizeof(names) / sizeof(names[0])) ? 1 : -1;
	return state > 0 ? &lib : NULL;
}
