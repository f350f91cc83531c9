//! `docs/formula-language.md` is the language reference, and its examples are
//! tests, so that they cannot go stale:
//!
//! - every row of a table headed `| formula | result |` (or
//!   `| formula | on | result |`, `on` naming the row the formula runs on, as
//!   `Products 2`) is evaluated against the document's sample workbook (its
//!   ```` ```toml example-workbook ```` blocks) and must give the result;
//! - every row of a table headed `| view | parameters | rows |` evaluates a
//!   view of the sample workbook with the parameters (`name = formula, ...`)
//!   and must show the rows, in that order (`List(...)` of their display
//!   text);
//! - every function of the library has its `### Name` section, with an
//!   example that calls it; every error kind is the result of an example.
//!
//! A disagreement is reported with its line in the document, all at once.

#![allow(clippy::unwrap_used)] // a test: a broken document fails it

use csip_engine::{
    Clock, ErrorKind, Function, NaiveDate, RowId, SourceFile, TableId, Value, Workbook, parse_date,
    parse_datetime,
};

const PATH: &str = "docs/formula-language.md";
const DOC: &str = include_str!("../../../docs/formula-language.md");

/// The clock the examples run at (the document says so).
fn clock() -> Clock {
    Clock::at(
        NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
    )
}

/// The sample workbook: table files (`name = ...`) and data files
/// (`table = ...`) written in the document.
fn sample() -> Workbook {
    let (mut tables, mut data) = (Vec::new(), Vec::new());
    let mut block: Option<(usize, String)> = None;
    for (i, line) in DOC.lines().enumerate() {
        match &mut block {
            None if line.trim() == "```toml example-workbook" => {
                block = Some((i + 1, String::new()))
            }
            None => {}
            Some((start, text)) if line.trim() == "```" => {
                let file = SourceFile::new(format!("{PATH} (block at line {start})"), text.clone());
                if text.trim_start().starts_with("table =") {
                    data.push(file);
                } else {
                    tables.push(file);
                }
                block = None;
            }
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(
        !tables.is_empty(),
        "{PATH} has no ```toml example-workbook blocks"
    );
    Workbook::load_files(&tables, &data, clock(), 0).unwrap_or_else(|e| panic!("{e}"))
}

/// A table's cells, without the outer pipes.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// The text of a code span: `` `x` `` is `x`.
fn code(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

#[derive(Debug)]
enum Table {
    Formulas { on: bool },
    Views,
}

/// One example: its line, and what it is.
#[derive(Debug)]
enum Example<'d> {
    Formula {
        line: usize,
        formula: &'d str,
        on: Option<&'d str>,
        result: &'d str,
    },
    View {
        line: usize,
        view: &'d str,
        params: Option<&'d str>,
        rows: &'d str,
    },
}

fn examples() -> Vec<Example<'static>> {
    let mut out = Vec::new();
    let mut table: Option<Table> = None;
    let mut fenced = false;
    for (i, line) in DOC.lines().enumerate() {
        let n = i + 1;
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let Some(cells) = cells(line) else {
            table = None;
            continue;
        };
        let header: Vec<String> = cells.iter().map(|c| c.to_lowercase()).collect();
        match header
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["formula", "result"] | ["formula", "result", _] => {
                table = Some(Table::Formulas { on: false });
                continue;
            }
            ["formula", "on", "result"] | ["formula", "on", "result", _] => {
                table = Some(Table::Formulas { on: true });
                continue;
            }
            ["view", "parameters", "rows"] | ["view", "parameters", "rows", _] => {
                table = Some(Table::Views);
                continue;
            }
            _ => {}
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            continue; // the separator under a header
        }
        let bad = |what: &str| panic!("{PATH}:{n}: {what}: {line}");
        match table {
            None => {}
            Some(Table::Formulas { on }) => {
                let (formula, on, result) = if on {
                    (cells[0], Some(cells[1]), cells[2])
                } else {
                    (cells[0], None, cells[1])
                };
                let formula = code(formula).unwrap_or_else(|| bad("a formula is a code span"));
                let result = code(result).unwrap_or_else(|| bad("a result is a code span"));
                let on = on.filter(|c| !c.is_empty() && *c != "—");
                out.push(Example::Formula {
                    line: n,
                    formula,
                    on,
                    result,
                });
            }
            Some(Table::Views) => {
                let view = code(cells[0]).unwrap_or_else(|| bad("a view is a code span"));
                let params = code(cells[1]);
                let rows = code(cells[2]).unwrap_or_else(|| bad("rows are a code span"));
                out.push(Example::View {
                    line: n,
                    view,
                    params,
                    rows,
                });
            }
        }
    }
    out
}

