//! The user reference of the experiment file, `docs/experiment-file.md`,
//! held against the decoder (issue 15).
//!
//! - Every key the decoder accepts is named, in backticks, in the section
//!   of the reference that documents its table. The keys come from the
//!   decoder's own lists: the `*_KEYS` constants and the
//!   `deny_unknown(&[...])` arrays of `crates/runner/src/experiment/`,
//!   read as source text (they are private). When the decoder stops
//!   listing its keys that way, the test fails and says so; it is then
//!   to be switched to the JSON schema (`tcpsim schema`).
//! - Every segment kind, state and outcome name is in the reference.
//! - Every TOML example outside the sections marked
//!   `<!-- pending: issue 15 steps -->` is a valid experiment (a fragment
//!   is read with two hosts, `client` and `server`, and a link between
//!   them around it).

use std::path::Path;

use tcpsim::net::Outcome;
use tcpsim::runner::experiment::parse;
use tcpsim::tcp::{SegmentKind, State};

/// The reference, relative to the workspace.
const REFERENCE: &str = "docs/experiment-file.md";

/// The decoder's sources that list keys.
const DECODER: [&str; 3] = [
    "crates/runner/src/experiment/decode.rs",
    "crates/runner/src/experiment/expect.rs",
    "crates/runner/src/experiment/tcp.rs",
];

/// Each key list of the decoder (a constant, or the function whose
/// `deny_unknown` array it is) and the text that the heading of its
/// section in the reference contains.
const SECTIONS: [(&str, &str); 10] = [
    ("ROOT_KEYS", "Top-level keys"),
    ("TCP_KEYS", "`[tcp]`"),
    ("fn hosts", "`[[hosts]]`"),
    ("LINK_KEYS", "`[[links]]`"),
    ("DIRECTION_KEYS", "`[[links]]`"),
    ("fn loss", "`[[links]]`"),
    ("fn fault", "`[[faults]]`"),
    ("fn connection", "`[[connections]]`"),
    ("EXPECT_KEYS", "`[expect]`"),
    ("fn sweep", "`[sweep]`"),
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

/// The quoted strings between `open` (the index of a `[`) and its `]`.
fn quoted_until_bracket(src: &str, open: usize) -> Vec<String> {
    let mut names = Vec::new();
    let rest = &src[open + 1..];
    let end = rest.find(']').unwrap_or(rest.len());
    let mut inner = &rest[..end];
    while let Some(a) = inner.find('"') {
        let after = &inner[a + 1..];
        let Some(b) = after.find('"') else { break };
        names.push(after[..b].to_owned());
        inner = &after[b + 1..];
    }
    names
}

/// The name of the last `fn NAME` before `at`.
fn enclosing_fn(src: &str, at: usize) -> Option<String> {
    let before = &src[..at];
    let start = before.rfind("fn ")? + 3;
    let name: String = before[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(format!("fn {name}"))
}

/// Every key list of one source file: `(list name, keys)`.
fn key_lists(src: &str) -> Vec<(String, Vec<String>)> {
    let mut lists = Vec::new();
    // `const NAME_KEYS: &[&str] = &[ ... ];`
    let mut from = 0;
    while let Some(i) = src[from..].find("const ") {
        let at = from + i + "const ".len();
        from = at;
        let name: String = src[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.ends_with("_KEYS") {
            continue;
        }
        let Some(eq) = src[at..].find("= &[") else {
            continue;
        };
        lists.push((name, quoted_until_bracket(src, at + eq + "= &".len())));
    }
    // `deny_unknown(&[ ... ])`
    let mut from = 0;
    while let Some(i) = src[from..].find("deny_unknown(&[") {
        let at = from + i;
        from = at + 1;
        let name = enclosing_fn(src, at).unwrap_or_default();
        lists.push((name, quoted_until_bracket(src, at + "deny_unknown(&".len())));
    }
    lists
}

#[test]
fn every_key_the_decoder_accepts_is_in_the_reference() {
    let doc = read(REFERENCE);
    let all = sections(&doc);
    let mut found: Vec<&str> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for file in DECODER {
        for (list, keys) in key_lists(&read(file)) {
            let Some(&(name, marker)) = SECTIONS.iter().find(|(n, _)| *n == list) else {
                panic!(
                    "{file}: key list `{list}` has no section of {REFERENCE} in this test's \
                     SECTIONS: document its table and add it"
                );
            };
            assert!(!keys.is_empty(), "{file}: key list `{list}` is empty");
            found.push(name);
            let body = &section(&all, marker).body;
            for key in keys {
                if !body.contains(&format!("`{key}`")) {
                    missing.push(format!("`{key}` ({list}, in {file}) under \"{marker}\""));
                }
            }
        }
    }
    for (name, _) in SECTIONS {
        assert!(
            found.contains(&name),
            "the decoder's key list `{name}` was not found in {DECODER:?}: the decoder no longer \
             lists its keys this way; switch this test to the JSON schema (`tcpsim schema`)"
        );
    }
    assert!(
        missing.is_empty(),
        "{REFERENCE} does not document these keys:\n  {}",
        missing.join("\n  ")
    );
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
