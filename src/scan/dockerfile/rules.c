// SPDX-License-Identifier: Apache-2.0
// The Dockerfile rule table, the reporting step that applies ignore pragmas
// and configuration, and the rules that look at instructions and stages
// (base images, users, stages, ports, labels). Shell rules are in
// rules_shell.c and secret rules in rules_secrets.c.
//
// Rule ids: a check that matches one of hadolint's DL rules keeps its id,
// so existing ignore lists carry over; coffer's own checks are CF-DF-NNN.

#include "scan/dockerfile/dockerfile.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RULE(ID, SEV, TITLE, DESC, FIX) \
	{ ID, SEV, TITLE, DESC, FIX, "docs/rules/" ID ".md" }

const struct scan_rule df_rules[DF_RULE_COUNT] = {
	[DF_R_SYNTAX] = RULE("CF-DF-000", SCAN_SEV_ERROR, "Dockerfile syntax error",
		"BuildKit rejects this Dockerfile, so it cannot be built as written.",
		"Correct the syntax at the reported position."),
	[DF_R_DL3000] = RULE("DL3000", SCAN_SEV_ERROR, "Use an absolute WORKDIR",
		"A relative WORKDIR depends on the previous working directory, which the base image may change.",
		"Give WORKDIR an absolute path such as /app."),
	[DF_R_DL3001] = RULE("DL3001", SCAN_SEV_INFO, "Command makes little sense in a container",
		"Interactive or system tools such as ssh, vim, service, ps, top, kill, mount or shutdown do nothing useful during a build.",
		"Remove the command from RUN."),
	[DF_R_DL3002] = RULE("DL3002", SCAN_SEV_WARNING, "Last USER is root",
		"The image runs as root, so a compromised process owns the whole container.",
		"Switch to an unprivileged user with USER after the steps that need root."),
	[DF_R_DL3003] = RULE("DL3003", SCAN_SEV_WARNING, "Use WORKDIR to switch to a directory",
		"cd in RUN changes the directory for that command only, which is easy to misread.",
		"Use WORKDIR, or an absolute path in the command."),
	[DF_R_DL3004] = RULE("DL3004", SCAN_SEV_ERROR, "Do not use sudo",
		"sudo has unpredictable TTY and signal behaviour and is rarely installed in images.",
		"Run the step as root with USER root, then switch back."),
	[DF_R_DL3005] = RULE("DL3005", SCAN_SEV_ERROR, "Do not use apt-get dist-upgrade",
		"dist-upgrade can remove or replace packages of the base image, so the build is not reproducible.",
		"Use a newer base image instead."),
	[DF_R_DL3006] = RULE("DL3006", SCAN_SEV_WARNING, "Tag the base image explicitly",
		"An image without a tag means latest, which changes with every push.",
		"Add a version tag, and better a digest: IMAGE:TAG@sha256:..."),
	[DF_R_DL3007] = RULE("DL3007", SCAN_SEV_WARNING, "Do not use the latest tag",
		"latest changes with every push, so two builds of the same Dockerfile differ.",
		"Pin a release tag, and better a digest."),
	[DF_R_DL3008] = RULE("DL3008", SCAN_SEV_WARNING, "Pin versions in apt-get install",
		"Unpinned packages make builds change silently when the archive moves on.",
		"Install PACKAGE=VERSION."),
	[DF_R_DL3009] = RULE("DL3009", SCAN_SEV_INFO, "Delete the apt lists after installing",
		"The package lists stay in the layer and enlarge the final image.",
		"End the RUN with rm -rf /var/lib/apt/lists/*."),
	[DF_R_DL3010] = RULE("DL3010", SCAN_SEV_INFO, "Use ADD to extract archives",
		"Copying an archive and extracting it in a later RUN keeps both in the image.",
		"ADD a local tar archive, which extracts it in one layer."),
	[DF_R_DL3011] = RULE("DL3011", SCAN_SEV_ERROR, "Port out of range",
		"Valid TCP and UDP ports are 0 to 65535.",
		"Fix the port number."),
	[DF_R_DL3012] = RULE("DL3012", SCAN_SEV_ERROR, "Multiple HEALTHCHECK instructions",
		"Only the last HEALTHCHECK of a stage takes effect.",
		"Keep one HEALTHCHECK per stage."),
	[DF_R_DL3013] = RULE("DL3013", SCAN_SEV_WARNING, "Pin versions in pip install",
		"Unpinned Python packages make builds change silently.",
		"Install PACKAGE==VERSION, or use a requirements file with pins."),
	[DF_R_DL3014] = RULE("DL3014", SCAN_SEV_WARNING, "Use -y with apt-get install",
		"Without -y apt-get waits for confirmation and the build fails.",
		"Add -y."),
	[DF_R_DL3015] = RULE("DL3015", SCAN_SEV_INFO, "Avoid recommended packages",
		"apt-get installs recommended packages by default, which enlarges the image and its attack surface.",
		"Add --no-install-recommends."),
	[DF_R_DL3016] = RULE("DL3016", SCAN_SEV_WARNING, "Pin versions in npm install",
		"Unpinned npm packages make builds change silently.",
		"Install PACKAGE@VERSION."),
	[DF_R_DL3018] = RULE("DL3018", SCAN_SEV_WARNING, "Pin versions in apk add",
		"Unpinned Alpine packages make builds change silently.",
		"Install PACKAGE=VERSION."),
	[DF_R_DL3019] = RULE("DL3019", SCAN_SEV_INFO, "Use apk add --no-cache",
		"The apk index cache stays in the layer.",
		"Use apk add --no-cache."),
	[DF_R_DL3020] = RULE("DL3020", SCAN_SEV_ERROR, "Use COPY instead of ADD for files",
		"ADD also fetches URLs and extracts archives, which surprises readers of a plain copy.",
		"Use COPY for local files and folders."),
	[DF_R_DL3021] = RULE("DL3021", SCAN_SEV_ERROR, "COPY of several sources needs a directory",
		"With more than one source, the destination must be a directory ending in /.",
		"End the destination with /."),
	[DF_R_DL3022] = RULE("DL3022", SCAN_SEV_WARNING, "COPY --from names no earlier stage",
		"--from should name a stage defined above, or a full image reference.",
		"Define the stage before this COPY, or fix its name."),
	[DF_R_DL3023] = RULE("DL3023", SCAN_SEV_ERROR, "COPY --from names its own stage",
		"A stage cannot copy from itself.",
		"Name an earlier stage."),
	[DF_R_DL3024] = RULE("DL3024", SCAN_SEV_ERROR, "Duplicate stage name",
		"Stage names must be unique, or --from and FROM refer to the wrong stage.",
		"Rename one of the stages."),
	[DF_R_DL3025] = RULE("DL3025", SCAN_SEV_WARNING, "Use JSON form for CMD and ENTRYPOINT",
		"The shell form runs the program under /bin/sh -c, so it does not receive signals such as SIGTERM.",
		"Write CMD [\"program\", \"arg\"]."),
	[DF_R_DL3026] = RULE("DL3026", SCAN_SEV_ERROR, "Base image from an untrusted registry",
		"The configuration lists trusted registries and this image comes from another one.",
		"Use an image from a trusted registry, or add the registry to trusted_registries."),
	[DF_R_DL3027] = RULE("DL3027", SCAN_SEV_WARNING, "Do not use apt",
		"apt is meant for interactive use and has no stable command-line interface.",
		"Use apt-get or apt-cache."),
	[DF_R_DL3028] = RULE("DL3028", SCAN_SEV_WARNING, "Pin versions in gem install",
		"Unpinned gems make builds change silently.",
		"Install GEM:VERSION or use -v VERSION."),
	[DF_R_DL3029] = RULE("DL3029", SCAN_SEV_WARNING, "Do not hard-code FROM --platform",
		"A fixed platform makes the image wrong on other architectures.",
		"Remove --platform, or use a variable such as $BUILDPLATFORM."),
	[DF_R_DL3030] = RULE("DL3030", SCAN_SEV_WARNING, "Use -y with yum install",
		"Without -y yum waits for confirmation and the build fails.",
		"Add -y."),
	[DF_R_DL3032] = RULE("DL3032", SCAN_SEV_WARNING, "Run yum clean all after yum",
		"The yum cache stays in the layer.",
		"End the RUN with yum clean all."),
	[DF_R_DL3033] = RULE("DL3033", SCAN_SEV_WARNING, "Pin versions in yum install",
		"Unpinned packages make builds change silently.",
		"Install PACKAGE-VERSION."),
	[DF_R_DL3034] = RULE("DL3034", SCAN_SEV_WARNING, "Use a non-interactive switch with zypper",
		"Without -n or -y zypper waits for confirmation.",
		"Use zypper -n install or zypper install -y."),
	[DF_R_DL3035] = RULE("DL3035", SCAN_SEV_WARNING, "Do not use zypper dist-upgrade",
		"dist-upgrade replaces packages of the base image, so the build is not reproducible.",
		"Use a newer base image instead."),
	[DF_R_DL3036] = RULE("DL3036", SCAN_SEV_WARNING, "Run zypper clean after zypper",
		"The zypper cache stays in the layer.",
		"End the RUN with zypper clean."),
	[DF_R_DL3037] = RULE("DL3037", SCAN_SEV_WARNING, "Pin versions in zypper install",
		"Unpinned packages make builds change silently.",
		"Install PACKAGE=VERSION."),
	[DF_R_DL3038] = RULE("DL3038", SCAN_SEV_WARNING, "Use -y with dnf install",
		"Without -y dnf waits for confirmation and the build fails.",
		"Add -y."),
	[DF_R_DL3040] = RULE("DL3040", SCAN_SEV_WARNING, "Run dnf clean all after dnf",
		"The dnf cache stays in the layer.",
		"End the RUN with dnf clean all."),
	[DF_R_DL3041] = RULE("DL3041", SCAN_SEV_WARNING, "Pin versions in dnf install",
		"Unpinned packages make builds change silently.",
		"Install PACKAGE-VERSION."),
	[DF_R_DL3042] = RULE("DL3042", SCAN_SEV_WARNING, "Use pip install --no-cache-dir",
		"The pip cache stays in the layer.",
		"Add --no-cache-dir, set PIP_NO_CACHE_DIR, or use a cache mount."),
	[DF_R_DL3043] = RULE("DL3043", SCAN_SEV_ERROR, "Invalid ONBUILD trigger",
		"ONBUILD cannot trigger FROM or MAINTAINER.",
		"Move the instruction out of ONBUILD."),
	[DF_R_DL3044] = RULE("DL3044", SCAN_SEV_ERROR, "ENV refers to a variable it defines",
		"Variables set in one ENV instruction are not visible to later pairs of the same instruction.",
		"Split the ENV into two instructions."),
	[DF_R_DL3045] = RULE("DL3045", SCAN_SEV_WARNING, "COPY to a relative path without WORKDIR",
		"The destination then depends on the working directory of the base image.",
		"Set WORKDIR first, or use an absolute destination."),
	[DF_R_DL3046] = RULE("DL3046", SCAN_SEV_WARNING, "useradd with a high UID needs -l",
		"Without -l (--no-log-init) useradd writes a sparse lastlog entry that can fill the layer with gigabytes.",
		"Add -l to useradd."),
	[DF_R_DL3047] = RULE("DL3047", SCAN_SEV_INFO, "wget without a progress option",
		"wget prints a progress bar line for every chunk, which floods the build log.",
		"Use wget --progress=dot:giga, or -q."),
	[DF_R_DL3048] = RULE("DL3048", SCAN_SEV_STYLE, "Invalid label key",
		"Label keys should be lower-case letters, digits, dots and dashes, start and end with a letter or digit, and avoid the reserved com.docker, io.docker and org.dockerproject namespaces.",
		"Rename the label key."),
	[DF_R_DL3049] = RULE("DL3049", SCAN_SEV_INFO, "Label from the label schema is missing",
		"The configured label schema requires this label on the final image.",
		"Add the label with LABEL NAME=VALUE."),
	[DF_R_DL3050] = RULE("DL3050", SCAN_SEV_INFO, "Label not in the label schema",
		"With strict-labels, only labels listed in the label schema may be set.",
		"Remove the label, or add it to dockerfile.label-schema."),
	[DF_R_DL3051] = RULE("DL3051", SCAN_SEV_WARNING, "Label is empty",
		"A label from the label schema has an empty value.",
		"Give the label a value."),
	[DF_R_DL3052] = RULE("DL3052", SCAN_SEV_WARNING, "Label is not a valid URL",
		"The label schema says this label contains a URL.",
		"Use an absolute URL such as https://example.org/project."),
	[DF_R_DL3053] = RULE("DL3053", SCAN_SEV_WARNING, "Label is not an RFC 3339 timestamp",
		"The label schema says this label contains a time in RFC 3339 format.",
		"Use a timestamp such as 2024-05-01T12:00:00Z."),
	[DF_R_DL3054] = RULE("DL3054", SCAN_SEV_WARNING, "Label is not an SPDX license expression",
		"The label schema says this label contains an SPDX license expression.",
		"Use an expression such as Apache-2.0 or MIT OR GPL-2.0-only."),
	[DF_R_DL3055] = RULE("DL3055", SCAN_SEV_WARNING, "Label is not a git commit hash",
		"The label schema says this label contains a full git commit hash.",
		"Use the 40-character (SHA-1) or 64-character (SHA-256) hash."),
	[DF_R_DL3056] = RULE("DL3056", SCAN_SEV_WARNING, "Label is not a semantic version",
		"The label schema says this label contains a Semantic Versioning 2.0.0 version.",
		"Use MAJOR.MINOR.PATCH, such as 1.4.2 or 2.0.0-rc.1."),
	[DF_R_DL3058] = RULE("DL3058", SCAN_SEV_WARNING, "Label is not an email address",
		"The label schema says this label contains an email address.",
		"Use an address such as team@example.org."),
	[DF_R_DL3057] = RULE("DL3057", SCAN_SEV_INFO, "No HEALTHCHECK in the image",
		"Without HEALTHCHECK the engine cannot tell a hung service from a healthy one.",
		"Add HEALTHCHECK CMD ... to the final stage."),
	[DF_R_DL3059] = RULE("DL3059", SCAN_SEV_INFO, "Consecutive RUN instructions",
		"Each RUN adds a layer; consecutive ones can often be joined.",
		"Join the commands with &&."),
	[DF_R_DL3060] = RULE("DL3060", SCAN_SEV_INFO, "Run yarn cache clean after yarn install",
		"The yarn cache stays in the layer.",
		"End the RUN with yarn cache clean."),
	[DF_R_DL3061] = RULE("DL3061", SCAN_SEV_ERROR, "Instruction before FROM",
		"Only ARG may come before the first FROM.",
		"Move the instruction after FROM."),
	[DF_R_DL3062] = RULE("DL3062", SCAN_SEV_WARNING, "Pin versions in go install",
		"go install without a version takes whatever is newest.",
		"Install PACKAGE@VERSION."),
	[DF_R_DL4000] = RULE("DL4000", SCAN_SEV_ERROR, "MAINTAINER is deprecated",
		"MAINTAINER has been deprecated since Docker 1.13.",
		"Use LABEL org.opencontainers.image.authors=..."),
	[DF_R_DL4001] = RULE("DL4001", SCAN_SEV_WARNING, "Both wget and curl are used",
		"Installing two download tools enlarges the image for no gain.",
		"Use one of them."),
	[DF_R_DL4003] = RULE("DL4003", SCAN_SEV_WARNING, "Multiple CMD instructions",
		"Only the last CMD of a stage takes effect.",
		"Keep one CMD per stage."),
	[DF_R_DL4004] = RULE("DL4004", SCAN_SEV_ERROR, "Multiple ENTRYPOINT instructions",
		"Only the last ENTRYPOINT of a stage takes effect.",
		"Keep one ENTRYPOINT per stage."),
	[DF_R_DL4005] = RULE("DL4005", SCAN_SEV_WARNING, "Use SHELL to change the default shell",
		"Replacing /bin/sh with a link breaks tools of the base image that expect it.",
		"Use SHELL [\"/bin/bash\", \"-c\"]."),
	[DF_R_DL4006] = RULE("DL4006", SCAN_SEV_WARNING, "Set pipefail before RUN with a pipe",
		"Without pipefail a failing command before | is ignored and the build goes on.",
		"Use SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] or start the RUN with set -o pipefail."),
	[DF_R_UNPINNED_DIGEST] = RULE("CF-DF-001", SCAN_SEV_WARNING, "Base image not pinned by digest",
		"A tag can be moved to other content at any time; only a digest names fixed content. An image with no tag or latest is worse (error).",
		"Pin the image: IMAGE:TAG@sha256:DIGEST."),
	[DF_R_IMAGE_NOT_ALLOWED] = RULE("CF-DF-002", SCAN_SEV_ERROR, "Base image not in the allowed list",
		"The configuration lists allowed images and this base image matches none of them.",
		"Use an allowed image, or add it to allowed_images."),
	[DF_R_RUNS_AS_ROOT] = RULE("CF-DF-003", SCAN_SEV_WARNING, "Image runs as root",
		"The final stage never sets USER, so the container runs as root unless the base image sets a user.",
		"Add USER with an unprivileged user to the final stage."),
	[DF_R_SECRET_NAME] = RULE("CF-DF-004", SCAN_SEV_ERROR, "Secret stored in ENV or ARG",
		"ENV values are stored in the image configuration and ARG defaults in its history, where anyone with the image can read them.",
		"Pass the secret with RUN --mount=type=secret, or set it at run time."),
	[DF_R_SECRET_VALUE] = RULE("CF-DF-005", SCAN_SEV_ERROR, "Credential in the Dockerfile",
		"The text contains what looks like a real credential (AWS key id, private key, JWT, GitHub or Slack token). It ends up in the image and in version control.",
		"Revoke the credential, remove it, and pass secrets with RUN --mount=type=secret."),
	[DF_R_SECRET_FILE] = RULE("CF-DF-006", SCAN_SEV_ERROR, "Secret file copied into the image",
		"Keys and credential files (id_rsa, .npmrc, .aws/credentials, .env) copied into a layer stay readable in the image even if deleted later.",
		"Use RUN --mount=type=secret or --mount=type=ssh, and list the file in .dockerignore."),
	[DF_R_NO_DOCKERIGNORE] = RULE("CF-DF-007", SCAN_SEV_WARNING, "Whole build context copied without .dockerignore",
		"COPY . copies everything in the build context, including .git, .env and keys, when no .dockerignore excludes them.",
		"Add a .dockerignore next to the Dockerfile, or copy only what the image needs."),
	[DF_R_ADD_NO_CHECKSUM] = RULE("CF-DF-008", SCAN_SEV_WARNING, "Remote ADD without --checksum",
		"Content fetched from a URL can change or be tampered with between builds.",
		"Add --checksum=sha256:..., or download and verify in RUN."),
	[DF_R_PIPE_TO_SHELL] = RULE("CF-DF-009", SCAN_SEV_ERROR, "Remote script piped to a shell",
		"Running a downloaded script without checking it executes whatever the server or a man in the middle sends.",
		"Download to a file, verify its checksum or signature, then run it."),
	[DF_R_TLS_DISABLED] = RULE("CF-DF-010", SCAN_SEV_ERROR, "TLS certificate verification disabled",
		"Without certificate checks anyone on the network path can replace the download.",
		"Remove the option (curl -k, wget --no-check-certificate, sslVerify=false) and install the right CA certificate."),
	[DF_R_UNSIGNED_PACKAGES] = RULE("CF-DF-011", SCAN_SEV_ERROR, "Package signature checks disabled",
		"Packages installed without signature checks can be replaced in transit or on a mirror.",
		"Remove the option (--allow-unauthenticated, --allow-untrusted, --nogpgcheck) and import the repository key."),
	[DF_R_PIP_TRUSTED_HOST] = RULE("CF-DF-012", SCAN_SEV_WARNING, "pip --trusted-host",
		"--trusted-host turns off TLS verification for that package index.",
		"Remove --trusted-host and serve the index over HTTPS with a valid certificate."),
	[DF_R_WORLD_WRITABLE] = RULE("CF-DF-013", SCAN_SEV_WARNING, "World-writable permissions",
		"Any user in the container can change world-writable files, for example to plant code that root later runs.",
		"Grant write access to the owner only (755, 644), or use the sticky bit for shared directories (1777)."),
	[DF_R_SETUID] = RULE("CF-DF-014", SCAN_SEV_WARNING, "setuid or setgid bit set",
		"A setuid or setgid program lets an unprivileged user gain its owner's rights.",
		"Remove the s bit and grant the exact capability the program needs."),
	[DF_R_INSECURE_RUN] = RULE("CF-DF-015", SCAN_SEV_ERROR, "RUN --security=insecure",
		"The step runs without the build sandbox, like a privileged container.",
		"Remove --security=insecure."),
	[DF_R_EXPOSE_SSH] = RULE("CF-DF-016", SCAN_SEV_WARNING, "SSH port exposed",
		"Containers are entered with the engine's exec, not SSH; an SSH server adds keys and an attack surface.",
		"Remove EXPOSE 22."),
	[DF_R_SSHD] = RULE("CF-DF-017", SCAN_SEV_WARNING, "SSH server in the image",
		"An SSH server in a container needs host keys and passwords or keys, and bypasses the engine's access control.",
		"Remove the SSH server and use the engine's exec."),
	[DF_R_SECRET_ARG] = RULE("CF-DF-018", SCAN_SEV_WARNING, "Build secret passed through ARG",
		"ARG values are recorded in the image history of every RUN that uses them.",
		"Use RUN --mount=type=secret,id=NAME and read /run/secrets/NAME."),
	[DF_R_PLAIN_HTTP] = RULE("CF-DF-019", SCAN_SEV_WARNING, "Download over plain HTTP",
		"A file fetched over http:// (by curl, wget, aria2c, axel, fetch, git or ADD) can be "
		"read and replaced by anyone on the network path. Not reported: loopback hosts "
		"(localhost, 127.0.0.0/8, [::1]), an ADD with --checksum, and a RUN that also "
		"checks a checksum (sha224sum to sha512sum, b2sum or shasum -a 256 and up, with -c) "
		"or a signature (gpg --verify, gpgv). URLs held in variables are not followed.",
		"Download over https:// and verify a checksum of the file (sha256sum -c, or ADD --checksum)."),
};

