// SPDX-License-Identifier: Apache-2.0
// Dockerfile parser following BuildKit's grammar: parser directives, line
// continuations (with comment and blank lines inside them), heredocs, flags,
// JSON exec form and shell form, and the arguments of every instruction,
// with the line and column of each piece.
//
// Design: one pass over the lines, in time linear in the input. Nothing is
// fatal: a syntax error is recorded with its position and parsing goes on
// with the next instruction, so the rules still see the rest of the file.
// NUL bytes and invalid UTF-8 are reported once and replaced, so every
// string handed on is valid UTF-8 text.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// Syntax errors kept per file; more add nothing a user can act on.
#define MAX_SYNTAX_ERRORS 100

// Rule ids kept from ignore pragmas, for one instruction and for the file.
// Real pragmas list a handful; the limit keeps each finding's ignore check
// short on hostile input.
#define MAX_PRAGMA_IDS 256

struct parser {
	struct df_file *file;
	struct df_arena *arena;
	const char *src;
	size_t size;
	size_t pos;
	int line; // number of the next line
	size_t instruction_capacity;
	size_t error_capacity;
	size_t stage_capacity;
	size_t global_ignore_capacity;
	char **pending_ignores;
	size_t pending_count;
	size_t pending_capacity;
	int stage;
};

struct source_line {
	const char *start;
	size_t len;
	int number;
};

static const struct {
	const char *name;
	enum df_kind kind;
} keywords[] = {
	{ "ADD", DF_ADD },
	{ "ARG", DF_ARG },
	{ "CMD", DF_CMD },
	{ "COPY", DF_COPY },
	{ "ENTRYPOINT", DF_ENTRYPOINT },
	{ "ENV", DF_ENV },
	{ "EXPOSE", DF_EXPOSE },
	{ "FROM", DF_FROM },
	{ "HEALTHCHECK", DF_HEALTHCHECK },
	{ "LABEL", DF_LABEL },
	{ "MAINTAINER", DF_MAINTAINER },
	{ "ONBUILD", DF_ONBUILD },
	{ "RUN", DF_RUN },
	{ "SHELL", DF_SHELL },
	{ "STOPSIGNAL", DF_STOPSIGNAL },
	{ "USER", DF_USER },
	{ "VOLUME", DF_VOLUME },
	{ "WORKDIR", DF_WORKDIR },
};

// Flags each instruction accepts in Dockerfile syntax 1.x, separated by
// spaces.
static const char *allowed_flags(enum df_kind kind)
{
	switch (kind) {
	case DF_FROM:
		return " platform ";
	case DF_RUN:
		return " mount network security device ";
	case DF_COPY:
		return " from chown chmod link parents exclude ";
	case DF_ADD:
		return " chown chmod link checksum keep-git-dir exclude unpack ";
	case DF_HEALTHCHECK:
		return " interval timeout start-period start-interval retries ";
	default:
		return "";
	}
}

const char *df_kind_name(enum df_kind kind)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (keywords[i].kind == kind)
			return keywords[i].name;
	}
	return "UNKNOWN";
}

