// SPDX-License-Identifier: Apache-2.0
// Loader for .coffer.yaml, the scanners' shared configuration (ignored
// rules, severity overrides, fail-on threshold, Dockerfile and Kubernetes
// settings). docs/configuration.md describes the schema. The file is
// untrusted input: every unknown key, wrong type, duplicate key or bad
// value is an error naming the file, line and column.

#include <coffer/scan.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_FILE_NAME ".coffer.yaml"

// Larger files are rejected; a real configuration is a few kilobytes.
#define CONFIG_MAX_SIZE (1024 * 1024)

struct config_parser {
	yaml_document_t *document;
	const char *name;
	struct scan_config *config;
	struct cf_error *err;
};

static void config_init(struct scan_config *config)
{
	memset(config, 0, sizeof(*config));
	config->fail_on = SCAN_SEV_WARNING;
}

static void string_list_free(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

void scan_config_free(struct scan_config *config)
{
	if (config == NULL)
		return;

	free(config->path);
	string_list_free(config->ignore, config->ignore_count);
	for (size_t i = 0; i < config->override_count; i++)
		free(config->overrides[i].rule_id);
	free(config->overrides);
	string_list_free(config->trusted_registries, config->trusted_registry_count);
	string_list_free(config->allowed_images, config->allowed_image_count);
	for (size_t i = 0; i < config->label_schema_count; i++)
		free(config->label_schema[i].name);
	free(config->label_schema);
	free(config->profile);
	string_list_free(config->encrypted_provisioners, config->encrypted_provisioner_count);
	string_list_free(config->encrypted_storage_classes, config->encrypted_storage_class_count);
	config_init(config);
}

// Records "NAME:LINE:COLUMN: MESSAGE" for node and returns -EINVAL.
static int parse_error(const struct config_parser *parser, const yaml_node_t *node,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int parse_error(const struct config_parser *parser, const yaml_node_t *node,
		       const char *fmt, ...)
{
	char message[CF_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	return cf_error_set(parser->err, -EINVAL, "%s:%zu:%zu: %s", parser->name,
			    node->start_mark.line + 1, node->start_mark.column + 1, message);
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_NO_NODE:
		break;
	}
	return "empty";
}

static const char *scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

// True for an empty value (`key:`, `key: ~`, `key: null`), which the
// schema treats like an absent key.
static bool node_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;

	const char *text = scalar_text(node);
	return text[0] == '\0' || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	       strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

// Checks that node is a non-empty string scalar; key names the setting.
static int expect_string(const struct config_parser *parser, const yaml_node_t *node,
			 const char *key)
{
	if (node->type != YAML_SCALAR_NODE)
		return parse_error(parser, node, "'%s' must be a string, not %s", key, node_kind(node));
	if (node_is_null(node) || node->data.scalar.length == 0)
		return parse_error(parser, node, "'%s' must not be empty", key);
	if (strlen(scalar_text(node)) != node->data.scalar.length)
		return parse_error(parser, node, "'%s' contains a NUL character", key);
	return 0;
}

static int parse_level(const struct config_parser *parser, const yaml_node_t *node,
		       const char *key, enum scan_severity *severity)
{
	int rc = expect_string(parser, node, key);
	if (rc != 0)
		return rc;

	const char *text = scalar_text(node);
	if (scan_severity_parse(text, severity) != 0 || *severity == SCAN_SEV_NONE)
		return parse_error(parser, node,
				   "invalid severity '%s' for '%s'; use style, info, low, warning, "
				   "medium, error, high or critical",
				   text, key);
	return 0;
}

// Parses a list of strings into *list; a null value gives an empty list.
static int parse_string_list(const struct config_parser *parser, const yaml_node_t *node,
			     const char *key, char ***list, size_t *count)
{
	if (node_is_null(node))
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return parse_error(parser, node, "'%s' must be a list of strings, not %s", key,
				   node_kind(node));

	size_t length = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (length == 0)
		return 0;
	char **items = calloc(length, sizeof(items[0]));
	if (items == NULL)
		return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);

	size_t used = 0;
	int rc = 0;
	for (yaml_node_item_t *item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		yaml_node_t *entry = yaml_document_get_node(parser->document, *item);
		rc = expect_string(parser, entry, key);
		if (rc != 0)
			break;
		items[used] = strdup(scalar_text(entry));
		if (items[used] == NULL) {
			rc = cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);
			break;
		}
		used++;
	}
	if (rc != 0) {
		string_list_free(items, used);
		return rc;
	}

	*list = items;
	*count = used;
	return 0;
}

