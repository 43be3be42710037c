//! TCP options beyond MSS: window scale and timestamps (RFC 7323), SACK
//! (RFC 2018), and how they are laid out on the wire.
//!
//! The MSS option stays in [`crate::Segment::mss`]; everything else a
//! segment carries is an [`Options`] value. [`crate::wire`] writes the
//! options in the order and with the padding Linux uses (`tcp_options_write`
//! in the kernel, as seen in every capture under `tests/data/linux/`):
//!
//! | option | bytes |
//! |---|---|
//! | MSS | `2 4 mss` |
//! | timestamps with SACK-permitted | `4 2 8 10 TSval TSecr` |
//! | timestamps alone | `1 1 8 10 TSval TSecr` (RFC 7323 Appendix A) |
//! | SACK-permitted alone | `1 1 4 2` |
//! | window scale | `1 3 3 shift` |
//! | SACK blocks | `1 1 5 (2 + 8n) left right ...` |
//!
//! so the option area is always a multiple of four bytes and needs no EOL.
//! The area holds at most 40 bytes: with timestamps, at most three SACK
//! blocks fit, without them four (RFC 2018 §3).

use core::fmt;

use crate::seq::SeqNum;

/// The most SACK blocks one segment carries (40 option bytes, RFC 2018 §3).
pub const MAX_SACK_BLOCKS: usize = 4;

/// RFC 7323 §2.3: a shift count above 14 is used as 14.
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// The timestamps option (RFC 7323 §3): TSval and TSecr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamps {
    /// The sender's timestamp clock.
    pub val: u32,
    /// The timestamp echoed back (TS.Recent of the sender).
    pub ecr: u32,
}

/// The SACK blocks of one segment, most recent first (RFC 2018 §4): a
/// fixed array, so options never allocate.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SackBlocks {
    blocks: [(SeqNum, SeqNum); MAX_SACK_BLOCKS],
    len: u8,
}

impl SackBlocks {
    /// No blocks.
    pub const fn new() -> SackBlocks {
        SackBlocks {
            blocks: [(SeqNum(0), SeqNum(0)); MAX_SACK_BLOCKS],
            len: 0,
        }
    }

    /// Adds a block `[left, right)` after the ones already there; returns
    /// `false` (and adds nothing) when [`MAX_SACK_BLOCKS`] are there.
    pub fn push(&mut self, left: SeqNum, right: SeqNum) -> bool {
        let Some(slot) = self.blocks.get_mut(usize::from(self.len)) else {
            return false;
        };
        *slot = (left, right);
        self.len += 1;
        true
    }

    /// The blocks, as `(left edge, right edge)`, right edge exclusive.
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..usize::from(self.len)]
    }

    /// How many blocks there are.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The options of a segment besides MSS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// Window scale shift (RFC 7323 §2), sent only on SYN and SYN-ACK.
    pub window_scale: Option<u8>,
    /// SACK-permitted (RFC 2018 §2), sent only on SYN and SYN-ACK.
    pub sack_permitted: bool,
    /// Timestamps (RFC 7323 §3).
    pub timestamps: Option<Timestamps>,
    /// SACK blocks (RFC 2018 §3).
    pub sack: SackBlocks,
}

impl Options {
    /// No options.
    pub const NONE: Options = Options {
        window_scale: None,
        sack_permitted: false,
        timestamps: None,
        sack: SackBlocks::new(),
    };

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        *self == Options::NONE
    }

    /// The SACK blocks that fit beside the other options in 40 bytes.
    fn sack_room(&self, mss: bool) -> usize {
        let ts_or_sack_ok = if self.timestamps.is_some() {
            12
        } else if self.sack_permitted {
            4
        } else {
            0
        };
        let fixed =
            4 * usize::from(mss) + ts_or_sack_ok + 4 * usize::from(self.window_scale.is_some());
        // The SACK option itself: NOP NOP kind length, then 8 bytes a block.
        let room = 40usize.saturating_sub(fixed).saturating_sub(4) / 8;
        room.min(self.sack.len())
    }

    /// The bytes [`Options::write`] appends, with the MSS option when `mss`.
    pub fn encoded_len(&self, mss: bool) -> usize {
        let mut n = 4 * usize::from(mss);
        if self.timestamps.is_some() {
            n += 12;
        } else if self.sack_permitted {
            n += 4;
        }
        n += 4 * usize::from(self.window_scale.is_some());
        let blocks = self.sack_room(mss);
        if blocks > 0 {
            n += 4 + 8 * blocks;
        }
        n
    }

    /// Appends the option area, MSS first when given, in Linux's layout (see
    /// the module docs). SACK blocks that do not fit are left out, the
    /// oldest first.
    pub fn write(&self, mss: Option<u16>, buf: &mut Vec<u8>) {
        if let Some(mss) = mss {
            let m = mss.to_be_bytes();
            buf.extend_from_slice(&[KIND_MSS, 4, m[0], m[1]]);
        }
        match (self.timestamps, self.sack_permitted) {
            (Some(ts), sack_ok) => {
                let lead = if sack_ok {
                    [KIND_SACK_PERMITTED, 2]
                } else {
                    [KIND_NOP, KIND_NOP]
                };
                buf.extend_from_slice(&[lead[0], lead[1], KIND_TIMESTAMPS, 10]);
                buf.extend_from_slice(&ts.val.to_be_bytes());
                buf.extend_from_slice(&ts.ecr.to_be_bytes());
            }
            (None, true) => buf.extend_from_slice(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2]),
            (None, false) => {}
        }
        if let Some(shift) = self.window_scale {
            buf.extend_from_slice(&[KIND_NOP, KIND_WINDOW_SCALE, 3, shift]);
        }
        let blocks = self.sack_room(mss.is_some());
        if blocks > 0 {
            buf.extend_from_slice(&[KIND_NOP, KIND_NOP, KIND_SACK, (2 + 8 * blocks) as u8]);
            for &(l, r) in &self.sack.as_slice()[..blocks] {
                buf.extend_from_slice(&l.0.to_be_bytes());
                buf.extend_from_slice(&r.0.to_be_bytes());
            }
        }
    }
}