static void add_error(struct parser *p, int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_error(struct parser *p, int line, int column, const char *fmt, ...)
{
	struct df_file *file = p->file;
	if (file->error_count >= MAX_SYNTAX_ERRORS)
		return;

	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	void *items = file->errors;
	df_grow(p->arena, &items, &p->error_capacity, file->error_count + 1,
		sizeof(*file->errors));
	file->errors = items;
	struct df_syntax_error *error = &file->errors[file->error_count++];
	error->message = df_strdup(p->arena, message);
	error->line = line;
	error->column = column;
}

// Length of the valid UTF-8 sequence at s (at most n bytes), or 0.
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char low = 0x80, high = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;

	// Reject overlong forms, UTF-16 surrogates and code points past U+10FFFF.
	if (c == 0xe0)
		low = 0xa0;
	else if (c == 0xed)
		high = 0x9f;
	else if (c == 0xf0)
		low = 0x90;
	else if (c == 0xf4)
		high = 0x8f;
	if (s[1] < low || s[1] > high)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

// Copies the input, reporting the first NUL byte and the first invalid
// UTF-8 sequence, and replacing them (NUL by a space, bad bytes by '?').
static void sanitize_input(struct parser *p, const char *data, size_t size)
{
	char *copy = df_alloc(p->arena, size + 1);
	const unsigned char *in = (const unsigned char *)data;
	bool nul_reported = false, utf8_reported = false;
	int line = 1;
	size_t line_start = 0;

	// Skip a UTF-8 byte order mark.
	size_t i = 0;
	if (size >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
		i = 3;
	size_t out = 0;
	line_start = i;

	while (i < size) {
		unsigned char c = in[i];
		if (c == '\n') {
			line++;
			line_start = i + 1;
		}
		if (c == 0) {
			if (!nul_reported)
				add_error(p, line, (int)(i - line_start) + 1,
					  "NUL byte in the Dockerfile; a Dockerfile must be text");
			nul_reported = true;
			copy[out++] = ' ';
			i++;
			continue;
		}
		size_t len = utf8_sequence(in + i, size - i);
		if (len == 0) {
			if (!utf8_reported)
				add_error(p, line, (int)(i - line_start) + 1,
					  "invalid UTF-8 byte 0x%02x; save the Dockerfile as UTF-8", c);
			utf8_reported = true;
			copy[out++] = '?';
			i++;
			continue;
		}
		memcpy(copy + out, in + i, len);
		out += len;
		i += len;
	}
	copy[out] = '\0';
	p->src = copy;
	p->size = out;
}

static bool next_line(struct parser *p, struct source_line *line)
{
	if (p->pos >= p->size)
		return false;

	const char *start = p->src + p->pos;
	const char *newline = memchr(start, '\n', p->size - p->pos);
	size_t len = newline != NULL ? (size_t)(newline - start) : p->size - p->pos;
	p->pos += len + (newline != NULL ? 1 : 0);
	if (len > 0 && start[len - 1] == '\r')
		len--;

	line->start = start;
	line->len = len;
	line->number = p->line++;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
	while (i < len && is_blank(s[i]))
		i++;
	return i;
}

static bool line_is_empty(const struct source_line *line)
{
	return skip_blanks(line->start, 0, line->len) == line->len;
}

static bool line_is_comment(const struct source_line *line)
{
	size_t i = skip_blanks(line->start, 0, line->len);
	return i < line->len && line->start[i] == '#';
}

// True when the line ends with the escape character, ignoring trailing
// blanks, and that character is not itself escaped (a line ending in two
// escape characters does not continue). *cut is the line length without it.
static bool continues(const char *s, size_t len, char escape, size_t *cut)
{
	size_t n = len;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || s[n - 1] != escape)
		return false;
	if (n >= 2 && s[n - 2] == escape)
		return false;
	*cut = n - 1;
	return true;
}

// ---- parser directives and pragmas -----------------------------------------

// Parses "# key = value" at the top of the file. Returns false when the line
// is not a directive, which ends the directive block.
static bool parse_directive(struct parser *p, const struct source_line *line, bool seen[3])
{
	const char *s = line->start;
	size_t len = line->len;
	if (len == 0 || s[0] != '#')
		return false;

	size_t i = skip_blanks(s, 1, len);
	size_t key_start = i;
	if (i >= len || !isalpha((unsigned char)s[i]))
		return false;
	while (i < len && isalnum((unsigned char)s[i]))
		i++;
	size_t key_len = i - key_start;
	i = skip_blanks(s, i, len);
	if (i >= len || s[i] != '=')
		return false;
	i = skip_blanks(s, i + 1, len);
	size_t value_end = len;
	while (value_end > i && is_blank(s[value_end - 1]))
		value_end--;
	if (value_end == i)
		return false;

	static const char *const names[3] = { "syntax", "escape", "check" };
	int which = -1;
	for (int k = 0; k < 3; k++) {
		if (strlen(names[k]) == key_len && strncasecmp(s + key_start, names[k], key_len) == 0)
			which = k;
	}
	if (which < 0)
		return false;

	int column = (int)key_start + 1;
	if (seen[which]) {
		add_error(p, line->number, column,
			  "only one '%s' parser directive can be used", names[which]);
		return true;
	}
	seen[which] = true;

	const char *value = s + i;
	size_t value_len = value_end - i;
	if (which == 0) {
		p->file->syntax = df_strndup(p->arena, value, value_len);
	} else if (which == 1) {
		if (value_len != 1 || (value[0] != '\\' && value[0] != '`'))
			add_error(p, line->number, (int)i + 1,
				  "invalid escape directive '%.*s': use \\ or `",
				  (int)(value_len > 40 ? 40 : value_len), value);
		else
			p->file->escape = value[0];
	}
	return true;
}

static void add_id_list(struct parser *p, const char *s, size_t len, bool global, bool dl_only)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (s[i] == ',' || is_blank(s[i])))
			i++;
		size_t start = i;
		while (i < len && s[i] != ',' && !is_blank(s[i]))
			i++;
		if (i == start)
			break;
		if (dl_only && !(i - start > 2 && strncmp(s + start, "DL", 2) == 0))
			continue;

		size_t kept = global ? p->file->global_ignore_count : p->pending_count;
		if (kept >= MAX_PRAGMA_IDS)
			break;
		char *id = df_strndup(p->arena, s + start, i - start);
		void *items;
		if (global) {
			items = p->file->global_ignores;
			df_grow(p->arena, &items, &p->global_ignore_capacity,
				p->file->global_ignore_count + 1, sizeof(char *));
			p->file->global_ignores = items;
			p->file->global_ignores[p->file->global_ignore_count++] = id;
		} else {
			items = p->pending_ignores;
			df_grow(p->arena, &items, &p->pending_capacity, p->pending_count + 1,
				sizeof(char *));
			p->pending_ignores = items;
			p->pending_ignores[p->pending_count++] = id;
		}
	}
}

