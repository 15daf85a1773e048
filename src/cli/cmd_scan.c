// SPDX-License-Identifier: Apache-2.0
// `coffer scan`: the security scanners. Each scanner is one line in the
// table below and lives in its own cmd_scan_*.c file.

#include "cli.h"

static const struct cli_command scan_commands[] = {
	{ "dockerfile", "lint Dockerfiles for insecure practice", cmd_scan_dockerfile },
	{ "k8s", "check Kubernetes manifests for insecure settings", cmd_scan_k8s },
	{ "image", "list packages and known vulnerabilities of a saved image", cmd_scan_image },
	{ "rootfs", "list packages and known vulnerabilities of a root filesystem", cmd_scan_rootfs },
	{ NULL, NULL, NULL },
};

int cmd_scan(int argc, char **argv)
{
	return cli_dispatch("coffer scan", scan_commands, argc, argv);
}
