//! The schema held against the decoder: its tables have the decoder's
//! keys and are closed, it has no `null`, and every `default` is what the
//! decoder fills in for an absent key. Each leaf's schema is held against
//! its reader in `leaves/tests.rs`; the whole schema is checked by an
//! independent validator in `.ci/schema-check.py`.

use serde_json::Value;

use super::super::de::keys_of;
use super::super::file;
use super::*;
use crate::experiment::{Experiment, SocketSpec, TcpOverrides, parse_with_overrides};

fn json() -> Value {
    serde_json::to_value(schema()).unwrap()
}

fn property_names(table: &Value) -> Vec<&str> {
    table["properties"]
        .as_object()
        .map_or_else(Vec::new, |p| p.keys().map(String::as_str).collect())
}

#[test]
fn every_table_of_the_schema_has_the_decoders_keys() {
    let s = json();
    let tables: [(&str, &[&str]); 11] = [
        ("", keys_of::<file::File>()),
        ("TcpOverrides", keys_of::<TcpOverrides>()),
        ("Host", keys_of::<file::Host>()),
        ("Link", keys_of::<file::Link>()),
        ("Direction", keys_of::<file::Direction>()),
        ("LossTable", keys_of::<file::LossTable>()),
        ("Fault", keys_of::<file::Fault>()),
        ("Connection", keys_of::<file::Connection>()),
        ("SocketSpec", keys_of::<SocketSpec>()),
        ("Expect", keys_of::<file::Expect>()),
        ("Sweep", keys_of::<file::Sweep>()),
    ];
    for (def, keys) in tables {
        let table = if def.is_empty() { &s } else { &s["$defs"][def] };
        assert_eq!(property_names(table), keys, "{def}");
        assert_eq!(table["additionalProperties"], false, "{def}");
        assert_eq!(table["type"], "object", "{def}");
        // Every required key is one of the table's.
        for r in table["required"].as_array().into_iter().flatten() {
            assert!(keys.contains(&r.as_str().unwrap()), "{def}: {r}");
        }
    }
    // No other table: every definition with keys is one of the above.
    for (name, def) in s["$defs"].as_object().unwrap() {
        if def.get("properties").is_some() {
            assert!(tables.iter().any(|(t, _)| t == name), "{name}");
        }
    }
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

/// Every object of `s` that has a `$ref`, with the keywords beside it.
fn refs<'s>(s: &'s Value, out: &mut Vec<Vec<&'s str>>) {
    match s {
        Value::Object(map) => {
            if map.contains_key("$ref") {
                out.push(map.keys().map(String::as_str).collect());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn nothing_but_annotations_beside_a_ref() {
    // Draft-07 validators (Taplo's) ignore the keywords beside a `$ref`;
    // only annotations may stand there.
    let s = json();
    let mut found = Vec::new();
    refs(&s, &mut found);
    assert!(found.len() > 50);
    for keys in found {
        for k in keys {
            assert!(
                ["$ref", "description", "default", "title"].contains(&k),
                "{k} beside a $ref"
            );
        }
    }
}

#[test]
fn no_null_no_line_breaks_no_key_prefix() {
    let text = serde_json::to_string(&json()).unwrap();
    assert!(!text.contains("null"), "{text}");
    let s = json();
    let tcp = &s["$defs"]["TcpOverrides"]["properties"];
    assert_eq!(
        tcp["initial_rto"]["description"],
        "RTO before any RTT sample (longer than zero)."
    );
    assert_eq!(tcp["initial_rto"]["$ref"], "#/$defs/PositiveDuration");
    assert_eq!(tcp["initial_rto"]["default"], "1s");
    let host = &s["$defs"]["Host"]["properties"];
    assert_eq!(
        host["ephemeral_ports"]["description"],
        "Where this host's active opens take their source port, both ends included."
    );
}

/// A file with every table that has keys with defaults, none of those keys
/// set: a key's default must give the same experiment as its absence.
const BASE: &str = r#"
[tcp]
syn_retries = 3

[[hosts]]
name = "client"
addr = "10.0.0.1"
tcp = { synack_retries = 2 }

[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]

[[hosts]]
name = "third"
addr = "10.0.0.3"

[[links]]
a = "client"
b = "server"
a_to_b = { loss = { model = "gilbert-elliott", p = 0.1 } }
b_to_a = { rate = "1Mbit" }

[[links]]
a = "server"
b = "third"
loss = { model = "gilbert-elliott", p = 0.2, r = 0.5 }

[[faults]]
action = "drop"
nth = [1]

[[connections]]
client = "client"
server = "server"
port = 80
client_socket = { nodelay = true }
server_socket = { mss = 1000 }

[expect]
outcome = "closed"

[sweep]
seeds = "1..=2"
"#;

/// Resolves a `$ref` into `$defs`.
fn resolve<'s>(root: &'s Value, s: &'s Value, pointer: &mut String) -> &'s Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").unwrap();
            *pointer = format!("/$defs/{name}");
            &root["$defs"][name]
        }
        None => s,
    }
}

/// Every `default` of a key that the table `node` of `BASE` (at dotted
/// `path`) does not set: its schema pointer, its `--set` path and value.
fn defaults_in(
    root: &Value,
    s: &Value,
    mut pointer: String,
    node: &toml::Value,
    path: &str,
    out: &mut Vec<(String, String, Value)>,
) {
    let s = resolve(root, s, &mut pointer);
    let join = |key: &str| match path {
        "" => key.to_owned(),
        p => format!("{p}.{key}"),
    };
    if let (Some(props), Some(table)) = (s["properties"].as_object(), node.as_table()) {
        for (key, sub) in props {
            let here = format!("{pointer}/properties/{key}");
            match table.get(key) {
                Some(child) => defaults_in(root, sub, here, child, &join(key), out),
                None => {
                    if let Some(d) = sub.get("default") {
                        out.push((here, join(key), d.clone()));
                    }
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (s.get("items"), node.as_array()) {
        for (i, element) in array.iter().enumerate() {
            let here = format!("{pointer}/items");
            defaults_in(root, items, here, element, &join(&i.to_string()), out);
        }
    }
    for (i, branch) in s["anyOf"].as_array().into_iter().flatten().enumerate() {
        let here = format!("{pointer}/anyOf/{i}");
        defaults_in(root, branch, here, node, path, out);
    }
}

/// Every pointer to a `default` in the schema.
fn all_defaults(s: &Value, pointer: &str, out: &mut Vec<String>) {
    match s {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "default" {
                    out.push(pointer.to_owned());
                } else {
                    all_defaults(v, &format!("{pointer}/{k}"), out);
                }
            }
        }
        Value::Array(list) => {
            for (i, v) in list.iter().enumerate() {
                all_defaults(v, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn toml_text(v: &Value) -> String {
    let value: toml::Value = match v {
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap()),
        },
        Value::Array(a) if a.is_empty() => toml::Value::Array(Vec::new()),
        other => panic!("a default the test cannot write: {other}"),
    };
    value.to_string()
}

/// The experiment with every host's TCP configuration resolved (profile,
/// `[tcp]`, the host's `tcp`) in place of the overrides.
fn resolved(mut e: Experiment) -> (Experiment, Vec<tcpsim_tcp::Config>) {
    let configs = e.hosts.iter().map(|h| e.host_config(h)).collect();
    e.tcp = TcpOverrides::default();
    let mut hosts = e.hosts.to_vec();
    for h in &mut hosts {
        h.tcp = TcpOverrides::default();
    }
    e.hosts = hosts.into();
    (e, configs)
}

#[test]
fn every_default_is_what_an_absent_key_gives() {
    let s = json();
    let base: toml::Value = toml::from_str(BASE).unwrap();
    let mut found = Vec::new();
    defaults_in(&s, &s, String::new(), &base, "", &mut found);
    let sets = |list: &[(&str, String)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect()
    };
    for (_, path, default) in &found {
        let value = toml_text(default);
        // A [tcp] key's default holds under both profiles; the others are
        // checked under the default profile.
        let in_tcp = path.starts_with("tcp.") || path.contains(".tcp.");
        let profiles: &[Option<&str>] = if in_tcp {
            &[None, Some("\"linux\"")]
        } else {
            &[None]
        };
        for profile in profiles {
            let mut before: Vec<(&str, String)> = Vec::new();
            if let Some(p) = profile {
                before.push(("profile", p.to_string()));
            }
            let absent = parse_with_overrides(BASE, "base.toml", &sets(&before)).unwrap();
            let mut with = before.clone();
            with.push((path.as_str(), value.clone()));
            let set = parse_with_overrides(BASE, "base.toml", &sets(&with))
                .unwrap_or_else(|e| panic!("{path} = {value}: {e}"));
            assert_eq!(
                resolved(set),
                resolved(absent),
                "{path} = {value} ({profile:?})"
            );
        }
    }
    // Every default of the schema was reached by the walk.
    let mut pointers = Vec::new();
    all_defaults(&s, "", &mut pointers);
    for p in &pointers {
        assert!(
            found.iter().any(|(f, _, _)| f == p),
            "{p}: a default the base file does not reach"
        );
    }
    assert!(pointers.len() >= 30, "{pointers:?}");
}
