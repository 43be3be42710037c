#!/usr/bin/env python3
"""Checks `tcpsim schema` (SPEC §9) with a validator that shares nothing
with tcpsim: Python's `jsonschema` package, and Python's own TOML parser
(`tomllib`) instead of the `toml` crate.

    python3 .ci/schema-check.py SCHEMA.json

where SCHEMA.json is what `tcpsim schema` printed. It checks that

1. the schema is a valid draft 2020-12 schema: it validates against the
   2020-12 meta-schema, and every `pattern` compiles (as a Python regular
   expression, and as an ECMA 262 one with the `u` flag when Node.js is
   there to compile it);
2. every experiment file the repository holds as valid validates: configs/,
   benches/configs/, the runner's test data and the property-test data;
3. every TOML example of docs/experiment-file.md outside the sections
   marked pending validates, completed as tests/reference.rs completes
   them (two hosts, `client` and `server`, and a link between them);
4. the schema refuses what it can see is wrong, so that 2 and 3 cannot
   pass by accepting everything: a list of tests/bad-input/ files, each
   refused for the expected reason (keyword and place), and every valid
   file of 2 with an unknown key added at its top level and in its first
   [[hosts]] table.

Prints what it checked and exits 1 on the first kind of failure found
(after listing every failure of that kind), 2 on bad usage.
"""

import copy
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from jsonschema import Draft7Validator, Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "experiment-file.md"
PENDING = "<!-- pending: issue 15 steps -->"
META = "https://json-schema.org/draft/2020-12/schema"

# The valid experiment files of the repository.
VALID = [
    "configs/*.toml",
    "benches/configs/*.toml",
    "crates/runner/tests/data/*.toml",
    "tests/data/properties/*.toml",
]

# Files of tests/bad-input/ that are wrong in a way a schema sees: the
# keyword that must refuse each, and where (a JSON path into the document).
REFUSED = [
    ("unknown-root-key.toml", "additionalProperties", "$"),
    ("tcp-unknown-key.toml", "additionalProperties", "$.tcp"),
    ("link-direction-unknown-key.toml", "additionalProperties", "$.links[0].a_to_b"),
    ("socket-unknown-key.toml", "additionalProperties", "$.connections[0].client_socket"),
    ("link-loss-unknown-key.toml", "additionalProperties", "$.links[0].loss"),
    ("seed-float.toml", "type", "$.seed"),
    ("socket-nodelay-string.toml", "type", "$.connections[0].client_socket.nodelay"),
    ("tcp-not-a-table.toml", "type", "$.tcp"),
    ("hosts-not-tables.toml", "type", "$.hosts[0]"),
    ("conn-count-float.toml", "type", "$.connections[0].count"),
    ("socket-as-array.toml", "type", "$.connections[0].client_socket"),
    ("link-direction-not-a-table.toml", "type", "$.links[0].a_to_b"),
    ("app-not-an-array.toml", "type", "$.connections[0].server_app"),
    ("duration-no-unit.toml", "pattern", "$.duration"),
    ("link-rate-in-bytes.toml", "pattern", "$.links[0].rate"),
    ("host-bad-addr.toml", "pattern", "$.hosts[0].addr"),
    ("host-multicast-addr.toml", "pattern", "$.hosts[0].addr"),
    ("app-unknown-step.toml", "pattern", "$.connections[0].client_app[1]"),
    ("duration-zero.toml", "not", "$.duration"),
    ("profile-unknown.toml", "enum", "$.profile"),
    ("expect-sent-unknown-kind.toml", "enum", "$.expect.sent"),
    ("fault-nth-zero.toml", "minimum", "$.faults[0].nth[0]"),
    ("conn-port-too-big.toml", "maximum", "$.connections[0].port"),
    ("link-queue-too-big.toml", "maximum", "$.links[0].queue"),
    ("fault-segment-empty-list.toml", "minItems", "$.faults[0].segment"),
    ("no-hosts.toml", "required", "$"),
    ("conn-missing-port.toml", "required", "$.connections[0]"),
    ("sweep-grid-varies-sweep.toml", "not", "$.sweep.grid"),
    ("hosts-count-zero.toml", "minimum", "$.hosts[0].count"),
    ("hosts-count-without-pattern.toml", "pattern", "$.hosts[0].name"),
    ("hosts-pattern-without-count.toml", "not", "$.hosts[0].name"),
]

# What tests/reference.rs adds around a fragment of an example.
HOSTS = (
    '\n[[hosts]]\nname = "client"\naddr = "10.0.0.1"\n\n'
    '[[hosts]]\nname = "server"\naddr = "10.0.0.2"\nlisten = [80]\n'
)
LINK = '\n[[links]]\na = "client"\nb = "server"\ndelay = "50ms"\n'

failures = []


def fail(what):
    failures.append(what)
    print(f"schema-check: FAIL: {what}", file=sys.stderr)


def end_of_step(name):
    if failures:
        print(f"schema-check: {len(failures)} failure(s) in: {name}", file=sys.stderr)
        sys.exit(1)


def patterns(schema):
    """Every `pattern` of the schema, with where it is."""
    out = []

    def walk(node, at):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    out.append((at, value))
                else:
                    walk(value, f"{at}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{at}/{i}")

    walk(schema, "#")
    return out


