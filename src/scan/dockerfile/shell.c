// SPDX-License-Identifier: Apache-2.0
// Splits the shell text of RUN instructions into simple commands with their
// arguments, so rules can look at `apt-get install` flags or `curl | sh`
// pipes. This is a POSIX sh tokenizer, not an interpreter. It handles quotes,
// escapes, operators, redirections, comments, nested heredocs, $(...) and
// backquotes (whose commands are split too), and `sh -c 'script'`. Control
// keywords such as `then` and `do` are dropped from the front of a command.
// Time is linear in the text: nested substitutions are rescanned at most
// MAX_DEPTH times.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 4
#define NO_OFFSET SIZE_MAX

struct splitter {
	struct df_arena *arena;
	struct df_script *script;
	size_t command_capacity;
};

struct range {
	const char *s;
	size_t end;
	int depth;
	// When the text is a copy (the script of `sh -c`), every word is
	// reported at this offset of the original text.
	size_t fixed_offset;
};

struct command_builder {
	struct df_shell_word *words;
	size_t count;
	size_t capacity;
	bool pipe_from_prev;
};

static void split_range(struct splitter *sp, const struct range *r, size_t i);

static bool is_operator_char(char c)
{
	return c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static size_t report_offset(const struct range *r, size_t offset)
{
	return r->fixed_offset != NO_OFFSET ? r->fixed_offset : offset;
}

// Returns the offset of the ) that closes a $( whose contents start at i.
static size_t find_paren_end(const char *s, size_t i, size_t end)
{
	int nesting = 0;
	while (i < end) {
		char c = s[i];
		if (c == '\\' && i + 1 < end) {
			i += 2;
			continue;
		}
		if (c == '\'') {
			const char *close = memchr(s + i + 1, '\'', end - i - 1);
			i = close != NULL ? (size_t)(close - s) + 1 : end;
			continue;
		}
		if (c == '"') {
			i++;
			while (i < end && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < end)
					i++;
				i++;
			}
			i++;
			continue;
		}
		if (c == '(') {
			nesting++;
		} else if (c == ')') {
			if (nesting == 0)
				return i;
			nesting--;
		}
		i++;
	}
	return end;
}

static size_t find_backquote_end(const char *s, size_t i, size_t end)
{
	while (i < end && s[i] != '`') {
		if (s[i] == '\\' && i + 1 < end)
			i++;
		i++;
	}
	return i;
}

static void split_nested(struct splitter *sp, const struct range *r, size_t start, size_t stop)
{
	if (r->depth + 1 >= MAX_DEPTH)
		return;
	struct range inner = { r->s, stop, r->depth + 1, r->fixed_offset };
	split_range(sp, &inner, start);
}

// Reads $(...), $((...)), ${...} or $NAME at s[i] == '$' into out as written.
static size_t read_dollar(struct splitter *sp, const struct range *r, size_t i,
			  struct df_buf *out)
{
	const char *s = r->s;
	size_t end = r->end;
	size_t start = i;

	if (i + 1 < end && s[i + 1] == '(') {
		bool arithmetic = i + 2 < end && s[i + 2] == '(';
		size_t close = find_paren_end(s, i + 2, end);
		if (!arithmetic)
			split_nested(sp, r, i + 2, close);
		i = close < end ? close + 1 : end;
	} else if (i + 1 < end && s[i + 1] == '{') {
		const char *close = memchr(s + i, '}', end - i);
		i = close != NULL ? (size_t)(close - s) + 1 : end;
	} else {
		i++;
		while (i < end && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		if (i == start + 1 && i < end && strchr("@*#?$!-0123456789", s[i]) != NULL)
			i++;
	}
	df_buf_add(sp->arena, out, s + start, i - start);
	return i;
}

// Reads one word, removing quotes. Returns the offset after it.
static size_t read_word(struct splitter *sp, const struct range *r, size_t i,
			struct df_shell_word *word)
{
	const char *s = r->s;
	size_t end = r->end;
	struct df_buf out = { 0 };
	word->offset = report_offset(r, i);