static int compare_pairs_by_key(const void *left, const void *right, void *context)
{
	yaml_document_t *document = context;
	const yaml_node_pair_t *a = *(const yaml_node_pair_t *const *)left;
	const yaml_node_pair_t *b = *(const yaml_node_pair_t *const *)right;
	const yaml_node_t *key_a = yaml_document_get_node(document, a->key);
	const yaml_node_t *key_b = yaml_document_get_node(document, b->key);

	int order = strcmp(scalar_text(key_a), scalar_text(key_b));
	if (order == 0)
		order = (a > b) - (a < b);
	return order;
}

// Checks that node is a mapping whose keys are non-empty strings, each
// used once. Sorting keeps the duplicate check O(n log n) on large input.
static int check_mapping(const struct config_parser *parser, const yaml_node_t *node,
			 const char *key)
{
	if (node->type != YAML_MAPPING_NODE)
		return parse_error(parser, node, "'%s' must be a mapping, not %s", key, node_kind(node));

	yaml_node_pair_t *start = node->data.mapping.pairs.start;
	size_t length = (size_t)(node->data.mapping.pairs.top - start);
	for (size_t i = 0; i < length; i++) {
		yaml_node_t *entry_key = yaml_document_get_node(parser->document, start[i].key);
		if (entry_key->type != YAML_SCALAR_NODE || node_is_null(entry_key) ||
		    strlen(scalar_text(entry_key)) != entry_key->data.scalar.length)
			return parse_error(parser, entry_key,
					   "keys of '%s' must be non-empty strings", key);
	}
	if (length < 2)
		return 0;

	yaml_node_pair_t **sorted = calloc(length, sizeof(sorted[0]));
	if (sorted == NULL)
		return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);
	for (size_t i = 0; i < length; i++)
		sorted[i] = &start[i];
	qsort_r(sorted, length, sizeof(sorted[0]), compare_pairs_by_key, parser->document);

	int rc = 0;
	for (size_t i = 1; i < length; i++) {
		yaml_node_t *previous = yaml_document_get_node(parser->document, sorted[i - 1]->key);
		yaml_node_t *current = yaml_document_get_node(parser->document, sorted[i]->key);
		if (strcmp(scalar_text(previous), scalar_text(current)) == 0) {
			rc = parse_error(parser, current, "duplicate key '%s' (first at line %zu)",
					 scalar_text(current), previous->start_mark.line + 1);
			break;
		}
	}
	free(sorted);
	return rc;
}

static int parse_overrides(const struct config_parser *parser, const yaml_node_t *node)
{
	struct scan_config *config = parser->config;

	if (node_is_null(node))
		return 0;
	int rc = check_mapping(parser, node, "severity");
	if (rc != 0)
		return rc;

	yaml_node_pair_t *start = node->data.mapping.pairs.start;
	size_t length = (size_t)(node->data.mapping.pairs.top - start);
	if (length == 0)
		return 0;
	config->overrides = calloc(length, sizeof(config->overrides[0]));
	if (config->overrides == NULL)
		return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);

	for (size_t i = 0; i < length; i++) {
		yaml_node_t *rule_id = yaml_document_get_node(parser->document, start[i].key);
		yaml_node_t *level = yaml_document_get_node(parser->document, start[i].value);
		struct scan_severity_override *override = &config->overrides[config->override_count];

		rc = parse_level(parser, level, scalar_text(rule_id), &override->severity);
		if (rc != 0)
			return rc;
		override->rule_id = strdup(scalar_text(rule_id));
		if (override->rule_id == NULL)
			return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s",
					    parser->name);
		config->override_count++;
	}
	return 0;
}