// ---- reporting -----------------------------------------------------------------

static bool id_listed(char **ids, size_t count, const char *id)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(ids[i], id) == 0)
			return true;
	}
	return false;
}

static void report_va(struct df_lint *lint, enum df_rule_id rule, enum scan_severity severity,
		      int line, int column, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

static void report_va(struct df_lint *lint, enum df_rule_id rule, enum scan_severity severity,
		      int line, int column, const char *fmt, va_list ap)
{
	const struct scan_rule *info = &df_rules[rule];
	if (scan_config_ignored(lint->config, info->id))
		return;
	if (id_listed(lint->file->global_ignores, lint->file->global_ignore_count, info->id))
		return;
	if (lint->owner != NULL &&
	    id_listed(lint->owner->ignores, lint->owner->ignore_count, info->id))
		return;
	severity = scan_config_severity(lint->config, info->id, severity);
	if (severity == SCAN_SEV_NONE)
		return;

	char message[1024];
	int written = vsnprintf(message, sizeof(message), fmt, ap);
	// A value cut off by the buffer must not end in half a UTF-8 sequence.
	if (written >= (int)sizeof(message)) {
		size_t len = sizeof(message) - 1;
		size_t start = len;
		while (start > 0 && ((unsigned char)message[start - 1] & 0xc0) == 0x80)
			start--;
		if (start > 0 && (unsigned char)message[start - 1] >= 0xc0)
			message[start - 1] = '\0';
	}
	struct scan_location location = {
		.file = lint->path,
		.line = line,
		.column = column,
	};
	int rc = scan_report_add(lint->report, info, severity, &location, NULL, info->fix, "%s",
				 message);
	if (rc < 0 && lint->error == 0)
		lint->error = rc;
}

void df_report(struct df_lint *lint, enum df_rule_id rule, int line, int column,
	       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_va(lint, rule, df_rules[rule].severity, line, column, fmt, ap);
	va_end(ap);
}

void df_report_severity(struct df_lint *lint, enum df_rule_id rule, enum scan_severity severity,
			int line, int column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_va(lint, rule, severity, line, column, fmt, ap);
	va_end(ap);
}

// ---- image references ------------------------------------------------------------

void df_image_parse(struct df_arena *arena, const char *image, struct df_image_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	char *copy = df_strdup(arena, image);

	char *at = strchr(copy, '@');
	if (at != NULL) {
		*at = '\0';
		ref->digest = at + 1;
	}
	char *slash = strrchr(copy, '/');
	char *colon = strrchr(slash != NULL ? slash : copy, ':');
	if (colon != NULL) {
		*colon = '\0';
		ref->tag = colon + 1;
	}

	// The first component is a registry when it looks like a host name.
	char *first_slash = strchr(copy, '/');
	if (first_slash != NULL) {
		size_t len = (size_t)(first_slash - copy);
		if (memchr(copy, '.', len) != NULL || memchr(copy, ':', len) != NULL ||
		    (len == 9 && strncmp(copy, "localhost", 9) == 0)) {
			*first_slash = '\0';
			ref->registry = copy;
			copy = first_slash + 1;
		}
	}
	ref->repository = copy;
}

// ---- stages and base images --------------------------------------------------------

static const struct df_stage *final_stage(const struct df_file *file)
{
	return file->stage_count > 0 ? &file->stages[file->stage_count - 1] : NULL;
}

static bool registry_trusted(const struct scan_config *config, const char *registry)
{
	const char *name = registry != NULL ? registry : "docker.io";
	for (size_t i = 0; i < config->trusted_registry_count; i++) {
		const char *trusted = config->trusted_registries[i];
		if (strcasecmp(trusted, name) == 0)
			return true;
		if (fnmatch(trusted, name, FNM_CASEFOLD) == 0)
			return true;
		if (registry == NULL && (strcasecmp(trusted, "hub.docker.com") == 0 ||
					 strcasecmp(trusted, "registry-1.docker.io") == 0))
			return true;
	}
	return false;
}

static bool image_allowed(const struct scan_config *config, const char *image,
			  const struct df_image_ref *ref)
{
	for (size_t i = 0; i < config->allowed_image_count; i++) {
		const char *pattern = config->allowed_images[i];
		if (fnmatch(pattern, image, 0) == 0 || fnmatch(pattern, ref->repository, 0) == 0)
			return true;
	}
	return false;
}

static void check_from(struct df_lint *lint, const struct df_instruction *inst)
{
	struct df_file *file = lint->file;
	const struct df_stage *stage = &file->stages[inst->stage];

	for (size_t i = 0; i < inst->flag_count; i++) {
		const struct df_flag *flag = &inst->flags[i];
		if (strcmp(flag->name, "platform") == 0 && flag->value != NULL &&
		    strchr(flag->value, '$') == NULL)
			df_report(lint, DF_R_DL3029, flag->line, flag->column,
				  "FROM --platform=%s fixes the platform of %s", flag->value,
				  stage->image);
	}

	if (stage->duplicate_of >= 0 && inst->word_count == 3)
		df_report(lint, DF_R_DL3024, inst->words[2].line, inst->words[2].column,
			  "stage name '%s' is already used on line %d", stage->name,
			  file->instructions[file->stages[stage->duplicate_of].instruction].line);

	if (stage->base_stage >= 0 || stage->image_unresolved || inst->word_count == 0)
		return;
	if (strcasecmp(stage->image, "scratch") == 0)
		return;

	const struct df_word *word = &inst->words[0];
	struct df_image_ref ref;
	df_image_parse(&file->arena, stage->image, &ref);

	if (ref.digest == NULL && ref.tag == NULL)
		df_report(lint, DF_R_DL3006, word->line, word->column,
			  "base image %s has no tag, so it means latest", stage->image);
	if (ref.tag != NULL && strcmp(ref.tag, "latest") == 0 && ref.digest == NULL)
		df_report(lint, DF_R_DL3007, word->line, word->column,
			  "base image %s uses the latest tag", stage->image);
	if (ref.digest == NULL) {
		bool floating = ref.tag == NULL || strcmp(ref.tag, "latest") == 0;
		if (floating)
			df_report_severity(lint, DF_R_UNPINNED_DIGEST, SCAN_SEV_ERROR, word->line,
					   word->column,
					   "base image %s has no digest and %s, so every pull may differ",
					   stage->image, ref.tag == NULL ? "no tag" : "floats on latest");
		else
			df_report(lint, DF_R_UNPINNED_DIGEST, word->line, word->column,
				  "base image %s is pinned by tag only, not by digest", stage->image);
	}

	const struct scan_config *config = lint->config;
	if (config->trusted_registry_count > 0 && !registry_trusted(config, ref.registry))
		df_report(lint, DF_R_DL3026, word->line, word->column,
			  "base image %s comes from registry %s, which is not in trusted_registries",
			  stage->image, ref.registry != NULL ? ref.registry : "docker.io");
	if (config->allowed_image_count > 0 && !image_allowed(config, stage->image, &ref))
		df_report(lint, DF_R_IMAGE_NOT_ALLOWED, word->line, word->column,
			  "base image %s is not in allowed_images", stage->image);
}

// Walks from a stage to the stages it is built on; returns the number of
// stages written to chain (at most max).
static size_t stage_chain(const struct df_file *file, int stage, int *chain, size_t max)
{
	size_t count = 0;
	while (stage >= 0 && count < max) {
		chain[count++] = stage;
		stage = file->stages[stage].base_stage;
	}
	return count;
}

static bool is_root_user(const char *user)
{
	size_t len = strcspn(user, ":");
	return (len == 4 && strncmp(user, "root", 4) == 0) || (len == 1 && user[0] == '0');
}

// DL3002, CF-DF-003 and DL3057 look at the final stage and the stages it
// is built on.
static void check_final_stage(struct df_lint *lint)
{
	struct df_file *file = lint->file;
	const struct df_stage *final = final_stage(file);
	if (final == NULL)
		return;

	int chain[64];
	size_t chain_len = stage_chain(file, (int)(file->stage_count - 1), chain, 64);
	const struct df_instruction *last_user = NULL;
	bool healthcheck = false;
	for (size_t c = 0; c < chain_len && last_user == NULL; c++) {
		for (size_t n = file->instruction_count; n > 0; n--) {
			const struct df_instruction *inst = &file->instructions[n - 1];
			if (inst->stage != chain[c])
				continue;
			if (inst->kind == DF_USER && last_user == NULL)
				last_user = inst;
		}
	}
	for (size_t c = 0; c < chain_len; c++) {
		for (size_t n = 0; n < file->instruction_count; n++) {
			const struct df_instruction *inst = &file->instructions[n];
			if (inst->stage == chain[c] && inst->kind == DF_HEALTHCHECK)
				healthcheck = true;
		}
	}

	const struct df_instruction *from = &file->instructions[final->instruction];
	lint->owner = NULL;
	if (last_user != NULL && last_user->word_count > 0) {
		const struct df_word *word = &last_user->words[0];
		lint->owner = last_user;
		if (!word->unresolved && is_root_user(word->value))
			df_report(lint, DF_R_DL3002, word->line, word->column,
				  "the last USER of the final stage is %s", word->value);
	} else if (last_user == NULL) {
		const struct df_stage *root = &file->stages[chain[chain_len - 1]];
		bool nonroot_base = strstr(root->image, "nonroot") != NULL ||
				    strstr(root->image, "rootless") != NULL;
		lint->owner = from;
		if (!nonroot_base)
			df_report(lint, DF_R_RUNS_AS_ROOT, from->line, from->column,
				  "the final stage (FROM %s) never sets USER, so the image runs as root",
				  final->image);
	}

	lint->owner = from;
	if (!healthcheck)
		df_report(lint, DF_R_DL3057, from->line, from->column,
			  "the final stage (FROM %s) has no HEALTHCHECK", final->image);
}

// ---- per-instruction rules ----------------------------------------------------------

static bool is_absolute_path(const char *path)
{
	if (path[0] == '/' || path[0] == '\\')
		return true;
	// Windows drive paths: C:\ or C:/
	return isalpha((unsigned char)path[0]) && path[1] == ':' &&
	       (path[2] == '\\' || path[2] == '/' || path[2] == '\0');
}

static void check_expose(struct df_lint *lint, const struct df_instruction *inst)
{
	for (size_t i = 0; i < inst->word_count; i++) {
		const struct df_word *word = &inst->words[i];
		if (word->unresolved)
			continue;
		const char *v = word->value;
		char *end;
		unsigned long low = strtoul(v, &end, 10);
		if (end == v)
			continue;
		unsigned long high = low;
		if (*end == '-') {
			const char *next = end + 1;
			high = strtoul(next, &end, 10);
			if (end == next)
				high = low;
		}
		if (low > 65535 || high > 65535)
			df_report(lint, DF_R_DL3011, word->line, word->column,
				  "EXPOSE %s is outside the valid port range 0-65535", v);
		else if (low <= 22 && 22 <= high)
			df_report(lint, DF_R_EXPOSE_SSH, word->line, word->column,
				  "EXPOSE %s publishes the SSH port 22", v);
	}
}

static bool valid_label_key(const char *key)
{
	size_t len = strlen(key);
	if (len == 0 || !isalnum((unsigned char)key[0]) || !isalnum((unsigned char)key[len - 1]))
		return false;
	if (strncmp(key, "com.docker.", 11) == 0 || strncmp(key, "io.docker.", 10) == 0 ||
	    strncmp(key, "org.dockerproject.", 18) == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '.' || c == '-'))
			return false;
		if ((c == '.' || c == '-') && (key[i + 1] == '.' || key[i + 1] == '-'))
			return false;
	}
	return true;
}

