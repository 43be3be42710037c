//! The pictures (issue #8): the ladder diagram of a run
//! (`tcpsim run --diagram`) and the CDF plots of a sweep (`tcpsim sweep
//! --plot`). Each document must be well-formed, self-contained XML, and
//! hold exactly the arrows, crosses, breaks and curves the scenario implies,
//! counted by hand from the scenario (RFC 9293 §3.5 Figure 6, §3.6
//! Figure 12; RFC 6298 §2.1 for the 1 s initial RTO).

use roxmltree::{Document, Node};
use tcpsim_net::{Outcome, RunResult, TraceKind};
use tcpsim_runner::build::{Keep, build};
use tcpsim_runner::report::Meta;
use tcpsim_runner::sweep::{ConnSample, Plan, RunRecord};
use tcpsim_runner::{commands, diagram, parse, plot};

/// Two hosts 50 ms apart (RTT 100 ms), rfc profile, one connection that
/// opens at 0 and closes client-first at once; `extra` adds faults.
fn two_hosts(extra: &str) -> String {
    format!(
        r#"name = "pictures"
seed = 1
profile = "rfc"

[[hosts]]
name = "client"
addr = "10.0.0.1"

[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]

[[links]]
a = "client"
b = "server"
delay = "50ms"

[[connections]]
client = "client"
server = "server"
port = 80

{extra}
"#
    )
}

fn run(source: &str) -> RunResult {
    let exp = parse(source, "pictures.toml").expect("valid experiment");
    let keep = Keep {
        trace: true,
        pcap: false,
        paths: true,
    };
    build(&exp, exp.seed, keep).expect("builds").run()
}

fn draw(r: &RunResult) -> String {
    let h = Meta {
        name: "pictures",
        seed: 1,
        profile: "rfc",
    };
    diagram::render(&h, r)
}

/// Parses the document and checks it needs nothing from outside.
fn parse_svg(svg: &str) -> Document<'_> {
    let doc = Document::parse(svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    for n in doc.descendants().filter(Node::is_element) {
        let tag = n.tag_name().name();
        assert!(
            !matches!(tag, "script" | "image" | "foreignObject" | "use"),
            "self-contained: no <{tag}>"
        );
        for a in n.attributes() {
            assert!(
                !a.name().contains("href"),
                "self-contained: no {}",
                a.name()
            );
            assert!(!a.value().contains("url("), "self-contained: no url()");
        }
    }
    assert!(!svg.contains("@import") && !svg.contains("@font-face"));
    doc
}

fn has_class(n: &Node<'_, '_>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|t| t == class))
}

fn with_class<'a, 'i>(doc: &'a Document<'i>, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, class))
        .collect()
}

fn f(n: &Node<'_, '_>, attr: &str) -> f64 {
    n.attribute(attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("numeric {attr}"))
}

/// The x of each host's time line, left to right.
fn lanes(doc: &Document<'_>) -> Vec<f64> {
    let mut xs: Vec<f64> = with_class(doc, "lane").iter().map(|n| f(n, "x1")).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs
}

#[test]
fn handshake_and_close_draw_seven_arrows_and_no_cross() {
    // SYN, SYN-ACK, ACK, FIN (client), ACK, FIN (server), ACK: 7 segments,
    // all delivered.
    let svg = draw(&run(&two_hosts("")));
    let doc = parse_svg(&svg);
    assert_eq!(with_class(&doc, "arrow").len(), 7);
    assert_eq!(with_class(&doc, "head").len(), 7);
    assert_eq!(with_class(&doc, "cross").len(), 0);
    assert_eq!(with_class(&doc, "rtx").len(), 0);
    // Each arrow runs from one host's line to the other's, downwards (the
    // delivery is 50 ms after the send).
    let x = lanes(&doc);
    assert_eq!(x.len(), 2);
    for a in with_class(&doc, "arrow") {
        let (x1, x2) = (f(&a, "x1"), f(&a, "x2"));
        assert!(
            (x1 == x[0] && x2 == x[1]) || (x1 == x[1] && x2 == x[0]),
            "{x1} -> {x2}"
        );
        assert!(f(&a, "y2") > f(&a, "y1"));
    }
    // The only idle stretch longer than 3 one-way delays (150 ms) is the
    // client's TIME-WAIT: from the server's CLOSED at 250 ms to the client's
    // at 200 ms + 2 MSL = 240.2 s, 239.95 s.
    let breaks = with_class(&doc, "break");
    assert_eq!(breaks.len(), 1);
    let texts: Vec<&str> = breaks[0]
        .descendants()
        .filter(Node::is_element)
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.contains(&"… 239.95 s …"), "{texts:?}");
    // The labels of the segments, in order: tcpdump flags, relative numbers.
    let labels: Vec<&str> = with_class(&doc, "seg-label")
        .iter()
        .filter_map(Node::text)
        .collect();
    assert_eq!(
        labels,
        [
            "[S] seq 0",
            "[S.] seq 0 ack 1",
            "[.] ack 1",
            "[F.] seq 1 ack 1",
            "[.] ack 2",
            "[F.] seq 1 ack 2",
            "[.] ack 2"
        ]
    );
    // Every state change is written beside its line: 6 on the client
    // (SYN-SENT .. CLOSED), 5 on the server, plus the listener's LISTEN if
    // the run records it.
    let states: Vec<&str> = with_class(&doc, "state")
        .iter()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(Node::text)
        .collect();
    for s in [
        "SYN-SENT",
        "SYN-RECEIVED",
        "TIME-WAIT",
        "LAST-ACK",
        "CLOSED",
    ] {
        assert!(states.contains(&s), "{s} in {states:?}");
    }
}

