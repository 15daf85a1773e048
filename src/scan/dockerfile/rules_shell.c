// SPDX-License-Identifier: Apache-2.0
// Rules on the shell commands of RUN instructions: package managers
// (apt-get, apk, yum, dnf, zypper, pip, npm, gem, go, yarn), downloads
// piped to a shell, disabled TLS and signature checks, permissions, sudo
// and friends. Commands come from df_shell_split over the shell form, the
// script of `sh -c` in the exec form, and heredoc bodies run by a shell.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

// A script with the place its offsets refer to: a text of the Dockerfile
// (offsets from base), or one fixed position for text that was decoded
// from a JSON string.
struct run_part {
	const struct df_text *text;
	size_t base;
	int line;
	int column;
	struct df_script script;
};

#define MAX_PARTS 16
// Plain-HTTP URLs reported per RUN; later ones in the same RUN are dropped.
#define MAX_PLAIN_HTTP 8

struct run_state {
	struct df_lint *lint;
	const struct df_instruction *inst;
	struct run_part parts[MAX_PARTS];
	size_t part_count;
	bool in_final_image; // the stage ends up in the final image
	// Facts gathered over all commands of one RUN:
	const struct df_shell_word *apt_install;
	const struct run_part *apt_install_part;
	bool apt_lists_removed;
	const struct df_shell_word *yum_used, *dnf_used, *zypper_used, *yarn_install;
	const struct run_part *yum_part, *dnf_part, *zypper_part, *yarn_part;
	bool yum_clean, dnf_clean, zypper_clean, yarn_clean;
	bool pipefail_set;
	bool pip_no_cache_env; // ENV PIP_NO_CACHE_DIR came earlier in the stage
	// Plain-HTTP downloads, reported at the end of the RUN unless it also
	// verifies a checksum or signature.
	struct {
		const struct run_part *part;
		const struct df_shell_word *word;
		const char *url; // inside word->value
	} plain_http[MAX_PLAIN_HTTP];
	size_t plain_http_count;
	bool download_verified;
};

struct stage_state {
	int stage;
	bool pipefail_shell;
	bool pip_no_cache_env;
	bool curl_seen, wget_seen, dl4001_reported;
	struct {
		char *name;
		int line;
		int column;
		const struct df_instruction *owner;
	} archives[16];
	size_t archive_count;
};

static void word_position(const struct run_part *part, const struct df_shell_word *word,
			  int *line, int *column)
{
	if (part->text == NULL) {
		*line = part->line;
		*column = part->column;
		return;
	}
	df_text_position(part->text, part->base + word->offset, line, column);
}

