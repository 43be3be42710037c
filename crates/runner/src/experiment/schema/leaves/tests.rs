//! Each leaf's schema held against the leaf's reader ([`Leaf::read`]):
//! what the leaf reads, the schema accepts; what it refuses, the schema
//! refuses, but for the gaps the schema module's doc lists, each named
//! where it is allowed. Samples: the parsers' own test strings, the
//! schemas' own bounds and words, values of every type, and generated
//! numbers with every unit and fractions of every length.
//!
//! A small evaluator of the keywords the leaves use reads the schemas
//! (`pattern` through the `regex` crate, which agrees with ECMA 262 on
//! what the patterns use); the whole schema is checked by an independent
//! validator in `.ci/schema-check.py`.

use std::collections::HashMap;

use regex::Regex;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use super::super::super::leaf::{Action, GilbertElliott, Scalar};
use super::super::capitalized;
use super::*;

/// Evaluates the keywords the leaves' schemas use.
struct Eval<'a> {
    defs: &'a Map<String, Value>,
    regexes: HashMap<String, Regex>,
}

impl Eval<'_> {
    fn regex(&mut self, p: &str) -> &Regex {
        self.regexes
            .entry(p.to_owned())
            .or_insert_with(|| Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}")))
    }

    fn accepts(&mut self, s: &Value, v: &Scalar) -> bool {
        let obj = s.as_object().unwrap();
        for (k, val) in obj {
            let ok = match k.as_str() {
                "$ref" => {
                    let name = val.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
                    let def = self.defs[name].clone();
                    self.accepts(&def, v)
                }
                "type" => match (val.as_str().unwrap(), v) {
                    ("string", Scalar::Str(_))
                    | ("integer", Scalar::Int(_))
                    | ("number", Scalar::Int(_) | Scalar::Float(_))
                    | ("boolean", Scalar::Bool(_)) => true,
                    ("string" | "integer" | "number" | "boolean", _) => false,
                    (t, _) => panic!("type {t}"),
                },
                "enum" => val.as_array().unwrap().iter().any(|e| equal(e, v)),
                "const" => equal(val, v),
                "pattern" => match v {
                    Scalar::Str(s) => self.regex(val.as_str().unwrap()).is_match(s),
                    _ => true,
                },
                "minimum" => compare(v, val).is_none_or(|o| o.is_ge()),
                "maximum" => compare(v, val).is_none_or(|o| o.is_le()),
                "not" => !self.accepts(val, v),
                "anyOf" => {
                    let list = val.as_array().unwrap().clone();
                    list.iter().any(|b| self.accepts(b, v))
                }
                "allOf" => {
                    let list = val.as_array().unwrap().clone();
                    list.iter().all(|b| self.accepts(b, v))
                }
                "description" => true,
                other => panic!("the test evaluator does not know {other}"),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

fn equal(e: &Value, v: &Scalar) -> bool {
    match (e, v) {
        (Value::String(a), Scalar::Str(b)) => a == b,
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        (Value::Number(_), Scalar::Int(_) | Scalar::Float(_)) => {
            compare(v, e) == Some(core::cmp::Ordering::Equal)
        }
        _ => false,
    }
}

/// `v` against the JSON number `n`; `None` when `v` is not a number.
fn compare(v: &Scalar, n: &Value) -> Option<core::cmp::Ordering> {
    let exact = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (v, exact) {
        (Scalar::Int(i), Some(n)) => Some(i.cmp(&n)),
        (Scalar::Int(i), None) => (*i as f64).partial_cmp(&n.as_f64().unwrap()),
        (Scalar::Float(f), _) => f.partial_cmp(&n.as_f64().unwrap()),
        _ => None,
    }
}

/// The integer bounds and the words a schema names, to probe it with.
fn probes(s: &Value, defs: &Map<String, Value>, out: &mut Vec<Scalar>) {
    let Some(obj) = s.as_object() else {
        return;
    };
    if let Some(name) = obj.get("$ref").and_then(Value::as_str) {
        probes(&defs[name.strip_prefix("#/$defs/").unwrap()], defs, out);
    }
    for key in ["minimum", "maximum"] {
        if let Some(n) = obj.get(key) {
            let n = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
            let n = n.unwrap();
            out.extend([n - 1, n, n + 1].map(Scalar::Int));
        }
    }
    let words = obj.get("enum").and_then(Value::as_array).cloned();
    let words = words.into_iter().flatten().chain(obj.get("const").cloned());
    for w in words.filter_map(|w| w.as_str().map(str::to_owned)) {
        out.push(Scalar::Str(format!(" {w}")));
        out.push(Scalar::Str(w.to_uppercase()));
        out.push(Scalar::Str(w.to_lowercase()));
        out.push(Scalar::Str(format!("{w}x")));
        out.push(Scalar::Str(w));
    }
    for key in ["anyOf", "allOf"] {
        for b in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            probes(b, defs, out);
        }
    }
    if let Some(n) = obj.get("not") {
        probes(n, defs, out);
    }
}

/// Values of every other type, for every leaf.
fn others() -> Vec<Scalar> {
    vec![
        Scalar::Bool(true),
        Scalar::Float(0.5),
        Scalar::Float(1.0),
        Scalar::Int(0),
        Scalar::Int(1),
        Scalar::Int(-1),
        Scalar::Str(String::new()),
        Scalar::Str("1".into()),
        Scalar::Other,
    ]
}

/// Checks the schema of leaf `T` against `T::read` on `strings`, on the
/// schema's own bounds and words, and on values of every type: what the
/// leaf reads, the schema accepts; what the leaf refuses, the schema
/// refuses too, unless `gap` says the schema cannot see why. Returns how
/// many samples fell in the gap.
fn agree<T: LeafSchema>(strings: &[String], gap: impl Fn(&Scalar) -> bool) -> usize {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let schema = serde_json::to_value(T::schema(&mut generator)).unwrap();
    let defs: Map<String, Value> = generator.definitions().clone();
    let mut samples: Vec<Scalar> = strings.iter().cloned().map(Scalar::Str).collect();
    probes(&schema, &defs, &mut samples);
    samples.extend(others());
    let mut eval = Eval {
        defs: &defs,
        regexes: HashMap::new(),
    };
    let name = core::any::type_name::<T>();
    let mut gaps = 0;
    for v in &samples {
        let read = T::read(v).is_ok();
        let accepted = eval.accepts(&schema, v);
        if read {
            assert!(
                accepted,
                "{name}: the leaf reads {v:?}, the schema refuses it"
            );
        } else if accepted {
            assert!(
                gap(v),
                "{name}: the leaf refuses {v:?}, the schema accepts it"
            );
            gaps += 1;
        }
    }
    gaps
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn none(_: &Scalar) -> bool {
    false
}

#[test]
fn integer_and_word_leaves_agree_with_their_readers() {
    macro_rules! exact {
        ($($leaf:ty),+ $(,)?) => {$(
            assert_eq!(agree::<$leaf>(&[], none), 0);
        )+};
    }
    exact!(
        FileSeed,
        Port,
        ReorderGap,
        Queue,
        Nth,
        SendBytes,
        ConnCount,
        HostCount,
        ExpectCount,
        SocketMss,
        SocketBuffer,
        Retries,
        Mss,
        RecvWindow,
        RecvBuffer,
        Quickacks,
        SendBufferOverhead,
        Probability,
        Text,
        bool,
        Isn,
        WindowScale,
        SendBuffer,
        SendBufferMax,
        InitialWindowSegments,
        Kind,
        FaultSegment,
        StateName,
        GilbertElliott,
        Action,
        tcpsim_tcp::Profile,
        tcpsim_tcp::Nagle,
        tcpsim_net::CloseMode,
        tcpsim_net::Outcome,
    );
    let names = strings(&["x", " x ", " ", "\t", "experiment 1", "é"]);
    assert_eq!(agree::<ExperimentName>(&names, none), 0);
}

/// Fractions to put after a number: none, a bare dot, every one of up to
/// three digits, and longer ones ending in each digit.
fn fractions() -> Vec<String> {
    let mut out = vec![String::new(), ".".to_owned(), "..5".to_owned()];
    for n in 0..10 {
        out.push(format!(".{n}"));
    }
    for n in 0..100 {
        out.push(format!(".{n:02}"));
    }
    for n in 0..1000 {
        out.push(format!(".{n:03}"));
    }
    for len in 4..=16 {
        for d in 0..10 {
            for fill in ["0", "1", "2", "5", "9"] {
                out.push(format!(".{}{d}", fill.repeat(len - 1)));
            }
            out.push(format!(".{}{d}", &"123456789012345678"[..len - 1]));
            out.push(format!(".{}{d}00", &"750000000000000000"[..len - 1]));
        }
    }
    out
}

/// Numbers with `units`, in the forms the parsers' tests use and more.
fn amounts(units: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for unit in units {
        for f in fractions() {
            out.push(format!("1{f}{unit}"));
        }
        for number in [
            "0", "00", "0.0", "007", "12", ".5", "-1", "+1", "1e3", "5.5.5",
        ] {
            out.push(format!("{number}{unit}"));
            out.push(format!(" {number} {unit} "));
        }
        out.push(unit.to_string());
        out.push(format!("1{unit}s"));
        out.push(format!("1 {unit}\t"));
    }
    out
}

#[test]
fn durations_agree_with_parse_duration() {
    let units: Vec<&str> = DURATION_UNITS.iter().map(|(u, _)| *u).collect();
    let mut samples = amounts(&units);
    // The parser's own tests (units.rs), and words that are not units.
    samples.extend(strings(&[
        "1.5s",
        "250us",
        "250µs",
        "2min",
        "1h",
        "0s",
        "7ns",
        "1.1s",
        "0.000000001s",
        "1.50000000000000000000000000s",
        "1.25ms",
        " 40 ms ",
        "18446744073.709551615s",
        "5",
        "-1s",
        "5sec",
        "1.5ns",
        "0.0000000001s",
        "",
        "s",
        ".5s",
        "1.s",
        "1..5s",
        "1e3ms",
        "+1s",
        "1 m s",
        "1S",
        "1MS",
        "1sec",
        "1μs",
        "1.25h",
        "1.5min",
        "0.00000000005min",
    ]));
    // What the schema cannot see: more than 1 000 000 h (3.6 × 10^18 ns),
    // the longest a file may give.
    let too_long = |v: &Scalar| {
        let Scalar::Str(s) = v else { return false };
        [
            "18446744073.709551615s",
            "18446744073.709551616s",
            "99999999999999999999999h",
            "1000001h",
            "3600000000.000000001s",
        ]
        .contains(&s.as_str())
    };
    samples.extend(strings(&[
        "18446744073.709551616s",
        "99999999999999999999999h",
        "1000001h",
        "3600000000.000000001s",
        "1000000h",
        "3600000000s",
    ]));
    assert_eq!(agree::<Duration>(&samples, too_long), 5);
    assert_eq!(agree::<PositiveDuration>(&samples, too_long), 5);
    assert_eq!(agree::<FinWait2>(&samples, too_long), 5);
    assert_eq!(agree::<UserTimeout>(&samples, too_long), 5);
}

#[test]
fn rates_agree_with_parse_rate() {
    let mut units: Vec<String> = Vec::new();
    for (u, _) in RATE_UNITS {
        units.push(u.to_owned());
        units.push(u.to_uppercase());
        units.push(capitalized(u));
    }
    let units: Vec<&str> = units.iter().map(String::as_str).collect();
    let mut samples = amounts(&units);
    samples.extend(strings(&[
        "10Mbit",
        "1Gbit",
        "64kbit",
        "64Kbit",
        "1000bit",
        "1.5Gbit",
        "2MBIT",
        "1Mibit",
        "1Tbit",
        "10",
        "10Mbps",
        "10Mb",
        "0bit",
        "0.5bit",
        "-1Mbit",
        "fast",
        "unlimited",
        "Unlimited",
        " unlimited",
        "0.5Kibit",
        "0.25Kibit",
        "0.0009765625Kibit",
        "1bps",
    ]));
    // What the schema cannot see: a fraction of a binary unit that is not
    // whole bits, and 2^64 bit/s or more.
    let gap = |v: &Scalar| {
        let Scalar::Str(s) = v else { return false };
        s.to_ascii_lowercase().contains("ibit") || s.starts_with("20000000000")
    };
    samples.push("20000000000Gbit".to_owned());
    assert!(agree::<Rate>(&samples, gap) > 0);
}

#[test]
fn port_and_seed_ranges_agree_with_their_parsers() {
    let ranges = strings(&[
        "1024-65535",
        "40000-40000",
        "0-10",
        "10-5",
        "1-65536",
        "1024",
        "+1-5",
        "1-1",
        "1-0",
        " 10 - 20 ",
        "010-0020",
        "65535-65535",
        "99999-1",
        "a-b",
        "5-",
        "-5",
        "1-2-3",
        "1 0-20",
        "65536-65536",
        "1-99999",
        "00000-1",
    ]);
    // The schema does not compare the two ports.
    let reversed = |v: &Scalar| matches!(v, Scalar::Str(s) if s == "10-5");
    assert_eq!(agree::<PortRange>(&ranges, reversed), 1);

    let seeds = strings(&[
        "1..=1000",
        "1..1000",
        "7",
        "5..6",
        "0..=18446744073709551615",
        "5..5",
        "0..0",
        "6..=5",
        "1..=",
        "..5",
        "a..b",
        "-1..5",
        "18446744073709551616",
        "18446744073709551615",
        " 3 ",
        "1 ..= 5",
        "1..= 5",
        "1.. =5",
        "1..2..3",
        "1...2",
        "0",
        "000",
        "007..=9",
        "1..=2 ",
        "+1..2",
    ]);
    // Nor whether the range is empty.
    let empty =
        |v: &Scalar| matches!(v, Scalar::Str(s) if ["5..5", "0..0", "6..=5"].contains(&s.as_str()));
    assert_eq!(agree::<Seeds>(&seeds, empty), 3);
}

#[test]
fn addresses_names_and_steps_agree_with_their_readers() {
    let addrs = strings(&[
        "10.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.255",
        "223.255.255.255",
        "240.0.0.1",
        "01.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        " 10.0.0.1",
        "10.0.0.01",
        "1.2.3.4 ",
        "0.1.2.3",
        "127.0.0.1",
        "1.2.3.-4",
        "+1.2.3.4",
        "1.2.3.255",
        "255.255.255.254",
        "100.200.250.199",
        "1.2.3.256",
        "::1",
        "10.0.0.1/8",
    ]);
    assert_eq!(agree::<Addr>(&addrs, none), 0);

    let names = strings(&[
        "client",
        "a-b_C9",
        "",
        "a b",
        "ä",
        "a.b",
        "{}",
        "client-{}",
        "{}-client",
        "a{}b",
        "a{}{}",
        "{}{}",
        "{",
        "}",
        "{ }",
        "a{b}",
        "-",
        "_",
        "0",
    ]);
    assert_eq!(agree::<HostName>(&names, none), 0);

    let mut steps = strings(&[
        "write 3000",
        "read 100",
        "read eof",
        "read all",
        "wait acked",
        "sleep 10ms",
        "at 1.5s",
        "shutdown",
        "shutdown read",
        "shutdown both",
        "close",
        "  abort ",
        "wrte 10",
        "write 0",
        "write 1073741824",
        "write 1073741825",
        "write 99999999999999999999",
        "write +5",
        "write 007",
        "write -1",
        "write 1.5",
        "write",
        "read",
        "sleep 10",
        "sleep 10 ms",
        "sleep 1.5ns",
        "at 0s",
        "at",
        "close now",
        "",
        "READ eof",
        "shutdown  both",
        "shutdown\tread",
        "wait",
        "acked",
        "read eof eof",
        "sleep 1..5s",
        "at 1.25h",
        "write 1073741823",
        "write 999999999",
        "write 1000000000",
        "read 1073741824 ",
    ]);
    for n in [
        1u64,
        9,
        10,
        99,
        10_737_418,
        107_374_182,
        1_073_741_819,
        1_073_741_820,
    ] {
        steps.push(format!("write {n}"));
        steps.push(format!("read {}", n * 10));
    }
    for f in fractions().iter().step_by(7) {
        steps.push(format!("sleep 1{f}ms"));
        steps.push(format!("at 2{f}s"));
    }
    assert_eq!(agree::<StepText>(&steps, none), 0);
}

#[test]
fn up_to_matches_exactly_the_numbers_in_range() {
    for max in [
        1u64,
        9,
        10,
        19,
        20,
        99,
        100,
        255,
        1000,
        65535,
        1_073_741_824,
    ] {
        let re = Regex::new(&format!("^{}$", up_to(max))).unwrap();
        let probes = (0..=2100).chain([max - 1, max, max + 1, max * 10, 65534, 65536]);
        for n in probes {
            assert_eq!(
                re.is_match(&n.to_string()),
                (1..=max).contains(&n),
                "{max}: {n}"
            );
        }
        assert!(!re.is_match(&format!("0{max}")), "{max}");
    }
    let re = Regex::new(&format!("^{}$", up_to(u64::MAX))).unwrap();
    assert!(re.is_match("18446744073709551615"));
    assert!(!re.is_match("18446744073709551616"));
    assert!(re.is_match("9999999999999999999"));
    assert!(!re.is_match("99999999999999999999"));
}