// DL3044: a value refers to a key set earlier in the same ENV instruction.
// The keys seen so far are in a map, so the check is linear in the text.
static void check_env(struct df_lint *lint, const struct df_instruction *inst)
{
	struct df_map keys = { 0 };
	for (size_t j = 0; j < inst->pair_count; j++) {
		const struct df_pair *pair = &inst->pairs[j];
		const char *raw = pair->raw_value != NULL ? pair->raw_value : "";
		for (const char *at = strchr(raw, '$'); at != NULL && keys.count > 0;
		     at = strchr(at + 1, '$')) {
			const char *name = at[1] == '{' ? at + 2 : at + 1;
			size_t len = 0;
			while (isalnum((unsigned char)name[len]) || name[len] == '_')
				len++;
			const struct df_pair *earlier = len > 0 ? df_map_get(&keys, name, len) : NULL;
			if (earlier != NULL && earlier != pair) {
				df_report(lint, DF_R_DL3044, pair->value_line, pair->value_column,
					  "%s refers to %s, which the same ENV instruction sets",
					  pair->key, earlier->key);
				break;
			}
		}
		df_map_put(&lint->file->arena, &keys, pair->key, strlen(pair->key), (void *)pair);
	}
}

// True when a WORKDIR comes before the current instruction in its stage, or
// anywhere in a stage it is built on.
static bool stage_has_workdir(const struct df_lint *lint, int stage)
{
	const struct df_file *file = lint->file;
	size_t current = (size_t)(lint->owner - file->instructions);
	int chain[64];
	size_t chain_len = stage_chain(file, stage, chain, 64);
	for (size_t c = 0; c < chain_len; c++) {
		size_t first = lint->first_workdir[chain[c]];
		if (c == 0 ? first < current : first != SIZE_MAX)
			return true;
	}
	return false;
}

