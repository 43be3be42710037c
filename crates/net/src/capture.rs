//! Where a run's captures go (tcpsim SPEC §6): the classic pcap (every
//! segment once, at its send time) and the pcapng (every segment at the
//! sender's interface when sent and at the receiver's when delivered, each
//! drop a comment), written to writers as the run goes so that a long run
//! never holds its capture in memory.
//!
//! [`Capture`] names the writers; [`crate::SimBuilder::build_capturing`]
//! and [`crate::Blueprint::sim_capturing`] give it to a simulation. The
//! engine hands the [`Recorder`] each segment as it leaves its host, the
//! reasons it was dropped at the link's entrance, and each arrival; the
//! engine's side is one test of an `Option` per send, per drop and per
//! arrival when nothing is captured.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use tcpsim_tcp::{Instant, Segment, wire};

use crate::pcap::PcapWriter;
use crate::pcapng::{Direction, PcapngWriter};
use crate::trace::{DropReason, HostId};

/// A writer a capture goes to.
type Sink = Box<dyn Write + Send>;

/// The writers a run's captures go to: none, either or both.
///
/// Each block or record is one `write_all`: give a buffered writer
/// (`BufWriter::with_capacity(64 * 1024, file)`). The writers are flushed
/// when the run ends, then dropped; the first error stops the run
/// ([`crate::StopReason::Capture`]) and is in
/// [`crate::RunResult::capture_error`].
///
/// ```
/// use std::net::Ipv4Addr;
/// use std::sync::{Arc, Mutex};
/// use tcpsim_net::{Capture, LinkParams, SimBuilder};
/// use tcpsim_tcp::Config;
///
/// // A writer whose bytes the test can read afterwards.
/// #[derive(Clone, Default)]
/// struct Shared(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Shared {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(b);
///         Ok(b.len())
///     }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let mut b = SimBuilder::new(1);
/// let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
/// let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
/// b.link(client, server, LinkParams::default(), LinkParams::default());
/// let out = Shared::default();
/// let r = b.build_capturing(Capture::new().pcapng(out.clone())).unwrap().run();
/// assert!(r.capture_error.is_none());
/// assert_eq!(&out.0.lock().unwrap()[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
/// ```
#[derive(Default)]
pub struct Capture {
    pcap: Option<Sink>,
    pcapng: Option<Sink>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("pcap", &self.pcap.is_some())
            .field("pcapng", &self.pcapng.is_some())
            .finish()
    }
}

impl Capture {
    /// No capture.
    pub fn new() -> Capture {
        Capture::default()
    }

    /// Writes the classic pcap to `out` ([`crate::pcap`]): byte for byte
    /// what [`crate::SimBuilder::pcap`] keeps in memory.
    pub fn pcap(mut self, out: impl Write + Send + 'static) -> Capture {
        self.pcap = Some(Box::new(out));
        self
    }

    /// Writes the pcapng to `out` ([`crate::pcapng`]): one interface per
    /// host, named after it, in the order hosts were added.
    pub fn pcapng(mut self, out: impl Write + Send + 'static) -> Capture {
        self.pcapng = Some(Box::new(out));
        self
    }
}

/// Which capture a [`CaptureError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// The classic pcap.
    Pcap,
    /// The pcapng.
    Pcapng,
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Pcapng => "pcapng",
        })
    }
}

/// A capture's writer failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("cannot write the {format} capture: {source}")]
pub struct CaptureError {
    /// Which capture.
    pub format: CaptureFormat,
    /// What the writer said (shared, so that a result can be cloned).
    #[source]
    pub source: Arc<io::Error>,
}

/// The classic pcap: kept in memory, or written as it goes.
enum Classic {
    Memory(PcapWriter),
    Stream(PcapWriter<Sink>),
}

/// The segment being sent, until its fate at the link's entrance is known.
struct Outbound {
    host: HostId,
    at: Instant,
    drops: Vec<DropReason>,
}

/// A run's captures being written, as the engine holds them.
pub(crate) struct Recorder {
    classic: Option<Classic>,
    pcapng: Option<PcapngWriter<Sink>>,
    /// The encoded packet of the current send or arrival.
    packet: Vec<u8>,
    outbound: Option<Outbound>,
    /// Comment texts, reused.
    comments: Vec<String>,
    error: Option<CaptureError>,
}