/// `Products 2`: the second row of Products.
fn row_of(wb: &Workbook, on: &str) -> Result<(TableId, RowId), String> {
    let (table, n) = on
        .rsplit_once(' ')
        .ok_or_else(|| format!("`{on}` is not `Table N`"))?;
    let t = wb.table_id(table).map_err(|e| e.to_string())?;
    let n: usize = n
        .parse()
        .map_err(|_| format!("`{n}` is not a row number"))?;
    let row = wb
        .row_at(t, n)
        .ok()
        .ok_or_else(|| format!("`{table}` has no row {n}"))?;
    Ok((t, row))
}

/// What an example's result cell stands for.
enum Expected {
    Value(Value),
    Error(ErrorKind),
}

fn expected(wb: &Workbook, result: &str) -> Result<Expected, String> {
    if let Some(kind) = result.strip_prefix('#') {
        return ErrorKind::from_name(kind)
            .map(Expected::Error)
            .ok_or_else(|| format!("`{result}`: no error kind `{kind}`"));
    }
    if result == "Blank" {
        return Ok(Expected::Value(Value::Blank));
    }
    let looks_like_date = result.len() >= 10
        && result.as_bytes()[4] == b'-'
        && result.as_bytes()[7] == b'-'
        && result[..4].bytes().all(|b| b.is_ascii_digit());
    if looks_like_date {
        if let Ok(d) = parse_date(result) {
            if result.len() == 10 {
                return Ok(Expected::Value(Value::Date(d)));
            }
        }
        return parse_datetime(result)
            .map(|d| Expected::Value(Value::DateTime(d)))
            .map_err(|e| format!("`{result}` {e}"));
    }
    // Anything else is written as a formula with no row (`3`, `"text"`,
    // `List(1, 2)`, `true`).
    match wb.eval(result, None) {
        Ok(Value::Error(e)) => Err(format!("the result `{result}` is itself an error: {e}")),
        Ok(v) => Ok(Expected::Value(v)),
        Err(e) => Err(format!("the result `{result}` does not evaluate: {e}")),
    }
}

