"""Strict validation of Elasticsearch request bodies against Elastic's OpenAPI document.

No Elasticsearch server can run where the tests run, so the tests check that every request
body the Elasticsearch store builds is one Elasticsearch accepts, by validating it against the
request schema of its endpoint in Elastic's official OpenAPI document
(``../shared/elasticsearch/elasticsearch-openapi.json`` beside the project root; see the
README there).

The document never says ``additionalProperties: false``, so a plain JSON Schema validator
accepts misspelt keys. This validator is strict:

* every object schema that lists ``properties`` is closed: a key that is not listed is an
  error, unless the schema also gives ``additionalProperties`` as a schema, in which case
  the key's value is validated against it;
* ``allOf``: the branches are merged, so the allowed keys are the union of the keys that the
  branches list (a branch ``{"type": "object"}`` that lists nothing adds nothing; an object
  that lists no properties anywhere and gives no ``additionalProperties`` is free-form);
* ``minProperties``/``maxProperties`` of an ``allOf`` branch count the keys that branch
  lists (plus the unlisted keys when the branch gives ``additionalProperties`` or lists
  none), so "one aggregation type plus ``aggs``/``meta``" containers work;
* ``oneOf``/``anyOf``: valid when at least one branch validates strictly (the document's
  ``oneOf`` branches overlap, e.g. ``_types.FieldValue`` lists ``{"type": "number"}``
  twice, so "exactly one" cannot be meant); a ``discriminator`` whose property is present
  selects its branch directly (precise messages for analysis components and mapping types);
* ``$ref`` into ``#/components/schemas`` and ``#/components/requestBodies``, recursion,
  ``required``, ``enum``, ``type`` (a string or a list), ``nullable``, ``items``, ``pattern``;
  ``number`` accepts int and float, ``integer`` accepts integral values, and neither
  accepts a bool.

A schema keyword this module does not know raises ``NotImplementedError`` instead of being
ignored, so a newer document cannot silently weaken the check.

The document's generator drops a few things that Elasticsearch accepts; ``_PATCHES`` (below)
adds exactly those back, each with the fragment of the document it corrects.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH: Path = PROJECT_ROOT.parent / "shared" / "elasticsearch" / "elasticsearch-openapi.json"

_SCHEMAS = "#/components/schemas/"
_REQUEST_BODIES = "#/components/requestBodies/"

# Keywords that carry no validation meaning here.
_ANNOTATIONS = frozenset(
    {"description", "externalDocs", "x-state", "default", "examples", "example", "deprecated",
     "title", "x-metaTags", "x-previousVersionUrl"}
)  # fmt: skip
# Keywords this validator implements ("x-imr-shortcut" is set by the patches below).
_KEYWORDS = frozenset(
    {"$ref", "allOf", "oneOf", "anyOf", "discriminator", "type", "nullable", "enum", "items",
     "properties", "additionalProperties", "required", "minProperties", "maxProperties",
     "pattern", "x-imr-shortcut"}
)  # fmt: skip

_JSON_TYPES = {
    dict: "object",
    list: "array",
    tuple: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}
_MAX_LISTED = 40  # allowed keys shown in an "unknown key" message


def spec_available() -> bool:
    """Whether the Elasticsearch OpenAPI document is present."""
    return SPEC_PATH.is_file()


# ---------------------------------------------------------------------------------------------
# Loading and patching


def _ref(name: str) -> dict:
    return {"$ref": _SCHEMAS + name}


@functools.cache
def _ref_schema(ref: str) -> dict:
    """One `{"$ref": ref}` object per ref, so that compiled schemas are cached across calls."""
    return {"$ref": ref}


# Elasticsearch's `terms` query: `{"<field>": [values] | {terms lookup}, "boost": .., "_name": ..}`.
_TERMS_QUERY_FIELD = {
    "oneOf": [
        {"type": "array", "items": _ref("_types.FieldValue")},
        {
            "type": "object",
            "properties": {
                "index": _ref("_types.IndexName"),
                "id": _ref("_types.Id"),
                "path": _ref("_types.Field"),
                "routing": _ref("_types.Routing"),
            },
            "required": ["index", "id", "path"],
        },
    ]
}

# Elasticsearch's field sort options (`FieldSort` in elasticsearch-specification), which the
# document lacks altogether.
_FIELD_SORT = {
    "type": "object",
    "properties": {
        "missing": _ref("_types.aggregations.Missing"),
        "mode": _ref("_types.SortMode"),
        "nested": _ref("_types.NestedSortValue"),
        "order": _ref("_types.SortOrder"),
        "unmapped_type": {"type": "string"},
        "numeric_type": {"type": "string", "enum": ["long", "double", "date", "date_nanos"]},
        "format": {"type": "string"},
    },
}

# Classes that elasticsearch-specification marks `@shortcut_property`: the bare value stands for
# `{"<property>": value}` (e.g. `{"term": {"decision": "upheld"}}`). The document has no trace
# of the shortcut, e.g. `_types.query_dsl.TermQuery` is only an object with
# `"required": ["value"]`.
_SHORTCUTS = {
    "_types.query_dsl.TermQuery": "value",
    "_types.query_dsl.PrefixQuery": "value",
    "_types.query_dsl.WildcardQuery": "value",
    "_types.query_dsl.RegexpQuery": "value",
    "_types.query_dsl.FuzzyQuery": "value",
    "_types.query_dsl.SpanTermQuery": "value",
    "_types.query_dsl.MatchQuery": "query",
    "_types.query_dsl.MatchPhraseQuery": "query",
    "_types.query_dsl.MatchPhrasePrefixQuery": "query",
    "_types.query_dsl.MatchBoolPrefixQuery": "query",
    "_types.query_dsl.CommonTermsQuery": "query",
    "_types.query_dsl.FieldAndFormat": "field",
    "_global.search._types.SourceFilter": "includes",
}

# Property aliases that elasticsearch-specification declares with `@aliases` and the document
# drops: `{"aggs": ...}` is what most clients send, and the document only knows `aggregations`.
_ALIASES = {"aggregations": "aggs"}
# `_source: {"include": .., "exclude": ..}` (Elasticsearch's FetchSourceContext parses both
# spellings); only for this schema, since `include`/`exclude` mean other things elsewhere.
_SCHEMA_ALIASES = {
    "_global.search._types.SourceFilter": {"includes": "include", "excludes": "exclude"},
}


def _own_properties(schemas: dict, name: str) -> dict:
    """The `properties` of the object part of component `name` (its last allOf branch)."""
    schema = schemas[name]
    if "properties" in schema:
        return schema["properties"]
    branch = schema["allOf"][-1]
    assert "properties" in branch, f"{name}: expected an allOf branch that lists properties"
    return branch["properties"]


def _patch(spec: dict) -> None:
    """Add back what the document's generator dropped and Elasticsearch accepts.

    Every patch asserts the shape it corrects, so a newer document that fixes (or changes)
    the fragment fails loudly here instead of being patched blindly.
    """
    schemas = spec["components"]["schemas"]

    # 1. Shard and replica counts. README: the serverless document "omits the shard and
    #    replica settings (`number_of_shards`, `number_of_replicas`), which stateful
    #    Elasticsearch accepts". Applies wherever IndexSettings applies (also under `index`).
    settings = schemas["indices._types.IndexSettings"]["properties"]
    for key in ("number_of_shards", "number_of_replicas"):
        assert key not in settings, f"the document now lists {key}; drop the patch"
        settings[key] = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]}

    # 2. `terms` query. The document has
    #    "_types.query_dsl.TermsQuery": {"allOf": [{"$ref": "...QueryBase"}, {"type": "object"}]}
    #    i.e. the `<field>: values` entry is lost (a bare object branch adds no keys).
    terms = schemas["_types.query_dsl.TermsQuery"]["allOf"]
    assert terms[1] == {"type": "object"}, terms[1]
    terms[1] = {
        "type": "object",
        "additionalProperties": _TERMS_QUERY_FIELD,
        "minProperties": 1,
        "maxProperties": 1,
    }

    # 3. Field sorts. "_types.SortOptions" lists only "_score", "_doc", "_geo_distance",
    #    "_script" with "minProperties": 1, "maxProperties": 1; the `{"<field>": {"order":
    #    "desc"}}` form (and `{"<field>": "desc"}`) is missing.
    sort_options = schemas["_types.SortOptions"]
    assert "additionalProperties" not in sort_options
    sort_options["additionalProperties"] = {"oneOf": [_ref("_types.SortOrder"), _FIELD_SORT]}

    # 4. Shortcut properties (see _SHORTCUTS).
    for name, prop in _SHORTCUTS.items():
        assert prop in _own_properties(schemas, name), f"{name} has no property {prop}"
        schemas[name]["x-imr-shortcut"] = prop

    # 5. `dynamic` as a boolean. "_types.mapping.DynamicMapping": {"type": "string", "enum":
    #    ["strict", "runtime", "true", "false"]}; Elasticsearch also takes `true`/`false`.
    dynamic = schemas["_types.mapping.DynamicMapping"]
    assert dynamic.get("type") == "string" and "false" in dynamic["enum"], dynamic
    schemas["_types.mapping.DynamicMapping"] = {"oneOf": [dynamic, {"type": "boolean"}]}

    # 6. Highlight fields. The document has "fields": {"oneOf": [{"type": "object",
    #    "additionalProperties": {"$ref": "...HighlightField"}, "minProperties": 1,
    #    "maxProperties": 1}, {"type": "array", ...}]}; Elasticsearch takes any number of
    #    fields in the object form (`"fields": {"text": {}, "request": {}}`). The array form
    #    keeps its one-field-per-item rule.
    fields = _own_properties(schemas, "_global.search._types.Highlight")["fields"]["oneOf"][0]
    assert fields.get("maxProperties") == 1 and "additionalProperties" in fields, fields
    del fields["maxProperties"]

    # 7. Aliases (see _ALIASES, _SCHEMA_ALIASES).
    def add_aliases(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for name, alias in _ALIASES.items():
                    if name in props and alias not in props:
                        props[alias] = props[name]
            for value in node.values():
                add_aliases(value)
        elif isinstance(node, list):
            for value in node:
                add_aliases(value)

    add_aliases(spec["components"])
    add_aliases(spec["paths"])
    for name, aliases in _SCHEMA_ALIASES.items():
        props = _own_properties(schemas, name)
        for prop, alias in aliases.items():
            assert prop in props and alias not in props, (name, prop, alias)
            props[alias] = props[prop]


@functools.lru_cache(maxsize=1)
def _spec() -> dict:
    if not spec_available():
        raise FileNotFoundError(f"Elasticsearch OpenAPI document not found at {SPEC_PATH}")
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec = json.load(fh)
    _patch(spec)
    return spec


def _resolve(schema: dict) -> dict:
    """Follow `$ref`s (components.schemas and components.requestBodies)."""
    seen = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            raise ValueError(f"$ref cycle at {ref}")
        seen.add(ref)
        if ref.startswith(_SCHEMAS):
            schema = _spec()["components"]["schemas"][ref[len(_SCHEMAS) :]]
        elif ref.startswith(_REQUEST_BODIES):
            schema = _spec()["components"]["requestBodies"][ref[len(_REQUEST_BODIES) :]]
        else:
            raise NotImplementedError(f"unsupported $ref {ref}")
    return schema


def request_schema(method: str, path: str) -> dict:
    """The JSON schema of the request body of `method path`, e.g. ("post", "/{index}/_search").

    It comes from the loaded document with the corrections of `_patch` applied.
    """
    paths = _spec()["paths"]
    if path not in paths:
        raise KeyError(f"no path {path!r} in the Elasticsearch OpenAPI document")
    operation = paths[path].get(method.lower())
    if operation is None:
        raise KeyError(f"no {method.upper()} {path} in the Elasticsearch OpenAPI document")
    if "requestBody" not in operation:
        raise KeyError(f"{method.upper()} {path} takes no request body")
    content = _resolve(operation["requestBody"])["content"]
    for media_type in ("application/json", "application/x-ndjson"):
        if media_type in content:
            return content[media_type]["schema"]
    return next(iter(content.values()))["schema"]


# ---------------------------------------------------------------------------------------------
# Compiling schemas: $refs followed, allOf merged; cached per schema object


class _Node:
    """A schema with its `$ref`s followed and its `allOf` branches merged."""

    __slots__ = (
        "typesets",
        "enums",
        "patterns",
        "items",
        "props",
        "additional",
        "lists_props",
        "open",
        "required",
        "counts",
        "shortcut",
        "unions",
    )

    def __init__(self) -> None:
        self.typesets: list[frozenset[str]] = []  # each must admit the instance
        self.enums: list[list] = []
        self.patterns: list[str] = []
        self.items: list[dict] = []
        self.props: dict[str, list[dict]] = {}  # key -> schemas its value must satisfy
        self.additional: list[dict] = []  # schemas for unlisted keys
        self.lists_props = False
        self.open = False  # additionalProperties: true somewhere
        self.required: set[str] = set()
        # (keys the branch lists, whether unlisted keys count too, min, max)
        self.counts: list[tuple[frozenset[str], bool, int | None, int | None]] = []
        self.shortcut: str | None = None
        self.unions: list[tuple[list[dict], dict | None]] = []  # (branches, discriminator)

    @property
    def closed(self) -> bool:
        return self.lists_props and not self.additional and not self.open


_NODES: dict[int, tuple[dict, _Node]] = {}


def _compile(schema: dict) -> _Node:
    cached = _NODES.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    node = _Node()
    _merge(schema, node, set())
    _NODES[id(schema)] = (schema, node)  # keep `schema` alive so its id stays unique
    return node


def _merge(schema: dict, node: _Node, stack: set[int]) -> None:
    schema = _resolve(schema)
    if id(schema) in stack:
        raise ValueError("allOf cycle in the Elasticsearch OpenAPI document")
    stack = stack | {id(schema)}
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise NotImplementedError(f"schema keywords not supported: {sorted(unknown)}")

    for branch in schema.get("allOf", ()):
        _merge(branch, node, stack)

    if "type" in schema or schema.get("nullable"):
        types = schema.get("type")
        types = set(types) if isinstance(types, list) else {types} if types else set()
        if schema.get("nullable"):
            types.add("null")
        if types and types != {"null"}:
            node.typesets.append(frozenset(types))
    if "enum" in schema:
        enum = list(schema["enum"])
        if schema.get("nullable"):
            enum.append(None)
        node.enums.append(enum)
    if "pattern" in schema:
        node.patterns.append(schema["pattern"])
    if "items" in schema:
        node.items.append(schema["items"])

    own = schema.get("properties") or {}
    if own:
        node.lists_props = True
        for key, sub in own.items():
            node.props.setdefault(key, []).append(sub)
    extra = schema.get("additionalProperties")
    if extra is True:
        node.open = True
    elif isinstance(extra, dict):
        if extra:
            node.additional.append(extra)
        else:
            node.open = True
    node.required.update(schema.get("required", ()))
    if "minProperties" in schema or "maxProperties" in schema:
        counts_unlisted = not own or isinstance(extra, dict) or extra is True
        node.counts.append(
            (
                frozenset(own),
                counts_unlisted,
                schema.get("minProperties"),
                schema.get("maxProperties"),
            )
        )
    if "x-imr-shortcut" in schema:
        node.shortcut = schema["x-imr-shortcut"]
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            node.unions.append((schema[keyword], schema.get("discriminator")))
    if "discriminator" in schema and "oneOf" not in schema and "anyOf" not in schema:
        raise NotImplementedError("discriminator without oneOf/anyOf")


# ---------------------------------------------------------------------------------------------
# Validation

_IDENT = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@]*$")


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{json.dumps(key)}]"


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _type_matches(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list | tuple)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, int | float)
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise NotImplementedError(f"JSON type {name!r}")


def _in_enum(value: Any, enum: list) -> bool:
    return any(value == e and isinstance(value, bool) == isinstance(e, bool) for e in enum)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_ok(schema: dict, value: Any) -> bool:
    """Whether `value` passes the schema's type checks at the top level (for picking branches)."""
    node = _compile(schema)
    if node.shortcut and not isinstance(value, dict):
        return _type_ok(node.props[node.shortcut][0], value)
    if not all(any(_type_matches(value, t) for t in ts) for ts in node.typesets):
        return False
    return all(any(_type_ok(b, value) for b in branches) for branches, _ in node.unions)


