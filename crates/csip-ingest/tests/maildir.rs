//! `maildir::process` over real folders of the `.eml` fixtures.
#![cfg(feature = "mail")]

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use csip_ingest::mail::{Found, HandleError, Handled, MailError, MailRules};
use csip_ingest::maildir::{self, MaildirError, MaildirSummary};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rules of the blueprint's Zapier search.
fn rules() -> MailRules {
    toml::from_str(
        r#"
        from = "tableau-reports@company.com"
        subject = "Anypoint Daily Metrics"
        "#,
    )
    .expect("valid rules")
}

/// A maildir in a temp dir, with these fixtures delivered to `new/` under
/// these file names.
fn maildir(messages: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    for (file, fixture_name) in messages {
        fs::write(dir.join("new").join(file), fixture(fixture_name)).expect("deliver");
    }
    (tmp, dir)
}

/// The file names in `dir/sub`, sorted.
fn names(dir: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir.join(sub)) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// What the handle was called with: file name and key or error.
type Calls = Vec<(String, Result<String, MailError>)>;

fn record(calls: &mut Calls, path: &Path, found: &Result<Found, MailError>) {
    let name = path
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    calls.push((
        name,
        found.as_ref().map(|f| f.key.clone()).map_err(Clone::clone),
    ));
}

#[test]
fn committed_reports_move_to_cur_marked_seen() {
    let (_tmp, dir) = maildir(&[
        ("1732428300.M1P1.host", "multipart_base64.eml"),
        ("1732428301.M2P1.host:2,F", "quoted_printable.eml"),
        (".hidden", "single_part_csv.eml"),
    ]);
    let mut calls = Calls::new();
    let mut bytes = Vec::new();
    let summary = maildir::process(&dir, &rules(), &mut |path, found| {
        record(&mut calls, path, &found);
        assert!(path.starts_with(dir.join("new")), "{}", path.display());
        bytes.push(found.expect("a report").attachment.bytes);
        Ok(Handled::Committed)
    })
    .expect("processed");
    assert_eq!(
        summary,
        MaildirSummary {
            committed: 2,
            rejected: vec![],
            skipped: 0
        }
    );
    assert_eq!(
        calls,
        vec![
            (
                "1732428300.M1P1.host".to_string(),
                Ok("20261124060500.b64@tableau.company.com".to_string())
            ),
            (
                "1732428301.M2P1.host:2,F".to_string(),
                Ok("20261124060500.qp@tableau.company.com".to_string())
            ),
        ]
    );
    assert!(bytes[0].starts_with(b"Account,Metric Name,Current Value,Measured At\r\n"));
    assert_eq!(
        names(&dir, "cur"),
        ["1732428300.M1P1.host:2,S", "1732428301.M2P1.host:2,FS"]
    );
    // The dot-file is not a message.
    assert_eq!(names(&dir, "new"), [".hidden"]);
    // A second run finds nothing to do.
    let summary = maildir::process(&dir, &rules(), &mut |_, _| panic!("nothing left to handle"))
        .expect("processed");
    assert_eq!(summary, MaildirSummary::default());
}

#[test]
fn a_handle_error_stops_and_leaves_the_message_in_new() {
    let (_tmp, dir) = maildir(&[
        ("1-first", "single_part_csv.eml"),
        ("2-second", "multipart_base64.eml"),
        ("3-third", "quoted_printable.eml"),
    ]);
    let mut calls = Calls::new();
    let err = maildir::process(&dir, &rules(), &mut |path, found| {
        record(&mut calls, path, &found);
        if path.ends_with("2-second") {
            Err(HandleError("the store is read-only".to_string()))
        } else {
            Ok(Handled::Committed)
        }
    })
    .expect_err("stopped");
    let text = err.to_string();
    assert!(matches!(err, MaildirError::Handle { .. }), "{err:?}");
    assert!(
        text.contains("2-second") && text.contains("the store is read-only"),
        "{text}"
    );
    // The first was moved; the second stays, and the third was not touched.
    assert_eq!(calls.len(), 2);
    assert_eq!(names(&dir, "cur"), ["1-first:2,S"]);
    assert_eq!(names(&dir, "new"), ["2-second", "3-third"]);
}