static void report_at(struct run_state *state, const struct run_part *part,
		      const struct df_shell_word *word, enum df_rule_id rule, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void report_at(struct run_state *state, const struct run_part *part,
		      const struct df_shell_word *word, enum df_rule_id rule, const char *fmt, ...)
{
	char message[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	int line, column;
	word_position(part, word, &line, &column);
	df_report(state->lint, rule, line, column, "%s", message);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

static bool is_shell_name(const char *name)
{
	static const char *const shells[] = { "sh", "bash", "ash", "dash", "zsh", "ksh" };
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		if (strcmp(name, shells[i]) == 0)
			return true;
	}
	return false;
}

static bool is_interpreter(const char *name)
{
	return is_shell_name(name) || strncmp(name, "python", 6) == 0 || strcmp(name, "perl") == 0 ||
	       strcmp(name, "ruby") == 0 || strcmp(name, "node") == 0 || strcmp(name, "php") == 0;
}

// Index of the program a command runs, past sudo, env, exec and the like
// with their options.
static size_t program_index(const struct df_command *cmd)
{
	size_t i = 0;
	while (i < cmd->word_count) {
		const char *w = base_name(cmd->words[i].value);
		if (strcmp(w, "sudo") == 0 || strcmp(w, "env") == 0 || strcmp(w, "exec") == 0 ||
		    strcmp(w, "nohup") == 0 || strcmp(w, "command") == 0 || strcmp(w, "nice") == 0) {
			i++;
			while (i < cmd->word_count && (cmd->words[i].value[0] == '-' ||
						       strchr(cmd->words[i].value, '=') != NULL))
				i++;
			continue;
		}
		break;
	}
	return i;
}

static bool word_is(const struct df_shell_word *word, const char *value)
{
	return strcmp(word->value, value) == 0;
}

// True when any option after from matches: a long option (also as
// --name=value) from longs, or a short option letter from shorts, also
// inside a cluster such as -qy.
static bool has_option(const struct df_command *cmd, size_t from, const char *shorts,
		       const char *const *longs)
{
	for (size_t i = from; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		if (w[0] != '-' || w[1] == '\0')
			continue;
		if (w[1] == '-') {
			for (size_t k = 0; longs != NULL && longs[k] != NULL; k++) {
				size_t n = strlen(longs[k]);
				if (strncmp(w, longs[k], n) == 0 && (w[n] == '\0' || w[n] == '='))
					return true;
			}
			continue;
		}
		bool letters = true;
		for (const char *c = w + 1; *c != '\0'; c++) {
			if (!isalpha((unsigned char)*c))
				letters = false;
		}
		if (!letters || shorts == NULL)
			continue;
		for (const char *c = w + 1; *c != '\0'; c++) {
			if (strchr(shorts, *c) != NULL)
				return true;
		}
	}
	return false;
}

static bool listed(const char *list, const char *word)
{
	size_t len = strlen(word);
	if (len == 0)
		return false;
	for (const char *at = strstr(list, word); at != NULL; at = strstr(at + 1, word)) {
		if ((at == list || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
			return true;
	}
	return false;
}

// Index of the first word after from that is not an option or the argument
// of an option named in takes_argument.
static size_t next_operand(const struct df_command *cmd, size_t from, const char *takes_argument)
{
	for (size_t i = from; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		if (w[0] != '-' || w[1] == '\0')
			return i;
		if (strchr(w, '=') == NULL && listed(takes_argument, w))
			i++;
	}
	return cmd->word_count;
}

// ---- package managers ------------------------------------------------------------

static bool is_ssh_server_package(const char *name)
{
	return strcmp(name, "openssh-server") == 0 || strncmp(name, "openssh-server=", 15) == 0 ||
	       strcmp(name, "dropbear") == 0 || strcmp(name, "openssh") == 0 ||
	       strncmp(name, "openssh=", 8) == 0;
}

static bool run_has_cache_mount(const struct df_instruction *inst, const char *target)
{
	for (size_t i = 0; i < inst->flag_count; i++) {
		const struct df_flag *flag = &inst->flags[i];
		if (strcmp(flag->name, "mount") == 0 && flag->value != NULL &&
		    strstr(flag->value, "type=cache") != NULL && strstr(flag->value, target) != NULL)
			return true;
	}
	return false;
}

static void check_packages(struct run_state *state, const struct run_part *part,
			   const struct df_command *cmd, size_t first, const char *takes_argument,
			   enum df_rule_id pin_rule, const char *pin_form,
			   bool (*pinned)(const char *))
{
	for (size_t i = next_operand(cmd, first, takes_argument); i < cmd->word_count;
	     i = next_operand(cmd, i + 1, takes_argument)) {
		const struct df_shell_word *word = &cmd->words[i];
		if (is_ssh_server_package(word->value))
			report_at(state, part, word, DF_R_SSHD,
				  "%s installs an SSH server into the image", word->value);
		if (word->expansion || pinned(word->value))
			continue;
		report_at(state, part, word, pin_rule,
			  "package %s is not pinned to a version (%s)", word->value, pin_form);
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_local_package(const char *pkg)
{
	return strchr(pkg, '/') != NULL || pkg[0] == '.' || ends_with(pkg, ".deb") ||
	       ends_with(pkg, ".rpm") || ends_with(pkg, ".apk");
}

static bool pinned_apt(const char *pkg)
{
	return strchr(pkg, '=') != NULL || is_local_package(pkg);
}

static bool pinned_apk(const char *pkg)
{
	return strpbrk(pkg, "=<>~") != NULL || is_local_package(pkg);
}

// yum and dnf: NAME-VERSION, where the version starts with a digit.
static bool pinned_rpm(const char *pkg)
{
	if (is_local_package(pkg) || strpbrk(pkg, "=<>*") != NULL || pkg[0] == '@')
		return true;
	for (const char *dash = strchr(pkg, '-'); dash != NULL; dash = strchr(dash + 1, '-')) {
		if (isdigit((unsigned char)dash[1]))
			return true;
	}
	return false;
}

static bool pinned_zypper(const char *pkg)
{
	return strpbrk(pkg, "=<>") != NULL || is_local_package(pkg);
}

static bool pinned_pip(const char *pkg)
{
	return strpbrk(pkg, "=<>~@") != NULL || is_local_package(pkg) ||
	       strstr(pkg, "://") != NULL || ends_with(pkg, ".whl") || ends_with(pkg, ".tar.gz") ||
	       ends_with(pkg, ".zip");
}

static bool pinned_npm(const char *pkg)
{
	// A scoped package starts with @, so the version @ comes later.
	return strchr(pkg + 1, '@') != NULL || is_local_package(pkg) || strchr(pkg, ':') != NULL ||
	       ends_with(pkg, ".tgz");
}

static bool pinned_gem(const char *pkg)
{
	return strchr(pkg, ':') != NULL || is_local_package(pkg) || ends_with(pkg, ".gem");
}

// Remote Go packages start with a domain (github.com/...). Other names are
// local packages or patterns such as "tool" and "all", whose versions come
// from go.mod.
static bool pinned_go(const char *pkg)
{
	size_t first = strcspn(pkg, "/");
	return strchr(pkg, '@') != NULL || pkg[0] == '.' || pkg[0] == '/' ||
	       memchr(pkg, '.', first) == NULL;
}

static bool run_mounts(const struct df_instruction *inst, const char *text)
{
	for (size_t i = 0; i < inst->flag_count; i++) {
		const struct df_flag *flag = &inst->flags[i];
		if (strcmp(flag->name, "mount") == 0 && flag->value != NULL &&
		    strstr(flag->value, text) != NULL)
			return true;
	}
	return false;
}

static const char *const yes_long[] = { "--yes", "--assume-yes", "--assumeyes", NULL };
static const char *const apt_options =
	"-o -c -t -a --option --config-file --target-release --host-architecture";

static void check_apt_get(struct run_state *state, const struct run_part *part,
			  const struct df_command *cmd, size_t start)
{
	bool apt = strcmp(base_name(cmd->words[start].value), "apt") == 0;
	if (apt)
		report_at(state, part, &cmd->words[start], DF_R_DL3027,
			  "%s is for interactive use; use apt-get", cmd->words[start].value);

	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		if (strncmp(w, "--allow-unauthenticated", 23) == 0 ||
		    strncmp(w, "--allow-insecure-repositories", 29) == 0)
			report_at(state, part, &cmd->words[i], DF_R_UNSIGNED_PACKAGES,
				  "apt-get %s installs packages without checking signatures", w);
		if (strcasestr(w, "AllowUnauthenticated=true") != NULL ||
		    strcasestr(w, "AllowUnauthenticated=1") != NULL)
			report_at(state, part, &cmd->words[i], DF_R_UNSIGNED_PACKAGES,
				  "apt-get option %s installs packages without checking signatures", w);
	}

	size_t sub = next_operand(cmd, start + 1, apt_options);
	if (sub >= cmd->word_count)
		return;
	const struct df_shell_word *verb = &cmd->words[sub];
	// apt-get dist-clean (apt 2.7 and later) also removes the lists.
	if (word_is(verb, "dist-clean"))
		state->apt_lists_removed = true;
	if (word_is(verb, "dist-upgrade"))
		report_at(state, part, verb, DF_R_DL3005,
			  "apt-get %s replaces packages of the base image", verb->value);
	if (!word_is(verb, "install"))
		return;
	// A simulated install (-s, --dry-run) changes nothing.
	if (has_option(cmd, start + 1, "s", (const char *const[]){ "--simulate", "--dry-run",
								   "--just-print", "--no-act", NULL }))
		return;

	if (state->apt_install == NULL) {
		state->apt_install = verb;
		state->apt_install_part = part;
	}
	// -qq and --quiet=2 imply -y.
	bool yes = has_option(cmd, start + 1, "y", yes_long);
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		if (strcmp(cmd->words[i].value, "-qq") == 0 ||
		    strcmp(cmd->words[i].value, "--quiet=2") == 0)
			yes = true;
	}
	if (!yes)
		report_at(state, part, verb, DF_R_DL3014,
			  "apt-get %s without -y waits for confirmation", verb->value);
	bool no_recommends = has_option(cmd, start + 1, NULL,
					(const char *const[]){ "--no-install-recommends", NULL });
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		if (strcasestr(cmd->words[i].value, "Install-Recommends=") != NULL)
			no_recommends = true;
	}
	if (!no_recommends)
		report_at(state, part, verb, DF_R_DL3015,
			  "apt-get %s without --no-install-recommends installs extra packages",
			  verb->value);
	check_packages(state, part, cmd, sub + 1, apt_options, DF_R_DL3008,
		       "PACKAGE=VERSION", pinned_apt);
}

static void check_apk(struct run_state *state, const struct run_part *part,
		      const struct df_command *cmd, size_t start)
{
	static const char *const apk_options =
		"-t --virtual -X --repository -p --root --arch --keys-dir --repositories-file --cache-dir";
	static const char *const untrusted[] = { "--allow-untrusted", NULL };
	size_t sub = next_operand(cmd, start + 1, apk_options);
	if (sub >= cmd->word_count || !word_is(&cmd->words[sub], "add"))
		return;
	const struct df_shell_word *verb = &cmd->words[sub];

	if (has_option(cmd, start + 1, NULL, untrusted))
		report_at(state, part, verb, DF_R_UNSIGNED_PACKAGES,
			  "apk %s --allow-untrusted installs packages without checking signatures",
			  verb->value);
	bool cache = has_option(cmd, start + 1, NULL, (const char *const[]){ "--no-cache", NULL }) ||
		     run_has_cache_mount(state->inst, "/var/cache/apk") ||
		     run_has_cache_mount(state->inst, "/etc/apk/cache");
	if (!cache)
		report_at(state, part, verb, DF_R_DL3019,
			  "apk %s without --no-cache keeps the package index in the layer",
			  verb->value);
	check_packages(state, part, cmd, sub + 1, apk_options, DF_R_DL3018,
		       "PACKAGE=VERSION", pinned_apk);
}

static void check_rpm_manager(struct run_state *state, const struct run_part *part,
			      const struct df_command *cmd, size_t start, bool dnf)
{
	static const char *const rpm_options =
		"-c --config --installroot --releasever --setopt --enablerepo --disablerepo -x --exclude";
	static const char *const nogpg[] = { "--nogpgcheck", NULL };
	const char *tool = base_name(cmd->words[start].value);

	if (dnf && state->dnf_used == NULL) {
		state->dnf_used = &cmd->words[start];
		state->dnf_part = part;
	} else if (!dnf && state->yum_used == NULL) {
		state->yum_used = &cmd->words[start];
		state->yum_part = part;
	}
	if (has_option(cmd, start + 1, NULL, nogpg))
		report_at(state, part, &cmd->words[start], DF_R_UNSIGNED_PACKAGES,
			  "%s --nogpgcheck installs packages without checking signatures", tool);

	size_t sub = next_operand(cmd, start + 1, rpm_options);
	if (sub >= cmd->word_count)
		return;
	const struct df_shell_word *verb = &cmd->words[sub];
	if (word_is(verb, "clean") && sub + 1 < cmd->word_count &&
	    word_is(&cmd->words[sub + 1], "all")) {
		if (dnf)
			state->dnf_clean = true;
		else
			state->yum_clean = true;
	}
	if (!word_is(verb, "install") && !word_is(verb, "groupinstall") &&
	    !word_is(verb, "localinstall"))
		return;

	if (!has_option(cmd, start + 1, "y", yes_long) && strcmp(tool, "microdnf") != 0)
		report_at(state, part, verb, dnf ? DF_R_DL3038 : DF_R_DL3030,
			  "install without -y waits for confirmation (%s)", tool);
	check_packages(state, part, cmd, sub + 1, rpm_options, dnf ? DF_R_DL3041 : DF_R_DL3033,
		       "PACKAGE-VERSION", pinned_rpm);
}

static void check_zypper(struct run_state *state, const struct run_part *part,
			 const struct df_command *cmd, size_t start)
{
	static const char *const zypper_options = "-R --root -c --config --reposd-dir --cache-dir";
	static const char *const non_interactive[] = { "--non-interactive", "--no-confirm", NULL };
	static const char *const nogpg[] = { "--no-gpg-checks", NULL };

	if (state->zypper_used == NULL) {
		state->zypper_used = &cmd->words[start];
		state->zypper_part = part;
	}
	if (has_option(cmd, start + 1, NULL, nogpg))
		report_at(state, part, &cmd->words[start], DF_R_UNSIGNED_PACKAGES,
			  "%s --no-gpg-checks installs packages without checking signatures",
			  cmd->words[start].value);

	size_t sub = next_operand(cmd, start + 1, zypper_options);
	if (sub >= cmd->word_count)
		return;
	const struct df_shell_word *verb = &cmd->words[sub];
	if (word_is(verb, "clean") || word_is(verb, "cc"))
		state->zypper_clean = true;
	if (word_is(verb, "dist-upgrade") || word_is(verb, "dup"))
		report_at(state, part, verb, DF_R_DL3035,
			  "zypper %s replaces packages of the base image", verb->value);
	if (!word_is(verb, "install") && !word_is(verb, "in"))
		return;
	if (!has_option(cmd, start + 1, "ny", non_interactive))
		report_at(state, part, verb, DF_R_DL3034,
			  "zypper %s without -n or -y waits for confirmation", verb->value);
	check_packages(state, part, cmd, sub + 1, zypper_options, DF_R_DL3037,
		       "PACKAGE=VERSION", pinned_zypper);
}

static void check_pip(struct run_state *state, const struct run_part *part,
		      const struct df_command *cmd, size_t start)
{
	static const char *const pip_options =
		"-r --requirement -c --constraint -e --editable -i --index-url --extra-index-url "
		"-f --find-links -t --target --prefix --root --trusted-host --platform "
		"--python-version --implementation --abi --src --cache-dir --log --proxy "
		"--retries --timeout --exists-action --cert --client-cert -C --config-settings "
		"--upgrade-strategy --progress-bar";
	size_t sub = next_operand(cmd, start + 1, pip_options);
	if (sub >= cmd->word_count || !word_is(&cmd->words[sub], "install"))
		return;
	const struct df_shell_word *verb = &cmd->words[sub];

	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		if (strncmp(w, "--trusted-host", 14) == 0 && (w[14] == '\0' || w[14] == '='))
			report_at(state, part, &cmd->words[i], DF_R_PIP_TRUSTED_HOST,
				  "pip %s turns off TLS verification for a package index", w);
	}
	bool no_cache = has_option(cmd, start + 1, NULL, (const char *const[]){ "--no-cache-dir", NULL }) ||
			run_has_cache_mount(state->inst, "/root/.cache") ||
			state->pip_no_cache_env;
	if (!no_cache)
		report_at(state, part, verb, DF_R_DL3042,
			  "pip %s without --no-cache-dir keeps the download cache in the layer",
			  verb->value);
	check_packages(state, part, cmd, sub + 1, pip_options, DF_R_DL3013,
		       "PACKAGE==VERSION", pinned_pip);
}

static void check_simple_install(struct run_state *state, const struct run_part *part,
				 const struct df_command *cmd, size_t start, const char *verbs,
				 const char *takes_argument, enum df_rule_id rule,
				 const char *pin_form, bool (*pinned)(const char *))
{
	size_t sub = next_operand(cmd, start + 1, takes_argument);
	if (sub >= cmd->word_count || !listed(verbs, cmd->words[sub].value))
		return;
	check_packages(state, part, cmd, sub + 1, takes_argument, rule, pin_form, pinned);
}

// ---- other commands ------------------------------------------------------------------

static void check_download(struct run_state *state, struct stage_state *stage,
			   const struct run_part *part, const struct df_script *script, size_t index,
			   size_t start)
{
	const struct df_command *cmd = &script->commands[index];
	const struct df_shell_word *tool = &cmd->words[start];
	bool curl = strcmp(base_name(tool->value), "curl") == 0;

	if (curl) {
		if (has_option(cmd, start + 1, "k", (const char *const[]){ "--insecure", NULL }))
			report_at(state, part, tool, DF_R_TLS_DISABLED,
				  "%s -k/--insecure skips TLS certificate verification", tool->value);
	} else {
		if (has_option(cmd, start + 1, NULL,
			       (const char *const[]){ "--no-check-certificate", NULL }))
			report_at(state, part, tool, DF_R_TLS_DISABLED,
				  "%s --no-check-certificate skips TLS certificate verification",
				  tool->value);
		if (!has_option(cmd, start + 1, "q",
				(const char *const[]){ "--progress", "--quiet", "--no-verbose", NULL })) {
			bool quiet = false;
			for (size_t i = start + 1; i < cmd->word_count; i++) {
				if (strcmp(cmd->words[i].value, "-nv") == 0)
					quiet = true;
			}
			if (!quiet)
				report_at(state, part, tool, DF_R_DL3047,
					  "%s without --progress or -q floods the build log",
					  tool->value);
		}
	}

	// DL4001: one download tool per stage.
	if (curl)
		stage->curl_seen = true;
	else
		stage->wget_seen = true;
	if (stage->curl_seen && stage->wget_seen && !stage->dl4001_reported) {
		stage->dl4001_reported = true;
		report_at(state, part, tool, DF_R_DL4001,
			  "this stage uses both curl and wget (here %s); use one of them", tool->value);
	}

	if (!cmd->pipe_to_next || index + 1 >= script->command_count)
		return;
	const struct df_command *next = &script->commands[index + 1];
	size_t next_start = program_index(next);
	if (next_start >= next->word_count)
		return;
	const char *runner = base_name(next->words[next_start].value);
	if (is_interpreter(runner))
		report_at(state, part, tool, DF_R_PIPE_TO_SHELL,
			  "the output of %s is piped straight into a shell or interpreter without a checksum",
			  tool->value);
}

static void check_chmod_like(struct run_state *state, const struct run_part *part,
			     const struct df_command *cmd, size_t start)
{
	const char *tool = base_name(cmd->words[start].value);
	const struct df_shell_word *mode = NULL;

	if (strcmp(tool, "chmod") == 0) {
		size_t i = next_operand(cmd, start + 1, "--reference");
		// Symbolic modes such as -w or a-w start with a dash too, but
		// those remove rights; only the first operand is a mode.
		if (i < cmd->word_count)
			mode = &cmd->words[i];
	} else {
		for (size_t i = start + 1; i + 1 < cmd->word_count; i++) {
			if (word_is(&cmd->words[i], "-m") || word_is(&cmd->words[i], "--mode"))
				mode = &cmd->words[i + 1];
			else if (strncmp(cmd->words[i].value, "--mode=", 7) == 0)
				mode = &cmd->words[i];
		}
	}
	if (mode == NULL || mode->expansion)
		return;
	const char *value = mode->value;
	if (strncmp(value, "--mode=", 7) == 0)
		value += 7;
	if (df_mode_world_writable(value))
		report_at(state, part, mode, DF_R_WORLD_WRITABLE,
			  "mode %s makes files writable by every user", value);
	if (df_mode_setid(value))
		report_at(state, part, mode, DF_R_SETUID, "mode %s sets the setuid or setgid bit",
			  value);
}

static void check_useradd(struct run_state *state, const struct run_part *part,
			  const struct df_command *cmd, size_t start)
{
	if (has_option(cmd, start + 1, "l", (const char *const[]){ "--no-log-init", NULL }))
		return;
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		const char *uid = NULL;
		if ((strcmp(w, "-u") == 0 || strcmp(w, "--uid") == 0) && i + 1 < cmd->word_count)
			uid = cmd->words[i + 1].value;
		else if (strncmp(w, "--uid=", 6) == 0)
			uid = w + 6;
		else if (strncmp(w, "-u", 2) == 0 && isdigit((unsigned char)w[2]))
			uid = w + 2;
		// The lastlog file grows with the UID; hadolint warns from six
		// digits on.
		if (uid != NULL && strspn(uid, "0123456789") == strlen(uid) && strlen(uid) > 5)
			report_at(state, part, &cmd->words[i], DF_R_DL3046,
				  "useradd with UID %s without -l writes a huge sparse lastlog", uid);
	}
}

static void check_git(struct run_state *state, const struct run_part *part,
		      const struct df_command *cmd, size_t start)
{
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		bool off = strcasestr(w, "sslverify=false") != NULL ||
			   strcasestr(w, "sslverify=0") != NULL;
		if (strcasecmp(w, "http.sslVerify") == 0 && i + 1 < cmd->word_count &&
		    (strcmp(cmd->words[i + 1].value, "false") == 0 ||
		     strcmp(cmd->words[i + 1].value, "0") == 0))
			off = true;
		if (off) {
			report_at(state, part, &cmd->words[i], DF_R_TLS_DISABLED,
				  "git %s skips TLS certificate verification", w);
			return;
		}
	}
}

