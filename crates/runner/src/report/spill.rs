//! A run's event trace kept in a temporary file while the run goes, and
//! read back in order once it has ended: what lets `tcpsim run` print every
//! event of a run of any length in bounded memory.
//!
//! The report cannot be written while the run goes: `end_ns` and
//! `stop_reason` come before `events`, and whether segments show their
//! options depends on the whole run ([`super::options_in_use`]). So each
//! record goes, as the engine makes it ([`tcpsim_net::Sim::run_to`]), into a
//! [`Spill`] — a compact binary encoding, buffered, in an anonymous
//! temporary file — and after the run [`Spilled::records`] gives them back
//! one at a time, equal to what the engine made, for the JSON events or
//! the timeline lines.
//!
//! The file is made by `tempfile::tempfile`: in the system's temporary
//! directory (`TMPDIR`), with no name anyone can open (Linux `O_TMPFILE`,
//! elsewhere removed as soon as it is opened), so it is gone when its
//! handle is closed, on every way out of the process, a kill included.
//! Nothing of the file but the records in it reaches any output.
//!
//! # Encoding
//!
//! A record is a tag byte (its kind), the time since the record before as
//! an unsigned LEB128 number (times never go back), then the kind's fields:
//! numbers as LEB128, an `Option` of a number as 0 for `None` and n + 1 for
//! `Some(n)`, enumerations as the index of the variant in the tables below,
//! addresses as their four bytes, sequence numbers as four bytes
//! (little-endian), and a segment's options as a byte of which ones are
//! there followed by their values. A data segment with timestamps takes
//! 42 bytes, against the 120 of a [`TraceRecord`] in memory and the 450-odd
//! of its JSON; the events of a bulk transfer average 37.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

use tcpsim_net::{AppCall, AppError, DropReason, SegmentInfo, Shut, TraceKind, TraceRecord, Wait};
use tcpsim_tcp::{
    Flags, Instant, Options, RetransmitCause, SackBlocks, SeqNum, State, TimerKind, Timestamps,
};

/// The buffer between the encoder and the file, each way.
const BUFFER: usize = 64 * 1024;

/// Records written to an anonymous temporary file, in order; see the
/// module docs.
///
/// ```
/// use tcpsim_net::{AppCall, TraceKind, TraceRecord};
/// use tcpsim_runner::report::Spill;
/// use tcpsim_tcp::Instant;
///
/// let rec = TraceRecord {
///     at: Instant::from_millis(5),
///     kind: TraceKind::App { host: 0, conn: Some(0), call: AppCall::Connect },
/// };
/// let mut spill = Spill::new().unwrap();
/// spill.push(&rec).unwrap();
/// let spilled = spill.finish().unwrap();
/// let back: Vec<TraceRecord> = spilled.records().unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(back, [rec]);
/// ```
#[derive(Debug)]
pub struct Spill {
    out: BufWriter<File>,
    /// The time of the last record written, in nanoseconds.
    last: u64,
    records: u64,
    /// One record's bytes, reused.
    scratch: Vec<u8>,
}

impl Spill {
    /// An empty spill in a new anonymous temporary file.
    pub fn new() -> io::Result<Spill> {
        Ok(Spill {
            out: BufWriter::with_capacity(BUFFER, tempfile::tempfile()?),
            last: 0,
            records: 0,
            scratch: Vec::with_capacity(64),
        })
    }

    /// Appends a record. Records must come in time order, as a run makes
    /// them; an earlier one is an [`io::ErrorKind::InvalidInput`] error.
    pub fn push(&mut self, rec: &TraceRecord) -> io::Result<()> {
        let at = rec.at.as_nanos();
        let Some(dt) = at.checked_sub(self.last) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "trace records out of time order",
            ));
        };
        self.scratch.clear();
        encode(&mut self.scratch, dt, &rec.kind);
        self.out.write_all(&self.scratch)?;
        self.last = at;
        self.records += 1;
        Ok(())
    }

    /// How many records were pushed.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Ends the writing: everything pushed is in the file, ready to be read
    /// back.
    pub fn finish(self) -> io::Result<Spilled> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok(Spilled {
            file,
            records: self.records,
        })
    }
}

/// The records of a finished [`Spill`], to read back as often as needed.
#[derive(Debug)]
pub struct Spilled {
    file: File,
    records: u64,
}

