// SPDX-License-Identifier: Apache-2.0
// Build stages and variable expansion for parsed Dockerfiles, with
// BuildKit's scoping. ARGs declared before the first FROM are visible only in
// FROM lines and in a stage that declares the ARG again without a value.
// A stage can use its own ARG and ENV values and the ENV values of the
// stage it is built FROM. A variable with no value known at lint time (a build
// argument without default, TARGETARCH and the like) makes the result
// "unresolved", so rules do not judge text they cannot see.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// Maximum length of the chain of stages built FROM earlier stages whose ENV
// values are followed. A variable found only deeper is taken as unresolved,
// which keeps each lookup bounded on hostile input.
#define MAX_BASE_DEPTH 64

struct variable {
	const char *name;
	const char *value; // df_unknown_value: declared, known only at build time
	bool env;
};

struct scope {
	struct df_map vars; // name -> struct variable: this stage's ARG and ENV
	struct df_map env;  // name -> struct variable: this stage's ENV only
	const struct scope *base; // scope of the stage this one is built FROM
};

static const struct variable unknown_variable = { "", df_unknown_value, true };

static void scope_set(struct df_arena *arena, struct scope *scope, const char *name,
		      const char *value, bool env)
{
	struct variable *v = df_alloc(arena, sizeof(*v));
	v->name = name;
	v->value = value;
	v->env = env;
	df_map_put(arena, &scope->vars, name, strlen(name), v);
	if (env)
		df_map_put(arena, &scope->env, name, strlen(name), v);
}

static const struct variable *scope_find(const struct scope *scope, const char *name, size_t len)
{
	const struct variable *v = df_map_get(&scope->vars, name, len);
	if (v != NULL)
		return v;

	// ENV values carry over from the stage this one is built on.
	int depth = 0;
	for (const struct scope *base = scope->base; base != NULL; base = base->base) {
		if (++depth > MAX_BASE_DEPTH)
			return &unknown_variable;
		v = df_map_get(&base->env, name, len);
		if (v != NULL)
			return v;
	}
	return NULL;
}

static const char *scope_lookup(void *context, const char *name, size_t len)
{
	const struct variable *v = scope_find(context, name, len);
	return v != NULL ? v->value : NULL;
}

// ---- expansion ---------------------------------------------------------------

struct expander {
	struct df_arena *arena;
	const char *s;
	size_t len;
	char escape;
	df_lookup_fn lookup;
	void *context;
	bool unresolved;
};

static bool is_name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static void expand_range(struct expander *e, size_t i, size_t end, struct df_buf *out,
			 int depth);

// Finds the } that closes the ${ whose body starts at i, skipping nested ${}.
static size_t find_brace_end(const struct expander *e, size_t i, size_t end)
{
	int nesting = 0;
	for (; i < end; i++) {
		char c = e->s[i];
		if (c == e->escape && i + 1 < end) {
			i++;
		} else if (c == '$' && i + 1 < end && e->s[i + 1] == '{') {
			nesting++;
			i++;
		} else if (c == '}') {
			if (nesting == 0)
				return i;
			nesting--;
		}
	}
	return end;
}

const char df_unknown_value[] = "";

static void add_value(struct expander *e, const char *value, struct df_buf *out)
{
	if (value == NULL || value == df_unknown_value)
		e->unresolved = true;
	else
		df_buf_add(e->arena, out, value, strlen(value));
}

// Expands the variable reference at s[i] == '$'; returns the offset after it.
static size_t expand_variable(struct expander *e, size_t i, size_t end, struct df_buf *out,
			      int depth)
{
	const char *s = e->s;
	if (i + 1 >= end) {
		df_buf_addc(e->arena, out, '$');
		return i + 1;
	}

	if (is_name_start(s[i + 1])) {
		size_t j = i + 1;
		while (j < end && is_name_char(s[j]))
			j++;
		add_value(e, e->lookup(e->context, s + i + 1, j - i - 1), out);
		return j;
	}
	if (s[i + 1] != '{') {
		df_buf_addc(e->arena, out, '$');
		return i + 1;
	}

	size_t name_start = i + 2;
	size_t j = name_start;
	while (j < end && is_name_char(s[j]))
		j++;
	size_t name_len = j - name_start;
	size_t close = find_brace_end(e, j, end);
	const char *value = name_len > 0 ? e->lookup(e->context, s + name_start, name_len) : NULL;
	size_t after = close < end ? close + 1 : end;

	if (j == close) {
		add_value(e, value, out);
		return after;
	}

	bool colon = s[j] == ':';
	size_t op = colon ? j + 1 : j;
	char kind = op < close ? s[op] : 0;
	if (kind != '-' && kind != '+' && kind != '?') {
		// Pattern operators (# % / and substrings) are not evaluated here.
		e->unresolved = true;
		return after;
	}
	if (value == df_unknown_value) {
		e->unresolved = true;
		return after;
	}

	bool present = value != NULL && (!colon || value[0] != '\0');
	if (kind == '-' && !present) {
		if (depth < 8)
			expand_range(e, op + 1, close, out, depth + 1);
	} else if (kind == '+' && present) {
		if (depth < 8)
			expand_range(e, op + 1, close, out, depth + 1);
	} else if (kind != '+') {
		add_value(e, value, out);
	}
	return after;
}

