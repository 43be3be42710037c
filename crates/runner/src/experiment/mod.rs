//! Experiment files (tcpsim SPEC §3): the TOML model, its parser and its
//! validation.
//!
//! [`parse`] turns the text of a file into a checked [`Experiment`] with
//! every default filled in, or a [`ConfigError`] that names the file, the
//! line and column, the key, and what was expected. Nothing panics, whatever
//! the input. [`parse_with_overrides`] does the same after applying the
//! command line's `--set PATH=VALUE` overrides (SPEC §2), with the same
//! checks. Sizes that would not fit in memory (a million connections, a
//! gigabyte per application, a hundred million sweep runs) are rejected up
//! front: [`limits`] lists every limit with its value.
//!
//! How it works: `toml` parses the text into a tree that keeps the position
//! of every key and value ([`toml::de::DeTable`], copied in file order);
//! the overrides replace values in that tree, once; serde then reads the
//! tree into typed structs (`#[derive(Deserialize)]`,
//! `deny_unknown_fields`) through the parser's own deserializer, which
//! words and places every error; one validation pass over those structs
//! checks what needs more than one value and builds the [`Experiment`]. So
//! every error, from a syntax error to "unknown host in a link", points at
//! the text (or the `--set`) that caused it. Durations and rates are parsed
//! by the project's own exact integer parser ([`parse_duration`],
//! [`parse_rate`]): no crate reads `"1.1s"` as exactly 1 100 000 000 ns.
//! A `[sweep]` grid is checked, and [`parse_points`] builds every point,
//! by grafting grid values into copies of that tree: the text is read once.
//! [`keys`] lists every table's keys as the decoder accepts them, and
//! [`schema()`] is the file's JSON Schema, generated from the same typed
//! structs (`tcpsim schema`).
//!
//! | file | does |
//! |---|---|
//! | `tree.rs` | the document tree, `--set` and grid values applied to it |
//! | `de.rs` | serde's `Deserializer` over the tree; errors in the project's words |
//! | `leaf.rs` | each kind of value: its type, range and wording |
//! | `file.rs` | the typed structs of the file (`TcpOverrides` and `SocketSpec` are public) |
//! | `validate.rs`, `apps.rs` | the one validation pass, to [`Experiment`] |
//! | `steps.rs`, `units.rs` | the texts of a step, a duration, a rate, a range |
//! | `schema.rs`, `schema/leaves.rs` | the JSON Schema of the file, of each kind of value |

mod apps;
mod de;
mod error;
mod file;
mod leaf;
pub mod limits;
mod model;
mod schema;
mod steps;
mod tcp;
mod timing;
mod tree;
mod units;
mod validate;

pub use error::{ConfigError, Location};
pub use model::{
    CloseMode, ConnectionSpec, Distribution, Expect, Experiment, Fault, FaultAction, Host, HostId,
    Link, LinkParams, Loss, OpenMode, Outcome, SocketSpec, Step, Sweep,
};
pub use schema::schema;
pub use tcp::TcpOverrides;
pub use units::{SeedRange, parse_duration, parse_rate};

use error::Ctx;
use tree::{Node, Value};

/// Parses and checks the experiment file `file` whose text is `source`.
///
/// `file` is used in error messages and, when the file has no `name`, for
/// the experiment's name (its stem: `configs/lost-syn.toml` → `lost-syn`).
///
/// ```
/// use tcpsim_runner::{parse, Loss};
/// use tcpsim_tcp::Duration;
///
/// let source = r#"
/// [[hosts]]
/// name = "client"
/// addr = "10.0.0.1"
///
/// [[hosts]]
/// name = "server"
/// addr = "10.0.0.2"
/// listen = [80]
///
/// [[links]]
/// a = "client"
/// b = "server"
/// delay = "50ms"
/// loss = 0.01
/// "#;
/// let experiment = parse(source, "configs/example.toml").unwrap();
/// assert_eq!(experiment.name, "example");
/// assert_eq!(experiment.seed, 1);
/// assert_eq!(experiment.links[0].a_to_b.delay, Duration::from_millis(50));
/// assert_eq!(experiment.links[0].b_to_a.loss, Loss::Bernoulli(0.01));
///
/// let err = parse("seed = -1\n", "bad.toml").unwrap_err();
/// assert_eq!(err.to_string(),
///     "bad.toml:1:8: seed: expected a seed between 0 and 9223372036854775807 (2^63 - 1), found -1");
/// ```
pub fn parse(source: &str, file: &str) -> Result<Experiment, ConfigError> {
    parse_with_overrides(source, file, &[])
}