static int parse_label_schema(const struct config_parser *parser, const yaml_node_t *node)
{
	static const char *const types[] = { "text", "url", "rfc3339", "spdx", "hash", "semver",
					      "email" };
	struct scan_config *config = parser->config;

	if (node_is_null(node))
		return 0;
	int rc = check_mapping(parser, node, "dockerfile.label-schema");
	if (rc != 0)
		return rc;

	yaml_node_pair_t *start = node->data.mapping.pairs.start;
	size_t length = (size_t)(node->data.mapping.pairs.top - start);
	if (length == 0)
		return 0;
	config->label_schema = calloc(length, sizeof(config->label_schema[0]));
	if (config->label_schema == NULL)
		return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);

	for (size_t i = 0; i < length; i++) {
		yaml_node_t *label = yaml_document_get_node(parser->document, start[i].key);
		yaml_node_t *type = yaml_document_get_node(parser->document, start[i].value);
		struct scan_label_schema *entry = &config->label_schema[config->label_schema_count];

		rc = expect_string(parser, type, scalar_text(label));
		if (rc != 0)
			return rc;
		size_t k = 0;
		while (k < sizeof(types) / sizeof(types[0]) && strcmp(types[k], scalar_text(type)) != 0)
			k++;
		if (k == sizeof(types) / sizeof(types[0]))
			return parse_error(parser, type,
					   "invalid label type '%s' for '%s'; use text, url, rfc3339, "
					   "spdx, hash, semver or email",
					   scalar_text(type), scalar_text(label));
		entry->type = (enum scan_label_type)k;
		entry->name = strdup(scalar_text(label));
		if (entry->name == NULL)
			return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s",
					    parser->name);
		config->label_schema_count++;
	}
	return 0;
}

static int parse_bool(const struct config_parser *parser, const yaml_node_t *node,
		      const char *key, bool *value)
{
	int rc = expect_string(parser, node, key);
	if (rc != 0)
		return rc;
	if (strcmp(scalar_text(node), "true") == 0)
		*value = true;
	else if (strcmp(scalar_text(node), "false") == 0)
		*value = false;
	else
		return parse_error(parser, node, "invalid value '%s' for '%s'; use true or false",
				   scalar_text(node), key);
	return 0;
}

