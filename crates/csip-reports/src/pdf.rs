//! The PDF writer: a [`Document`] as an A4 portrait PDF, typeset by typst
//! (as a library, through `typst-as-lib`) and exported by `typst-pdf`.
//!
//! The typst source is built here from the document: a fixed preamble of
//! page set-up and small functions (a title block, key-figure tiles, a
//! table with a repeated header, a chart, a notes box), then one call per
//! section and block. Every text of the document enters the source only as
//! a typst *string literal* (see `literal`), never as markup, so that no
//! name or note (`#let x = 1`, `$x$`, `*bold*`, `]`, a backslash) can be
//! read as code or markup: it prints as it is.
//!
//! Charts are drawn as SVG by the crate's `chart` module and handed to
//! typst as in-memory files (`/chart-N.svg`). Fonts are only those that
//! `typst_assets::fonts()` embeds (Libertinus Serif for text and charts,
//! DejaVu Sans Mono for notes); no system font is read and nothing is
//! downloaded. They are parsed once per process and shared by every call.
//!
//! The output is deterministic: no creation date is written (typst-pdf is
//! given no timestamp) and the document identifier is typst's hash of the
//! title.

use std::any::Any;
use std::fmt::Write as _;
use std::sync::OnceLock;

use typst_as_lib::conversions::IntoFonts;
use typst_as_lib::{TypstAsLibError, TypstEngine};

use crate::doc::{Block, Chart, Document, Figure, Table, shorten};

/// The width and height in SVG pixels of a chart (about 17 × 8.5 cm on
/// the page, so that a 14 px label prints at about 8.5 pt).
const CHART_SIZE: (u32, u32) = (800, 400);

/// Why a PDF could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// typst could not lay the document out (its diagnostics, joined).
    #[error("the report could not be typeset: {0}")]
    Typeset(String),
    /// typst-pdf could not write the laid-out document (its diagnostics).
    #[error("the report could not be written as PDF: {0}")]
    Export(String),
}

/// Writes `doc` as a PDF (A4 portrait) and returns its bytes.
///
/// The title block (title, subtitle, footer) comes first, then each
/// section under its heading: text as paragraphs, bullets as a list, key
/// figures as tiles, tables with a header repeated on every page, charts
/// as vector images, empty states in grey italics, and the section's notes
/// in a box under it. Every page carries the title and "Page n of m"; the
/// title is also the PDF's metadata title. The same document always gives
/// the same bytes.
///
/// # Errors
///
/// [`PdfError`] when typst reports an error, with its messages; the source
/// built here is fixed apart from string literals, so this is not expected
/// for any document.
///
/// # Example
///
/// ```
/// use csip_reports::doc::{Block, Document, Section};
///
/// let doc = Document {
///     title: "Gard AS — QBR".into(),
///     subtitle: "Q3 2025".into(),
///     footer: "Made from the CSIP workbook".into(),
///     sections: vec![Section {
///         title: "Summary".into(),
///         blocks: vec![Block::Text("Health is *up*; see #3 [draft].".into())],
///         notes: String::new(),
///     }],
/// };
/// let pdf = csip_reports::pdf::write_pdf(&doc)?;
/// assert!(pdf.starts_with(b"%PDF-"));
/// # Ok::<(), csip_reports::pdf::PdfError>(())
/// ```
pub fn write_pdf(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let (source, charts) = typst_source(doc);
    let names: Vec<String> = (1..=charts.len()).map(chart_path).collect();
    let files = names
        .iter()
        .map(String::as_str)
        .zip(charts.into_iter().map(String::into_bytes));

    let builder = TypstEngine::builder()
        .main_file(("/main.typ", source))
        .with_static_file_resolver(files);
    let builder = match cached(&FONTS, parse_fonts) {
        Some(fonts) => builder.fonts(fonts.iter().cloned()),
        None => builder.fonts(parse_fonts()),
    };
    let engine = builder.build();

    let document = engine
        .compile()
        .output
        .map_err(|e| PdfError::Typeset(sentence(&e)))?;
    typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default())
        .map_err(|diagnostics| PdfError::Export(sentence(&TypstAsLibError::from(diagnostics))))
}

/// The parsed embedded fonts, once per process (a `Vec` of typst's `Font`).
///
/// `typst` itself is not a dependency of this crate, so its `Font` type
/// cannot be named; it is kept as `Any` and recovered by the type of
/// [`parse_fonts`]' result.
static FONTS: OnceLock<Box<dyn Any + Send + Sync>> = OnceLock::new();

