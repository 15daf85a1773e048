// SPDX-License-Identifier: Apache-2.0
// `coffer volume export-gocryptfs-key`: prints the gocryptfs master key of
// a fuse volume, so an administrator can open the volume with stock
// gocryptfs (`gocryptfs -masterkey=stdin`) without coffer. It reads the
// volume's key from the embedded key store in the storage manager's state
// directory, or from the KMIP server given with --kms. It refuses unless
// --force is given and records every attempt, refused or not: in the key
// store's audit log, or on the KMS as an instance of the key's
// x-coffer-key-export attribute (which coffer's KMS also audits).

#include "cli.h"

#include "volume/engine.h"

#include <coffer/keystore.h>
#include <coffer/kmip.h>
#include <coffer/volume.h>

#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void export_usage(FILE *out)
{
	fprintf(out,
		"Usage: coffer volume export-gocryptfs-key --force [--state-dir DIR]\n"
		"       [--kms kmip://HOST:PORT --kms-cert FILE --kms-key FILE --kms-ca FILE] NAME\n\n"
		"Prints the 32-byte gocryptfs master key of the fuse volume NAME in hex.\n"
		"Anyone with it can decrypt the volume: `gocryptfs -masterkey=stdin\n"
		"STATE_DIR/fuse-volumes/NAME MOUNTPOINT` reads it from standard input.\n"
		"Every attempt is recorded: in the embedded key store's audit log, or, with\n"
		"--kms, on the KMS as an instance of the key's x-coffer-key-export attribute\n"
		"(the key is not printed when that fails). It warns when coffer has the\n"
		"volume mounted: unmount it before gocryptfs mounts the ciphertext.\n\n"
		"Options:\n"
		"  --force           required: confirms that the key may be printed\n"
		"  --state-dir DIR   the storage manager's state directory\n"
		"                    (default /var/lib/coffer)\n"
		"  --kms URL         the volume keys are on this KMIP server, as with\n"
		"                    `coffer storage serve --kms`; needs the three options below\n"
		"  --kms-cert FILE   client certificate for the KMS (PEM)\n"
		"  --kms-key FILE    client private key for the KMS (PEM)\n"
		"  --kms-ca FILE     CA bundle for the KMS server certificate (PEM)\n"
		"  -h, --help        show this help\n");
}

// Reads the volume's engine and key id from the manager's volumes.db.
static int lookup_volume(const char *state_dir, const char *name, char *engine,
			 size_t engine_size, char *key_id, size_t key_id_size,
			 struct cf_error *err)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/volumes.db", state_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -ENOENT, "cannot open %s: %s (is --state-dir right?)", path,
				  db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT engine, key_id FROM volumes WHERE name = ?", -1, &stmt,
			       NULL) != SQLITE_OK) {
		rc = cf_error_set(err, -EIO, "cannot query %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		rc = cf_error_set(err, -ENOENT, "volume %s not found in %s", name, path);
		goto out;
	}
	const unsigned char *e = sqlite3_column_text(stmt, 0);
	const unsigned char *k = sqlite3_column_text(stmt, 1);
	if (k == NULL) {
		rc = cf_error_set(err, -ENOKEY, "volume %s has no key yet", name);
		goto out;
	}
	snprintf(engine, engine_size, "%s", e != NULL ? (const char *)e : "");
	snprintf(key_id, key_id_size, "%s", (const char *)k);
	rc = 0;

out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc;
}

struct fuse_mount_lookup {
	char source[VOL_NAME_MAX + 16]; // "coffer:NAME", the fuse server's fsname
	char mount_point[VOL_PATH_MAX];
};

// Finds the first coffer fuse mount of the volume and records its mount point.
static int find_fuse_mount(const char *mount_point, const char *fstype, const char *source,
			   void *arg)
{
	struct fuse_mount_lookup *lookup = arg;
	if (strcmp(fstype, "fuse.coffer") != 0 || strcmp(source, lookup->source) != 0)
		return 0;
	snprintf(lookup->mount_point, sizeof(lookup->mount_point), "%s", mount_point);
	return 1;
}

// Warns when a coffer fuse server has the volume mounted: gocryptfs must
// not serve the same ciphertext at the same time, because two servers that
// cache names and file headers each overwrite the other's changes.
static void warn_if_mounted(const char *name)
{
	struct fuse_mount_lookup lookup = { .mount_point = "" };
	snprintf(lookup.source, sizeof(lookup.source), "coffer:%s", name);
	if (cf_mount_foreach(find_fuse_mount, &lookup) == 1)
		fprintf(stderr, "coffer: warning: volume %s is mounted at %s by its coffer fuse"
			" server; unmount it before you mount its ciphertext with gocryptfs\n",
			name, lookup.mount_point);
}

// Prints the master key in hex and wipes it.
static int print_master_key(uint8_t master[32])
{
	char hex[2 * 32 + 1];

	cf_hex_encode(master, 32, hex);
	printf("%s\n", hex);
	cf_wipe(master, 32);
	cf_wipe(hex, sizeof(hex));
	return CLI_EXIT_OK;
}

