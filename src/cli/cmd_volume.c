// SPDX-License-Identifier: Apache-2.0
// `coffer volume`: placeholder until the admin API client lands.

#include "cli.h"

int cmd_volume(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error("volume commands are not built yet");
}

int cmd_storage(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error("storage commands are not built yet");
}
