//! The CSIP schema written back to table files (`Schema::to_table_files`)
//! and as JSON (csip-engine's `serde` feature) reads back equal. Here rather
//! than in csip-engine, which cannot depend on this crate.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{Clock, Schema, Workbook, schema_from_files};

/// The schema without where each piece sits in its file, which writing and
/// reading again moves (and which JSON does not carry).
fn without_origins(schema: Schema) -> Schema {
    schema.without_origins()
}

#[test]
fn csip_table_files_written_back_read_back_equal() {
    let original = csip_workbook::schema().unwrap();
    let files = original.to_table_files().unwrap();
    let again = schema_from_files(&files).unwrap();
    assert_eq!(without_origins(again.clone()), without_origins(original));
    // Written again, the same files.
    assert_eq!(again.to_table_files().unwrap(), files);
}

#[test]
fn csip_table_files_written_back_look_like_the_originals() {
    let files = csip_workbook::schema().unwrap().to_table_files().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let originals = csip_workbook::table_files();
    let original_names: Vec<&str> = originals
        .iter()
        .map(|f| f.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, original_names);
    for (written, original) in files.iter().zip(&originals) {
        // Every formula line of the original, as its author wrote it.
        for line in original.text.lines() {
            if line.starts_with("formula = '") || line.starts_with("filter = '") {
                assert!(
                    written.text.lines().any(|l| l == line),
                    "{}: `{line}` not written as is",
                    written.path
                );
            }
        }
        // The same keys and tables, no more: only the originals' own `#`
        // comments are not kept (and the order of a column's keys may differ).
        let keys = |text: &str| -> Vec<String> {
            let mut keys: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with([' ', '#', ']']) && !l.is_empty())
                .map(|l| l.split(" = ").next().unwrap_or(l).to_string())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(
            keys(&written.text),
            keys(&original.text),
            "{}",
            written.path
        );
    }
}

#[test]
fn the_pilot_loads_from_written_table_files_with_the_same_values() {
    let today = csip_workbook::sample_today();
    let written = csip_workbook::schema().unwrap().to_table_files().unwrap();
    let from_written =
        Workbook::load_files(&written, &csip_workbook::data_files(), Clock::on(today), 0).unwrap();
    let pilot = csip_workbook::pilot(today).unwrap();
    for table in pilot.tables() {
        // Two workbooks: the written one's ids are its own, found by name.
        let written_table = from_written
            .table_id(pilot.table_name(table).unwrap())
            .unwrap();
        for &column in pilot.columns(table).unwrap() {
            let written_column = from_written
                .column_id(written_table, pilot.column_name(column).unwrap())
                .unwrap();
            for &row in pilot.rows(table).unwrap() {
                assert_eq!(
                    from_written.value(written_column, row),
                    pilot.value(column, row),
                    "{}.{} row {row}",
                    pilot.table_name(table).unwrap(),
                    pilot.column_name(column).unwrap()
                );
            }
        }
    }
}

#[test]
fn csip_schema_as_json_reads_back_equal() {
    let original = without_origins(csip_workbook::schema().unwrap());
    let json = serde_json::to_string_pretty(&original).unwrap();
    let back: Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(back, original);
    assert!(
        json.contains(
            r#""type": {
            "people": {
              "table": "People_Team",
              "multiple": false
            }
          },"#
        ),
        "{json}"
    );
    // And JSON to table files: a schema received as JSON can be saved.
    let files = back.to_table_files().unwrap();
    assert_eq!(
        without_origins(schema_from_files(&files).unwrap()),
        original
    );
}