def _validate(schema: dict, value: Any, path: str, errors: list[str]) -> None:
    node = _compile(schema)

    if node.shortcut and not isinstance(value, dict):
        for sub in node.props[node.shortcut]:
            _validate(sub, value, path, errors)
        return

    for ts in node.typesets:
        if not any(_type_matches(value, t) for t in ts):
            errors.append(
                f"{path}: expected {' or '.join(sorted(ts))}, got {_json_type(value)} {_short(value)}"
            )
            return
    for enum in node.enums:
        if not _in_enum(value, enum):
            errors.append(f"{path}: {_short(value)} is not one of {enum}")

    for pattern in node.patterns:
        if isinstance(value, str) and not re.search(pattern, value):
            errors.append(f"{path}: {_short(value)} does not match {pattern}")

    if isinstance(value, dict):
        _validate_object(node, value, path, errors)
    elif isinstance(value, list | tuple):
        for items in node.items:
            for i, item in enumerate(value):
                _validate(items, item, _child(path, i), errors)

    for branches, discriminator in node.unions:
        _validate_union(branches, discriminator, value, path, errors)


def _validate_object(node: _Node, value: dict, path: str, errors: list[str]) -> None:
    for key, sub in value.items():
        if not isinstance(key, str):
            errors.append(f"{path}: key {key!r} is not a string")
            continue
        if key in node.props:
            for schema in node.props[key]:
                _validate(schema, sub, _child(path, key), errors)
        elif node.additional:
            for schema in node.additional:
                _validate(schema, sub, _child(path, key), errors)
        elif node.closed:
            allowed = list(node.props)
            listed = ", ".join(allowed[:_MAX_LISTED]) + (
                ", ..." if len(allowed) > _MAX_LISTED else ""
            )
            errors.append(f"{_child(path, key)}: unknown key (allowed: {listed})")
    for key in node.required:
        if key not in value:
            errors.append(f"{path}: missing required key {key!r}")
    for listed, counts_unlisted, low, high in node.counts:
        keys = [k for k in value if k in listed or (counts_unlisted and k not in node.props)]
        what = f"key of ({', '.join(sorted(listed)[:12])}{', ...' if len(listed) > 12 else ''})"
        if not listed:
            what = "key"
        if low is not None and len(keys) < low:
            errors.append(f"{path}: expected at least {low} {what}, got {len(keys)}")
        if high is not None and len(keys) > high:
            errors.append(
                f"{path}: expected at most {high} {what}, got {len(keys)}: {', '.join(keys)}"
            )