impl Recorder {
    /// The recorder of `capture` (with the classic pcap kept in memory when
    /// `memory` asks for it and `capture` writes none) for the hosts
    /// `names`, the file headers written; `None` when nothing is captured.
    pub(crate) fn start(capture: Capture, memory: bool, names: &[String]) -> Option<Box<Recorder>> {
        let Capture { pcap, pcapng } = capture;
        if pcap.is_none() && pcapng.is_none() && !memory {
            return None;
        }
        let mut error = None;
        let mut fail = |format, e| {
            error.get_or_insert(CaptureError {
                format,
                source: Arc::new(e),
            });
        };
        let classic = match pcap {
            Some(out) => match PcapWriter::with_writer(out) {
                Ok(w) => Some(Classic::Stream(w)),
                Err(e) => {
                    fail(CaptureFormat::Pcap, e);
                    None
                }
            },
            None => memory.then(|| Classic::Memory(PcapWriter::new())),
        };
        let pcapng = pcapng.and_then(|out| match PcapngWriter::new(out, names) {
            Ok(w) => Some(w),
            Err(e) => {
                fail(CaptureFormat::Pcapng, e);
                None
            }
        });
        Some(Box::new(Recorder {
            classic,
            pcapng,
            packet: Vec::with_capacity(1600),
            outbound: None,
            comments: Vec::new(),
            error,
        }))
    }

    /// Whether a writer failed.
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn fail(&mut self, format: CaptureFormat, e: io::Error) {
        self.error.get_or_insert(CaptureError {
            format,
            source: Arc::new(e),
        });
        // Nothing more is written once a writer has failed.
        self.classic = None;
        self.pcapng = None;
    }

    /// `host` sends `seg` at `at`: the classic record now, the pcapng's
    /// outbound copy once the drops at the link's entrance are known, at
    /// the next call (nothing else is captured between a send and its
    /// drops at the entrance, which happen at the send instant).
    #[inline(never)]
    pub(crate) fn sent(&mut self, at: Instant, host: HostId, seg: &Segment) {
        self.sent_done();
        if let Some(Classic::Memory(w)) = &mut self.classic {
            w.record(at, seg);
        }
        let streamed = matches!(self.classic, Some(Classic::Stream(_)));
        if streamed || self.pcapng.is_some() {
            self.packet.clear();
            wire::encode(seg, &mut self.packet);
        }
        if let Some(Classic::Stream(w)) = &mut self.classic {
            if let Err(e) = w.write_packet(at, &self.packet) {
                self.fail(CaptureFormat::Pcap, e);
                return;
            }
        }
        if self.pcapng.is_some() {
            self.outbound = Some(Outbound {
                host,
                at,
                drops: Vec::new(),
            });
        }
    }

    /// The segment sent last was dropped at the link's entrance.
    pub(crate) fn dropped(&mut self, reason: DropReason) {
        if let Some(o) = &mut self.outbound {
            o.drops.push(reason);
        }
    }

    /// The segment sent last has met its fate at the link's entrance: the
    /// pcapng's outbound copy, with a comment per drop.
    fn sent_done(&mut self) {
        let Some(o) = self.outbound.take() else {
            return;
        };
        let Some(w) = &mut self.pcapng else {
            return;
        };
        self.comments.clear();
        self.comments
            .extend(o.drops.iter().map(|r| format!("dropped: {}", r.name())));
        let comments: Vec<&str> = self.comments.iter().map(String::as_str).collect();
        let r = w.packet(
            o.host as u32,
            o.at,
            Direction::Outbound,
            &self.packet,
            &comments,
        );
        if let Err(e) = r {
            self.fail(CaptureFormat::Pcapng, e);
        }
    }

    /// A packet reaches `host` at `at`: `packet` as it arrived (encoded),
    /// dropped there if `dropped` says why.
    pub(crate) fn arrived(
        &mut self,
        at: Instant,
        host: HostId,
        packet: Arrival<'_>,
        dropped: Option<DropReason>,
    ) {
        self.sent_done();
        let Some(w) = &mut self.pcapng else {
            return;
        };
        let bytes = match packet {
            Arrival::Bytes(b) => b,
            Arrival::Segment(seg) => {
                self.packet.clear();
                wire::encode(seg, &mut self.packet);
                &self.packet
            }
        };
        let comment;
        let comments: &[&str] = match dropped {
            Some(r) => {
                comment = format!("dropped: {}", r.name());
                &[&comment]
            }
            None => &[],
        };
        let r = w.packet(host as u32, at, Direction::Inbound, bytes, comments);
        if let Err(e) = r {
            self.fail(CaptureFormat::Pcapng, e);
        }
    }

    /// Flushes the writers: the classic pcap's bytes if it was kept in
    /// memory, and the first error any writer had.
    pub(crate) fn finish(mut self) -> (Option<Vec<u8>>, Option<CaptureError>) {
        self.sent_done();
        let mut memory = None;
        match self.classic.take() {
            Some(Classic::Memory(w)) => memory = Some(w.into_bytes()),
            Some(Classic::Stream(mut w)) => {
                if let Err(e) = w.flush() {
                    self.fail(CaptureFormat::Pcap, e);
                }
            }
            None => {}
        }
        if let Some(mut w) = self.pcapng.take() {
            if let Err(e) = w.flush() {
                self.fail(CaptureFormat::Pcapng, e);
            }
        }
        (memory, self.error)
    }
}

/// A packet as it reached its receiver.
pub(crate) enum Arrival<'a> {
    /// Intact.
    Segment(&'a Segment),
    /// Its bytes (a corrupted packet).
    Bytes(&'a [u8]),
}
