// SPDX-License-Identifier: Apache-2.0
// Dockerfile parser: every syntax feature with exact positions (directives,
// continuations, heredocs, exec and shell form, flags, instructions, stages
// and variable expansion), the shell splitter, and hostile inputs that must
// give errors in linear time.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <coffer/scan_dockerfile.h>

#include "scan/dockerfile/dockerfile.h"

static void parse(struct df_file *file, const char *text)
{
	assert_int_equal(df_parse(text, strlen(text), file), 0);
}

static bool has_error_at(const struct df_file *file, int line, const char *needle)
{
	for (size_t i = 0; i < file->error_count; i++) {
		if (file->errors[i].line == line && strstr(file->errors[i].message, needle) != NULL)
			return true;
	}
	return false;
}

static void print_errors(const struct df_file *file)
{
	for (size_t i = 0; i < file->error_count; i++)
		fprintf(stderr, "  error %d:%d %s\n", file->errors[i].line, file->errors[i].column,
			file->errors[i].message);
}

static void directive_escape_backtick(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "# escape=`\n"
		     "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
		     "COPY C:\\src\\app C:\\app\\\n"
		     "RUN dir `\n"
		     "    C:\\app\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.escape, '`');
	assert_int_equal(file.instruction_count, 3);

	const struct df_instruction *copy = &file.instructions[1];
	assert_int_equal(copy->kind, DF_COPY);
	assert_int_equal(copy->word_count, 2);
	assert_string_equal(copy->words[0].value, "C:\\src\\app");
	assert_string_equal(copy->words[1].value, "C:\\app\\");

	const struct df_instruction *run = &file.instructions[2];
	assert_string_equal(run->text->data + run->args_offset, "dir     C:\\app");
	assert_int_equal(run->line, 4);
	assert_int_equal(run->end_line, 5);
	assert_false(run->posix_shell);
	df_file_free(&file);
}

static void directive_after_comment_ignored(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "# a comment\n# escape=`\nFROM alpine:3.19\n");
	assert_int_equal(file.escape, '\\');
	df_file_free(&file);

	parse(&file, "# syntax=docker/dockerfile:1.7\n# check=skip=all\n\nFROM alpine:3.19\n");
	assert_non_null(file.syntax);
	assert_string_equal(file.syntax, "docker/dockerfile:1.7");
	assert_int_equal(file.error_count, 0);
	df_file_free(&file);

	parse(&file, "# escape=x\nFROM alpine:3.19\n");
	assert_true(has_error_at(&file, 1, "invalid escape directive"));
	df_file_free(&file);
}

static void continuation_with_comments_and_blanks(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\n"
		     "RUN apk add \\\n"
		     "# a comment inside\n"
		     "\n"
		     "    curl \\\n"
		     "    git\n"
		     "USER app\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 3);
	const struct df_instruction *run = &file.instructions[1];
	assert_int_equal(run->line, 2);
	assert_int_equal(run->end_line, 6);
	assert_int_equal(run->word_count, 4);
	assert_string_equal(run->words[2].raw, "curl");
	assert_int_equal(run->words[2].line, 5);
	assert_int_equal(run->words[2].column, 5);
	assert_string_equal(run->words[3].raw, "git");
	assert_int_equal(run->words[3].line, 6);
	assert_int_equal(run->words[3].column, 5);
	assert_int_equal(file.instructions[2].line, 7);
	df_file_free(&file);
}

static void continuation_ending_in_comment(void **state)
{
	(void)state;
	struct df_file file;
	// As in BuildKit, the comment line is dropped and the continuation
	// goes on with the next line that is not a comment or blank.
	parse(&file, "FROM alpine:3.19\n"
		     "RUN echo hello \\\n"
		     "# comment ends the visible text\n"
		     "\n"
		     "world\n"
		     "CMD [\"sh\"]\n");
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 3);
	assert_string_equal(file.instructions[1].text->data, "RUN echo hello world");
	assert_int_equal(file.instructions[1].words[2].line, 5);
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nRUN echo a \\");
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 2);
	df_file_free(&file);

	// Two escape characters at the end of a line do not continue it.
	parse(&file, "FROM alpine:3.19\nENV C=trailing\\\\\nENV D=next\n");
	assert_int_equal(file.instruction_count, 3);
	df_file_free(&file);
}