static void check_npm_config(struct run_state *state, const struct run_part *part,
			     const struct df_command *cmd, size_t start)
{
	for (size_t i = start + 1; i + 1 < cmd->word_count; i++) {
		if (strcmp(cmd->words[i].value, "strict-ssl") == 0 &&
		    strcmp(cmd->words[i + 1].value, "false") == 0)
			report_at(state, part, &cmd->words[i], DF_R_TLS_DISABLED,
				  "npm config %s false skips TLS certificate verification",
				  cmd->words[i].value);
	}
}

static void note_archive_extract(struct run_state *state, struct stage_state *stage,
				 const struct df_command *cmd, size_t start)
{
	bool extract = false;
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *w = cmd->words[i].value;
		if (strcmp(w, "--extract") == 0 || strcmp(w, "--get") == 0 ||
		    (w[0] != '-' && i == start + 1 && strchr(w, 'x') != NULL) ||
		    (w[0] == '-' && w[1] != '-' && strchr(w, 'x') != NULL))
			extract = true;
	}
	if (!extract)
		return;
	for (size_t i = start + 1; i < cmd->word_count; i++) {
		const char *name = base_name(cmd->words[i].value);
		if (name[0] == '\0')
			continue;
		for (size_t k = 0; k < stage->archive_count; k++) {
			if (stage->archives[k].name == NULL || strcmp(stage->archives[k].name, name) != 0)
				continue;
			const struct df_instruction *saved = state->lint->owner;
			state->lint->owner = stage->archives[k].owner;
			df_report(state->lint, DF_R_DL3010, stage->archives[k].line,
				  stage->archives[k].column,
				  "archive %s is copied and then extracted in RUN; ADD extracts it in one layer",
				  name);
			state->lint->owner = saved;
			// Report each archive once.
			stage->archives[k].name = NULL;
		}
	}
}