static bool match_word(const char *s, size_t len, size_t *i, const char *word)
{
	size_t n = strlen(word);
	if (*i + n > len || strncmp(s + *i, word, n) != 0)
		return false;
	*i += n;
	return true;
}

// Reads "# coffer ignore=ID,...", "# coffer global ignore=ID,..." and the
// same with "hadolint", which applies only to the DL ids both tools share.
static void parse_pragma(struct parser *p, const struct source_line *line)
{
	const char *s = line->start;
	size_t len = line->len;
	size_t i = skip_blanks(s, 0, len) + 1;
	i = skip_blanks(s, i, len);

	bool hadolint = false;
	if (match_word(s, len, &i, "hadolint"))
		hadolint = true;
	else if (!match_word(s, len, &i, "coffer"))
		return;
	size_t after_tool = i;
	i = skip_blanks(s, i, len);
	if (i == after_tool)
		return;

	bool global = false;
	if (match_word(s, len, &i, "global")) {
		global = true;
		i = skip_blanks(s, i, len);
	}
	if (!match_word(s, len, &i, "ignore"))
		return;
	i = skip_blanks(s, i, len);
	if (i >= len || s[i] != '=')
		return;
	i++;
	add_id_list(p, s + i, len - i, global, hadolint);
}

// ---- arguments -------------------------------------------------------------

static void text_position(const struct df_text *text, size_t offset, int *line, int *column)
{
	df_text_position(text, offset, line, column);
}

static void add_word(struct parser *p, struct df_instruction *inst, size_t *capacity,
		     const char *raw, size_t raw_len, size_t offset)
{
	void *items = inst->words;
	df_grow(p->arena, &items, capacity, inst->word_count + 1, sizeof(*inst->words));
	inst->words = items;
	struct df_word *word = &inst->words[inst->word_count++];
	word->raw = df_strndup(p->arena, raw, raw_len);
	word->value = word->raw;
	word->offset = offset;
	text_position(inst->text, offset, &word->line, &word->column);
}

// Scans one word that ends at unquoted whitespace, honouring quotes and the
// escape character. Returns the end offset; *unterminated is set when a
// quote is still open at the end of the text.
static size_t scan_word(const char *s, size_t i, size_t len, char escape, bool *unterminated)
{
	char quote = 0;
	while (i < len) {
		char c = s[i];
		if (quote == 0 && is_blank(c))
			break;
		if (c == escape && quote != '\'' && i + 1 < len) {
			i += 2;
			continue;
		}
		if (quote == 0 && (c == '"' || c == '\''))
			quote = c;
		else if (quote != 0 && c == quote)
			quote = 0;
		i++;
	}
	if (quote != 0)
		*unterminated = true;
	return i;
}

static void split_words(struct parser *p, struct df_instruction *inst, size_t from,
			bool check_quotes)
{
	const char *s = inst->text->data;
	size_t len = inst->text->len;
	size_t capacity = 0;
	size_t i = skip_blanks(s, from, len);
	bool unterminated = false;

	while (i < len) {
		size_t end = scan_word(s, i, len, p->file->escape, &unterminated);
		add_word(p, inst, &capacity, s + i, end - i, i);
		i = skip_blanks(s, end, len);
	}
	if (unterminated && check_quotes) {
		const struct df_word *last = &inst->words[inst->word_count - 1];
		add_error(p, last->line, last->column,
			  "unterminated quote in %s argument; close the quote",
			  df_kind_name(inst->kind));
	}
}

