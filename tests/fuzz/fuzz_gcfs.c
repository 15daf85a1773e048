// SPDX-License-Identifier: Apache-2.0
// Feeds untrusted bytes to the gocryptfs decoders: the file header, content
// blocks, encoded names and symlink targets. The first byte selects the
// decoder, the rest is its input. Keys are fixed, so inputs replay exactly.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "volume/engines/fuse/gcfs.h"

static struct gcfs_ctx *fuzz_ctx(void)
{
	static struct gcfs_ctx *ctx;
	static struct gcfs_keys *keys;
	if (ctx == NULL) {
		uint8_t master[GCFS_MASTER_KEY_SIZE];
		for (size_t i = 0; i < sizeof(master); i++)
			master[i] = (uint8_t)i;
		if (gcfs_keys_new(&keys, master) != 0 || gcfs_ctx_new(&ctx, keys) != 0)
			abort();
	}
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gcfs_ctx *ctx = fuzz_ctx();
	uint8_t diriv[GCFS_DIRIV_SIZE] = { 0 };
	uint8_t file_id[GCFS_FILE_ID_SIZE];
	uint8_t plain[GCFS_BLOCK_SIZE];
	size_t plain_size = 0;
	char text[8192];

	if (size == 0)
		return 0;
	uint8_t selector = data[0] % 5;
	data++;
	size--;

	switch (selector) {
	case 0:
		(void)gcfs_header_decode(data, size, file_id);
		(void)gcfs_plain_size(size);
		break;
	case 1:
		memset(file_id, 0x11, sizeof(file_id));
		(void)gcfs_block_open(ctx, 0, file_id, data, size, plain, &plain_size);
		break;
	case 2: {
		char name[GCFS_NAME_MAX + 1];
		size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
		memcpy(text, data, len);
		text[len] = '\0';
		(void)gcfs_name_decrypt(ctx, diriv, text, name);
		(void)gcfs_longname_kind(text);
		break;
	}
	case 3: {
		char target[GCFS_SYMLINK_MAX + 1];
		size_t len = size < sizeof(text) ? size : sizeof(text);
		memcpy(text, data, len);
		(void)gcfs_symlink_decrypt(ctx, text, len, target, sizeof(target));
		break;
	}
	default: {
		uint8_t out[6200];
		size_t len = size < sizeof(text) ? size : sizeof(text);
		memcpy(text, data, len);
		(void)gcfs_base64_decode(text, len, out, sizeof(out));
		break;
	}
	}
	return 0;
}
