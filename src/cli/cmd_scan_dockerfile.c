// SPDX-License-Identifier: Apache-2.0
// `coffer scan dockerfile`: placeholder until the Dockerfile linter lands.

#include "cli.h"

int cmd_scan_dockerfile(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error("the Dockerfile linter is not built yet");
}
