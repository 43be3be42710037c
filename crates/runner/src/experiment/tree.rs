//! The parsed document as a tree whose every value and key remembers its
//! position (see [`Ctx`]: a byte offset in the file, or in a `--set`
//! value), so that every later error, syntactic or semantic, can name a
//! line and column.
//!
//! `toml` parses the text ([`toml::de::DeTable`] keeps spans); this module
//! copies it into an owned tree with entries in file order (`toml`'s tables
//! are sorted by key), applies `--set PATH=VALUE` overrides and sweep grid
//! values to it, and turns values back into [`toml::Value`] for the sweep
//! grid. The typed model is deserialized from this tree (`de.rs`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, Ctx};

/// A value of the document with its position.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) at: usize,
}

/// A TOML value. Integers are kept wide so that range errors can quote
/// them; the decoder checks every range.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    String(String),
    Integer(i128),
    Float(f64),
    Boolean(bool),
    Datetime(toml::value::Datetime),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

/// One `key = value` of a table.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_at: usize,
    pub(crate) node: Node,
}

impl Value {
    /// How the value is quoted in "found ..." messages: numbers and
    /// booleans as written, strings quoted, containers by kind.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::String(s) => {
                let mut short: String = s.chars().take(60).collect();
                if short.len() < s.len() {
                    short.push_str("...");
                }
                format!("{short:?}")
            }
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => format!("{f:?}"),
            Value::Boolean(b) => b.to_string(),
            Value::Datetime(d) => format!("the datetime {d}"),
            Value::Array(items) if items.is_empty() => "an empty array".to_owned(),
            Value::Array(_) => "an array".to_owned(),
            Value::Table(_) => "a table".to_owned(),
        }
    }

    /// The TOML type with its article, for "is a ..." messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Parses the experiment file. A syntax error, an out-of-range integer or
/// an empty document is an error with a location.
pub(crate) fn parse_document(cx: &Ctx<'_>) -> Result<Node, ConfigError> {
    let doc = DeTable::parse(cx.source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let mut message = e.message().trim_end().replace('\n', "; ");
        if message.starts_with("duplicate key") {
            let key = cx.source.get(span.clone()).unwrap_or_default();
            message = format!("duplicate key {key:?}: expected each key once in a table");
        } else if !message.contains("expected") {
            message.push_str("; expected valid TOML syntax");
        }
        cx.error(span.start, None, format!("invalid TOML: {message}"))
    })?;
    let span = doc.span();
    let root = Spanned::new(span, DeValue::Table(doc.into_inner()));
    let node = convert(cx, &root, 0)?;
    if matches!(&node.value, Value::Table(t) if t.is_empty()) {
        return Err(cx.error(
            0,
            None,
            "the file is empty: expected an experiment with at least one [[hosts]] table",
        ));
    }
    Ok(node)
}

/// Parses the VALUE of `--set PATH=VALUE` number `index`: a TOML value
/// (`0.2`, `3`, `"3s"`, `[80, 81]`), or, when it is not valid TOML, the
/// text itself as a string (`3s`, `10.0.0.1`).
pub(crate) fn parse_set_value(cx: &Ctx<'_>, index: usize, text: &str) -> Result<Node, ConfigError> {
    let base = cx.set_position(index);
    match DeValue::parse(text) {
        Ok(value) => convert(cx, &value, base),
        Err(_) => Ok(Node {
            value: Value::String(text.to_owned()),
            at: base,
        }),
    }
}

/// Copies `value` (parsed from a text that starts at position `base`).
fn convert(cx: &Ctx<'_>, value: &Spanned<DeValue<'_>>, base: usize) -> Result<Node, ConfigError> {
    let at = base + value.span().start;
    let v = match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Integer(n),
            Err(_) => {
                return Err(cx.error(
                    at,
                    None,
                    format!(
                        "expected an integer that fits in 64 bits, found {}",
                        i.as_str()
                    ),
                ));
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(x) => Value::Float(x),
            Err(_) => {
                return Err(cx.error(at, None, format!("expected a float, found {}", f.as_str())));
            }
        },
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(*d),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| convert(cx, item, base))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => {
            let mut entries = Vec::with_capacity(table.len());
            for (key, node) in table.iter() {
                entries.push(Entry {
                    key: key.get_ref().to_string(),
                    key_at: base + key.span().start,
                    node: convert(cx, node, base)?,
                });
            }
            // `toml` keeps keys sorted; the file's order is the order of the
            // keys' positions.
            entries.sort_by_key(|e| e.key_at);
            Value::Table(entries)
        }
    };
    Ok(Node { value: v, at })
}

/// The entries of `[sweep] grid` in the document `root` (path = values),
/// in file order; none when there is no grid table.
pub(crate) fn grid(root: &Node) -> &[Entry] {
    match find(root, &["sweep", "grid"]).map(|g| &g.value) {
        Some(Value::Table(entries)) => entries,
        _ => &[],
    }
}

