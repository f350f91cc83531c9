#![allow(clippy::unwrap_used)]
//! The PDF writer end to end: a document with every kind of block (charts
//! with gaps, a table that crosses a page, an empty state, text that typst
//! would read as code or markup) written as a PDF and read back with
//! poppler's `pdfinfo` and `pdftotext`, its pages rendered with `pdftoppm`
//! into `target/report-pages/pdf-test/` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use csip_reports::doc::{Block, Chart, ChartKind, Document, Figure, Section, Series, Table};
use csip_reports::pdf::write_pdf;

/// Text that typst would read as code, maths, markup or an escape.
const HOSTILE: [&str; 14] = [
    "#let x = 1",
    "$x^2$",
    "*bold*",
    "_under_",
    "`code`",
    "a ] closes",
    "[opens",
    r"C:\back\slash",
    "@ref",
    "<label>",
    "= not a heading",
    "- not a list",
    "+ not a list",
    "// not a comment",
];

fn long_name() -> String {
    let name = "Nordic Maritime Insurance and Reinsurance Holdings International \
                Group of Companies for Claims Processing, Underwriting, Brokerage \
                and Related Services in the Baltic and North Sea Regions Ltd (Norway)";
    assert_eq!(name.chars().count(), 200, "the long name is 200 characters");
    name.to_string()
}

fn series(name: &str, values: &[Option<f64>]) -> Series {
    Series {
        name: name.into(),
        values: values.to_vec(),
    }
}

