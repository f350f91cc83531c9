//! The CSIP schema written back to table files, and as JSON, reads back equal.

use csip_engine::{Schema, schema_from_files};

/// The schema without where each piece sits in its file, which writing
/// and reading again moves.
fn without_origins(mut schema: Schema) -> Schema {
    for table in &mut schema.tables {
        table.declared = None;
        for column in &mut table.columns {
            column.origin = None;
            column.declared = None;
        }
    }
    for view in &mut schema.views {
        view.declared = None;
        if let Some(f) = &mut view.filter {
            f.origin = None;
        }
        for field in &mut view.fields {
            if let Some(f) = &mut field.formula {
                f.origin = None;
            }
        }
        for tile in &mut view.tiles {
            tile.formula.origin = None;
        }
    }
    schema
}

#[test]
fn csip_table_files_written_back_read_back_equal() {
    let original = schema_from_files(&csip_workbook::table_files()).unwrap();
    let files = original.to_table_files().unwrap();
    for f in &files {
        println!("==== {}\n{}", f.path, f.text);
    }
    let again = schema_from_files(&files).unwrap();
    assert_eq!(without_origins(again), without_origins(original));
}
