//! The deck writer: a [`Document`] as a PowerPoint file (`.pptx`, 16:9),
//! with native tables and native charts, so that whoever presents it can
//! still edit the numbers in PowerPoint, Keynote or LibreOffice.
//!
//! This is our small writer over the [`pptx`] crate: everything
//! that crate knows of stays in this file, and what the rest of the crate
//! sees is [`write_deck`] and [`DeckError`], so that the crate can be
//! replaced without touching a report.
//!
//! # Layout
//!
//! - A title slide: the document's title, its subtitle and its footer.
//! - One slide per [`Section`], its title at the top (28 pt) over a short
//!   accent rule; its blocks laid out top to bottom in the body area, one
//!   under the other, full width: text and bullets at 16 pt, key figures
//!   as a row of tiles (at most five a row), tables at 12 pt (11 pt when
//!   they have more than six columns), charts, and the message of an empty
//!   block in an italic grey box where its chart or table would have been.
//! - Nothing leaves its box: every title, label and cell is cut with
//!   [`shorten`] to what its box holds at its font size, a paragraph to
//!   six lines, a bullet to two. Widths are estimated character by
//!   character with DejaVu Sans's widths, which LibreOffice draws in place
//!   of the theme's Calibri and which are wider, so that a text that fits
//!   one fits both; boxes are as high as their lines need.
//! - What does not fit goes on to a next slide titled "*title*
//!   (continued)": a table carries on with its heading row repeated (at
//!   most ten rows a slide; it starts on a slide of its own when fewer than
//!   five of its rows would fit under what is above it), bullets and tiles
//!   carry on item by item, and a chart that does not have 2.8 inches left
//!   starts a next slide. A chart that ends a slide grows into the room
//!   left under it; a chart with nothing to draw (no categories, no
//!   values) is shown as an empty block saying so.
//! - A section's notes become the speaker notes of its first slide.
//!
//! The same document gives the same bytes: the package's parts are written
//! in name order with a fixed date, and no time of writing is stored.

use std::fmt::Write as _;
use std::ops::Range;
use std::rc::Rc;

use ::pptx::chart::data::CategoryChartData;
use ::pptx::core_properties::CoreProperties;
use ::pptx::dml::color::ColorFormat;
use ::pptx::dml::fill::FillFormat;
use ::pptx::dml::line::LineFormat;
use ::pptx::enums::chart::XlChartType;
use ::pptx::enums::shapes::{PpPlaceholderType, PresetGeometry};
use ::pptx::enums::text::{MsoVerticalAnchor, PpParagraphAlignment};
use ::pptx::opc::pack_uri::PackURI;
use ::pptx::opc::part::Part;
use ::pptx::shapes::{AutoShape, PlaceholderFormat};
use ::pptx::slide::{SlideLayoutRef, SlideRef};
use ::pptx::table::{CellBorder, Table as DeckTable};
use ::pptx::text::font::RgbColor;
use ::pptx::text::{BulletFormat, Paragraph, TextFrame};
use ::pptx::units::{Emu, PlaceholderIndex, ShapeId};
use ::pptx::{PptxError, Presentation, ShapeTree, WriteXml};
use unicode_width::UnicodeWidthStr;

use crate::doc::{Block, Chart, ChartKind, Document, Figure, Section, Table, shorten};

/// Writes `doc` as a PowerPoint deck (16:9) and returns the file's bytes:
/// a title slide, then a slide per section (more when a section's blocks do
/// not fit on one; see the [module docs](self)).
///
/// Any text is accepted: long names are shortened to their boxes, control
/// characters are dropped, and `<`, `&` and quotes are escaped.
///
/// ```
/// use csip_reports::doc::{Block, Document, Section};
///
/// let doc = Document {
///     title: "Quarterly Business Review".into(),
///     subtitle: "Gard AS · 2026-09-01 to 2026-11-24".into(),
///     footer: "Made by CSIP".into(),
///     sections: vec![Section {
///         title: "Summary".into(),
///         blocks: vec![Block::Bullets(vec!["Health is up".into(), "Two renewals due".into()])],
///         notes: "Open with the renewals.".into(),
///     }],
/// };
/// let bytes = csip_reports::pptx::write_deck(&doc)?;
/// assert!(bytes.starts_with(b"PK"));
/// # Ok::<(), csip_reports::pptx::DeckError>(())
/// ```
///
/// # Errors
///
/// [`DeckError`] when the underlying writer fails, which a well-formed
/// document does not make it do.
pub fn write_deck(doc: &Document) -> Result<Vec<u8>, DeckError> {
    let mut prs = Presentation::new().at("opening the built-in template")?;
    set_up_presentation(&mut prs, doc)?;
    let layouts = prs.slide_layouts().at("reading the slide layouts")?;
    let title_layout = layout(&layouts, "Title Slide", 0)?;
    let body_layout = layout(&layouts, "Title Only", 5)?;

    let pages = plan(doc);
    let total = pages.len() + 1;

    let slide = prs.add_slide(&title_layout).at("adding the title slide")?;
    let mut w = SlideWriter::new(&mut prs, slide);
    w.title_slide(doc)?;

    let mut notes = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let slide = prs.add_slide(&body_layout).at("adding a slide")?;
        let mut w = SlideWriter::new(&mut prs, slide.clone());
        w.page(page, i + 2, total)?;
        if !page.notes.trim().is_empty() {
            notes.push((slide, page.notes));
        }
    }
    if !notes.is_empty() {
        write_notes(&mut prs, &notes)?;
    }
    set_app_properties(&mut prs, total, notes.len())?;

    let bytes = prs.to_bytes().at("writing the package")?;
    Ok(normalize_zip(&bytes).unwrap_or(bytes))
}

/// Why a deck could not be written: the writer underneath failed. Its
/// message says at which step and why.
///
/// ```
/// use csip_reports::pptx::{DeckError, write_deck};
///
/// fn deck_or_message(doc: &csip_reports::doc::Document) -> Result<Vec<u8>, String> {
///     write_deck(doc).map_err(|e: DeckError| e.to_string())
/// }
/// assert!(deck_or_message(&Default::default()).is_ok());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeckError {
    /// The `.pptx` writer failed at a step.
    #[error("the deck could not be written: {step} failed: {source}")]
    Writer {
        /// What it was doing ("adding a chart").
        step: &'static str,
        /// The writer's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The writer's built-in template is not as this module expects it.
    #[error("the deck could not be written: its template {0}")]
    Template(String),
}

