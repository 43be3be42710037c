//! The golden timeline against a run's, as a unified diff (the format of
//! GNU `diff -u` and `git diff`): `---`/`+++` headers, `@@ -a,b +c,d @@`
//! hunks with 3 lines of context, and `-`, `+` or a space in the first
//! column of every line. The edit is the smallest one (Myers' algorithm,
//! from the `similar` crate), so one extra retransmission is one hunk of
//! `+` lines, not every later line shown as changed.

use similar::TextDiff;

/// Lines of context around each change, as `diff -u` gives by default.
pub const CONTEXT: usize = 3;

/// At most this many lines of one file's diff are shown (headers
/// included); the rest is counted on a last line `… N more lines`.
pub const MAX_LINES: usize = 60;

/// The unified diff from `golden` (named `golden_name`) to `actual` (the
/// timeline of the run with `seed`), cut after [`MAX_LINES`] lines.
/// Empty when the texts are equal.
pub fn unified(golden: &str, golden_name: &str, actual: &str, seed: u64) -> String {
    cap(&unified_full(golden, golden_name, actual, seed), MAX_LINES)
}

/// [`unified`] without the cap.
pub fn unified_full(golden: &str, golden_name: &str, actual: &str, seed: u64) -> String {
    if golden == actual {
        return String::new();
    }
    TextDiff::from_lines(golden, actual)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(golden_name, &format!("actual (seed {seed})"))
        .to_string()
}

/// The number of hunks (`@@` lines) of a diff.
pub fn hunks(diff: &str) -> usize {
    diff.lines().filter(|l| l.starts_with("@@ ")).count()
}

/// The first `max` lines of `text`, then `… N more lines` if there were
/// N more.
pub fn cap(text: &str, max: usize) -> String {
    let total = text.lines().count();
    if total <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.lines().take(max) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("… {} more lines\n", total - max));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A golden of 16 lines; the run has one line inserted after line 2
    /// and line 12 changed. The expected text is written by hand from the
    /// unified format (GNU diffutils manual, "Unified Format").
    #[test]
    fn one_insertion_and_one_change_by_hand() {
        let golden = "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl13\nl14\nl15\nl16\n";
        // Inserted "new" after l2; l12 changed to "L12".
        let actual = "l1\nl2\nnew\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nL12\nl13\nl14\nl15\nl16\n";
        // The gap between the changes is l3..=l11 (9 lines) > 2 × 3, so
        // two hunks. Hunk 1: context l1 l2 (only 2 lines before), the
        // insertion, context l3 l4 l5: old 1..=5 (5 lines), new 1..=6.
        // Hunk 2: context l9 l10 l11, -l12 +L12, context l13 l14 l15:
        // old starts at 9 with 7 lines, new at 10 with 7 lines.
        let expected = "\
--- golden.txt
+++ actual (seed 7)
@@ -1,5 +1,6 @@
 l1
 l2
+new
 l3
 l4
 l5
@@ -9,7 +10,7 @@
 l9
 l10
 l11
-l12
+L12
 l13
 l14
 l15
";
        assert_eq!(unified(golden, "golden.txt", actual, 7), expected);
        assert_eq!(hunks(expected), 2);
    }

    /// Two changes at most 2 × CONTEXT unchanged lines apart share a
    /// hunk, as in `diff -u`.
    #[test]
    fn close_changes_share_a_hunk_by_hand() {
        let golden = "a\nb\nc\nd\ne\nf\ng\nh\n";
        // "x" inserted before a; e changed to E. Between them: a b c d.
        let actual = "x\na\nb\nc\nd\nE\nf\ng\nh\n";
        let expected = "\
--- g
+++ actual (seed 1)
@@ -1,8 +1,9 @@
+x
 a
 b
 c
 d
-e
+E
 f
 g
 h
";
        assert_eq!(unified(golden, "g", actual, 1), expected);
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "g", "a\nb\n", 1), "");
    }

    /// A one-line range is written without its length (`-2` for old line
    /// 2 alone), and an empty one as the line before it with length 0.
    #[test]
    fn range_forms_by_hand() {
        let expected = "\
--- g
+++ actual (seed 3)
@@ -1 +1,2 @@
 a
+b
";
        assert_eq!(unified("a\n", "g", "a\nb\n", 3), expected);
        let expected = "\
--- g
+++ actual (seed 3)
@@ -0,0 +1 @@
+a
";
        assert_eq!(unified("", "g", "a\n", 3), expected);
    }

    #[test]
    fn long_diffs_are_cut_and_counted() {
        let golden: String = (0..100).map(|i| format!("{i}\n")).collect();
        let actual: String = (0..100).map(|i| format!("x{i}\n")).collect();
        let full = unified_full(&golden, "g", &actual, 1);
        // 2 headers, 1 hunk header, 100 `-` and 100 `+` lines.
        assert_eq!(full.lines().count(), 203);
        let shown = unified(&golden, "g", &actual, 1);
        assert_eq!(shown.lines().count(), MAX_LINES + 1);
        assert!(
            shown.ends_with(&format!("… {} more lines\n", 203 - MAX_LINES)),
            "{shown}"
        );
    }
}