impl Spilled {
    /// How many records there are.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The records from the first, in the order they were pushed; each
    /// equal to the one pushed. A read error, or a file that does not hold
    /// what was written ([`io::ErrorKind::InvalidData`]), ends the
    /// iteration with that error.
    pub fn records(&self) -> io::Result<Records<'_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        Ok(Records {
            input: BufReader::with_capacity(BUFFER, file),
            left: self.records,
            last: 0,
        })
    }
}

/// The records of a [`Spilled`] trace, in order ([`Spilled::records`]).
#[derive(Debug)]
pub struct Records<'a> {
    input: BufReader<&'a File>,
    left: u64,
    last: u64,
}

impl Iterator for Records<'_> {
    type Item = io::Result<TraceRecord>;

    fn next(&mut self) -> Option<io::Result<TraceRecord>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let rec = decode(&mut self.input).and_then(|(dt, kind)| {
            self.last = self.last.checked_add(dt).ok_or_else(|| invalid("time"))?;
            Ok(TraceRecord {
                at: Instant::from_nanos(self.last),
                kind,
            })
        });
        if rec.is_err() {
            self.left = 0;
        }
        Some(rec)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.left).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

// ----- the encoding -----

const APP: u8 = 0;
const SEND: u8 = 1;
const DROP: u8 = 2;
const DELIVER: u8 = 3;
const STATE: u8 = 4;
const TIMER: u8 = 5;

/// Option bits of a segment: which options follow, in this order.
const HAS_MSS: u8 = 1;
const HAS_WSCALE: u8 = 2;
const SACK_PERMITTED: u8 = 4;
const HAS_TS: u8 = 8;
/// The SACK block count sits in the bits from here up.
const SACK_SHIFT: u32 = 4;

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the spilled trace is damaged (bad {what})"),
    )
}

fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_opt(out: &mut Vec<u8>, n: Option<u64>) {
    // `Some(u64::MAX)` cannot be written: no field holds one (connection
    // numbers are u32, host numbers index a table).
    put(out, n.map_or(0, |n| n.saturating_add(1)));
}

fn put_addr(out: &mut Vec<u8>, a: SocketAddrV4) {
    out.extend_from_slice(&a.ip().octets());
    put(out, u64::from(a.port()));
}

fn byte(input: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8];
    input.read_exact(&mut b)?;
    Ok(b[0])
}

fn get(input: &mut impl Read) -> io::Result<u64> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = byte(input)?;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(invalid("number"))
}

fn get_as<T: TryFrom<u64>>(input: &mut impl Read, what: &str) -> io::Result<T> {
    T::try_from(get(input)?).map_err(|_| invalid(what))
}

fn get_opt<T: TryFrom<u64>>(input: &mut impl Read, what: &str) -> io::Result<Option<T>> {
    match get(input)? {
        0 => Ok(None),
        n => T::try_from(n - 1).map(Some).map_err(|_| invalid(what)),
    }
}

fn get_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn get_addr(input: &mut impl Read) -> io::Result<SocketAddrV4> {
    let mut ip = [0u8; 4];
    input.read_exact(&mut ip)?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(ip),
        get_as(input, "port")?,
    ))
}

/// The variant of `table` at the index read, or a damaged-file error.
fn pick<T: Copy>(input: &mut impl Read, table: &[T], what: &str) -> io::Result<T> {
    let i = byte(input)?;
    table
        .get(usize::from(i))
        .copied()
        .ok_or_else(|| invalid(what))
}

/// The index of `v` in `table` (every table below lists every variant).
fn index<T: PartialEq>(table: &[T], v: &T) -> u8 {
    table
        .iter()
        .position(|t| t == v)
        .expect("the tables list every variant") as u8
}

const CAUSES: [RetransmitCause; 5] = [
    RetransmitCause::Rto,
    RetransmitCause::Fast,
    RetransmitCause::Rack,
    RetransmitCause::Tlp,
    RetransmitCause::DuplicateSyn,
];

const DROPS: [DropReason; 6] = [
    DropReason::Loss,
    DropReason::Fault,
    DropReason::Queue,
    DropReason::Partition,
    DropReason::Checksum,
    DropReason::NoRoute,
];

const ERRORS: [AppError; 5] = [
    AppError::Refused,
    AppError::TimedOut,
    AppError::Reset,
    AppError::NoPort,
    AppError::PortInUse,
];

const SHUTS: [Shut; 3] = [Shut::Write, Shut::Read, Shut::Both];

const WAITS: [Wait; 3] = [Wait::Sleep, Wait::At, Wait::Acked];