// Appends the UTF-8 encoding of code point cp.
static void put_utf8(struct df_arena *arena, struct df_buf *buf, unsigned cp)
{
	char out[4];
	size_t n;
	if (cp < 0x80) {
		out[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	df_buf_add(arena, buf, out, n);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(const char *s, size_t i, size_t len, unsigned *cp)
{
	if (i + 4 > len)
		return false;
	*cp = 0;
	for (size_t k = 0; k < 4; k++) {
		int v = hex_value(s[i + k]);
		if (v < 0)
			return false;
		*cp = *cp * 16 + (unsigned)v;
	}
	return true;
}

// Parses one JSON string starting at the opening quote s[i]. Returns the
// offset after the closing quote, or 0 on invalid JSON.
static size_t parse_json_string(struct df_arena *arena, const char *s, size_t i, size_t len,
				struct df_buf *out)
{
	i++;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c != '\\') {
			df_buf_addc(arena, out, (char)c);
			i++;
			continue;
		}
		if (i + 1 >= len)
			return 0;
		char e = s[i + 1];
		i += 2;
		switch (e) {
		case '"': df_buf_addc(arena, out, '"'); break;
		case '\\': df_buf_addc(arena, out, '\\'); break;
		case '/': df_buf_addc(arena, out, '/'); break;
		case 'b': df_buf_addc(arena, out, '\b'); break;
		case 'f': df_buf_addc(arena, out, '\f'); break;
		case 'n': df_buf_addc(arena, out, '\n'); break;
		case 'r': df_buf_addc(arena, out, '\r'); break;
		case 't': df_buf_addc(arena, out, '\t'); break;
		case 'u': {
			unsigned cp, low;
			if (!read_hex4(s, i, len, &cp))
				return 0;
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= len && s[i] == '\\' &&
			    s[i + 1] == 'u' && read_hex4(s, i + 2, len, &low) &&
			    low >= 0xdc00 && low <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd;
			}
			if (cp == 0)
				cp = 0xfffd;
			put_utf8(arena, out, cp);
			break;
		}
		default:
			return 0;
		}
	}
	return 0;
}

// Tries the exec form: the arguments are exactly one JSON array of strings.
// On failure nothing is added and BuildKit's rule applies: the text is
// taken as shell form.
static bool parse_exec_form(struct parser *p, struct df_instruction *inst, size_t from)
{
	const char *s = inst->text->data;
	size_t len = inst->text->len;
	size_t i = skip_blanks(s, from, len);
	if (i >= len || s[i] != '[')
		return false;

	struct {
		size_t offset;
		size_t start;
		size_t len;
	} *found = NULL;
	size_t found_count = 0, found_capacity = 0;
	struct df_buf values = { 0 };

	i = skip_blanks(s, i + 1, len);
	if (i < len && s[i] == ']') {
		i++;
	} else {
		for (;;) {
			if (i >= len || s[i] != '"')
				return false;
			size_t start = values.len;
			size_t offset = i;
			i = parse_json_string(p->arena, s, i, len, &values);
			if (i == 0)
				return false;
			void *items = found;
			df_grow(p->arena, &items, &found_capacity, found_count + 1, sizeof(*found));
			found = items;
			found[found_count].offset = offset;
			found[found_count].start = start;
			found[found_count].len = values.len - start;
			found_count++;

			i = skip_blanks(s, i, len);
			if (i < len && s[i] == ',') {
				i = skip_blanks(s, i + 1, len);
				continue;
			}
			if (i < len && s[i] == ']') {
				i++;
				break;
			}
			return false;
		}
	}
	if (skip_blanks(s, i, len) != len)
		return false;

	// Empty strings add no bytes, so the buffer may still be unallocated.
	const char *decoded = df_buf_str(p->arena, &values);
	size_t capacity = 0;
	for (size_t k = 0; k < found_count; k++)
		add_word(p, inst, &capacity, decoded + found[k].start, found[k].len,
			 found[k].offset);
	inst->exec_form = true;
	return true;
}

static void add_pair(struct parser *p, struct df_instruction *inst, size_t *capacity,
		     const char *key, size_t key_len, size_t key_offset, const char *value,
		     size_t value_len, size_t value_offset)
{
	void *items = inst->pairs;
	df_grow(p->arena, &items, capacity, inst->pair_count + 1, sizeof(*inst->pairs));
	inst->pairs = items;
	struct df_pair *pair = &inst->pairs[inst->pair_count++];
	pair->key = df_strndup(p->arena, key, key_len);
	text_position(inst->text, key_offset, &pair->line, &pair->column);
	if (value != NULL) {
		pair->raw_value = df_strndup(p->arena, value, value_len);
		pair->value = pair->raw_value;
		text_position(inst->text, value_offset, &pair->value_line, &pair->value_column);
	}
}

// ENV and LABEL: KEY=value pairs, or the legacy "KEY value with spaces".
static void parse_pairs(struct parser *p, struct df_instruction *inst)
{
	const char *name = df_kind_name(inst->kind);
	size_t capacity = 0;
	if (inst->word_count == 0) {
		add_error(p, inst->line, inst->column, "%s requires at least one argument", name);
		return;
	}

	struct df_word *first = &inst->words[0];
	if (strchr(first->raw, '=') == NULL) {
		if (inst->word_count < 2) {
			add_error(p, first->line, first->column,
				  "%s %s has no value; write %s %s=VALUE", name, first->raw,
				  name, first->raw);
			return;
		}
		const char *s = inst->text->data;
		size_t start = inst->words[1].offset;
		size_t end = inst->text->len;
		while (end > start && is_blank(s[end - 1]))
			end--;
		add_pair(p, inst, &capacity, first->raw, strlen(first->raw), first->offset,
			 s + start, end - start, start);
		return;
	}

	for (size_t i = 0; i < inst->word_count; i++) {
		struct df_word *word = &inst->words[i];
		const char *eq = strchr(word->raw, '=');
		if (eq == NULL || eq == word->raw) {
			add_error(p, word->line, word->column,
				  "invalid %s argument '%.60s': expected NAME=VALUE", name, word->raw);
			continue;
		}
		size_t key_len = (size_t)(eq - word->raw);
		add_pair(p, inst, &capacity, word->raw, key_len, word->offset, eq + 1,
			 strlen(eq + 1), word->offset + key_len + 1);
	}
}

