//! A serde [`Deserializer`](serde::Deserializer) over the document tree, so
//! that the typed model of the file (`file.rs`) is read by
//! `#[derive(Deserialize)]` with `deny_unknown_fields`, and every error
//! still names the position, the dotted key and what was expected, in the
//! project's words.
//!
//! Why not `toml`'s own deserializer: its error type fixes serde's wording
//! ("invalid type: string \"7\", expected u64"), its tables come sorted by
//! key (so the first error and the "expected one of" lists would not follow
//! the file), and a `--set` value has no place in its spans. Here the error
//! type, [`DeError`], turns serde's error constructors into the project's
//! messages: `invalid_type` and `invalid_value` become "expected WHAT,
//! found VALUE", where VALUE is the offending value as the file wrote it;
//! `unknown_field` becomes "unknown key ... (did you mean ...?); expected
//! one of: ...". The deserializer places each error at the value or key it
//! was raised for, once, on its way out.
//!
//! Positions reach the typed model through `serde_spanned`'s protocol
//! ([`toml::Spanned`]), and through [`Keyed`] for the few errors about a
//! key that should not be there.

use core::fmt;
use core::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_spanned::de::{SpannedDeserializer, is_spanned};
use toml::Spanned;

use super::error::{ConfigError, Ctx};
use super::tree::{Entry, Node, Value};

/// Deserializes `T` from the document `root`.
pub(crate) fn from_tree<'de, T: Deserialize<'de>>(
    cx: &Ctx<'_>,
    root: &Node,
) -> Result<T, ConfigError> {
    let de = NodeDe {
        node: root,
        key_at: None,
        path: Path::Root,
    };
    T::deserialize(de).map_err(|e| e.into_config(cx, root.at))
}

/// The dotted path of a value (`hosts.0.name`), written out only when an
/// error needs it.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}.{i}"),
        }
    }
}

/// An error of the typed reading, in the project's words, placed at the
/// value (or key) it is about by the deserializer.
#[derive(Debug)]
pub(crate) struct DeError {
    message: Message,
    /// The position and dotted key, once placed.
    place: Option<(usize, String)>,
}

#[derive(Debug)]
enum Message {
    /// "expected WHAT": the value is quoted as "found ..." when placed.
    Expected(String),
    /// A whole message.
    Full(String),
}

impl DeError {
    fn full(message: String) -> DeError {
        DeError {
            message: Message::Full(message),
            place: None,
        }
    }

    /// Places the error at `at` (`path`) unless a deeper value already
    /// placed it; `found` describes the value there.
    fn place(mut self, at: usize, path: &Path<'_>, found: impl FnOnce() -> String) -> DeError {
        if self.place.is_none() {
            if let Message::Expected(what) = &self.message {
                self.message = Message::Full(format!("expected {what}, found {}", found()));
            }
            self.place = Some((at, path.to_string()));
        }
        self
    }

    /// The located error; one that was never placed is about the document
    /// (at `root`).
    fn into_config(self, cx: &Ctx<'_>, root: usize) -> ConfigError {
        let message = match self.message {
            Message::Expected(what) => format!("expected {what}"),
            Message::Full(m) => m,
        };
        match self.place {
            Some((at, key)) => cx.error(at, (!key.is_empty()).then_some(key.as_str()), message),
            None => cx.error(root, None, message),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Message::Expected(what) => write!(f, "expected {what}"),
            Message::Full(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError::full(msg.to_string())
    }

    fn invalid_type(_: de::Unexpected<'_>, expected: &dyn de::Expected) -> DeError {
        DeError {
            message: Message::Expected(expected.to_string()),
            place: None,
        }
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> DeError {
        DeError::invalid_type(unexpected, expected)
    }

    fn invalid_length(_: usize, expected: &dyn de::Expected) -> DeError {
        DeError::invalid_type(de::Unexpected::Other(""), expected)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> DeError {
        let list: Vec<String> = expected.iter().map(|v| format!("{v:?}")).collect();
        DeError::full(format!(
            "expected one of {}, found {variant:?}",
            list.join(" | ")
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> DeError {
        let mut message = format!("unknown key {field:?}");
        if let Some(near) = closest(field, expected) {
            message.push_str(&format!(" (did you mean {near:?}?)"));
        }
        message.push_str(&format!("; expected one of: {}", expected.join(", ")));
        DeError::full(message)
    }

    fn missing_field(field: &'static str) -> DeError {
        DeError::full(format!("missing key: expected {field}"))
    }

    fn duplicate_field(field: &'static str) -> DeError {
        DeError::full(format!(
            "duplicate key {field:?}: expected each key once in a table"
        ))
    }
}

/// The allowed key closest to `key` (same letters ignoring case and `-`/`_`,
/// or at most two edits away), for "did you mean" hints.
pub(crate) fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let k = norm(key);
    if let Some(a) = allowed.iter().find(|a| norm(a) == k) {
        return Some(a);
    }
    allowed
        .iter()
        .map(|a| (edit_distance(&k, &norm(a)), *a))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A string as "found ..." quotes it.
fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).describe()
}

/// The deserializer of one value of the tree.
struct NodeDe<'a, 'p> {
    node: &'a Node,
    /// Where the value's key is (for [`Keyed`]); `None` for array elements
    /// and the root.
    key_at: Option<usize>,
    path: Path<'p>,
}

impl NodeDe<'_, '_> {
    fn place<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.place(self.node.at, &self.path, || self.node.value.describe()))
    }
}

impl<'de> IntoDeserializer<'de, DeError> for NodeDe<'_, '_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::String(s) => visitor.visit_str(s),
            Value::Integer(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(i), _) => visitor.visit_i64(i),
                (_, Ok(u)) => visitor.visit_u64(u),
                _ => visitor.visit_i128(*i),
            },
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Boolean(b) => visitor.visit_bool(*b),
            // No key takes a datetime: every reader refuses a unit, and the
            // message quotes the datetime from the tree.
            Value::Datetime(_) => visitor.visit_unit(),
            Value::Array(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
                parent: &self.path,
            }),
            Value::Table(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                current: None,
                parent: &self.path,
            }),
        };
        self.place(r)
    }

    /// A key that is present is `Some`; a missing key never gets here.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if is_spanned(name) {
            let at = self.node.at;
            return visitor.visit_map(SpannedDeserializer::new(self, at..at));
        }
        let _ = fields;
        // A derived struct would also take an array, field by field: a
        // table of the file is a table.
        if let Value::Array(_) = self.node.value {
            return self.place(Err(de::Error::invalid_type(de::Unexpected::Seq, &visitor)));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == KEYED {
            let key_at = self.key_at.unwrap_or(self.node.at);
            return visitor.visit_newtype_struct(KeyedDe {
                value: self,
                key_at,
            });
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map enum identifier
    }
}

