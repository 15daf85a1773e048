// SPDX-License-Identifier: Apache-2.0
// One-line key=value event log on standard error. Each line is assembled in
// a local buffer and written with a single write(2), so lines from several
// threads never interleave. Callers never pass key bytes: only ids.

#include <coffer/common.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum cf_log_level min_level = CF_LOG_INFO;

static const char *level_names[] = { "debug", "info", "warn", "error" };

void cf_log_set_level(enum cf_log_level level)
{
	min_level = level;
}

int cf_log_parse_level(const char *name, enum cf_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*level = (enum cf_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *cf_log_quote(char *buf, size_t size, const char *value)
{
	size_t out = 0;

	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[out++] = '"';
	for (const char *p = value ? value : ""; *p != '\0' && out + 5 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[out++] = '\\';
			buf[out++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out += (size_t)snprintf(buf + out, size - out, "\\x%02x", c);
		} else {
			buf[out++] = (char)c;
		}
	}
	buf[out++] = '"';
	buf[out] = '\0';
	return buf;
}

void cf_log(enum cf_log_level level, const char *event, const char *fmt, ...)
{
	if (level < min_level)
		return;

	char line[2048];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);

	int len = snprintf(line, sizeof(line),
			   "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
			   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			   tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
			   level_names[level], event);
	if (fmt != NULL && fmt[0] != '\0' && len < (int)sizeof(line) - 2) {
		line[len++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
		va_end(ap);
		if (n > 0)
			len += n;
	}
	if (len > (int)sizeof(line) - 2)
		len = (int)sizeof(line) - 2;
	line[len++] = '\n';

	ssize_t ignored = write(STDERR_FILENO, line, (size_t)len);
	(void)ignored;
}
