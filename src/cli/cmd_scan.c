// SPDX-License-Identifier: Apache-2.0
// `coffer scan`: the security scanners. Each scanner is one line in the
// table below and lives in its own cmd_scan_*.c file.

#include "cli.h"

static const struct cli_command scan_commands[] = {
	{ "dockerfile", "lint Dockerfiles for insecure practice", cmd_scan_dockerfile },
	{ "k8s", "check Kubernetes manifests for insecure settings", cmd_scan_k8s },
	{ NULL, NULL, NULL },
};

int cmd_scan(int argc, char **argv)
{
	return cli_dispatch("coffer scan", scan_commands, argc, argv);
}