	while (i < end) {
		char c = s[i];
		if (is_space(c) || c == '\n' || is_operator_char(c))
			break;
		if (c == '\\') {
			if (i + 1 < end && s[i + 1] != '\n')
				df_buf_addc(sp->arena, &out, s[i + 1]);
			i += 2;
			continue;
		}
		if (c == '\'') {
			const char *close = memchr(s + i + 1, '\'', end - i - 1);
			size_t stop = close != NULL ? (size_t)(close - s) : end;
			df_buf_add(sp->arena, &out, s + i + 1, stop - i - 1);
			i = stop < end ? stop + 1 : end;
			continue;
		}
		if (c == '"') {
			i++;
			while (i < end && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < end && strchr("$`\"\\\n", s[i + 1]) != NULL) {
					if (s[i + 1] != '\n')
						df_buf_addc(sp->arena, &out, s[i + 1]);
					i += 2;
				} else if (s[i] == '$') {
					word->expansion = true;
					i = read_dollar(sp, r, i, &out);
				} else if (s[i] == '`') {
					word->expansion = true;
					size_t close = find_backquote_end(s, i + 1, end);
					split_nested(sp, r, i + 1, close);
					size_t stop = close < end ? close + 1 : end;
					df_buf_add(sp->arena, &out, s + i, stop - i);
					i = stop;
				} else {
					df_buf_addc(sp->arena, &out, s[i]);
					i++;
				}
			}
			i = i < end ? i + 1 : end;
			continue;
		}
		if (c == '$') {
			word->expansion = true;
			i = read_dollar(sp, r, i, &out);
			continue;
		}
		if (c == '`') {
			word->expansion = true;
			size_t close = find_backquote_end(s, i + 1, end);
			split_nested(sp, r, i + 1, close);
			size_t stop = close < end ? close + 1 : end;
			df_buf_add(sp->arena, &out, s + i, stop - i);
			i = stop;
			continue;
		}
		df_buf_addc(sp->arena, &out, c);
		i++;
	}
	word->value = df_buf_str(sp->arena, &out);
	return i;
}

static bool is_assignment(const char *word)
{
	if (!(isalpha((unsigned char)word[0]) || word[0] == '_'))
		return false;
	for (const char *c = word; *c != '\0'; c++) {
		if (*c == '=')
			return true;
		if (!(isalnum((unsigned char)*c) || *c == '_'))
			return false;
	}
	return false;
}

static bool is_leading_keyword(const char *word)
{
	static const char *const keywords[] = {
		"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
		"!", "{", "}", "esac", "time",
	};
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strcmp(word, keywords[i]) == 0)
			return true;
	}
	return false;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

// Splits the script of `sh -c SCRIPT` (and bash, ash, dash, su -c) too.
static void split_shell_c(struct splitter *sp, const struct range *r, const struct df_command *cmd)
{
	const char *name = base_name(cmd->words[0].value);
	bool shell = strcmp(name, "sh") == 0 || strcmp(name, "bash") == 0 ||
		     strcmp(name, "ash") == 0 || strcmp(name, "dash") == 0 ||
		     strcmp(name, "su") == 0;
	if (!shell || r->depth + 1 >= MAX_DEPTH)
		return;

	for (size_t i = 1; i + 1 < cmd->word_count; i++) {
		const char *arg = cmd->words[i].value;
		if (arg[0] == '-' && strchr(arg, 'c') != NULL && arg[1] != '-') {
			const struct df_shell_word *script = &cmd->words[i + 1];
			struct range inner = { script->value, strlen(script->value), r->depth + 1,
					       script->offset };
			split_range(sp, &inner, 0);
			return;
		}
	}
}

static void finish_command(struct splitter *sp, const struct range *r,
			   struct command_builder *builder, bool pipe_to_next)
{
	size_t first = 0;
	while (first < builder->count &&
	       (is_assignment(builder->words[first].value) ||
		is_leading_keyword(builder->words[first].value)))
		first++;

	if (first < builder->count) {
		struct df_script *script = sp->script;
		void *items = script->commands;
		df_grow(sp->arena, &items, &sp->command_capacity, script->command_count + 1,
			sizeof(*script->commands));
		script->commands = items;
		struct df_command *cmd = &script->commands[script->command_count++];
		cmd->words = builder->words + first;
		cmd->word_count = builder->count - first;
		cmd->offset = cmd->words[0].offset;
		cmd->pipe_to_next = pipe_to_next;
		cmd->pipe_from_prev = builder->pipe_from_prev;
		if (pipe_to_next)
			script->has_pipe = true;

		struct df_command copy = *cmd;
		split_shell_c(sp, r, &copy);
	}

