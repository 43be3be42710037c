//! Typed reading of the document tree: tables that reject unknown keys,
//! fields that check their type and range, each error located at the
//! offending key or value and saying what was expected.

use tcpsim_tcp::Duration;

use super::error::{ConfigError, Location, Origin, line_column};
use super::tree::{Entry, Node, Value};
use super::units::parse_duration;

/// What an error needs to be located: the file name, its text and the
/// `--set` overrides.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) source: &'a str,
    pub(crate) sets: &'a [(String, String)],
}

impl Ctx<'_> {
    /// An error at `at`, about `key` (a dotted path).
    pub(crate) fn error(
        &self,
        at: &Origin,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        let location = match *at {
            Origin::File(offset) => {
                let (line, column) = line_column(self.source, offset);
                Location::File { line, column }
            }
            Origin::Set(i) => {
                let (path, value) = self.sets.get(i).cloned().unwrap_or_default();
                Location::Set { path, value }
            }
        };
        ConfigError::new(self.file, location, key.map(str::to_owned), message.into())
    }

    /// `line 5` or `--set PATH=VALUE`, to point back at an earlier definition.
    pub(crate) fn describe(&self, at: &Origin) -> String {
        match *at {
            Origin::File(offset) => format!("line {}", line_column(self.source, offset).0),
            Origin::Set(i) => match self.sets.get(i) {
                Some((path, value)) => format!("--set {path}={value}"),
                None => "--set".to_owned(),
            },
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A table being read.
#[derive(Clone)]
pub(crate) struct Tbl<'a> {
    pub(crate) cx: &'a Ctx<'a>,
    pub(crate) path: String,
    pub(crate) at: &'a Origin,
    pub(crate) entries: &'a [Entry],
}

/// A value being read, with its dotted path and where its key is.
#[derive(Clone)]
pub(crate) struct Field<'a> {
    pub(crate) cx: &'a Ctx<'a>,
    pub(crate) path: String,
    pub(crate) key: &'a str,
    pub(crate) key_at: &'a Origin,
    pub(crate) node: &'a Node,
}

impl<'a> Tbl<'a> {
    /// Reads `node` as a table; `path` is its dotted path (`""` for the root).
    pub(crate) fn new(
        cx: &'a Ctx<'a>,
        path: String,
        node: &'a Node,
    ) -> Result<Tbl<'a>, ConfigError> {
        match &node.value {
            Value::Table(entries) => Ok(Tbl {
                cx,
                path,
                at: &node.at,
                entries,
            }),
            other => Err(cx.error(
                &node.at,
                (!path.is_empty()).then_some(path.as_str()),
                format!("expected a table, found {}", other.describe()),
            )),
        }
    }

    /// Rejects the first key (in file order) that is not in `allowed`.
    pub(crate) fn deny_unknown(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        for e in self.entries {
            if !allowed.contains(&e.key.as_str()) {
                let mut message = format!("unknown key {:?}", e.key);
                if let Some(near) = closest(&e.key, allowed) {
                    message.push_str(&format!(" (did you mean {near:?}?)"));
                }
                message.push_str(&format!("; expected one of: {}", allowed.join(", ")));
                return Err(self
                    .cx
                    .error(&e.key_at, Some(&join(&self.path, &e.key)), message));
            }
        }
        Ok(())
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<Field<'a>> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| self.field(e))
    }

    fn field(&self, e: &'a Entry) -> Field<'a> {
        Field {
            cx: self.cx,
            path: join(&self.path, &e.key),
            key: &e.key,
            key_at: &e.key_at,
            node: &e.node,
        }
    }

    /// Every entry in file order (for tables that are maps).
    pub(crate) fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        self.entries.iter().map(|e| self.field(e))
    }

    /// The value of a required `key`; when it is missing, an error at the
    /// table saying what was expected.
    pub(crate) fn require(&self, key: &str, what: &str) -> Result<Field<'a>, ConfigError> {
        self.get(key).ok_or_else(|| {
            self.cx.error(
                self.at,
                Some(&join(&self.path, key)),
                format!("missing key: expected {what}"),
            )
        })
    }

    /// Reads optional `key` with `read`.
    pub(crate) fn opt<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key).map(|f| read(&f)).transpose()
    }
}