fn describe(wb: &Workbook, v: &Value) -> String {
    match v {
        Value::Error(e) => format!("#{}", e.kind),
        Value::Blank => "Blank".into(),
        Value::Text(t) => format!("{t:?}"),
        Value::Row(t, r) => format!("row {r} of {}", wb.table_name(*t).unwrap()),
        Value::List(items) => format!(
            "List({})",
            items
                .iter()
                .map(|i| describe(wb, i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => wb.display(other),
    }
}

fn check_formula(
    wb: &Workbook,
    formula: &str,
    on: Option<&str>,
    result: &str,
) -> Result<(), String> {
    let row = on.map(|on| row_of(wb, on)).transpose()?;
    let want = expected(wb, result)?;
    let got = wb.eval(formula, row);
    match (got, want) {
        (Ok(Value::Error(e)), Expected::Error(kind)) if e.kind == kind => Ok(()),
        (Err(e), Expected::Error(kind)) if e.kind == kind => Ok(()),
        (Ok(v), Expected::Value(w)) if v.identical(&w) => Ok(()),
        (Ok(v), _) => Err(format!(
            "`{formula}` gives `{}`{}, the document says `{result}`",
            describe(wb, &v),
            v.as_error()
                .map(|e| format!(" ({})", e.message))
                .unwrap_or_default()
        )),
        (Err(e), _) => Err(format!(
            "`{formula}` does not evaluate ({e}), the document says `{result}`"
        )),
    }
}

/// `a = 1, b = "x, y"`: split at the commas outside quotes and parentheses.
fn split_params(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

fn check_view(wb: &Workbook, view: &str, params: Option<&str>, rows: &str) -> Result<(), String> {
    let mut given = Vec::new();
    for p in split_params(params.unwrap_or("")) {
        let (name, formula) = p
            .split_once('=')
            .ok_or_else(|| format!("the parameter `{p}` is not `name = value`"))?;
        let value = wb
            .eval(formula.trim(), None)
            .map_err(|e| format!("the parameter value `{formula}` does not evaluate: {e}"))?;
        given.push((name.trim(), value));
    }
    let want = wb
        .eval(rows, None)
        .map_err(|e| format!("the rows `{rows}` do not evaluate: {e}"))?;
    let result = wb.view(view, &given).map_err(|e| e.to_string())?;
    let shown: Vec<String> = result
        .rows()
        .map(|r| wb.display(&Value::Row(result.table, r.row)))
        .collect();
    let want: Vec<String> = want.elements().iter().map(|v| wb.display(v)).collect();
    if shown == want {
        Ok(())
    } else {
        Err(format!(
            "the view `{view}` shows {shown:?}, the document says {want:?}"
        ))
    }
}

#[test]
fn every_example_gives_its_result() {
    let wb = sample();
    let examples = examples();
    assert!(
        examples.len() > 100,
        "only {} examples found",
        examples.len()
    );
    let mut failures = Vec::new();
    for example in &examples {
        let (line, outcome) = match *example {
            Example::Formula {
                line,
                formula,
                on,
                result,
            } => (line, check_formula(&wb, formula, on, result)),
            Example::View {
                line,
                view,
                params,
                rows,
            } => (line, check_view(&wb, view, params, rows)),
        };
        if let Err(e) = outcome {
            failures.push(format!("{PATH}:{line}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples disagree with the engine:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}

/// The `### Name` sections, each with its lines.
fn sections() -> Vec<(usize, &'static str, Vec<&'static str>)> {
    let mut out: Vec<(usize, &str, Vec<&str>)> = Vec::new();
    for (i, line) in DOC.lines().enumerate() {
        if let Some(title) = line.strip_prefix("### ") {
            out.push((i + 1, title.trim(), Vec::new()));
        } else if line.starts_with("## ") || line.starts_with("# ") {
            out.push((i + 1, "", Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.2.push(line);
        }
    }
    out
}

#[test]
fn every_function_has_a_section_with_an_example() {
    let sections = sections();
    let examples = examples();
    let mut problems = Vec::new();
    for name in Function::names() {
        let Some((line, _, _)) = sections.iter().find(|(_, title, _)| *title == name) else {
            problems.push(format!(
                "{PATH}: no `### {name}` section for the function {name}"
            ));
            continue;
        };
        let end = sections
            .iter()
            .map(|(l, _, _)| *l)
            .find(|l| l > line)
            .unwrap_or(usize::MAX);
        let call = format!("{}(", name.to_lowercase());
        let has_example = examples.iter().any(|e| match e {
            Example::Formula {
                line: l, formula, ..
            } => *l > *line && *l < end && formula.to_lowercase().contains(&call),
            Example::View { line: l, .. } => *l > *line && *l < end,
        });
        if !has_example {
            problems.push(format!(
                "{PATH}:{line}: the section of {name} has no example that calls it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_error_kind_is_an_example_result() {
    let examples = examples();
    let missing: Vec<&str> = ErrorKind::ALL
        .iter()
        .map(|k| k.name())
        .filter(|name| {
            !examples.iter().any(|e| {
                matches!(e, Example::Formula { result, .. } if result.strip_prefix('#') == Some(*name))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{PATH}: no example gives these error kinds: {missing:?}"
    );
}

#[test]
fn the_reference_names_no_document_outside_the_repository() {
    for (i, line) in DOC.lines().enumerate() {
        for outside in ["DESIGN", "shared/"] {
            assert!(
                !line.contains(outside),
                "{PATH}:{}: names `{outside}`, which is not in this repository",
                i + 1
            );
        }
    }
}
