// SPDX-License-Identifier: Apache-2.0
// Internal model of the Dockerfile linter: an arena allocator, the parsed
// file with source positions, variable expansion, the shell-command
// splitter and the rule entry points. The public entry is scan_dockerfile.h.

#ifndef COFFER_SCAN_DOCKERFILE_INTERNAL_H
#define COFFER_SCAN_DOCKERFILE_INTERNAL_H

#include <coffer/scan.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

// ---- arena ---------------------------------------------------------------

// Bump allocator that owns every object of one parse. An allocation failure
// jumps to oom_jump, so parser code needs no NULL checks; the caller that set
// the jump returns -ENOMEM and frees the arena.
struct df_arena {
	struct df_arena_block *blocks;
	jmp_buf *oom_jump;
};

void *df_alloc(struct df_arena *arena, size_t size);
char *df_strndup(struct df_arena *arena, const char *s, size_t len);
char *df_strdup(struct df_arena *arena, const char *s);
// Grows *items (each item_size bytes) to make room for at least need items.
void df_grow(struct df_arena *arena, void **items, size_t *capacity, size_t need,
	     size_t item_size);
void df_arena_free(struct df_arena *arena);

// Hash map from strings to pointers, in the arena. Keys are not copied.
struct df_map_entry;
struct df_map {
	struct df_map_entry **buckets;
	size_t bucket_count;
	size_t count;
};

void *df_map_get(const struct df_map *map, const char *key, size_t len);
// Sets key to value, replacing an earlier value.
void df_map_put(struct df_arena *arena, struct df_map *map, const char *key, size_t len,
		void *value);

// Growable byte buffer in the arena.
struct df_buf {
	char *data;
	size_t len;
	size_t capacity;
};

void df_buf_add(struct df_arena *arena, struct df_buf *buf, const char *s, size_t len);
void df_buf_addc(struct df_arena *arena, struct df_buf *buf, char c);
// Returns the NUL-terminated contents.
char *df_buf_str(struct df_arena *arena, struct df_buf *buf);

// ---- source text with positions ------------------------------------------

// A run of text that starts at line:column of the file and continues on the
// same line up to the next segment. Continuation lines and heredoc bodies
// become one text with one segment per source line.
struct df_segment {
	size_t offset;
	int line;
	int column;
};

struct df_text {
	const char *data; // NUL-terminated
	size_t len;
	struct df_segment *segments;
	size_t segment_count;
};

// Maps a byte offset of text to its 1-based line and column (bytes).
void df_text_position(const struct df_text *text, size_t offset, int *line, int *column);

// ---- parsed file ---------------------------------------------------------

enum df_kind {
	DF_UNKNOWN = 0,
	DF_ADD,
	DF_ARG,
	DF_CMD,
	DF_COPY,
	DF_ENTRYPOINT,
	DF_ENV,
	DF_EXPOSE,
	DF_FROM,
	DF_HEALTHCHECK,
	DF_LABEL,
	DF_MAINTAINER,
	DF_ONBUILD,
	DF_RUN,
	DF_SHELL,
	DF_STOPSIGNAL,
	DF_USER,
	DF_VOLUME,
	DF_WORKDIR,
};

const char *df_kind_name(enum df_kind kind);

// An argument: an exec-form element, or a whitespace-separated word of the
// shell form. raw is as written (quotes kept, JSON escapes decoded); value is
// raw after quote removal and variable expansion (set by df_analyze).
struct df_word {
	char *raw;
	char *value;
	bool unresolved; // value used a variable with no known value
	size_t offset;   // in the instruction's text
	int line;
	int column;
};

// --name or --name=value before the arguments.
struct df_flag {
	char *name;
	char *value; // NULL when written without "="
	char *expanded;
	bool unresolved;
	int line;
	int column;
};

// KEY=value of ENV, LABEL and ARG.
struct df_pair {
	char *key;
	char *raw_value; // NULL when ARG has no default
	char *value;
	bool unresolved;
	int line;
	int column;
	int value_line;
	int value_column;
};

struct df_heredoc {
	char *name;
	bool strip_tabs; // <<-EOF
	bool quoted;     // <<"EOF" or <<'EOF': no expansion in the body
	int line;        // of the << marker
	int column;
	struct df_text body; // lines between the marker line and the delimiter
	bool terminated;
};

