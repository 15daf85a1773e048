// SPDX-License-Identifier: Apache-2.0
// Small helpers: hex, directories, whole-file reads, the mount table,
// process hardening.

#include <coffer/common.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cf_hex_encode(const uint8_t *in, size_t size, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < size; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * size] = '\0';
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

int cf_hex_decode(const char *hex, uint8_t *out, size_t size)
{
	if (strlen(hex) != 2 * size)
		return -EINVAL;
	for (size_t i = 0; i < size; i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int cf_mkdir_p(const char *dir, unsigned mode, struct cf_error *err)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return cf_error_set(err, -ENAMETOOLONG, "directory path '%s' is empty or too long", dir);
	memcpy(path, dir, len + 1);

	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST)
			return cf_error_set(err, -errno, "cannot create directory %s: %s",
					    path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return cf_error_set(err, -errno, "cannot create directory %s: %s", path,
				    strerror(errno));
	return 0;
}

int cf_read_file(const char *path, size_t max, char **data, size_t *size,
		 struct cf_error *err)
{
	int rc = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));

	for (;;) {
		if (len + 1 >= cap) {
			size_t next = cap ? cap * 2 : 8192;
			char *grown = realloc(buf, next);
			if (grown == NULL) {
				rc = cf_error_set(err, -ENOMEM, "out of memory reading %s", path);
				goto out;
			}
			buf = grown;
			cap = next;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = cf_error_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = cf_error_set(err, -EFBIG, "%s is larger than the limit of %zu bytes",
					  path, max);
			goto out;
		}
	}
	buf[len] = '\0';
	*data = buf;
	buf = NULL;
	if (size != NULL)
		*size = len;

out:
	free(buf);
	close(fd);
	return rc;
}

int cf_mount_foreach(int (*visit)(const char *mount_point, const char *fstype,
				  const char *source, void *arg),
		     void *arg)
{
	FILE *info = fopen("/proc/self/mountinfo", "r");
	if (info == NULL)
		return -errno;

	// Fields: id parent major:minor root mountpoint options ... - type source.
	char line[3 * 4096];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), info) != NULL) {
		char mount_point[4096], fstype[256], source[4096];
		const char *tail = strstr(line, " - ");
		if (tail == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mount_point) != 1 ||
		    sscanf(tail, " - %255s %4095s", fstype, source) != 2)
			continue;
		rc = visit(mount_point, fstype, source, arg);
	}
	fclose(info);
	return rc;
}

int cf_harden_process(struct cf_error *err)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return cf_error_set(err, -errno, "prctl(PR_SET_DUMPABLE) failed: %s",
				    strerror(errno));
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return cf_error_set(err, -errno, "setrlimit(RLIMIT_CORE) failed: %s",
				    strerror(errno));
	return 0;
}

int64_t cf_now(void)
{
	return (int64_t)time(NULL);
}