static void parse_args(struct parser *p, struct df_instruction *inst)
{
	size_t capacity = 0;
	for (size_t i = 0; i < inst->word_count; i++) {
		struct df_word *word = &inst->words[i];
		const char *eq = strchr(word->raw, '=');
		size_t key_len = eq != NULL ? (size_t)(eq - word->raw) : strlen(word->raw);
		bool valid = key_len > 0;
		for (size_t k = 0; k < key_len; k++) {
			char c = word->raw[k];
			if (!(isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'))
				valid = false;
		}
		if (!valid)
			add_error(p, word->line, word->column,
				  "invalid ARG name '%.*s': use letters, digits and _",
				  (int)(key_len > 60 ? 60 : key_len), word->raw);
		add_pair(p, inst, &capacity, word->raw, key_len, word->offset,
			 eq != NULL ? eq + 1 : NULL, eq != NULL ? strlen(eq + 1) : 0,
			 word->offset + key_len + 1);
	}
}

// ---- heredocs ----------------------------------------------------------------

static bool is_heredoc_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

// Finds <<NAME, <<-NAME, <<"NAME" and <<'NAME' words in RUN, COPY and ADD.
// Like BuildKit, which splits the line into words on whitespace, only a word
// that starts with << counts, and not a quoted one or a <<< here-string.
static void find_heredocs(struct parser *p, struct df_instruction *inst)
{
	const char *s = inst->text->data;
	size_t len = inst->text->len;
	size_t capacity = 0;
	char quote = 0;
	bool word_start = true;

	for (size_t i = inst->args_offset; i < len; i++) {
		char c = s[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			else if (c == '\\' && quote == '"')
				i++;
			continue;
		}
		if (c == '"' || c == '\'') {
			quote = c;
			word_start = false;
			continue;
		}
		if (c == '\\') {
			i++;
			word_start = false;
			continue;
		}
		bool at_start = word_start;
		word_start = is_blank(c);
		if (!at_start || c != '<' || i + 2 >= len || s[i + 1] != '<' || s[i + 2] == '<')
			continue;

		size_t j = i + 2;
		bool strip_tabs = false, quoted = false;
		if (j < len && s[j] == '-') {
			strip_tabs = true;
			j++;
		}
		char name_quote = 0;
		if (j < len && (s[j] == '"' || s[j] == '\'')) {
			name_quote = s[j];
			quoted = true;
			j++;
		}
		size_t name_start = j;
		while (j < len && is_heredoc_name_char(s[j]))
			j++;
		size_t name_len = j - name_start;
		if (name_quote != 0) {
			if (j >= len || s[j] != name_quote)
				continue;
			j++;
		}
		if (name_len == 0)
			continue;

		void *items = inst->heredocs;
		df_grow(p->arena, &items, &capacity, inst->heredoc_count + 1,
			sizeof(*inst->heredocs));
		inst->heredocs = items;
		struct df_heredoc *heredoc = &inst->heredocs[inst->heredoc_count++];
		heredoc->name = df_strndup(p->arena, s + name_start, name_len);
		heredoc->strip_tabs = strip_tabs;
		heredoc->quoted = quoted;
		text_position(inst->text, i, &heredoc->line, &heredoc->column);
		i = j - 1;
		word_start = false;
	}
}

static void read_heredoc_body(struct parser *p, struct df_heredoc *heredoc, int *end_line)
{
	struct df_buf body = { 0 };
	struct df_segment *segments = NULL;
	size_t segment_count = 0, segment_capacity = 0;
	struct source_line line;
	size_t name_len = strlen(heredoc->name);

	while (next_line(p, &line)) {
		*end_line = line.number;
		size_t skip = 0;
		if (heredoc->strip_tabs) {
			while (skip < line.len && line.start[skip] == '\t')
				skip++;
		}
		if (line.len - skip == name_len &&
		    memcmp(line.start + skip, heredoc->name, name_len) == 0) {
			heredoc->terminated = true;
			break;
		}

		void *items = segments;
		df_grow(p->arena, &items, &segment_capacity, segment_count + 1, sizeof(*segments));
		segments = items;
		segments[segment_count].offset = body.len;
		segments[segment_count].line = line.number;
		segments[segment_count].column = (int)skip + 1;
		segment_count++;
		df_buf_add(p->arena, &body, line.start + skip, line.len - skip);
		df_buf_addc(p->arena, &body, '\n');
	}

	heredoc->body.data = df_buf_str(p->arena, &body);
	heredoc->body.len = body.len;
	heredoc->body.segments = segments;
	heredoc->body.segment_count = segment_count;
	if (!heredoc->terminated)
		add_error(p, heredoc->line, heredoc->column,
			  "unterminated heredoc: no line '%.60s' ends the heredoc started here",
			  heredoc->name);
}

// ---- instructions --------------------------------------------------------------

static enum df_kind lookup_keyword(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strlen(keywords[i].name) == len && strncasecmp(s, keywords[i].name, len) == 0)
			return keywords[i].kind;
	}
	return DF_UNKNOWN;
}

