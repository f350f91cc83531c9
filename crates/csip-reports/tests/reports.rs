//! The reports of the three pilot accounts, opened as their readers would:
//! each QBR deck converted by LibreOffice (which must read it: its PDF is
//! checked page by page with `pdftotext`), each PDF read with `pdftotext`,
//! every page rendered with `pdftoppm` under `target/report-pages/` for
//! people to look at; the ROI's figures against sums worked by hand; an
//! account with no data, and a name of 200 characters.

#![allow(clippy::unwrap_used)] // a test: a failure is a failure

use csip_engine::{NaiveDate, NaiveDateTime, Transaction, Value, Workbook};
use csip_reports::Format;
use csip_reports::qbr::QbrRequest;
use csip_reports::roi::{Period, RoiRequest};
use std::path::{Path, PathBuf};
use std::process::Command;

fn today() -> NaiveDate {
    csip_workbook::sample_today()
}

fn at() -> NaiveDateTime {
    today().and_hms_opt(9, 0, 0).unwrap()
}

fn pilot() -> Workbook {
    csip_workbook::pilot(today()).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Where page images go for people to look at.
fn pages_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/report-pages")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PDF's page count and text (`pdfinfo`, `pdftotext -layout`), its pages
/// rendered into `pages`.
fn read_pdf(pdf: &Path, pages: &Path) -> (usize, String) {
    let info = run(Command::new("pdfinfo").arg(pdf));
    let count = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let text = run(Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-"));
    run(Command::new("pdftoppm")
        .args(["-png", "-r", "50"])
        .arg(pdf)
        .arg(pages.join("page")));
    (count, text)
}

/// The deck converted to PDF by LibreOffice (headless, a profile of its own):
/// LibreOffice exits 0 even when it cannot read a file, so the PDF it wrote
/// is the proof that it could.
fn libreoffice(pptx: &Path) -> PathBuf {
    let dir = pptx.parent().unwrap();
    let profile = dir.join("lo-profile");
    run(Command::new("soffice")
        .args(["--headless", "--norestore"])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--convert-to", "pdf", "--outdir"])
        .arg(dir)
        .arg(pptx));
    let pdf = pptx.with_extension("pdf");
    assert!(
        pdf.exists(),
        "LibreOffice could not read {}",
        pptx.display()
    );
    pdf
}

/// Text as `pdftotext` gives it, with runs of spaces and line breaks as one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const QBR_SECTIONS: [&str; 10] = [
    "Executive summary",
    "Health score and its components",
    "Strategic objectives",
    "Value delivered: stakeholder outcomes",
    "Value delivered: initiatives and value streams",
    "APIs and platform health",
    "Critical APIs",
    "Risks and mitigations",
    "Engagements",
    "Next quarter",
];

#[test]
fn the_qbr_of_each_pilot_account_opens_in_libreoffice_with_every_section() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    for (account, slug) in [
        ("Gard AS", "gard"),
        ("Helix Health Partners", "helix"),
        ("Sakura Retail Group", "sakura"),
    ] {
        let mut request = QbrRequest::new(account, day("2026-09-01"), day("2026-11-24"));
        request.appendix = true;
        let qbr = csip_reports::qbr::generate(&wb, &request, Format::Both, at()).unwrap();
        assert_eq!(qbr.files.len(), 2);
        let pptx = dir.path().join(format!("{slug}.pptx"));
        std::fs::write(&pptx, &qbr.files[0].bytes).unwrap();
        let pdf = dir.path().join(format!("{slug}-typst.pdf"));
        std::fs::write(&pdf, &qbr.files[1].bytes).unwrap();

        // The deck, as LibreOffice reads it: a slide per section at least
        // (long tables go on to a slide of their own), every title there.
        let converted = libreoffice(&pptx);
        let (slides, text) = read_pdf(&converted, &pages_dir(&format!("qbr-{slug}-pptx")));
        let text = flat(&text);
        assert!(slides > QBR_SECTIONS.len(), "{account}: {slides} slides");
        assert!(text.contains("Quarterly Business Review"), "{account}");
        assert!(text.contains(account), "{account}");
        for section in QBR_SECTIONS
            .iter()
            .chain(&["Appendix: platform health metrics"])
        {
            assert!(
                text.contains(section),
                "{account}: no slide `{section}` in\n{text}"
            );
        }
        // The PDF says the same.
        let (pages, text) = read_pdf(&pdf, &pages_dir(&format!("qbr-{slug}-pdf")));
        let text = flat(&text);
        assert!(pages >= 2, "{account}");
        for section in QBR_SECTIONS {
            assert!(
                text.contains(section),
                "{account}: no section `{section}` in the PDF"
            );
        }
    }
}