/// Parses `file` like [`parse`], after applying `--set PATH=VALUE`
/// overrides, in order.
///
/// PATH is a dotted path into the TOML document: `seed`, `tcp.initial_rto`,
/// `links.0.loss`, `hosts.1.listen`, `connections.0.client_sends`; array
/// elements by index (they must exist); a key the file does not have may
/// be set if the schema knows it (`tcp.initial_rto` without a `[tcp]`
/// table). VALUE is a TOML value (`0.2`, `3`, `"3s"`, `[80, 81]`), or, when
/// it is not valid TOML, the text as a string (`3s`, `10.0.0.5`). The
/// result gets the same checks as the file; an error caused by an override
/// names `--set PATH=VALUE` instead of a line.
///
/// ```
/// use tcpsim_runner::parse_with_overrides;
/// use tcpsim_tcp::Duration;
///
/// let source = "[[hosts]]\nname = \"a\"\naddr = \"10.0.0.1\"\n";
/// let sets = [("tcp.initial_rto".to_string(), "3s".to_string())];
/// let e = parse_with_overrides(source, "x.toml", &sets).unwrap();
/// assert_eq!(e.tcp.initial_rto, Some(Duration::from_secs(3)));
///
/// let sets = [("seed".to_string(), "\"seven\"".to_string())];
/// let err = parse_with_overrides(source, "x.toml", &sets).unwrap_err();
/// assert_eq!(err.line(), None);
/// assert!(err.to_string().starts_with("--set seed=\"seven\": seed: expected a seed"));
/// ```
pub fn parse_with_overrides(
    source: &str,
    file: &str,
    sets: &[(String, String)],
) -> Result<Experiment, ConfigError> {
    let cx = Ctx { file, source, sets };
    let root = document(&cx)?;
    let name = default_name(file);
    let experiment = read(&cx, &root, &name)?;
    check_grid(&cx, &root, &name)?;
    Ok(experiment)
}

/// One point of a sweep's grid: its values as `--set` pairs, and the
/// experiment there.
pub type Point = (Vec<(String, String)>, Experiment);

/// Parses `file` with its `--set` overrides like [`parse_with_overrides`],
/// then returns the experiment at every point of its `[sweep] grid`, in
/// [`Sweep::points`] order, each with that point's grid values as
/// `--set` pairs (`("links.0.loss", "0.1")`).
///
/// Each experiment is the one `parse_with_overrides` gives with `sets`
/// followed by the point's pairs, but the text is read once: each point's
/// values are put into a copy of the parsed document. An error in a point
/// is placed at the grid value that caused it. A file without a grid has
/// one point, with no pairs.
///
/// ```
/// use tcpsim_runner::experiment::parse_points;
///
/// let source = "[[hosts]]\nname = \"a\"\naddr = \"10.0.0.1\"\n\
///               [sweep]\ngrid = { seed = [1, 2], duration = [\"1s\", \"2s\"] }\n";
/// let points = parse_points(source, "x.toml", &[]).unwrap();
/// let seeds: Vec<u64> = points.iter().map(|(_, e)| e.seed).collect();
/// assert_eq!(seeds, [1, 1, 2, 2]);
/// assert_eq!(points[1].0, [("seed".to_string(), "1".to_string()),
///                          ("duration".to_string(), "\"2s\"".to_string())]);
/// ```
pub fn parse_points(
    source: &str,
    file: &str,
    sets: &[(String, String)],
) -> Result<Vec<Point>, ConfigError> {
    let cx = Ctx { file, source, sets };
    let root = document(&cx)?;
    let name = default_name(file);
    let base = read(&cx, &root, &name)?;
    let grid = tree::grid(&root);
    // The points in `Sweep::points` order: the first path varies slowest.
    let mut points: Vec<Vec<(&str, usize, &Node)>> = vec![Vec::new()];
    for entry in grid {
        let Value::Array(values) = &entry.node.value else {
            continue;
        };
        let mut next = Vec::with_capacity(points.len().saturating_mul(values.len()));
        for point in &points {
            for value in values {
                let mut p = point.clone();
                p.push((entry.key.as_str(), entry.key_at, value));
                next.push(p);
            }
        }
        points = next;
    }
    if grid.is_empty() {
        return Ok(vec![(Vec::new(), base)]);
    }
    for entry in grid {
        check_grid_path(&cx, entry)?;
    }
    let variants = Variants::new(&cx, &root, &name, &base)?;
    let mut out = Vec::with_capacity(points.len());
    for point in points {
        let mut pairs = Vec::with_capacity(point.len());
        for &(path, _, value) in &point {
            let shown = tree::to_toml(&cx, path, value)?.to_string();
            pairs.push((path.to_owned(), shown));
        }
        out.push((pairs, variants.read(&point)?));
    }
    Ok(out)
}

