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
//! of every key and value ([`toml::de::DeTable`]); the overrides replace
//! values in that tree; the decoder then reads the tree with
//! `deny_unknown_fields` semantics, so every error, from a syntax error to
//! "unknown host in a link", points at the text (or the `--set`) that
//! caused it.

mod apps;
mod decode;
mod error;
mod expect;
pub mod limits;
mod model;
mod reader;
mod steps;
mod tcp;
mod tree;
mod units;

pub use error::{ConfigError, Location};
pub use model::{
    CloseMode, ConnectionSpec, Distribution, Expect, Experiment, Fault, FaultAction, Host, HostId,
    Link, LinkParams, Loss, OpenMode, Outcome, SocketSpec, Step, Sweep,
};
pub use tcp::TcpOverrides;
pub use units::{SeedRange, parse_duration, parse_rate};

use error::Origin;
use reader::{Ctx, Tbl};
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
    let mut root = tree::parse_document(&cx)?;
    for (i, (path, value)) in sets.iter().enumerate() {
        let node = tree::parse_set_value(&cx, i, value)?;
        tree::apply(&cx, &mut root, path, node, &Origin::Set(i))?;
    }
    let name = default_name(file);
    let experiment = decode::experiment(&cx, &root, &name)?;
    check_grid(&cx, &root, &name)?;
    Ok(experiment)
}

/// The stem of the file name, or `experiment`.
fn default_name(file: &str) -> String {
    std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "experiment".to_owned())
}

/// Checks every value of `[sweep] grid` by applying it to the document (as
/// `--set` would) and reading the result; errors point at the grid's key or
/// value.
fn check_grid(cx: &Ctx<'_>, root: &Node, name: &str) -> Result<(), ConfigError> {
    let Value::Table(entries) = &root.value else {
        return Ok(());
    };
    let Some(sweep) = entries.iter().find(|e| e.key == "sweep") else {
        return Ok(());
    };
    let sweep = Tbl::new(cx, "sweep".to_owned(), &sweep.node)?;
    let Some(grid) = sweep.get("grid") else {
        return Ok(());
    };
    let Value::Table(grid) = &grid.node.value else {
        return Ok(());
    };
    let mut base = root.clone();
    if let Value::Table(entries) = &mut base.value {
        entries.retain(|e| e.key != "sweep");
    }
    for entry in grid {
        let path = entry.key.as_str();
        if path == "sweep" || path.starts_with("sweep.") {
            return Err(cx.error(
                &entry.key_at,
                Some(&format!("sweep.grid.{path}")),
                "a grid cannot vary [sweep] itself: expected a path into the experiment, like \"links.0.loss\"",
            ));
        }
        let Value::Array(values) = &entry.node.value else {
            continue;
        };
        for value in values {
            let mut point = base.clone();
            tree::apply(cx, &mut point, path, value.clone(), &entry.key_at)?;
            decode::experiment(cx, &point, name)?;
        }
    }
    Ok(())
}
