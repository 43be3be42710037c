//! The sweep aggregate: the JSON and text written from the [`Aggregate`]
//! type are byte for byte what the untyped aggregate wrote (`data/sweep.*`,
//! made with it), and the JSON reads back into the same value. The CSV
//! (`data/sweep.csv`) is the JSON's numbers in whole nanoseconds and means
//! with 6 decimals, each checked by hand when it was written: the
//! established times of the three closing runs are 1018627947, 1022762321
//! and 1022903929 ns (`sweep --per-run`), so p50 (rank 2 of 3) is
//! 1022762321, p90, p99 and max 1022903929 and the mean 3064294197 / 3 =
//! 1021431399; the closed times 2491659766, 5284623170 and 7296333327 give
//! 5284623170, 7296333327 and 15072616263 / 3 = 5024205421; FIN
//! retransmissions 2 + 1 + 1 over 3 runs are 1.333333.

use tcpsim_runner::sweep::{Aggregate, Plan, aggregate, csv, text};

const SOURCE: &str = include_str!("data/sweep.toml");

/// The aggregate of `data/sweep.toml` (a point whose connections close,
/// one where every connection is refused: its times are `null`; failed
/// expectations in both), run as `tcpsim sweep tiny.toml` runs it.
fn tiny() -> Aggregate {
    let plan = Plan::new(SOURCE, "tiny.toml", &[], None).unwrap();
    let indices: Vec<u64> = (0..plan.runs()).collect();
    let records = plan.run_indices(&indices, 2).unwrap();
    aggregate(&plan.name, "tiny.toml", &records, &[])
}

#[test]
fn json_text_and_csv_are_the_golden_files() {
    let agg = tiny();
    let json = serde_json::to_string_pretty(&agg).unwrap() + "\n";
    assert_eq!(json, include_str!("data/sweep.json"));
    assert_eq!(text(&agg), include_str!("data/sweep.txt"));
    assert_eq!(csv(&agg).unwrap(), include_str!("data/sweep.csv"));
}

#[test]
fn the_json_reads_back_into_the_same_aggregate() {
    let agg = tiny();
    let json = serde_json::to_string_pretty(&agg).unwrap();
    let back: Aggregate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, agg);
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    // The compact form too, and the saved golden file.
    let compact = serde_json::to_string(&agg).unwrap();
    let back: Aggregate = serde_json::from_str(&compact).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), compact);
    let saved: Aggregate = serde_json::from_str(include_str!("data/sweep.json")).unwrap();
    assert_eq!(saved, agg);
}

#[test]
fn a_bad_aggregate_is_an_error_not_a_default() {
    let json = serde_json::to_string(&tiny()).unwrap();
    for (from, to, fragment) in [
        (
            "\"refused\":",
            "\"refused!\":",
            "unknown outcome \"refused!\"",
        ),
        (
            "\"SYN-ACK\":",
            "\"SYNACK\":",
            "unknown segment kind \"SYNACK\"",
        ),
        (",\"incomplete\":0", "", "missing field `incomplete`"),
        ("\"p99\":", "\"p98\":", "unknown field `p98`"),
    ] {
        let bad = json.replacen(from, to, 1);
        assert_ne!(bad, json, "{from}");
        let err = serde_json::from_str::<Aggregate>(&bad).unwrap_err();
        assert!(err.to_string().contains(fragment), "{from}: {err}");
    }
}
