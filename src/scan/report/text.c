// SPDX-License-Identifier: Apache-2.0
// Text reporter for terminals: one line per finding,
// `file:line:col: severity rule_id message`, with the fix hint indented on
// the lines below. Control characters from scanned input are escaped so a
// hostile file cannot send terminal escape sequences.

#include "scan/report/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"

static const char *severity_color(enum scan_severity severity)
{
	switch (severity) {
	case SCAN_SEV_CRITICAL:
		return "\033[1;35m"; // bold magenta
	case SCAN_SEV_HIGH:
	case SCAN_SEV_ERROR:
		return "\033[1;31m"; // bold red
	case SCAN_SEV_MEDIUM:
	case SCAN_SEV_WARNING:
		return "\033[33m"; // yellow
	case SCAN_SEV_LOW:
	case SCAN_SEV_INFO:
		return "\033[36m"; // cyan
	case SCAN_SEV_STYLE:
	case SCAN_SEV_NONE:
		break;
	}
	return "\033[2m"; // dim
}

bool scan_color_wanted(FILE *out)
{
	const char *no_color = getenv("NO_COLOR");
	if (no_color != NULL && no_color[0] != '\0')
		return false;

	int fd = fileno(out);
	return fd >= 0 && isatty(fd);
}

// Writes text with control characters (and DEL) escaped as \n, \t or \xNN.
// Bytes of 0x80 and above pass unchanged, so UTF-8 text stays readable.
static void write_escaped_length(FILE *out, const char *text, size_t length)
{
	const unsigned char *end = (const unsigned char *)text + length;

	for (const unsigned char *p = (const unsigned char *)text; p < end; p++) {
		if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
}

static void write_escaped(FILE *out, const char *text)
{
	write_escaped_length(out, text, strlen(text));
}

static void write_location(FILE *out, const struct scan_location *location)
{
	if (location->file == NULL)
		return;

	write_escaped(out, location->file);
	if (location->line > 0) {
		fprintf(out, ":%d", location->line);
		if (location->column > 0)
			fprintf(out, ":%d", location->column);
	}
	fputs(": ", out);
}

// Writes the fix hint indented by four spaces, one output line per line
// of the hint, with other control characters escaped.
static void write_fix(FILE *out, const char *fix, bool color)
{
	const char *line = fix;

	while (line != NULL) {
		const char *end = strchr(line, '\n');
		size_t length = end != NULL ? (size_t)(end - line) : strlen(line);

		fputs("    ", out);
		if (color)
			fputs("\033[2m", out);
		fputs(line == fix ? "fix: " : "     ", out);
		write_escaped_length(out, line, length);
		if (color)
			fputs(ANSI_RESET, out);
		fputc('\n', out);

		line = end != NULL ? end + 1 : NULL;
	}
}

int report_write_text(const struct scan_report *report,
		      const struct scan_write_options *options, FILE *out)
{
	for (size_t i = 0; i < report->count; i++) {
		const struct scan_finding *finding = &report->entries[i].finding;

		write_location(out, &finding->location);
		if (options->color)
			fprintf(out, "%s%s%s", severity_color(finding->severity),
				scan_severity_name(finding->severity), ANSI_RESET);
		else
			fputs(scan_severity_name(finding->severity), out);
		fputc(' ', out);
		if (options->color)
			fputs(ANSI_BOLD, out);
		write_escaped(out, finding->rule->id);
		if (options->color)
			fputs(ANSI_RESET, out);
		fputc(' ', out);
		write_escaped(out, finding->message);
		fputc('\n', out);

		if (options->show_fix && finding->fix != NULL && finding->fix[0] != '\0')
			write_fix(out, finding->fix, options->color);
	}

	if (ferror(out) || fflush(out) != 0)
		return -EIO;
	return 0;
}
