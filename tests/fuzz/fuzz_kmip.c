// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the TTLV decoder and the KMIP message parsers. Because
// the decoder accepts only canonical encodings, every input it accepts must
// encode back to the same bytes; a difference aborts.

#include <coffer/kmip.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmip_item *root = NULL;

	if (kmip_decode(data, size, NULL, &root, NULL) == 0) {
		struct kmip_buf buf;
		kmip_buf_init(&buf, 0);
		kmip_enc_item(&buf, root);
		if (kmip_buf_error(&buf) != 0 || buf.size != size ||
		    memcmp(buf.data, data, size) != 0)
			abort();
		kmip_buf_free(&buf);
		kmip_item_free(root);
	}

	struct kmip_request req;
	if (kmip_request_parse(data, size, NULL, &req, NULL) == 0) {
		for (size_t i = 0; i < req.count; i++) {
			char id[128];
			kmip_get_text(req.items[i].payload, KMIP_TAG_UNIQUE_IDENTIFIER, id,
				      sizeof(id));
		}
		kmip_request_free(&req);
	}

	struct kmip_response resp;
	if (kmip_response_parse(data, size, NULL, &resp, NULL) == 0)
		kmip_response_free(&resp);

	if (size >= KMIP_HEADER_SIZE) {
		size_t total;
		kmip_frame_size(data, KMIP_TAG_REQUEST_MESSAGE, KMIP_DEFAULT_MAX_MESSAGE,
				&total, NULL);
	}
	return 0;
}
