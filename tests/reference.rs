//! The user reference of the experiment file, `docs/experiment-file.md`,
//! held against the decoder (issue 15).
//!
//! - Every key the decoder accepts is named, in backticks, in the section
//!   of the reference that documents its table. The keys come from the
//!   decoder itself: `experiment::keys()`, the lists its typed structs
//!   refuse unknown keys with.
//! - Every key of the JSON Schema (`tcpsim schema`), every property name
//!   of every table at every level, is named in the section of its table:
//!   a key that exists in the schema but not in the reference fails.
//! - Every segment kind, state and outcome name is in the reference.
//! - Every TOML example outside the sections marked
//!   `<!-- pending: issue 15 steps -->` is a valid experiment (a fragment
//!   is read with two hosts, `client` and `server`, and a link between
//!   them around it).

use std::path::Path;

use serde_json::Value;
use tcpsim::net::Outcome;
use tcpsim::runner::experiment::{keys, parse, schema};
use tcpsim::tcp::{SegmentKind, State};

/// The reference, relative to the workspace.
const REFERENCE: &str = "docs/experiment-file.md";

/// Each table of the decoder (as `experiment::keys()` names it) and the
/// text that the heading of its section in the reference contains.
const SECTIONS: [(&str, &str); 11] = [
    ("", "Top-level keys"),
    ("tcp", "`[tcp]`"),
    ("hosts", "`[[hosts]]`"),
    ("links", "`[[links]]`"),
    ("links.a_to_b", "`[[links]]`"),
    ("links.loss", "`[[links]]`"),
    ("faults", "`[[faults]]`"),
    ("connections", "`[[connections]]`"),
    ("connections.client_socket", "socket options"),
    ("expect", "`[expect]`"),
    ("sweep", "`[sweep]`"),
];

/// Marks a section written ahead of its implementation.
const PENDING: &str = "<!-- pending: issue 15 steps -->";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A level-2 section of the reference: its heading, its text (with its
/// subsections) and whether it is marked pending.
struct Section {
    heading: String,
    body: String,
    pending: bool,
}

fn sections(doc: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut marked = false;
    let mut in_code = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with("## ") {
            out.push(Section {
                heading: line[3..].to_owned(),
                body: String::new(),
                pending: marked,
            });
            marked = false;
            continue;
        }
        if !in_code && line.trim() == PENDING {
            marked = true;
        } else if !line.trim().is_empty() {
            marked = false;
        }
        if let Some(s) = out.last_mut() {
            s.body.push_str(line);
            s.body.push('\n');
        }
    }
    out
}

/// The section whose heading contains `marker`.
fn section<'a>(all: &'a [Section], marker: &str) -> &'a Section {
    all.iter()
        .find(|s| s.heading.contains(marker))
        .unwrap_or_else(|| panic!("{REFERENCE} has no section whose heading contains {marker}"))
}

#[test]
fn every_key_the_decoder_accepts_is_in_the_reference() {
    let doc = read(REFERENCE);
    let all = sections(&doc);
    let mut missing: Vec<String> = Vec::new();
    let tables = keys();
    for (table, keys) in &tables {
        let Some(&(_, marker)) = SECTIONS.iter().find(|(t, _)| t == table) else {
            panic!(
                "the decoder's table {table:?} has no section of {REFERENCE} in this test's \
                 SECTIONS: document its table and add it"
            );
        };
        assert!(
            !keys.is_empty(),
            "the decoder's table {table:?} lists no key"
        );
        let body = &section(&all, marker).body;
        for key in *keys {
            if !body.contains(&format!("`{key}`")) {
                missing.push(format!("`{key}` (table {table:?}) under \"{marker}\""));
            }
        }
    }
    for (table, _) in SECTIONS {
        assert!(
            tables.iter().any(|(t, _)| *t == table),
            "experiment::keys() has no table {table:?} any more"
        );
    }
    assert!(
        missing.is_empty(),
        "{REFERENCE} does not document these keys:\n  {}",
        missing.join("\n  ")
    );
}

/// Each table of the schema, by its dotted path (array elements have no
/// index; a host's `tcp` is `hosts.tcp`), and the text that the heading of
/// its section in the reference contains.
const SCHEMA_SECTIONS: [(&str, &str); 16] = [
    ("", "Top-level keys"),
    ("tcp", "`[tcp]`"),
    ("hosts", "`[[hosts]]`"),
    ("hosts.tcp", "`[tcp]`"),
    ("links", "`[[links]]`"),
    ("links.a_to_b", "`[[links]]`"),
    ("links.b_to_a", "`[[links]]`"),
    ("links.loss", "`[[links]]`"),
    ("links.a_to_b.loss", "`[[links]]`"),
    ("links.b_to_a.loss", "`[[links]]`"),
    ("faults", "`[[faults]]`"),
    ("connections", "`[[connections]]`"),
    ("connections.client_socket", "socket options"),
    ("connections.server_socket", "socket options"),
    ("expect", "`[expect]`"),
    ("sweep", "`[sweep]`"),
];