/// Every table of the experiment file with the keys it accepts, in the
/// order its "unknown key" errors list them: `("", top-level keys)`,
/// `("tcp", ...)` (also a host's `tcp`), `("hosts", ...)`, `("links",
/// ...)`, `("links.a_to_b", ...)` (also `b_to_a`), `("links.loss", ...)`
/// (a Gilbert–Elliott table), `("faults", ...)`, `("connections", ...)`,
/// `("connections.client_socket", ...)` (also `server_socket`),
/// `("expect", ...)`, `("sweep", ...)`. The lists are the decoder's own, so
/// a reference or a schema can be held against them.
///
/// ```
/// let keys = tcpsim_runner::experiment::keys();
/// let (_, hosts) = keys.iter().find(|(table, _)| *table == "hosts").unwrap();
/// assert_eq!(*hosts, ["name", "addr", "listen", "tcp", "ephemeral_ports", "count"]);
/// ```
pub fn keys() -> Vec<(&'static str, &'static [&'static str])> {
    use de::keys_of;
    vec![
        ("", keys_of::<file::File>()),
        ("tcp", keys_of::<TcpOverrides>()),
        ("hosts", keys_of::<file::Host>()),
        ("links", keys_of::<file::Link>()),
        ("links.a_to_b", keys_of::<file::Direction>()),
        ("links.loss", keys_of::<file::LossTable>()),
        ("faults", keys_of::<file::Fault>()),
        ("connections", keys_of::<file::Connection>()),
        ("connections.client_socket", keys_of::<SocketSpec>()),
        ("expect", keys_of::<file::Expect>()),
        ("sweep", keys_of::<file::Sweep>()),
    ]
}

/// The document with the `--set` overrides applied, in order.
fn document(cx: &Ctx<'_>) -> Result<Node, ConfigError> {
    let mut root = tree::parse_document(cx)?;
    for (i, (path, value)) in cx.sets.iter().enumerate() {
        let node = tree::parse_set_value(cx, i, value)?;
        tree::apply(cx, &mut root, path, node, cx.set_position(i))?;
    }
    Ok(root)
}

/// The experiment of the document `root`: the typed file read by serde,
/// then validated.
fn read(cx: &Ctx<'_>, root: &Node, name: &str) -> Result<Experiment, ConfigError> {
    let typed: file::File = de::from_tree(cx, root)?;
    validate::experiment(cx, &typed, root, name, validate::Hosts::Own)
}

/// Reads documents that differ from one (`root`) only at a few paths, as
/// a sweep's grid points do, sharing the work those paths cannot change.
///
/// A point whose paths stay out of `hosts`, `seed` and `[sweep]` (the
/// usual case: a link's loss, a timer) is read from a copy of the
/// document without `[[hosts]]` and `[sweep]`: its hosts are the ones
/// checked once for `root` (and its experiment shares them), its
/// `[sweep]` is `root`'s, and only the rest is decoded and checked
/// again, so a point costs what the file's links, faults and connections
/// cost, not its hosts. Any other point is read whole. Either way the
/// experiment is the one [`read`] gives for the document with the
/// point's values.
struct Variants<'a> {
    cx: &'a Ctx<'a>,
    root: &'a Node,
    name: &'a str,
    /// `root` typed, for its host tables.
    typed: file::File,
    hosts: validate::HostsPhase,
    /// `root`'s `[sweep]`.
    sweep: Option<std::sync::Arc<Sweep>>,
    /// `root` without `hosts` and `sweep`.
    rest: Node,
}