// Notes every plain-HTTP URL among the operands of a download command.
static void note_plain_http(struct run_state *state, const struct run_part *part,
			    const struct df_command *cmd, size_t from)
{
	for (size_t i = from; i < cmd->word_count; i++) {
		const struct df_shell_word *word = &cmd->words[i];
		const char *url = word->value;
		// curl also takes the URL as --url=URL. Other options with a
		// URL value, such as wget --referer=URL, name no download.
		if (strncmp(url, "--url=", 6) == 0)
			url += 6;
		if (!df_url_plain_http(url) || state->plain_http_count >= MAX_PLAIN_HTTP)
			continue;
		state->plain_http[state->plain_http_count].part = part;
		state->plain_http[state->plain_http_count].word = word;
		state->plain_http[state->plain_http_count].url = url;
		state->plain_http_count++;
	}
}

// True for a command that fails when a file does not match a checksum or
// signature strong enough to stop a replaced download: SHA-2 or BLAKE2
// sums with -c, or a GnuPG signature check. md5sum and sha1sum do not
// count.
static bool verifies_download(const struct df_command *cmd, size_t start)
{
	const char *name = base_name(cmd->words[start].value);
	static const char *const check_long[] = { "--check", NULL };

	if (listed("sha224sum sha256sum sha384sum sha512sum b2sum", name))
		return has_option(cmd, start + 1, "c", check_long);
	if (strcmp(name, "shasum") == 0) {
		// shasum uses SHA-1 unless -a or --algorithm names a SHA-2 variant.
		for (size_t i = start + 1; i < cmd->word_count; i++) {
			const char *w = cmd->words[i].value;
			const char *algorithm = NULL;
			if ((strcmp(w, "-a") == 0 || strcmp(w, "--algorithm") == 0) &&
			    i + 1 < cmd->word_count)
				algorithm = cmd->words[i + 1].value;
			else if (strncmp(w, "--algorithm=", 12) == 0)
				algorithm = w + 12;
			if (algorithm != NULL)
				return listed("224 256 384 512 512224 512256", algorithm) &&
				       has_option(cmd, start + 1, "c", check_long);
		}
		return false;
	}
	if (strcmp(name, "gpgv") == 0 || strcmp(name, "gpgv2") == 0)
		return true;
	if (strcmp(name, "gpg") == 0 || strcmp(name, "gpg2") == 0)
		return has_option(cmd, start + 1, NULL, (const char *const[]){ "--verify", NULL });
	return false;
}