struct df_instruction {
	enum df_kind kind;
	char *keyword; // as written
	int line;
	int column;
	int end_line; // last line, heredoc bodies included
	const struct df_text *text; // the logical line; shared with an ONBUILD trigger
	struct df_flag *flags;
	size_t flag_count;
	size_t args_offset; // where the arguments start in text, after the flags
	bool exec_form;     // JSON array form
	struct df_word *words;
	size_t word_count;
	struct df_pair *pairs; // ENV, LABEL, ARG
	size_t pair_count;
	struct df_heredoc *heredocs;
	size_t heredoc_count;
	struct df_instruction *trigger; // the instruction inside ONBUILD
	char **ignores;                 // rule ids from ignore pragmas above it
	size_t ignore_count;
	int stage; // index into df_file.stages; -1 before the first FROM
	// HEALTHCHECK: true for NONE; the words are the command after CMD.
	bool healthcheck_none;
	// RUN: the shell in effect (set by df_analyze) is a POSIX shell, not
	// cmd.exe or PowerShell, so shell rules apply.
	bool posix_shell;
};

struct df_stage {
	size_t instruction; // index of its FROM
	char *image;        // expanded image reference
	bool image_unresolved;
	char *name; // alias after AS, lower-cased, or NULL
	char *platform;
	int base_stage; // stage index when FROM names an earlier stage, else -1
	int duplicate_of; // index of an earlier stage with the same name, else -1
	bool in_final_image; // the final stage or a stage it is built on
	bool posix_shell; // RUN commands run in a POSIX shell (not cmd/PowerShell)
};

struct df_syntax_error {
	char *message;
	int line;
	int column;
};

struct df_file {
	struct df_arena arena;
	char escape; // '\\' or '`'
	char *syntax; // # syntax= directive, or NULL
	struct df_instruction *instructions;
	size_t instruction_count;
	struct df_stage *stages;
	size_t stage_count;
	struct df_syntax_error *errors;
	size_t error_count;
	char **global_ignores;
	size_t global_ignore_count;
	int line_count;
	struct df_map stage_names; // lower-case name -> first struct df_stage with it
};

// Parses size bytes of a Dockerfile. Syntax errors do not stop the parse,
// and file->errors lists them with their positions. Returns 0, or -ENOMEM
// with file left empty. Free with df_file_free in both cases.
int df_parse(const char *data, size_t size, struct df_file *file);
void df_file_free(struct df_file *file);

// Returns the index of the first stage named name (any case), or -1.
int df_stage_index(struct df_file *file, const char *name);

// Resolves build stages and expands variables in words, pairs and flags,
// following BuildKit's scoping (described in analyze.c). Called by df_parse.
void df_analyze(struct df_file *file);

// Expands $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}
// and removes quotes, as BuildKit does for ENV, COPY and the like. lookup
// returns the value, NULL when the variable is not declared, or
// df_unknown_value when it is declared but its value is known only at build
// time. *unresolved is set when the result depends on such a value.
extern const char df_unknown_value[];
typedef const char *(*df_lookup_fn)(void *context, const char *name, size_t len);
char *df_expand(struct df_arena *arena, const char *raw, char escape, df_lookup_fn lookup,
		void *context, bool *unresolved);

// ---- shell commands --------------------------------------------------------

struct df_shell_word {
	char *value;     // quotes removed; $VAR and $(...) kept as written
	size_t offset;   // in the text that was split
	bool expansion;  // contains $ or a backquote outside single quotes
};

// One simple command: `apt-get install -y curl`, with leading VAR=value
// assignments and redirections removed.
struct df_command {
	struct df_shell_word *words;
	size_t word_count;
	size_t offset;
	bool pipe_to_next;  // followed by | or |&
	bool pipe_from_prev;
};

struct df_script {
	struct df_command *commands;
	size_t command_count;
	bool has_pipe;
};

// Splits shell text into simple commands on &&, ||, ;, |, & and newlines,
// also inside $(...) and backquotes. Bad input is not an error: an
// unbalanced quote runs to the end of the text.
void df_shell_split(struct df_arena *arena, const char *text, size_t len,
		    struct df_script *script);

// ---- rules ---------------------------------------------------------------