#[test]
fn a_lost_first_syn_ends_in_one_cross_with_reason_fault() {
    let faults = r#"[[faults]]
action = "drop"
from = "client"
to = "server"
segment = "SYN"
nth = [1]"#;
    let svg = draw(&run(&two_hosts(faults)));
    let doc = parse_svg(&svg);
    // The 7 segments of the handshake and close, and the lost SYN.
    assert_eq!(with_class(&doc, "arrow").len(), 8);
    let crosses = with_class(&doc, "cross");
    assert_eq!(crosses.len(), 1);
    assert_eq!(crosses[0].attribute("data-reason"), Some("fault"));
    let reasons: Vec<&str> = with_class(&doc, "drop-reason")
        .iter()
        .filter_map(Node::text)
        .collect();
    assert_eq!(reasons, ["dropped: fault"]);
    // The SYN sent again at 1 s is a retransmission, and is delivered.
    let rtx = with_class(&doc, "rtx");
    let rtx_arrows: Vec<_> = rtx.iter().filter(|n| has_class(n, "arrow")).collect();
    assert_eq!(rtx_arrows.len(), 1);
    assert!(!has_class(rtx_arrows[0], "dropped"));
    // Its tooltip names the cause: the retransmission timer (RFC 6298 §5.4).
    let tip = rtx_arrows[0]
        .parent()
        .and_then(|g| g.children().find(|n| n.tag_name().name() == "title"))
        .and_then(|t| t.text());
    assert!(
        tip.is_some_and(|t| t.contains(" len 0 (retransmission: rto); delivered at ")),
        "{tip:?}"
    );
    // Dropped at the link's entrance at the send instant: a short arrow
    // that does not reach the server.
    let x = lanes(&doc);
    let dropped = with_class(&doc, "dropped");
    let dropped: Vec<_> = dropped.iter().filter(|n| has_class(n, "arrow")).collect();
    assert_eq!(dropped.len(), 1);
    let (x1, x2) = (f(dropped[0], "x1"), f(dropped[0], "x2"));
    assert_eq!(x1, x[0]);
    assert!(x2 > x1 && x2 - x1 < (x[1] - x[0]) / 2.0, "{x1} -> {x2}");
    // Two idle stretches: the RTO (0 .. 1 s) and TIME-WAIT (1.25 .. 241.2 s).
    let breaks = with_class(&doc, "break");
    let texts: Vec<&str> = breaks
        .iter()
        .flat_map(|b| {
            b.descendants()
                .filter(Node::is_element)
                .filter_map(|n| n.text())
        })
        .filter(|t| t.starts_with('…'))
        .collect();
    assert_eq!(texts, ["… 1 s …", "… 239.95 s …"]);
}

#[test]
fn a_checksum_drop_is_a_full_arrow_ending_in_a_cross_at_the_receiver() {
    // The first SYN is corrupted; the server's checksum check drops it on
    // arrival, 50 ms later; the client sends it again at 1 s.
    let faults = r#"[[faults]]
action = "corrupt"
from = "client"
to = "server"
segment = "SYN"
nth = [1]"#;
    let svg = draw(&run(&two_hosts(faults)));
    let doc = parse_svg(&svg);
    assert_eq!(with_class(&doc, "arrow").len(), 8);
    let crosses = with_class(&doc, "cross");
    assert_eq!(crosses.len(), 1);
    assert_eq!(crosses[0].attribute("data-reason"), Some("checksum"));
    let x = lanes(&doc);
    let dropped = with_class(&doc, "dropped");
    let a = dropped
        .iter()
        .find(|n| has_class(n, "arrow"))
        .expect("the dropped SYN");
    assert_eq!(f(a, "x1"), x[0]);
    assert!(
        (x[1] - f(a, "x2")).abs() < 12.0,
        "reaches the server's line"
    );
    assert!(f(a, "y2") > f(a, "y1") + 20.0, "arrives later than sent");
}