/// The elements of an array, each with its index in the path.
struct SeqDe<'a, 'p> {
    items: core::slice::Iter<'a, Node>,
    index: usize,
    parent: &'p Path<'p>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.parent, self.index);
        self.index += 1;
        let de = NodeDe {
            node,
            key_at: None,
            path,
        };
        // An error the seed raised without reading the element (a limit on
        // the array's length) is about this element too.
        seed.deserialize(de)
            .map(Some)
            .map_err(|e| e.place(node.at, &path, || node.value.describe()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a table, in file order.
struct MapDe<'a, 'p> {
    entries: core::slice::Iter<'a, Entry>,
    current: Option<&'a Entry>,
    parent: &'p Path<'p>,
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        let path = Path::Key(self.parent, &entry.key);
        seed.deserialize(KeyDe {
            key: &entry.key,
            at: entry.key_at,
        })
        .map(Some)
        .map_err(|e| e.place(entry.key_at, &path, || quoted(&entry.key)))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.current.take() else {
            return Err(DeError::full("a value without its key".to_owned()));
        };
        let path = Path::Key(self.parent, &entry.key);
        let de = NodeDe {
            node: &entry.node,
            key_at: Some(entry.key_at),
            path,
        };
        seed.deserialize(de)
            .map_err(|e| e.place(entry.node.at, &path, || entry.node.value.describe()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The deserializer of a table's key: a string, which may be `Spanned`.
struct KeyDe<'a> {
    key: &'a str,
    at: usize,
}

impl<'de> IntoDeserializer<'de, DeError> for KeyDe<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.key)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if is_spanned(name) {
            let span = self.at..self.at + self.key.len();
            return visitor.visit_map(SpannedDeserializer::new(self, span));
        }
        let _ = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The newtype name by which [`Keyed`] asks for its key's position.
const KEYED: &str = "$tcpsim::Keyed";

/// A value with the position of its key as well as its own: for the
/// errors about a key that should not be there at all (`extra` without
/// `action = "delay"`), which point at the key as an editor would.
/// Through any other deserializer the key's position is the value's.
pub(crate) struct Keyed<T> {
    /// Where the key is.
    pub(crate) key: usize,
    /// The value, with its own position.
    pub(crate) value: Spanned<T>,
}

impl<T> Keyed<T> {
    /// The position of the key.
    pub(crate) fn at(&self) -> usize {
        self.key
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Keyed<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for KeyedVisitor<T> {
            type Value = Keyed<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Keyed<T>, D::Error> {
                // The outer span is the key's, the inner one the value's.
                let keyed = Spanned::<Spanned<T>>::deserialize(d)?;
                Ok(Keyed {
                    key: keyed.span().start,
                    value: keyed.into_inner(),
                })
            }
        }
        d.deserialize_newtype_struct(KEYED, KeyedVisitor(PhantomData))
    }
}

/// A value's deserializer whose `Spanned` is the key's position.
struct KeyedDe<'a, 'p> {
    value: NodeDe<'a, 'p>,
    key_at: usize,
}

impl<'de> de::Deserializer<'de> for KeyedDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.value.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if is_spanned(name) {
            let at = self.key_at;
            return visitor.visit_map(SpannedDeserializer::new(self.value, at..at));
        }
        self.value.deserialize_struct(name, fields, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The keys a table type accepts, in its order: what `deny_unknown_fields`
/// lists when it refuses a key, asked of a table that holds only a key no
/// table has.
pub(crate) fn keys_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: fmt::Display>(_: M) -> Found {
            Found(&[])
        }
        fn unknown_field(_: &str, expected: &'static [&'static str]) -> Found {
            Found(expected)
        }
    }
    impl<'de> MapAccess<'de> for Probe {
        type Error = Found;
        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Found> {
            seed.deserialize("\u{0}".into_deserializer()).map(Some)
        }
        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Found> {
            visitor.visit_map(self)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(keys)) => keys,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_derived_lists() {
        use crate::experiment::{SocketSpec, file};
        assert_eq!(keys_of::<file::Sweep>(), ["seeds", "grid"],);
        assert_eq!(
            keys_of::<SocketSpec>(),
            [
                "mss",
                "recv_buffer",
                "send_buffer",
                "nodelay",
                "user_timeout",
                "linger"
            ]
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("delya", &["delay", "jitter"]), Some("delay"));
        assert_eq!(
            closest("Initial-RTO", &["initial_rto"]),
            Some("initial_rto")
        );
        assert_eq!(closest("bandwidth", &["delay", "rate"]), None);
    }
}
