//! A report as plain data, before it is a file: a [`Document`] of
//! [`Section`]s (a slide of the deck, a part of the PDF), each of
//! [`Block`]s. The QBR deck and the ROI report build one from the
//! workbook; `pptx.rs` and `pdf.rs` write it, so that both formats say the
//! same thing and a renderer never reads the workbook.

/// A whole report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// The title (the title slide, the PDF's first heading and metadata).
    pub title: String,
    /// Under the title: the account, the period.
    pub subtitle: String,
    /// The line at the foot of the title slide: when and from what it was made.
    pub footer: String,
    /// The sections in order: one slide each in a deck.
    pub sections: Vec<Section>,
}

/// One section: a slide of the deck, a part of the PDF.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Section {
    /// Its heading.
    pub title: String,
    /// What it shows, in order.
    pub blocks: Vec<Block>,
    /// Speaker notes in the deck; in the PDF, a note under the section.
    pub notes: String,
}

/// Something a section shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A paragraph of text.
    Text(String),
    /// Key figures: a label and its value, shown large (the deck's tiles).
    Figures(Vec<Figure>),
    /// A bulleted list.
    Bullets(Vec<String>),
    /// A table: column headings and rows of cells (already formatted).
    Table(Table),
    /// A chart drawn from numbers.
    Chart(Chart),
    /// What a section says when the account has no data for it: shown in
    /// place of the chart or table that would have been empty.
    Empty(String),
}

/// A label and its value, both as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What it is ("Health score").
    pub label: String,
    /// The value as shown ("72.4").
    pub value: String,
    /// A word under the value ("▲ 3.1 in 30 days"), or empty.
    pub detail: String,
}

/// A table of text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The column headings.
    pub columns: Vec<String>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<String>>,
    /// Which columns hold numbers (right-aligned); one entry per column.
    pub numeric: Vec<bool>,
}

/// The kind of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Bars per category, one bar per series (clustered).
    Bar,
    /// A line per series over the categories (in order, such as dates).
    Line,
    /// Slices of one series' values (only the first series is drawn).
    Pie,
}

/// A chart: categories along one axis, a value per category per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Bar, line or pie.
    pub kind: ChartKind,
    /// Its title.
    pub title: String,
    /// The categories (bar labels, dates, slices), already shortened to fit.
    pub categories: Vec<String>,
    /// The series: a name and one value per category (`None` where there
    /// is none, such as a metric without a target).
    pub series: Vec<Series>,
    /// The unit of the values, for the axis ("USD", "%", "points"), or empty.
    pub unit: String,
}

/// One series of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name (the legend).
    pub name: String,
    /// One value per category of the chart.
    pub values: Vec<Option<f64>>,
}

/// `text` cut to at most `width` columns as a terminal or a slide shows
/// them (wide characters count two), with `…` where it was cut; a text
/// that fits is returned as it is. Every label of a report goes through it,
/// so that no text leaves its box.
///
/// ```
/// assert_eq!(csip_reports::doc::shorten("Claims Processing Platform", 12), "Claims Proc…");
/// assert_eq!(csip_reports::doc::shorten("Gard AS", 12), "Gard AS");
/// ```
pub fn shorten(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let text = text.trim();
    if unicode_width::UnicodeWidthStr::width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    let mut out = out.trim_end().to_string();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_counts_wide_characters_and_never_exceeds_the_width() {
        assert_eq!(shorten("", 5), "");
        assert_eq!(shorten("abcdef", 5), "abcd…");
        assert_eq!(shorten("日本語のテキスト", 7), "日本語…");
        let long = "x".repeat(200);
        assert_eq!(
            unicode_width::UnicodeWidthStr::width(shorten(&long, 40).as_str()),
            40
        );
        assert_eq!(shorten("  padded  ", 10), "padded");
    }
}