static void check_command(struct run_state *state, struct stage_state *stage,
			  const struct run_part *part, const struct df_script *script, size_t index)
{
	const struct df_command *cmd = &script->commands[index];
	if (cmd->word_count == 0)
		return;

	if (strcmp(base_name(cmd->words[0].value), "sudo") == 0)
		report_at(state, part, &cmd->words[0], DF_R_DL3004,
			  "%s runs the command with unpredictable TTY and signal handling",
			  cmd->words[0].value);

	size_t start = program_index(cmd);
	if (start >= cmd->word_count)
		return;
	const struct df_shell_word *program = &cmd->words[start];
	const char *name = base_name(program->value);
	if (verifies_download(cmd, start))
		state->download_verified = true;

	if (listed("ssh vim nano shutdown service ps free top kill mount ifconfig", name))
		report_at(state, part, program, DF_R_DL3001,
			  "%s makes little sense in a container build", name);
	if (strcmp(name, "cd") == 0)
		report_at(state, part, program, DF_R_DL3003,
			  "%s changes the directory for this RUN only; use WORKDIR", name);

	if (strcmp(name, "apt-get") == 0 || strcmp(name, "apt") == 0)
		check_apt_get(state, part, cmd, start);
	else if (strcmp(name, "apk") == 0)
		check_apk(state, part, cmd, start);
	else if (strcmp(name, "yum") == 0)
		check_rpm_manager(state, part, cmd, start, false);
	else if (strcmp(name, "dnf") == 0 || strcmp(name, "microdnf") == 0)
		check_rpm_manager(state, part, cmd, start, true);
	else if (strcmp(name, "zypper") == 0)
		check_zypper(state, part, cmd, start);
	else if (strncmp(name, "pip", 3) == 0 && (name[3] == '\0' || isdigit((unsigned char)name[3])))
		check_pip(state, part, cmd, start);
	else if (strncmp(name, "python", 6) == 0 && start + 2 < cmd->word_count &&
		 word_is(&cmd->words[start + 1], "-m") &&
		 strncmp(cmd->words[start + 2].value, "pip", 3) == 0)
		check_pip(state, part, cmd, start + 2);
	else if (strcmp(name, "npm") == 0) {
		check_simple_install(state, part, cmd, start, "install i add", "--prefix -w --workspace",
				     DF_R_DL3016, "PACKAGE@VERSION",
				     pinned_npm);
		check_npm_config(state, part, cmd, start);
	} else if (strcmp(name, "gem") == 0) {
		if (!has_option(cmd, start + 1, "v", (const char *const[]){ "--version", NULL }))
			check_simple_install(state, part, cmd, start, "install i",
					     "-i --install-dir -n --bindir --source -s",
					     DF_R_DL3028, "GEM:VERSION",
					     pinned_gem);
	} else if (strcmp(name, "go") == 0 && !run_mounts(state->inst, "go.mod")) {
		// With go.mod mounted, go install takes the versions it lists.
		check_simple_install(state, part, cmd, start, "install get",
				     "-C -o -p -ldflags -gcflags -tags -mod -modfile", DF_R_DL3062,
				     "PACKAGE@VERSION", pinned_go);
	} else if (strcmp(name, "yarn") == 0) {
		size_t sub = next_operand(cmd, start + 1, "--cwd --modules-folder --cache-folder");
		bool install = sub >= cmd->word_count || word_is(&cmd->words[sub], "install");
		if (sub + 1 < cmd->word_count && word_is(&cmd->words[sub], "cache") &&
		    word_is(&cmd->words[sub + 1], "clean"))
			state->yarn_clean = true;
		if (install && state->yarn_install == NULL) {
			state->yarn_install = program;
			state->yarn_part = part;
		}
	} else if (strcmp(name, "curl") == 0 || strcmp(name, "wget") == 0) {
		note_plain_http(state, part, cmd, start + 1);
		check_download(state, stage, part, script, index, start);
	} else if (listed("aria2c axel fetch", name)) {
		note_plain_http(state, part, cmd, start + 1);
	} else if (strcmp(name, "busybox") == 0 && start + 1 < cmd->word_count &&
		   word_is(&cmd->words[start + 1], "wget")) {
		note_plain_http(state, part, cmd, start + 2);
	} else if (strcmp(name, "chmod") == 0 || strcmp(name, "mkdir") == 0 ||
		   strcmp(name, "install") == 0) {
		check_chmod_like(state, part, cmd, start);
	} else if (strcmp(name, "useradd") == 0) {
		check_useradd(state, part, cmd, start);
	} else if (strcmp(name, "git") == 0) {
		size_t sub = next_operand(cmd, start + 1, "-C -c --git-dir --work-tree");
		if (sub < cmd->word_count && listed("clone fetch pull", cmd->words[sub].value))
			note_plain_http(state, part, cmd, sub + 1);
		check_git(state, part, cmd, start);
	} else if (strcmp(name, "tar") == 0) {
		note_archive_extract(state, stage, cmd, start);
	} else if (strcmp(name, "rm") == 0) {
		for (size_t i = start + 1; i < cmd->word_count; i++) {
			const char *w = cmd->words[i].value;
			if (strncmp(w, "/var/lib/apt/lists", 18) == 0)
				state->apt_lists_removed = true;
			if (strncmp(w, "/var/cache/yum", 14) == 0)
				state->yum_clean = true;
			if (strncmp(w, "/var/cache/dnf", 14) == 0)
				state->dnf_clean = true;
			if (strncmp(w, "/var/cache/zypp", 15) == 0)
				state->zypper_clean = true;
		}
	} else if (strcmp(name, "ln") == 0) {
		const struct df_shell_word *last = &cmd->words[cmd->word_count - 1];
		if (cmd->word_count - start >= 3 && word_is(last, "/bin/sh"))
			report_at(state, part, last, DF_R_DL4005,
				  "ln replaces %s; use SHELL to change the shell", last->value);
	} else if (strcmp(name, "set") == 0) {
		for (size_t i = start + 1; i < cmd->word_count; i++) {
			if (word_is(&cmd->words[i], "pipefail"))
				state->pipefail_set = true;
		}
	} else if (is_shell_name(name)) {
		for (size_t i = start + 1; i < cmd->word_count; i++) {
			const char *w = cmd->words[i].value;
			if (strstr(w, "$(curl ") != NULL || strstr(w, "$(wget ") != NULL ||
			    strstr(w, "`curl ") != NULL || strstr(w, "`wget ") != NULL)
				report_at(state, part, &cmd->words[i], DF_R_PIPE_TO_SHELL,
					  "%s runs a downloaded script without a checksum", name);
		}
	}
}