/// Application calls: a code, then the call's own value if it has one.
fn put_call(out: &mut Vec<u8>, call: AppCall) {
    match call {
        AppCall::Connect => out.push(0),
        AppCall::Listen => out.push(1),
        AppCall::Accept => out.push(2),
        AppCall::Write(n) => {
            out.push(3);
            put(out, n);
        }
        AppCall::Close => out.push(4),
        AppCall::Abort => out.push(5),
        AppCall::Eof => out.push(6),
        AppCall::Error(e) => out.extend([7, index(&ERRORS, &e)]),
        AppCall::Read(n) => {
            out.push(8);
            put(out, n);
        }
        AppCall::Shutdown(s) => out.extend([9, index(&SHUTS, &s)]),
        AppCall::Waited(w) => out.extend([10, index(&WAITS, &w)]),
    }
}

fn get_call(input: &mut impl Read) -> io::Result<AppCall> {
    Ok(match byte(input)? {
        0 => AppCall::Connect,
        1 => AppCall::Listen,
        2 => AppCall::Accept,
        3 => AppCall::Write(get(input)?),
        4 => AppCall::Close,
        5 => AppCall::Abort,
        6 => AppCall::Eof,
        7 => AppCall::Error(pick(input, &ERRORS, "error")?),
        8 => AppCall::Read(get(input)?),
        9 => AppCall::Shutdown(pick(input, &SHUTS, "shutdown")?),
        10 => AppCall::Waited(pick(input, &WAITS, "wait")?),
        _ => return Err(invalid("application call")),
    })
}

fn put_segment(out: &mut Vec<u8>, s: &SegmentInfo) {
    put_addr(out, s.src);
    put_addr(out, s.dst);
    out.push(s.flags.bits());
    out.extend_from_slice(&s.seq.0.to_le_bytes());
    out.extend_from_slice(&s.ack.0.to_le_bytes());
    put(out, u64::from(s.len));
    put(out, u64::from(s.win));
    let o = &s.options;
    let mut bits = (o.sack.len() as u8) << SACK_SHIFT;
    for (on, bit) in [
        (s.mss.is_some(), HAS_MSS),
        (o.window_scale.is_some(), HAS_WSCALE),
        (o.sack_permitted, SACK_PERMITTED),
        (o.timestamps.is_some(), HAS_TS),
    ] {
        if on {
            bits |= bit;
        }
    }
    out.push(bits);
    if let Some(mss) = s.mss {
        put(out, u64::from(mss));
    }
    if let Some(ws) = o.window_scale {
        out.push(ws);
    }
    if let Some(ts) = o.timestamps {
        out.extend_from_slice(&ts.val.to_le_bytes());
        out.extend_from_slice(&ts.ecr.to_le_bytes());
    }
    for (l, r) in o.sack.as_slice() {
        out.extend_from_slice(&l.0.to_le_bytes());
        out.extend_from_slice(&r.0.to_le_bytes());
    }
}

fn get_segment(input: &mut impl Read) -> io::Result<SegmentInfo> {
    let src = get_addr(input)?;
    let dst = get_addr(input)?;
    let flags = Flags::from_bits(byte(input)?);
    let seq = SeqNum(get_u32(input)?);
    let ack = SeqNum(get_u32(input)?);
    let len = get_as(input, "length")?;
    let win = get_as(input, "window")?;
    let bits = byte(input)?;
    let mss = if bits & HAS_MSS != 0 {
        Some(get_as(input, "MSS")?)
    } else {
        None
    };
    let window_scale = if bits & HAS_WSCALE != 0 {
        Some(byte(input)?)
    } else {
        None
    };
    let timestamps = if bits & HAS_TS != 0 {
        Some(Timestamps {
            val: get_u32(input)?,
            ecr: get_u32(input)?,
        })
    } else {
        None
    };
    let mut sack = SackBlocks::new();
    for _ in 0..bits >> SACK_SHIFT {
        let (l, r) = (get_u32(input)?, get_u32(input)?);
        if !sack.push(SeqNum(l), SeqNum(r)) {
            return Err(invalid("SACK blocks"));
        }
    }
    Ok(SegmentInfo {
        src,
        dst,
        flags,
        seq,
        ack,
        len,
        win,
        mss,
        options: Options {
            window_scale,
            sack_permitted: bits & SACK_PERMITTED != 0,
            timestamps,
            sack,
        },
    })
}

