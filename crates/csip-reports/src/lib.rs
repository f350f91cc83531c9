//! The CSIP report buttons (DESIGN §5 "Reports"; `docs/reports.md`): the QBR
//! deck ([`qbr`]: a `.pptx` with native charts, and a `.pdf`) and the
//! Platform ROI report ([`roi`]: a `.pdf` with bar, line and pie charts, its
//! figures as JSON, its sums written back to the account).
//!
//! A report is read from the workbook's views and formula columns (the
//! report views of `fixtures/csip/tables`, which take the account and the
//! dates as parameters), laid out as a [`doc::Document`], and written by
//! [`pptx`] or [`pdf`]: the renderers never read the workbook, and the
//! figures are never computed here where the workbook has a formula for
//! them. Nothing is downloaded at run time: the PDF's fonts are typst's
//! embedded ones.
//!
//! ```
//! use csip_reports::{Format, qbr::QbrRequest};
//! let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
//! let at = csip_workbook::sample_today().and_hms_opt(9, 0, 0).unwrap();
//! let request = QbrRequest::new("Gard AS", "2026-09-01".parse()?, "2026-11-24".parse()?);
//! let qbr = csip_reports::qbr::generate(&wb, &request, Format::Pdf, at)?;
//! assert_eq!(qbr.files[0].name, "QBR Gard AS 2026-09-01 to 2026-11-24.pdf");
//! assert!(qbr.files[0].bytes.starts_with(b"%PDF"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod doc;
pub mod keep;
pub mod mail;
pub mod pdf;
pub mod pptx;
pub mod qbr;
pub mod roi;

mod chart;
mod read;

/// The media type of a .pptx.
pub const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
/// The media type of a .pdf.
pub const PDF: &str = "application/pdf";

/// Which files a report is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PowerPoint deck.
    Pptx,
    /// A PDF.
    Pdf,
    /// Both.
    Both,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pptx" | "powerpoint" => Ok(Format::Pptx),
            "pdf" => Ok(Format::Pdf),
            "both" | "pptx+pdf" => Ok(Format::Both),
            _ => Err(format!("`{s}` is not a format; use pptx, pdf or both")),
        }
    }
}

/// A generated file.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Its name (`QBR Gard AS 2026-09-01 to 2026-11-24.pptx`): no path
    /// separator or control character.
    pub name: String,
    /// Its media type ([`PPTX`], [`PDF`]).
    pub media_type: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ReportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFile")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// A file name from a report's title: path separators, control and
/// reserved characters dropped, at most 120 characters before the extension.
pub(crate) fn file_name(stem: &str, extension: &str) -> String {
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = words.chars().take(120).collect();
    format!("{}.{extension}", short.trim_end())
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// No account has that name or ID.
    #[error("no account is named `{account}`{}; give its Account_Name or Account_ID", nearest.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default())]
    UnknownAccount {
        /// What was asked for.
        account: String,
        /// The nearest account name.
        nearest: Option<String>,
    },
    /// A date range that ends before it starts, or spans more than ten years.
    #[error("the date range {from} to {to} is not one a QBR covers: {reason}")]
    BadRange {
        /// Its first day.
        from: csip_engine::NaiveDate,
        /// Its last day.
        to: csip_engine::NaiveDate,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A report view could not be read (a workbook older than the report).
    #[error("the workbook's view `{view}` cannot be read: {message}")]
    View {
        /// The view or table.
        view: String,
        /// Why.
        message: String,
    },
    /// The workbook lacks what the report reads or writes.
    #[error(
        "the workbook cannot give `{what}`: {message}; a file made before the reports needs `csip upgrade`"
    )]
    Workbook {
        /// The column or table.
        what: String,
        /// Why.
        message: String,
    },
    /// The deck could not be written.
    #[error(transparent)]
    Deck(#[from] pptx::DeckError),
    /// The PDF could not be written.
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    /// The report could not be kept.
    #[error(transparent)]
    Store(csip_store::StoreError),
    /// The e-mail asked for cannot be sent (an address that is not one).
    #[error("the report cannot be e-mailed: {0}")]
    Email(String),
}

impl ReportError {
    pub(crate) fn workbook(what: &str, e: impl std::fmt::Display) -> ReportError {
        ReportError::Workbook {
            what: what.to_string(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_carry_no_path_or_control_characters() {
        assert_eq!(
            super::file_name("QBR a/b\\c: d\n", "pdf"),
            "QBR a b c d.pdf"
        );
        assert_eq!(super::file_name(&"x".repeat(300), "pptx").len(), 125);
        assert_eq!(
            super::file_name("../../etc/passwd", "pdf"),
            ".. .. etc passwd.pdf"
        );
    }
}