impl<'a> Field<'a> {
    /// An error at the value.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        self.cx.error(&self.node.at, Some(&self.path), message)
    }

    /// An error at the key.
    pub(crate) fn key_error(&self, message: impl Into<String>) -> ConfigError {
        self.cx.error(self.key_at, Some(&self.path), message)
    }

    /// `expected WHAT, found VALUE`, at the value.
    pub(crate) fn expected(&self, what: &str) -> ConfigError {
        self.error(format!(
            "expected {what}, found {}",
            self.node.value.describe()
        ))
    }

    /// A string.
    pub(crate) fn str(&self, what: &str) -> Result<&'a str, ConfigError> {
        match &self.node.value {
            Value::String(s) => Ok(s),
            _ => Err(self.expected(what)),
        }
    }

    /// A boolean (`true` or `false`; no strings or numbers stand in for one).
    pub(crate) fn boolean(&self) -> Result<bool, ConfigError> {
        match self.node.value {
            Value::Boolean(b) => Ok(b),
            _ => Err(self.expected("true or false")),
        }
    }

    /// One of `names` (a string); `what` describes the choice.
    pub(crate) fn choice<T: Copy>(&self, names: &[(&str, T)]) -> Result<T, ConfigError> {
        let list = names
            .iter()
            .map(|(n, _)| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(" | ");
        let what = format!("one of {list}");
        let s = self.str(&what)?;
        names
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| self.expected(&what))
    }

    /// An integer in `lo..=hi`, converted to `T`; `what` describes it with
    /// its range ("a port between 1 and 65535").
    pub(crate) fn int<T: TryFrom<i128>>(
        &self,
        lo: i128,
        hi: i128,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.node.value {
            Value::Integer(i) if (lo..=hi).contains(&i) => {
                T::try_from(i).map_err(|_| self.expected(what))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A duration string (`"250ms"`).
    pub(crate) fn duration(&self) -> Result<Duration, ConfigError> {
        let s = self.str("a duration string with a unit, like \"250ms\" or \"1.5s\"")?;
        parse_duration(s).map_err(|m| self.error(m))
    }

    /// A duration longer than zero.
    pub(crate) fn positive_duration(&self) -> Result<Duration, ConfigError> {
        let d = self.duration()?;
        if d == Duration::ZERO {
            return Err(self.expected("a duration longer than zero"));
        }
        Ok(d)
    }

    /// A number (integer or float) in `0..=1`.
    pub(crate) fn probability(&self) -> Result<f64, ConfigError> {
        const WHAT: &str = "a probability between 0 and 1";
        let p = match self.node.value {
            Value::Float(f) => f,
            Value::Integer(i) if (0..=1).contains(&i) => i as f64,
            _ => return Err(self.expected(WHAT)),
        };
        if (0.0..=1.0).contains(&p) {
            // -0.0 is in range; store it as 0.0.
            Ok(p + 0.0)
        } else {
            Err(self.expected(WHAT))
        }
    }

    /// An array; each element comes back as a field `path.N`.
    pub(crate) fn array(&self, what: &str) -> Result<Vec<Field<'a>>, ConfigError> {
        match &self.node.value {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    cx: self.cx,
                    path: format!("{}.{i}", self.path),
                    key: self.key,
                    key_at: &node.at,
                    node,
                })
                .collect()),
            _ => Err(self.expected(what)),
        }
    }

    /// An array, or a single value taken as an array of one.
    pub(crate) fn one_or_many(&self) -> Vec<Field<'a>> {
        match &self.node.value {
            Value::Array(_) => self.array("").unwrap_or_default(),
            _ => vec![self.clone()],
        }
    }

    /// A table.
    pub(crate) fn table(&self) -> Result<Tbl<'a>, ConfigError> {
        Tbl::new(self.cx, self.path.clone(), self.node)
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

#[cfg(test)]
mod tests {
    use super::*;

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
