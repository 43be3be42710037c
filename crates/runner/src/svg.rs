//! A small SVG writer for the pictures `tcpsim` draws (the ladder diagram of
//! a run, the CDF plots of a sweep).
//!
//! It writes elements, attributes and text straight into a string, escaping
//! what XML needs escaped, and formats every coordinate with one decimal
//! (`{:.1}`, never `-0.0`), so the same drawing is the same bytes on every
//! machine. The documents it makes are self-contained: no external fonts,
//! images or scripts; text uses the generic `monospace` and `sans-serif`
//! families.
//!
//! ```
//! use tcpsim_runner::svg::Svg;
//!
//! let mut svg = Svg::new(100.0, 50.0);
//! svg.tag("line").a("x1", 0.0).a("y1", 0.0).a("x2", 10.0).a("y2", 5.0).a("class", "arrow").end();
//! svg.tag("text").a("x", 1.0).a("y", 2.0).text("a < b");
//! let doc = svg.finish();
//! assert!(doc.contains(r#"<line x1="0.0" y1="0.0" x2="10.0" y2="5.0" class="arrow"/>"#));
//! assert!(doc.contains("a &lt; b"));
//! ```

use std::fmt::Write as _;

/// A coordinate or length with one decimal; `-0.0` is written `0.0`.
pub fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    if s == "-0.0" { "0.0".to_string() } else { s }
}

/// Escapes text or an attribute value for XML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline are not XML.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A value an attribute can take.
pub trait AttrValue {
    /// The value as it is written (before escaping).
    fn render(&self) -> String;
}

impl AttrValue for f64 {
    fn render(&self) -> String {
        num(*self)
    }
}

impl AttrValue for &str {
    fn render(&self) -> String {
        (*self).to_string()
    }
}

impl AttrValue for String {
    fn render(&self) -> String {
        self.clone()
    }
}

impl AttrValue for usize {
    fn render(&self) -> String {
        self.to_string()
    }
}

/// A document being written.
pub struct Svg {
    out: String,
    open: Vec<&'static str>,
}

impl Svg {
    /// Starts a document `width` × `height` pixels (the view box is the same).
    pub fn new(width: f64, height: f64) -> Svg {
        let mut out = String::new();
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
            w = num(width),
            h = num(height)
        );
        Svg {
            out,
            open: vec!["svg"],
        }
    }

    /// Starts an element; finish it with [`Tag::end`], [`Tag::open`] or
    /// [`Tag::text`].
    pub fn tag(&mut self, name: &'static str) -> Tag<'_> {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        Tag { svg: self, name }
    }

    /// Closes the element most recently opened with [`Tag::open`].
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            self.indent();
            let _ = writeln!(self.out, "</{name}>");
        }
    }

    /// A `<style>` element with the given CSS.
    pub fn style(&mut self, css: &str) {
        self.indent();
        let _ = writeln!(self.out, "<style>{}</style>", escape(css));
    }

    /// A `<title>` element (a tooltip for its parent in viewers that show them).
    pub fn title(&mut self, s: &str) {
        self.tag("title").text(s);
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len().saturating_sub(1) {
            self.out.push(' ');
        }
    }
}

/// An element whose start tag is being written.
#[must_use = "an element must be finished with end(), open() or text()"]
pub struct Tag<'a> {
    svg: &'a mut Svg,
    name: &'static str,
}

impl Tag<'_> {
    /// Adds an attribute.
    pub fn a(self, key: &str, value: impl AttrValue) -> Self {
        let _ = write!(self.svg.out, " {key}=\"{}\"", escape(&value.render()));
        self
    }

    /// Ends an element without content: `<line .../>`.
    pub fn end(self) {
        self.svg.out.push_str("/>\n");
    }

    /// Ends the start tag; later elements go inside until [`Svg::close`].
    pub fn open(self) {
        self.svg.out.push_str(">\n");
        self.svg.open.push(self.name);
    }

    /// Ends the element with text content: `<text ...>content</text>`.
    pub fn text(self, content: &str) {
        let _ = writeln!(self.svg.out, ">{}</{}>", escape(content), self.name);
    }
}

/// Estimated width of `s` in a monospace font of `size` pixels (an advance
/// of 0.6 em, as DejaVu Sans Mono, Liberation Mono and Courier have).
pub fn mono_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}
