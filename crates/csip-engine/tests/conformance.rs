//! The conformance suite: every case file under `fixtures/cases/`, one test per
//! file. Adding a case is adding an entry to a file.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::CaseFile;
use std::path::Path;

fn check(path: &Path, text: String) -> datatest_stable::Result<()> {
    let name = path.display().to_string();
    let file = CaseFile::parse(&name, &text).map_err(|e| e.to_string())?;
    let report = file.run();
    let failures: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| {
            format!(
                "{name}:{}: {}\n  formula:  {}\n  expected: {}\n  actual:   {}{}",
                o.line,
                o.name,
                o.formula,
                o.expected,
                o.actual,
                o.note
                    .as_ref()
                    .map(|n| format!("\n  note:     {n}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases failed:\n{}",
            failures.len(),
            report.outcomes.len(),
            failures.join("\n")
        )
        .into())
    }
}

datatest_stable::harness! {
    { test = check, root = "../../fixtures/cases", pattern = r"\.toml$" },
}
