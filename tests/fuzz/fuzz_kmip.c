// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the TTLV decoder, the KMIP message parsers and the KMS
// request engine. Because the decoder accepts only canonical encodings,
// every input it accepts must encode back to the same bytes; a difference
// aborts. Each input is also run as a request against a key store in a
// temporary directory (made on first use, removed at exit), and the
// response must always be a valid Response Message.

#include <coffer/keystore_attributes.h>
#include <coffer/kms.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ks_store *store;
static char store_dir[64];

static void remove_store(void)
{
	char command[128];

	ks_close(store);
	snprintf(command, sizeof(command), "rm -rf '%s'", store_dir);
	if (system(command) != 0)
		fprintf(stderr, "fuzz_kmip: cannot remove %s\n", store_dir);
}

static struct ks_store *open_store(void)
{
	if (store != NULL)
		return store;
	// Failed requests are logged one line each; millions of inputs would
	// drown the fuzzer's own output.
	cf_log_set_level(CF_LOG_ERROR);
	snprintf(store_dir, sizeof(store_dir), "/tmp/coffer-fuzz-kmip.XXXXXX");
	if (mkdtemp(store_dir) == NULL)
		abort();
	struct ks_options options = { .dir = store_dir, .create_master_key = true };
	if (ks_open(&store, &options, NULL) != 0 || ks_attr_init(store, NULL) != 0 ||
	    ks_sync_defer(store, true, NULL) != 0)
		abort();
	atexit(remove_store);
	return store;
}

static void check_round_trip(const uint8_t *data, size_t size)
{
	struct kmip_item *root = NULL;

	if (kmip_decode(data, size, NULL, &root, NULL) != 0)
		return;
	struct kmip_buf buf;
	kmip_buf_init(&buf, 0);
	kmip_enc_item(&buf, root);
	if (kmip_buf_error(&buf) != 0 || buf.size != size || memcmp(buf.data, data, size) != 0)
		abort();
	kmip_buf_free(&buf);
	kmip_item_free(root);
}

static void run_request(const uint8_t *data, size_t size)
{
	static const struct ks_caller caller = { "fuzz", false };
	struct kmip_buf response;
	struct kmip_response parsed;

	kmip_buf_init(&response, 0);
	if (kms_handle_request(open_store(), &caller, data, size, &response) != 0)
		abort();
	if (kmip_response_parse(response.data, response.size, NULL, &parsed, NULL) != 0)
		abort();
	kmip_response_free(&parsed);
	kmip_buf_free(&response);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_round_trip(data, size);

	struct kmip_request req;
	if (kmip_request_parse(data, size, NULL, &req, NULL) == 0)
		kmip_request_free(&req);

	struct kmip_response resp;
	if (kmip_response_parse(data, size, NULL, &resp, NULL) == 0)
		kmip_response_free(&resp);

	if (size >= KMIP_HEADER_SIZE) {
		size_t total;
		kmip_frame_size(data, KMIP_TAG_REQUEST_MESSAGE, KMIP_DEFAULT_MAX_MESSAGE, &total, NULL);
	}

	run_request(data, size);
	return 0;
}