def _validate_union(
    branches: list[dict], discriminator: dict | None, value: Any, path: str, errors: list[str]
) -> None:
    if discriminator and isinstance(value, dict) and discriminator["propertyName"] in value:
        prop = discriminator["propertyName"]
        mapping = discriminator.get("mapping", {})
        tag = value[prop]
        if isinstance(tag, str) and tag in mapping:
            _validate(_ref_schema(mapping[tag]), value, path, errors)
        else:
            errors.append(f"{_child(path, prop)}: {_short(tag)} is not one of {sorted(mapping)}")
        return

    attempts: list[tuple[dict, list[str]]] = []
    for branch in branches:
        branch_errors: list[str] = []
        _validate(branch, value, path, branch_errors)
        if not branch_errors:
            return
        attempts.append((branch, branch_errors))

    candidates = [(b, e) for b, e in attempts if _type_ok(b, value)]
    if not candidates:
        kinds = sorted({k for b, _ in attempts for k in _describe(b)})
        errors.append(
            f"{path}: expected {' or '.join(kinds)}, got {_json_type(value)} {_short(value)}"
        )
        return

    # The branch that got furthest (deepest error), then the one with the fewest errors.
    def progress(attempt: tuple[dict, list[str]]) -> tuple[int, int]:
        errs = attempt[1]
        return (-max(len(e.split(": ", 1)[0]) for e in errs), len(errs))

    errors.extend(min(candidates, key=progress)[1])