def check_schema(schema):
    if schema.get("$schema") != META:
        fail(f"$schema is {schema.get('$schema')!r}, expected {META}")
    # Against the meta-schema; the format checker compiles each pattern.
    for error in Draft202012Validator(
        Draft202012Validator.META_SCHEMA,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    ).iter_errors(schema):
        fail(f"not a valid 2020-12 schema: {error.json_path}: {error.message}")
    found = patterns(schema)
    for at, pattern in found:
        try:
            re.compile(pattern)
        except re.error as e:
            fail(f"{at}: pattern {pattern!r} is not a regular expression: {e}")
    node = shutil.which("node")
    if node is None:
        print("schema-check: no Node.js here: patterns not compiled as ECMA 262")
        return len(found)
    script = (
        "const ps = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "let bad = 0;"
        "for (const p of ps) { try { new RegExp(p, 'u'); } catch (e) "
        "{ console.log(p + ': ' + e.message); bad++; } }"
        "process.exit(bad ? 1 : 0);"
    )
    result = subprocess.run(
        [node, "-e", script],
        input=json.dumps([p for _, p in found]),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        fail(f"patterns that are not ECMA 262 (u flag):\n{result.stdout}{result.stderr}")
    else:
        print(f"schema-check: {len(found)} patterns compile as ECMA 262 (node, u flag)")
    return len(found)


def errors(validator, document):
    """Every error of `document`, those inside anyOf branches included."""
    out = []
    pending = list(validator.iter_errors(document))
    while pending:
        e = pending.pop()
        out.append(e)
        pending.extend(e.context)
    return out


def validate(validator, path, document, name):
    """Whether `document` validates; each error is a failure."""
    found = sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    for e in found:
        fail(f"{name}: {e.json_path}: {e.message[:300]}")
    return not found


def reference_examples():
    """The TOML examples of the reference outside pending sections, as
    tests/reference.rs finds and completes them: (section, text)."""
    sections = []
    marked = False
    in_code = False
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            sections.append({"heading": line[3:], "lines": [], "pending": marked})
            marked = False
            continue
        if not in_code and line.strip() == PENDING:
            marked = True
        elif line.strip():
            marked = False
        if sections:
            sections[-1]["lines"].append(line)
    out = []
    for s in sections:
        if s["pending"]:
            continue
        lines = iter(s["lines"])
        for line in lines:
            if line.strip() != "```toml":
                continue
            example = []
            for l in lines:
                if l.startswith("```"):
                    break
                example.append(l + "\n")
            text = "".join(example)

            def has(table):
                return any(l.lstrip().startswith(table) for l in text.splitlines())

            if not has("[[hosts]]"):
                text += HOSTS
                if not has("[[links]]"):
                    text += LINK
            out.append((s["heading"], text))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    schema = json.loads(Path(sys.argv[1]).read_text())

    count = check_schema(schema)
    end_of_step("the schema itself")
    print(f"schema-check: the schema is valid draft 2020-12 ({count} patterns)")

    # Draft 2020-12, as the schema says; and draft 7, as editors whose
    # validator predates 2020-12 read it (Taplo's: `$defs` is reached by
    # JSON pointer, and the schema keeps no validation keyword beside a $ref).
    validators = [
        ("2020-12", Draft202012Validator(schema)),
        ("draft 7", Draft7Validator(schema)),
    ]
    files = sorted(p for glob in VALID for p in ROOT.glob(glob))
    documents = []
    for path in files:
        name = path.relative_to(ROOT)
        with open(path, "rb") as f:
            document = tomllib.load(f)
        ok = [validate(v, path, document, f"{name} ({d})") for d, v in validators]
        if all(ok):
            documents.append((name, document))
    end_of_step("the repository's experiment files")
    print(
        f"schema-check: {len(files)} experiment files validate as 2020-12 and as "
        f"draft 7 ({', '.join(VALID)})"
    )

    examples = reference_examples()
    for heading, text in examples:
        for draft, v in validators:
            validate(v, None, tomllib.loads(text), f"{REFERENCE.name}, {heading!r} ({draft})")
    if len(examples) < 10:
        fail(f"only {len(examples)} examples found in {REFERENCE.name}")
    end_of_step("the reference's examples")
    print(f"schema-check: {len(examples)} examples of {REFERENCE.name} validate")

    for file, keyword, where in REFUSED:
        path = ROOT / "tests" / "bad-input" / file
        with open(path, "rb") as f:
            document = tomllib.load(f)
        for draft, v in validators:
            found = errors(v, document)
            name = f"tests/bad-input/{file} ({draft})"
            if not found:
                fail(f"{name}: accepted; expected {keyword} at {where}")
            elif not any(e.validator == keyword and e.json_path == where for e in found):
                seen = ", ".join(sorted({f"{e.validator} at {e.json_path}" for e in found}))
                fail(f"{name}: refused by {seen}; expected {keyword} at {where}")
    validator = validators[0][1]
    for name, document in documents:
        broken = copy.deepcopy(document)
        broken["no_such_key"] = 1
        if not errors(validator, broken):
            fail(f"{name} with an unknown top-level key: accepted")
        broken = copy.deepcopy(document)
        broken["hosts"][0]["no_such_key"] = 1
        if not errors(validator, broken):
            fail(f"{name} with an unknown key in hosts[0]: accepted")
    end_of_step("what the schema must refuse")
    # How much of the bad-input corpus the schema sees (the rest needs the
    # decoder: references between tables, duplicates, limits on totals).
    bad = sorted((ROOT / "tests" / "bad-input").glob("*.toml"))
    seen, toml_errors = 0, 0
    for path in bad:
        try:
            with open(path, "rb") as f:
                document = tomllib.load(f)
        except tomllib.TOMLDecodeError:
            toml_errors += 1
            continue
        seen += bool(errors(validator, document))
    print(
        f"schema-check: {len(REFUSED)} bad inputs refused for the expected reason, "
        f"{2 * len(documents)} files with an unknown key refused; of the "
        f"{len(bad)} files of tests/bad-input/, {seen} are refused by the schema, "
        f"{toml_errors} are not TOML, the rest need the decoder"
    )


if __name__ == "__main__":
    main()