static bool is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool is_loopback_host(const char *host, size_t len)
{
	if (len == 9 && strncasecmp(host, "localhost", 9) == 0)
		return true;
	if (len == 5 && strncmp(host, "[::1]", 5) == 0)
		return true;
	if (len < 4 || strncmp(host, "127.", 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++) {
		if (!isdigit((unsigned char)host[i]) && host[i] != '.')
			return false;
	}
	return true;
}

bool df_url_plain_http(const char *url)
{
	if (strncasecmp(url, "http://", 7) != 0)
		return false;

	// The authority ends at the path, query or fragment. Skip user
	// information before an @ and the port after the host.
	const char *authority = url + 7;
	size_t end = strcspn(authority, "/?#");
	const char *at = memchr(authority, '@', end);
	const char *host = at != NULL ? at + 1 : authority;
	size_t host_len = (size_t)(authority + end - host);
	if (host[0] == '[') {
		const char *close = memchr(host, ']', host_len);
		if (close != NULL)
			host_len = (size_t)(close - host) + 1;
	} else {
		const char *colon = memchr(host, ':', host_len);
		if (colon != NULL)
			host_len = (size_t)(colon - host);
	}
	return !is_loopback_host(host, host_len);
}

static bool is_tar_archive(const char *s)
{
	static const char *const suffixes[] = {
		".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz",
		".tar.zst", ".gz", ".bz2", ".xz",
	};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (ends_with(s, suffixes[i]))
			return true;
	}
	return false;
}

