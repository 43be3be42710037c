//! The error of the script parser: the file, the line and column, and what
//! was found where something else was expected.

/// A packetdrill script that could not be parsed.
///
/// Displays as `FILE:LINE:COLUMN: MESSAGE`, for instance
/// `close.pkt:12:8: expected a TCP flag (S F R P . E W U A, or an ACE digit
/// 0-7), found `Q``. Lines and columns count from 1; columns count
/// characters, not bytes, as editors do (a tab is one column, a leading
/// byte-order mark none). The position is always inside the text: at most
/// one past the last character of a line, and for an error at the end of
/// the text, just after its last character.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScriptError {
    /// The file name, as passed to [`parse`](super::parse).
    pub file: String,
    /// The 1-based line.
    pub line: u32,
    /// The 1-based column, in characters.
    pub column: u32,
    /// What is wrong: what was found and what was expected, without the
    /// location.
    pub message: String,
}

impl ScriptError {
    pub(crate) fn new(file: &str, line: u32, column: u32, message: impl Into<String>) -> Self {
        ScriptError {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_column_and_message() {
        let e = ScriptError::new("a.pkt", 3, 14, "expected `)`, found `,`");
        assert_eq!(e.to_string(), "a.pkt:3:14: expected `)`, found `,`");
    }
}
