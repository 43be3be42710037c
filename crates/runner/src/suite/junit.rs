//! `tcpsim check --junit`: the results as JUnit XML, in the Ant format
//! that Jenkins, GitLab and most CI systems read.
//!
//! ```text
//! <testsuites name="tcpsim check" tests= failures= errors= time=>
//!   <testsuite name=FILE tests= failures= errors= skipped="0" time=>
//!     <testcase name=EXPECTATION classname=FILE time=/>     one per expectation
//!     <testcase name="golden" classname=FILE time=>          the golden timeline
//!       <failure message=ONE-LINE type="golden">DIFF</failure>
//!     </testcase>
//!   </testsuite>
//!   <testsuite name=BAD-FILE tests="1" failures="0" errors="1" ...>
//!     <testcase name="valid" classname=BAD-FILE time=>
//!       <error message=ONE-LINE type="invalid">WHY</error>
//! ```
//!
//! Every `time` is wall-clock seconds (3 decimals), the only thing in the
//! report that differs between two runs of the same suite: a testsuite's
//! is the time its file took; each of its testcases shows the same time,
//! since one set of runs judged them all (do not add them up); the root's
//! is the sum of the files'.

use std::fmt::Write as _;

use super::{FileResult, Verdict};
use crate::svg::escape;

/// Counts of one file's or the whole report's cases.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    seconds: f64,
}

fn counts(r: &FileResult) -> Counts {
    let mut c = Counts {
        seconds: r.seconds,
        ..Counts::default()
    };
    for case in &r.cases {
        c.tests += 1;
        match case.verdict {
            Verdict::Passed => {}
            Verdict::Failed { .. } => c.failures += 1,
            Verdict::Error { .. } => c.errors += 1,
        }
    }
    c
}

/// An attribute value on one line: XML parsers turn a newline in an
/// attribute into a space anyway.
fn attr(s: &str) -> String {
    escape(&s.replace(['\n', '\r', '\t'], " "))
}

/// The results as JUnit XML.
pub fn junit(results: &[FileResult]) -> String {
    let per_file: Vec<Counts> = results.iter().map(counts).collect();
    let total = per_file.iter().fold(Counts::default(), |a, c| Counts {
        tests: a.tests + c.tests,
        failures: a.failures + c.failures,
        errors: a.errors + c.errors,
        seconds: a.seconds + c.seconds,
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"tcpsim check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        total.tests, total.failures, total.errors, total.seconds
    );
    for (r, c) in results.iter().zip(&per_file) {
        let file = attr(&r.path.display().to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
            c.tests, c.failures, c.errors, c.seconds
        );
        for case in &r.cases {
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{file}\" time=\"{:.3}\"",
                attr(&case.name),
                r.seconds
            );
            let (tag, kind, message, detail) = match &case.verdict {
                Verdict::Passed => {
                    let _ = writeln!(out, "{open}/>");
                    continue;
                }
                Verdict::Failed { message, detail } => (
                    "failure",
                    if case.name == "golden" {
                        "golden"
                    } else {
                        "expectation"
                    },
                    message,
                    detail,
                ),
                Verdict::Error { message, detail } => ("error", "invalid", message, detail),
            };
            let _ = writeln!(
                out,
                "{open}>\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>",
                attr(message),
                escape(detail)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Case;

    /// Characters XML treats specially, a newline in a message and a
    /// control character come out as a well-formed document whose
    /// attribute and text read back as written (less the control
    /// character, which XML 1.0 cannot hold, and the newline of the
    /// one-line message).
    #[test]
    fn special_characters_read_back() {
        let r = FileResult {
            path: "dir/a \"b\" <c>.toml".into(),
            failure: Some("x".into()),
            cases: vec![Case {
                name: "golden".into(),
                verdict: Verdict::Failed {
                    message: "a < b &\nc".into(),
                    detail: "-x > y\n+'z'\u{1}\n".into(),
                },
            }],
            runs: 1,
            seconds: 0.0125,
        };
        let xml = junit(&[r]);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let case = doc
            .descendants()
            .find(|n| n.has_tag_name("testcase"))
            .unwrap();
        assert_eq!(case.attribute("classname"), Some("dir/a \"b\" <c>.toml"));
        assert_eq!(case.attribute("time"), Some("0.013"));
        let f = case.children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(f.attribute("message"), Some("a < b & c"));
        assert_eq!(f.attribute("type"), Some("golden"));
        assert_eq!(f.text(), Some("-x > y\n+'z'\n"));
        let root = doc.root_element();
        assert_eq!(
            (root.attribute("tests"), root.attribute("failures")),
            (Some("1"), Some("1"))
        );
    }
}