static const struct df_flag *find_flag(const struct df_instruction *inst, const char *name)
{
	for (size_t i = 0; i < inst->flag_count; i++) {
		if (strcmp(inst->flags[i].name, name) == 0)
			return &inst->flags[i];
	}
	return NULL;
}

static void check_copy_from(struct df_lint *lint, const struct df_instruction *inst,
			    const struct df_flag *from)
{
	const struct df_file *file = lint->file;
	if (from->expanded == NULL || from->unresolved || inst->stage < 0)
		return;
	const char *name = from->expanded;
	const struct df_stage *own = &file->stages[inst->stage];

	if (own->name != NULL && strcasecmp(own->name, name) == 0) {
		df_report(lint, DF_R_DL3023, from->line, from->column,
			  "COPY --from=%s names the stage it is in", name);
		return;
	}
	if (name[0] != '\0' && strspn(name, "0123456789") == strlen(name)) {
		long index = strtol(name, NULL, 10);
		if (index == inst->stage)
			df_report(lint, DF_R_DL3023, from->line, from->column,
				  "COPY --from=%s names the stage it is in", name);
		else if (index > inst->stage)
			df_report(lint, DF_R_DL3022, from->line, from->column,
				  "COPY --from=%s names no earlier stage", name);
		return;
	}
	int named = df_stage_index(lint->file, name);
	if (named >= 0 && named < inst->stage)
		return;
	// A full image reference (registry, path, tag or digest) is allowed.
	if (strpbrk(name, ":/@") != NULL)
		return;
	df_report(lint, DF_R_DL3022, from->line, from->column,
		  "COPY --from=%s names no stage defined above", name);
}