// ---- collecting the scripts of one RUN -----------------------------------------------

static struct run_part *add_part(struct run_state *state)
{
	if (state->part_count >= MAX_PARTS)
		return NULL;
	struct run_part *part = &state->parts[state->part_count++];
	memset(part, 0, sizeof(*part));
	return part;
}

// Splits `sh -c SCRIPT` of the exec form, or takes the exec words as one
// command.
static void collect_exec_form(struct run_state *state, struct df_arena *arena)
{
	const struct df_instruction *inst = state->inst;
	if (inst->word_count == 0)
		return;
	struct run_part *part = add_part(state);
	if (part == NULL)
		return;
	part->line = inst->words[0].line;
	part->column = inst->words[0].column;

	if (is_shell_name(base_name(inst->words[0].raw))) {
		for (size_t i = 1; i + 1 < inst->word_count; i++) {
			if (inst->words[i].raw[0] == '-' && strchr(inst->words[i].raw, 'c') != NULL) {
				const char *script = inst->words[i + 1].raw;
				df_shell_split(arena, script, strlen(script), &part->script);
				return;
			}
		}
	}

	struct df_command *cmd = df_alloc(arena, sizeof(*cmd));
	cmd->words = df_alloc(arena, inst->word_count * sizeof(*cmd->words));
	for (size_t i = 0; i < inst->word_count; i++)
		cmd->words[i].value = inst->words[i].raw;
	cmd->word_count = inst->word_count;
	part->script.commands = cmd;
	part->script.command_count = 1;
}