static void heredoc_body_is_not_parsed(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\n"
		     "RUN <<EOF\n"
		     "FROM scratch\n"
		     "apk add curl\n"
		     "EOF\n"
		     "USER app\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 3);
	assert_int_equal(file.stage_count, 1);
	const struct df_instruction *run = &file.instructions[1];
	assert_int_equal(run->heredoc_count, 1);
	assert_string_equal(run->heredocs[0].name, "EOF");
	assert_string_equal(run->heredocs[0].body.data, "FROM scratch\napk add curl\n");
	assert_int_equal(run->heredocs[0].line, 2);
	assert_int_equal(run->heredocs[0].column, 5);
	assert_true(run->heredocs[0].terminated);
	assert_int_equal(run->end_line, 5);

	int line, column;
	df_text_position(&run->heredocs[0].body, 13, &line, &column);
	assert_int_equal(line, 4);
	assert_int_equal(column, 1);
	assert_int_equal(file.instructions[2].line, 6);
	df_file_free(&file);
}

static void heredoc_variants(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\n"
		     "RUN <<-\"EOT\" bash\n"
		     "\techo $HOME\n"
		     "\tEOT\n"
		     "COPY <<one <<'two' /dst/\n"
		     "first\n"
		     "one\n"
		     "second\n"
		     "two\n"
		     "COPY <<EOF /etc/app.conf\n"
		     "key=value\n"
		     "EOF\n"
		     "RUN cat <<<not-a-heredoc\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 5);

	const struct df_instruction *run = &file.instructions[1];
	assert_int_equal(run->heredoc_count, 1);
	assert_true(run->heredocs[0].strip_tabs);
	assert_true(run->heredocs[0].quoted);
	assert_string_equal(run->heredocs[0].body.data, "echo $HOME\n");

	const struct df_instruction *copy = &file.instructions[2];
	assert_int_equal(copy->heredoc_count, 2);
	assert_string_equal(copy->heredocs[0].name, "one");
	assert_string_equal(copy->heredocs[0].body.data, "first\n");
	assert_false(copy->heredocs[0].quoted);
	assert_string_equal(copy->heredocs[1].name, "two");
	assert_string_equal(copy->heredocs[1].body.data, "second\n");
	assert_true(copy->heredocs[1].quoted);
	assert_int_equal(copy->end_line, 9);

	assert_int_equal(file.instructions[3].heredoc_count, 1);
	assert_string_equal(file.instructions[3].words[1].value, "/etc/app.conf");
	assert_int_equal(file.instructions[4].heredoc_count, 0);
	assert_int_equal(file.instructions[4].line, 13);
	df_file_free(&file);
}

static void heredoc_unterminated(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\nRUN <<EOF\necho a\nUSER app\n");
	assert_true(has_error_at(&file, 2, "unterminated heredoc"));
	assert_int_equal(file.instruction_count, 2);
	assert_false(file.instructions[1].heredocs[0].terminated);
	df_file_free(&file);
}

static void exec_and_shell_form(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\n"
		     "RUN [\"echo\", \"a b\", \"caf\\u00e9\"]\n"
		     "CMD ['echo','single quotes are shell form']\n"
		     "ENTRYPOINT [\"echo\", \"unterminated\"\n"
		     "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"
		     "VOLUME [\"/data\"]\n"
		     "CMD echo shell\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);

	const struct df_instruction *run = &file.instructions[1];
	assert_true(run->exec_form);
	assert_int_equal(run->word_count, 3);
	assert_string_equal(run->words[1].raw, "a b");
	assert_string_equal(run->words[2].raw, "caf\xc3\xa9");
	assert_int_equal(run->words[1].column, 14);

	assert_false(file.instructions[2].exec_form);
	assert_false(file.instructions[3].exec_form);
	assert_true(file.instructions[4].exec_form);
	assert_int_equal(file.instructions[4].word_count, 4);
	assert_true(file.instructions[5].exec_form);
	assert_false(file.instructions[6].exec_form);
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nSHELL /bin/bash -c\n");
	assert_true(has_error_at(&file, 2, "SHELL requires a JSON array"));
	df_file_free(&file);
}