/// One record: its tag, `dt`, its fields.
fn encode(out: &mut Vec<u8>, dt: u64, kind: &TraceKind) {
    let host = |out: &mut Vec<u8>, h: usize| put(out, h as u64);
    let conn = |out: &mut Vec<u8>, c: Option<u32>| put_opt(out, c.map(u64::from));
    match *kind {
        TraceKind::App {
            host: h,
            conn: c,
            call,
        } => {
            out.push(APP);
            put(out, dt);
            host(out, h);
            conn(out, c);
            put_call(out, call);
        }
        TraceKind::Send {
            host: h,
            conn: c,
            retransmission,
            ref segment,
        } => {
            out.push(SEND);
            put(out, dt);
            host(out, h);
            conn(out, c);
            out.push(retransmission.map_or(0, |r| index(&CAUSES, &r) + 1));
            put_segment(out, segment);
        }
        TraceKind::Drop {
            from,
            to,
            reason,
            ref segment,
        } => {
            out.push(DROP);
            put(out, dt);
            host(out, from);
            put_opt(out, to.map(|t| t as u64));
            out.push(index(&DROPS, &reason));
            put_segment(out, segment);
        }
        TraceKind::Deliver {
            host: h,
            ref segment,
        } => {
            out.push(DELIVER);
            put(out, dt);
            host(out, h);
            put_segment(out, segment);
        }
        TraceKind::State {
            host: h,
            conn: c,
            from,
            to,
        } => {
            out.push(STATE);
            put(out, dt);
            host(out, h);
            conn(out, c);
            out.extend([index(&State::ALL, &from), index(&State::ALL, &to)]);
        }
        TraceKind::Timer {
            host: h,
            conn: c,
            timer,
        } => {
            out.push(TIMER);
            put(out, dt);
            host(out, h);
            conn(out, c);
            out.push(index(&TimerKind::ALL, &timer));
        }
    }
}

