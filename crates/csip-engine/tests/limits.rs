//! Evaluations under a budget (DESIGN §5 "Limits"): a formula that would run
//! for minutes or allocate gigabytes ends with the `limit` error naming the
//! limit it ran into, and cells hold the error instead of an oversized value.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    Budget, CancelFlag, CaseFile, ErrorKind, Exceeded, Function, Limits, Transaction, Value,
    Workbook,
};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A table of `n` tasks.
fn tasks(n: usize) -> Workbook {
    let rows: Vec<String> = (0..n)
        .map(|i| format!("[\"T{i}\", {}, \"{}\"]", i % 7, ["a", "b"][i % 2]))
        .collect();
    let text = format!(
        r#"
today = "2026-11-24"
[[tables]]
name = "Tasks"
columns = [
  {{ name = "Title", type = "text" }},
  {{ name = "N", type = "number" }},
  {{ name = "Kind", type = "text" }},
]
rows = [{}]
"#,
        rows.join(",\n")
    );
    CaseFile::parse("tasks.toml", &text)
        .unwrap()
        .workbook()
        .clone()
}

fn limit(v: &Value) -> Option<String> {
    match v {
        Value::Error(e) if e.kind == ErrorKind::Limit => Some(e.message.clone()),
        _ => None,
    }
}

/// `CountIf` over Tasks nested three deep: 1,000³ = a billion tests.
const NESTED_COUNTIF: &str =
    "CountIf([Tasks], CountIf([Tasks], CountIf([Tasks], [N] = 3) > [N]) > 0)";

#[test]
fn nested_countif_stops_at_its_steps() {
    let wb = tasks(1000);
    let budget = Budget::new(Limits {
        max_steps: Some(1_000_000),
        ..Limits::default()
    });
    let v = wb.eval_within(NESTED_COUNTIF, None, &budget).unwrap();
    let message = limit(&v).unwrap_or_else(|| panic!("{v:?}"));
    assert!(message.contains("1,000,000 steps"), "{message}");
    assert_eq!(budget.exceeded(), Some(Exceeded::Steps));
    assert!(budget.steps() <= 1_000_000 + 8192, "{}", budget.steps());
}

#[test]
fn a_deadline_and_a_cancel_flag_end_it() {
    let wb = tasks(1000);
    // The host's clock, here a count of looks: past the third, time is up.
    let looks = Arc::new(AtomicU32::new(0));
    let seen = looks.clone();
    let budget =
        Budget::default().with_deadline("2 s", move || seen.fetch_add(1, Ordering::Relaxed) >= 3);
    let v = wb.eval_within(NESTED_COUNTIF, None, &budget).unwrap();
    let message = limit(&v).unwrap_or_else(|| panic!("{v:?}"));
    assert!(message.contains("time limit (2 s)"), "{message}");
    assert_eq!(looks.load(Ordering::Relaxed), 4, "polled until it passed");

    let flag = CancelFlag::new();
    flag.cancel();
    let budget = Budget::default().with_cancel(flag);
    let v = wb.eval_within(NESTED_COUNTIF, None, &budget).unwrap();
    assert!(limit(&v).unwrap().contains("cancelled"), "{v:?}");
    // A view stops the same way.
    assert_eq!(budget.exceeded(), Some(Exceeded::Cancelled));
}

#[test]
fn a_formula_within_its_budget_is_untouched() {
    let wb = tasks(1000);
    let budget = Budget::new(Limits::request());
    let v = wb
        .eval_within("CountIf([Tasks], [N] = 3)", None, &budget)
        .unwrap();
    assert_eq!(v, Value::from(143));
    assert_eq!(budget.exceeded(), None);
}

#[test]
fn the_limit_wins_over_iferror_and_a_fallback() {
    let wb = tasks(1000);
    let budget = Budget::new(Limits {
        max_steps: Some(100_000),
        ..Limits::default()
    });
    let formula = format!("IfError({NESTED_COUNTIF}, 0) + IfBlank(0, 1)");
    let v = wb.eval_within(&formula, None, &budget).unwrap();
    assert!(limit(&v).is_some(), "{v:?}");
}

#[test]
fn bytes_in_all_are_counted_across_values() {
    let wb = tasks(10);
    let budget = Budget::new(Limits {
        max_bytes: Some(2 << 20),
        ..Limits::default()
    });
    // Each value (1,000,000 bytes) is under the 1 MiB cap; together they are not.
    let hundred = "{1}".repeat(100);
    let big = format!("Format(\"{hundred}\", Format(\"{hundred}\", Format(\"{hundred}\", \"x\")))");
    let formula = format!("Len({big}) + Len({big}) + Len({big})");
    let v = wb.eval_within(&formula, None, &budget).unwrap();
    assert!(limit(&v).unwrap().contains("2 MiB of text"), "{v:?}");
    assert_eq!(budget.exceeded(), Some(Exceeded::Bytes));
}