/// The random-loss experiment's link: 10 % loss, 5 % reordering, jitter;
/// enough data for a crowded diagram.
const CROWDED: &str = r#"name = "crowded"
seed = 106
profile = "rfc"

[[hosts]]
name = "client"
addr = "10.0.0.1"

[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]

[[links]]
a = "client"
b = "server"
delay = "20ms"
jitter = "5ms"
loss = 0.1
reorder = 0.05

[[connections]]
client = "client"
server = "server"
port = 80
client_sends = 100000
server_sends = 5000
"#;

#[test]
fn a_crowded_run_draws_every_segment_and_no_label_overlaps_another() {
    let r = run(CROWDED);
    let trace = r.trace.as_ref().expect("trace");
    let count = |p: fn(&TraceKind) -> bool| trace.iter().filter(|t| p(&t.kind)).count();
    let sends = count(|k| matches!(k, TraceKind::Send { .. }));
    let drops = count(|k| matches!(k, TraceKind::Drop { .. }));
    let delivers = count(|k| matches!(k, TraceKind::Deliver { .. }));
    assert!(sends > 100, "crowded enough: {sends} segments");
    let svg = draw(&r);
    let doc = parse_svg(&svg);
    // One arrow per copy on the wire: each send, plus each duplicate (none
    // here: the link does not duplicate).
    assert_eq!(with_class(&doc, "arrow").len(), sends);
    assert_eq!(with_class(&doc, "cross").len(), drops);
    assert_eq!(with_class(&doc, "head").len(), delivers);
    // Every label sits on its own white ground; no two grounds overlap.
    let boxes: Vec<(f64, f64, f64, f64)> = with_class(&doc, "ground")
        .iter()
        .map(|n| {
            let (x, y) = (f(n, "x"), f(n, "y"));
            (x, y, x + f(n, "width"), y + f(n, "height"))
        })
        .collect();
    assert!(boxes.len() > sends);
    let mut sorted = boxes.clone();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (i, a) in sorted.iter().enumerate() {
        for b in sorted[i + 1..].iter().take_while(|b| b.1 < a.3) {
            let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
            assert!(!overlap, "labels overlap: {a:?} and {b:?}");
        }
    }
    // The time labels on the left are at least a line apart.
    let mut ys: Vec<f64> = with_class(&doc, "time").iter().map(|n| f(n, "y")).collect();
    ys.sort_by(f64::total_cmp);
    assert!(ys.windows(2).all(|w| w[1] - w[0] >= 12.0));
    // Same run, same bytes.
    assert_eq!(svg, draw(&run(CROWDED)));
}

fn record(point: usize, loss: &str, samples: &[(Option<u64>, Option<u64>)]) -> RunRecord {
    RunRecord {
        index: point as u64,
        point,
        params: vec![("links.0.loss".to_string(), loss.to_string())],
        seed: 1,
        conns: samples
            .iter()
            .map(|&(e, c)| ConnSample {
                outcome: if c.is_some() {
                    Outcome::Closed
                } else {
                    Outcome::Timeout
                },
                established_ns: e,
                closed_ns: c,
                retransmissions: [0; 6],
            })
            .collect(),
        failed: Vec::new(),
    }
}

fn panel<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Node<'a, 'i> {
    with_class(doc, "panel")
        .into_iter()
        .find(|n| n.attribute("data-panel") == Some(id))
        .unwrap_or_else(|| panic!("panel {id}"))
}

fn curves<'a, 'i>(panel: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    panel
        .descendants()
        .filter(|n| n.is_element() && has_class(n, "curve"))
        .collect()
}

fn axis_label(panel: Node<'_, '_>) -> String {
    panel
        .descendants()
        .filter(Node::is_element)
        .filter_map(|n| n.text())
        .find(|t| t.contains("scale)"))
        .expect("an x-axis label")
        .to_string()
}

