/* Shared includes for cmocka unit tests. */
#ifndef ARROW_UNIT_H
#define ARROW_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