	builder->words = NULL;
	builder->count = 0;
	builder->capacity = 0;
	builder->pipe_from_prev = pipe_to_next;
}

struct pending_heredoc {
	char name[64];
	size_t len;
	bool strip_tabs;
};

// Skips the bodies of heredocs opened on the line that just ended.
static size_t skip_heredoc_bodies(const struct range *r, size_t i, struct pending_heredoc *pending,
				  size_t count)
{
	const char *s = r->s;
	for (size_t k = 0; k < count; k++) {
		while (i < r->end) {
			const char *newline = memchr(s + i, '\n', r->end - i);
			size_t line_end = newline != NULL ? (size_t)(newline - s) : r->end;
			size_t start = i;
			if (pending[k].strip_tabs) {
				while (start < line_end && s[start] == '\t')
					start++;
			}
			size_t len = line_end - start;
			if (len > 0 && s[line_end - 1] == '\r')
				len--;
			i = line_end < r->end ? line_end + 1 : r->end;
			if (len == pending[k].len && memcmp(s + start, pending[k].name, len) == 0)
				break;
		}
	}
	return i;
}

static void add_builder_word(struct splitter *sp, struct command_builder *builder,
			     const struct df_shell_word *word)
{
	void *items = builder->words;
	df_grow(sp->arena, &items, &builder->capacity, builder->count + 1, sizeof(*builder->words));
	builder->words = items;
	builder->words[builder->count++] = *word;
}

static void split_range(struct splitter *sp, const struct range *r, size_t i)
{
	const char *s = r->s;
	size_t end = r->end;
	struct command_builder builder = { 0 };
	struct pending_heredoc pending[8];
	size_t pending_count = 0;

	while (i < end) {
		char c = s[i];
		if (is_space(c)) {
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < end && s[i + 1] == '\n') {
			i += 2;
			continue;
		}
		if (c == '\n') {
			finish_command(sp, r, &builder, false);
			i = skip_heredoc_bodies(r, i + 1, pending, pending_count);
			pending_count = 0;
			continue;
		}
		if (c == '#') {
			const char *newline = memchr(s + i, '\n', end - i);
			i = newline != NULL ? (size_t)(newline - s) : end;
			continue;
		}

		// Redirections: [n]>, >>, <, <<, <<-, <<<, >&, <&, &>, >|, <>.
		size_t j = i;
		while (j < end && isdigit((unsigned char)s[j]))
			j++;
		bool redirect = j < end && (s[j] == '<' || s[j] == '>');
		if (!redirect && c == '&' && i + 1 < end && s[i + 1] == '>') {
			redirect = true;
			j = i + 1;
		}
		if (redirect) {
			bool heredoc = j + 1 < end && s[j] == '<' && s[j + 1] == '<' &&
				       !(j + 2 < end && s[j + 2] == '<');
			bool strip_tabs = heredoc && j + 2 < end && s[j + 2] == '-';
			while (j < end && (s[j] == '<' || s[j] == '>' || s[j] == '&' || s[j] == '|' ||
					   (heredoc && s[j] == '-')))
				j++;
			while (j < end && is_space(s[j]))
				j++;
			struct df_shell_word target = { 0 };
			i = j < end && s[j] != '\n' ? read_word(sp, r, j, &target) : j;
			if (heredoc && target.value != NULL && pending_count < 8) {
				size_t len = strlen(target.value);
				if (len < sizeof(pending[0].name)) {
					memcpy(pending[pending_count].name, target.value, len);
					pending[pending_count].len = len;
					pending[pending_count].strip_tabs = strip_tabs;
					pending_count++;
				}
			}
			continue;
		}

		if (is_operator_char(c)) {
			bool pipe = c == '|' && !(i + 1 < end && s[i + 1] == '|');
			finish_command(sp, r, &builder, pipe);
			i++;
			if (i < end && (s[i] == c || (c == '|' && s[i] == '&')))
				i++;
			continue;
		}

		struct df_shell_word word = { 0 };
		i = read_word(sp, r, i, &word);
		add_builder_word(sp, &builder, &word);
	}
	finish_command(sp, r, &builder, false);
}

void df_shell_split(struct df_arena *arena, const char *text, size_t len,
		    struct df_script *script)
{
	struct splitter sp = { .arena = arena, .script = script };
	memset(script, 0, sizeof(*script));
	struct range r = { text, len, 0, NO_OFFSET };
	split_range(&sp, &r, 0);
}
