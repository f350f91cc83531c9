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
    assert_eq!(views, 60, "{text}");
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
