#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validate a JSON document against a JSON Schema, offline.

Usage: validate_json_schema.py SCHEMA FILE

Uses python3-jsonschema (Debian 12 ships 4.10). The draft is taken from the
schema's "$schema" key. References are resolved only inside the schema file
itself: a reference to any other http or https URI fails instead of being
fetched, so the check never touches the network. Formats that jsonschema can
check with the installed packages (for example "uri" only when rfc3987 is
present) are checked as well.

Exit status: 0 valid, 1 invalid (every error is printed with its JSON path),
2 usage error or unreadable input.
"""

import json
import sys

import jsonschema


def reject_remote(uri):
    raise jsonschema.exceptions.RefResolutionError(
        f"remote reference {uri} is not fetched: validation runs offline"
    )


def load_json(path, kind):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"validate_json_schema: cannot read {kind} {path}: {e}", file=sys.stderr)
        sys.exit(2)


def main(argv):
    if len(argv) != 3:
        print("usage: validate_json_schema.py SCHEMA FILE", file=sys.stderr)
        return 2

    schema = load_json(argv[1], "schema")
    document = load_json(argv[2], "document")

    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        print(f"validate_json_schema: invalid schema {argv[1]}: {e.message}", file=sys.stderr)
        return 2

    # id_of follows the schema's draft, so a draft-04 "id" registers the
    # schema under its own URI and internal references resolve locally.
    resolver = jsonschema.RefResolver.from_schema(
        schema,
        id_of=validator_class.ID_OF,
        handlers={"http": reject_remote, "https": reject_remote},
    )
    validator = validator_class(
        schema, resolver=resolver, format_checker=jsonschema.FormatChecker()
    )

    try:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    except jsonschema.exceptions.RefResolutionError as e:
        print(f"validate_json_schema: {argv[1]}: {e}", file=sys.stderr)
        return 2
    for error in errors:
        path = "/".join(str(part) for part in error.absolute_path)
        print(f"{argv[2]}: /{path}: {error.message}", file=sys.stderr)
    if errors:
        print(f"{argv[2]}: {len(errors)} schema errors against {argv[1]}", file=sys.stderr)
        return 1

    print(f"{argv[2]}: valid against {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
