//! The error of the experiment-file parser: the file, where in it (or which
//! `--set` override), the key, and what was expected.

use core::fmt;

/// Where a [`ConfigError`] was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A place in the experiment file: 1-based line and column. Columns
    /// count characters, not bytes, as editors do.
    File {
        /// Line number, from 1.
        line: usize,
        /// Column number, from 1.
        column: usize,
    },
    /// A `--set PATH=VALUE` override from the command line.
    Set {
        /// The dotted path, as given.
        path: String,
        /// The value, as given.
        value: String,
    },
}

/// An experiment file (with its `--set` overrides) that could not be
/// turned into an [`Experiment`](crate::Experiment).
///
/// Displays as `FILE:LINE:COLUMN: KEY: MESSAGE`, for instance
/// `configs/lost-syn.toml:12:8: links.0.loss: expected a probability between
/// 0 and 1, found 1.5`. An error caused by a `--set` value names it instead
/// of a line: `--set links.0.loss=1.5: links.0.loss: expected ...`. Syntax
/// errors have no key: `FILE:LINE:COLUMN: invalid TOML: ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    file: String,
    location: Location,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    fn new(file: &str, location: Location, key: Option<String>, message: String) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            location,
            key,
            message,
        }
    }

    /// The file name the error is about, as passed to [`parse`](crate::parse).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line, or `None` when a `--set` override caused the error.
    pub fn line(&self) -> Option<usize> {
        match self.location {
            Location::File { line, .. } => Some(line),
            Location::Set { .. } => None,
        }
    }

    /// The 1-based column (in characters), or `None` when a `--set`
    /// override caused the error.
    pub fn column(&self) -> Option<usize> {
        match self.location {
            Location::File { column, .. } => Some(column),
            Location::Set { .. } => None,
        }
    }

    /// Where the error was found.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The dotted path of the offending key (`links.0.loss`), if the error
    /// is about one; `None` for TOML syntax errors.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong and what was expected, without the location and key.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A `--set` value as messages show it: whole up to 60 characters, else
/// its first 60 and how long it is (a value of 100 KB is not echoed back).
fn shortened(value: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 60;
    match value.char_indices().nth(SHOWN) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => {
            std::borrow::Cow::Owned(format!("{}... ({} bytes)", &value[..end], value.len()))
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { line, column } => write!(f, "{}:{line}:{column}: ", self.file)?,
            Location::Set { path, value } => write!(f, "--set {path}={}: ", shortened(value))?,
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What an error needs to be located: the file name, its text and the
/// `--set` overrides.
///
/// Every value of the document has a *position*: a byte offset into the
/// file, or, past the file's end, into the `--set` values, as if each
/// VALUE followed the file's text after one separating byte. Positions are
/// what the document tree and the typed model's `Spanned` values keep; they
/// become a line and column (or the `--set` they came from) only when an
/// error is shown.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) source: &'a str,
    pub(crate) sets: &'a [(String, String)],
}

impl Ctx<'_> {
    /// The position of the first byte of `--set` number `index`'s VALUE.
    pub(crate) fn set_position(&self, index: usize) -> usize {
        let before: usize = self.sets[..index.min(self.sets.len())]
            .iter()
            .map(|(_, value)| value.len() + 1)
            .sum();
        self.source.len() + 1 + before
    }

    /// Where position `at` is: a line and column of the file, or a `--set`.
    fn location(&self, at: usize) -> Location {
        if at <= self.source.len() {
            let (line, column) = line_column(self.source, at);
            return Location::File { line, column };
        }
        let index = (0..self.sets.len())
            .rev()
            .find(|&i| self.set_position(i) <= at)
            .unwrap_or(0);
        let (path, value) = self.sets.get(index).cloned().unwrap_or_default();
        Location::Set { path, value }
    }

    /// An error at position `at`, about `key` (a dotted path).
    pub(crate) fn error(
        &self,
        at: usize,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(
            self.file,
            self.location(at),
            key.map(str::to_owned),
            message.into(),
        )
    }

    /// `line 5` or `--set PATH=VALUE`, to point back at an earlier definition.
    pub(crate) fn describe(&self, at: usize) -> String {
        match self.location(at) {
            Location::File { line, .. } => format!("line {line}"),
            Location::Set { path, value } => format!("--set {path}={}", shortened(&value)),
        }
    }
}

/// The 1-based line and character column of byte `offset` in `source`
/// (a leading byte-order mark takes no column). Never panics: an offset past the end (or inside a character) counts up
/// to the last character before it.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (i, c) in source.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else if i == 0 && c == '\u{feff}' {
            // A byte-order mark is not a column.
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let s = "ab\nµcd\n";
        assert_eq!(line_column(s, 0), (1, 1));
        assert_eq!(line_column(s, 2), (1, 3));
        assert_eq!(line_column(s, 3), (2, 1));
        // 'µ' is two bytes, one column.
        assert_eq!(line_column(s, 5), (2, 2));
        // Inside a character or past the end: no panic.
        assert_eq!(line_column(s, 4), (2, 2));
        assert_eq!(line_column(s, 1000), (3, 1));
        assert_eq!(line_column("\u{feff}ab", 4), (1, 2));
    }

    #[test]
    fn display_names_file_line_column_key() {
        let e = ConfigError::new(
            "configs/lost-syn.toml",
            Location::File {
                line: 12,
                column: 8,
            },
            Some("loss".into()),
            "expected a probability between 0 and 1, found 1.5".into(),
        );
        assert_eq!(
            e.to_string(),
            "configs/lost-syn.toml:12:8: loss: expected a probability between 0 and 1, found 1.5"
        );
        let e = ConfigError::new(
            "x.toml",
            Location::Set {
                path: "seed".into(),
                value: "-1".into(),
            },
            Some("seed".into()),
            "expected a seed".into(),
        );
        assert_eq!(e.to_string(), "--set seed=-1: seed: expected a seed");
        assert_eq!((e.line(), e.column(), e.file()), (None, None, "x.toml"));
    }
}