static bool flag_allowed(enum df_kind kind, const char *name)
{
	const char *allowed = allowed_flags(kind);
	size_t len = strlen(name);
	if (len == 0)
		return false;
	for (const char *at = strstr(allowed, name); at != NULL; at = strstr(at + 1, name)) {
		if (at > allowed && at[-1] == ' ' && at[len] == ' ')
			return true;
	}
	return false;
}

static void check_flag_value(struct parser *p, struct df_instruction *inst,
			     const struct df_flag *flag)
{
	const char *v = flag->value;
	if (inst->kind != DF_RUN || v == NULL)
		return;

	if (strcmp(flag->name, "network") == 0 && strcmp(v, "default") != 0 &&
	    strcmp(v, "none") != 0 && strcmp(v, "host") != 0)
		add_error(p, flag->line, flag->column,
			  "invalid --network=%.60s: use default, none or host", v);
	if (strcmp(flag->name, "security") == 0 && strcmp(v, "sandbox") != 0 &&
	    strcmp(v, "insecure") != 0)
		add_error(p, flag->line, flag->column,
			  "invalid --security=%.60s: use sandbox or insecure", v);
	if (strcmp(flag->name, "mount") == 0) {
		const char *type = strstr(v, "type=");
		if (type != NULL && (type == v || type[-1] == ',')) {
			type += 5;
			size_t n = strcspn(type, ",");
			static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
			bool known = false;
			for (size_t i = 0; i < 5; i++) {
				if (strlen(types[i]) == n && strncmp(type, types[i], n) == 0)
					known = true;
			}
			if (!known)
				add_error(p, flag->line, flag->column,
					  "invalid mount type '%.*s': use bind, cache, tmpfs, secret or ssh",
					  (int)(n > 40 ? 40 : n), type);
		}
	}
}

// Reads --name[=value] words before the arguments. A lone "--" ends them.
static size_t parse_flags(struct parser *p, struct df_instruction *inst, size_t i)
{
	const char *s = inst->text->data;
	size_t len = inst->text->len;
	size_t capacity = 0;
	bool unterminated = false;

	while (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
		size_t end = scan_word(s, i, len, p->file->escape, &unterminated);
		if (end == i + 2) {
			i = skip_blanks(s, end, len);
			break;
		}

		void *items = inst->flags;
		df_grow(p->arena, &items, &capacity, inst->flag_count + 1, sizeof(*inst->flags));
		inst->flags = items;
		struct df_flag *flag = &inst->flags[inst->flag_count++];
		const char *eq = memchr(s + i, '=', end - i);
		size_t name_end = eq != NULL ? (size_t)(eq - s) : end;
		flag->name = df_strndup(p->arena, s + i + 2, name_end - i - 2);
		if (eq != NULL)
			flag->value = df_strndup(p->arena, eq + 1, end - name_end - 1);
		flag->expanded = flag->value;
		text_position(inst->text, i, &flag->line, &flag->column);

		if (!flag_allowed(inst->kind, flag->name))
			add_error(p, flag->line, flag->column, "unknown flag --%.60s for %s",
				  flag->name, df_kind_name(inst->kind));
		else
			check_flag_value(p, inst, flag);
		i = skip_blanks(s, end, len);
	}
	return i;
}

static bool is_valid_stage_name(const char *name)
{
	if (!isalpha((unsigned char)name[0]))
		return false;
	for (const char *c = name; *c != '\0'; c++) {
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
			return false;
	}
	return true;
}

