//! `csip ingest --eml` and `--maildir` end to end on a real workbook file:
//! which messages count, where each one ends up, and that a message seen
//! again after a crash between its commit and its move is not ingested
//! twice.

#![allow(clippy::unwrap_used)] // tests may panic

mod common;

use common::{TODAY, csip, pilot};
use std::path::Path;

const CONFIG: &str =
    "[ingest.mail]\nfrom = \"tableau-reports@company.com\"\nsubject = \"Anypoint Daily Metrics\"\n";

/// A report e-mail as Tableau's subscription sends it: a text part and a
/// CSV attachment.
fn message(id: &str, from: &str, subject: &str, csv: Option<&str>) -> String {
    let mut m = format!(
        "From: Tableau Reports <{from}>\r\nTo: metrics@company.com\r\nSubject: {subject}\r\n\
         Date: Tue, 24 Nov 2026 06:05:00 +0000\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThe daily report.\r\n"
    );
    if let Some(csv) = csv {
        m.push_str(&format!(
            "--b1\r\nContent-Type: text/csv; name=\"metrics.csv\"\r\n\
             Content-Disposition: attachment; filename=\"metrics.csv\"\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n{}\r\n",
            csv.replace('\n', "\r\n")
        ));
    }
    m.push_str("--b1--\r\n");
    m
}

fn last_commit(db: &Path) -> i64 {
    let store =
        csip_store::Store::open(db, csip_engine::Clock::on(csip_workbook::sample_today())).unwrap();
    store.last_commit().unwrap()
}

fn ingest(db: &Path, config: &Path, source: &[&str]) -> (bool, String) {
    let mut args = vec![
        "ingest",
        "--db",
        db.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--today",
        TODAY,
    ];
    args.extend_from_slice(source);
    let o = csip(&args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn an_eml_file_is_ingested_once() {
    let wb = pilot();
    let config = wb.dir.path().join("csip.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let eml = wb.dir.path().join("report.eml");
    let csv = "Account,Metric Name,Current Value\nGard AS,API reuse rate,52\n";
    std::fs::write(
        &eml,
        message(
            "r1@tableau",
            "tableau-reports@company.com",
            "Anypoint Daily Metrics",
            Some(csv),
        ),
    )
    .unwrap();
    let (ok, text) = ingest(&wb.db, &config, &["--eml", eml.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(text.contains("1 metrics updated"), "{text}");
    let commit = last_commit(&wb.db);
    let (ok, text) = ingest(&wb.db, &config, &["--eml", eml.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("already ingested (Success), not again"),
        "{text}"
    );
    assert_eq!(last_commit(&wb.db), commit);

    // Another sender's message is not a report.
    let other = wb.dir.path().join("other.eml");
    std::fs::write(
        &other,
        message(
            "o1@x",
            "someone@else.com",
            "Anypoint Daily Metrics",
            Some(csv),
        ),
    )
    .unwrap();
    let (ok, text) = ingest(&wb.db, &config, &["--eml", other.to_str().unwrap()]);
    assert!(
        !ok && text.contains("not a report by [ingest.mail]"),
        "{text}"
    );
    assert_eq!(last_commit(&wb.db), commit);
}

#[test]
fn a_maildir_moves_each_message_after_its_commit_and_never_ingests_one_twice() {
    let wb = pilot();
    let config = wb.dir.path().join("csip.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let maildir = wb.dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let good = message(
        "good@tableau",
        "tableau-reports@company.com",
        "Anypoint Daily Metrics",
        Some("Account,Metric Name,Current Value\nGard AS,API reuse rate,53\n"),
    );
    let bad = message(
        "bad@tableau",
        "tableau-reports@company.com",
        "Anypoint Daily Metrics",
        Some(
            "Account,Metric Name,Current Value\nGard AS,API reuse rate,54\nNobody,API reuse rate,1\n",
        ),
    );
    let empty = message(
        "none@tableau",
        "tableau-reports@company.com",
        "Anypoint Daily Metrics",
        None,
    );
    let theirs = message("news@x", "newsletter@example.com", "Weekly news", None);
    for (name, text) in [
        ("1.good", &good),
        ("2.bad", &bad),
        ("3.empty", &empty),
        ("4.theirs", &theirs),
    ] {
        std::fs::write(maildir.join("new").join(name), text).unwrap();
    }
    let before = last_commit(&wb.db);
    let (ok, text) = ingest(&wb.db, &config, &["--maildir", maildir.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("1 reports committed, 2 rejected, 1 messages not ours left in new/"),
        "{text}"
    );
    assert!(
        text.contains("line 3, Account: there is no account “Nobody”"),
        "{text}"
    );
    assert_eq!(files(&maildir.join("new")), ["4.theirs"]);
    assert_eq!(files(&maildir.join("cur")), ["1.good:2,S", "2.bad:2,S"]);
    assert_eq!(files(&maildir.join(".Rejected/cur")), ["3.empty:2,S"]);
    // Three commits: the good report, the bad one's log row, the empty one's.
    assert_eq!(last_commit(&wb.db), before + 3);

    // Killed after the commit and before the move: the message is in new/
    // again. It is recognised by its Message-ID and only moved.
    std::fs::rename(maildir.join("cur/1.good:2,S"), maildir.join("new/1.good")).unwrap();
    let (ok, text) = ingest(&wb.db, &config, &["--maildir", maildir.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("1.good: already ingested (Success), not again"),
        "{text}"
    );
    assert_eq!(last_commit(&wb.db), before + 3, "nothing written again");
    assert_eq!(files(&maildir.join("new")), ["4.theirs"]);
}
