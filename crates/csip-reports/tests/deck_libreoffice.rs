#![allow(clippy::unwrap_used)]
//! The deck as another program reads it: a document with every kind of
//! block (and hostile text) is written with `write_deck`, converted to PDF
//! by LibreOffice, and read back with poppler: one page per slide, every
//! slide title and some cells and figures present, no word off its page.
//! The pages are also drawn as PNGs under
//! `target/report-pages/deck-test/` for people to look at.
//!
//! Needs `soffice` (libreoffice-impress) and poppler-utils; without
//! `soffice` on the PATH the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use csip_reports::doc::{Block, Chart, ChartKind, Document, Figure, Section, Series, Table};

/// A name of exactly 200 characters, with markup and an emoji in it.
fn long_name() -> String {
    let mut name = String::from("Nordic <Shipping> & \"Offshore\" 'Holdings' 🚢 ");
    while name.chars().count() < 200 {
        name.push_str("Maritime Insurance Group ");
    }
    name.chars().take(200).collect()
}

fn document() -> Document {
    let long = long_name();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let accounts = Table {
        columns: vec![
            "Account".into(),
            "Owner".into(),
            "ARR (USD)".into(),
            "Health".into(),
            "Renewal".into(),
        ],
        rows: (1..=25)
            .map(|i| {
                vec![
                    if i == 3 {
                        long.clone()
                    } else {
                        format!("Account {i:02}")
                    },
                    if i % 2 == 0 {
                        "Kari Nordmann".into()
                    } else {
                        "Ola <Dev> & Co".into()
                    },
                    format!("{},{:03},000", i, i * 7),
                    format!("{}.{}", 40 + i, i % 10),
                    format!("2027-{:02}-01", (i % 12) + 1),
                ]
            })
            .collect(),
        numeric: vec![false, false, true, true, false],
    };
    Document {
        title: "Quarterly Business Review".into(),
        subtitle: format!("{long} · 2026-09-01 to 2026-11-24"),
        footer: "Made by CSIP from the workbook on 2026-11-24".into(),
        sections: vec![
            Section {
                title: "Summary".into(),
                blocks: vec![
                    Block::Figures(vec![
                        Figure {
                            label: "Health score".into(),
                            value: "72.4".into(),
                            detail: "▲ 3.1 in 30 days".into(),
                        },
                        Figure {
                            label: "Annual recurring revenue".into(),
                            value: "USD 1,234,567".into(),
                            detail: String::new(),
                        },
                        Figure {
                            label: long.clone(),
                            value: "98.7%".into(),
                            detail: long.clone(),
                        },
                        Figure {
                            label: "Open tickets".into(),
                            value: "14".into(),
                            detail: "2 escalated".into(),
                        },
                    ]),
                    Block::Text(format!(
                        "This quarter {long} grew its use of the platform. The renewal is due in \
                         March & the account team proposes <two> workshops before then."
                    )),
                    Block::Bullets(vec![
                        "Adoption is up in every business unit".into(),
                        format!("Key contact: {long}"),
                        "Two integrations went live: \"Claims\" & 'Billing' 🎉".into(),
                    ]),
                ],
                notes: "Open with the renewal.\nMention the two workshops & <the> budget.".into(),
            },
            Section {
                title: "Health over time".into(),
                blocks: vec![
                    Block::Text("Monthly health score against the target.".into()),
                    Block::Chart(Chart {
                        kind: ChartKind::Line,
                        title: "Health score".into(),
                        categories: months.iter().map(|m| m.to_string()).collect(),
                        series: vec![
                            Series {
                                name: "Health".into(),
                                values: (0..12).map(|i| Some(60.0 + f64::from(i) * 1.2)).collect(),
                            },
                            Series {
                                name: "Target".into(),
                                values: (0..12).map(|_| Some(70.0)).collect(),
                            },
                        ],
                        unit: "points".into(),
                    }),
                ],
                notes: String::new(),
            },
            Section {
                title: "Usage by platform".into(),
                blocks: vec![
                    Block::Chart(Chart {
                        kind: ChartKind::Bar,
                        title: "API calls".into(),
                        categories: vec![
                            "Claims".into(),
                            "Billing".into(),
                            "Portal".into(),
                            "Data & <BI>".into(),
                        ],
                        series: vec![
                            Series {
                                name: "Actual".into(),
                                values: vec![
                                    Some(120_000.0),
                                    Some(95_500.0),
                                    Some(40_250.0),
                                    Some(8_000.0),
                                ],
                            },
                            Series {
                                name: "Target".into(),
                                values: vec![Some(100_000.0), None, Some(50_000.0), None],
                            },
                        ],
                        unit: "calls".into(),
                    }),
                    Block::Table(Table {
                        columns: vec!["Platform".into(), "Calls".into(), "Errors".into()],
                        rows: vec![
                            vec!["Claims".into(), "120,000".into(), "0.4%".into()],
                            vec!["Billing".into(), "95,500".into(), "1.2%".into()],
                            vec!["Portal".into(), "40,250".into(), "0.1%".into()],
                            vec!["Data & <BI>".into(), "8,000".into(), "—".into()],
                        ],
                        numeric: vec![false, true, true],
                    }),
                ],
                notes: "Billing has no target yet.".into(),
            },
            Section {
                title: "Accounts".into(),
                blocks: vec![Block::Table(accounts)],
                notes: String::new(),
            },
            Section {
                title: "Ticket mix".into(),
                blocks: vec![
                    Block::Chart(Chart {
                        kind: ChartKind::Pie,
                        title: "Tickets by type".into(),
                        categories: vec![
                            "Incident".into(),
                            "Question".into(),
                            "Change".into(),
                            "Other".into(),
                        ],
                        series: vec![Series {
                            name: "Tickets".into(),
                            values: vec![Some(42.0), Some(31.0), Some(12.0), Some(5.0)],
                        }],
                        unit: String::new(),
                    }),
                    Block::Empty("No escalations in this period.".into()),
                ],
                notes: String::new(),
            },
        ],
    }
}