static void parse_from(struct parser *p, struct df_instruction *inst)
{
	if (inst->word_count != 1 && inst->word_count != 3) {
		add_error(p, inst->line, inst->column,
			  "FROM requires either one or three arguments (IMAGE [AS NAME])");
	} else if (inst->word_count == 3 && strcasecmp(inst->words[1].raw, "AS") != 0) {
		add_error(p, inst->words[1].line, inst->words[1].column,
			  "expected AS after the FROM image, found '%.40s'", inst->words[1].raw);
	} else if (inst->word_count == 3 && !is_valid_stage_name(inst->words[2].raw)) {
		add_error(p, inst->words[2].line, inst->words[2].column,
			  "invalid stage name '%.60s': start with a letter, then letters, digits, -, _ or .",
			  inst->words[2].raw);
	}
}

static void parse_healthcheck(struct parser *p, struct df_instruction *inst, size_t i)
{
	const char *s = inst->text->data;
	size_t len = inst->text->len;
	if (i >= len) {
		add_error(p, inst->line, inst->column, "HEALTHCHECK requires NONE or CMD");
		return;
	}

	bool unterminated = false;
	size_t end = scan_word(s, i, len, p->file->escape, &unterminated);
	if (end - i == 4 && strncasecmp(s + i, "NONE", 4) == 0) {
		inst->healthcheck_none = true;
		if (skip_blanks(s, end, len) != len)
			add_error(p, inst->line, inst->column, "HEALTHCHECK NONE takes no arguments");
		return;
	}
	if (!(end - i == 3 && strncasecmp(s + i, "CMD", 3) == 0)) {
		int line, column;
		text_position(inst->text, i, &line, &column);
		add_error(p, line, column, "unknown HEALTHCHECK type '%.*s': use CMD or NONE",
			  (int)(end - i > 40 ? 40 : end - i), s + i);
		return;
	}

	inst->args_offset = skip_blanks(s, end, len);
	if (inst->args_offset >= len) {
		add_error(p, inst->line, inst->column, "missing command after HEALTHCHECK CMD");
		return;
	}
	if (!parse_exec_form(p, inst, inst->args_offset))
		split_words(p, inst, inst->args_offset, false);
}

static void require_words(struct parser *p, struct df_instruction *inst, size_t minimum)
{
	if (inst->word_count + inst->heredoc_count >= minimum || inst->exec_form)
		return;
	add_error(p, inst->line, inst->column, "%s requires at least %zu argument%s",
		  df_kind_name(inst->kind), minimum, minimum == 1 ? "" : "s");
}

static void parse_instruction(struct parser *p, struct df_instruction *inst,
			      const struct df_text *text, size_t start, int depth)
{
	const char *s = text->data;
	size_t len = text->len;
	size_t i = start;
	while (i < len && !is_blank(s[i]))
		i++;

	inst->text = text;
	inst->keyword = df_strndup(p->arena, s + start, i - start);
	inst->kind = lookup_keyword(s + start, i - start);
	inst->stage = p->stage;
	text_position(text, start, &inst->line, &inst->column);
	i = skip_blanks(s, i, len);

	if (inst->kind == DF_UNKNOWN) {
		add_error(p, inst->line, inst->column, "unknown instruction '%.40s'", inst->keyword);
		return;
	}

	if (inst->kind == DF_ONBUILD) {
		if (i >= len) {
			add_error(p, inst->line, inst->column, "ONBUILD requires an instruction");
			return;
		}
		if (depth > 0) {
			add_error(p, inst->line, inst->column, "ONBUILD cannot contain ONBUILD");
			return;
		}
		inst->args_offset = i;
		inst->trigger = df_alloc(p->arena, sizeof(*inst->trigger));
		parse_instruction(p, inst->trigger, text, i, depth + 1);
		return;
	}

	i = parse_flags(p, inst, i);
	inst->args_offset = i;

	switch (inst->kind) {
	case DF_RUN:
	case DF_CMD:
	case DF_ENTRYPOINT:
	case DF_SHELL:
	case DF_COPY:
	case DF_ADD:
	case DF_VOLUME:
		if (parse_exec_form(p, inst, i))
			break;
		if (inst->kind == DF_SHELL) {
			add_error(p, inst->line, inst->column,
				  "SHELL requires a JSON array such as [\"/bin/sh\", \"-c\"]");
			break;
		}
		if (inst->kind == DF_RUN || inst->kind == DF_COPY || inst->kind == DF_ADD)
			find_heredocs(p, inst);
		split_words(p, inst, i, inst->kind == DF_COPY || inst->kind == DF_ADD);
		break;
	case DF_HEALTHCHECK:
		parse_healthcheck(p, inst, i);
		return;
	case DF_ENV:
	case DF_LABEL:
		split_words(p, inst, i, true);
		parse_pairs(p, inst);
		return;
	case DF_ARG:
		split_words(p, inst, i, true);
		parse_args(p, inst);
		break;
	default:
		split_words(p, inst, i, inst->kind != DF_MAINTAINER);
		break;
	}

	switch (inst->kind) {
	case DF_FROM:
		parse_from(p, inst);
		break;
	case DF_COPY:
	case DF_ADD:
		require_words(p, inst, 2);
		break;
	case DF_CMD:
	case DF_ENTRYPOINT:
		break;
	default:
		require_words(p, inst, 1);
		break;
	}
}