def _describe(schema: dict) -> set[str]:
    """Type names a schema admits, for messages."""
    node = _compile(schema)
    kinds: set[str] = set()
    if node.shortcut:
        kinds |= _describe(node.props[node.shortcut][0])
    if node.typesets:
        kinds |= set(functools.reduce(frozenset.intersection, node.typesets))
    for branches, _ in node.unions:
        for branch in branches:
            kinds |= _describe(branch)
    return kinds or {"any"}


def _errors(schema: dict, value: Any, path: str = "$") -> list[str]:
    errors: list[str] = []
    _validate(schema, value, path, errors)
    return errors


def _raise(errors: list[str], what: str) -> None:
    if errors:
        listing = "\n  ".join(errors)
        raise AssertionError(
            f"{len(errors)} violation(s) of the Elasticsearch OpenAPI schema for {what}:\n  {listing}"
        )


# ---------------------------------------------------------------------------------------------
# Public API


def _line_schemas(method: str, path: str, header_hint: str) -> tuple[dict, dict]:
    """For an NDJSON endpoint whose items are `oneOf [<header>, <body>]`: (header, body)."""
    items = _resolve(request_schema(method, path)["items"])
    branches = items["oneOf"]
    header = [b for b in branches if header_hint in b.get("$ref", "")]
    others = [b for b in branches if header_hint not in b.get("$ref", "")]
    assert len(header) == 1 and others, f"unexpected item schema of {path}: {items}"
    return header[0], others[0]