/// The slides the layout rules give the document above: the title slide;
/// Summary; Health over time; Usage by platform (the bar chart and its
/// four-row table share a slide); Accounts over three slides (10, 10 and 5
/// rows); Ticket mix (the pie and the empty message share a slide).
const EXPECTED_SLIDES: usize = 8;

const TITLES: [&str; 6] = [
    "Quarterly Business Review",
    "Summary",
    "Health over time",
    "Usage by platform",
    "Accounts",
    "Ticket mix",
];

/// Runs `command`, killing it after `limit`; panics unless it succeeds.
fn run(command: &mut Command, limit: Duration) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How many slide parts the package has (each name is stored twice: in its
/// local header and in the central directory).
fn slide_parts(bytes: &[u8]) -> usize {
    let needle = b"ppt/slides/slide";
    let mut names = std::collections::BTreeSet::new();
    for start in 0..bytes.len().saturating_sub(needle.len()) {
        if &bytes[start..start + needle.len()] == needle {
            let rest = &bytes[start + needle.len()..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && rest[digits..].starts_with(b".xml") {
                names.insert(rest[..digits].to_vec());
            }
        }
    }
    names.len()
}

fn pages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-pages/deck-test")
}

fn attribute(tag: &str, name: &str) -> f64 {
    let key = format!("{name}=\"");
    let at = tag.find(&key).unwrap() + key.len();
    let end = tag[at..].find('"').unwrap() + at;
    tag[at..end].parse().unwrap()
}

#[test]
fn libreoffice_reads_every_slide_of_the_deck() {
    // `.ci/run` installs LibreOffice (libreoffice-impress-nogui); without it this fails.
    let doc = document();
    let bytes = csip_reports::pptx::write_deck(&doc).unwrap();
    assert_eq!(
        slide_parts(&bytes),
        EXPECTED_SLIDES,
        "slides in the package"
    );

    let dir = tempfile::tempdir().unwrap();
    let deck = dir.path().join("deck.pptx");
    std::fs::write(&deck, &bytes).unwrap();
    let profile = format!(
        "-env:UserInstallation=file://{}/profile",
        dir.path().display()
    );
    run(
        Command::new("soffice")
            .arg("--headless")
            .arg("--norestore")
            .arg(&profile)
            .arg("--convert-to")
            .arg("pdf")
            .arg("--outdir")
            .arg(dir.path())
            .arg(&deck),
        Duration::from_secs(240),
    );
    // LibreOffice exits 0 even when it cannot read a file.
    let pdf = dir.path().join("deck.pdf");
    assert!(
        pdf.exists(),
        "LibreOffice wrote no PDF: it could not read the deck"
    );

    let info = run(Command::new("pdfinfo").arg(&pdf), Duration::from_secs(60));
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pages, EXPECTED_SLIDES, "pages in the PDF");

    let text = run(
        Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"),
        Duration::from_secs(60),
    );
    for title in TITLES {
        assert!(text.contains(title), "no `{title}` in:\n{text}");
    }
    assert_eq!(text.matches("Accounts (continued)").count(), 2, "{text}");
    // The table's heading row is repeated on each of its slides.
    assert_eq!(text.matches("ARR (USD)").count(), 3, "{text}");
    for expected in [
        // Figures.
        "72.4",
        "USD 1,234,567",
        "Health score",
        // Table cells, on each of the table's slides, and the escaped ones.
        "Account 01",
        "Account 14",
        "Account 25",
        "1,007,000",
        "Ola <Dev> & Co",
        "Data & <BI>",
        // Text, bullets and the empty block.
        "Monthly health score against the target.",
        "Adoption is up in every business unit",
        "No escalations in this period.",
        // Chart titles with their units.
        "API calls (calls)",
        "Health score (points)",
        "Tickets by type",
        // The long name, shortened.
        "Nordic <Shipping> & \"Offshore\"",
        "…",
    ] {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
    assert!(
        !text.contains(&long_name()),
        "the 200-character name was not shortened"
    );

    // No word off its page.
    let bbox = run(
        Command::new("pdftotext").arg("-bbox").arg(&pdf).arg("-"),
        Duration::from_secs(60),
    );
    let (mut width, mut height, mut words) = (0.0, 0.0, 0);
    for line in bbox.lines().map(str::trim) {
        if line.starts_with("<page ") {
            width = attribute(line, "width");
            height = attribute(line, "height");
        } else if line.starts_with("<word ") {
            words += 1;
            let (x0, y0) = (attribute(line, "xMin"), attribute(line, "yMin"));
            let (x1, y1) = (attribute(line, "xMax"), attribute(line, "yMax"));
            assert!(
                x0 >= 0.0 && y0 >= 0.0 && x1 <= width + 0.5 && y1 <= height + 0.5,
                "a word leaves its page: {line}"
            );
        }
    }
    assert!(words > 100, "only {words} words in the PDF");

    // Pages as pictures, for people.
    let out = pages_dir();
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "png" || e == "pdf" || e == "pptx")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    std::fs::copy(&deck, out.join("deck.pptx")).unwrap();
    std::fs::copy(&pdf, out.join("deck.pdf")).unwrap();
    run(
        Command::new("pdftoppm")
            .args(["-png", "-r", "50"])
            .arg(&pdf)
            .arg(out.join("slide")),
        Duration::from_secs(120),
    );
    let pngs = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "png")
        })
        .count();
    assert_eq!(pngs, EXPECTED_SLIDES);
}
