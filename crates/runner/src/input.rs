//! Reading the files a user names: regular files only (a FIFO would block
//! for ever, a device like `/dev/zero` never ends), at most a stated size,
//! and UTF-8 text, with the line and column of the first byte that is not.

use std::io::Read;
use std::path::Path;

/// The largest experiment file tcpsim reads: 16 MiB (a generated
/// experiment of a million connections is a few lines; a file this large
/// is a mistake).
pub const MAX_EXPERIMENT_FILE: u64 = 16 << 20;

/// The largest sweep shard `tcpsim merge` reads: 8 GiB.
pub const MAX_SHARD_FILE: u64 = 8 << 30;

/// The text of `file`, a regular file of at most `limit` bytes holding
/// UTF-8; `what` names it in the errors ("experiment file", "script").
pub fn read_text(file: &Path, what: &str, limit: u64) -> Result<String, String> {
    let name = file.display();
    let a = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let meta = std::fs::metadata(file).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{name}: is a directory (expected {a} {what})"));
    }
    if !meta.is_file() {
        return Err(format!(
            "{name}: not a regular file (expected {a} {what}: pipes and devices are not read)"
        ));
    }
    if meta.len() > limit {
        return Err(format!(
            "{name}: {} bytes, more than the limit of {limit} bytes for {a} {what}",
            meta.len()
        ));
    }
    let f = std::fs::File::open(file).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // At most one byte past the limit: a file that grows while it is read
    // is caught, not followed.
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{name}: more than the limit of {limit} bytes for {a} {what}"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = &bytes[..at];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = at - line_start + 1;
        format!(
            "{name}:{line}:{column}: expected UTF-8 text, found the byte 0x{:02x}",
            bytes[at]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tcpsim-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn invalid_utf8_is_placed_by_line_and_column() {
        let p = temp("bad.toml", b"name = \"x\"\nseed = 1 \xff\n");
        let e = read_text(&p, "experiment file", 100).unwrap_err();
        // Line 2, the 10th byte of it: `seed = 1 ` is nine.
        assert!(
            e.ends_with("bad.toml:2:10: expected UTF-8 text, found the byte 0xff"),
            "{e}"
        );
    }

    #[test]
    fn the_limit_is_stated() {
        let p = temp("big.toml", &[b'#'; 101]);
        let e = read_text(&p, "experiment file", 100).unwrap_err();
        assert!(
            e.contains("101 bytes, more than the limit of 100 bytes"),
            "{e}"
        );
        assert_eq!(read_text(&p, "experiment file", 101).unwrap().len(), 101);
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_text(Path::new("/dev/zero"), "experiment file", 100).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_text(&std::env::temp_dir(), "experiment file", 100).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
    }
}