static bool has_mode_bits(const char *mode, bool setid)
{
	size_t len = strlen(mode);
	if (len == 0)
		return false;
	if (strspn(mode, "01234567") == len) {
		if (len > 4)
			return false;
		int others = mode[len - 1] - '0';
		int special = len == 4 ? mode[0] - '0' : 0;
		// The sticky bit only means something on directories, where the
		// setgid bit just passes the group on to new files.
		if (setid)
			return (special & 6) != 0 && (special & 1) == 0;
		// 1777 and the like: world-writable with the sticky bit is the
		// usual mode of shared directories such as /tmp.
		return (others & 2) != 0 && (special & 1) == 0;
	}

	// Symbolic modes: [ugoa]*[+=][rwxXst]*, separated by commas.
	bool found = false;
	const char *clause = mode;
	while (*clause != '\0') {
		size_t n = strcspn(clause, ",");
		const char *op = clause;
		while (op < clause + n && strchr("ugoa", *op) != NULL)
			op++;
		bool who_all = op == clause;
		bool who_other = who_all || memchr(clause, 'o', (size_t)(op - clause)) != NULL ||
				 memchr(clause, 'a', (size_t)(op - clause)) != NULL;
		bool who_owner = who_all || memchr(clause, 'u', (size_t)(op - clause)) != NULL ||
				 memchr(clause, 'g', (size_t)(op - clause)) != NULL;
		if (op < clause + n && (*op == '+' || *op == '=')) {
			const char *perms = op + 1;
			size_t plen = n - (size_t)(perms - clause);
			if (setid && who_owner && memchr(perms, 's', plen) != NULL)
				found = true;
			if (!setid && who_other && !who_all && memchr(perms, 'w', plen) != NULL)
				found = true;
		}
		clause += n;
		if (*clause == ',')
			clause++;
	}
	return found;
}

