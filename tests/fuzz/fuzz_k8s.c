// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the Kubernetes manifest loader and checks: any input is
// parsed, checked and written as JSON and SARIF. Errors are fine; crashes,
// leaks and undefined behaviour are not. Every finding must carry a rule
// and a message, so a broken finding aborts.

#include <coffer/scan_k8s.h>

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_report *report = scan_report_new("coffer-k8s");
	struct scan_k8s_options options = { .profile = SCAN_K8S_PROFILE_RESTRICTED };
	struct scan_k8s *scan = report ? scan_k8s_new(&options, report) : NULL;
	if (scan == NULL)
		abort();

	scan_k8s_add_buffer(scan, "fuzz.yaml", (const char *)data, size);
	if (scan_k8s_run(scan) == 0) {
		for (size_t i = 0; i < scan_report_count(report); i++) {
			const struct scan_finding *finding = scan_report_get(report, i);
			if (finding->rule == NULL || finding->message == NULL)
				abort();
		}
		json_decref(scan_report_to_json(report));
		json_decref(scan_report_to_sarif(report));
	}

	scan_k8s_free(scan);
	scan_report_free(report);
	return 0;
}