/// Every table of the schema `s` below `path`, with its property names:
/// objects with `properties`, reached through properties, array items,
/// `anyOf` branches and `$ref`s.
fn schema_tables(root: &Value, s: &Value, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    assert!(
        path.matches('.').count() < 8,
        "schema nested too deep at {path}"
    );
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("a $ref into $defs");
        schema_tables(root, &root["$defs"][name], path, out);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let names = props.keys().cloned().collect();
        match out.iter_mut().find(|(p, _)| p == path) {
            Some((_, known)) => assert_eq!(*known, names, "two schemas for the table {path:?}"),
            None => out.push((path.to_owned(), names)),
        }
        for (key, sub) in props {
            let child = match path {
                "" => key.clone(),
                p => format!("{p}.{key}"),
            };
            schema_tables(root, sub, &child, out);
        }
    }
    if let Some(items) = s.get("items") {
        schema_tables(root, items, path, out);
    }
    for branch in s
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        schema_tables(root, branch, path, out);
    }
}

#[test]
fn every_key_of_the_schema_is_in_the_reference() {
    let doc = read(REFERENCE);
    let all = sections(&doc);
    let s = serde_json::to_value(schema()).unwrap();
    let mut tables = Vec::new();
    schema_tables(&s, &s, "", &mut tables);
    let mut missing: Vec<String> = Vec::new();
    let mut count = 0;
    for (table, keys) in &tables {
        let Some(&(_, marker)) = SCHEMA_SECTIONS.iter().find(|(t, _)| t == table) else {
            panic!(
                "the schema's table {table:?} has no section of {REFERENCE} in this test's \
                 SCHEMA_SECTIONS: document its table and add it"
            );
        };
        let body = &section(&all, marker).body;
        for key in keys {
            count += 1;
            if !body.contains(&format!("`{key}`")) {
                missing.push(format!("`{key}` (table {table:?}) under \"{marker}\""));
            }
        }
    }
    for (table, _) in SCHEMA_SECTIONS {
        assert!(
            tables.iter().any(|(t, _)| t == table),
            "the schema has no table {table:?} any more"
        );
    }
    // The schema's keys are the decoder's: the same tables list the same
    // keys as experiment::keys() (a host's tcp is the tcp table, a
    // direction's loss the link's).
    for (table, keys) in keys() {
        let (_, in_schema) = tables.iter().find(|(t, _)| t == table).unwrap();
        assert_eq!(in_schema, keys, "table {table:?}");
    }
    assert!(count > 100, "only {count} keys in the schema");
    assert!(
        missing.is_empty(),
        "{REFERENCE} does not document these keys of the schema:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn tcpsim_schema_prints_the_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(schema()).unwrap());
    assert!(out.stdout.ends_with(b"}\n"));
}

#[test]
fn every_segment_kind_state_and_outcome_is_in_the_reference() {
    let doc = read(REFERENCE);
    let all = sections(&doc);
    let values = &section(&all, "Values and units").body;
    for kind in SegmentKind::ALL {
        assert!(
            values.contains(&format!("`{}`", kind.name())),
            "segment kind {}",
            kind.name()
        );
    }
    assert!(values.contains("`ANY`"), "segment kind ANY");
    for state in State::ALL {
        assert!(
            values.contains(&format!("`{}`", state.name())),
            "state {}",
            state.name()
        );
    }
    let expect = &section(&all, "`[expect]`").body;
    for outcome in Outcome::ALL {
        assert!(
            expect.contains(&format!("`{}`", outcome.name())),
            "outcome {}",
            outcome.name()
        );
    }
}

/// What a fragment of an example is read with.
const HOSTS: &str = "\n[[hosts]]\nname = \"client\"\naddr = \"10.0.0.1\"\n\n\
                     [[hosts]]\nname = \"server\"\naddr = \"10.0.0.2\"\nlisten = [80]\n";
const LINK: &str = "\n[[links]]\na = \"client\"\nb = \"server\"\ndelay = \"50ms\"\n";

#[test]
fn every_example_in_the_reference_is_a_valid_experiment() {
    let doc = read(REFERENCE);
    let mut checked = 0;
    for s in sections(&doc).iter().filter(|s| !s.pending) {
        let mut lines = s.body.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "```toml" {
                continue;
            }
            let example: String = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .map(|l| format!("{l}\n"))
                .collect();
            let has = |table: &str| example.lines().any(|l| l.trim_start().starts_with(table));
            let mut file = example.clone();
            if !has("[[hosts]]") {
                file.push_str(HOSTS);
                if !has("[[links]]") {
                    file.push_str(LINK);
                }
            }
            let name = format!("{REFERENCE}, section \"{}\"", s.heading);
            if let Err(e) = parse(&file, "example.toml") {
                panic!("an example of {name} is not valid: {e}\n{example}");
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} examples found in {REFERENCE}"
    );
}
