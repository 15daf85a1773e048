#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validate a CycloneDX 1.5 JSON document against bom-1.5.schema.json, offline.

Usage: validate_cyclonedx.py SCHEMA_DIR FILE

bom-1.5.schema.json refers to spdx.schema.json and jsf-0.82.schema.json by
relative $ref. Every *.schema.json in SCHEMA_DIR is loaded into the resolver's
store under its own $id, so those references resolve to the local copies and
any other remote reference fails instead of being fetched.

Exit status: 0 valid, 1 invalid (each error printed with its JSON path),
2 usage error or unreadable input.
"""

import glob
import json
import os
import sys

import jsonschema


def reject_remote(uri):
    raise jsonschema.exceptions.RefResolutionError(
        f"remote reference {uri} is not fetched: validation runs offline")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir, document_path = sys.argv[1], sys.argv[2]
    try:
        store = {}
        for path in glob.glob(os.path.join(schema_dir, "*.schema.json")):
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            if "$id" in schema:
                store[schema["$id"]] = schema
        with open(os.path.join(schema_dir, "bom-1.5.schema.json"), encoding="utf-8") as f:
            bom_schema = json.load(f)
        with open(document_path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as error:
        print(f"cannot read input: {error}", file=sys.stderr)
        return 2

    resolver = jsonschema.RefResolver.from_schema(
        bom_schema, store=store, handlers={"http": reject_remote, "https": reject_remote})
    validator_class = jsonschema.validators.validator_for(bom_schema)
    validator = validator_class(bom_schema, resolver=resolver)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors:
        path = "/".join(str(p) for p in error.absolute_path)
        print(f"{document_path}: /{path}: {error.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
