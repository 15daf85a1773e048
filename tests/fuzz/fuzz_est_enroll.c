// SPDX-License-Identifier: Apache-2.0
// Fuzzes the enrollment request path of the EST server. The input is
// base64-decoded as the server does, and also tried as raw DER, so the
// corpus may contain either. Each request is parsed as PKCS#10 with its
// signature checked and run through the issuance policy against a fixed
// list of allowed SANs. The enrollment path reads SANs and CN without an
// X509_REQ (ca_csr_identity), and the target aborts when that disagrees
// with the policy check on the X509_REQ.

#include <coffer/ca.h>

#include "ca/ca_internal.h"

#include <stdint.h>
#include <stdlib.h>

static const char *const allowed_sans[] = {
	"DNS:node.test",
	"IP:127.0.0.1",
	"URI:spiffe://coffer/node/a",
};

static void check_request(const uint8_t *der, size_t size)
{
	struct cf_error err = { 0 };
	X509_REQ *req = NULL;

	if (ca_csr_parse(der, size, &req, &err) != 0)
		return;
	cf_error_reset(&err);
	int policy_rc = ca_policy_check(req, allowed_sans,
					sizeof(allowed_sans) / sizeof(allowed_sans[0]), &err);

	struct ca_san_list *sans = malloc(sizeof(*sans));
	char cn[256];
	if (sans == NULL)
		abort();
	cf_error_reset(&err);
	int identity_rc = ca_csr_identity(der, size, sans, cn, sizeof(cn), &err);
	if (identity_rc != 0 && policy_rc == 0)
		abort();
	if (identity_rc == 0) {
		// The request must pass the policy check when it may carry
		// exactly the SANs that ca_csr_identity found.
		const char *names[CA_SAN_MAX];
		for (size_t i = 0; i < sans->count; i++)
			names[i] = sans->names[i];
		cf_error_reset(&err);
		if (ca_policy_check(req, names, sans->count, &err) != 0)
			abort();
	}
	free(sans);
	X509_REQ_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *der = NULL;
	size_t der_size = 0;

	if (size > CA_REQUEST_MAX)
		return 0;
	if (ca_base64_decode((const char *)data, size, &der, &der_size) == 0) {
		check_request(der, der_size);
		free(der);
	}
	check_request(data, size);
	return 0;
}
