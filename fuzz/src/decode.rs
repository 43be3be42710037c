//! Fuzz check for `tcpsim_tcp::wire::decode`: arbitrary bytes never make it
//! panic, and whatever it accepts survives an encode/decode round trip.

use tcpsim_tcp::wire;

/// Decodes `data`; if it is a segment, encodes it again and checks that the
/// bytes decode to the same segment, with the length `encoded_len` promised.
pub fn check(data: &[u8]) {
    let Ok(seg) = wire::decode(data) else {
        return;
    };
    let mut bytes = Vec::new();
    wire::encode(&seg, &mut bytes);
    assert_eq!(
        bytes.len(),
        wire::encoded_len(&seg),
        "encoded_len disagrees with encode"
    );
    let again =
        wire::decode(&bytes).unwrap_or_else(|e| panic!("re-encoded {seg:?} does not decode: {e}"));
    assert_eq!(again, seg, "decode(encode(seg)) != seg");
    // What encode wrote carries a valid IPv4 header checksum.
    assert_eq!(wire::checksum(&bytes[..20]), 0, "IPv4 header checksum");
}