static void expand_range(struct expander *e, size_t i, size_t end, struct df_buf *out,
			 int depth)
{
	const char *s = e->s;
	char quote = 0;
	while (i < end) {
		char c = s[i];
		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				df_buf_addc(e->arena, out, c);
			i++;
			continue;
		}
		if (c == e->escape && i + 1 < end) {
			char next = s[i + 1];
			// Inside double quotes the escape character only escapes
			// characters that would otherwise be special there.
			if (quote == '"' && next != '"' && next != '$' && next != e->escape)
				df_buf_addc(e->arena, out, c);
			df_buf_addc(e->arena, out, next);
			i += 2;
			continue;
		}
		if (c == '"') {
			quote = quote == '"' ? 0 : '"';
			i++;
			continue;
		}
		if (c == '\'' && quote == 0) {
			quote = '\'';
			i++;
			continue;
		}
		if (c == '$') {
			i = expand_variable(e, i, end, out, depth);
			continue;
		}
		df_buf_addc(e->arena, out, c);
		i++;
	}
}

char *df_expand(struct df_arena *arena, const char *raw, char escape, df_lookup_fn lookup,
		void *context, bool *unresolved)
{
	struct expander e = {
		.arena = arena,
		.s = raw,
		.len = strlen(raw),
		.escape = escape,
		.lookup = lookup,
		.context = context,
	};
	struct df_buf out = { 0 };
	expand_range(&e, 0, e.len, &out, 0);
	if (unresolved != NULL)
		*unresolved = e.unresolved;
	return df_buf_str(arena, &out);
}

// ---- stages ------------------------------------------------------------------

static const char *global_lookup(void *context, const char *name, size_t len)
{
	return scope_lookup(context, name, len);
}

static bool is_windows_image(const char *image)
{
	return strcasestr(image, "windows") != NULL || strcasestr(image, "nanoserver") != NULL ||
	       strcasestr(image, "servercore") != NULL;
}

static bool is_posix_shell(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	static const char *const shells[] = { "sh", "bash", "ash", "dash", "zsh", "ksh", "busybox" };
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		if (strcmp(base, shells[i]) == 0)
			return true;
	}
	return false;
}

static void expand_word(struct df_file *file, struct df_word *word, struct scope *scope)
{
	word->value = df_expand(&file->arena, word->raw, file->escape, scope_lookup, scope,
				&word->unresolved);
}

static void expand_flags(struct df_file *file, struct df_instruction *inst, struct scope *scope)
{
	for (size_t i = 0; i < inst->flag_count; i++) {
		struct df_flag *flag = &inst->flags[i];
		if (flag->value != NULL)
			flag->expanded = df_expand(&file->arena, flag->value, file->escape,
						   scope_lookup, scope, &flag->unresolved);
	}
}