fn document() -> Document {
    let table = Table {
        columns: vec![
            "Ticket".into(),
            "Platform".into(),
            "Opened".into(),
            "Age (days)".into(),
            "Cost (USD)".into(),
        ],
        rows: (1..=25)
            .map(|i| {
                vec![
                    format!("T-{:04}", 1000 + i),
                    ["Claims Hub", "Policy Admin", "Broker Portal"][i % 3].to_string(),
                    format!("2025-08-{:02}", i),
                    format!("{}", i * 3),
                    format!("{},{:03}.00", i, i * 7),
                ]
            })
            .collect(),
        numeric: vec![false, false, false, true, true],
    };
    Document {
        title: "Gard AS — Quarterly Business Review".into(),
        subtitle: "Q3 2025 (July to September)".into(),
        footer: "Made from the CSIP workbook on 2025-10-01".into(),
        sections: vec![
            Section {
                title: "Summary".into(),
                blocks: vec![
                    Block::Text("The account grew its usage across all three platforms this quarter.".into()),
                    Block::Figures(vec![
                        Figure { label: "Health score".into(), value: "72.4".into(), detail: "▲ 3.1 in 30 days".into() },
                        Figure { label: "Annual value".into(), value: "$1.2M".into(), detail: String::new() },
                        Figure { label: "Open tickets".into(), value: "25".into(), detail: "4 high".into() },
                        Figure { label: "Renewal".into(), value: "2026-03-31".into(), detail: "in 182 days".into() },
                    ]),
                    Block::Bullets(vec!["Claims Hub adoption is up 18 %.".into(), "Two escalations were closed.".into()]),
                ],
                notes: "Health score = 0.4 × usage + 0.3 × tickets + 0.3 × sentiment\n  usage     = 81.0\n  tickets   = 64.5".into(),
            },
            Section {
                title: "Usage by platform".into(),
                blocks: vec![Block::Chart(Chart {
                    kind: ChartKind::Bar,
                    title: "Monthly API calls".into(),
                    categories: vec!["Claims Hub".into(), "Policy Admin".into(), "Broker Portal".into(), "Reinsurance Ledger".into()],
                    series: vec![
                        series("Target", &[Some(120_000.0), None, Some(80_000.0), Some(10_000.0)]),
                        series("Actual", &[Some(131_500.0), Some(95_250.0), None, Some(-4_000.0)]),
                    ],
                    unit: "calls".into(),
                })],
                notes: String::new(),
            },
            Section {
                title: "Health over time".into(),
                blocks: vec![Block::Chart(Chart {
                    kind: ChartKind::Line,
                    title: "Health score by week".into(),
                    categories: (1..=13).map(|w| format!("W{w}")).collect(),
                    series: vec![series(
                        "Health",
                        &[
                            Some(64.0),
                            Some(66.5),
                            Some(65.0),
                            None,
                            Some(68.0),
                            Some(69.5),
                            Some(70.0),
                            Some(69.0),
                            Some(71.0),
                            Some(70.5),
                            Some(72.0),
                            Some(72.5),
                            Some(72.4),
                        ],
                    )],
                    unit: "points".into(),
                })],
                notes: String::new(),
            },
            Section {
                title: "Spend by category".into(),
                blocks: vec![Block::Chart(Chart {
                    kind: ChartKind::Pie,
                    title: "Spend in the quarter".into(),
                    categories: vec!["Licences".into(), "Support".into(), "Services".into(), "Refunds".into(), "Training".into()],
                    series: vec![series("Spend", &[Some(50.0), Some(30.0), Some(20.0), Some(-5.0), Some(0.0)])],
                    unit: "USD".into(),
                })],
                notes: String::new(),
            },
            Section {
                title: "Open tickets".into(),
                blocks: vec![Block::Table(table)],
                notes: String::new(),
            },
            Section {
                title: "Every platform".into(),
                blocks: vec![
                    Block::Chart(Chart {
                        kind: ChartKind::Bar,
                        title: "Calls per platform, thirty platforms with long names".into(),
                        categories: (1..=30).map(|i| format!("Platform number {i} of the estate")).collect(),
                        series: vec![series(
                            "Calls",
                            &(1..=30).map(|i| Some(f64::from(i * i) * 1_000.5)).collect::<Vec<_>>(),
                        )],
                        unit: String::new(),
                    }),
                    Block::Table(Table {
                        columns: (1..=9).map(|i| format!("Column {i}")).collect(),
                        rows: vec![
                            (1..=9).map(|i| format!("{}", i * 1_000_000)).collect(),
                            (1..=9)
                                .map(|i| if i == 2 { long_name() } else { format!("cell {i}") })
                                .collect(),
                        ],
                        numeric: vec![true; 9],
                    }),
                ],
                notes: String::new(),
            },
            Section {
                title: "Renewals".into(),
                blocks: vec![Block::Empty("No renewal falls in this period.".into())],
                notes: String::new(),
            },
            Section {
                title: "Markup #that = *must* print $as$ is]".into(),
                blocks: vec![
                    Block::Text(HOSTILE.join("\n")),
                    Block::Bullets(HOSTILE.iter().map(|s| s.to_string()).collect()),
                    Block::Text("Emoji 🚀 and wide 日本語 text.".into()),
                ],
                notes: HOSTILE.join("\n"),
            },
            Section {
                title: long_name(),
                blocks: vec![Block::Figures(vec![Figure {
                    label: long_name(),
                    value: "42".into(),
                    detail: String::new(),
                }])],
                notes: String::new(),
            },
        ],
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not be run (poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pages_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-pages/pdf-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whitespace collapsed to single spaces, so that wrapped lines compare.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_block_kind_prints_and_hostile_text_prints_literally() {
    let doc = document();
    let pdf = write_pdf(&doc).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("report.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let file = path.to_str().unwrap();

    // Pages, as laid out today: 1 the title block, the summary and the bar
    // chart; 2 the line and pie charts and the table's first rows; 3 the
    // rest of the table, the thirty-platform chart, the wide table, the
    // empty state; 4 the hostile text, its notes and the long name. One
    // more is allowed for changes of style; fewer would mean lost content.
    let info = run("pdfinfo", &[file]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap();
    assert!((4..=5).contains(&pages), "{pages} pages:\n{info}");
    assert!(
        info.contains("Gard AS — Quarterly Business Review"),
        "the title is the metadata title:\n{info}"
    );

    let text = run("pdftotext", &["-layout", file, "-"]);
    let flat = words(&text);
    for section in &doc.sections {
        assert!(
            flat.contains(&words(&section.title)),
            "section title {:?} missing:\n{text}",
            section.title
        );
    }
    for hostile in HOSTILE {
        assert!(
            text.contains(hostile),
            "{hostile:?} does not print literally:\n{text}"
        );
    }
    // Chart text is SVG text that typst sets in an embedded font.
    for chart_text in [
        "Monthly API calls",
        "Claims Hub",
        "Reinsurance Ledger",
        "Target",
        "Actual",
        "calls",
        "Health score by week",
        "W13",
        "Spend in the quarter",
        "Licences (50.0 %)",
        "Services (20.0 %)",
    ] {
        assert!(
            text.contains(chart_text),
            "chart text {chart_text:?} missing:\n{text}"
        );
    }
    assert!(!text.contains("Refunds"), "a negative slice is left out");
    // The table: every row, its header on the first page and the page after.
    for i in 1..=25 {
        assert!(
            text.contains(&format!("T-{:04}", 1000 + i)),
            "row {i} missing"
        );
    }
    assert!(text.contains("No renewal falls in this period."));
    assert!(
        text.contains("Page 1 of") && text.contains(&format!("Page {pages} of {pages}")),
        "{text}"
    );
    assert!(
        flat.contains("Health score = 0.4 × usage"),
        "notes print:\n{text}"
    );

    // The pages as pictures for people to look at, and the PDF beside them.
    let dir = pages_dir();
    std::fs::write(dir.join("report.pdf"), &pdf).unwrap();
    let prefix = dir.join("page");
    run(
        "pdftoppm",
        &["-png", "-r", "50", file, prefix.to_str().unwrap()],
    );
    let pngs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs, pages);
}

#[test]
fn ten_sections_are_quick_and_the_same_every_time() {
    let base = document();
    let mut doc = Document {
        sections: Vec::new(),
        ..base.clone()
    };
    while doc.sections.len() < 10 {
        let next = base.sections[doc.sections.len() % 7].clone();
        doc.sections.push(next);
    }
    // The first call also parses the embedded fonts (once per process).
    let start = Instant::now();
    let first = write_pdf(&doc).unwrap();
    let cold = start.elapsed();
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let again = write_pdf(&doc).unwrap();
        times.push(start.elapsed());
        assert!(again == first, "the same document gives the same bytes");
    }
    eprintln!(
        "10-section report: {} bytes, first written in {cold:?}, then in {times:?}",
        first.len()
    );
}
