//! Untrusted formulas, evaluated end to end (parse, bind, plan, evaluate)
//! against a small workbook: a value, an error value or a formula error, never
//! a panic.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{CaseFile, Function};
use proptest::prelude::*;

const WORKBOOK: &str = r#"
today = "2026-11-24"
[[tables]]
name = "Accounts"
columns = [
  { name = "Name", type = "text" },
  { name = "ARR", type = "currency" },
  { name = "Renewal", type = "date" },
  { name = "Tags", type = "multi-select", options = ["a", "b"] },
  { name = "Score", type = "number", formula = "Average(Filter([Metrics], [Account] = thisRow).[V])" },
]
rows = [["Gard", 100, "2027-01-01", ["a"], ""], ["Acme", "", "", [], ""]]
[[tables]]
name = "Metrics"
columns = [
  { name = "Account", type = "relation", table = "Accounts" },
  { name = "V", type = "number" },
]
rows = [["Gard", 80], ["Gard", ""], ["Acme", -1]]
"#;

fn pieces() -> Vec<String> {
    let mut p: Vec<String> = [
        "(",
        ")",
        ",",
        ",",
        ".",
        "=",
        "<",
        ">=",
        "&",
        "+",
        "-",
        "*",
        "/",
        " AND ",
        " OR ",
        "NOT ",
        "thisRow",
        "thisTable",
        "CurrentValue",
        "true",
        "1",
        "0",
        "-1",
        "2.5",
        "99999999999999999999999999999",
        "0.0000000000000000000000000001",
        "\"\"",
        "\"a\"",
        "\"00.#\"",
        "\"{1}\"",
        "\"2026-01-31\"",
        "[Accounts]",
        "[Metrics]",
        "[ARR]",
        "[Renewal]",
        "[Tags]",
        "[Score]",
        "[Account]",
        "[V]",
        "[Name]",
        ".[ARR]",
        ".[V]",
        ".[Account]",
        ".Count()",
        ".Sum()",
        "Today()",
        "Now()",
        "Date(9999, 12, 31)",
        "Date(1, 1, 1)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    p.extend(Function::names().map(|n| format!("{n}(")));
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn formulas_never_panic(picks in prop::collection::vec(any::<prop::sample::Index>(), 1..24), row in 0usize..3) {
        let file = CaseFile::parse("wb.toml", WORKBOOK).unwrap();
        let wb = file.workbook();
        let pieces = pieces();
        let formula: String = picks.iter().map(|i| i.get(&pieces).as_str()).collect();
        let accounts = wb.table_id("Accounts").unwrap();
        let context = wb.row_at(accounts, row).ok().map(|r| (accounts, r));
        if let Ok(v) = wb.eval(&formula, context) {
            let _ = wb.display(&v);
        }
    }
}