/// Every font that typst-assets embeds, parsed.
fn parse_fonts() -> Vec<impl IntoFonts + Clone + Send + Sync + 'static> {
    typst_assets::fonts()
        .flat_map(IntoFonts::into_fonts)
        .collect::<Vec<_>>()
}

/// `init()`'s value, made once and kept in `cell`.
fn cached<T: Any + Send + Sync>(
    cell: &'static OnceLock<Box<dyn Any + Send + Sync>>,
    init: fn() -> T,
) -> Option<&'static T> {
    cell.get_or_init(|| Box::new(init())).downcast_ref::<T>()
}

/// typst's diagnostics (or other error) as one sentence.
fn sentence(error: &TypstAsLibError) -> String {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => {
            let parts: Vec<String> = diagnostics
                .iter()
                .map(|d| {
                    let mut part = d.message.to_string();
                    for hint in &d.hints {
                        let _ = write!(part, " (hint: {})", hint.v);
                    }
                    part
                })
                .collect();
            if parts.is_empty() {
                "typst reported an error without a message".to_string()
            } else {
                parts.join("; ")
            }
        }
        other => other.to_string(),
    }
}

/// The in-memory path of the `n`th chart (from 1).
fn chart_path(n: usize) -> String {
    format!("/chart-{n}.svg")
}

/// The typst source for `doc`, and the SVG of each chart in order.
fn typst_source(doc: &Document) -> (String, Vec<String>) {
    let mut out = String::with_capacity(16 * 1024);
    let mut charts = Vec::new();
    let _ = writeln!(out, "#let report-title = {}", literal(&doc.title));
    let _ = writeln!(
        out,
        "#let running-title = {}",
        literal(&shorten(&doc.title, 90))
    );
    out.push_str(PREAMBLE);
    let _ = writeln!(
        out,
        "#title-block({}, {}, {})\n",
        literal(&doc.title),
        literal(&doc.subtitle),
        literal(&doc.footer)
    );
    for section in &doc.sections {
        let _ = writeln!(out, "#section-heading({})\n", literal(&section.title));
        for block in &section.blocks {
            match block {
                Block::Text(text) => {
                    let _ = writeln!(out, "#paragraph({})\n", literal(text));
                }
                Block::Bullets(items) if !items.is_empty() => {
                    let _ = writeln!(
                        out,
                        "#bullets({})\n",
                        array(items.iter().map(|i| literal(i)))
                    );
                }
                Block::Bullets(_) => {}
                Block::Figures(figures) if !figures.is_empty() => {
                    let _ = writeln!(out, "#figures({})\n", array(figures.iter().map(figure)));
                }
                Block::Figures(_) => {}
                Block::Table(table) => {
                    if let Some(call) = table_call(table) {
                        let _ = writeln!(out, "{call}\n");
                    }
                }
                Block::Chart(chart) => {
                    charts.push(crate::chart::svg(chart, CHART_SIZE.0, CHART_SIZE.1));
                    let _ = writeln!(
                        out,
                        "#chart({}, {})\n",
                        literal(&chart_path(charts.len())),
                        literal(&alt_text(chart))
                    );
                }
                Block::Empty(message) => {
                    let _ = writeln!(out, "#empty-note({})\n", literal(message));
                }
            }
        }
        if !section.notes.trim().is_empty() {
            let _ = writeln!(out, "#notes({})\n", literal(section.notes.trim_end()));
        }
    }
    (out, charts)
}

/// A key figure as `(label, value, detail)`.
fn figure(f: &Figure) -> String {
    format!(
        "({}, {}, {})",
        literal(&f.label),
        literal(&f.value),
        literal(&f.detail)
    )
}

/// `#report-table(...)` for a table, or nothing for a table without
/// columns. Rows are padded or cut to the number of columns, which is the
/// widest of the headings and the rows.
fn table_call(table: &Table) -> Option<String> {
    let width = table
        .rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(table.columns.len()))
        .max()
        .unwrap_or(0);
    if width == 0 {
        return None;
    }
    let cells =
        |row: &[String]| array((0..width).map(|i| literal(row.get(i).map_or("", String::as_str))));
    let numeric = array((0..width).map(|i| {
        if table.numeric.get(i).copied().unwrap_or(false) {
            "true"
        } else {
            "false"
        }
        .to_string()
    }));
    let rows = array(table.rows.iter().map(|row| cells(row)));
    Some(format!(
        "#report-table({}, {numeric}, {rows})",
        cells(&table.columns)
    ))
}

/// What a chart shows, for readers that cannot see it.
fn alt_text(chart: &Chart) -> String {
    let mut alt = chart.title.clone();
    if !chart.unit.is_empty() {
        let _ = write!(alt, " ({})", chart.unit);
    }
    alt
}