#[test]
fn a_message_without_a_usable_csv_is_moved_aside_and_the_rest_go_on() {
    let (_tmp, dir) = maildir(&[
        ("1-cut", "truncated_in_base64.eml"),
        ("2-good", "multipart_base64.eml"),
        ("3-none", "no_csv.eml"),
        ("4-two", "two_csv.eml"),
    ]);
    let mut calls = Calls::new();
    let summary = maildir::process(&dir, &rules(), &mut |path, found| {
        record(&mut calls, path, &found);
        Ok(match found {
            Ok(_) => Handled::Committed,
            Err(e) => Handled::Rejected {
                reason: e.to_string(),
            },
        })
    })
    .expect("processed");
    // The handle saw every one of them, errors included, to log them.
    assert!(
        matches!(calls[0].1, Err(MailError::Malformed { .. })),
        "{calls:?}"
    );
    assert!(calls[1].1.is_ok(), "{calls:?}");
    assert_eq!(calls[2].1, Err(MailError::NoCsv));
    assert!(
        matches!(calls[3].1, Err(MailError::SeveralCsv { .. })),
        "{calls:?}"
    );
    assert_eq!(summary.committed, 1);
    assert_eq!(summary.skipped, 0);
    let rejected: Vec<&str> = summary.rejected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(rejected, ["1-cut", "3-none", "4-two"]);
    assert!(
        summary.rejected[0].1.contains("cut short"),
        "{:?}",
        summary.rejected
    );
    assert_eq!(names(&dir, "new"), Vec::<String>::new());
    assert_eq!(names(&dir, "cur"), ["2-good:2,S"]);
    assert_eq!(
        names(&dir, ".Rejected/cur"),
        ["1-cut:2,S", "3-none:2,S", "4-two:2,S"]
    );
    assert!(dir.join(".Rejected/new").is_dir() && dir.join(".Rejected/tmp").is_dir());
    assert!(dir.join(".Rejected/maildirfolder").is_file());
}

#[test]
fn a_report_the_caller_rejects_goes_to_cur_and_into_the_summary() {
    let (_tmp, dir) = maildir(&[("1-bad-rows", "single_part_csv.eml")]);
    let summary = maildir::process(&dir, &rules(), &mut |_, _| {
        Ok(Handled::Rejected {
            reason: "row 3: Current Value is not a number".to_string(),
        })
    })
    .expect("processed");
    assert_eq!(
        summary.rejected,
        [(
            "1-bad-rows".to_string(),
            "row 3: Current Value is not a number".to_string()
        )]
    );
    assert_eq!(names(&dir, "cur"), ["1-bad-rows:2,S"]);
}

#[test]
fn a_message_that_is_not_ours_stays_in_new_and_is_not_handled() {
    let (_tmp, dir) = maildir(&[
        ("1-spoof", "wrong_sender.eml"),
        ("2-good", "single_part_csv.eml"),
    ]);
    let mut calls = Calls::new();
    let summary = maildir::process(&dir, &rules(), &mut |path, found| {
        record(&mut calls, path, &found);
        Ok(Handled::Committed)
    })
    .expect("processed");
    assert_eq!(summary.skipped, 1);
    assert_eq!(summary.committed, 1);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "2-good");
    assert_eq!(names(&dir, "new"), ["1-spoof"]);
    assert_eq!(
        fs::read(dir.join("new/1-spoof")).expect("still there"),
        fixture("wrong_sender.eml")
    );
}

/// A kill between the caller's commit and the move: the message is seen
/// again, with the same key, so a caller that records keys with its data
/// commits it once.
#[test]
fn a_message_seen_again_after_a_kill_has_the_same_key() {
    // single_part_csv.eml has a Message-ID; a message without one is keyed
    // by its bytes.
    let no_id: Vec<u8> = String::from_utf8(fixture("single_part_csv.eml"))
        .expect("text")
        .replace(
            "Message-ID: <20261124060500.single@tableau.company.com>\r\n",
            "",
        )
        .into_bytes();
    let (_tmp, dir) = maildir(&[("1-with-id", "single_part_csv.eml")]);
    fs::write(dir.join("new/2-without-id"), &no_id).expect("deliver");

    let mut recorded: HashSet<String> = HashSet::new();
    let mut writes = 0;
    let mut seen_keys = Vec::new();
    let mut caller = |_: &Path, found: Result<Found, MailError>| {
        let found = found.map_err(|e| HandleError(e.to_string()))?;
        seen_keys.push(found.key.clone());
        if recorded.insert(found.key) {
            writes += 1;
        }
        Ok(Handled::Committed)
    };
    maildir::process(&dir, &rules(), &mut caller).expect("first run");
    // The kill: the messages are back in new/ as if never moved.
    for name in ["1-with-id", "2-without-id"] {
        fs::rename(
            dir.join("cur").join(format!("{name}:2,S")),
            dir.join("new").join(name),
        )
        .expect("restore");
    }
    let summary = maildir::process(&dir, &rules(), &mut caller).expect("second run");
    assert_eq!(summary.committed, 2);
    assert_eq!(seen_keys.len(), 4);
    assert_eq!(seen_keys[0], "20261124060500.single@tableau.company.com");
    assert!(seen_keys[1].starts_with("sha256:"), "{seen_keys:?}");
    assert_eq!(seen_keys[0..2], seen_keys[2..4], "keys are stable");
    assert_eq!(writes, 2, "each report written once");
    assert_eq!(names(&dir, "cur"), ["1-with-id:2,S", "2-without-id:2,S"]);
}

#[test]
fn a_folder_that_is_not_a_maildir_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    fs::create_dir(tmp.path().join("new")).expect("new");
    let err = maildir::process(tmp.path(), &rules(), &mut |_, _| Ok(Handled::Committed))
        .expect_err("no cur, no tmp");
    assert!(matches!(err, MaildirError::NotAMaildir { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&tmp.path().display().to_string()),
        "{err}"
    );
}
