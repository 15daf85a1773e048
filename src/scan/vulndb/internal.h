// SPDX-License-Identifier: Apache-2.0
// The vulnerability database handle, shared by import and matching.

#ifndef COFFER_SCAN_VULNDB_INTERNAL_H
#define COFFER_SCAN_VULNDB_INTERNAL_H

#include <sqlite3.h>

struct vulndb {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *insert_advisory;
	sqlite3_stmt *delete_affected;
	sqlite3_stmt *insert_affected;
};

#endif