impl<'a> Variants<'a> {
    /// `base` is what [`read`] gave for `root`.
    fn new(
        cx: &'a Ctx<'a>,
        root: &'a Node,
        name: &'a str,
        base: &Experiment,
    ) -> Result<Variants<'a>, ConfigError> {
        let typed: file::File = de::from_tree(cx, root)?;
        let hosts = validate::hosts_phase(cx, &typed, root)?;
        let mut rest = Node {
            value: Value::Table(Vec::new()),
            at: root.at,
        };
        if let (Value::Table(all), Value::Table(kept)) = (&root.value, &mut rest.value) {
            kept.extend(
                (all.iter())
                    .filter(|e| e.key != "hosts" && e.key != "sweep")
                    .cloned(),
            );
        }
        Ok(Variants {
            cx,
            root,
            name,
            typed,
            hosts,
            sweep: base.sweep.clone(),
            rest,
        })
    }

    /// The experiment of `root` with `values` (path, position of the grid
    /// key, value) put in, in order.
    fn read(&self, values: &[(&str, usize, &Node)]) -> Result<Experiment, ConfigError> {
        let touches =
            |key: &str| (values.iter()).any(|(path, ..)| path.split('.').next() == Some(key));
        let cx = self.cx;
        let whole = touches("hosts") || touches("seed") || touches("sweep");
        let mut doc = if whole { self.root } else { &self.rest }.clone();
        for &(path, key_at, value) in values {
            tree::apply(cx, &mut doc, path, value.clone(), key_at)?;
        }
        if whole {
            return read(cx, &doc, self.name);
        }
        let typed: file::File = de::from_tree(cx, &doc)?;
        let given = validate::Hosts::Checked {
            phase: &self.hosts,
            tables: validate::host_tables(&self.typed),
            root: self.root,
            rto: touches("tcp") || touches("profile"),
        };
        let mut experiment = validate::experiment(cx, &typed, &doc, self.name, given)?;
        experiment.sweep = self.sweep.clone();
        Ok(experiment)
    }
}

/// The stem of the file name, or `experiment`.
fn default_name(file: &str) -> String {
    std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "experiment".to_owned())
}

/// Refuses a grid path into `[sweep]` itself, at its key.
fn check_grid_path(cx: &Ctx<'_>, entry: &tree::Entry) -> Result<(), ConfigError> {
    let path = entry.key.as_str();
    if path == "sweep" || path.starts_with("sweep.") {
        return Err(cx.error(
            entry.key_at,
            Some(&format!("sweep.grid.{path}")),
            "a grid cannot vary [sweep] itself: expected a path into the experiment, like \"links.0.loss\"",
        ));
    }
    Ok(())
}