/// Option kinds (IANA "TCP Option Kind Numbers").
pub(crate) const KIND_EOL: u8 = 0;
pub(crate) const KIND_NOP: u8 = 1;
pub(crate) const KIND_MSS: u8 = 2;
pub(crate) const KIND_WINDOW_SCALE: u8 = 3;
pub(crate) const KIND_SACK_PERMITTED: u8 = 4;
pub(crate) const KIND_SACK: u8 = 5;
pub(crate) const KIND_TIMESTAMPS: u8 = 8;

/// An option whose length byte is impossible for its kind (or runs past
/// the option area).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// The kind byte of the offending option.
    pub(crate) kind: u8,
}

/// Walks an option area: EOL ends it, NOP is skipped, a known option with
/// the wrong length is [`Malformed`], an unknown one is skipped by its
/// length byte. A repeated option: the last one wins. Never panics.
pub(crate) fn parse(mut area: &[u8]) -> Result<(Option<u16>, Options), Malformed> {
    let mut mss = None;
    let mut opts = Options::NONE;
    while let Some((&kind, rest)) = area.split_first() {
        match kind {
            KIND_EOL => break,
            KIND_NOP => {
                area = rest;
                continue;
            }
            _ => {}
        }
        let len = rest.first().map_or(0, |&l| usize::from(l));
        let Some(option) = area.get(..len).filter(|_| len >= 2) else {
            return Err(Malformed { kind });
        };
        let value = &option[2..];
        match (kind, value) {
            (KIND_MSS, &[hi, lo]) => mss = Some(u16::from_be_bytes([hi, lo])),
            (KIND_WINDOW_SCALE, &[shift]) => opts.window_scale = Some(shift),
            (KIND_SACK_PERMITTED, &[]) => opts.sack_permitted = true,
            (KIND_TIMESTAMPS, v) if v.len() == 8 => {
                opts.timestamps = Some(Timestamps {
                    val: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    ecr: u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                });
            }
            (KIND_SACK, v)
                if !v.is_empty() && v.len() % 8 == 0 && v.len() <= 8 * MAX_SACK_BLOCKS =>
            {
                let mut blocks = SackBlocks::new();
                for b in v.chunks_exact(8) {
                    let word =
                        |i: usize| SeqNum(u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
                    blocks.push(word(0), word(4));
                }
                opts.sack = blocks;
            }
            (
                KIND_MSS | KIND_WINDOW_SCALE | KIND_SACK_PERMITTED | KIND_TIMESTAMPS | KIND_SACK,
                _,
            ) => {
                return Err(Malformed { kind });
            }
            _ => {} // unknown: skipped by its length
        }
        area = &area[len..];
    }
    Ok((mss, opts))
}

/// tcpdump's notation of the option area [`Options::write`] writes, NOPs
/// included: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`; SACK blocks
/// as `sack 2 {l:r}{l:r}`. Empty when there are no options.
pub fn format(mss: Option<u16>, o: &Options) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = mss {
        parts.push(format!("mss {m}"));
    }
    match (o.timestamps, o.sack_permitted) {
        (Some(ts), sack_ok) => {
            if sack_ok {
                parts.push("sackOK".to_owned());
            } else {
                parts.extend(["nop".to_owned(), "nop".to_owned()]);
            }
            parts.push(format!("TS val {} ecr {}", ts.val, ts.ecr));
        }
        (None, true) => parts.extend(["nop", "nop", "sackOK"].map(str::to_owned)),
        (None, false) => {}
    }
    if let Some(s) = o.window_scale {
        parts.extend(["nop".to_owned(), format!("wscale {s}")]);
    }
    let blocks = o.sack_room(mss.is_some());
    if blocks > 0 {
        let mut s = format!("sack {blocks} ");
        for (l, r) in &o.sack.as_slice()[..blocks] {
            s.push_str(&format!("{{{}:{}}}", l.0, r.0));
        }
        parts.extend(["nop".to_owned(), "nop".to_owned(), s]);
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(mss: Option<u16>, o: &Options) -> Vec<u8> {
        let mut b = Vec::new();
        o.write(mss, &mut b);
        assert_eq!(b.len(), o.encoded_len(mss.is_some()), "encoded_len");
        assert_eq!(b.len() % 4, 0, "the option area is whole words");
        assert!(b.len() <= 40, "at most 40 option bytes");
        b
    }

    /// The SYN options of a Linux 6.x connect(): `mss 1460,sackOK,TS val
    /// 3976512351 ecr 0,nop,wscale 7` — the bytes of the captured SYN in
    /// `wire::tests::known_answer_captured_linux_syn`.
    #[test]
    fn linux_syn_layout() {
        let o = Options {
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                val: 3_976_512_351,
                ecr: 0,
            }),
            sack: SackBlocks::new(),
        };
        let b = written(Some(1460), &o);
        let ts = 3_976_512_351u32.to_be_bytes();
        assert_eq!(
            b,
            [
                2, 4, 0x05, 0xb4, // mss 1460
                4, 2, 8, 10, ts[0], ts[1], ts[2], ts[3], 0, 0, 0, 0, // sackOK, TS
                1, 3, 3, 7, // nop, wscale 7
            ]
        );
        assert_eq!(parse(&b), Ok((Some(1460), o)));
    }

    #[test]
    fn timestamps_alone_follow_rfc_7323_appendix_a() {
        let o = Options {
            timestamps: Some(Timestamps { val: 1, ecr: 2 }),
            ..Options::NONE
        };
        assert_eq!(written(None, &o), [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn sack_permitted_without_timestamps_is_padded_with_two_nops() {
        let o = Options {
            sack_permitted: true,
            window_scale: Some(14),
            ..Options::NONE
        };
        assert_eq!(
            written(Some(536), &o),
            [2, 4, 2, 24, 1, 1, 4, 2, 1, 3, 3, 14]
        );
    }

    #[test]
    fn sack_blocks_fit_three_with_timestamps_and_four_without() {
        let mut sack = SackBlocks::new();
        for i in 0..4u32 {
            assert!(sack.push(SeqNum(100 * i), SeqNum(100 * i + 50)));
        }
        assert!(!sack.push(SeqNum(1), SeqNum(2)), "a fifth block is refused");
        let with_ts = Options {
            timestamps: Some(Timestamps { val: 5, ecr: 6 }),
            sack,
            ..Options::NONE
        };
        let b = written(None, &with_ts);
        // 12 bytes of timestamps, then NOP NOP 5 (2 + 3 * 8) and 3 blocks.
        assert_eq!(b.len(), 12 + 4 + 3 * 8);
        assert_eq!(&b[12..16], &[1, 1, 5, 26]);
        let (_, back) = parse(&b).unwrap();
        assert_eq!(
            back.sack.as_slice(),
            &sack.as_slice()[..3],
            "the newest three"
        );
        let without = Options {
            sack,
            ..Options::NONE
        };
        let b = written(None, &without);
        assert_eq!(b.len(), 4 + 4 * 8);
        assert_eq!(parse(&b).unwrap().1, without);
    }

    #[test]
    fn unknown_options_are_skipped_and_known_ones_with_bad_lengths_rejected() {
        // kind 30 (MPTCP) with 6 bytes, then wscale 2.
        let b = [30, 6, 0, 0, 0, 0, 1, 3, 3, 2];
        assert_eq!(
            parse(&b),
            Ok((
                None,
                Options {
                    window_scale: Some(2),
                    ..Options::NONE
                }
            ))
        );
        for bad in [
            &[3, 4, 1, 1][..],          // wscale with 2 bytes of value
            &[4, 3, 0][..],             // sackOK with a value
            &[8, 6, 0, 0, 0, 0][..],    // timestamps too short
            &[5, 2][..],                // SACK without blocks
            &[5, 7, 0, 0, 0, 0, 0][..], // SACK not a whole block
            &[2, 3, 0][..],             // MSS with one byte
            &[7, 1][..],                // length below 2
            &[7, 9, 0][..],             // runs past the area
            &[7][..],                   // no length byte
        ] {
            assert_eq!(parse(bad), Err(Malformed { kind: bad[0] }), "{bad:?}");
        }
    }

    #[test]
    fn eol_ends_the_area_and_the_last_repeat_wins() {
        let b = [3, 3, 1, 3, 3, 9, 0, 3, 3, 4];
        assert_eq!(parse(&b).unwrap().1.window_scale, Some(9));
    }

    #[test]
    fn tcpdump_notation() {
        let mut sack = SackBlocks::new();
        sack.push(SeqNum(10), SeqNum(20));
        let o = Options {
            window_scale: Some(10),
            sack_permitted: true,
            timestamps: Some(Timestamps { val: 1, ecr: 0 }),
            sack,
        };
        assert_eq!(
            format(Some(1460), &o),
            "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 10,nop,nop,sack 1 {10:20}"
        );
        assert_eq!(format(None, &Options::NONE), "");
    }
}
