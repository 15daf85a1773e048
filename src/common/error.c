// SPDX-License-Identifier: Apache-2.0
// Error details: a negative errno value plus a message for the user.

#include <coffer/common.h>

#include <stdio.h>
#include <string.h>

int cf_error_set(struct cf_error *err, int code, const char *fmt, ...)
{
	if (err == NULL || err->message[0] != '\0')
		return code;

	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

void cf_error_prefix(struct cf_error *err, const char *fmt, ...)
{
	if (err == NULL)
		return;

	char prefix[CF_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);

	// Built by hand: snprintf into a buffer of the same size trips
	// -Wformat-truncation, and truncating a long message is intended here.
	char joined[CF_ERROR_MAX];
	size_t used = strnlen(prefix, sizeof(joined) - 1);
	memcpy(joined, prefix, used);
	if (used + 2 < sizeof(joined)) {
		memcpy(joined + used, ": ", 2);
		used += 2;
	}
	size_t rest = strnlen(err->message, sizeof(joined) - 1 - used);
	memcpy(joined + used, err->message, rest);
	joined[used + rest] = '\0';
	memcpy(err->message, joined, sizeof(err->message));
}

void cf_error_reset(struct cf_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->message[0] = '\0';
}

const char *cf_error_message(const struct cf_error *err, int code)
{
	if (err != NULL && err->message[0] != '\0')
		return err->message;
	return strerror(code < 0 ? -code : code);
}