def validate_body(method: str, path: str, body: dict | list) -> None:
    """Raise AssertionError listing every violation (with its JSON path) of the request schema.

    `_bulk` and `_msearch` bodies are NDJSON: pass their lines as a list; `_bulk` lines are
    checked by `validate_bulk`, `_msearch` lines alternate header and search body.
    """
    what = f"{method.upper()} {path}"
    if path.endswith("/_bulk"):
        assert isinstance(body, list), f"{what}: pass the NDJSON lines as a list"
        validate_bulk(body)
        return
    if path.endswith("/_msearch"):
        assert isinstance(body, list), f"{what}: pass the NDJSON lines as a list"
        header, search = _line_schemas(method, path, "MultisearchHeader")
        errors: list[str] = []
        if len(body) % 2:
            errors.append(f"$: {len(body)} lines; header and body lines must come in pairs")
        for i, line in enumerate(body):
            errors += _errors(search if i % 2 else header, line, f"$[{i}]")
        _raise(errors, what)
        return
    _raise(_errors(request_schema(method, path), body), what)


def validate_bulk(actions: list[dict]) -> None:
    """Validate NDJSON `_bulk` lines: action lines against the operation container schema.

    `index`/`create` take a free-form document on the next line (mapping-checked elsewhere),
    `update` takes an update line (validated against its schema), `delete` takes none.
    """
    container, update_line = _line_schemas("post", "/_bulk", "OperationContainer")
    update_line = _resolve(update_line)
    assert update_line is _resolve(_ref_schema(_SCHEMAS + "_global.bulk.UpdateAction"))
    operations = _compile(container).props
    errors: list[str] = []
    i = 0
    while i < len(actions):
        line = actions[i]
        path = f"$[{i}]"
        line_errors = _errors(container, line, path)
        errors += line_errors
        ops = [k for k in line if k in operations] if isinstance(line, dict) else []
        if line_errors and len(ops) != 1:
            errors.append(f"{path}: not an action line; cannot tell where the next action starts")
            break
        op = ops[0]
        i += 1
        if op == "delete":
            continue
        if i >= len(actions):
            errors.append(f"{path}: {op!r} action without its source line")
            break
        if op == "update":
            errors += _errors(update_line, actions[i], f"$[{i}]")
        elif not isinstance(actions[i], dict):
            errors.append(f"$[{i}]: document must be an object, got {_json_type(actions[i])}")
        i += 1
    _raise(errors, "POST /_bulk")