/// One record: its `dt` and what it holds.
fn decode(input: &mut impl Read) -> io::Result<(u64, TraceKind)> {
    let tag = byte(input)?;
    let dt = get(input)?;
    let host = |input: &mut _| get_as::<usize>(input, "host");
    let conn = |input: &mut _| get_opt::<u32>(input, "connection");
    let kind = match tag {
        APP => TraceKind::App {
            host: host(input)?,
            conn: conn(input)?,
            call: get_call(input)?,
        },
        SEND => TraceKind::Send {
            host: host(input)?,
            conn: conn(input)?,
            retransmission: match byte(input)? {
                0 => None,
                i => Some(
                    *CAUSES
                        .get(usize::from(i - 1))
                        .ok_or_else(|| invalid("retransmission cause"))?,
                ),
            },
            segment: get_segment(input)?,
        },
        DROP => TraceKind::Drop {
            from: host(input)?,
            to: get_opt(input, "host")?,
            reason: pick(input, &DROPS, "drop reason")?,
            segment: get_segment(input)?,
        },
        DELIVER => TraceKind::Deliver {
            host: host(input)?,
            segment: get_segment(input)?,
        },
        STATE => TraceKind::State {
            host: host(input)?,
            conn: conn(input)?,
            from: pick(input, &State::ALL, "state")?,
            to: pick(input, &State::ALL, "state")?,
        },
        TIMER => TraceKind::Timer {
            host: host(input)?,
            conn: conn(input)?,
            timer: pick(input, &TimerKind::ALL, "timer")?,
        },
        _ => return Err(invalid("record kind")),
    };
    Ok((dt, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(options: Options, mss: Option<u16>) -> SegmentInfo {
        SegmentInfo {
            src: "10.0.0.1:49152".parse().unwrap(),
            dst: "192.168.255.254:65535".parse().unwrap(),
            flags: Flags::from_bits(0xff),
            seq: SeqNum(u32::MAX),
            ack: SeqNum(0x8000_0001),
            len: u32::MAX,
            win: u16::MAX,
            mss,
            options,
        }
    }

    /// A record of every kind, with every variant of every field that
    /// has variants, and the largest values the fields take.
    fn every_kind() -> Vec<TraceKind> {
        let mut sack = SackBlocks::new();
        while sack.push(SeqNum(u32::MAX - 7), SeqNum(3)) {}
        let full = Options {
            window_scale: Some(14),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                val: u32::MAX,
                ecr: 1,
            }),
            sack,
        };
        let mut kinds = Vec::new();
        let calls = [
            AppCall::Connect,
            AppCall::Listen,
            AppCall::Accept,
            AppCall::Write(u64::MAX),
            AppCall::Close,
            AppCall::Abort,
            AppCall::Eof,
            AppCall::Read(0),
        ]
        .into_iter()
        .chain(ERRORS.map(AppCall::Error))
        .chain(SHUTS.map(AppCall::Shutdown))
        .chain(WAITS.map(AppCall::Waited));
        for (i, call) in calls.enumerate() {
            let conn = [None, Some(0), Some(u32::MAX)][i % 3];
            kinds.push(TraceKind::App {
                host: i,
                conn,
                call,
            });
        }
        let causes = std::iter::once(None).chain(CAUSES.map(Some));
        for (i, retransmission) in causes.enumerate() {
            kinds.push(TraceKind::Send {
                host: 1,
                conn: Some(i as u32),
                retransmission,
                segment: segment(if i % 2 == 0 { full } else { Options::NONE }, Some(1460)),
            });
        }
        for (i, reason) in DROPS.into_iter().enumerate() {
            kinds.push(TraceKind::Drop {
                from: 0,
                to: [None, Some(1), Some(usize::from(u16::MAX))][i % 3],
                reason,
                segment: segment(Options::NONE, None),
            });
        }
        kinds.push(TraceKind::Deliver {
            host: 1,
            segment: segment(full, None),
        });
        for (i, from) in State::ALL.into_iter().enumerate() {
            kinds.push(TraceKind::State {
                host: 0,
                conn: Some(1),
                from,
                to: State::ALL[(i + 1) % State::ALL.len()],
            });
        }
        for timer in TimerKind::ALL {
            kinds.push(TraceKind::Timer {
                host: 1,
                conn: None,
                timer,
            });
        }
        kinds
    }

    #[test]
    fn every_record_reads_back_equal() {
        // Times: the same instant twice, small steps, and the largest jump
        // (to the latest instant there is).
        let times = [0, 0, 1, 127, 128, 1 << 40, Instant::MAX.as_nanos()];
        let kinds = every_kind();
        let n = kinds.len();
        let records: Vec<TraceRecord> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| TraceRecord {
                at: Instant::from_nanos(times[i * times.len() / n]),
                kind,
            })
            .collect();
        assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(records.last().unwrap().at, Instant::MAX);
        let mut spill = Spill::new().unwrap();
        for r in &records {
            spill.push(r).unwrap();
        }
        assert_eq!(spill.len(), records.len() as u64);
        let spilled = spill.finish().unwrap();
        // Twice: each reading starts from the first record.
        for _ in 0..2 {
            let back: Vec<TraceRecord> = spilled
                .records()
                .unwrap()
                .collect::<io::Result<_>>()
                .unwrap();
            assert_eq!(back, records);
        }
    }

    #[test]
    fn a_data_segment_takes_a_few_dozen_bytes() {
        let ts = Options {
            timestamps: Some(Timestamps { val: 1, ecr: 2 }),
            ..Options::NONE
        };
        let mut s = segment(ts, None);
        s.len = 1448;
        s.win = 512;
        let mut out = Vec::new();
        encode(
            &mut out,
            10_000,
            &TraceKind::Send {
                host: 0,
                conn: Some(0),
                retransmission: None,
                segment: s,
            },
        );
        // tag 1, dt 2, host 1, conn 1, cause 1, addresses 2 x (4 + 3),
        // flags 1, seq 4, ack 4, len 2, win 2, option bits 1, timestamps 8.
        assert_eq!(
            out.len(),
            1 + 2 + 1 + 1 + 1 + 14 + 1 + 4 + 4 + 2 + 2 + 1 + 8
        );
    }

    #[test]
    fn records_out_of_order_are_refused() {
        let rec = |ns| TraceRecord {
            at: Instant::from_nanos(ns),
            kind: TraceKind::Timer {
                host: 0,
                conn: None,
                timer: TimerKind::Retransmit,
            },
        };
        let mut spill = Spill::new().unwrap();
        spill.push(&rec(5)).unwrap();
        let err = spill.push(&rec(4)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(spill.len(), 1);
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_panic() {
        // A record cut short, and an unknown kind.
        for bytes in [&[SEND, 0, 0][..], &[99, 0][..], &[APP, 0x80, 0x80][..]] {
            let mut spill = Spill::new().unwrap();
            spill.out.write_all(bytes).unwrap();
            spill.records = 2;
            let spilled = spill.finish().unwrap();
            let mut it = spilled.records().unwrap();
            assert!(it.next().unwrap().is_err(), "{bytes:?}");
            assert!(it.next().is_none(), "{bytes:?}: the error ends it");
        }
    }
}