static void collect_parts(struct run_state *state, struct df_arena *arena)
{
	const struct df_instruction *inst = state->inst;
	if (inst->exec_form) {
		collect_exec_form(state, arena);
		return;
	}

	const struct df_text *text = inst->text;
	struct run_part *args = add_part(state);
	args->text = text;
	args->base = inst->args_offset;
	df_shell_split(arena, text->data + inst->args_offset, text->len - inst->args_offset,
		       &args->script);

	// A heredoc is the script when RUN has nothing else (RUN <<EOF), or
	// when a shell reads it as standard input (RUN bash <<EOF).
	bool shell_reads_heredoc = args->script.command_count == 0;
	for (size_t i = 0; i < args->script.command_count; i++) {
		const struct df_command *cmd = &args->script.commands[i];
		size_t start = program_index(cmd);
		if (start < cmd->word_count && is_shell_name(base_name(cmd->words[start].value)) &&
		    next_operand(cmd, start + 1, "-o") >= cmd->word_count)
			shell_reads_heredoc = true;
	}
	if (!shell_reads_heredoc)
		return;
	for (size_t i = 0; i < inst->heredoc_count; i++) {
		const struct df_heredoc *heredoc = &inst->heredocs[i];
		const char *body = heredoc->body.data;
		if (strncmp(body, "#!", 2) == 0) {
			size_t n = strcspn(body, " \n");
			char interpreter[64];
			snprintf(interpreter, sizeof(interpreter), "%.*s", (int)(n > 63 ? 63 : n), body + 2);
			if (!is_shell_name(base_name(interpreter)) &&
			    strstr(body, "env sh") != body + 2 && strstr(body, "env bash") != body + 2)
				continue;
		}
		struct run_part *part = add_part(state);
		if (part == NULL)
			return;
		part->text = &heredoc->body;
		df_shell_split(arena, body, heredoc->body.len, &part->script);
	}
}

