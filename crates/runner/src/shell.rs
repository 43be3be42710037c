//! Command lines that tcpsim prints for the user to run again (replay
//! commands), quoted for a POSIX shell so that a path or a `--set` value
//! with spaces, quotes or other special characters pastes back as it was.

use std::borrow::Cow;

/// `arg` as one shell word: as it is when it holds only characters no
/// shell treats specially, else in single quotes (a `'` inside written as
/// `'\''`).
pub fn quote(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
    }
}

/// The command that replays one run of `file` with `seed` and the
/// `--set`s given (`sets`, then the grid point's `params`).
pub fn replay(
    file: &str,
    seed: u64,
    sets: &[(String, String)],
    params: &[(String, String)],
) -> String {
    let mut cmd = format!("tcpsim run {} --seed {seed}", quote(file));
    for (k, v) in sets.iter().chain(params) {
        cmd.push_str(" --set ");
        cmd.push_str(&quote(&format!("{k}={v}")));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_back_as_they_were() {
        assert_eq!(quote("configs/lost-syn.toml"), "configs/lost-syn.toml");
        assert_eq!(quote("links.0.loss=0.2"), "links.0.loss=0.2");
        assert_eq!(quote("my file.toml"), "'my file.toml'");
        assert_eq!(
            quote(r#"links.0.delay="10ms""#),
            r#"'links.0.delay="10ms"'"#
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf x)"), "'$(rm -rf x)'");
        assert_eq!(quote(""), "''");
    }

    /// What a POSIX shell makes of the quoted words is the words.
    #[test]
    fn the_shell_reads_them_back() {
        let words = [
            "plain",
            "with space",
            "it's",
            r#"a="b""#,
            "$HOME",
            "back\\slash",
            "*",
        ];
        let line: Vec<String> = words.iter().map(|w| quote(w).into_owned()).collect();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {}", line.join(" ")))
            .output()
            .expect("sh runs");
        let back: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(back, words);
    }
}