#[test]
fn the_gard_qbr_shows_its_figures_and_names_what_has_no_data() {
    let wb = pilot();
    let request = QbrRequest::new("Gard AS", day("2026-09-01"), day("2026-11-24"));
    let (doc, _) = csip_reports::qbr::document(&wb, &request, at()).unwrap();
    let text = format!("{doc:?}");
    // The health score as its column shows it, and the history in the range.
    assert!(text.contains("value: \"63.0\""), "{text}");
    assert!(
        text.contains("value: \"$3,662,000\""),
        "the value streams' tile: {text}"
    );
    assert!(text.contains("Health score, 2026-09-01 to 2026-11-24"));
    // A range with no history and no engagements says so, and draws nothing.
    let empty = QbrRequest::new("Gard AS", day("2025-01-01"), day("2025-03-31"));
    let (doc, _) = csip_reports::qbr::document(&wb, &empty, at()).unwrap();
    let text = format!("{doc:?}");
    assert!(text.contains("No health score snapshots between 2025-01-01 and 2025-03-31"));
    assert!(text.contains("No engagements between 2025-01-01 and 2025-03-31"));
    // A range backwards is refused with what is wrong.
    let backwards = QbrRequest::new("Gard AS", day("2026-11-24"), day("2026-09-01"));
    let e = csip_reports::qbr::document(&wb, &backwards, at()).unwrap_err();
    assert!(e.to_string().contains("ends before it starts"), "{e}");
    // An unknown account says which it might be.
    let e = csip_reports::qbr::document(
        &wb,
        &QbrRequest::new("Gard AB", day("2026-09-01"), day("2026-11-24")),
        at(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("did you mean `Gard AS`"), "{e}");
}

/// The ROI of an account, checked against figures worked by hand: investment
/// I and annual benefit B summed over the initiatives counted; simple ROI
/// (B − I) / I × 100, payback I / (B / 12), 3-year ROI (3B − I) / I × 100,
/// NPV B/1.1 + B/1.1² + B/1.1³ − I, as the account's formula columns round them.
fn roi_of(wb: &Workbook, account: &str, period: Period, in_progress: bool) -> Vec<String> {
    let request = RoiRequest {
        account: account.into(),
        period,
        include_in_progress: in_progress,
    };
    let (roi, _) = csip_reports::roi::calculate(wb, &request, at()).unwrap();
    roi.figures
        .iter()
        .map(|f| {
            f.value
                .map_or_else(|| "none".into(), |v| v.normalize().to_string())
        })
        .collect()
}

#[test]
fn the_roi_of_each_pilot_account_is_the_arithmetic_worked_by_hand() {
    let wb = pilot();
    // Gard, all time, in progress counted: War Risk Quoting (420,000 / 1,142,000)
    // and the broker portal (650,000 / 900,000): I = 1,070,000, B = 2,042,000.
    // ROI = 972,000 / 1,070,000 = 90.84 %; payback = 1,070,000 / 170,166.67 = 6.29
    // months; 3-year = 5,056,000 / 1,070,000 = 472.52 %; NPV = 2,042,000 ×
    // 2.486852 − 1,070,000 = 4,008,151.77.
    assert_eq!(
        roi_of(&wb, "Gard AS", Period::AllTime, true),
        ["1070000", "2042000", "90.8", "6.3", "472.5", "4008151.77"]
    );
    // Helix, this year, completed only: prior authorization (300,000 / 1,250,000).
    // ROI = 950,000 / 300,000 = 316.67 %; payback = 300,000 / 104,166.67 = 2.88;
    // 3-year = 3,450,000 / 300,000 = 1,150 %; NPV = 1,250,000 × 2.486852 − 300,000
    // = 2,808,564.99.
    assert_eq!(
        roi_of(&wb, "Helix Health Partners", Period::ThisYear, false),
        ["300000", "1250000", "316.7", "2.9", "1150", "2808564.99"]
    );
    // Helix, this quarter, in progress counted: only the referral exchange
    // (900,000 / 2,780,000): ROI 208.89 %, payback 3.88, 3-year 826.67 %,
    // NPV 2,780,000 × 2.486852 − 900,000 = 6,013,448.53.
    assert_eq!(
        roi_of(&wb, "Helix Health Partners", Period::ThisQuarter, true),
        ["900000", "2780000", "208.9", "3.9", "826.7", "6013448.53"]
    );
    // Sakura: its one initiative is on hold, so none counts: no ROI to speak of.
    assert_eq!(
        roi_of(&wb, "Sakura Retail Group", Period::AllTime, true),
        ["0", "0", "none", "none", "none", "none"]
    );
}

#[test]
fn the_roi_pdf_has_its_figures_their_formulas_and_three_charts() {
    let wb = pilot();
    let dir = tempfile::tempdir().unwrap();
    for (account, slug, period, in_progress, figures) in [
        (
            "Gard AS",
            "gard",
            Period::AllTime,
            true,
            ["$1,070,000", "90.8 %", "6.3 months", "$4,008,151.77"],
        ),
        (
            "Helix Health Partners",
            "helix",
            Period::ThisYear,
            false,
            ["$300,000", "316.7 %", "2.9 months", "$2,808,564.99"],
        ),
    ] {
        let request = RoiRequest {
            account: account.into(),
            period,
            include_in_progress: in_progress,
        };
        let (roi, _, file) = csip_reports::roi::generate(&wb, &request, at()).unwrap();
        let json = roi.to_json();
        assert_eq!(json["account"], account);
        let pdf = dir.path().join(format!("{slug}.pdf"));
        std::fs::write(&pdf, &file.bytes).unwrap();
        let (_, text) = read_pdf(&pdf, &pages_dir(&format!("roi-{slug}")));
        let text = flat(&text);
        for f in figures {
            assert!(text.contains(f), "{account}: no `{f}` in\n{text}");
        }
        // Each figure's formula is in the notes.
        assert!(text.contains("Platform_NPV_USD"), "{text}");
        assert!(text.contains("Power(1.1, 3)"), "{text}");
        for chart in [
            "Investment and annual benefit by initiative",
            "Cumulative net value",
            "Investment by initiative type",
        ] {
            assert!(text.contains(chart), "{account}: no chart `{chart}`");
        }
    }
    // Sakura has no initiative that counts: the report says so instead of drawing empty charts.
    let request = RoiRequest {
        account: "Sakura Retail Group".into(),
        period: Period::AllTime,
        include_in_progress: true,
    };
    let (_, _, file) = csip_reports::roi::generate(&wb, &request, at()).unwrap();
    let pdf = dir.path().join("sakura.pdf");
    std::fs::write(&pdf, &file.bytes).unwrap();
    let (_, text) = read_pdf(&pdf, &pages_dir("roi-sakura"));
    assert!(
        flat(&text).contains("No initiative of Sakura Retail Group counts"),
        "{text}"
    );
}

#[test]
fn an_account_with_no_data_and_a_name_of_200_characters_still_reads_well() {
    let mut wb = pilot();
    let accounts = wb.table_id("Account_Master").unwrap();
    let name = wb.column_id(accounts, "Account_Name").unwrap();
    let long = format!(
        "Nordisk Skipsforsikring {}",
        "og Gjensidige Partnere ".repeat(8)
    );
    let long: String = long.chars().take(200).collect();
    assert_eq!(long.chars().count(), 200);
    // A new account with only what the table requires (copied from Gard's row).
    let gard = wb.find_rows(accounts, "Gard AS").unwrap()[0];
    let mut values = vec![(name, Value::from(long.as_str()))];
    for &c in wb.columns(accounts).unwrap() {
        let schema = wb.column_schema(c).unwrap();
        if schema.required && schema.formula.is_none() && c != name {
            values.push((c, wb.value(c, gard).unwrap().clone()));
        }
    }
    wb.apply(Transaction::new().insert(accounts, values))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let request = QbrRequest::new(long.clone(), day("2026-09-01"), day("2026-11-24"));
    let qbr = csip_reports::qbr::generate(&wb, &request, Format::Both, at()).unwrap();
    assert!(qbr.files[0].name.len() < 140, "{}", qbr.files[0].name);
    let pptx = dir.path().join("long.pptx");
    std::fs::write(&pptx, &qbr.files[0].bytes).unwrap();
    let (_, text) = read_pdf(&libreoffice(&pptx), &pages_dir("qbr-long-name-pptx"));
    let text = flat(&text);
    // Shortened with an ellipsis, never spilling out of its box.
    assert!(
        text.contains("Nordisk Skipsforsikring og Gjensidige"),
        "{text}"
    );
    assert!(
        !text.contains(&long),
        "the whole 200-character name was printed"
    );
    // Every section of an account with nothing recorded says so.
    for what in [
        "has no strategic objectives recorded",
        "has no stakeholder outcomes recorded",
        "has no open risks",
        "No engagements between",
    ] {
        assert!(text.contains(what), "no `{what}` in\n{text}");
    }
    let pdf = dir.path().join("long.pdf");
    std::fs::write(&pdf, &qbr.files[1].bytes).unwrap();
    let (_, text) = read_pdf(&pdf, &pages_dir("qbr-long-name-pdf"));
    assert!(flat(&text).contains("has no initiatives recorded"));
    // Its ROI: nothing counted, and a PDF that says so.
    let request = RoiRequest {
        account: long,
        period: Period::AllTime,
        include_in_progress: true,
    };
    let (roi, _, _) = csip_reports::roi::generate(&wb, &request, at()).unwrap();
    assert!(roi.initiatives.is_empty());
}