/// A typst array literal of already-written items: `()`, `(a,)`, `(a, b,)`.
fn array(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("(");
    let mut any = false;
    for item in items {
        out.push_str(&item);
        out.push_str(", ");
        any = true;
    }
    if any {
        out.truncate(out.len() - 1); // keep the trailing comma
    }
    out.push(')');
    out
}

/// `text` as a typst string literal: in quotes, with `\` and `"` escaped,
/// line breaks as `\n` (a `\r\n` or lone `\r` counts as one), tabs as
/// `\t`, the Unicode line and paragraph separators as `\u{..}`, and any
/// other control character as a space. Inside a literal, nothing else is
/// special to typst, so the text prints as it is.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c if c.is_control() => out.push(' '),
            // The embedded fonts have no emoji: a status's "🔴 Critical"
            // prints as "Critical", never as an empty box.
            c if is_emoji(c) => {
                while chars.peek().is_some_and(|&n| is_emoji(n) || n == ' ') {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `c` is an emoji, or joins or styles one (the zero-width joiner,
/// variation selectors, skin tones), which none of the embedded fonts draws.
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF // pictographs, emoticons, symbols, flags' letters, skin tones
        | 0x2600..=0x27BF // dingbats and miscellaneous symbols (⚪, ✅)
        | 0x2B00..=0x2BFF // arrows and shapes (⬆, ⭐)
        | 0xFE00..=0xFE0F // variation selectors
        | 0x200D)
}

/// The fixed part of the source: page set-up and the functions that the
/// generated calls use. `report-title` and `running-title` are defined
/// before it.
const PREAMBLE: &str = r##"
#let ink = luma(30)
#let muted = luma(105)
#let accent = rgb("#1f4e79")
#let hairline = luma(210)

#set document(title: report-title)
#set text(font: "Libertinus Serif", size: 10.5pt, fill: ink, lang: "en")
#set par(leading: 0.62em, spacing: 0.9em)
#set list(indent: 0.4em, spacing: 0.55em)
#set page(
  paper: "a4",
  margin: (x: 18mm, top: 17mm, bottom: 20mm),
  footer: context {
    set text(size: 8pt, fill: muted)
    line(length: 100%, stroke: 0.4pt + hairline)
    v(-4pt)
    grid(
      columns: (1fr, auto),
      column-gutter: 12pt,
      running-title,
      [Page #here().page() of #counter(page).final().first()],
    )
  },
)

#let title-block(title, subtitle, footer) = {
  block(width: 100%, below: 11pt, text(size: 22pt, weight: "bold", fill: accent, title))
  if subtitle != "" {
    block(width: 100%, above: 11pt, below: 6pt, text(size: 13pt, fill: muted, subtitle))
  }
  if footer != "" {
    block(width: 100%, above: 7pt, text(size: 8.5pt, fill: muted, footer))
  }
  line(length: 100%, stroke: 0.8pt + hairline)
  v(4pt)
}

#let section-heading(title) = heading(level: 1, title)
#show heading.where(level: 1): it => block(
  width: 100%,
  above: 16pt,
  below: 9pt,
  sticky: true,
  text(size: 14.5pt, weight: "bold", fill: accent, it.body),
)

#let paragraph(body) = par(body)

#let bullets(items) = list(..items)

// Key figures as tiles, at most four a row, the rows balanced (five as
// three and two, six as three and three); cells past the last tile get
// neither fill nor frame.
#let figures(items) = {
  let count = items.len()
  let per-row = if count <= 4 { calc.max(1, count) } else { calc.ceil(count / calc.ceil(count / 4)) }
  let tile(x, y) = y * per-row + x < count
  grid(
    columns: (1fr,) * per-row,
    gutter: 7pt,
    inset: 9pt,
    fill: (x, y) => if tile(x, y) { luma(246) },
    stroke: (x, y) => if tile(x, y) { 0.6pt + hairline },
    ..items.map(((label, value, detail)) => {
      block(below: 5pt, text(size: 17pt, weight: "bold", fill: accent, value))
      block(above: 0pt, below: 0pt, text(size: 9pt, fill: ink, label))
      if detail != "" {
        block(above: 4pt, text(size: 8pt, fill: muted, detail))
      }
    }),
  )
}

#let report-table(columns, numeric, rows) = {
  set text(size: 8.5pt)
  set par(justify: false)
  table(
    columns: columns.len(),
    align: (x, y) => if numeric.at(x, default: false) { right + horizon } else { left + horizon },
    fill: (x, y) => if y == 0 { luma(228) } else if calc.even(y) { luma(246) } else { none },
    stroke: (x, y) => (bottom: 0.4pt + hairline),
    inset: (x: 5pt, y: 4pt),
    table.header(..columns.map(c => text(weight: "bold", c))),
    ..rows.flatten(),
  )
}