#[test]
fn a_sweep_plot_has_one_curve_per_grid_point_in_each_panel() {
    const MS: u64 = 1_000_000;
    // Three grid points of one run each; the third has a connection that
    // never got established (a timeout).
    let records = vec![
        record(0, "0.0", &[(Some(100 * MS), Some(250 * MS)); 4]),
        record(
            1,
            "0.01",
            &[
                (Some(100 * MS), Some(250 * MS)),
                (Some(1100 * MS), Some(1250 * MS)),
            ],
        ),
        record(
            2,
            "0.1",
            &[
                (Some(100 * MS), Some(250 * MS)),
                (Some(7100 * MS), Some(7250 * MS)),
                (Some(1100 * MS), Some(1250 * MS)),
                (None, None),
            ],
        ),
    ];
    let svg = plot::render("loss", &records);
    let doc = parse_svg(&svg);
    for id in ["established", "closed"] {
        let p = panel(&doc, id);
        let c = curves(p);
        assert_eq!(c.len(), 3, "{id}");
        let points: Vec<_> = c.iter().map(|n| n.attribute("data-point")).collect();
        assert_eq!(points, [Some("0"), Some("1"), Some("2")]);
        // 100 ms .. 7.1 s and 250 ms .. 7.25 s are factors of 71 and 29, over
        // the 20 that makes an axis logarithmic; the label says so.
        assert!(axis_label(p).contains("ms, log scale"), "{}", axis_label(p));
        // The third curve stops at 3/4: one connection of four never got there.
        let frame = p
            .descendants()
            .find(|n| n.tag_name().name() == "rect")
            .expect("the plot frame");
        let (top, h) = (f(&frame, "y"), f(&frame, "height"));
        let d = c[2].attribute("d").expect("a path");
        let last_v: f64 = d
            .rsplit('V')
            .next()
            .and_then(|s| s.split('H').next())
            .and_then(|s| s.parse().ok())
            .expect("a last vertical step");
        assert!((last_v - (top + h * 0.25)).abs() < 0.11, "{last_v}");
        // The first curve rises to 1 in one step: all its times are equal.
        let d0 = c[0].attribute("d").expect("a path");
        assert_eq!(d0.matches('V').count(), 1);
        assert!(d0.contains(&format!("V{top:.1}")));
    }
    let legend: String = with_class(&doc, "legend")
        .iter()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for l in ["links.0.loss=0.0", "links.0.loss=0.01", "links.0.loss=0.1"] {
        assert!(legend.contains(l), "{l} in the legend");
    }
    assert!(legend.contains("never established: 1"));
    assert_eq!(svg, plot::render("loss", &records), "deterministic");
}

#[test]
fn a_narrow_spread_of_times_gets_a_linear_axis() {
    const MS: u64 = 1_000_000;
    let records = vec![record(
        0,
        "0.0",
        &[
            (Some(90 * MS), Some(240 * MS)),
            (Some(110 * MS), Some(260 * MS)),
        ],
    )];
    let doc_text = plot::render("narrow", &records);
    let doc = parse_svg(&doc_text);
    for id in ["established", "closed"] {
        assert!(axis_label(panel(&doc, id)).contains("ms, linear scale"));
    }
}

/// A sweep of a real experiment, through the same plan `tcpsim sweep` runs.
#[test]
fn a_three_value_grid_sweeps_into_three_curves_per_panel() {
    let source = two_hosts(
        r#"[sweep]
seeds = "1..=4"
grid = { "links.0.loss" = [0.0, 0.05, 0.2] }"#,
    );
    let plan = Plan::new(&source, "grid.toml", &[], None).expect("plan");
    let indices: Vec<u64> = (0..plan.runs()).collect();
    assert_eq!(indices.len(), 12);
    let records = plan.run_indices(&indices, 1).expect("runs");
    let svg = plot::render(&plan.name, &records);
    // What `sweep --plot` draws: the same runs, tallied as they end.
    let tallies = plan.tally_all(2).expect("runs");
    assert_eq!(svg, plot::render_tallies(&plan.name, &tallies));
    let doc = parse_svg(&svg);
    assert_eq!(curves(panel(&doc, "established")).len(), 3);
    assert_eq!(curves(panel(&doc, "closed")).len(), 3);
}

#[test]
fn plot_with_shard_is_refused_as_bad_usage() {
    let dir = std::env::temp_dir().join(format!("tcpsim-pictures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exp = dir.join("grid.toml");
    std::fs::write(&exp, two_hosts("")).expect("write");
    let out = dir.join("plot.svg");
    let code = commands::sweep(
        &exp,
        None,
        &[],
        Some(1),
        commands::SweepOutput {
            format: commands::SweepFormat::Json,
            per_run: false,
        },
        Some("0/2"),
        Some(&out),
    );
    assert_eq!(code, commands::BAD_INPUT);
    assert!(!out.exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_with_diagram_writes_the_svg() {
    let dir = std::env::temp_dir().join(format!("tcpsim-diagram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exp = dir.join("handshake.toml");
    std::fs::write(&exp, two_hosts("")).expect("write");
    let out = dir.join("ladder.svg");
    let code = commands::run(
        &exp,
        None,
        &[],
        commands::RunFormat::Json,
        commands::Captures::default(),
        true,
        Some(&out),
    );
    assert_eq!(code, commands::OK);
    let svg = std::fs::read_to_string(&out).expect("the diagram");
    let doc = parse_svg(&svg);
    assert_eq!(with_class(&doc, "arrow").len(), 7);
    let _ = std::fs::remove_dir_all(&dir);
}