enum df_rule_id {
	DF_R_SYNTAX,
	DF_R_DL3000, DF_R_DL3001, DF_R_DL3002, DF_R_DL3003, DF_R_DL3004, DF_R_DL3005,
	DF_R_DL3006, DF_R_DL3007, DF_R_DL3008, DF_R_DL3009, DF_R_DL3010, DF_R_DL3011,
	DF_R_DL3012, DF_R_DL3013, DF_R_DL3014, DF_R_DL3015, DF_R_DL3016, DF_R_DL3018,
	DF_R_DL3019, DF_R_DL3020, DF_R_DL3021, DF_R_DL3022, DF_R_DL3023, DF_R_DL3024,
	DF_R_DL3025, DF_R_DL3026, DF_R_DL3027, DF_R_DL3028, DF_R_DL3029, DF_R_DL3030,
	DF_R_DL3032, DF_R_DL3033, DF_R_DL3034, DF_R_DL3035, DF_R_DL3036, DF_R_DL3037,
	DF_R_DL3038, DF_R_DL3040, DF_R_DL3041, DF_R_DL3042, DF_R_DL3043, DF_R_DL3044,
	DF_R_DL3045, DF_R_DL3046, DF_R_DL3047, DF_R_DL3048, DF_R_DL3049, DF_R_DL3050,
	DF_R_DL3051, DF_R_DL3052, DF_R_DL3053, DF_R_DL3054, DF_R_DL3055, DF_R_DL3056,
	DF_R_DL3057, DF_R_DL3058, DF_R_DL3059,
	DF_R_DL3060, DF_R_DL3061, DF_R_DL3062,
	DF_R_DL4000, DF_R_DL4001, DF_R_DL4003, DF_R_DL4004, DF_R_DL4005, DF_R_DL4006,
	DF_R_UNPINNED_DIGEST, DF_R_IMAGE_NOT_ALLOWED, DF_R_RUNS_AS_ROOT, DF_R_SECRET_NAME,
	DF_R_SECRET_VALUE, DF_R_SECRET_FILE, DF_R_NO_DOCKERIGNORE, DF_R_ADD_NO_CHECKSUM,
	DF_R_PIPE_TO_SHELL, DF_R_TLS_DISABLED, DF_R_UNSIGNED_PACKAGES, DF_R_PIP_TRUSTED_HOST,
	DF_R_WORLD_WRITABLE, DF_R_SETUID, DF_R_INSECURE_RUN, DF_R_EXPOSE_SSH, DF_R_SSHD,
	DF_R_SECRET_ARG, DF_R_PLAIN_HTTP,
	DF_RULE_COUNT,
};

extern const struct scan_rule df_rules[DF_RULE_COUNT];

// State of one lint run over one parsed file.
struct df_lint {
	struct df_file *file;
	struct scan_report *report;
	const struct scan_config *config;
	const char *path;
	const char *context_dir; // directory searched for .dockerignore, or NULL
	const struct df_instruction *owner; // top-level instruction whose pragmas apply
	int error; // first failure of scan_report_add
	size_t *first_workdir; // per stage: index of its first WORKDIR, or SIZE_MAX
};

// Adds a finding for rule at line:column unless an ignore pragma, the
// configuration or a severity override of "none" suppresses it.
void df_report(struct df_lint *lint, enum df_rule_id rule, int line, int column,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
// The same with a severity other than the rule's default.
void df_report_severity(struct df_lint *lint, enum df_rule_id rule, enum scan_severity severity,
			int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

void df_check_instructions(struct df_lint *lint);
void df_check_shell(struct df_lint *lint);
void df_check_secrets(struct df_lint *lint);
// Checks labels against dockerfile.label-schema of the configuration.
void df_check_labels(struct df_lint *lint);

// Splits an image reference into registry (NULL for Docker Hub), repository
// path, tag and digest (each NULL when absent), in the arena.
struct df_image_ref {
	char *registry;
	char *repository;
	char *tag;
	char *digest;
};
void df_image_parse(struct df_arena *arena, const char *image, struct df_image_ref *ref);

// True when url starts with http:// (any case) and its host is not a
// loopback name or address (localhost, 127.0.0.0/8, [::1]), whose traffic
// never leaves the build container.
bool df_url_plain_http(const char *url);

// True when a chmod mode (octal or symbolic) gives others write access
// without the sticky bit, or sets the setuid or setgid bit.
bool df_mode_world_writable(const char *mode);
bool df_mode_setid(const char *mode);

#endif
