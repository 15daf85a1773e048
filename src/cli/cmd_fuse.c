// SPDX-License-Identifier: Apache-2.0
// `coffer fuse-server`: the per-volume FUSE process of the userspace
// engine. The storage manager starts it; administrators may run it by hand
// to open a volume or a gocryptfs directory whose master key they hold.
// The 32-byte master key is read from a file descriptor, never from argv
// or the environment.

#include "cli.h"

#include "volume/engines/fuse/server.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void fuse_server_usage(FILE *out)
{
	fprintf(out,
		"Usage: coffer fuse-server --key-fd N [OPTIONS] CIPHER_DIR MOUNT_POINT\n\n"
		"Serves a gocryptfs-format directory as a plaintext FUSE mount until it is\n"
		"unmounted. Normally started by the storage manager.\n\n"
		"Options:\n"
		"  --key-fd N        read the 32-byte master key (raw bytes) from descriptor N;\n"
		"                    when N is a socket, \"ready io_uring\" or \"ready dev_fuse\"\n"
		"                    is written back once mounted\n"
		"  --volume NAME     volume name for logs and the mount's fsname (default: the\n"
		"                    ciphertext directory's name)\n"
		"  --init            create the root directory IV when CIPHER_DIR has none\n"
		"  --no-allow-other  mount for the calling user only\n"
		"  --threads N       maximum FUSE worker threads (default: libfuse's)\n"
		"  --cache-timeout S entry and attribute cache lifetime in seconds (default 1)\n"
		"  --uring MODE      request transport: auto (io_uring when the fuse module\n"
		"                    parameter enable_uring is Y, else /dev/fuse), off (/dev/fuse\n"
		"                    only), require (fail without io_uring) or enable (set\n"
		"                    enable_uring=Y, a kernel-wide setting used only by FUSE\n"
		"                    servers that request io_uring, then require); default: the\n"
		"                    environment variable COFFER_FUSE_URING, else auto\n");
}

static int read_key(int fd, uint8_t *key)
{
	size_t done = 0;
	while (done < GCFS_MASTER_KEY_SIZE) {
		ssize_t n = read(fd, key + done, GCFS_MASTER_KEY_SIZE - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EINVAL;
		done += (size_t)n;
	}
	return 0;
}

static bool is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

int cmd_fuse_server(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "key-fd", required_argument, NULL, 'k' },
		{ "volume", required_argument, NULL, 'v' },
		{ "init", no_argument, NULL, 'i' },
		{ "no-allow-other", no_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "cache-timeout", required_argument, NULL, 'c' },
		{ "uring", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gcfs_server_options options = {
		.ready_fd = -1,
		.allow_other = true,
		.cache_timeout = 1.0,
	};
	struct cf_error err = { 0 };
	bool init = false;
	int key_fd = -1, opt;
	char *end;

	const char *uring = getenv("COFFER_FUSE_URING");
	if (uring != NULL && uring[0] != '\0' &&
	    gcfs_uring_mode_parse(uring, &options.uring_mode) != 0)
		return cli_usage_error("invalid COFFER_FUSE_URING '%s': expected auto, off, require"
				       " or enable", uring);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			key_fd = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || key_fd < 0)
				return cli_usage_error("invalid --key-fd '%s': expected a descriptor number",
						       optarg);
			break;
		case 'v':
			options.volume = optarg;
			break;
		case 'i':
			init = true;
			break;
		case 'n':
			options.allow_other = false;
			break;
		case 't':
			options.max_threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || options.max_threads == 0 || options.max_threads > 256)
				return cli_usage_error("invalid --threads '%s': expected 1 to 256", optarg);
			break;
		case 'c':
			options.cache_timeout = strtod(optarg, &end);
			if (*end != '\0' || options.cache_timeout < 0 || options.cache_timeout > 3600)
				return cli_usage_error("invalid --cache-timeout '%s': expected 0 to 3600 seconds",
						       optarg);
			break;
		case 'u':
			if (gcfs_uring_mode_parse(optarg, &options.uring_mode) != 0)
				return cli_usage_error("invalid --uring '%s': expected auto, off, require"
						       " or enable", optarg);
			break;
		case 'h':
			fuse_server_usage(stdout);
			return CLI_EXIT_OK;
		default:
			fuse_server_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("fuse-server needs --key-fd N, CIPHER_DIR and MOUNT_POINT,"
				       " got %d arguments (the storage manager normally starts"
				       " it); run 'coffer fuse-server --help'", argc - optind);
	if (key_fd < 0)
		return cli_usage_error("missing --key-fd: the descriptor to read the 32-byte"
				       " volume key from; run 'coffer fuse-server --help'");
	options.cipher_dir = argv[optind];
	options.mount_point = argv[optind + 1];
	if (options.volume == NULL) {
		const char *slash = strrchr(options.cipher_dir, '/');
		options.volume = slash != NULL && slash[1] != '\0' ? slash + 1 : options.cipher_dir;
	}

	int rc = cf_harden_process(&err);
	if (rc != 0)
		return cli_fail(rc, &err);
	if (init) {
		rc = gcfs_init_dir(options.cipher_dir, &err);
		if (rc != 0)
			return cli_fail(rc, &err);
	}

	uint8_t *key = cf_secure_alloc(GCFS_MASTER_KEY_SIZE);
	if (key == NULL)
		return cli_fail(-ENOMEM, NULL);
	rc = read_key(key_fd, key);
	if (rc != 0) {
		cf_secure_free(key);
		cf_error_set(&err, rc, "cannot read the 32-byte master key from descriptor %d",
			     key_fd);
		return cli_fail(rc, &err);
	}
	if (is_socket(key_fd))
		options.ready_fd = key_fd;
	else
		close(key_fd);

	rc = gcfs_server_run(&options, key, &err);
	cf_secure_free(key);
	if (rc != 0)
		return cli_fail(rc, &err);
	return CLI_EXIT_OK;
}
