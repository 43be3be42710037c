//! `run --pcap` and `--pcapng` (tcpsim SPEC §6): where the captures go, a
//! file or (`-`) standard output, each behind a 64 KiB buffer and written
//! as the run goes ([`tcpsim_net::Capture`]).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use tcpsim_net::{Capture, CaptureError, CaptureFormat};

/// The buffer in front of each capture's file.
const BUFFER: usize = 64 * 1024;

/// Where `tcpsim run` writes its captures: a path each, `-` for standard
/// output (then the report or timeline goes to standard error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captures<'a> {
    /// `--pcap`: the classic pcap.
    pub pcap: Option<&'a Path>,
    /// `--pcapng`: the pcapng.
    pub pcapng: Option<&'a Path>,
}

/// Whether `path` is `-`, standard output.
fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

impl Captures<'_> {
    /// Whether a capture goes to standard output.
    pub fn to_stdout(&self) -> bool {
        [self.pcap, self.pcapng]
            .into_iter()
            .flatten()
            .any(is_stdout)
    }

    /// Refuses what cannot work: both to standard output, or both to one
    /// file (each would write over the other).
    pub(super) fn check(&self) -> Result<(), String> {
        let (Some(a), Some(b)) = (self.pcap, self.pcapng) else {
            return Ok(());
        };
        if is_stdout(a) && is_stdout(b) {
            return Err(
                "--pcap - and --pcapng - cannot both write to standard output: \
                 send one of them to a file"
                    .to_string(),
            );
        }
        if a == b {
            return Err(format!(
                "--pcap and --pcapng both name {}: give each its own file",
                a.display()
            ));
        }
        Ok(())
    }

    /// Creates the files (or takes standard output): the run's
    /// [`Capture`]. A file that cannot be created is an error naming it.
    pub(super) fn open(&self) -> Result<Capture, String> {
        let mut capture = Capture::new();
        if let Some(path) = self.pcap {
            capture = capture.pcap(writer(path)?);
        }
        if let Some(path) = self.pcapng {
            capture = capture.pcapng(writer(path)?);
        }
        Ok(capture)
    }

    /// The message of a capture's write error: the path, then the OS's error.
    pub(super) fn describe(&self, e: &CaptureError) -> String {
        let path = match e.format {
            CaptureFormat::Pcap => self.pcap,
            CaptureFormat::Pcapng => self.pcapng,
        };
        let name = match path {
            Some(p) if is_stdout(p) => "standard output".to_string(),
            Some(p) => p.display().to_string(),
            None => format!("the {} capture", e.format),
        };
        format!("cannot write {name}: {}", e.source)
    }
}

/// A buffered writer on `path`, or on standard output for `-`.
fn writer(path: &Path) -> Result<Box<dyn Write + Send>, String> {
    if is_stdout(path) {
        return Ok(Box::new(BufWriter::with_capacity(BUFFER, io::stdout())));
    }
    match File::create(path) {
        Ok(f) => Ok(Box::new(BufWriter::with_capacity(BUFFER, f))),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn both_to_stdout_or_to_one_file_is_refused() {
        let dash = Path::new("-");
        let file = Path::new("out.cap");
        let both = |pcap, pcapng| Captures { pcap, pcapng }.check();
        assert!(
            both(Some(dash), Some(dash))
                .unwrap_err()
                .contains("standard output")
        );
        assert!(
            both(Some(file), Some(file))
                .unwrap_err()
                .contains("out.cap")
        );
        assert_eq!(both(Some(dash), Some(file)), Ok(()));
        assert_eq!(both(None, Some(dash)), Ok(()));
        assert!(
            Captures {
                pcap: None,
                pcapng: Some(dash)
            }
            .to_stdout()
        );
        assert!(
            !Captures {
                pcap: Some(file),
                pcapng: None
            }
            .to_stdout()
        );
    }

    #[test]
    fn a_write_error_names_its_path() {
        let c = Captures {
            pcap: Some(Path::new("a.pcap")),
            pcapng: Some(Path::new("-")),
        };
        let e = |format| CaptureError {
            format,
            source: Arc::new(io::Error::other("No space left on device")),
        };
        assert_eq!(
            c.describe(&e(CaptureFormat::Pcap)),
            "cannot write a.pcap: No space left on device"
        );
        assert_eq!(
            c.describe(&e(CaptureFormat::Pcapng)),
            "cannot write standard output: No space left on device"
        );
    }
}