bool df_mode_world_writable(const char *mode)
{
	return has_mode_bits(mode, false);
}

bool df_mode_setid(const char *mode)
{
	return has_mode_bits(mode, true);
}

static void check_copy(struct df_lint *lint, const struct df_instruction *inst)
{
	size_t count = inst->word_count;
	if (count < 2)
		return;
	const struct df_word *dest = &inst->words[count - 1];

	const struct df_flag *from = find_flag(inst, "from");
	if (inst->kind == DF_COPY && from != NULL)
		check_copy_from(lint, inst, from);

	const struct df_flag *chmod = find_flag(inst, "chmod");
	if (chmod != NULL && chmod->expanded != NULL && !chmod->unresolved) {
		if (df_mode_world_writable(chmod->expanded))
			df_report(lint, DF_R_WORLD_WRITABLE, chmod->line, chmod->column,
				  "--chmod=%s makes the copied files world-writable", chmod->expanded);
		if (df_mode_setid(chmod->expanded))
			df_report(lint, DF_R_SETUID, chmod->line, chmod->column,
				  "--chmod=%s sets the setuid or setgid bit", chmod->expanded);
	}

	if (count > 2 && !dest->unresolved) {
		size_t len = strlen(dest->value);
		if (len > 0 && dest->value[len - 1] != '/' && dest->value[len - 1] != '\\')
			df_report(lint, DF_R_DL3021, dest->line, dest->column,
				  "%s of %zu sources needs a destination ending in /, not %s",
				  df_kind_name(inst->kind), count - 1, dest->value);
	}
	if (inst->kind == DF_COPY && !dest->unresolved && !is_absolute_path(dest->value) &&
	    dest->value[0] != '$' && inst->stage >= 0 && !stage_has_workdir(lint, inst->stage))
		df_report(lint, DF_R_DL3045, dest->line, dest->column,
			  "COPY to relative destination %s with no WORKDIR set in this stage",
			  dest->value);

	for (size_t i = 0; i + 1 < count; i++) {
		const struct df_word *src = &inst->words[i];
		if (src->unresolved || strncmp(src->raw, "<<", 2) == 0)
			continue;
		// Git sources (URL.git or URL.git#ref) are a checkout, not a file
		// download, and are left to the git commit pinning of the user.
		bool git = ends_with(src->value, ".git") || strstr(src->value, ".git#") != NULL;
		if (inst->kind == DF_ADD && is_url(src->value) && find_flag(inst, "checksum") == NULL &&
		    !git)
			df_report(lint, DF_R_ADD_NO_CHECKSUM, src->line, src->column,
				  "ADD %s fetches remote content without --checksum", src->value);
		if (inst->kind == DF_ADD && df_url_plain_http(src->value) &&
		    find_flag(inst, "checksum") == NULL)
			df_report(lint, DF_R_PLAIN_HTTP, src->line, src->column,
				  "ADD fetches %s over plain HTTP", src->value);
		if (inst->kind == DF_ADD && !is_url(src->value) && !is_tar_archive(src->value) &&
		    strncmp(src->value, "git@", 4) != 0 && !git) {
			df_report(lint, DF_R_DL3020, src->line, src->column,
				  "ADD %s copies a local file; use COPY", src->value);
			break;
		}
	}
}