static void flags_with_positions(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM --platform=linux/amd64 golang:1.22 AS build\n"
		     "RUN --mount=type=cache,target=/root/.cache --network=none --security=insecure go build\n"
		     "COPY --from=build --chown=1000:1000 --chmod=755 --link /out /app\n"
		     "ADD --checksum=sha256:abcd https://example.org/a.tgz /a.tgz\n"
		     "COPY -- --odd-name /dst/\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);

	const struct df_instruction *from = &file.instructions[0];
	assert_int_equal(from->flag_count, 1);
	assert_string_equal(from->flags[0].name, "platform");
	assert_string_equal(from->flags[0].value, "linux/amd64");
	assert_int_equal(from->flags[0].column, 6);
	assert_string_equal(file.stages[0].platform, "linux/amd64");

	const struct df_instruction *run = &file.instructions[1];
	assert_int_equal(run->flag_count, 3);
	assert_string_equal(run->flags[0].name, "mount");
	assert_string_equal(run->flags[0].value, "type=cache,target=/root/.cache");
	assert_string_equal(run->flags[1].value, "none");
	assert_string_equal(run->flags[2].value, "insecure");
	assert_int_equal(run->flags[1].column, 44);

	const struct df_instruction *copy = &file.instructions[2];
	assert_int_equal(copy->flag_count, 4);
	assert_string_equal(copy->flags[3].name, "link");
	assert_null(copy->flags[3].value);
	assert_int_equal(copy->word_count, 2);
	assert_int_equal(copy->words[0].column, 56);

	assert_string_equal(file.instructions[3].flags[0].name, "checksum");
	assert_int_equal(file.instructions[4].flag_count, 0);
	assert_string_equal(file.instructions[4].words[0].raw, "--odd-name");
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\n"
		     "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=ssh "
		     "--mount=type=bind,source=go.mod,target=/src/go.mod --mount=type=tmpfs,target=/t "
		     "--network=host --security=sandbox npm ci\n");
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instructions[1].flag_count, 6);
	assert_string_equal(file.instructions[1].flags[1].value, "type=ssh");
	assert_string_equal(file.instructions[1].words[0].raw, "npm");
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nCOPY --user=me a /b\nRUN --mount=type=nfs x\nRUN --network=lan x\n");
	assert_true(has_error_at(&file, 2, "unknown flag --user"));
	assert_true(has_error_at(&file, 3, "invalid mount type"));
	assert_true(has_error_at(&file, 4, "invalid --network"));
	df_file_free(&file);
}

static void every_instruction_kind(void **state)
{
	(void)state;
	static const enum df_kind expected[] = {
		DF_ARG, DF_FROM, DF_MAINTAINER, DF_LABEL, DF_ENV, DF_RUN, DF_ADD, DF_COPY,
		DF_WORKDIR, DF_USER, DF_EXPOSE, DF_VOLUME, DF_STOPSIGNAL, DF_HEALTHCHECK,
		DF_SHELL, DF_ONBUILD, DF_CMD, DF_ENTRYPOINT,
	};
	struct df_file file;
	parse(&file, "ARG BASE=alpine:3.19\n"
		     "from ${BASE}\n"
		     "MAINTAINER someone\n"
		     "LABEL org.opencontainers.image.title=\"my app\" version=1\n"
		     "ENV A=1 B=\"two words\"\n"
		     "RUN true\n"
		     "ADD a.tar.gz /opt/\n"
		     "COPY a b /dst/\n"
		     "WORKDIR /app\n"
		     "USER 1000:1000\n"
		     "EXPOSE 8080/tcp 9000-9010\n"
		     "VOLUME /data /cache\n"
		     "STOPSIGNAL SIGTERM\n"
		     "HEALTHCHECK --interval=5s CMD [\"/bin/check\"]\n"
		     "SHELL [\"/bin/sh\", \"-c\"]\n"
		     "ONBUILD RUN echo triggered\n"
		     "CMD [\"app\"]\n"
		     "ENTRYPOINT [\"/entry\"]\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < file.instruction_count; i++) {
		assert_int_equal(file.instructions[i].kind, expected[i]);
		assert_int_equal(file.instructions[i].line, (int)i + 1);
	}

	const struct df_instruction *label = &file.instructions[3];
	assert_int_equal(label->pair_count, 2);
	assert_string_equal(label->pairs[0].value, "my app");
	const struct df_instruction *env = &file.instructions[4];
	assert_string_equal(env->pairs[1].key, "B");
	assert_string_equal(env->pairs[1].value, "two words");
	assert_int_equal(env->pairs[1].column, 9);
	const struct df_instruction *onbuild = &file.instructions[15];
	assert_non_null(onbuild->trigger);
	assert_int_equal(onbuild->trigger->kind, DF_RUN);
	assert_int_equal(onbuild->trigger->column, 9);
	assert_false(file.instructions[13].healthcheck_none);
	assert_true(file.instructions[13].exec_form);
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nHEALTHCHECK NONE\nONBUILD ONBUILD RUN x\nFROB x\nRUN after\n");
	assert_true(file.instructions[1].healthcheck_none);
	assert_true(has_error_at(&file, 3, "ONBUILD cannot contain ONBUILD"));
	assert_true(has_error_at(&file, 4, "unknown instruction 'FROB'"));
	assert_int_equal(file.errors[1].column, 1);
	assert_int_equal(file.instruction_count, 5);
	assert_int_equal(file.instructions[4].kind, DF_RUN);
	df_file_free(&file);
}