static int parse_dockerfile(const struct config_parser *parser, const yaml_node_t *node)
{
	struct scan_config *config = parser->config;

	if (node_is_null(node))
		return 0;
	int rc = check_mapping(parser, node, "dockerfile");
	if (rc != 0)
		return rc;

	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(parser->document, pair->key);
		yaml_node_t *value = yaml_document_get_node(parser->document, pair->value);
		const char *name = scalar_text(key);

		if (strcmp(name, "trusted-registries") == 0)
			rc = parse_string_list(parser, value, "dockerfile.trusted-registries",
					       &config->trusted_registries,
					       &config->trusted_registry_count);
		else if (strcmp(name, "allowed-images") == 0)
			rc = parse_string_list(parser, value, "dockerfile.allowed-images",
					       &config->allowed_images, &config->allowed_image_count);
		else if (strcmp(name, "label-schema") == 0)
			rc = parse_label_schema(parser, value);
		else if (strcmp(name, "strict-labels") == 0)
			rc = parse_bool(parser, value, "dockerfile.strict-labels",
					&config->strict_labels);
		else
			rc = parse_error(parser, key,
					 "unknown key 'dockerfile.%s'; expected trusted-registries, "
					 "allowed-images, label-schema or strict-labels",
					 name);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int parse_profile(const struct config_parser *parser, const yaml_node_t *node)
{
	int rc = expect_string(parser, node, "k8s.profile");
	if (rc != 0)
		return rc;

	const char *text = scalar_text(node);
	if (strcmp(text, "baseline") != 0 && strcmp(text, "restricted") != 0)
		return parse_error(parser, node,
				   "invalid value '%s' for 'k8s.profile'; use baseline or restricted", text);
	parser->config->profile = strdup(text);
	if (parser->config->profile == NULL)
		return cf_error_set(parser->err, -ENOMEM, "out of memory reading %s", parser->name);
	return 0;
}

static int parse_k8s(const struct config_parser *parser, const yaml_node_t *node)
{
	struct scan_config *config = parser->config;

	if (node_is_null(node))
		return 0;
	int rc = check_mapping(parser, node, "k8s");
	if (rc != 0)
		return rc;

	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(parser->document, pair->key);
		yaml_node_t *value = yaml_document_get_node(parser->document, pair->value);
		const char *name = scalar_text(key);

		if (strcmp(name, "profile") == 0)
			rc = parse_profile(parser, value);
		else if (strcmp(name, "encrypted-provisioners") == 0)
			rc = parse_string_list(parser, value, "k8s.encrypted-provisioners",
					       &config->encrypted_provisioners,
					       &config->encrypted_provisioner_count);
		else if (strcmp(name, "encrypted-storage-classes") == 0)
			rc = parse_string_list(parser, value, "k8s.encrypted-storage-classes",
					       &config->encrypted_storage_classes,
					       &config->encrypted_storage_class_count);
		else
			rc = parse_error(parser, key,
					 "unknown key 'k8s.%s'; expected profile, encrypted-provisioners "
					 "or encrypted-storage-classes",
					 name);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int parse_root(const struct config_parser *parser, const yaml_node_t *root)
{
	struct scan_config *config = parser->config;

	if (node_is_null(root))
		return 0;
	int rc = check_mapping(parser, root, "top level");
	if (rc != 0)
		return rc;

	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(parser->document, pair->key);
		yaml_node_t *value = yaml_document_get_node(parser->document, pair->value);
		const char *name = scalar_text(key);

		if (strcmp(name, "ignore") == 0) {
			rc = parse_string_list(parser, value, "ignore", &config->ignore,
					       &config->ignore_count);
		} else if (strcmp(name, "severity") == 0) {
			rc = parse_overrides(parser, value);
		} else if (strcmp(name, "fail-on") == 0) {
			rc = parse_level(parser, value, "fail-on", &config->fail_on);
			config->fail_on_set = rc == 0;
		} else if (strcmp(name, "dockerfile") == 0) {
			rc = parse_dockerfile(parser, value);
		} else if (strcmp(name, "k8s") == 0) {
			rc = parse_k8s(parser, value);
		} else {
			rc = parse_error(parser, key,
					 "unknown key '%s'; expected ignore, severity, fail-on, "
					 "dockerfile or k8s",
					 name);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int scan_config_load_buffer(struct scan_config *config, const char *data, size_t size,
			    const char *name, struct cf_error *err)
{
	config_init(config);
	if (name == NULL)
		name = CONFIG_FILE_NAME;
	if (size > CONFIG_MAX_SIZE)
		return cf_error_set(err, -EFBIG, "%s: configuration is larger than %d bytes", name,
				    CONFIG_MAX_SIZE);

	yaml_parser_t yaml;
	yaml_document_t document;
	if (yaml_parser_initialize(&yaml) == 0)
		return cf_error_set(err, -ENOMEM, "out of memory reading %s", name);
	yaml_parser_set_input_string(&yaml, (const unsigned char *)data, size);

	int rc = 0;
	if (yaml_parser_load(&yaml, &document) == 0) {
		rc = cf_error_set(err, -EINVAL, "%s:%zu:%zu: invalid YAML: %s%s%s", name,
				  yaml.problem_mark.line + 1, yaml.problem_mark.column + 1,
				  yaml.problem != NULL ? yaml.problem : "parse error",
				  yaml.context != NULL ? " " : "",
				  yaml.context != NULL ? yaml.context : "");
		yaml_parser_delete(&yaml);
		return rc;
	}

	struct config_parser parser = {
		.document = &document,
		.name = name,
		.config = config,
		.err = err,
	};
	yaml_node_t *root = yaml_document_get_root_node(&document);
	if (root != NULL) {
		rc = parse_root(&parser, root);

		// A second document ("---" after the first) would be ignored
		// silently, so it is rejected.
		yaml_document_t next;
		if (rc == 0 && yaml_parser_load(&yaml, &next) != 0) {
			yaml_node_t *extra = yaml_document_get_root_node(&next);
			if (extra != NULL)
				rc = parse_error(&parser, extra,
						 "more than one YAML document; keep one configuration "
						 "per file");
			yaml_document_delete(&next);
		} else if (rc == 0) {
			rc = cf_error_set(err, -EINVAL, "%s:%zu:%zu: invalid YAML: %s", name,
					  yaml.problem_mark.line + 1, yaml.problem_mark.column + 1,
					  yaml.problem != NULL ? yaml.problem : "parse error");
		}
	}
	yaml_document_delete(&document);
	yaml_parser_delete(&yaml);

	if (rc == 0) {
		config->path = strdup(name);
		if (config->path == NULL)
			rc = cf_error_set(err, -ENOMEM, "out of memory reading %s", name);
	}
	if (rc != 0)
		scan_config_free(config);
	return rc;
}

static bool path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

// Finds .coffer.yaml from the current directory upwards, stopping after
// the first directory that contains .git, or at /. Stores a malloc'd path
// in *found, or NULL when there is none.
static int config_find(char **found, struct cf_error *err)
{
	*found = NULL;

	char *directory = getcwd(NULL, 0);
	if (directory == NULL)
		return cf_error_set(err, -errno, "cannot get the current directory: %s",
				    strerror(errno));

	int rc = 0;
	for (;;) {
		char *candidate = NULL;
		char *git = NULL;
		const char *separator = strcmp(directory, "/") == 0 ? "" : "/";
		if (asprintf(&candidate, "%s%s%s", directory, separator, CONFIG_FILE_NAME) < 0 ||
		    asprintf(&git, "%s%s.git", directory, separator) < 0) {
			free(candidate);
			rc = cf_error_set(err, -ENOMEM, "out of memory searching for %s",
					  CONFIG_FILE_NAME);
			break;
		}

		if (path_exists(candidate)) {
			*found = candidate;
			free(git);
			break;
		}
		free(candidate);
		bool repository_root = path_exists(git);
		free(git);

		char *slash = strrchr(directory, '/');
		if (repository_root || slash == NULL || strcmp(directory, "/") == 0)
			break;
		if (slash == directory)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(directory);
	return rc;
}

int scan_config_load(struct scan_config *config, const char *path, struct cf_error *err)
{
	config_init(config);

	char *found = NULL;
	if (path == NULL) {
		int rc = config_find(&found, err);
		if (rc != 0)
			return rc;
		if (found == NULL)
			return 0;
		path = found;
	}

	char *data = NULL;
	size_t size = 0;
	int rc = cf_read_file(path, CONFIG_MAX_SIZE, &data, &size, err);
	if (rc == 0)
		rc = scan_config_load_buffer(config, data, size, path, err);
	free(data);
	free(found);
	return rc;
}

bool scan_config_ignored(const struct scan_config *config, const char *rule_id)
{
	for (size_t i = 0; i < config->ignore_count; i++) {
		if (strcmp(config->ignore[i], rule_id) == 0)
			return true;
	}
	return false;
}

enum scan_severity scan_config_severity(const struct scan_config *config,
					const char *rule_id, enum scan_severity fallback)
{
	for (size_t i = 0; i < config->override_count; i++) {
		if (strcmp(config->overrides[i].rule_id, rule_id) == 0)
			return config->overrides[i].severity;
	}
	return fallback;
}
