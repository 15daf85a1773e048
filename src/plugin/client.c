// SPDX-License-Identifier: Apache-2.0
// Client side of the admin API for `coffer volume`: one blocking HTTP/1.1
// request per connection ("Connection: close"), read until the server
// closes. The server is coffer's own evhttp, which always sends a
// Content-Length for these replies, so chunked responses are not handled.

#include <coffer/plugin.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RESPONSE_MAX (16 * 1024 * 1024)
#define CLIENT_TIMEOUT_MS (120 * 1000)

static int connect_unix(const char *path, struct cf_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path))
		return cf_error_set(err, -ENAMETOOLONG, "admin socket path %s is too long", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cf_error_set(err, -errno, "cannot create a socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int saved = errno;
		close(fd);
		return cf_error_set(err, -saved,
				    "cannot connect to the storage manager at %s: %s; is "
				    "'coffer storage serve' running with this --admin-socket?",
				    path, strerror(saved));
	}
	return fd;
}

static int write_all(int fd, const char *data, size_t size, struct cf_error *err)
{
	while (size > 0) {
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cf_error_set(err, -errno, "cannot send the request: %s", strerror(errno));
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, char **data, size_t *size, struct cf_error *err)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	int rc = 0;

	if (buf == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory reading the response");
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, CLIENT_TIMEOUT_MS);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			rc = cf_error_set(err, -ETIMEDOUT,
					  "timed out after %d s waiting for the storage manager",
					  CLIENT_TIMEOUT_MS / 1000);
			goto out;
		}
		if (len + 1 >= cap) {
			if (cap >= RESPONSE_MAX) {
				rc = cf_error_set(err, -EFBIG, "response larger than %d bytes",
						  RESPONSE_MAX);
				goto out;
			}
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				rc = cf_error_set(err, -ENOMEM, "out of memory reading the response");
				goto out;
			}
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cf_error_set(err, -errno, "cannot read the response: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*data = buf;
	*size = len;
	buf = NULL;

out:
	free(buf);
	return rc;
}

// Splits a raw response into its status code and body.
static int parse_response(char *raw, int *status, char **body, struct cf_error *err)
{
	int code;

	if (sscanf(raw, "HTTP/1.%*d %3d", &code) != 1 || code < 100 || code > 599)
		return cf_error_set(err, -EPROTO, "malformed response from the storage manager");
	char *end = strstr(raw, "\r\n\r\n");
	if (end == NULL)
		return cf_error_set(err, -EPROTO,
				    "malformed response from the storage manager: no end of headers");
	*body = strdup(end + 4);
	if (*body == NULL)
		return cf_error_set(err, -ENOMEM, "out of memory reading the response");
	*status = code;
	return 0;
}

int plugin_admin_request(const char *socket_path, const char *method, const char *path,
			 const char *body, int *status, char **response, struct cf_error *err)
{
	char *head = NULL, *raw = NULL;
	size_t raw_size;
	size_t body_size = body != NULL ? strlen(body) : 0;
	int rc;

	int fd = connect_unix(socket_path, err);
	if (fd < 0)
		return fd;

	int head_size = asprintf(&head,
				 "%s %s HTTP/1.1\r\nHost: coffer\r\nConnection: close\r\n"
				 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
				 method, path, body_size);
	if (head_size < 0) {
		head = NULL;
		rc = cf_error_set(err, -ENOMEM, "out of memory building the request");
		goto out;
	}
	rc = write_all(fd, head, (size_t)head_size, err);
	if (rc == 0 && body_size > 0)
		rc = write_all(fd, body, body_size, err);
	if (rc < 0)
		goto out;

	rc = read_all(fd, &raw, &raw_size, err);
	if (rc < 0)
		goto out;
	rc = parse_response(raw, status, response, err);

out:
	free(head);
	free(raw);
	close(fd);
	return rc;
}
