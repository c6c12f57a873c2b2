"""Validates JSON files against alv's JSON Schemas and prints, per file, whether the schema accepts it.

Usage: python3 schema_check.py SCHEMA_DIR vector|profile|report FILE...
Prints one JSON object: {"FILE": {"valid": bool, "errors": ["path: message", ...]}}.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource


def main():
    schema_dir = pathlib.Path(sys.argv[1])
    kind = sys.argv[2]
    schemas = {p.name: json.loads(p.read_text()) for p in schema_dir.glob("*.schema.json")}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    name = {"vector": "load-vector.schema.json", "profile": "alv-profile.schema.json", "report": "report.schema.json"}[kind]
    validator = Draft202012Validator(schemas[name], registry=registry)
    result = {}
    for file in sys.argv[3:]:
        try:
            document = json.loads(pathlib.Path(file).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            result[file] = {"valid": False, "errors": [f"$: not JSON: {error}"]}
            continue
        errors = [
            ".".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in validator.iter_errors(document)
        ]
        result[file] = {"valid": not errors, "errors": errors}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