// Records the attempt on the KMS and, when force is set, derives the master
// key from the volume key there.
static int export_from_kms(const struct vol_kmip_options *kms, const char *key_id,
			   const char *actor, bool force, uint8_t master[32], struct cf_error *err)
{
	char when[32], note[192];
	struct kmip_client *client = NULL;
	uint8_t *key = NULL;
	size_t key_size = 0;

	if (kms->cert_path == NULL || kms->key_path == NULL || kms->ca_path == NULL)
		return cf_error_set(err, -EINVAL, "--kms needs --kms-cert, --kms-key and --kms-ca");
	int rc = vol_kmip_client_new(&client, kms, err);
	if (rc != 0)
		return rc;

	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(note, sizeof(note), "gocryptfs key %s by %s at %s",
		 force ? "exported" : "export refused (--force missing)", actor, when);
	rc = kmip_client_add_text_attribute(client, key_id, "x-coffer-key-export", note, err);
	if (rc != 0)
		cf_error_prefix(err, "cannot record the attempt on the KMS, so the key is not"
				" exported");
	if (rc == 0 && force)
		rc = kmip_client_get(client, key_id, &key, &key_size, err);
	if (rc == 0 && force)
		rc = vol_fuse_master_key(key, key_size, master);
	cf_secure_free(key);
	kmip_client_free(client);
	return rc;
}

// Exports through the KMS given with --kms.
static int export_kms(const struct vol_kmip_options *kms, const char *state_dir, const char *name,
		      bool force)
{
	char engine[32], key_id[KS_ID_MAX], actor[64];
	uint8_t master[32];
	struct cf_error err = { 0 };

	snprintf(actor, sizeof(actor), "cli uid=%u", (unsigned)getuid());
	int rc = lookup_volume(state_dir, name, engine, sizeof(engine), key_id, sizeof(key_id), &err);
	if (rc == 0 && strcmp(engine, "fuse") != 0)
		rc = cf_error_set(&err, -EINVAL, "volume %s uses the %s engine; only fuse volumes"
				  " are in gocryptfs format", name, engine);
	if (rc == 0)
		rc = export_from_kms(kms, key_id, actor, force, master, &err);
	if (rc != 0) {
		cf_wipe(master, sizeof(master));
		return cli_fail(rc, &err);
	}
	if (!force)
		return cli_usage_error("refusing to print the key that decrypts volume %s; rerun"
				       " with --force (the attempt was recorded on the KMS)", name);

	warn_if_mounted(name);
	return print_master_key(master);
}

int cmd_volume_export_gocryptfs_key(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "kms", required_argument, NULL, 'k' },
		{ "kms-cert", required_argument, NULL, 'C' },
		{ "kms-key", required_argument, NULL, 'K' },
		{ "kms-ca", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = "/var/lib/coffer";
	struct vol_kmip_options kms = { 0 };
	bool force = false;
	struct cf_error err = { 0 };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			force = true;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'k':
			kms.url = optarg;
			break;
		case 'C':
			kms.cert_path = optarg;
			break;
		case 'K':
			kms.key_path = optarg;
			break;
		case 'A':
			kms.ca_path = optarg;
			break;
		case 'h':
			export_usage(stdout);
			return CLI_EXIT_OK;
		default:
			export_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		export_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (kms.url != NULL)
		return export_kms(&kms, state_dir, name, force);

	char keys_dir[4096], db_path[4200];
	snprintf(keys_dir, sizeof(keys_dir), "%s/keys", state_dir);
	snprintf(db_path, sizeof(db_path), "%s/keys.db", keys_dir);
	if (access(db_path, F_OK) != 0)
		return cli_usage_error("no embedded key store in %s (%s not found); is --state-dir"
				       " right? For volumes whose keys live on a KMS, add --kms,"
				       " --kms-cert, --kms-key and --kms-ca%s", keys_dir, db_path,
				       force ? "" : " (and --force, which is also missing)");
	struct ks_options ks_opts = { .dir = keys_dir };
	struct ks_store *store = NULL;
	int rc = ks_open(&store, &ks_opts, &err);
	if (rc != 0) {
		cf_error_prefix(&err, "cannot open the embedded key store in %s (only volumes whose"
				" keys live there can be exported)", keys_dir);
		return cli_fail(rc, &err);
	}

	char actor[64];
	snprintf(actor, sizeof(actor), "cli uid=%u", (unsigned)getuid());
	if (!force) {
		ks_audit_append(store, actor, "export-gocryptfs-key", name, "refused",
				"--force missing");
		ks_close(store);
		return cli_usage_error("refusing to print the key that decrypts volume %s; rerun"
				       " with --force (the attempt was audited)", name);
	}

	char engine[32], key_id[KS_ID_MAX];
	uint8_t *key = NULL, master[32];
	size_t key_size = 0;
	const struct ks_caller caller = { .identity = "local", .admin = false };

	rc = lookup_volume(state_dir, name, engine, sizeof(engine), key_id, sizeof(key_id), &err);
	if (rc == 0 && strcmp(engine, "fuse") != 0)
		rc = cf_error_set(&err, -EINVAL, "volume %s uses the %s engine; only fuse volumes"
				  " are in gocryptfs format", name, engine);
	if (rc == 0)
		rc = ks_get_material(store, &caller, key_id, &key, &key_size, &err);
	if (rc == 0)
		rc = vol_fuse_master_key(key, key_size, master);
	cf_secure_free(key);

	ks_audit_append(store, actor, "export-gocryptfs-key", name, rc == 0 ? "ok" : "failed",
			rc == 0 ? key_id : cf_error_message(&err, rc));
	ks_close(store);
	if (rc != 0) {
		cf_wipe(master, sizeof(master));
		return cli_fail(rc, &err);
	}

	warn_if_mounted(name);
	return print_master_key(master);
}