/// Checks every value of `[sweep] grid` by putting it into the document
/// (as `--set` would, in a copy without `[sweep]`) and reading the result;
/// errors point at the grid's key or value. The text is not read again.
fn check_grid(cx: &Ctx<'_>, root: &Node, name: &str) -> Result<(), ConfigError> {
    let grid = tree::grid(root);
    if grid.is_empty() {
        return Ok(());
    }
    let mut base = root.clone();
    if let Value::Table(entries) = &mut base.value {
        entries.retain(|e| e.key != "sweep");
    }
    let experiment = read(cx, &base, name)?;
    let variants = Variants::new(cx, &base, name, &experiment)?;
    for entry in grid {
        check_grid_path(cx, entry)?;
        let Value::Array(values) = &entry.node.value else {
            continue;
        };
        for value in values {
            variants.read(&[(&entry.key, entry.key_at, value)])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const HOSTS: &str = "[[hosts]]\nname = \"client\"\naddr = \"10.0.0.1\"\n\
                         [[hosts]]\nname = \"server\"\naddr = \"10.0.0.2\"\nlisten = [80]\n\
                         [[links]]\na = \"client\"\nb = \"server\"\n";

    fn sets(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_grid_point_is_what_its_sets_give() {
        let source = format!(
            "{HOSTS}[[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n\
             [sweep]\nseeds = \"1..=3\"\n\
             grid = {{ \"links.0.loss\" = [0.0, 0.5], \"links.0.delay\" = [\"1ms\", \"2ms\", \"3ms\"], \
             \"hosts.1.listen\" = [[80], [80, 81]] }}\n"
        );
        let base = [("tcp.initial_rto".to_string(), "2s".to_string())];
        let points = parse_points(&source, "x.toml", &base).unwrap();
        assert_eq!(points.len(), 2 * 3 * 2);
        let grid = parse_with_overrides(&source, "x.toml", &base)
            .unwrap()
            .sweep
            .unwrap()
            .points();
        for ((pairs, exp), point) in points.iter().zip(grid) {
            let expected: Vec<(String, String)> = point
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            assert_eq!(*pairs, expected);
            let mut all = base.to_vec();
            all.extend(expected);
            assert_eq!(*exp, parse_with_overrides(&source, "x.toml", &all).unwrap());
        }
        // The first path varies slowest.
        let delays: Vec<u64> = points
            .iter()
            .map(|(_, e)| e.links[0].a_to_b.delay.as_nanos() / 1_000_000)
            .collect();
        assert_eq!(delays, [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
        // Without a grid: one point, no pairs.
        let one = parse_points(HOSTS, "x.toml", &[]).unwrap();
        assert_eq!(one, vec![(Vec::new(), parse(HOSTS, "x.toml").unwrap())]);
    }

    #[test]
    fn points_that_leave_the_hosts_alone_are_what_their_sets_give() {
        // Generated hosts, a host with its own tcp, and a grid that stays
        // out of `hosts`: every point takes the shared-hosts path, and
        // must still be exactly the experiment its sets give.
        let source = "[[hosts]]\nname = \"c{}\"\naddr = \"10.0.1.0\"\ncount = 3\n\
             [[hosts]]\nname = \"server\"\naddr = \"10.0.0.2\"\nlisten = [80]\n\
             tcp = { min_rto = \"300ms\" }\n\
             [[links]]\na = \"c{}\"\nb = \"server\"\ndelay = \"5ms\"\n\
             [[connections]]\nclient = \"c{}\"\nserver = \"server\"\nport = 80\n\
             [[faults]]\naction = \"drop\"\nsegment = \"SYN\"\nnth = 1\n\
             [expect]\noutcome = \"closed\"\n\
             [sweep]\nseeds = \"1..=2\"\n\
             grid = { \"links.0.delay\" = [\"1ms\", \"2ms\"], \"tcp.max_rto\" = [\"1s\", \"2s\"], \
             profile = [\"rfc\", \"linux\"], \"connections.0.open_at\" = [\"0s\", \"1s\"], \
             \"faults.0.nth\" = [1, 2], \"expect.outcome\" = [\"closed\", \"timeout\"] }\n";
        let points = parse_points(source, "x.toml", &[]).unwrap();
        assert_eq!(points.len(), 64);
        for (pairs, exp) in &points {
            assert_eq!(*exp, parse_with_overrides(source, "x.toml", pairs).unwrap());
            // One list of hosts for every point.
            assert!(Arc::ptr_eq(&exp.hosts, &points[0].1.hosts));
        }
        assert_eq!(points[0].1.hosts.len(), 4);
        // A grid value whose RTO bound fails at a host's own min_rto is
        // placed at that host's key in the file, as a whole read places it.
        // (rfc: min_rto 1 s, so a max_rto of 1 s passes [tcp]; the host's
        // 3 s does not.)
        let bad = source.replace("min_rto = \"300ms\"", "min_rto = \"3s\"");
        let e = parse_points(&bad, "x.toml", &[]).unwrap_err();
        assert_eq!(
            (e.line(), e.key()),
            // Line 9: the second [[hosts]] table's `tcp = { ... }`.
            (Some(9), Some("hosts.1.tcp.min_rto")),
            "{e}"
        );
        assert!(e.message().contains("max_rto = \"1s\""), "{e}");
        // An open_at past the run's end is at the grid value.
        let late = source.replace("[\"0s\", \"1s\"]", "[\"0s\", \"11min\"]");
        let e = parse_points(&late, "x.toml", &[]).unwrap_err();
        let value_at = late.find("\"11min\"").unwrap();
        let (line, column) = error::line_column(&late, value_at);
        assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
        assert_eq!(e.key(), Some("connections.0.open_at"));
        // `validate` checks each value alone, through the same path.
        let e = parse_with_overrides(&late, "x.toml", &[]).unwrap_err();
        assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
    }

    #[test]
    fn a_grid_error_is_at_the_grid_value() {
        // Line 12 (HOSTS is 10 lines, then `[sweep]`); `grid = { ` 9 +
        // `"links.0.queue"` 15 + ` = [` 4 + `1, ` 3 = 31 characters.
        let source = format!("{HOSTS}[sweep]\ngrid = {{ \"links.0.queue\" = [1, 0] }}\n");
        let err = parse_points(&source, "x.toml", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml:12:32: links.0.queue: expected a queue between 1 and 4294967295 (2^32 - 1) packets, found 0"
        );
        assert_eq!(err, parse(&source, "x.toml").unwrap_err());
    }

    #[test]
    fn errors_inside_a_set_value_name_the_set_and_the_element() {
        let list = sets(&[("seed", "3"), ("hosts.1.listen", "[80, 0]")]);
        let err = parse_with_overrides(HOSTS, "x.toml", &list).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set hosts.1.listen=[80, 0]: hosts.1.listen.1: expected a port between 1 and 65535, found 0"
        );
        // A key a set creates is placed at that set, after the file's keys.
        let list = sets(&[("seed", "3"), ("tcp.mss", "0")]);
        let err = parse_with_overrides(HOSTS, "x.toml", &list).unwrap_err();
        assert_eq!(
            err.location(),
            &Location::Set {
                path: "tcp.mss".into(),
                value: "0".into()
            }
        );
    }

    #[test]
    fn a_step_list_over_its_limit_is_refused_before_any_step_is_read() {
        // Every step is wrong, but only the length is reported, at the list.
        let steps = vec!["\"nonsense\""; apps::MAX_STEPS + 1].join(", ");
        let source = format!(
            "{HOSTS}[[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n\
             client_app = [{steps}]\n"
        );
        let err = parse(&source, "x.toml").unwrap_err();
        // Line 15, after "client_app = ".
        assert_eq!((err.line(), err.column()), (Some(15), Some(14)), "{err}");
        assert_eq!(err.key(), Some("connections.0.client_app"));
        assert_eq!(
            err.message(),
            "expected at most 10000 steps in a list, found 10001"
        );
    }

    #[test]
    fn a_table_over_its_limit_is_refused_before_any_is_read() {
        // Every host is wrong, but only the count is reported.
        let many = "[[hosts]]\nname = 1\n".repeat(limits::MAX_HOSTS + 1);
        let err = parse(&many, "x.toml").unwrap_err();
        assert_eq!(err.key(), Some("hosts.10000"), "{err}");
        assert_eq!(err.line(), Some(2 * limits::MAX_HOSTS + 1));
        assert!(
            err.message().starts_with("too many [[hosts]] tables"),
            "{err}"
        );
    }
}