static void env_legacy_and_errors(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\nENV SCUBA 1 DUBA 3\nENV PATH\nENV A=1 B\n");
	assert_string_equal(file.instructions[1].pairs[0].key, "SCUBA");
	assert_string_equal(file.instructions[1].pairs[0].value, "1 DUBA 3");
	assert_true(has_error_at(&file, 3, "has no value"));
	assert_true(has_error_at(&file, 4, "expected NAME=VALUE"));
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nLABEL \"com.example.vendor\"=\"ACME Inc\"\nENV A=hello\\ world\n");
	assert_int_equal(file.error_count, 0);
	assert_string_equal(file.instructions[1].pairs[0].key, "com.example.vendor");
	assert_string_equal(file.instructions[1].pairs[0].value, "ACME Inc");
	assert_string_equal(file.instructions[2].pairs[0].value, "hello world");
	df_file_free(&file);
}

static void stages_and_expansion(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "ARG TAG=3.19\n"
		     "ARG REGISTRY\n"
		     "FROM alpine:${TAG} AS base\n"
		     "ENV APP_HOME=/srv/app\n"
		     "ARG TAG\n"
		     "WORKDIR ${APP_HOME}/bin\n"
		     "USER ${RUNAS:-app}\n"
		     "COPY . ${TAG:+/v$TAG}\n"
		     "FROM base AS build\n"
		     "WORKDIR $APP_HOME\n"
		     "FROM ${REGISTRY}/tool:1\n"
		     "WORKDIR $APP_HOME\n"
		     "COPY --from=0 /a /b\n"
		     "FROM 1\n");
	print_errors(&file);
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.stage_count, 4);

	assert_string_equal(file.stages[0].image, "alpine:3.19");
	assert_string_equal(file.stages[0].name, "base");
	assert_int_equal(file.stages[0].base_stage, -1);
	assert_string_equal(file.instructions[5].words[0].value, "/srv/app/bin");
	assert_string_equal(file.instructions[6].words[0].value, "app");
	assert_false(file.instructions[6].words[0].unresolved);
	assert_string_equal(file.instructions[7].words[1].value, "/v3.19");

	// ENV carries over to a stage built FROM base.
	assert_int_equal(file.stages[1].base_stage, 0);
	assert_string_equal(file.instructions[9].words[0].value, "/srv/app");
	assert_false(file.instructions[9].words[0].unresolved);

	// A global ARG without a default leaves the image unresolved, and ENV
	// does not leak into an unrelated stage.
	assert_true(file.stages[2].image_unresolved);
	assert_true(file.instructions[11].words[0].unresolved);
	assert_string_equal(file.instructions[12].flags[0].expanded, "0");
	assert_int_equal(file.stages[3].base_stage, 1);
	df_file_free(&file);
}

