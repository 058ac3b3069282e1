"""Holds the Python client that openapi-python-client generates from the
document to real answers of the API.

Usage: python roundtrip.py PACKAGE MANIFEST  (PACKAGE importable: PYTHONPATH)

MANIFEST is JSON written by generators_test.go:
  {"operations": [{"operationId", "module"}],
   "answers": [{"file", "operation", "status", "class", "module"}]}

For each operation it imports the generated module. For each answer (a body
the API sent, saved in "file") it asks the generated operation module which
model it parses that status into, parses the body with the model the
document names (`from_dict`), writes it back (`to_dict`) and compares the
two, and lists the JSON objects that came back as plain dicts rather than
models (what a list typed by nothing, or a field the document leaves open,
gives). It prints one JSON report and exits 0; the Go test judges it.
"""

import datetime
import importlib
import json
import re
import sys

import attrs
import httpx

# The API writes RFC 3339 in UTC with milliseconds (2026-12-07T21:41:30.123Z);
# the models parse it to datetime and write isoformat (…30.123000+00:00),
# the same instant in other words.
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def same_instant(want, got):
    if not TIMESTAMP.match(want):
        return False
    try:
        w = datetime.datetime.fromisoformat(want)
        g = datetime.datetime.fromisoformat(got)
    except ValueError:
        return False
    return w.tzinfo is not None and g.tzinfo is not None and w == g


def first_difference(want, got, path):
    """The first place where got differs from want, as 'path: why', or None."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path}: an object became {json.dumps(got, default=str)[:200]}"
        for key in want:
            if key not in got:
                return f"{path}.{key}: dropped (was {json.dumps(want[key])[:200]})"
            diff = first_difference(want[key], got[key], f"{path}.{key}")
            if diff:
                return diff
        for key in got:
            if key not in want:
                return f"{path}.{key}: added ({json.dumps(got[key], default=str)[:200]})"
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{path}: an array became {json.dumps(got, default=str)[:200]}"
        if len(want) != len(got):
            return f"{path}: {len(want)} items became {len(got)}"
        for i, (w, g) in enumerate(zip(want, got)):
            diff = first_difference(w, g, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(want, bool) or isinstance(got, bool):
        # bool is an int in Python: true must not pass for 1.
        same = want is got
    elif isinstance(want, str) and isinstance(got, str):
        same = want == got or same_instant(want, got)
    elif isinstance(want, (int, float)) and isinstance(got, (int, float)):
        same = want == got
    else:
        same = want is None and got is None
    if same:
        return None
    return f"{path}: {json.dumps(want)[:200]} became {json.dumps(got, default=str)[:200]} ({type(got).__name__})"


def untyped_objects(value, path):
    """Paths (Python attribute names) of JSON objects left as plain dicts."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name == "additional_properties":
                for key, extra in item.items():
                    yield from untyped_objects(extra, f"{path}.{key}")
            else:
                yield from untyped_objects(item, f"{path}.{field.name}")
    elif isinstance(value, dict):
        yield path
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from untyped_objects(item, f"{path}[{i}]")


def describe(err):
    return f"{type(err).__name__}: {err}"


def check_operation(op):
    entry = {"operationId": op["operationId"], "module": op["module"]}
    try:
        module = importlib.import_module(op["module"])
    except Exception as err:  # any failure to import is the finding
        entry["error"] = describe(err)
        return entry
    missing = [f for f in ("sync_detailed", "asyncio_detailed") if not callable(getattr(module, f, None))]
    if missing:
        entry["error"] = "has no " + ", ".join(missing)
    return entry


def check_answer(package, models, answer):
    entry = {"file": answer["file"], "operation": answer["operation"], "status": answer["status"], "class": answer["class"]}
    with open(answer["file"], encoding="utf-8") as f:
        body = json.load(f)
    model = getattr(models, answer["class"], None)
    if model is None:
        entry["error"] = f"{package}.models has no {answer['class']}"
        return entry
    # The generated operation's own dispatch from status to model: what a
    # user of sync() gets for this answer.
    try:
        operation = importlib.import_module(answer["module"])
        client = importlib.import_module(package + ".client").Client(base_url="http://127.0.0.1")
        response = httpx.Response(answer["status"], content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        dispatched = operation._parse_response(client=client, response=response)
        entry["dispatchedTo"] = type(dispatched).__name__
    except Exception as err:
        entry["error"] = f"{answer['module']} cannot parse the answer: {describe(err)}"
        return entry
    try:
        parsed = model.from_dict(body)
        back = parsed.to_dict()
        json.dumps(back)  # what to_dict gives must be JSON again
    except Exception as err:
        entry["error"] = f"{answer['class']} cannot round-trip it: {describe(err)}"
        return entry
    entry["difference"] = first_difference(body, back, "$")
    entry["untyped"] = list(untyped_objects(parsed, "$"))
    return entry


def main():
    package, manifest_path = sys.argv[1], sys.argv[2]
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    report = {"operations": [check_operation(op) for op in manifest["operations"]]}
    models = importlib.import_module(package + ".models")
    report["answers"] = [check_answer(package, models, a) for a in manifest["answers"]]
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