#let chart(path, alt) = block(
  width: 100%,
  above: 10pt,
  below: 12pt,
  breakable: false,
  align(center, image(path, width: 100%, alt: alt)),
)

#let empty-note(message) = block(
  above: 8pt,
  below: 10pt,
  text(style: "italic", fill: luma(125), message),
)

#let notes(body) = block(
  width: 100%,
  above: 12pt,
  below: 14pt,
  inset: 8pt,
  radius: 3pt,
  fill: luma(247),
  stroke: 0.5pt + hairline,
  {
    block(below: 6pt, text(size: 8pt, weight: "bold", fill: muted, "Notes"))
    text(size: 9pt, fill: ink, raw(body, block: true))
  },
)

"##;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doc::{ChartKind, Section, Series};

    #[test]
    fn emoji_are_left_out_with_the_space_after_them() {
        assert_eq!(super::literal("🔴 Critical"), "\"Critical\"");
        assert_eq!(super::literal("⚪ Not Started"), "\"Not Started\"");
        assert_eq!(super::literal("→ Stable"), "\"→ Stable\"");
        assert_eq!(super::literal("a 👩‍💻 b"), "\"a b\"");
    }

    #[test]
    fn literals_escape_what_typst_reads() {
        assert_eq!(literal(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(
            literal("one\r\ntwo\rthree\nfour\tfive"),
            r#""one\ntwo\nthree\nfour\tfive""#
        );
        assert_eq!(literal("x\u{0}y\u{1b}z"), "\"x y z\"");
        assert_eq!(literal("\u{2028}"), r#""\u{2028}""#);
        assert_eq!(
            literal("#let x = 1 $x$ *b* ] @a <l>"),
            "\"#let x = 1 $x$ *b* ] @a <l>\""
        );
    }

    #[test]
    fn arrays_keep_one_element_arrays_arrays() {
        assert_eq!(array(std::iter::empty()), "()");
        assert_eq!(array(["1".to_string()].into_iter()), "(1,)");
        assert_eq!(
            array(["1".to_string(), "2".to_string()].into_iter()),
            "(1, 2,)"
        );
    }

    #[test]
    fn tables_are_made_rectangular() {
        let table = Table {
            columns: vec!["A".into()],
            rows: vec![vec!["1".into(), "2".into()], vec![]],
            numeric: vec![true],
        };
        let call = table_call(&table).unwrap();
        assert_eq!(
            call,
            r#"#report-table(("A", "",), (true, false,), (("1", "2",), ("", "",),))"#
        );
        assert_eq!(table_call(&Table::default()), None);
    }

    #[test]
    fn every_block_kind_typesets_and_output_is_deterministic() {
        let hostile = "#let x = 1 $x$ *bold* _u_ `r` ] [ \\ @ref <lbl> = head\n- item\n+ item // c /* c */ \"q\" 🚀";
        let doc = Document {
            title: hostile.into(),
            subtitle: "]".into(),
            footer: "\\".into(),
            sections: vec![Section {
                title: hostile.into(),
                blocks: vec![
                    Block::Text(hostile.into()),
                    Block::Bullets(vec![hostile.into(), "x".into()]),
                    Block::Bullets(vec![]),
                    Block::Figures(vec![Figure {
                        label: hostile.into(),
                        value: "$1".into(),
                        detail: String::new(),
                    }]),
                    Block::Figures(vec![]),
                    Block::Table(Table {
                        columns: vec![hostile.into(), "n".into()],
                        rows: vec![vec!["*".into(), "1".into()]],
                        numeric: vec![false, true],
                    }),
                    Block::Table(Table::default()),
                    Block::Chart(Chart {
                        kind: ChartKind::Bar,
                        title: hostile.into(),
                        categories: vec![hostile.into()],
                        series: vec![Series {
                            name: hostile.into(),
                            values: vec![Some(1.0)],
                        }],
                        unit: hostile.into(),
                    }),
                    Block::Empty(hostile.into()),
                ],
                notes: hostile.into(),
            }],
        };
        let one = write_pdf(&doc).unwrap();
        let two = write_pdf(&doc).unwrap();
        assert!(one.starts_with(b"%PDF-"));
        assert!(one == two, "the same document gives the same bytes");
        assert!(
            write_pdf(&Document::default())
                .unwrap()
                .starts_with(b"%PDF-")
        );
    }
}