/// Adds the step to a writer error.
trait At<T> {
    fn at(self, step: &'static str) -> Result<T, DeckError>;
}

impl<T> At<T> for Result<T, PptxError> {
    fn at(self, step: &'static str) -> Result<T, DeckError> {
        self.map_err(|e| DeckError::Writer {
            step,
            source: Box::new(e),
        })
    }
}

fn template_error(what: impl Into<String>) -> DeckError {
    DeckError::Template(what.into())
}

// ---------------------------------------------------------------------------
// Geometry (inches) and look
// ---------------------------------------------------------------------------

const EMU_PER_INCH: f64 = 914_400.0;
const SLIDE_W_EMU: i64 = 12_192_000;
const SLIDE_H_EMU: i64 = 6_858_000;
const SLIDE_W: f64 = SLIDE_W_EMU as f64 / EMU_PER_INCH;

const MARGIN: f64 = 0.6;
const BODY_W: f64 = SLIDE_W - 2.0 * MARGIN;
const TITLE_TOP: f64 = 0.3;
const TITLE_H: f64 = 0.8;
const RULE_Y: f64 = 1.16;
const BODY_TOP: f64 = 1.45;
const BODY_BOTTOM: f64 = 6.85;
const BODY_H: f64 = BODY_BOTTOM - BODY_TOP;
const GAP: f64 = 0.2;

/// The inner margins of a text box (left/right, top/bottom).
const INSET_X: f64 = 0.1;
const INSET_Y: f64 = 0.05;

const TITLE_PT: f64 = 28.0;
const DECK_TITLE_PT: f64 = 36.0;
const SUBTITLE_PT: f64 = 20.0;
const TEXT_PT: f64 = 16.0;
const SMALL_PT: f64 = 12.0;
const FOOTER_PT: f64 = 10.0;
const EMPTY_PT: f64 = 14.0;
const CHART_TITLE_PT: f64 = 14.0;
const MAX_TEXT_LINES: usize = 6;
const MAX_BULLET_LINES: usize = 2;
const BULLET_INDENT: f64 = 0.3;
const BULLET_SPACE_PT: f64 = 6.0;

const TILE_H: f64 = 1.3;
const TILE_MAX_W: f64 = 3.6;
const TILES_PER_ROW: usize = 5;

const TABLE_PT: f64 = 12.0;
const TABLE_SMALL_PT: f64 = 11.0;
const CELL_MARGIN_X: f64 = 0.08;
const CELL_MARGIN_Y: f64 = 0.04;
const MAX_TABLE_ROWS: usize = 10;
const MIN_TABLE_ROWS_UNDER: usize = 5;
const MIN_COL_W: f64 = 0.6;
const MIN_TABLE_W: f64 = 6.0;

const CHART_MIN_H: f64 = 2.8;
const CHART_H: f64 = 3.4;
const EMPTY_H: f64 = 0.9;

/// The share of a line that word wrapping is assumed to fill.
const WRAP_FILL: f64 = 0.85;

const ACCENT: RgbColor = RgbColor::new(0x1F, 0x6F, 0xB2);
const INK: RgbColor = RgbColor::new(0x26, 0x2B, 0x33);
const MUTED: RgbColor = RgbColor::new(0x6B, 0x72, 0x80);
const RULE: RgbColor = RgbColor::new(0xD5, 0xDB, 0xE1);
const TILE: RgbColor = RgbColor::new(0xF2, 0xF5, 0xF8);
const HEAD: RgbColor = RgbColor::new(0xE6, 0xEE, 0xF6);
const EMPTY_FILL: RgbColor = RgbColor::new(0xF7, 0xF8, 0xFA);
/// Series colours: the accent first, then quiet greys and blues.
const PALETTE: [&str; 8] = [
    "1F6FB2", "8A96A3", "7FB2DE", "0E3F6B", "C5CED8", "D98B2B", "4F9A94", "B4BCC5",
];

fn emu(inches: f64) -> Emu {
    Emu((inches * EMU_PER_INCH).round() as i64)
}

/// The width of `c` in ems, on the generous side: about DejaVu Sans's,
/// which LibreOffice draws where Calibri (the theme's font) is missing and
/// which is wider than Calibri, so that a text measured to fit fits both.
fn em(c: char) -> f64 {
    use unicode_width::UnicodeWidthChar;
    match c {
        ' ' | '.' | ',' | ':' | ';' => 0.34,
        'i' | 'j' | 'l' | 'I' | '!' | '|' | '\'' => 0.31,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' | '"' | '*' => 0.44,
        'm' | 'w' | 'M' | 'W' | '%' | '@' | '…' => 1.0,
        '<' | '>' | '=' | '+' | '~' | '#' | '&' => 0.84,
        '0'..='9' | '$' => 0.64,
        'a'..='z' => 0.63,
        'A'..='Z' => 0.78,
        _ => match c.width() {
            Some(0) | None => 0.0,
            Some(2) => 1.15,
            _ => 0.75,
        },
    }
}

/// How wide `text` is drawn at `size_pt`, in inches (an estimate).
fn text_w(text: &str, size_pt: f64, bold: bool) -> f64 {
    let ems: f64 = text.chars().map(em).sum();
    ems * size_pt / 72.0 * if bold { 1.1 } else { 1.0 }
}

/// `text` cut with [`shorten`] to what one line of `inner_w` inches holds.
fn fit(text: &str, inner_w: f64, size_pt: f64, bold: bool) -> String {
    let wide = text_w(text, size_pt, bold);
    if wide <= inner_w {
        return text.to_string();
    }
    // From the text's own average width, then down until it fits.
    let columns = width_of(text) as f64;
    let mut budget = ((columns * inner_w / wide).floor() as usize + 2).max(1);
    loop {
        let cut = shorten(text, budget);
        if budget <= 1 || text_w(&cut, size_pt, bold) <= inner_w {
            return cut;
        }
        budget -= 1;
    }
}

/// `text` cut to what at most `max_lines` wrapped lines of `inner_w`
/// inches hold, and how many lines it takes.
fn fit_lines(text: &str, inner_w: f64, size_pt: f64, max_lines: usize) -> (String, usize) {
    let line = inner_w * WRAP_FILL;
    let text = fit(text, line * max_lines as f64, size_pt, false);
    let lines = ((text_w(&text, size_pt, false) / line).ceil() as usize).clamp(1, max_lines);
    (text, lines)
}

fn line_h(size_pt: f64) -> f64 {
    size_pt * 1.2 / 72.0
}

fn width_of(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` on one line, without control characters (which XML cannot
/// carry) and with runs of white space made one space.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            word.chars()
                .filter(|&c| !matches!(c, '\u{FFFE}' | '\u{FFFF}')),
        );
    }
    out
}

#[derive(Clone, Copy, Debug)]
struct Bx {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

// ---------------------------------------------------------------------------
// Planning: sections into slides
// ---------------------------------------------------------------------------

/// One slide of a section.
#[derive(Debug)]
struct Page<'a> {
    /// The section's title (cleaned); "(continued)" is added when `continued`.
    title: String,
    continued: bool,
    items: Vec<Item<'a>>,
    /// The section's notes on its first slide, else empty.
    notes: &'a str,
}

#[derive(Debug)]
struct Item<'a> {
    y: f64,
    h: f64,
    kind: Kind<'a>,
}

#[derive(Debug)]
enum Kind<'a> {
    /// A paragraph, already shortened.
    Text(String),
    /// Bullets, already shortened.
    Bullets(Vec<String>),
    /// One row of tiles.
    Figures(&'a [Figure]),
    /// Rows of a table under its heading row.
    Table {
        table: &'a Table,
        widths: Rc<Vec<f64>>,
        rows: Range<usize>,
        size: f64,
        row_h: f64,
    },
    Chart(&'a Chart),
    /// A message in place of a chart or table.
    Empty(String),
}

fn plan(doc: &Document) -> Vec<Page<'_>> {
    let mut pages = Vec::new();
    for section in &doc.sections {
        let mut planner = Planner::new(section);
        for block in &section.blocks {
            planner.block(block);
        }
        pages.extend(planner.finish());
    }
    pages
}

struct Planner<'a> {
    title: String,
    pages: Vec<Page<'a>>,
    y: f64,
}

impl<'a> Planner<'a> {
    fn new(section: &'a Section) -> Planner<'a> {
        let title = clean(&section.title);
        Planner {
            pages: vec![Page {
                title: title.clone(),
                continued: false,
                items: Vec::new(),
                notes: &section.notes,
            }],
            title,
            y: BODY_TOP,
        }
    }

    fn page_is_empty(&self) -> bool {
        self.pages.last().is_none_or(|p| p.items.is_empty())
    }

    fn room(&self) -> f64 {
        BODY_BOTTOM - self.y
    }

    fn new_page(&mut self) {
        self.pages.push(Page {
            title: self.title.clone(),
            continued: true,
            items: Vec::new(),
            notes: "",
        });
        self.y = BODY_TOP;
    }

    /// Places a box of height `h` under what is on the slide, on a next
    /// slide when it does not fit.
    fn place(&mut self, h: f64, kind: Kind<'a>) {
        let h = h.min(BODY_H);
        if h > self.room() + 1e-9 && !self.page_is_empty() {
            self.new_page();
        }
        let y = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.items.push(Item { y, h, kind });
        }
        self.y += h + GAP;
    }

    fn block(&mut self, block: &'a Block) {
        match block {
            Block::Text(text) => {
                let (text, lines) = fit_lines(
                    &clean(text),
                    BODY_W - 2.0 * INSET_X,
                    TEXT_PT,
                    MAX_TEXT_LINES,
                );
                if text.is_empty() {
                    return;
                }
                let h = lines as f64 * line_h(TEXT_PT) + 2.0 * INSET_Y + 0.05;
                self.place(h, Kind::Text(text));
            }
            Block::Bullets(items) => self.bullets(items),
            Block::Figures(figures) => {
                if figures.is_empty() {
                    return;
                }
                let rows = figures.len().div_ceil(TILES_PER_ROW);
                let per_row = figures.len().div_ceil(rows);
                for row in figures.chunks(per_row) {
                    self.place(TILE_H, Kind::Figures(row));
                }
            }
            Block::Table(table) => self.table(table),
            Block::Chart(chart) if ChartData::from_chart(chart).is_none() => {
                let title = chart_title(chart, BODY_W);
                let message = if title.is_empty() {
                    "No data to chart.".to_string()
                } else {
                    format!("{title}: no data to chart.")
                };
                self.empty(&message);
            }
            Block::Chart(chart) => {
                if self.room() < CHART_MIN_H && !self.page_is_empty() {
                    self.new_page();
                }
                let h = CHART_H.min(self.room());
                self.place(h, Kind::Chart(chart));
            }
            Block::Empty(message) => self.empty(&clean(message)),
        }
    }

    fn empty(&mut self, message: &str) {
        let (text, _) = fit_lines(message, BODY_W - 2.0 * INSET_X, EMPTY_PT, 2);
        self.place(EMPTY_H, Kind::Empty(text));
    }

    fn bullets(&mut self, items: &[String]) {
        let inner = BODY_W - 2.0 * INSET_X - BULLET_INDENT;
        let pad = 2.0 * INSET_Y + 0.05;
        let mut group: Vec<String> = Vec::new();
        let mut group_h = pad;
        for item in items {
            let (text, lines) = fit_lines(&clean(item), inner, TEXT_PT, MAX_BULLET_LINES);
            if text.is_empty() {
                continue;
            }
            let h = lines as f64 * line_h(TEXT_PT) + BULLET_SPACE_PT / 72.0;
            if group_h + h > self.room() + 1e-9 {
                if !group.is_empty() {
                    self.place(group_h, Kind::Bullets(std::mem::take(&mut group)));
                    group_h = pad;
                }
                if !self.page_is_empty() {
                    self.new_page();
                }
            }
            group.push(text);
            group_h += h;
        }
        if !group.is_empty() {
            self.place(group_h, Kind::Bullets(group));
        }
    }

    fn table(&mut self, table: &'a Table) {
        let cols = column_count(table);
        if cols == 0 {
            return;
        }
        let (size, row_h) = if cols > 6 {
            (TABLE_SMALL_PT, 0.32)
        } else {
            (TABLE_PT, 0.34)
        };
        let widths = Rc::new(column_widths(table, cols, size));
        let n = table.rows.len();
        let mut start = 0;
        loop {
            let remaining = n - start;
            let fit = if self.room() >= 2.0 * row_h {
                (((self.room() - row_h) / row_h).floor() as usize).min(MAX_TABLE_ROWS)
            } else {
                0
            };
            let wanted = remaining.clamp(1, MIN_TABLE_ROWS_UNDER);
            if fit < wanted && !self.page_is_empty() {
                self.new_page();
                continue;
            }
            let take = remaining.min(fit.max(1));
            self.place(
                row_h * (take + 1) as f64,
                Kind::Table {
                    table,
                    widths: Rc::clone(&widths),
                    rows: start..start + take,
                    size,
                    row_h,
                },
            );
            start += take;
            if start >= n {
                break;
            }
            self.new_page();
        }
    }

    fn finish(mut self) -> Vec<Page<'a>> {
        for page in &mut self.pages {
            if let Some(last) = page.items.last_mut()
                && matches!(last.kind, Kind::Chart(_))
            {
                last.h = (BODY_BOTTOM - last.y).max(last.h);
            }
        }
        self.pages
    }
}

fn column_count(table: &Table) -> usize {
    table
        .rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(table.columns.len())
}

/// Column widths (inches) from what the columns hold: as wide as their
/// widest cell, the whole at least [`MIN_TABLE_W`] and at most the body's
/// width; when the columns want more, the widest are cut first.
fn column_widths(table: &Table, cols: usize, size: f64) -> Vec<f64> {
    let pad = 2.0 * CELL_MARGIN_X + 0.06;
    let natural: Vec<f64> = (0..cols)
        .map(|c| {
            let head = table
                .columns
                .get(c)
                .map_or(0.0, |h| text_w(&clean(h), size, true));
            let body = table
                .rows
                .iter()
                .map(|r| {
                    r.get(c)
                        .map_or(0.0, |cell| text_w(&clean(cell), size, false))
                })
                .fold(0.0, f64::max);
            (head.max(body) + pad).max(MIN_COL_W)
        })
        .collect();
    let total: f64 = natural.iter().sum();
    if total <= BODY_W {
        let target = total.max(MIN_TABLE_W.min(BODY_W));
        return natural.iter().map(|w| w * target / total).collect();
    }
    // The cap under which the columns share the body's width.
    let mut sorted = natural.clone();
    sorted.sort_by(f64::total_cmp);
    let mut rest = BODY_W;
    let mut cap = BODY_W / cols as f64;
    for (i, w) in sorted.iter().enumerate() {
        let left = (cols - i) as f64;
        if w * left >= rest {
            cap = rest / left;
            break;
        }
        rest -= w;
    }
    natural.iter().map(|w| w.min(cap)).collect()
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Style {
    size: f64,
    bold: bool,
    italic: bool,
    color: RgbColor,
}

impl Style {
    const fn new(size: f64, color: RgbColor) -> Style {
        Style {
            size,
            bold: false,
            italic: false,
            color,
        }
    }

    const fn bold(mut self) -> Style {
        self.bold = true;
        self
    }

    const fn italic(mut self) -> Style {
        self.italic = true;
        self
    }
}

fn para(text: &str, style: Style, align: PpParagraphAlignment) -> Paragraph {
    let mut p = Paragraph::new();
    p.alignment = Some(align);
    if !text.is_empty() {
        let run = p.add_run();
        run.set_text(text);
        let font = run.font_mut();
        font.size = Some(style.size);
        font.bold = Some(style.bold);
        font.italic = Some(style.italic);
        font.color = Some(style.color);
    }
    p
}

fn frame(paragraphs: Vec<Paragraph>, anchor: MsoVerticalAnchor) -> TextFrame {
    let mut tf = TextFrame::new();
    let mut paragraphs = paragraphs.into_iter();
    if let (Some(first), Some(slot)) = (paragraphs.next(), tf.paragraphs_mut().first_mut()) {
        *slot = first;
    }
    for p in paragraphs {
        *tf.add_paragraph() = p;
    }
    tf.word_wrap = true;
    tf.vertical_anchor = Some(anchor);
    tf.margin_left = Some(emu(INSET_X));
    tf.margin_right = Some(emu(INSET_X));
    tf.margin_top = Some(emu(INSET_Y));
    tf.margin_bottom = Some(emu(INSET_Y));
    tf
}

fn solid(color: RgbColor) -> FillFormat {
    FillFormat::solid(ColorFormat::Rgb(color))
}

/// Writes shapes onto one slide.
struct SlideWriter<'p> {
    prs: &'p mut Presentation,
    slide: SlideRef,
}

impl<'p> SlideWriter<'p> {
    fn new(prs: &'p mut Presentation, slide: SlideRef) -> SlideWriter<'p> {
        SlideWriter { prs, slide }
    }

    fn next_id(&self) -> Result<ShapeId, DeckError> {
        let xml = self.prs.slide_xml(&self.slide).at("reading a slide")?;
        let tree = ShapeTree::from_slide_xml(xml).at("reading a slide's shapes")?;
        // Id 1 is the shape tree itself, which the count leaves out.
        Ok(ShapeId((tree.max_shape_id().0 + 1).max(2)))
    }

    /// Appends shape XML to the slide's shape tree.
    fn push(&mut self, shape_xml: &str) -> Result<(), DeckError> {
        let blob = self.prs.slide_xml_mut(&self.slide).at("editing a slide")?;
        let xml = std::str::from_utf8(blob)
            .map_err(|_| template_error("made a slide that is not UTF-8"))?;
        let at = xml
            .rfind("</p:spTree>")
            .ok_or_else(|| template_error("made a slide without a shape tree"))?;
        let mut out = String::with_capacity(xml.len() + shape_xml.len());
        out.push_str(&xml[..at]);
        out.push_str(shape_xml);
        out.push_str(&xml[at..]);
        *blob = out.into_bytes();
        Ok(())
    }

    fn shape(&mut self, mut shape: AutoShape) -> Result<(), DeckError> {
        shape.shape_id = self.next_id()?;
        let xml = shape.to_xml_string();
        self.push(&xml)
    }

    fn text_box(&mut self, name: &str, b: Bx, tf: TextFrame) -> Result<(), DeckError> {
        let mut shape =
            AutoShape::textbox(ShapeId(0), name, emu(b.x), emu(b.y), emu(b.w), emu(b.h));
        shape.fill = Some(FillFormat::no_fill());
        shape.text_frame = Some(tf);
        self.shape(shape)
    }

    fn rect(
        &mut self,
        name: &str,
        b: Bx,
        fill: RgbColor,
        line: Option<RgbColor>,
        tf: Option<TextFrame>,
    ) -> Result<(), DeckError> {
        let mut shape = AutoShape::with_geometry(
            ShapeId(0),
            name,
            emu(b.x),
            emu(b.y),
            emu(b.w),
            emu(b.h),
            PresetGeometry::Rect,
        );
        shape.fill = Some(solid(fill));
        shape.line = line.map(|c| LineFormat::solid(ColorFormat::Rgb(c), Emu(9525)));
        shape.text_frame = tf;
        self.shape(shape)
    }

    /// A title placeholder (so that outlines and screen readers find the
    /// slide's title), placed and styled here rather than by the layout.
    fn title(&mut self, kind: PpPlaceholderType, b: Bx, tf: TextFrame) -> Result<(), DeckError> {
        let mut shape = AutoShape::new(ShapeId(0), "Title", emu(b.x), emu(b.y), emu(b.w), emu(b.h));
        shape.placeholder = Some(PlaceholderFormat {
            ph_type: Some(kind),
            idx: PlaceholderIndex(0),
            orient: None,
            sz: None,
        });
        shape.text_frame = Some(tf);
        self.shape(shape)
    }

    fn title_slide(&mut self, doc: &Document) -> Result<(), DeckError> {
        let x = MARGIN + 0.35;
        let w = SLIDE_W - x - MARGIN;
        self.rect(
            "Accent",
            Bx {
                x: MARGIN,
                y: 2.0,
                w: 0.09,
                h: 2.5,
            },
            ACCENT,
            None,
            None,
        )?;
        let line = (w - 2.0 * INSET_X) * WRAP_FILL;
        let title = fit(&clean(&doc.title), 2.0 * line, DECK_TITLE_PT, true);
        self.title(
            PpPlaceholderType::CenterTitle,
            Bx {
                x,
                y: 1.75,
                w,
                h: 1.6,
            },
            frame(
                vec![para(
                    &title,
                    Style::new(DECK_TITLE_PT, INK).bold(),
                    PpParagraphAlignment::Left,
                )],
                MsoVerticalAnchor::Bottom,
            ),
        )?;
        let (subtitle, _) = fit_lines(&clean(&doc.subtitle), w - 2.0 * INSET_X, SUBTITLE_PT, 2);
        if !subtitle.is_empty() {
            self.text_box(
                "Subtitle",
                Bx {
                    x,
                    y: 3.5,
                    w,
                    h: 1.0,
                },
                frame(
                    vec![para(
                        &subtitle,
                        Style::new(SUBTITLE_PT, MUTED),
                        PpParagraphAlignment::Left,
                    )],
                    MsoVerticalAnchor::Top,
                ),
            )?;
        }
        let footer = fit(&clean(&doc.footer), w - 2.0 * INSET_X, SMALL_PT, false);
        if !footer.is_empty() {
            self.text_box(
                "Footer",
                Bx {
                    x,
                    y: 6.5,
                    w,
                    h: 0.4,
                },
                frame(
                    vec![para(
                        &footer,
                        Style::new(SMALL_PT, MUTED),
                        PpParagraphAlignment::Left,
                    )],
                    MsoVerticalAnchor::Bottom,
                ),
            )?;
        }
        Ok(())
    }

    fn page(&mut self, page: &Page<'_>, number: usize, total: usize) -> Result<(), DeckError> {
        let inner = BODY_W - 2.0 * INSET_X;
        let title = if page.continued {
            const MORE: &str = " (continued)";
            let base = fit(
                &page.title,
                inner - text_w(MORE, TITLE_PT, false),
                TITLE_PT,
                false,
            );
            format!("{base}{MORE}")
        } else {
            fit(&page.title, inner, TITLE_PT, false)
        };
        self.title(
            PpPlaceholderType::Title,
            Bx {
                x: MARGIN,
                y: TITLE_TOP,
                w: BODY_W,
                h: TITLE_H,
            },
            frame(
                vec![para(
                    &title,
                    Style::new(TITLE_PT, INK),
                    PpParagraphAlignment::Left,
                )],
                MsoVerticalAnchor::Bottom,
            ),
        )?;
        self.rect(
            "Rule",
            Bx {
                x: MARGIN + INSET_X,
                y: RULE_Y,
                w: 0.9,
                h: 0.045,
            },
            ACCENT,
            None,
            None,
        )?;
        for item in &page.items {
            let b = Bx {
                x: MARGIN,
                y: item.y,
                w: BODY_W,
                h: item.h,
            };
            match &item.kind {
                Kind::Text(text) => self.text_box(
                    "Text",
                    b,
                    frame(
                        vec![para(
                            text,
                            Style::new(TEXT_PT, INK),
                            PpParagraphAlignment::Left,
                        )],
                        MsoVerticalAnchor::Top,
                    ),
                )?,
                Kind::Bullets(items) => self.bullets(b, items)?,
                Kind::Figures(figures) => self.figures(b, figures)?,
                Kind::Table {
                    table,
                    widths,
                    rows,
                    size,
                    row_h,
                } => self.table(b, table, widths, rows.clone(), *size, *row_h)?,
                Kind::Chart(chart) => self.chart(b, chart)?,
                Kind::Empty(message) => self.empty(b, message)?,
            }
        }
        self.text_box(
            "Slide number",
            Bx {
                x: SLIDE_W - MARGIN - 1.5,
                y: 6.98,
                w: 1.5,
                h: 0.34,
            },
            frame(
                vec![para(
                    &format!("{number} / {total}"),
                    Style::new(FOOTER_PT, MUTED),
                    PpParagraphAlignment::Right,
                )],
                MsoVerticalAnchor::Middle,
            ),
        )
    }

    fn bullets(&mut self, b: Bx, items: &[String]) -> Result<(), DeckError> {
        let paragraphs = items
            .iter()
            .map(|text| {
                let mut p = para(text, Style::new(TEXT_PT, INK), PpParagraphAlignment::Left);
                p.bullet = Some(BulletFormat::Character('•'));
                p.bullet_color = Some(ColorFormat::Rgb(ACCENT));
                p.bullet_font = Some("Arial".to_string());
                p.space_after = Some(BULLET_SPACE_PT);
                p
            })
            .collect();
        let mut shape = AutoShape::textbox(
            self.next_id()?,
            "Bullets",
            emu(b.x),
            emu(b.y),
            emu(b.w),
            emu(b.h),
        );
        shape.fill = Some(FillFormat::no_fill());
        shape.text_frame = Some(frame(paragraphs, MsoVerticalAnchor::Top));
        // The writer has no hanging indent: give every paragraph one, so
        // that a bullet's second line starts under its first.
        let indent = emu(BULLET_INDENT).0;
        let xml = shape.to_xml_string().replace(
            "<a:pPr",
            &format!("<a:pPr marL=\"{indent}\" indent=\"-{indent}\""),
        );
        self.push(&xml)
    }

    fn figures(&mut self, b: Bx, figures: &[Figure]) -> Result<(), DeckError> {
        let n = figures.len().max(1) as f64;
        let tile_w = ((b.w - (n - 1.0) * GAP) / n).min(TILE_MAX_W);
        for (i, figure) in figures.iter().enumerate() {
            let x = b.x + i as f64 * (tile_w + GAP);
            let inner = tile_w - 2.0 * INSET_X - 0.1;
            let value = clean(&figure.value);
            // The value as large as its tile allows, from 28 pt down to 18 pt.
            let value_pt = [28.0, 24.0, 20.0, 18.0]
                .into_iter()
                .find(|&pt| text_w(&value, pt, true) <= inner)
                .unwrap_or(18.0);
            let value = fit(&value, inner, value_pt, true);
            let label = fit(&clean(&figure.label), inner, SMALL_PT, true);
            let detail = fit(&clean(&figure.detail), inner, 11.0, false);
            let mut paragraphs = vec![
                para(
                    &value,
                    Style::new(value_pt, ACCENT).bold(),
                    PpParagraphAlignment::Center,
                ),
                para(
                    &label,
                    Style::new(SMALL_PT, INK).bold(),
                    PpParagraphAlignment::Center,
                ),
            ];
            if !detail.is_empty() {
                paragraphs.push(para(
                    &detail,
                    Style::new(11.0, MUTED),
                    PpParagraphAlignment::Center,
                ));
            }
            self.rect(
                "Figure",
                Bx {
                    x,
                    y: b.y,
                    w: tile_w,
                    h: b.h,
                },
                TILE,
                None,
                Some(frame(paragraphs, MsoVerticalAnchor::Middle)),
            )?;
            self.rect(
                "Figure accent",
                Bx {
                    x,
                    y: b.y,
                    w: tile_w,
                    h: 0.05,
                },
                ACCENT,
                None,
                None,
            )?;
        }
        Ok(())
    }

    fn table(
        &mut self,
        b: Bx,
        table: &Table,
        widths: &[f64],
        rows: Range<usize>,
        size: f64,
        row_h: f64,
    ) -> Result<(), DeckError> {
        let cols = widths.len();
        let mut t = DeckTable::new(rows.len() + 1, cols, Emu(0), emu(row_h));
        t.first_row = true;
        t.horz_banding = false;
        for (column, w) in t.columns.iter_mut().zip(widths) {
            column.width = emu(*w);
        }
        let line = |color: RgbColor, width: i64| CellBorder {
            color: ColorFormat::Rgb(color),
            width: Emu(width),
        };
        let numeric = |c: usize| table.numeric.get(c).copied().unwrap_or(false);
        let align = |c: usize| {
            if numeric(c) {
                PpParagraphAlignment::Right
            } else {
                PpParagraphAlignment::Left
            }
        };
        for (r, row) in t.rows.iter_mut().enumerate() {
            let source = if r == 0 {
                None
            } else {
                table.rows.get(rows.start + r - 1)
            };
            for (c, cell) in row.cells.iter_mut().enumerate() {
                let inner = widths[c] - 2.0 * CELL_MARGIN_X;
                let (text, style) = if r == 0 {
                    let text = table.columns.get(c).map(|h| clean(h)).unwrap_or_default();
                    (fit(&text, inner, size, true), Style::new(size, INK).bold())
                } else {
                    let text = source
                        .and_then(|s| s.get(c))
                        .map(|v| clean(v))
                        .unwrap_or_default();
                    (fit(&text, inner, size, false), Style::new(size, INK))
                };
                let mut tf = frame(
                    vec![para(&text, style, align(c))],
                    MsoVerticalAnchor::Middle,
                );
                tf.margin_left = Some(emu(CELL_MARGIN_X));
                tf.margin_right = Some(emu(CELL_MARGIN_X));
                tf.margin_top = Some(emu(CELL_MARGIN_Y));
                tf.margin_bottom = Some(emu(CELL_MARGIN_Y));
                cell.text_frame = tf;
                cell.margin_left = Some(emu(CELL_MARGIN_X));
                cell.margin_right = Some(emu(CELL_MARGIN_X));
                cell.margin_top = Some(emu(CELL_MARGIN_Y));
                cell.margin_bottom = Some(emu(CELL_MARGIN_Y));
                cell.vertical_anchor = Some(MsoVerticalAnchor::Middle);
                if r == 0 {
                    cell.fill = Some(solid(HEAD));
                    cell.borders.bottom = Some(line(ACCENT, 19_050));
                } else {
                    cell.fill = Some(FillFormat::no_fill());
                    cell.borders.bottom = Some(line(RULE, 6_350));
                }
            }
        }
        let width: i64 = t.columns.iter().map(|c| c.width.0).sum();
        let height = emu(row_h).0 * t.rows.len() as i64;
        let id = self.next_id()?;
        let xml = format!(
            "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id=\"{id}\" name=\"Table {id}\"/>\
             <p:cNvGraphicFramePr><a:graphicFrameLocks noGrp=\"1\"/></p:cNvGraphicFramePr><p:nvPr/>\
             </p:nvGraphicFramePr><p:xfrm><a:off x=\"{}\" y=\"{}\"/><a:ext cx=\"{width}\" cy=\"{height}\"/>\
             </p:xfrm>{}</p:graphicFrame>",
            emu(b.x).0,
            emu(b.y).0,
            // Our cells carry their own fills and lines: ask for PowerPoint's
            // "No Style, No Grid" rather than the deck's default table style
            // (the writer would spell the element `tblStyleId`).
            t.to_graphic_data_xml().replacen(
                "<a:tblPr firstRow=\"1\"/>",
                "<a:tblPr firstRow=\"1\"><a:tableStyleId>{2D5ABB26-0587-4C30-8999-92F81FD0307C}</a:tableStyleId></a:tblPr>",
                1,
            ),
        );
        self.push(&xml)
    }

    fn empty(&mut self, b: Bx, message: &str) -> Result<(), DeckError> {
        self.rect(
            "No data",
            b,
            EMPTY_FILL,
            Some(RULE),
            Some(frame(
                vec![para(
                    message,
                    Style::new(EMPTY_PT, MUTED).italic(),
                    PpParagraphAlignment::Center,
                )],
                MsoVerticalAnchor::Middle,
            )),
        )
    }

    fn chart(&mut self, b: Bx, chart: &Chart) -> Result<(), DeckError> {
        let Some(data) = ChartData::from_chart(chart) else {
            // Planned as an empty block, so not reached.
            return Ok(());
        };
        let mut cd = CategoryChartData::new();
        for category in &data.categories {
            cd.add_category(category);
        }
        for (name, values) in &data.series {
            cd.add_series_with_options(name, values);
        }
        let chart_type = match chart.kind {
            ChartKind::Bar => XlChartType::ColumnClustered,
            ChartKind::Line => XlChartType::LineMarkers,
            ChartKind::Pie => XlChartType::Pie,
        };
        // A pie is round: a frame about twice as wide as high, centred,
        // holds it and its legend without a wide empty band.
        let b = if chart.kind == ChartKind::Pie {
            let w = (b.h * 2.2).min(b.w);
            Bx {
                x: b.x + (b.w - w) / 2.0,
                w,
                ..b
            }
        } else {
            b
        };
        let title = chart_title(chart, b.w);
        self.prs
            .add_chart_to_slide(
                &self.slide,
                &cd,
                chart_type,
                emu(b.x),
                emu(b.y),
                emu(b.w),
                emu(b.h),
            )
            .at("adding a chart")?;

        // The writer draws a plain chart; give it our look.
        let chart_part = last_target(self.prs, &self.slide.partname, REL_CHART)?;
        let workbook = last_target(self.prs, &chart_part, REL_PACKAGE)?;
        if let Some(part) = self.prs.package_mut().part_mut(&workbook)
            && let Some(normal) = normalize_zip(&part.blob)
        {
            part.blob = normal;
        }
        let workbook_rel = self
            .prs
            .package()
            .part(&chart_part)
            .and_then(|p| {
                p.rels
                    .all_by_reltype(REL_PACKAGE)
                    .last()
                    .map(|r| r.r_id.as_str().to_string())
            })
            .ok_or_else(|| template_error("made a chart without its workbook"))?;
        let part = self
            .prs
            .package_mut()
            .part_mut(&chart_part)
            .ok_or_else(|| template_error("lost a chart it made"))?;
        let xml = std::str::from_utf8(&part.blob)
            .map_err(|_| template_error("made a chart that is not UTF-8"))?;
        part.blob = style_chart(xml, chart.kind, &title, &data, &workbook_rel).into_bytes();
        Ok(())
    }
}

/// A chart's title with its unit, cut to one line of a frame `frame_w`
/// inches wide.
fn chart_title(chart: &Chart, frame_w: f64) -> String {
    let inner = frame_w - 1.0;
    let title = clean(&chart.title);
    let unit = fit(&clean(&chart.unit), 2.0, CHART_TITLE_PT, true);
    if unit.is_empty() {
        return fit(&title, inner, CHART_TITLE_PT, true);
    }
    let unit = format!(" ({unit})");
    let base = fit(
        &title,
        inner - text_w(&unit, CHART_TITLE_PT, true),
        CHART_TITLE_PT,
        true,
    );
    if base.is_empty() {
        unit.trim_start().to_string()
    } else {
        format!("{base}{unit}")
    }
}

/// The target of the last relationship of type `reltype` from `source`.
fn last_target(prs: &Presentation, source: &PackURI, reltype: &str) -> Result<PackURI, DeckError> {
    let part = prs
        .package()
        .part(source)
        .ok_or_else(|| template_error(format!("has no part {}", source.as_str())))?;
    let rel = part
        .rels
        .all_by_reltype(reltype)
        .last()
        .copied()
        .ok_or_else(|| {
            template_error(format!("made {} without a link it needs", source.as_str()))
        })?;
    rel.target_partname(source.base_uri())
        .at("resolving a part's link")
}

/// A chart's data made safe for the writer: as many values as categories,
/// no NaN or infinity, a name for every series, and for a pie only the
/// first series' positive values.
#[derive(Debug)]
struct ChartData {
    categories: Vec<String>,
    series: Vec<(String, Vec<Option<f64>>)>,
}

impl ChartData {
    /// `None` when there is nothing to draw.
    fn from_chart(chart: &Chart) -> Option<ChartData> {
        let categories: Vec<String> = chart
            .categories
            .iter()
            .map(|c| shorten(&clean(c), 40))
            .collect();
        let take = if chart.kind == ChartKind::Pie {
            1
        } else {
            chart.series.len()
        };
        let series: Vec<(String, Vec<Option<f64>>)> = chart
            .series
            .iter()
            .take(take)
            .enumerate()
            .map(|(i, s)| {
                let name = shorten(&clean(&s.name), 40);
                let name = if name.is_empty() {
                    format!("Series {}", i + 1)
                } else {
                    name
                };
                let values =
                    (0..categories.len())
                        .map(|k| {
                            s.values.get(k).copied().flatten().filter(|v| {
                                v.is_finite() && (chart.kind != ChartKind::Pie || *v > 0.0)
                            })
                        })
                        .collect();
                (name, values)
            })
            .collect();
        let any = series
            .iter()
            .any(|(_, values)| values.iter().any(Option::is_some));
        (any && !categories.is_empty()).then_some(ChartData { categories, series })
    }
}

const REL_CHART: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart";
const REL_PACKAGE: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/package";
const REL_THEME: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme";
const REL_NOTES_MASTER: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesMaster";
const REL_OFFICE_DOCUMENT: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";
const CT_THEME: &str = "application/vnd.openxmlformats-officedocument.theme+xml";

/// Escapes text for XML (the text is [`clean`]ed already).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The spreadsheet column of series `i` (B, C, …, Z, AA, …).
fn column_letter(i: usize) -> String {
    let mut n = i + 2;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A series' formulas pointed at its own column of the workbook (the
/// writer points every series at column B).
fn own_column(ser: &str, column: &str) -> String {
    let mut out = String::with_capacity(ser.len());
    let mut rest = ser;
    while let Some(open) = rest.find("<c:f>") {
        let Some(len) = rest[open..].find("</c:f>") else {
            break;
        };
        let close = open + len;
        out.push_str(&rest[..open]);
        out.push_str(&rest[open..close].replace("$B$", &format!("${column}$")));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn insert_after(xml: &mut String, anchor: &str, what: &str) -> bool {
    match xml.find(anchor) {
        Some(at) => {
            xml.insert_str(at + anchor.len(), what);
            true
        }
        None => false,
    }
}

fn insert_before(xml: &mut String, anchor: &str, what: &str) -> bool {
    match xml.find(anchor) {
        Some(at) => {
            xml.insert_str(at, what);
            true
        }
        None => false,
    }
}

fn text_props(size_hundredths: u32, bold: bool, color: &str) -> String {
    format!(
        "<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz=\"{size_hundredths}\" b=\"{}\">\
         <a:solidFill><a:srgbClr val=\"{color}\"/></a:solidFill></a:defRPr></a:pPr>\
         <a:endParaRPr lang=\"en-US\"/></a:p></c:txPr>",
        u8::from(bold)
    )
}

/// Gives the writer's chart XML our look: a title, the series' colours
/// (and their right cells in the embedded workbook), markers on lines,
/// percentages on pies, quiet grid lines, 12 pt text and a legend when
/// there is more than one series (or slices to name).
fn style_chart(
    xml: &str,
    kind: ChartKind,
    title: &str,
    data: &ChartData,
    workbook_rel: &str,
) -> String {
    let series = data.series.len();
    let categories = data.categories.len();
    // Thousands separators for large values; small ones as they come, so
    // that fractional ticks are not rounded into repeats.
    let largest = data
        .series
        .iter()
        .flat_map(|(_, values)| values.iter().flatten())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let number_format = if largest >= 1000.0 {
        "#,##0"
    } else {
        "General"
    };
    // Series: colours and their own column of the workbook.
    let mut out = String::with_capacity(xml.len() + 4096);
    let mut rest = xml;
    let mut i = 0;
    while let Some(start) = rest.find("<c:ser>") {
        let Some(len) = rest[start..].find("</c:ser>") else {
            break;
        };
        out.push_str(&rest[..start]);
        let end = start + len + "</c:ser>".len();
        let mut ser = own_column(&rest[start..end], &column_letter(i));
        let color = PALETTE[i % PALETTE.len()];
        let props = match kind {
            ChartKind::Bar => format!(
                "<c:spPr><a:solidFill><a:srgbClr val=\"{color}\"/></a:solidFill></c:spPr>\
                 <c:invertIfNegative val=\"0\"/>"
            ),
            ChartKind::Line => format!(
                "<c:spPr><a:ln w=\"28575\" cap=\"rnd\"><a:solidFill><a:srgbClr val=\"{color}\"/>\
                 </a:solidFill><a:round/></a:ln></c:spPr><c:marker><c:symbol val=\"circle\"/>\
                 <c:size val=\"6\"/><c:spPr><a:solidFill><a:srgbClr val=\"{color}\"/></a:solidFill>\
                 <a:ln w=\"9525\"><a:solidFill><a:srgbClr val=\"{color}\"/></a:solidFill></a:ln>\
                 </c:spPr></c:marker>"
            ),
            ChartKind::Pie => {
                let mut s = String::new();
                for k in 0..categories {
                    let _ = write!(
                        s,
                        "<c:dPt><c:idx val=\"{k}\"/><c:bubble3D val=\"0\"/><c:spPr><a:solidFill>\
                         <a:srgbClr val=\"{}\"/></a:solidFill><a:ln w=\"12700\"><a:solidFill>\
                         <a:srgbClr val=\"FFFFFF\"/></a:solidFill></a:ln></c:spPr></c:dPt>",
                        PALETTE[k % PALETTE.len()]
                    );
                }
                s.push_str(
                    "<c:dLbls><c:numFmt formatCode=\"0%\" sourceLinked=\"0\"/><c:spPr><a:noFill/>\
                            <a:ln><a:noFill/></a:ln></c:spPr>",
                );
                s.push_str(&text_props(1100, true, "262B33"));
                s.push_str(
                    "<c:dLblPos val=\"outEnd\"/><c:showLegendKey val=\"0\"/><c:showVal val=\"0\"/>\
                     <c:showCatName val=\"0\"/><c:showSerName val=\"0\"/><c:showPercent val=\"1\"/>\
                     <c:showBubbleSize val=\"0\"/><c:showLeaderLines val=\"1\"/></c:dLbls>",
                );
                s
            }
        };
        insert_after(&mut ser, "</c:tx>", &props);
        out.push_str(&ser);
        rest = &rest[end..];
        i += 1;
    }
    out.push_str(rest);
    let mut xml = out;

    // Axes: light grid lines and axis lines, thousands separators.
    xml = xml.replace(
        "<c:majorGridlines/>",
        &format!(
            "<c:majorGridlines><c:spPr><a:ln w=\"6350\"><a:solidFill><a:srgbClr val=\"E1E5EA\"/>\
             </a:solidFill></a:ln></c:spPr></c:majorGridlines>\
             <c:numFmt formatCode=\"{number_format}\" sourceLinked=\"0\"/>"
        ),
    );
    xml = xml.replace(
        "<c:tickLblPos val=\"nextTo\"/>",
        "<c:tickLblPos val=\"nextTo\"/><c:spPr><a:ln w=\"9525\"><a:solidFill><a:srgbClr val=\"BFC6CE\"/>\
         </a:solidFill></a:ln></c:spPr>",
    );
    if kind == ChartKind::Bar {
        insert_before(&mut xml, "<c:ser>", "<c:varyColors val=\"0\"/>");
        // Between the last series and the axis ids.
        if let Some(at) = xml.find("<c:axId") {
            xml.insert_str(at, "<c:gapWidth val=\"80\"/>");
        }
    }

    // Legend: below for several series, right of a pie; none for one series.
    if let (Some(start), Some(end)) = (xml.find("<c:legend>"), xml.find("</c:legend>"))
        && start < end
    {
        xml.replace_range(start..end + "</c:legend>".len(), "");
    }
    xml = xml.replace("<c:plotVisOnly val=\"1\"/>", "");
    let legend = match kind {
        ChartKind::Pie => Some("r"),
        _ if series > 1 => Some("b"),
        _ => None,
    };
    let mut after_plot = String::new();
    if let Some(position) = legend {
        let _ = write!(
            after_plot,
            "<c:legend><c:legendPos val=\"{position}\"/><c:overlay val=\"0\"/>{}</c:legend>",
            text_props(1200, false, "404852")
        );
    }
    after_plot.push_str("<c:plotVisOnly val=\"1\"/>");
    insert_after(&mut xml, "</c:plotArea>", &after_plot);

    // Title, or none (a one-series chart would otherwise be titled by it).
    if title.is_empty() {
        xml = xml.replace(
            "<c:autoTitleDeleted val=\"0\"/>",
            "<c:autoTitleDeleted val=\"1\"/>",
        );
    } else {
        let title_xml = format!(
            "<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz=\"1400\" b=\"1\">\
             <a:solidFill><a:srgbClr val=\"262B33\"/></a:solidFill></a:defRPr></a:pPr><a:r>\
             <a:rPr lang=\"en-US\" sz=\"1400\" b=\"1\"><a:solidFill><a:srgbClr val=\"262B33\"/>\
             </a:solidFill></a:rPr><a:t>{}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val=\"0\"/></c:title>",
            escape(title)
        );
        insert_after(&mut xml, "<c:chart>", &title_xml);
    }

    // The chart's frame, its text, and the link to its workbook.
    insert_before(&mut xml, "<c:chart>", "<c:roundedCorners val=\"0\"/>");
    insert_after(
        &mut xml,
        "</c:chart>",
        "<c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>",
    );
    xml = xml.replace(
        "<a:defRPr sz=\"1800\"/>",
        "<a:defRPr sz=\"1200\"><a:solidFill><a:srgbClr val=\"404852\"/></a:solidFill></a:defRPr>",
    );
    insert_before(
        &mut xml,
        "</c:chartSpace>",
        &format!(
            "<c:externalData r:id=\"{}\"><c:autoUpdate val=\"0\"/></c:externalData>",
            escape(workbook_rel)
        ),
    );
    xml
}

// ---------------------------------------------------------------------------
// The presentation: size, template, properties, notes
// ---------------------------------------------------------------------------

fn layout(
    layouts: &[SlideLayoutRef],
    name: &str,
    fallback: usize,
) -> Result<SlideLayoutRef, DeckError> {
    layouts
        .iter()
        .find(|l| l.name == name)
        .or_else(|| layouts.get(fallback))
        .cloned()
        .ok_or_else(|| template_error(format!("has no layout \"{name}\"")))
}

fn set_up_presentation(prs: &mut Presentation, doc: &Document) -> Result<(), DeckError> {
    let old_width = prs
        .slide_size()
        .at("reading the slide size")?
        .map_or(9_144_000, |(w, _)| w);
    prs.set_slide_width(SLIDE_W_EMU)
        .at("setting the slide size")?;
    prs.set_slide_height(SLIDE_H_EMU)
        .at("setting the slide size")?;
    let part = prs
        .package_mut()
        .part_by_reltype_mut(REL_OFFICE_DOCUMENT)
        .at("finding the presentation")?;
    let xml = String::from_utf8_lossy(&part.blob)
        .replace(" type=\"screen4x3\"", "")
        .replace(" type=\"screen16x10\"", "");
    part.blob = xml.into_bytes();

    // The template's master and layouts are 4:3: widen them with the slides,
    // for whoever adds a slide to the deck.
    if old_width != SLIDE_W_EMU && old_width > 0 {
        let mut parts: Vec<PackURI> = prs
            .slide_masters()
            .at("reading the slide masters")?
            .into_iter()
            .map(|m| m.partname)
            .collect();
        parts.extend(
            prs.slide_layouts()
                .at("reading the slide layouts")?
                .into_iter()
                .map(|l| l.partname),
        );
        for uri in parts {
            if let Some(part) = prs.package_mut().part_mut(&uri) {
                let xml = String::from_utf8_lossy(&part.blob).into_owned();
                let xml = scale_attribute(&xml, "<a:off x=\"", SLIDE_W_EMU, old_width);
                let xml = scale_attribute(&xml, "<a:ext cx=\"", SLIDE_W_EMU, old_width);
                part.blob = xml.into_bytes();
            }
        }
    }

    let mut props = CoreProperties::new();
    props.set_title(clean(&doc.title));
    props.set_subject(clean(&doc.subtitle));
    props.set_author("CSIP");
    props.set_last_modified_by("CSIP");
    props.set_revision("1");
    prs.set_core_properties(&props)
        .at("writing the document properties")
}

/// The application properties: ours, rather than the template's (which
/// name another program, a 4:3 show and no slides).
fn set_app_properties(
    prs: &mut Presentation,
    slides: usize,
    notes: usize,
) -> Result<(), DeckError> {
    let uri = PackURI::new("/docProps/app.xml").at("naming the application properties")?;
    if let Some(part) = prs.package_mut().part_mut(&uri) {
        part.blob = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" \
             xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">\
             <Application>CSIP</Application><PresentationFormat>Widescreen</PresentationFormat>\
             <Slides>{slides}</Slides><Notes>{notes}</Notes><HiddenSlides>0</HiddenSlides></Properties>"
        )
        .into_bytes();
    }
    Ok(())
}

/// Multiplies the number after each `prefix` by `num / den`.
fn scale_attribute(xml: &str, prefix: &str, num: i64, den: i64) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(prefix) {
        let value_at = at + prefix.len();
        out.push_str(&rest[..value_at]);
        let digits = rest[value_at..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        match rest[value_at..value_at + digits].parse::<i64>() {
            Ok(v) if digits > 0 => {
                let _ = write!(out, "{}", v.saturating_mul(num) / den);
            }
            _ => out.push_str(&rest[value_at..value_at + digits]),
        }
        rest = &rest[value_at + digits..];
    }
    out.push_str(rest);
    out
}

/// A notes master with a slide image and a notes body (the writer's own
/// has neither).
const NOTES_MASTER_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:notesMaster xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:bg><p:bgRef idx="1001"><a:schemeClr val="bg1"/></p:bgRef></p:bg><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/><a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr><p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image Placeholder 1"/><p:cNvSpPr><a:spLocks noGrp="1" noRot="1" noChangeAspect="1"/></p:cNvSpPr><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="381000" y="685800"/><a:ext cx="6096000" cy="3429000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/><a:ln w="12700"><a:solidFill><a:prstClr val="black"/></a:solidFill></a:ln></p:spPr></p:sp><p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes Placeholder 2"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="685800" y="4343400"/><a:ext cx="5486400" cy="4114800"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr><p:txBody><a:bodyPr vert="horz" lIns="91440" tIns="45720" rIns="91440" bIns="45720" rtlCol="0"/><a:lstStyle/><a:p><a:pPr lvl="0"/><a:r><a:rPr lang="en-US"/><a:t>Click to edit Master text styles</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld><p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/><p:notesStyle><a:lvl1pPr marL="0" algn="l" defTabSz="914400" rtl="0" eaLnBrk="1" latinLnBrk="0" hangingPunct="1"><a:defRPr sz="1200" kern="1200"><a:solidFill><a:schemeClr val="tx1"/></a:solidFill><a:latin typeface="+mn-lt"/><a:ea typeface="+mn-ea"/><a:cs typeface="+mn-cs"/></a:defRPr></a:lvl1pPr></p:notesStyle></p:notesMaster>"#;

/// The empty body paragraph of the writer's new notes slide.
const EMPTY_NOTES_BODY: &str = "<a:p><a:endParaRPr lang=\"en-US\"/></a:p></p:txBody>";

/// Writes speaker notes, with the notes master PowerPoint and Keynote
/// expect: its own theme, and listed in the presentation.
fn write_notes(prs: &mut Presentation, notes: &[(SlideRef, &str)]) -> Result<(), DeckError> {
    let master = prs.notes_master_or_create().at("adding the notes master")?;

    // Its own copy of the theme.
    let theme_xml = {
        let pres = prs
            .package()
            .part_by_reltype(REL_OFFICE_DOCUMENT)
            .at("finding the presentation")?;
        let rel = pres
            .rels
            .all_by_reltype(REL_THEME)
            .first()
            .copied()
            .ok_or_else(|| template_error("has no theme"))?;
        let uri = rel
            .target_partname(pres.partname.base_uri())
            .at("resolving the theme")?;
        prs.package()
            .part(&uri)
            .map(|p| p.blob.clone())
            .ok_or_else(|| template_error("has no theme part"))?
    };
    let theme = prs
        .package()
        .next_partname("/ppt/theme/theme{}.xml")
        .at("naming the notes theme")?;
    let theme_ref = theme.relative_ref(master.partname.base_uri());
    prs.package_mut()
        .put_part(Part::new(theme, CT_THEME, theme_xml));
    let part = prs
        .package_mut()
        .part_mut(&master.partname)
        .ok_or_else(|| template_error("lost its notes master"))?;
    let old: Vec<String> = part
        .rels
        .all_by_reltype(REL_THEME)
        .iter()
        .map(|r| r.r_id.as_str().to_string())
        .collect();
    for r_id in old {
        part.rels.remove(&r_id);
    }
    part.rels.add_relationship(REL_THEME, theme_ref, false);
    part.blob = NOTES_MASTER_XML.as_bytes().to_vec();

    // Listed in the presentation, after the slide masters.
    let pres = prs
        .package_mut()
        .part_by_reltype_mut(REL_OFFICE_DOCUMENT)
        .at("finding the presentation")?;
    let mut xml = String::from_utf8_lossy(&pres.blob).into_owned();
    if !xml.contains("<p:notesMasterIdLst") {
        let list = format!(
            "<p:notesMasterIdLst><p:notesMasterId r:id=\"{}\"/></p:notesMasterIdLst>",
            escape(master.r_id.as_str())
        );
        if !insert_after(&mut xml, "</p:sldMasterIdLst>", &list) {
            return Err(template_error("has no slide master list"));
        }
    }
    pres.blob = xml.into_bytes();

    for (slide, text) in notes {
        let notes_slide = prs
            .notes_slide_or_create(slide)
            .at("adding speaker notes")?;
        let master_ref = master
            .partname
            .relative_ref(notes_slide.partname.base_uri());
        let part = prs
            .package_mut()
            .part_mut(&notes_slide.partname)
            .ok_or_else(|| template_error("lost a notes slide"))?;
        if part.rels.all_by_reltype(REL_NOTES_MASTER).is_empty() {
            part.rels
                .add_relationship(REL_NOTES_MASTER, master_ref, false);
        }
        let body: String = text
            .lines()
            .map(|line| {
                para(
                    &clean(line),
                    Style::new(SMALL_PT, INK),
                    PpParagraphAlignment::Left,
                )
                .to_xml_string()
            })
            .collect();
        let xml = String::from_utf8_lossy(&part.blob).into_owned();
        let Some(at) = xml.rfind(EMPTY_NOTES_BODY) else {
            return Err(template_error("made a notes slide without a notes body"));
        };
        let mut out = String::with_capacity(xml.len() + body.len());
        out.push_str(&xml[..at]);
        out.push_str(&body);
        out.push_str("</p:txBody>");
        out.push_str(&xml[at + EMPTY_NOTES_BODY.len()..]);
        part.blob = out.into_bytes();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Same document, same bytes
// ---------------------------------------------------------------------------

/// The zip archive `zip` with its entries in name order (the content types
/// first), every date 1980-01-01 and no extra fields: the writer stores
/// the time of writing and its parts in hash order. `None` when the
/// archive is not one this reads (Zip64, data descriptors), which is then
/// kept as it is.
fn normalize_zip(zip: &[u8]) -> Option<Vec<u8>> {
    const LOCAL: u32 = 0x0403_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    const END: u32 = 0x0605_4b50;
    const DOS_DATE_1980_01_01: [u8; 2] = [0x21, 0x00];
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_le_bytes(zip.get(i..i + 2)?.try_into().ok()?)) };
    let u32_at =
        |i: usize| -> Option<u32> { Some(u32::from_le_bytes(zip.get(i..i + 4)?.try_into().ok()?)) };

    let last = zip.len().checked_sub(22)?;
    let end = (last.saturating_sub(0xFFFF)..=last)
        .rev()
        .find(|&i| u32_at(i) == Some(END))?;
    let count = usize::from(u16_at(end + 10)?);
    let directory = u32_at(end + 16)?;
    if count == 0xFFFF || directory == u32::MAX {
        return None;
    }

    struct Entry<'z> {
        header: &'z [u8],
        name: &'z [u8],
        local: usize,
        size: usize,
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = directory as usize;
    for _ in 0..count {
        if u32_at(at)? != CENTRAL {
            return None;
        }
        let flags = u16_at(at + 8)?;
        let size = u32_at(at + 20)?;
        let full = u32_at(at + 24)?;
        let local = u32_at(at + 42)?;
        if flags & 0x0008 != 0 || size == u32::MAX || full == u32::MAX || local == u32::MAX {
            return None;
        }
        let name_len = usize::from(u16_at(at + 28)?);
        let extra_len = usize::from(u16_at(at + 30)?);
        let comment_len = usize::from(u16_at(at + 32)?);
        entries.push(Entry {
            header: zip.get(at..at + 46)?,
            name: zip.get(at + 46..at + 46 + name_len)?,
            local: local as usize,
            size: size as usize,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    entries.sort_by(|a, b| {
        (a.name != b"[Content_Types].xml", a.name).cmp(&(b.name != b"[Content_Types].xml", b.name))
    });

    let mut out = Vec::with_capacity(zip.len());
    let mut central = Vec::new();
    for entry in &entries {
        let l = entry.local;
        if u32_at(l)? != LOCAL {
            return None;
        }
        let data_at = l + 30 + usize::from(u16_at(l + 26)?) + usize::from(u16_at(l + 28)?);
        let data = zip.get(data_at..data_at + entry.size)?;
        let offset = u32::try_from(out.len()).ok()?;
        let name_len = u16::try_from(entry.name.len()).ok()?;

        let mut local = zip.get(l..l + 30)?.to_vec();
        local[10..12].copy_from_slice(&[0, 0]);
        local[12..14].copy_from_slice(&DOS_DATE_1980_01_01);
        local[26..28].copy_from_slice(&name_len.to_le_bytes());
        local[28..30].copy_from_slice(&[0, 0]);
        out.extend_from_slice(&local);
        out.extend_from_slice(entry.name);
        out.extend_from_slice(data);

        let mut header = entry.header.to_vec();
        header[12..14].copy_from_slice(&[0, 0]);
        header[14..16].copy_from_slice(&DOS_DATE_1980_01_01);
        header[30..34].copy_from_slice(&[0, 0, 0, 0]);
        header[42..46].copy_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&header);
        central.extend_from_slice(entry.name);
    }
    let directory_at = u32::try_from(out.len()).ok()?;
    let directory_len = u32::try_from(central.len()).ok()?;
    let count = u16::try_from(entries.len()).ok()?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&END.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&directory_len.to_le_bytes());
    out.extend_from_slice(&directory_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::doc::Series;

    fn table(rows: usize) -> Table {
        Table {
            columns: vec!["Account".into(), "ARR".into(), "Health".into()],
            rows: (0..rows)
                .map(|i| {
                    vec![
                        format!("Account {i}"),
                        format!("{},000", 10 + i),
                        format!("{}", 50 + i),
                    ]
                })
                .collect(),
            numeric: vec![false, true, true],
        }
    }

    fn chart(kind: ChartKind) -> Chart {
        Chart {
            kind,
            title: "Revenue".into(),
            categories: vec!["Q1".into(), "Q2".into(), "Q3".into()],
            series: vec![
                Series {
                    name: "Actual".into(),
                    values: vec![Some(1.0), None, Some(3.0)],
                },
                Series {
                    name: "Target".into(),
                    values: vec![Some(2.0), Some(2.5), Some(f64::NAN)],
                },
            ],
            unit: "USD".into(),
        }
    }

    fn sample() -> Document {
        let hostile = format!("<b>&\"'{}😀\u{0}\u{7}", "Ä".repeat(200));
        Document {
            title: "QBR".into(),
            subtitle: hostile.clone(),
            footer: "footer".into(),
            sections: vec![
                Section {
                    title: hostile.clone(),
                    blocks: vec![
                        Block::Text(hostile.clone()),
                        Block::Bullets(vec![hostile.clone(), "b".into()]),
                        Block::Figures(vec![Figure {
                            label: hostile.clone(),
                            value: hostile.clone(),
                            detail: hostile.clone(),
                        }]),
                    ],
                    notes: format!("line one\n{hostile}"),
                },
                Section {
                    title: "Table".into(),
                    blocks: vec![Block::Table(table(25))],
                    notes: String::new(),
                },
                Section {
                    title: "Charts".into(),
                    blocks: vec![
                        Block::Chart(chart(ChartKind::Bar)),
                        Block::Chart(chart(ChartKind::Line)),
                        Block::Chart(chart(ChartKind::Pie)),
                        Block::Empty("No data".into()),
                    ],
                    notes: "n".into(),
                },
            ],
        }
    }

    #[test]
    fn the_deck_opens_again_with_its_slides_notes_and_charts() {
        let doc = sample();
        let bytes = write_deck(&doc).unwrap();
        let prs = Presentation::from_bytes(&bytes).unwrap();
        let expected = plan(&doc).len() + 1;
        assert_eq!(prs.slide_count().unwrap(), expected);
        let slides = prs.slides().unwrap();
        let notes = prs.notes_slide_text(&slides[1]).unwrap().unwrap();
        assert!(notes.starts_with("line one"), "{notes}");
        assert_eq!(prs.slide_size().unwrap(), Some((SLIDE_W_EMU, SLIDE_H_EMU)));
        // The writer's own check (which takes the embedded workbooks, zip
        // files with "xml" in their media type, for XML).
        let issues: Vec<_> = ::pptx::PptxValidator::validate_bytes(&bytes)
            .into_iter()
            .filter(|i| !i.location.as_deref().is_some_and(|l| l.ends_with(".xlsx")))
            .collect();
        assert!(issues.is_empty(), "{issues:?}");
        // Shape ids are unique on every slide (1 is the shape tree's).
        for slide in &slides {
            let xml = std::str::from_utf8(prs.slide_xml(slide).unwrap()).unwrap();
            let mut ids: Vec<&str> = xml
                .split("<p:cNvPr id=\"")
                .skip(1)
                .map(|s| &s[..s.find('"').unwrap()])
                .collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(
                ids.len(),
                n,
                "repeated shape ids on {}",
                slide.partname.as_str()
            );
        }
        // Every part is well-formed XML.
        for part in prs.package().parts() {
            if part.partname.as_str().ends_with(".xml") {
                let text = std::str::from_utf8(&part.blob).unwrap();
                assert_well_formed(text, part.partname.as_str());
            }
        }
    }

    /// A small check that tags nest and nothing raw is left: enough to
    /// catch a splice in the wrong place or an unescaped `<` or `&`.
    fn assert_well_formed(xml: &str, name: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = xml;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity)
                        || entity.starts_with("&#"),
                    "{name}: raw & in {text:?}"
                );
            }
            let close = rest[open..].find('>').unwrap() + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            assert!(!tag.contains('<'), "{name}: `<` inside a tag: {tag}");
            if let Some(end) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(end), "{name}: mismatched </{end}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap());
            }
        }
        assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let doc = sample();
        assert_eq!(write_deck(&doc).unwrap(), write_deck(&doc).unwrap());
    }

    #[test]
    fn a_long_table_continues_with_at_most_ten_rows_a_slide() {
        let doc = Document {
            sections: vec![Section {
                title: "Accounts".into(),
                blocks: vec![Block::Table(table(25))],
                notes: String::new(),
            }],
            ..Document::default()
        };
        let pages = plan(&doc);
        let rows: Vec<usize> = pages
            .iter()
            .flat_map(|p| &p.items)
            .map(|i| match &i.kind {
                Kind::Table { rows, .. } => rows.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(rows, vec![10, 10, 5]);
        assert!(!pages[0].continued && pages[1].continued && pages[2].continued);
    }

    #[test]
    fn nothing_is_placed_off_the_body_or_over_another_box() {
        let doc = sample();
        for page in plan(&doc) {
            let mut bottom = BODY_TOP;
            for item in &page.items {
                assert!(item.y >= bottom - 1e-9, "{:?} overlaps", item.kind);
                assert!(
                    item.y + item.h <= BODY_BOTTOM + 1e-9,
                    "{:?} leaves the slide",
                    item.kind
                );
                bottom = item.y + item.h;
            }
        }
    }

    #[test]
    fn a_chart_and_a_table_share_a_slide_only_when_the_table_has_room() {
        let doc = Document {
            sections: vec![Section {
                title: "Both".into(),
                blocks: vec![Block::Chart(chart(ChartKind::Bar)), Block::Table(table(4))],
                notes: String::new(),
            }],
            ..Document::default()
        };
        assert_eq!(plan(&doc).len(), 1);
        let doc = Document {
            sections: vec![Section {
                title: "Both".into(),
                blocks: vec![Block::Chart(chart(ChartKind::Bar)), Block::Table(table(12))],
                notes: String::new(),
            }],
            ..Document::default()
        };
        let pages = plan(&doc);
        assert_eq!(pages.len(), 3);
        // The chart alone on its slide grows into the room.
        assert!((pages[0].items[0].h - BODY_H).abs() < 1e-9);
    }

    #[test]
    fn text_is_cleaned_and_columns_share_the_width() {
        assert_eq!(clean(" a\n\tb\u{0}c  "), "a b c");
        let widths = column_widths(&table(3), 3, TABLE_PT);
        let total: f64 = widths.iter().sum();
        assert!((total - MIN_TABLE_W).abs() < 1e-6, "{total}");
        let wide = Table {
            columns: vec!["x".repeat(300), "y".into()],
            rows: vec![vec!["z".repeat(300), "1".into()]],
            numeric: vec![false, true],
        };
        let widths = column_widths(&wide, 2, TABLE_PT);
        assert!((widths.iter().sum::<f64>() - BODY_W).abs() < 1e-6);
        assert!(widths[1] < 1.0);
        assert_eq!(column_letter(0), "B");
        assert_eq!(column_letter(24), "Z");
        assert_eq!(column_letter(25), "AA");
    }

    #[test]
    fn the_archive_is_in_name_order_with_fixed_dates() {
        let bytes = write_deck(&Document::default()).unwrap();
        assert_eq!(
            &bytes[30..30 + "[Content_Types].xml".len()],
            b"[Content_Types].xml"
        );
        assert_eq!(&bytes[10..14], &[0, 0, 0x21, 0]);
        assert!(normalize_zip(b"not a zip").is_none());
    }
}