static void check_run_flags(struct df_lint *lint, const struct df_instruction *inst)
{
	const struct df_flag *security = find_flag(inst, "security");
	if (security != NULL && security->value != NULL && strcmp(security->value, "insecure") == 0)
		df_report(lint, DF_R_INSECURE_RUN, security->line, security->column,
			  "RUN --security=insecure runs this step outside the build sandbox");
}

struct stage_counts {
	int stage;
	int healthcheck;
	int cmd;
	int entrypoint;
	const struct df_instruction *previous;
};

static void check_instruction(struct df_lint *lint, const struct df_instruction *inst,
			      struct stage_counts *counts, bool trigger)
{
	if (!trigger && inst->stage != counts->stage) {
		memset(counts, 0, sizeof(*counts));
		counts->stage = inst->stage;
	}

	switch (inst->kind) {
	case DF_FROM:
		if (trigger)
			df_report(lint, DF_R_DL3043, inst->line, inst->column,
				  "ONBUILD cannot trigger FROM");
		else if (inst->stage >= 0)
			check_from(lint, inst);
		break;
	case DF_MAINTAINER:
		if (trigger)
			df_report(lint, DF_R_DL3043, inst->line, inst->column,
				  "ONBUILD cannot trigger MAINTAINER");
		df_report(lint, DF_R_DL4000, inst->line, inst->column,
			  "MAINTAINER is deprecated; use a LABEL");
		break;
	case DF_WORKDIR:
		if (inst->word_count > 0 && !inst->words[0].unresolved &&
		    !is_absolute_path(inst->words[0].value) && inst->words[0].raw[0] != '$')
			df_report(lint, DF_R_DL3000, inst->words[0].line, inst->words[0].column,
				  "WORKDIR %s is relative", inst->words[0].value);
		break;
	case DF_EXPOSE:
		check_expose(lint, inst);
		break;
	case DF_LABEL:
		for (size_t i = 0; i < inst->pair_count; i++) {
			if (!valid_label_key(inst->pairs[i].key))
				df_report(lint, DF_R_DL3048, inst->pairs[i].line, inst->pairs[i].column,
					  "label key '%s' is not lower-case dotted notation",
					  inst->pairs[i].key);
		}
		break;
	case DF_ENV:
		check_env(lint, inst);
		break;
	case DF_COPY:
	case DF_ADD:
		check_copy(lint, inst);
		break;
	case DF_RUN:
		check_run_flags(lint, inst);
		if (!trigger && counts->previous != NULL && counts->previous->kind == DF_RUN &&
		    counts->previous->flag_count == 0 && inst->flag_count == 0)
			df_report(lint, DF_R_DL3059, inst->line, inst->column,
				  "RUN follows the RUN on line %d; consider joining them",
				  counts->previous->line);
		break;
	case DF_CMD:
	case DF_ENTRYPOINT:
		if (!inst->exec_form && inst->word_count > 0)
			df_report(lint, DF_R_DL3025, inst->line, inst->column,
				  "%s uses the shell form; write it as a JSON array",
				  df_kind_name(inst->kind));
		if (!trigger && inst->kind == DF_CMD && ++counts->cmd > 1)
			df_report(lint, DF_R_DL4003, inst->line, inst->column,
				  "this stage has more than one CMD; only the last one takes effect");
		if (!trigger && inst->kind == DF_ENTRYPOINT && ++counts->entrypoint > 1)
			df_report(lint, DF_R_DL4004, inst->line, inst->column,
				  "this stage has more than one ENTRYPOINT; only the last one takes effect");
		break;
	case DF_HEALTHCHECK:
		if (!trigger && ++counts->healthcheck > 1)
			df_report(lint, DF_R_DL3012, inst->line, inst->column,
				  "this stage has more than one HEALTHCHECK; only the last one takes effect");
		break;
	case DF_ONBUILD:
		if (inst->trigger != NULL) {
			if (inst->trigger->kind == DF_ONBUILD)
				df_report(lint, DF_R_DL3043, inst->trigger->line,
					  inst->trigger->column, "ONBUILD cannot trigger ONBUILD");
			else
				check_instruction(lint, inst->trigger, counts, true);
		}
		break;
	default:
		break;
	}
	if (!trigger)
		counts->previous = inst;
}

void df_check_instructions(struct df_lint *lint)
{
	struct df_file *file = lint->file;
	struct stage_counts counts = { .stage = -2 };

	lint->first_workdir = df_alloc(&file->arena, (file->stage_count + 1) * sizeof(size_t));
	for (size_t s = 0; s < file->stage_count; s++)
		lint->first_workdir[s] = SIZE_MAX;
	for (size_t n = file->instruction_count; n > 0; n--) {
		const struct df_instruction *inst = &file->instructions[n - 1];
		if (inst->kind == DF_WORKDIR && inst->stage >= 0)
			lint->first_workdir[inst->stage] = n - 1;
	}
	bool before_from_reported = false;

	for (size_t i = 0; i < file->error_count; i++) {
		lint->owner = NULL;
		for (size_t n = 0; n < file->instruction_count; n++) {
			const struct df_instruction *inst = &file->instructions[n];
			if (inst->line <= file->errors[i].line && file->errors[i].line <= inst->end_line)
				lint->owner = inst;
		}
		df_report(lint, DF_R_SYNTAX, file->errors[i].line, file->errors[i].column, "%s",
			  file->errors[i].message);
	}

	for (size_t n = 0; n < file->instruction_count; n++) {
		const struct df_instruction *inst = &file->instructions[n];
		lint->owner = inst;
		if (inst->stage < 0 && inst->kind != DF_ARG && inst->kind != DF_UNKNOWN &&
		    !before_from_reported) {
			df_report(lint, DF_R_DL3061, inst->line, inst->column,
				  "%s comes before the first FROM; only ARG may", inst->keyword);
			before_from_reported = true;
		}
		check_instruction(lint, inst, &counts, false);
	}
	check_final_stage(lint);
	lint->owner = NULL;
}