static void crlf_and_bad_bytes(void **state)
{
	(void)state;
	struct df_file file;
	parse(&file, "FROM alpine:3.19\r\nRUN echo a \\\r\n  b\r\nUSER app\r\n");
	assert_int_equal(file.error_count, 0);
	assert_int_equal(file.instruction_count, 3);
	assert_string_equal(file.instructions[2].words[0].value, "app");
	df_file_free(&file);

	static const char nul_input[] = "FROM alpine:3.19\nRUN echo \0 x\n";
	assert_int_equal(df_parse(nul_input, sizeof(nul_input) - 1, &file), 0);
	assert_true(has_error_at(&file, 2, "NUL byte"));
	assert_int_equal(file.errors[0].column, 10);
	assert_int_equal(file.instruction_count, 2);
	df_file_free(&file);

	parse(&file, "FROM alpine:3.19\nLABEL a=\"\xff\xfe\"\nLABEL b=\xc0\xaf\n");
	assert_true(has_error_at(&file, 2, "invalid UTF-8"));
	assert_int_equal(file.instruction_count, 3);
	df_file_free(&file);
}

static void shell_split_commands(void **state)
{
	(void)state;
	struct df_arena arena = { 0 };
	struct df_script script;
	const char *text = "DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' \"c$X\" && "
			   "curl -fsSL https://x | sh -s -- --flag; if true; then echo \"$(wget -qO- y | bash)\"; fi "
			   "2>/dev/null > out || sh -c 'chmod 777 /tmp/x'\n"
			   "cat <<EOT > /etc/f\nnot a command\nEOT\necho done # comment";
	df_shell_split(&arena, text, strlen(text), &script);

	const char *expected[] = { "apt-get", "curl", "sh", "true", "wget", "bash", "echo",
				   "sh", "chmod", "cat", "echo" };
	size_t count = sizeof(expected) / sizeof(expected[0]);
	for (size_t i = 0; i < script.command_count; i++)
		fprintf(stderr, "  command %zu: %s (%zu words)\n", i, script.commands[i].words[0].value,
			script.commands[i].word_count);
	assert_int_equal(script.command_count, count);

	// Commands inside $(...) come before the command that contains them,
	// and the heredoc body of cat is skipped.
	for (size_t i = 0; i < count; i++)
		assert_string_equal(script.commands[i].words[0].value, expected[i]);

	const struct df_command *apt = &script.commands[0];
	assert_int_equal(apt->word_count, 5);
	assert_string_equal(apt->words[3].value, "a b");
	assert_string_equal(apt->words[4].value, "c$X");
	assert_true(apt->words[4].expansion);
	assert_int_equal(apt->offset, 31);

	const struct df_command *curl = &script.commands[1];
	assert_true(curl->pipe_to_next);
	assert_true(script.commands[2].pipe_from_prev);
	assert_true(script.has_pipe);
	df_arena_free(&arena);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

// Parses data and checks that it took less than limit seconds. A 10 MB
// input took about 0.15 s (0.4 s under ASan) on a 2-core test VM, so the
// limit leaves a wide margin, while a quadratic step would need hours.
static void parse_bounded(const char *data, size_t size, double limit, struct df_file *file)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(df_parse(data, size, file), 0);
	double elapsed = seconds_since(&start);
	fprintf(stderr, "  parsed %zu bytes in %.3f s\n", size, elapsed);
	assert_true(elapsed < limit);
}

static void hostile_inputs_linear(void **state)
{
	(void)state;
	struct df_file file;
	size_t size = 10 * 1024 * 1024;
	char *data = malloc(size + 64);
	assert_non_null(data);

	// One 10 MB line.
	memcpy(data, "FROM alpine:3.19\nRUN echo ", 26);
	memset(data + 26, 'a', size - 26);
	parse_bounded(data, size, 5.0, &file);
	assert_int_equal(file.instruction_count, 2);
	df_file_free(&file);

	// 100,000 continuation lines.
	size_t len = 0;
	len += (size_t)sprintf(data + len, "FROM alpine:3.19\nRUN true");
	for (int i = 0; i < 100000 && len + 16 < size; i++)
		len += (size_t)sprintf(data + len, " \\\n && x%d", i % 10);
	parse_bounded(data, len, 5.0, &file);
	assert_int_equal(file.instruction_count, 2);
	assert_int_equal(file.instructions[1].end_line, 100002);
	df_file_free(&file);

	// An unterminated heredoc over 10 MB of lines.
	len = (size_t)sprintf(data, "FROM alpine:3.19\nRUN <<EOF\n");
	while (len + 8 < size) {
		memcpy(data + len, "line x\n", 7);
		len += 7;
	}
	parse_bounded(data, len, 5.0, &file);
	assert_true(has_error_at(&file, 2, "unterminated heredoc"));
	df_file_free(&file);

	// Invalid UTF-8 and NUL bytes everywhere.
	for (size_t i = 0; i < size; i++)
		data[i] = (char)((i % 7 == 0) ? 0 : (i % 5 == 0) ? 0xff : 'R');
	parse_bounded(data, size, 5.0, &file);
	assert_true(file.error_count >= 2);
	df_file_free(&file);

	free(data);
}