static void resolve_from(struct df_file *file, struct df_instruction *inst, struct scope *globals)
{
	struct df_stage *stage = &file->stages[inst->stage];
	if (inst->word_count == 0) {
		stage->image = "";
		stage->image_unresolved = true;
		return;
	}

	struct df_word *image = &inst->words[0];
	image->value = df_expand(&file->arena, image->raw, file->escape, global_lookup, globals,
				 &image->unresolved);
	stage->image = image->value;
	stage->image_unresolved = image->unresolved;
	if (inst->word_count == 3) {
		char *name = df_strdup(&file->arena, inst->words[2].raw);
		for (char *c = name; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		stage->name = name;
	}
	for (size_t i = 0; i < inst->flag_count; i++) {
		struct df_flag *flag = &inst->flags[i];
		if (flag->value == NULL)
			continue;
		flag->expanded = df_expand(&file->arena, flag->value, file->escape, global_lookup,
					   globals, &flag->unresolved);
		if (strcmp(flag->name, "platform") == 0)
			stage->platform = flag->expanded;
	}

	// A stage may be built FROM an earlier stage, by name or by index.
	int index = inst->stage;
	stage->base_stage = df_stage_index(file, stage->image);
	if (stage->name != NULL) {
		int earlier = df_stage_index(file, stage->name);
		if (earlier >= 0)
			stage->duplicate_of = earlier;
		else
			df_map_put(&file->arena, &file->stage_names, stage->name,
				   strlen(stage->name), stage);
	}
	if (stage->base_stage < 0 && stage->image[0] != '\0' &&
	    strspn(stage->image, "0123456789") == strlen(stage->image) && strlen(stage->image) < 6) {
		int number = atoi(stage->image);
		if (number < index)
			stage->base_stage = number;
	}

	if (stage->base_stage >= 0)
		stage->posix_shell = file->stages[stage->base_stage].posix_shell;
	else
		stage->posix_shell = !is_windows_image(stage->image) && file->escape != '`';
}

int df_stage_index(struct df_file *file, const char *name)
{
	char *lower = df_strdup(&file->arena, name);
	for (char *c = lower; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	const struct df_stage *stage = df_map_get(&file->stage_names, lower, strlen(lower));
	return stage != NULL ? (int)(stage - file->stages) : -1;
}

void df_analyze(struct df_file *file)
{
	struct df_arena *arena = &file->arena;
	struct scope globals = { 0 };
	struct scope *scopes = df_alloc(arena, (file->stage_count + 1) * sizeof(*scopes));
	struct scope *scope = &globals;
	bool posix_shell = true;

	for (size_t n = 0; n < file->instruction_count; n++) {
		struct df_instruction *inst = &file->instructions[n];

		if (inst->kind == DF_FROM && inst->stage >= 0) {
			resolve_from(file, inst, &globals);
			struct df_stage *stage = &file->stages[inst->stage];
			scope = &scopes[inst->stage];
			if (stage->base_stage >= 0)
				scope->base = &scopes[stage->base_stage];
			posix_shell = stage->posix_shell;
			continue;
		}

		switch (inst->kind) {
		case DF_ARG:
			for (size_t i = 0; i < inst->pair_count; i++) {
				struct df_pair *pair = &inst->pairs[i];
				const char *value = df_unknown_value;
				if (pair->raw_value != NULL) {
					pair->value = df_expand(arena, pair->raw_value, file->escape,
								scope_lookup, scope, &pair->unresolved);
					value = pair->unresolved ? df_unknown_value : pair->value;
				} else if (scope != &globals) {
					// ARG NAME inside a stage takes the global default.
					const struct variable *global =
						scope_find(&globals, pair->key, strlen(pair->key));
					if (global != NULL)
						value = global->value;
				}
				scope_set(arena, scope, pair->key, value, false);
			}
			break;
		case DF_ENV:
			for (size_t i = 0; i < inst->pair_count; i++) {
				struct df_pair *pair = &inst->pairs[i];
				pair->key = df_expand(arena, pair->key, file->escape, scope_lookup,
						      scope, NULL);
				pair->value = df_expand(arena, pair->raw_value, file->escape,
							scope_lookup, scope, &pair->unresolved);
				scope_set(arena, scope, pair->key,
					  pair->unresolved ? df_unknown_value : pair->value, true);
			}
			break;
		case DF_LABEL:
			for (size_t i = 0; i < inst->pair_count; i++) {
				struct df_pair *pair = &inst->pairs[i];
				// Keys may be quoted: LABEL "com.example.vendor"=ACME.
				pair->key = df_expand(arena, pair->key, file->escape, scope_lookup,
						      scope, NULL);
				pair->value = df_expand(arena, pair->raw_value, file->escape,
							scope_lookup, scope, &pair->unresolved);
			}
			break;
		case DF_COPY:
		case DF_ADD:
		case DF_WORKDIR:
		case DF_USER:
		case DF_EXPOSE:
		case DF_VOLUME:
		case DF_STOPSIGNAL:
			expand_flags(file, inst, scope);
			for (size_t i = 0; i < inst->word_count; i++)
				expand_word(file, &inst->words[i], scope);
			break;
		case DF_SHELL:
			if (inst->exec_form && inst->word_count > 0)
				posix_shell = is_posix_shell(inst->words[0].raw);
			break;
		case DF_RUN:
			inst->posix_shell = posix_shell;
			expand_flags(file, inst, scope);
			break;
		default:
			break;
		}
	}

	// Mark the final stage and the stages it is built on; base stages are
	// always earlier, so the walk ends.
	int current = file->stage_count > 0 ? (int)file->stage_count - 1 : -1;
	while (current >= 0 && !file->stages[current].in_final_image) {
		file->stages[current].in_final_image = true;
		current = file->stages[current].base_stage;
	}
}
