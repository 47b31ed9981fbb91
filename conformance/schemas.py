"""The JSON Schemas in schemas/ and the checks made with them.

    case.schema.json      one case, [defaults] merged (validated by `lr-conformance check`)
    protocol.schema.json  the subprocess protocol's messages (embeds the case schema)
    result.schema.json    the result document of `lr-conformance run --json` (embeds the protocol schema)
    export.schema.json    one line of `lr-conformance export` (embeds the protocol schema)

Each schema that refers to another carries a copy of it under `$defs` with its `$id` (JSON Schema 2020-12's
bundling), so a plain `jsonschema.validate(document, schema)` resolves every reference without a registry.
The copies are kept equal to their sources by `bundle()`; tests/meta/test_schemas.py fails when they drift
(`python tools/bundle_schemas.py` rewrites them).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from conformance import cases as cases_mod, resources
from conformance.cases import CaseError, _rel, _where, read_text

SCHEMAS_DIR = resources.SCHEMAS_DIR  # the checkout's schemas/, or the wheel's copy

# schema name -> the schemas it embeds, as (key under $defs, embedded schema name)
EMBEDS = {
    "case": (),
    "protocol": (("caseSchema", "case"),),
    "result": (("protocolSchema", "protocol"),),
    "export": (("protocolSchema", "protocol"),),
}


def load_schema(name: str, directory: Path = SCHEMAS_DIR) -> dict:
    return json.loads((directory / f"{name}.schema.json").read_text(encoding="utf-8"))


def bundle(name: str, directory: Path = SCHEMAS_DIR) -> dict:
    """Schema `name` with fresh copies of the schemas it embeds (recursively bundled)."""
    schema = load_schema(name, directory)
    for key, embedded in EMBEDS[name]:
        schema.setdefault("$defs", {})[key] = bundle(embedded, directory)
    return schema


def _case_validator(directory: Path = SCHEMAS_DIR):
    import jsonschema

    schema = load_schema("case", directory)
    file_schema = {"$schema": schema["$schema"], "$ref": "#/$defs/caseFile", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(schema), jsonschema.Draft202012Validator(file_schema)


def _explain(error) -> str:
    """One line for one schema violation: where in the case, and what (the deepest relevant cause)."""
    from jsonschema.exceptions import best_match

    error = best_match([error])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    # The schema's descriptions say the rule in the case format's words, where jsonschema's generic message
    # would print the whole instance ("... should not be valid under {}") or only "not valid under any".
    # (not the root schema's description: that one describes the whole case)
    described = error.schema.get("description") if isinstance(error.schema, dict) and "$id" not in error.schema else None
    if described and error.validator == "not":
        message = described
    elif described and error.validator in ("anyOf", "oneOf"):
        message = f"{error.instance!r} is not {described}"
    elif described and error.validator in ("required", "const", "enum", "maxItems"):
        message = f"{error.message} ({described})"
    else:
        message = error.message
    message = " ".join(message.split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{where}: {message}" if where else message


def case_file_problems(path: Path, validators=None) -> list[str]:
    """Every schema violation in one case file, one line each: `file:line: case-id: key.path: what`."""
    case_validator, file_validator = validators or _case_validator()
    try:
        text = read_text(path)
    except CaseError as exc:
        return [str(exc)]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [f"{_rel(path)}: invalid TOML: {exc}"]
    found = [f"{_rel(path)}: {_explain(e)}" for e in file_validator.iter_errors(data)]
    if found:
        return found
    defaults = data.get("defaults", {})
    for index, raw in enumerate(data.get("case", [])):
        merged = {**defaults, **raw}
        problems = case_data_problems(merged, (case_validator, file_validator))
        if problems:
            case_id = merged.get("id") if isinstance(merged.get("id"), str) else f"<case #{index + 1}>"
            where = _where(path, case_id, text, index)
            found.extend(f"{where}: {problem}" for problem in problems)
    return found


def case_data_problems(data: dict, validators=None) -> list[str]:
    """Every schema violation in one case given as data (its [defaults] merged), one line each: what `check`
    says of that case in a file, without the file (generated cases: conformance/fuzz)."""
    case_validator, _ = validators or _case_validator()
    errors = sorted(case_validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [_explain(error) for error in errors]


def case_problems(directory: Path | None = None) -> list[str]:
    """Every schema violation in every case file of `directory` (default: the suite's cases), one line each."""
    directory = cases_mod.CASES_DIR if directory is None else directory
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CaseError(f"{directory}: no case files (*.toml)")
    validators = _case_validator()
    return [line for path in files for line in case_file_problems(path, validators)]


def bundled_copies_problems(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Schemas whose embedded copies differ from their sources (run tools/bundle_schemas.py)."""
    return [f"{directory / name}.schema.json: embedded schemas are stale (run python tools/bundle_schemas.py)"
            for name in EMBEDS if load_schema(name, directory) != bundle(name, directory)]


def write_bundles(directory: Path = SCHEMAS_DIR) -> list[str]:
    """Rewrite the embedded copies in every schema that has some; returns the names rewritten.

    Only the text of each copy changes (it is the last member of `$defs`, which is the last top-level key),
    so the hand-written part of a schema keeps its layout and its diffs stay readable."""
    written = []
    for name, embeds in EMBEDS.items():
        path = directory / f"{name}.schema.json"
        text = original = path.read_text(encoding="utf-8")
        for key, embedded in embeds:
            text = _with_embedded(text, key, bundle(embedded, directory), path)
        if text != original:
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(name)
    return written


_TAIL = "\n  }\n}\n"  # the end of `$defs` and of the schema


def _with_embedded(text: str, key: str, schema: dict, path: Path) -> str:
    marker = f',\n\n    "{key}": '
    if marker in text:
        text = text[: text.index(marker)] + _TAIL
    text = text.rstrip() + "\n"
    if not text.endswith(_TAIL):
        raise ValueError(f"{path}: '$defs' must be the last key, closed by '  }}' then '}}' on their own lines")
    return text[: -len(_TAIL)] + marker + dumps_schema(schema, indent=4).rstrip("\n") + _TAIL


def dumps_schema(schema: dict, width: int = 118, indent: int = 0) -> str:
    """JSON text with small values on one line (readable diffs), two-space indents, the first line unindented
    (for a value that starts `indent` columns in)."""

    def dump(value, indent: int) -> str:
        one = json.dumps(value, ensure_ascii=False)
        if len(one) + indent <= width or not isinstance(value, (dict, list)) or not value:
            return one
        pad = " " * (indent + 2)
        if isinstance(value, dict):
            items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {dump(v, indent + 2)}" for k, v in value.items()]
            return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
        return "[\n" + ",\n".join(pad + dump(v, indent + 2) for v in value) + "\n" + " " * indent + "]"

    return dump(schema, indent) + "\n"


_PROTOCOL_VALIDATORS: dict = {}


def protocol_problem(definition: str, value) -> str | None:
    """Why `value` is not a valid protocol `definition` (schemas/protocol.schema.json $defs), in one line
    naming the field, or None. A hello answer is validated before the harness believes a word of it."""
    import jsonschema

    check = _PROTOCOL_VALIDATORS.get(definition)
    if check is None:
        schema = load_schema("protocol")
        check = jsonschema.Draft202012Validator(
            {"$schema": schema["$schema"], "$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})
        _PROTOCOL_VALIDATORS[definition] = check
    error = next(iter(check.iter_errors(value)), None)
    if error is None:
        return None
    from jsonschema.exceptions import best_match

    error = best_match(check.iter_errors(value))
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{where or '(top level)'}: {message}"