// Lints data and checks that it took less than limit seconds.
static void lint_bounded(const char *data, size_t size, double limit)
{
	struct scan_config config;
	memset(&config, 0, sizeof(config));
	config.fail_on = SCAN_SEV_WARNING;
	struct scan_report *report = scan_report_new("coffer-dockerfile");
	assert_non_null(report);

	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	struct cf_error err = { 0 };
	assert_int_equal(scan_dockerfile_lint(report, &config, "hostile", NULL, data, size, &err), 0);
	double elapsed = seconds_since(&start);
	fprintf(stderr, "  linted %zu bytes in %.3f s, %zu findings\n", size, elapsed,
		scan_report_count(report));
	assert_true(elapsed < limit);
	scan_report_free(report);
}

// Shapes that would be quadratic with a linear search per item: long ENV
// chains, long chains of stages, huge option lists, repeated key headers
// and huge ignore pragmas. Each is a few MB. Under ASan on a loaded 2-core
// VM the slowest took 3.5 s, and a quadratic step would need hours.
static void hostile_inputs_lint_linear(void **state)
{
	(void)state;
	size_t size = 8 * 1024 * 1024;
	char *data = malloc(size);
	assert_non_null(data);
	size_t len;

	len = (size_t)sprintf(data, "FROM alpine:3.19\nENV a0=1");
	for (int i = 1; len + 32 < size && i < 100000; i++)
		len += (size_t)sprintf(data + len, " a%d=$a%d", i, i - 1);
	data[len++] = '\n';
	lint_bounded(data, len, 20.0);

	len = (size_t)sprintf(data, "FROM alpine:3.19 AS s0\nENV v0=x\n");
	for (int i = 1; len + 128 < size && i < 40000; i++)
		len += (size_t)sprintf(data + len,
				       "FROM s%d AS s%d\nENV v%d=$v%d\nCOPY a /b\nRUN pip install x==1\n",
				       i - 1, i, i, i - 1);
	lint_bounded(data, len, 20.0);

	len = (size_t)sprintf(data, "FROM alpine:3.19\nRUN apt-get install");
	while (len + 8 < size / 2) {
		memcpy(data + len, " -a x", 5);
		len += 5;
	}
	lint_bounded(data, len, 20.0);

	len = (size_t)sprintf(data, "FROM alpine:3.19\nRUN echo");
	while (len + 16 < size / 2) {
		memcpy(data + len, " -----BEGIN x", 13);
		len += 13;
	}
	lint_bounded(data, len, 20.0);

	len = (size_t)sprintf(data, "# coffer global ignore=");
	while (len + 16 < size / 2) {
		memcpy(data + len, "DL9999,", 7);
		len += 7;
	}
	len += (size_t)sprintf(data + len, "\nFROM alpine:3.19\n");
	for (int i = 0; len + 32 < size && i < 20000; i++)
		len += (size_t)sprintf(data + len, "RUN sudo x%d\n", i);
	lint_bounded(data, len, 20.0);

	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(directive_escape_backtick),
		cmocka_unit_test(directive_after_comment_ignored),
		cmocka_unit_test(continuation_with_comments_and_blanks),
		cmocka_unit_test(continuation_ending_in_comment),
		cmocka_unit_test(heredoc_body_is_not_parsed),
		cmocka_unit_test(heredoc_variants),
		cmocka_unit_test(heredoc_unterminated),
		cmocka_unit_test(exec_and_shell_form),
		cmocka_unit_test(flags_with_positions),
		cmocka_unit_test(every_instruction_kind),
		cmocka_unit_test(env_legacy_and_errors),
		cmocka_unit_test(stages_and_expansion),
		cmocka_unit_test(crlf_and_bad_bytes),
		cmocka_unit_test(shell_split_commands),
		cmocka_unit_test(hostile_inputs_linear),
		cmocka_unit_test(hostile_inputs_lint_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
