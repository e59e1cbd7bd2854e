#!/usr/bin/env python3
"""Validates prelaunch's JSON documents against the committed schemas (schema/*.schema.json).

Usage: validate.py SCHEMA_DIR DOC.json...   Each document names its schema by its `format` and
`version` members ("prelaunch-measure", 1 -> measure.v1.schema.json); a document without them, with
no schema of that name, or failing its schema is an error. Prints one JSON line per document:
{"file": ..., "schema": ..., "result": "valid" | "invalid: ..."}; exits 1 if any is not valid.
Needs jsonschema (pip install jsonschema); its absence is a failure, never a skip.
"""

import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("validate.py: jsonschema is not installed (pip install jsonschema)", file=sys.stderr)
    sys.exit(2)


def main():
    schema_dir, docs = sys.argv[1], sys.argv[2:]
    bad = 0
    for path in docs:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        fmt, version = (doc.get("format"), doc.get("version")) if isinstance(doc, dict) else (None, None)
        name = None
        if isinstance(fmt, str) and fmt.startswith("prelaunch-") and isinstance(version, int):
            name = f"{fmt[len('prelaunch-'):]}.v{version}.schema.json"
        result = "valid"
        if name is None:
            result = "invalid: no \"format\": \"prelaunch-...\" and integer \"version\" members"
        elif not os.path.exists(os.path.join(schema_dir, name)):
            result = f"invalid: no schema {name}"
        else:
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                schema = json.load(f)
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
            if errors:
                result = "invalid: " + "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:300]}" for e in errors[:5])
        bad += result != "valid"
        print(json.dumps({"file": path, "schema": name, "result": result}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