#[test]
fn a_cell_over_a_cap_holds_the_error_and_the_rest_computes() {
    let text = r#"
today = "2026-11-24"
[[tables]]
name = "T"
columns = [
  { name = "Word", type = "text" },
  { name = "Times", type = "number" },
  { name = "Big", type = "text", formula = 'Format("{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}", If([Times] > 1, Format("{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}", Format("{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}", Format("{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}", Format("{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}", [Word])))), [Word]))' },
  { name = "Size", type = "number", formula = 'IfError(Len([Big]), -1)' },
]
rows = [["abcdefghijklmnopqrstuvwxyz", 1, "", ""]]
"#;
    let mut wb = CaseFile::parse("t.toml", text).unwrap().workbook().clone();
    let t = wb.table_id("T").unwrap();
    let (times, big, size) = (
        wb.column_id(t, "Times").unwrap(),
        wb.column_id(t, "Big").unwrap(),
        wb.column_id(t, "Size").unwrap(),
    );
    let row = wb.rows(t).unwrap()[0];
    assert_eq!(wb.value(size, row).ok(), Some(&Value::from(260)));
    // 26 × 10^5 = 2.6 MB: over the cap of one value.
    let changes = wb.apply(Transaction::new().set(times, row, 2)).unwrap();
    assert!(limit(&changes.get(big, row).unwrap().new).is_some());
    let size_now = wb.value(size, row).unwrap();
    assert!(
        limit(size_now).is_some(),
        "IfError does not catch it: {size_now:?}"
    );
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_format_error_names_the_placeholder() {
    let wb = tasks(1);
    let v = wb.eval(r#"Format("{1} of {3}", "a", "b")"#, None).unwrap();
    let Value::Error(e) = v else { panic!("{v:?}") };
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(
        e.message,
        "placeholder 2 of the template, `{3}`, has no value: 2 values follow the template, `{1}` to `{2}`"
    );
}

fn pieces() -> Vec<String> {
    let mut p: Vec<String> = [
        "(",
        ")",
        ",",
        ",",
        ",",
        "=",
        ">",
        "&",
        "+",
        "*",
        " AND ",
        " OR ",
        "1",
        "3",
        "1000000",
        "10000000000000000000000000000",
        "\"a\"",
        "\"\"",
        "\"{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}\"",
        "[Tasks]",
        "[N]",
        "[Title]",
        "[Kind]",
        ".[N]",
        ".[Title]",
        "thisRow",
        "CurrentValue",
        "Date(1, 1, 1)",
        "Date(9999, 12, 31)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    p.extend(Function::names().map(|n| format!("{n}(")));
    // Deep nesting and repetition: a few whole expensive formulas as pieces.
    p.push(NESTED_COUNTIF.to_string());
    p.push("Format(\"{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}\", ".to_string());
    p.push("Split(".to_string());
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Any formula, however nested and however large its counts, ends within
    /// its budget: no panic, steps within a window of the limit, and a run
    /// that hit a limit answers the `limit` error.
    #[test]
    fn no_formula_overruns_its_budget(picks in prop::collection::vec(any::<prop::sample::Index>(), 1..40)) {
        let pieces = pieces();
        let formula: String = picks.iter().map(|i| i.get(&pieces).as_str()).collect();
        within_budget(&formula)?;
    }
}

/// Evaluates `formula` on the first of 300 tasks under a budget of 200,000
/// steps and 16 MiB: no panic; past a limit, the `limit` error whatever the
/// formula did with it; within the limits, steps within a window of them.
/// (What is charged in one piece before the work — a sort, a pairwise
/// comparison — may pass the limit, and is then refused before it runs.)
fn within_budget(formula: &str) -> Result<(), TestCaseError> {
    static TASKS: std::sync::OnceLock<Workbook> = std::sync::OnceLock::new();
    let wb = TASKS.get_or_init(|| tasks(300));
    let budget = Budget::new(Limits {
        max_steps: Some(200_000),
        max_bytes: Some(16 << 20),
        ..Limits::default()
    });
    let tasks = wb.table_id("Tasks").unwrap();
    let on = Some((tasks, wb.rows(tasks).unwrap()[0]));
    if let Ok(v) = wb.eval_within(formula, on, &budget) {
        let _ = wb.display(&v);
        if budget.exceeded().is_some() {
            prop_assert!(limit(&v).is_some(), "{formula}: {v:?}");
        }
    }
    if budget.exceeded().is_none() {
        prop_assert!(
            budget.steps() <= 200_000 + 8192,
            "{formula}: {} steps",
            budget.steps()
        );
    }
    Ok(())
}

/// Formulas from the grammar: literals (huge counts among them), columns,
/// operators, every function with up to four arguments, predicates over
/// Tasks and Format templates, nested up to eight deep.
fn formula() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "1",
        "0",
        "-3",
        "2.5",
        "1000000",
        "10000000000000000000000000000",
        "\"a\"",
        "\"\"",
        "\"{1}{1}{1}{1}{1}{1}{1}{1}{1}{1}\"",
        "[N]",
        "[Title]",
        "[Kind]",
        "[Tasks]",
        "[Tasks].[Title]",
        "thisRow",
        "CurrentValue",
        "Today()",
        "true",
        "Date(9999, 12, 31)",
    ])
    .prop_map(str::to_string);
    let functions: Vec<&'static str> = Function::names().collect();
    leaf.prop_recursive(8, 512, 4, move |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "&", "=", ">", " AND ", " OR "]),
            )
                .prop_map(|(a, b, op)| format!("({a}{op}{b})")),
            (
                prop::sample::select(functions.clone()),
                prop::collection::vec(inner.clone(), 0..4),
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            inner.clone().prop_map(|a| format!("Filter([Tasks], {a})")),
            inner.clone().prop_map(|a| format!("CountIf([Tasks], {a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!(
                "Format(\"{{1}}{{1}}{{1}}{{1}}{{1}}{{2}}{{2}}{{2}}\", {a}, {b})"
            )),
            inner.clone().prop_map(|a| format!("({a}).[N]")),
            inner.prop_map(|a| format!("NOT {a}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The same, over formulas built from the grammar rather than from
    /// tokens: they parse more often, so they reach deeper into the evaluator.
    #[test]
    fn no_formula_from_the_grammar_overruns_its_budget(formula in formula()) {
        within_budget(&formula)?;
    }
}