static void add_stage(struct parser *p, size_t index)
{
	struct df_file *file = p->file;
	void *items = file->stages;
	df_grow(p->arena, &items, &p->stage_capacity, file->stage_count + 1, sizeof(*file->stages));
	file->stages = items;
	struct df_stage *stage = &file->stages[file->stage_count];
	stage->instruction = index;
	stage->base_stage = -1;
	stage->duplicate_of = -1;
	stage->posix_shell = true;
	p->stage = (int)file->stage_count;
	file->stage_count++;
}

// Joins an instruction's continuation lines into one text, skipping comment
// and blank lines inside it as BuildKit does, then parses it and reads the
// bodies of its heredocs.
static void parse_logical_line(struct parser *p, const struct source_line *first)
{
	struct df_text *text = df_alloc(p->arena, sizeof(*text));
	struct df_buf buf = { 0 };
	size_t segment_capacity = 0;
	char escape = p->file->escape;

	size_t start = skip_blanks(first->start, 0, first->len);
	struct source_line line = *first;
	line.start += start;
	line.len -= start;
	int column = (int)start + 1;
	int end_line = first->number;

	for (;;) {
		void *items = text->segments;
		df_grow(p->arena, &items, &segment_capacity, text->segment_count + 1,
			sizeof(*text->segments));
		text->segments = items;
		text->segments[text->segment_count].offset = buf.len;
		text->segments[text->segment_count].line = line.number;
		text->segments[text->segment_count].column = column;
		text->segment_count++;

		size_t cut;
		bool more = continues(line.start, line.len, escape, &cut);
		df_buf_add(p->arena, &buf, line.start, more ? cut : line.len);
		end_line = line.number;
		if (!more)
			break;

		bool found = false;
		while (next_line(p, &line)) {
			if (line_is_empty(&line) || line_is_comment(&line))
				continue;
			found = true;
			break;
		}
		if (!found)
			break;
		column = 1;
	}

	text->data = df_buf_str(p->arena, &buf);
	text->len = buf.len;

	struct df_file *file = p->file;
	void *items = file->instructions;
	df_grow(p->arena, &items, &p->instruction_capacity, file->instruction_count + 1,
		sizeof(*file->instructions));
	file->instructions = items;
	size_t index = file->instruction_count++;
	struct df_instruction *inst = &file->instructions[index];
	memset(inst, 0, sizeof(*inst));

	// FROM opens its stage before it is parsed, so it belongs to that stage.
	size_t keyword_len = 0;
	while (keyword_len < text->len && !is_blank(text->data[keyword_len]))
		keyword_len++;
	if (lookup_keyword(text->data, keyword_len) == DF_FROM)
		add_stage(p, index);

	parse_instruction(p, inst, text, 0, 0);
	inst->ignores = p->pending_ignores;
	inst->ignore_count = p->pending_count;
	p->pending_ignores = NULL;
	p->pending_count = 0;
	p->pending_capacity = 0;

	struct df_instruction *owner = inst->trigger != NULL ? inst->trigger : inst;
	for (size_t i = 0; i < owner->heredoc_count; i++)
		read_heredoc_body(p, &owner->heredocs[i], &end_line);
	inst->end_line = end_line;
}

int df_parse(const char *data, size_t size, struct df_file *file)
{
	jmp_buf oom;
	memset(file, 0, sizeof(*file));
	file->escape = '\\';
	file->arena.oom_jump = &oom;
	if (setjmp(oom) != 0) {
		df_arena_free(&file->arena);
		memset(file, 0, sizeof(*file));
		return -ENOMEM;
	}

	struct parser p = { 0 };
	p.file = file;
	p.arena = &file->arena;
	p.line = 1;
	p.stage = -1;
	sanitize_input(&p, data, size);

	struct source_line line;
	bool directives = true;
	bool seen[3] = { false, false, false };
	while (next_line(&p, &line)) {
		if (directives && parse_directive(&p, &line, seen))
			continue;
		directives = false;
		if (line_is_empty(&line))
			continue;
		if (line_is_comment(&line)) {
			parse_pragma(&p, &line);
			continue;
		}
		parse_logical_line(&p, &line);
	}
	file->line_count = p.line - 1;

	if (file->instruction_count == 0)
		add_error(&p, 1, 1, "the Dockerfile contains no instructions");

	df_analyze(file);
	file->arena.oom_jump = NULL;
	return 0;
}

void df_file_free(struct df_file *file)
{
	df_arena_free(&file->arena);
	memset(file, 0, sizeof(*file));
}
