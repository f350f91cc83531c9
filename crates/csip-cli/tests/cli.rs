//! The `csip` binary, run as a user runs it.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use std::process::{Command, Output};

fn csip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csip"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn demo_prints_the_portfolio_and_every_view() {
    let data = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_csip"))
        .args(["demo", "--today", "2026-11-24"])
        .env("XDG_DATA_HOME", data.path())
        .output()
        .unwrap();
    assert!(
        data.path().join("csip/demo.db").exists(),
        "the demo runs on a SQLite file"
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let gard = text.lines().find(|l| l.starts_with("Gard AS")).unwrap();
    for part in [
        "63.0",
        "80.0",
        "50.0",
        "62.5",
        "🔴 Declining",
        "At Risk",
        "96",
        "480,000",
        "Kari Nordmann",
    ] {
        assert!(gard.contains(part), "{gard}");
    }
    assert!(text.contains("Account_Master/Renewal Risk"), "{text}");
    assert!(
        text.contains("Platform_Health_Metrics/Platform Health Dashboard"),
        "{text}"
    );
    let views = text
        .lines()
        .filter(|l| l.contains('/') && l.trim_end().ends_with(char::is_numeric))
        .count();
    assert_eq!(views, 72, "{text}");
}

#[test]
fn a_view_is_paged_or_exported_whole() {
    let o = csip(&[
        "view",
        "Platform Health Dashboard",
        "--limit",
        "2",
        "--group-limit",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("■ 🟡 Warning (1–2 of 6)"), "{text}");
    assert!(
        text.contains("(showing 4 of 22 rows in 2 of 4 groups;"),
        "{text}"
    );
    assert!(
        text.contains(
            "Includes API_Portfolio/API Heat Map: csip view \"API_Portfolio/API Heat Map\""
        ),
        "{text}"
    );

    let o = csip(&["view", "Platform Health Dashboard", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 23, "a header and every row: {text}");
    assert!(
        lines[0].starts_with("row_id,group,Metric_Name,Account,"),
        "{}",
        lines[0]
    );

    let o = csip(&["view", "Platform Health Dashboard", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 22);
    assert_eq!(rows[0]["group"], "🔴 Critical");
    assert!(
        rows[0]["values"]["Current_Value"].is_number(),
        "{}",
        rows[0]
    );
}

#[test]
fn view_with_a_parameter() {
    let o = csip(&[
        "view",
        "CSM Command Center",
        "--param",
        "user=Kenji Watanabe",
        "--today",
        "2026-11-24",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("Account_Master/CSM Command Center — 1 row"),
        "{text}"
    );
    assert!(
        text.contains("■ Critical (1)") && text.contains("Sakura Retail Group"),
        "{text}"
    );

    let o = csip(&["view", "CSM Command Center"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("needs the parameter `user`"),
        "{}",
        stderr(&o)
    );

    let o = csip(&["view", "Renewal Rsk"]);
    assert!(
        stderr(&o).contains("did you mean `Renewal Risk`?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_against_the_csip_workbook_and_a_case_file() {
    let o = csip(&[
        "eval",
        "[Renewal_Risk_Level] & \" / \" & [Days_To_Renewal]",
        "--table",
        "Account_Master",
        "--row",
        "Gard AS",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "At Risk / 96\n");

    let o = csip(&["eval", "Round(2.5, 0)"]);
    assert_eq!(stdout(&o), "3\n");

    let o = csip(&[
        "eval",
        "Average(Filter([Metrics], [Account] = thisRow).[Score])",
        "--cases",
        "fixtures/cases/format_example.toml",
        "--table",
        "Accounts",
        "--row",
        "ACC-1",
    ]);
    assert_eq!(stdout(&o), "85\n", "{}", stderr(&o));

    let o = csip(&[
        "eval",
        "[Helth_Score]",
        "--table",
        "Account_Master",
        "--row",
        "1",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("did you mean `Health_Score`?") && err.contains('^'),
        "{err}"
    );
}

#[test]
fn check_reports_and_fails_on_a_failing_case() {
    let dir = std::env::temp_dir().join(format!("csip-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cases.toml");
    std::fs::write(
        &file,
        "[[cases]]\nname = \"right\"\nformula = '1 + 1'\nexpect = 2\n\n[[cases]]\nname = \"wrong\"\nformula = '2 * 2'\nexpect = 5\n",
    )
    .unwrap();
    let o = csip(&["check", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("FAIL") && text.contains("wrong") && text.contains("2 * 2"),
        "{text}"
    );
    assert!(
        text.contains("expected: 5 (number)") && text.contains("actual:   4 (number)"),
        "{text}"
    );
    assert_eq!(text.lines().last().unwrap(), "1 passed, 1 failed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh folder under the system's temporary directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("csip-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn csv_rows(path: &std::path::Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().collect::<Result<Vec<_>, _>>().unwrap();
    (header, rows)
}

#[test]
fn synth_writes_one_csv_per_table_deterministically() {
    let (a, b, c) = (scratch("synth-a"), scratch("synth-b"), scratch("synth-c"));
    for (dir, seed) in [(&a, None), (&b, None), (&c, Some("7"))] {
        let mut args = vec![
            "synth",
            "--accounts",
            "3",
            "--today",
            "2026-11-24",
            "--out",
            dir.to_str().unwrap(),
        ];
        if let Some(seed) = seed {
            args.extend(["--seed", seed]);
        }
        let o = csip(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("rows of 3 accounts"), "{}", stdout(&o));
    }
    let config = csip_workbook::synth::SynthConfig::new(3);
    for (table, count) in config.row_counts() {
        let file = a.join(format!("{table}.csv"));
        let (header, rows) = csv_rows(&file);
        assert_eq!(rows.len(), count, "{table}");
        assert!(rows.iter().all(|r| r.len() == header.len()), "{table}");
        // The same seed writes the same bytes.
        assert_eq!(
            std::fs::read(&file).unwrap(),
            std::fs::read(b.join(format!("{table}.csv"))).unwrap(),
            "{table}"
        );
    }
    // Another seed, other values.
    let metrics = "Platform_Health_Metrics.csv";
    assert_ne!(
        std::fs::read(a.join(metrics)).unwrap(),
        std::fs::read(c.join(metrics)).unwrap()
    );

    // Data columns only, and relations by the display text of a real row.
    let (header, rows) = csv_rows(&a.join(metrics));
    assert!(!header.iter().any(|h| h == "Health_Status"), "{header:?}");
    let account = header.iter().position(|h| h == "Account").unwrap();
    let (accounts_header, accounts) = csv_rows(&a.join("Account_Master.csv"));
    let name = accounts_header
        .iter()
        .position(|h| h == "Account_Name")
        .unwrap();
    let names: Vec<&str> = accounts.iter().map(|r| &r[name]).collect();
    assert!(
        rows.iter().all(|r| names.contains(&&r[account])),
        "{names:?}"
    );
    for dir in [a, b, c] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn synth_refuses_zero_accounts() {
    let out = scratch("synth-zero");
    let o = csip(&["synth", "--accounts", "0", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--accounts must be at least 1"),
        "{}",
        stderr(&o)
    );
}

fn run(args: &[&str]) -> Output {
    let o = csip(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

#[test]
fn import_and_export_move_rows_as_csv_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);

    // A good file: every row lands, relations by name.
    let good = dir.path().join("tasks.csv");
    std::fs::write(
        &good,
        "Title,Account,Assigned_To,Due_Date,Status,Priority\n\
         Prepare QBR,Gard AS,Kari Nordmann,2026-12-01,Open,High\n\
         \"Renewal call, with notes\",Helix Health Partners,James Carter,2026-12-05,Open,Normal\n",
    )
    .unwrap();
    let o = run(&[
        "import",
        "--db",
        db,
        "Tasks",
        good.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert!(
        stdout(&o).contains("imported 2 rows into Tasks"),
        "{}",
        stdout(&o)
    );

    // A bad file: every bad line named with its reason, and nothing lands.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Title,Account,Due_Date,Status\n\
         Fine,Gard AS,2026-12-01,Open\n\
         Late,Gard AS,next week,Open\n\
         Odd,Gard AS,2026-12-01,Sideways\n\
         ,Gard AS,2026-12-01,Open\n\
         Ghost,Nobody Inc,2026-12-01,Open\n",
    )
    .unwrap();
    let o = csip(&[
        "import",
        "--db",
        db,
        "Tasks",
        bad.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    for needle in [
        "line 3:",
        "next week",
        "line 4:",
        "Sideways",
        "line 5:",
        "Title",
        "line 6:",
        "Nobody Inc",
        "nothing was imported",
    ] {
        assert!(err.contains(needle), "{needle} in:\n{err}");
    }
    assert!(
        !err.contains("line 2:"),
        "the good line is not blamed:\n{err}"
    );

    // Unknown and computed headers are named.
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "Title,Colour,Is_Overdue\nA,red,true\n").unwrap();
    let o = csip(&["import", "--db", db, "Tasks", odd.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(
        !o.status.success()
            && err.contains("`Colour`")
            && err.contains("Is_Overdue")
            && err.contains("--skip-computed"),
        "{err}"
    );

    // Export: the two imported tasks are there, as the file wrote them.
    let out = dir.path().join("out");
    run(&[
        "export",
        "--db",
        db,
        "Tasks",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (header, rows) = csv_rows(&out.join("Tasks.csv"));
    let title = header.iter().position(|h| h == "Title").unwrap();
    let titles: Vec<&str> = rows.iter().map(|r| &r[title]).collect();
    assert!(
        titles.contains(&"Prepare QBR") && titles.contains(&"Renewal call, with notes"),
        "{titles:?}"
    );
    assert!(!titles.contains(&"Fine"), "the refused import left nothing");
    assert!(
        !header.iter().any(|h| h == "Is_Overdue"),
        "computed columns only with --computed"
    );
}

#[test]
fn an_exported_workbook_imports_into_an_empty_one_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    run(&["init", "--db", a, "--sample", "--today", "2026-11-24"]);
    run(&["init", "--db", b, "--today", "2026-11-24"]);
    let out = dir.path().join("out");
    run(&["export", "--db", a, "--out", out.to_str().unwrap()]);
    let o = run(&[
        "import",
        "--db",
        b,
        "--dir",
        out.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert!(stdout(&o).contains("16 tables"), "{}", stdout(&o));
    let formula =
        "[Health_Score] & \" \" & [Platform_Technical_Health] & \" \" & [Health_Score_Change_Flag]";
    let eval = |db: &str| {
        stdout(&run(&[
            "eval",
            formula,
            "--db",
            db,
            "--table",
            "Account_Master",
            "--row",
            "Gard AS",
            "--today",
            "2026-11-24",
        ]))
    };
    assert_eq!(eval(a), eval(b));
    assert_eq!(eval(b).trim(), "63 80 🔴 Declining");
}

#[test]
fn upgrade_adds_what_new_table_files_add_and_refuses_to_lose_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);
    // The built-in table files: nothing to add, nothing lost.
    let o = run(&["upgrade", "--db", db, "--today", "2026-11-24"]);
    assert!(stdout(&o).contains("every row kept"), "{}", stdout(&o));
    // A copy of the table files with one column more.
    let tables = dir.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/csip/tables");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tables.join(path.file_name().unwrap())).unwrap();
    }
    let tasks = tables.join("15_tasks.toml");
    let text = std::fs::read_to_string(&tasks).unwrap();
    std::fs::write(
        &tasks,
        format!("{text}\n[[columns]]\nname = \"Effort_Hours\"\ntype = \"number\"\n"),
    )
    .unwrap();
    run(&[
        "upgrade",
        "--db",
        db,
        "--schema",
        tables.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    let o = run(&[
        "eval",
        "Count([Tasks].[Effort_Hours])",
        "--db",
        db,
        "--today",
        "2026-11-24",
    ]);
    assert_eq!(stdout(&o).trim(), "0", "the new column is there, blank");
    let o = run(&[
        "eval",
        "[Health_Score]",
        "--db",
        db,
        "--table",
        "Account_Master",
        "--row",
        "Gard AS",
        "--today",
        "2026-11-24",
    ]);
    assert_eq!(stdout(&o).trim(), "63", "the rows are kept");
    // Dropping a column that holds values is refused, and the file is unchanged.
    let accounts = tables.join("01_account_master.toml");
    let text = std::fs::read_to_string(&accounts).unwrap();
    let without = text.replace(
        "[[columns]]\nname = \"ACV\"\ntype = \"currency\"\ncomment = \"Annual Contract Value.\"\n",
        "",
    );
    assert_ne!(text, without);
    std::fs::write(&accounts, without).unwrap();
    let o = csip(&[
        "upgrade",
        "--db",
        db,
        "--schema",
        tables.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("ACV") && err.contains("lost"), "{err}");
    let o = run(&[
        "eval",
        "[ACV]",
        "--db",
        db,
        "--table",
        "Account_Master",
        "--row",
        "Gard AS",
        "--today",
        "2026-11-24",
    ]);
    assert_eq!(stdout(&o).trim(), "480000");
}

/// Every file `csip export --computed` writes of a workbook file, by name.
fn exported(db: &str, out: &std::path::Path) -> Vec<(String, String)> {
    run(&[
        "export",
        "--db",
        db,
        "--computed",
        "--out",
        out.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    let mut files: Vec<(String, String)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn row_ids_survive_export_and_import_so_ids_and_the_gap_of_a_delete_stay() {
    use csip_engine::{Clock, Transaction};
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    run(&[
        "init",
        "--db",
        a.to_str().unwrap(),
        "--sample",
        "--today",
        "2026-11-24",
    ]);
    // Delete the second account, with the rows that cannot be without it.
    {
        let today = csip_workbook::sample_today();
        let mut store = csip_store::Store::open(&a, Clock::on(today)).unwrap();
        let wb = store.workbook();
        let accounts = wb.table_id("Account_Master").unwrap();
        let helix = wb.find_rows(accounts, "Helix Health Partners").unwrap()[0];
        let mut doomed = vec![(accounts, helix)];
        let mut i = 0;
        while i < doomed.len() {
            let (t, r) = doomed[i];
            for (c, row) in wb.references_to(t, r) {
                let holder = (wb.column_table(c).unwrap(), row);
                if wb.column_schema(c).unwrap().required && !doomed.contains(&holder) {
                    doomed.push(holder);
                }
            }
            i += 1;
        }
        let tx = doomed
            .iter()
            .fold(Transaction::new(), |tx, (t, r)| tx.delete(*t, *r));
        store
            .commit(tx, "test", today.and_hms_opt(9, 0, 0).unwrap())
            .unwrap();
    }
    let before = exported(a.to_str().unwrap(), &dir.path().join("before"));
    let accounts = &before
        .iter()
        .find(|(name, _)| name == "Account_Master.csv")
        .unwrap()
        .1;
    let ids: Vec<&str> = accounts
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>())
        .map(|f| f[1])
        .collect();
    assert_eq!(ids, ["ACC-00001", "ACC-00003"], "{accounts}");
    assert!(accounts.starts_with("row_id,Account_ID,"), "{accounts}");
    assert!(
        accounts.lines().nth(2).unwrap().starts_with("3,ACC-00003,"),
        "{accounts}"
    );

    // Into an empty file: the data columns, with their ids.
    run(&["init", "--db", b.to_str().unwrap(), "--today", "2026-11-24"]);
    let data = dir.path().join("data");
    run(&[
        "export",
        "--db",
        a.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    run(&[
        "import",
        "--db",
        b.to_str().unwrap(),
        "--dir",
        data.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    // Every table, every row id, every value, computed ones included, as before.
    let after = exported(b.to_str().unwrap(), &dir.path().join("after"));
    assert_eq!(before.len(), after.len());
    for ((name, x), (_, y)) in before.iter().zip(&after) {
        assert_eq!(x, y, "{name}");
    }
    // The gap stays a gap: the next account is ACC-00004, not ACC-00002 again.
    let store = csip_store::Store::open(&b, Clock::on(csip_workbook::sample_today())).unwrap();
    let wb = store.workbook();
    let accounts = wb.table_id("Account_Master").unwrap();
    assert_eq!(wb.next_row_id(accounts).unwrap().get(), 4);
    drop(store);

    // An id the table has given already is refused at its line.
    let again = run_err(&[
        "import",
        "--db",
        b.to_str().unwrap(),
        "Account_Master",
        data.join("Account_Master.csv").to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);
    assert!(
        again.contains("Account_Master.csv: line 2: `Account_Master` has already given row id 1"),
        "{again}"
    );
    let bad = dir.path().join("bad_ids.csv");
    std::fs::write(&bad, "row_id,Title\n0,Zero\nseven,Seven\n,Fine\n").unwrap();
    let err = run_err(&[
        "import",
        "--db",
        b.to_str().unwrap(),
        "Tasks",
        bad.to_str().unwrap(),
    ]);
    for needle in [
        "line 2: `row_id`: \"0\" is not a row id",
        "line 3: `row_id`: \"seven\"",
    ] {
        assert!(err.contains(needle), "{needle} in\n{err}");
    }
    assert!(!err.contains("line 4"), "{err}");
}

/// Runs `csip` expecting it to fail; its stderr.
fn run_err(args: &[&str]) -> String {
    let o = csip(args);
    assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
    stderr(&o)
}

#[test]
fn export_escapes_formula_looking_text_and_import_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);
    let tasks = dir.path().join("tasks.csv");
    let mut writer = csv::Writer::from_path(&tasks).unwrap();
    writer.write_record(["Title", "Notes", "Account"]).unwrap();
    let titles = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+47 22 00 00 00",
        "-- call back",
        "@SUM(A1:A9)",
        // Read as an export writes it: this is the text `'=already quoted`.
        "''=already quoted",
        "Plain title",
    ];
    for t in titles {
        writer
            .write_record([t, "\tindented note", "Gard AS"])
            .unwrap();
    }
    writer.flush().unwrap();
    drop(writer);
    run(&[
        "import",
        "--db",
        db,
        "Tasks",
        tasks.to_str().unwrap(),
        "--today",
        "2026-11-24",
    ]);

    let out = dir.path().join("out");
    run(&[
        "export",
        "--db",
        db,
        "Tasks",
        "--out",
        out.to_str().unwrap(),
        "--computed",
    ]);
    let (header, rows) = csv_rows(&out.join("Tasks.csv"));
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (title, notes) = (column("Title"), column("Notes"));
    let written: Vec<&str> = rows.iter().map(|r| &r[title]).collect();
    for (t, w) in [
        (
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "'=HYPERLINK(\"http://evil.example\",\"click\")",
        ),
        ("+47 22 00 00 00", "'+47 22 00 00 00"),
        ("-- call back", "'-- call back"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("'=already quoted", "''=already quoted"),
        ("Plain title", "Plain title"),
    ] {
        assert!(written.contains(&w), "{t} is written {w}: {written:?}");
    }
    assert!(rows.iter().all(|r| !r[notes].starts_with('\t')));
    // Stored without the escape: what was imported is the text itself.
    for (title, count) in [
        ("-- call back", "1"),
        ("'=already quoted", "1"),
        ("''=already quoted", "0"),
    ] {
        let formula = format!("Filter([Tasks], [Title] = \"{title}\").Count()");
        let o = run(&["eval", &formula, "--db", db, "--today", "2026-11-24"]);
        assert_eq!(stdout(&o).trim(), count, "{title}");
    }
    // No cell of any table begins with a formula character, but numbers.
    let all = dir.path().join("all");
    run(&[
        "export",
        "--db",
        db,
        "--out",
        all.to_str().unwrap(),
        "--computed",
    ]);
    for entry in std::fs::read_dir(&all).unwrap() {
        let (_, rows) = csv_rows(&entry.unwrap().path());
        for r in &rows {
            for cell in r {
                let formula_like = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
                assert!(
                    !formula_like || cell.parse::<f64>().is_ok(),
                    "{cell:?} in {r:?}"
                );
            }
        }
    }
    // A negative number stays a number.
    let metrics = dir.path().join("metrics.csv");
    std::fs::write(
        &metrics,
        "Account,Metric_Name,Current_Value\nGard AS,Drift,-5\n",
    )
    .unwrap();
    run(&[
        "import",
        "--db",
        db,
        "Platform_Health_Metrics",
        metrics.to_str().unwrap(),
    ]);
    run(&[
        "export",
        "--db",
        db,
        "Platform_Health_Metrics",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (header, rows) = csv_rows(&out.join("Platform_Health_Metrics.csv"));
    let value = header.iter().position(|h| h == "Current_Value").unwrap();
    assert_eq!(&rows.last().unwrap()[value], "-5");
    // --raw: the bytes as they are.
    let raw = dir.path().join("raw");
    run(&[
        "export",
        "--db",
        db,
        "Tasks",
        "--out",
        raw.to_str().unwrap(),
        "--raw",
    ]);
    let (header, rows) = csv_rows(&raw.join("Tasks.csv"));
    let title = header.iter().position(|h| h == "Title").unwrap();
    assert!(
        rows.iter()
            .any(|r| &r[title] == "=HYPERLINK(\"http://evil.example\",\"click\")")
    );

    // Export -> import -> export: the same file.
    let b = dir.path().join("b.db");
    let b = b.to_str().unwrap();
    run(&["init", "--db", b, "--today", "2026-11-24"]);
    run(&[
        "import",
        "--db",
        b,
        "--dir",
        all.to_str().unwrap(),
        "--skip-computed",
        "--today",
        "2026-11-24",
    ]);
    let again = dir.path().join("again");
    run(&[
        "export",
        "--db",
        b,
        "Tasks",
        "--out",
        again.to_str().unwrap(),
        "--computed",
    ]);
    assert_eq!(
        std::fs::read_to_string(again.join("Tasks.csv")).unwrap(),
        std::fs::read_to_string(all.join("Tasks.csv")).unwrap()
    );
}

#[test]
fn an_unclosed_quote_is_reported_where_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);
    let people = dir.path().join("people.csv");
    // Line 7's quote never closes: read as the CSV reader reads it, lines
    // 7 to 9 would be one name, and the file would import without a word.
    std::fs::write(
        &people,
        "Full_Name,Email,Role\n\
         Ada One,ada@csip.example,CSM\n\
         \"Bo, Two\",bo@csip.example,AE\n\
         \"Cy \"\"Three\"\"\",cy@csip.example,SE\n\
         \"Di\n Four\",di@csip.example,AE\n\
         Ed Five,ed@csip.example,\"AE\n\
         Fay Six,fay@csip.example,CSM\n\
         Gus Seven,gus@csip.example,CSM\n",
    )
    .unwrap();
    let err = run_err(&[
        "import",
        "--db",
        db,
        "People_Team",
        people.to_str().unwrap(),
    ]);
    assert!(
        err.contains("people.csv: line 7: a quote opened here is never closed"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    let o = run(&[
        "eval",
        "Count([People_Team])",
        "--db",
        db,
        "--today",
        "2026-11-24",
    ]);
    let before = stdout(&o);
    // Closed, the same file imports: quoted commas, doubled quotes and a
    // line break inside a field are all fine.
    let text = std::fs::read_to_string(&people)
        .unwrap()
        .replace(",\"AE\n", ",\"AE\"\n");
    std::fs::write(&people, text).unwrap();
    let o = run(&[
        "import",
        "--db",
        db,
        "People_Team",
        people.to_str().unwrap(),
    ]);
    assert!(stdout(&o).contains("imported 7 rows"), "{}", stdout(&o));
    let o = run(&[
        "eval",
        "Count([People_Team])",
        "--db",
        db,
        "--today",
        "2026-11-24",
    ]);
    let count = |s: &str| s.trim().parse::<u32>().unwrap();
    assert_eq!(count(&stdout(&o)), count(&before) + 7);
}

#[test]
fn numbers_and_dates_that_would_change_are_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);
    let tasks = dir.path().join("tasks.csv");
    std::fs::write(
        &tasks,
        "Title,Account,Due_Date,Created_Date\n\
         Fine,Gard AS,9999-12-31,2026-11-24T08:00:00\n\
         Far,Gard AS,10000-01-01,\n\
         Zero,Gard AS,,0000-06-01T08:00:00\n",
    )
    .unwrap();
    let err = run_err(&["import", "--db", db, "Tasks", tasks.to_str().unwrap()]);
    for needle in [
        "line 3: column `Due_Date`: \"10000-01-01\" has the year 10000; csip takes years 1 to 9999",
        "line 4: column `Created_Date`: \"0000-06-01T08:00:00\" has the year 0",
    ] {
        assert!(err.contains(needle), "{needle} in\n{err}");
    }
    assert!(!err.contains("line 2"), "{err}");
    let accounts = dir.path().join("accounts.csv");
    std::fs::write(
        &accounts,
        "Account_Name,Customer_Success_Manager,ARR\n\
         Exact AS,Kari Nordmann,1234567890.123456789012345678\n\
         Rounded AS,Kari Nordmann,1234567890.1234567890123456789\n",
    )
    .unwrap();
    let err = run_err(&[
        "import",
        "--db",
        db,
        "Account_Master",
        accounts.to_str().unwrap(),
    ]);
    assert!(
        err.contains(
            "line 3: column `ARR`: \"1234567890.1234567890123456789\" has 29 significant digits; csip keeps at most 28 exactly"
        ),
        "{err}"
    );
    assert!(!err.contains("line 2"), "{err}");
}

#[test]
fn tokens_are_listed_without_their_secret_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let db = db.to_str().unwrap();
    run(&["init", "--db", db, "--sample", "--today", "2026-11-24"]);
    let o = run(&["token", "list", "--db", db]);
    assert!(stdout(&o).contains("has no tokens"), "{}", stdout(&o));
    let token = |person: &str, role: &str| {
        let o = run(&[
            "token", "create", "--db", db, "--person", person, "--role", role,
        ]);
        stdout(&o).lines().next().unwrap().to_string()
    };
    let kari = token("Kari Nordmann", "csm");
    let lars = token("lars berg", "viewer");
    let o = run(&["token", "list", "--db", db]);
    let listed = stdout(&o);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "a header, a rule and one line per token:\n{listed}"
    );
    for word in ["id", "person", "role", "created", "last used", "revoked"] {
        assert!(lines[0].contains(word), "{listed}");
    }
    assert!(
        lines[2].contains("Kari Nordmann") && lines[2].contains("csm"),
        "{listed}"
    );
    assert!(
        lines[3].contains("Lars Berg") && lines[3].contains("viewer"),
        "{listed}"
    );
    assert!(
        lines[2].contains("never") && lines[2].trim_end().ends_with("no"),
        "{listed}"
    );
    for secret in [&kari, &lars] {
        assert!(!listed.contains(&secret[5..15]), "no secret in\n{listed}");
    }
    let id = lines[2].split_whitespace().next().unwrap();
    let o = run(&["token", "revoke", "--db", db, id]);
    assert!(
        stdout(&o).contains(&format!("revoked token {id} (Kari Nordmann, csm)")),
        "{}",
        stdout(&o)
    );
    let o = run(&["token", "list", "--db", db]);
    let line = stdout(&o).lines().nth(2).unwrap().to_string();
    assert!(!line.trim_end().ends_with("no"), "{line}");
    let err = run_err(&["token", "revoke", "--db", db, id]);
    assert!(
        err.contains(&format!("token {id} is already revoked")),
        "{err}"
    );
    let err = run_err(&["token", "revoke", "--db", db, "99"]);
    assert!(
        err.contains("has no token 99") && err.contains("csip token list"),
        "{err}"
    );
}