static void finish_run(struct run_state *state, struct stage_state *stage)
{
	const struct df_instruction *inst = state->inst;
	if (state->apt_install != NULL && !state->apt_lists_removed && state->in_final_image &&
	    !run_has_cache_mount(inst, "/var/lib/apt"))
		report_at(state, state->apt_install_part, state->apt_install, DF_R_DL3009,
			  "apt-get %s without removing /var/lib/apt/lists keeps the package lists in the image",
			  state->apt_install->value);
	if (state->yum_used != NULL && !state->yum_clean && !run_has_cache_mount(inst, "/var/cache/yum"))
		report_at(state, state->yum_part, state->yum_used, DF_R_DL3032,
			  "%s runs without yum clean all in the same RUN", state->yum_used->value);
	if (state->dnf_used != NULL && !state->dnf_clean && !run_has_cache_mount(inst, "/var/cache/dnf"))
		report_at(state, state->dnf_part, state->dnf_used, DF_R_DL3040,
			  "%s runs without dnf clean all in the same RUN", state->dnf_used->value);
	if (state->zypper_used != NULL && !state->zypper_clean)
		report_at(state, state->zypper_part, state->zypper_used, DF_R_DL3036,
			  "%s runs without zypper clean in the same RUN", state->zypper_used->value);
	if (state->yarn_install != NULL && !state->yarn_clean &&
	    !run_has_cache_mount(inst, "yarn"))
		report_at(state, state->yarn_part, state->yarn_install, DF_R_DL3060,
			  "%s install runs without yarn cache clean in the same RUN",
			  state->yarn_install->value);

	for (size_t i = 0; i < state->plain_http_count && !state->download_verified; i++)
		report_at(state, state->plain_http[i].part, state->plain_http[i].word, DF_R_PLAIN_HTTP,
			  "%s is downloaded over plain HTTP and not verified in this RUN",
			  state->plain_http[i].url);

	bool pipe = false;
	for (size_t i = 0; i < state->part_count; i++) {
		if (state->parts[i].script.has_pipe)
			pipe = true;
	}
	if (pipe && !stage->pipefail_shell && !state->pipefail_set)
		df_report(state->lint, DF_R_DL4006, inst->line, inst->column,
			  "RUN has a pipe but the shell does not set -o pipefail, so a failure before | is ignored");
}

static void check_run(struct df_lint *lint, struct stage_state *stage,
		      const struct df_instruction *inst, struct df_arena *arena)
{
	if (!inst->posix_shell && inst->kind == DF_RUN && !inst->exec_form)
		return;

	struct run_state state = { 0 };
	state.lint = lint;
	state.inst = inst;
	state.in_final_image = inst->stage >= 0 && lint->file->stages[inst->stage].in_final_image;
	state.pip_no_cache_env = stage->pip_no_cache_env;
	collect_parts(&state, arena);

	for (size_t p = 0; p < state.part_count; p++) {
		const struct df_script *script = &state.parts[p].script;
		for (size_t i = 0; i < script->command_count; i++)
			check_command(&state, stage, &state.parts[p], script, i);
	}
	finish_run(&state, stage);
}

static void check_exec_sshd(struct df_lint *lint, const struct df_instruction *inst)
{
	for (size_t i = 0; i < inst->word_count; i++) {
		const char *w = inst->words[i].value;
		if (strcmp(base_name(w), "sshd") == 0 || strstr(w, "/sshd ") != NULL ||
		    strncmp(w, "sshd ", 5) == 0) {
			df_report(lint, DF_R_SSHD, inst->words[i].line, inst->words[i].column,
				  "%s starts an SSH server in the container", df_kind_name(inst->kind));
			return;
		}
	}
}

static void note_copied_archives(struct stage_state *stage, const struct df_instruction *inst,
				 const struct df_instruction *owner)
{
	if (inst->kind != DF_COPY || inst->word_count < 2 || inst->flag_count > 0)
		return;
	for (size_t i = 0; i + 1 < inst->word_count && stage->archive_count < 16; i++) {
		const struct df_word *word = &inst->words[i];
		const char *name = base_name(word->value);
		if (word->unresolved || !(ends_with(name, ".tar") || ends_with(name, ".tar.gz") ||
					  ends_with(name, ".tgz") || ends_with(name, ".tar.xz") ||
					  ends_with(name, ".tar.bz2")))
			continue;
		stage->archives[stage->archive_count].name = (char *)name;
		stage->archives[stage->archive_count].line = word->line;
		stage->archives[stage->archive_count].column = word->column;
		stage->archives[stage->archive_count].owner = owner;
		stage->archive_count++;
	}
}

void df_check_shell(struct df_lint *lint)
{
	struct df_file *file = lint->file;
	struct stage_state stage = { .stage = -2 };

	for (size_t n = 0; n < file->instruction_count; n++) {
		const struct df_instruction *inst = &file->instructions[n];
		lint->owner = inst;
		if (inst->stage != stage.stage) {
			memset(&stage, 0, sizeof(stage));
			stage.stage = inst->stage;
		}

		const struct df_instruction *target = inst;
		if (inst->kind == DF_ONBUILD && inst->trigger != NULL)
			target = inst->trigger;

		switch (target->kind) {
		case DF_SHELL:
			stage.pipefail_shell = false;
			for (size_t i = 0; i < target->word_count; i++) {
				if (strcmp(target->words[i].raw, "pipefail") == 0)
					stage.pipefail_shell = true;
			}
			break;
		case DF_RUN:
			check_run(lint, &stage, target, &file->arena);
			break;
		case DF_CMD:
		case DF_ENTRYPOINT:
			check_exec_sshd(lint, target);
			break;
		case DF_COPY:
			note_copied_archives(&stage, target, inst);
			break;
		case DF_ENV:
			for (size_t i = 0; i < target->pair_count; i++) {
				if (strcmp(target->pairs[i].key, "PIP_NO_CACHE_DIR") == 0)
					stage.pip_no_cache_env = true;
			}
			break;
		default:
			break;
		}
	}
	lint->owner = NULL;
}