/// The node at `path` (table keys, and array indexes as numbers) under
/// `root`, if there is one.
pub(crate) fn find<'n>(root: &'n Node, path: &[&str]) -> Option<&'n Node> {
    let mut node = root;
    for part in path {
        node = match &node.value {
            Value::Table(entries) => &entries.iter().find(|e| e.key == *part)?.node,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The longest `--set` or grid path. Far deeper than any experiment key;
/// it keeps the tree shallow enough that cloning and dropping it (which
/// recurse) cannot exhaust the stack.
const MAX_PATH_KEYS: usize = 32;

/// Replaces (or adds) the value at dotted `path` with `value`. Tables on
/// the way that do not exist yet are created (the decoder then rejects keys
/// the schema does not know); array elements must exist. `at` is where the
/// path itself came from, for errors about it and for created keys.
pub(crate) fn apply(
    cx: &Ctx<'_>,
    root: &mut Node,
    path: &str,
    value: Node,
    at: usize,
) -> Result<(), ConfigError> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() > MAX_PATH_KEYS {
        return Err(cx.error(
            at,
            None,
            format!(
                "expected a dotted path of at most {MAX_PATH_KEYS} keys, found {} keys",
                segments.len()
            ),
        ));
    }
    if segments.iter().any(|s| s.trim().is_empty()) {
        return Err(cx.error(
            at,
            None,
            format!("expected a dotted path like links.0.loss or tcp.initial_rto, found {path:?}"),
        ));
    }
    let Some((last, parents)) = segments.split_last() else {
        return Ok(());
    };
    let mut node = root;
    let mut walked = String::new();
    for (i, segment) in parents.iter().enumerate() {
        // An index into a key the file does not have: `--set faults.0.x`
        // on a file without [[faults]] would make a table named "0".
        let next = segments[i + 1];
        let indexed = !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit());
        let missing =
            matches!(&node.value, Value::Table(e) if !e.iter().any(|e| e.key == *segment));
        if indexed && missing {
            let here = if walked.is_empty() {
                (*segment).to_owned()
            } else {
                format!("{walked}.{segment}")
            };
            return Err(cx.error(
                at,
                Some(&format!("{here}.{next}")),
                format!(
                    "the file has no `{here}`: expected a path into a table or array it has (--set changes an element of an array, it does not add one)"
                ),
            ));
        }
        node = step(cx, node, &walked, segment, at, true)?;
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
    }
    let slot = step(cx, node, &walked, last, at, false)?;
    *slot = value;
    Ok(())
}

/// The child `segment` of `node` (whose path is `parent`), creating a
/// missing table key (an empty table where `create_table`, else a
/// placeholder the caller overwrites).
fn step<'n>(
    cx: &Ctx<'_>,
    node: &'n mut Node,
    parent: &str,
    segment: &str,
    at: usize,
    create_table: bool,
) -> Result<&'n mut Node, ConfigError> {
    let here = if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}.{segment}")
    };
    let type_name = node.value.type_name();
    match &mut node.value {
        Value::Table(entries) => {
            let index = match entries.iter().position(|e| e.key == segment) {
                Some(i) => i,
                None => {
                    let value = if create_table {
                        Value::Table(Vec::new())
                    } else {
                        Value::Boolean(false)
                    };
                    entries.push(Entry {
                        key: segment.to_owned(),
                        key_at: at,
                        node: Node { value, at },
                    });
                    entries.len() - 1
                }
            };
            Ok(&mut entries[index].node)
        }
        Value::Array(items) => {
            let len = items.len();
            let index = segment
                .parse::<usize>()
                .ok()
                .filter(|&i| segment.bytes().all(|b| b.is_ascii_digit()) && i < len);
            match index {
                Some(i) => Ok(&mut items[i]),
                None => Err(cx.error(
                    at,
                    Some(&here),
                    if len == 0 {
                        format!("`{parent}` is an empty array: there is no element {segment:?}")
                    } else {
                        format!(
                            "expected an index of `{parent}` from 0 to {}, found {segment:?}",
                            len - 1
                        )
                    },
                )),
            }
        }
        _ => Err(cx.error(
            at,
            Some(&here),
            format!("`{parent}` is {type_name}, not a table or an array"),
        )),
    }
}

/// The value as a [`toml::Value`] (for the sweep grid). Integers outside
/// the range of `i64` are errors.
pub(crate) fn to_toml(cx: &Ctx<'_>, path: &str, node: &Node) -> Result<toml::Value, ConfigError> {
    Ok(match &node.value {
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Integer(i) => match i64::try_from(*i) {
            Ok(i) => toml::Value::Integer(i),
            Err(_) => {
                return Err(cx.error(
                    node.at,
                    Some(path),
                    format!("expected an integer that fits in 64 bits, found {i}"),
                ));
            }
        },
        Value::Float(f) => toml::Value::Float(*f),
        Value::Boolean(b) => toml::Value::Boolean(*b),
        Value::Datetime(d) => toml::Value::Datetime(*d),
        Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .map(|item| to_toml(cx, path, item))
                .collect::<Result<_, _>>()?,
        ),
        Value::Table(entries) => {
            let mut table = toml::Table::new();
            for e in entries {
                table.insert(e.key.clone(), to_toml(cx, path, &e.node)?);
            }
            toml::Value::Table(table)
        }
    })
}
