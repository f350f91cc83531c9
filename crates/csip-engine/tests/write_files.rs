//! `Schema::to_table_files`: what it writes reads back as the schema it was
//! written from, whatever the text holds; what could not is reported, all
//! of it, and nothing is written. (The CSIP workbook's own table files are
//! written back in csip-workbook's `tests/schema_files.rs`.)

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    ColumnSchema, ColumnType, Decimal, ErrorKind, FieldSchema, FormulaText, NaiveDate, ParamSchema,
    RowId, Schema, SchemaWriteProblem, SortKey, SourceFile, TableSchema, TileSchema, Value,
    ViewLayout, ViewSchema, schema_from_files,
};
use proptest::prelude::*;

/// The schema without where each piece sat in its file.
fn without_origins(schema: Schema) -> Schema {
    schema.without_origins()
}

/// Written, read back: equal; written again: the same files.
fn reads_back(schema: &Schema) -> Vec<SourceFile> {
    let files = schema
        .to_table_files()
        .unwrap_or_else(|e| panic!("{e}{schema:#?}"));
    let read = schema_from_files(&files).unwrap_or_else(|e| {
        let text: Vec<&str> = files.iter().map(|f| f.text.as_str()).collect();
        panic!("{e}\n{}", text.join("\n----\n"))
    });
    assert_eq!(
        without_origins(read.clone()),
        without_origins(schema.clone())
    );
    assert_eq!(read.to_table_files().unwrap(), files);
    files
}

fn view(name: &str, table: &str) -> ViewSchema {
    ViewSchema {
        name: name.into(),
        table: table.into(),
        ..ViewSchema::default()
    }
}

fn field(name: &str, formula: &str) -> FieldSchema {
    FieldSchema {
        name: name.into(),
        formula: Some(FormulaText::new(formula)),
    }
}

/// A schema that puts `text` everywhere a table file holds text.
fn schema_holding(text: &str) -> Schema {
    let mut formula = ColumnSchema::formula("F", ColumnType::Text, text);
    formula.comment = Some(text.into());
    let mut table = TableSchema::new("T")
        .with_column(ColumnSchema::data("Name", ColumnType::Text).with_default(text))
        .with_column(ColumnSchema::data(
            "Pick",
            ColumnType::MultiSelect(vec![text.into(), "b".into()]),
        ))
        .with_column(formula);
    table.comment = Some(text.into());
    let mut v = view("V", "T");
    v.filter = Some(FormulaText::new(text));
    v.fields = vec![field(text, text), field("Plain", "[Name]")];
    v.tiles = vec![TileSchema {
        name: text.into(),
        formula: FormulaText::new(text),
    }];
    v.group_order = vec![text.into()];
    v.include = vec![text.into()];
    v.comment = Some(text.into());
    Schema {
        tables: vec![table],
        views: vec![v],
        names: Vec::new(),
    }
}

#[test]
fn tricky_text_reads_back_as_written() {
    for text in [
        r#"If([A] = "x", "it's", 'y')"#,
        "'",
        "''",
        "'''",
        "''''",
        "'starts",
        "ends'",
        "a ''' b",
        r#""double" and 'single'"#,
        r"back\slash \n not a newline \u0041",
        "line one\nline two",
        "\nstarts with a newline",
        "ends with a newline\n",
        "windows\r\nline",
        "lone\rreturn",
        "tab\there",
        "bell\u{7} and nul\u{0} and del\u{7f}",
        "C1 control \u{85} and bidi \u{202e}",
        "emoji 🔴 🟢 → and 日本語",
        "\u{feff}byte order mark",
        "[Amount] * 0.25 # not a comment",
        "= \"#\"",
        " spaces around ",
    ] {
        let files = reads_back(&schema_holding(text));
        // A formula is single-quoted whenever its text allows.
        if !text.contains('\'') && !text.chars().any(|c| c.is_ascii_control() && c != '\t') {
            assert!(
                files[0].text.contains(&format!("formula = '{text}'")),
                "{}",
                files[0].text
            );
        }
    }
}

#[test]
fn formulas_over_several_lines_are_written_as_people_write_them() {
    let formula = "If(\n  [A] > 0,\n  \"up\",\n  \"down\"\n)";
    let files = reads_back(&Schema::new().with_table(
        TableSchema::new("T").with_column(ColumnSchema::formula("F", ColumnType::Text, formula)),
    ));
    assert_eq!(
        files[0].text,
        "name = \"T\"\n\n[[columns]]\nname = \"F\"\ntype = \"text\"\nformula = '''\nIf(\n  [A] > 0,\n  \"up\",\n  \"down\"\n)'''\n"
    );
}

#[test]
fn every_key_the_loader_reads_is_written() {
    let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let mut accounts = TableSchema::new("Account Master / Ünïcode")
        .with_column(
            ColumnSchema::data("Name", ColumnType::Text)
                .required()
                .unique(),
        )
        .with_column(ColumnSchema::data(
            "Score",
            ColumnType::Slider {
                min: Decimal::new(-5, 1),
                max: Decimal::new(10, 0),
            },
        ))
        .with_column(ColumnSchema::data(
            "Owner",
            ColumnType::People {
                table: "People".into(),
                multiple: true,
            },
        ))
        .with_column(ColumnSchema::data(
            "Parent",
            ColumnType::Relation {
                table: "Account Master / Ünïcode".into(),
                multiple: false,
            },
        ));
    accounts.display_column = Some("Name".into());
    for (i, (ty, default)) in [
        (ColumnType::Number, Value::Blank),
        (ColumnType::Number, Value::from(-42)),
        (
            ColumnType::Number,
            Value::Number(Decimal::new(12_345_678_901_234, 4)),
        ),
        (
            ColumnType::Number,
            Value::Number(Decimal::from_i128_with_scale(10_i128.pow(25), 0)),
        ),
        (ColumnType::Percent, Value::Number(Decimal::new(-1, 28))),
        (ColumnType::Checkbox, Value::from(true)),
        (ColumnType::Date, Value::Date(d)),
        (
            ColumnType::Date,
            Value::Date(NaiveDate::from_ymd_opt(1, 1, 1).unwrap()),
        ),
        (
            ColumnType::DateTime,
            Value::DateTime(d.and_hms_opt(0, 0, 0).unwrap()),
        ),
        (
            ColumnType::DateTime,
            Value::DateTime(d.and_hms_nano_opt(23, 59, 59, 999_999_999).unwrap()),
        ),
        (
            ColumnType::MultiSelect(vec!["a".into(), "b".into()]),
            Value::list(vec!["a".into(), "b".into()]),
        ),
        (ColumnType::Attachment, Value::list(vec![])),
        (
            ColumnType::Text,
            Value::list(vec![Value::list(vec![Value::from(1), Value::Date(d)])]),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = ColumnSchema::data(format!("D{i}"), ty).with_default(default);
        c.decimals = Some(u32::try_from(i).unwrap());
        accounts = accounts.with_column(c);
    }
    let people =
        TableSchema::new("People").with_column(ColumnSchema::data("Name", ColumnType::Email));
    let mut board = view("Board", "account master / ünïcode");
    board.layout = ViewLayout::Kanban;
    board.params = vec![
        ParamSchema {
            name: "user".into(),
            ty: ColumnType::People {
                table: "People".into(),
                multiple: false,
            },
            required: true,
        },
        ParamSchema {
            name: "stage".into(),
            ty: ColumnType::Select(vec!["Open".into()]),
            required: false,
        },
        ParamSchema {
            name: "from".into(),
            ty: ColumnType::Date,
            required: false,
        },
    ];
    board.sort = ["Name", "Score", "Sort desc", "Sort asc", "desc"]
        .into_iter()
        .enumerate()
        .map(|(i, field)| SortKey {
            field: field.into(),
            descending: i % 2 == 1,
        })
        .collect();
    board.group_by = Some("Owner".into());
    board.fields = vec![
        FieldSchema {
            name: "Name".into(),
            formula: None,
        },
        field("Twice", "[Score] * 2"),
    ];
    let mut dashboard = view("Dashboard", "People");
    dashboard.layout = ViewLayout::Dashboard;
    dashboard.include = vec!["Board".into()];
    let schema = Schema {
        tables: vec![accounts, people, TableSchema::new("Empty")],
        views: vec![board, dashboard, view("Cards", "People")],
        names: Vec::new(),
    };
    // Views come back with their table's exact name, grouped by table.
    let files = schema.to_table_files().unwrap();
    let mut expected = schema.clone();
    expected.views[0].table = "Account Master / Ünïcode".into();
    reads_back(&expected);
    assert_eq!(
        files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        [
            "01_account_master_ünïcode.toml",
            "02_people.toml",
            "03_empty.toml"
        ]
    );
    let text = &files[0].text;
    for line in [
        "type = \"slider\"\nmin = -0.5\nmax = 10\n",
        "type = \"people\"\ntable = \"People\"\nmultiple = true\n",
        "default = 1234567890.1234\n",
        "default = 10000000000000000000000000.0\n",
        "default = -0.0000000000000000000000000001\n",
        "default = 2026-11-24T23:59:59.999999999\n",
        "default = [[1, 2026-11-24]]\n",
        "layout = \"kanban\"\n",
        "params = [{ name = \"user\", type = \"people\", table = \"People\" }, { name = \"stage\", type = \"select\", options = [\"Open\"], required = false }, { name = \"from\", type = \"date\", required = false }]\n",
        "sort = [\"Name\", \"Score desc\", \"Sort desc asc\", \"Sort asc desc\", \"desc\"]\n",
        "fields = [\"Name\", { name = \"Twice\", formula = '[Score] * 2' }]\n",
    ] {
        assert!(text.contains(line), "{line}\nnot in\n{text}");
    }
    assert_eq!(files[2].text, "name = \"Empty\"\n");
}

#[test]
fn what_cannot_be_read_back_equal_is_reported_all_at_once() {
    let row = Value::Row(any_table(), RowId::from_raw(1));
    let table = TableSchema::new(" Padded")
        .with_column(ColumnSchema::data("Ref", ColumnType::Text).with_default(row))
        .with_column(ColumnSchema::data("Empty", ColumnType::Text).with_default(""))
        .with_column(
            ColumnSchema::data("Err", ColumnType::Text)
                .with_default(Value::error(ErrorKind::Cycle, "x")),
        )
        .with_column(
            ColumnSchema::data("Big", ColumnType::Number).with_default(Value::Number(
                Decimal::from_i128_with_scale(1_234_567_890_123_456_789, 2),
            )),
        )
        .with_column(
            ColumnSchema::data("In list", ColumnType::Text)
                .with_default(Value::list(vec![Value::from(1), Value::from("")])),
        )
        .with_column(ColumnSchema::data(
            "S",
            ColumnType::Slider {
                min: Decimal::ZERO,
                max: Decimal::MAX,
            },
        ));
    let mut v = view("V", " Padded");
    v.params = vec![
        ParamSchema {
            name: "many".into(),
            ty: ColumnType::Relation {
                table: " Padded".into(),
                multiple: true,
            },
            required: true,
        },
        ParamSchema {
            name: "range".into(),
            ty: ColumnType::Slider {
                min: Decimal::ONE,
                max: Decimal::TEN,
            },
            required: true,
        },
    ];
    v.sort = vec![SortKey {
        field: "Big ".into(),
        descending: false,
    }];
    let schema = Schema {
        tables: vec![table],
        views: vec![v, view("Lost", "Nowhere")],
        names: Vec::new(),
    };
    let problems = schema.to_table_files().unwrap_err().problems;
    let said: Vec<String> = problems.iter().map(SchemaWriteProblem::to_string).collect();
    assert_eq!(
        said,
        [
            "error: in ` Padded`: the table name \" Padded\" starts or ends with white space, which the loader trims",
            "error: in ` Padded.Ref`: the default: a row, which a table file has no way to write",
            "error: in ` Padded.Empty`: the default: empty text, which a table file cannot tell from Blank",
            "error: in ` Padded.Err`: the default: an error value (#cycle: x), which a table file has no way to write",
            "error: in ` Padded.Big`: the default: the number 12345678901234567.89 has more digits than a table file's number keeps (a float: 15 significant digits)",
            "error: in ` Padded.In list`: the default: empty text, which a table file cannot tell from Blank",
            "error: in ` Padded.S`: the slider's `max`: the number 79228162514264337593543950335 has more digits than a table file's number keeps (a float: 15 significant digits)",
            "error: in view `V`: the parameter `many` holds several rows, which a table file cannot say of a parameter",
            "error: in view `V`: the parameter `range` has a slider range, which a table file cannot give a parameter (it reads 0 to 100)",
            "error: in view `V`: the sort field \"Big \" starts or ends with white space, which the loader trims",
            "error: in view `Lost`: the view's table `Nowhere` is not in the schema, and a view is written in its table's file",
        ]
    );
}

// ---- any text -------------------------------------------------------------------

/// Text a name may hold: anything the loader does not trim.
fn names() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| {
        let t = s.trim();
        if t.is_empty() {
            "x".to_string()
        } else {
            t.to_string()
        }
    })
}

fn defaults() -> impl Strategy<Value = Value> {
    let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let scalar = prop_oneof![
        Just(Value::Blank),
        any::<i64>().prop_map(Value::from),
        (-999_999_999_999_999_i64..=999_999_999_999_999, 0u32..=28)
            .prop_map(|(m, s)| Value::Number(Decimal::new(m, s))),
        any::<bool>().prop_map(Value::from),
        (-700_000i64..2_900_000).prop_map(move |n| Value::Date(d + chrono::Duration::days(n))),
        (any::<u32>(), 0u32..1_000_000_000).prop_map(move |(s, n)| {
            Value::DateTime(
                d.and_hms_nano_opt(0, 0, 0, n).unwrap() + chrono::Duration::seconds(i64::from(s)),
            )
        }),
        any::<String>()
            .prop_filter("empty text reads as Blank", |s| !s.is_empty())
            .prop_map(Value::from),
    ];
    scalar.prop_recursive(2, 12, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::list)
    })
}

proptest! {
    #[test]
    fn any_text_reads_back_as_written(
        texts in prop::collection::vec(any::<String>(), 6),
        names in prop::collection::vec(names(), 4),
        default in defaults(),
        descending in any::<bool>(),
    ) {
        let mut c = ColumnSchema::formula(names[1].clone(), ColumnType::Number, texts[0].clone());
        c.comment = Some(texts[1].clone());
        let mut table = TableSchema::new(names[0].clone())
            .with_column(c)
            .with_column(ColumnSchema::data(names[2].clone(), ColumnType::Select(texts.clone())).with_default(default));
        table.comment = Some(texts[2].clone());
        table.display_column = Some(texts[3].clone());
        let mut v = view(&texts[4], &names[0]);
        v.filter = Some(FormulaText::new(texts[5].clone()));
        v.sort = vec![SortKey { field: names[3].clone(), descending }];
        v.fields = vec![field(&texts[0], &texts[1])];
        v.tiles = vec![TileSchema { name: texts[2].clone(), formula: FormulaText::new(texts[3].clone()) }];
        reads_back(&Schema {
            tables: vec![table],
            views: vec![v],
            names: Vec::new(),
        });
    }
}

/// Some table id: rows are values only a workbook or a reader makes.
fn any_table() -> csip_engine::TableId {
    let schema = Schema::new()
        .with_table(TableSchema::new("T").with_column(ColumnSchema::data("A", ColumnType::Text)));
    let clock = csip_engine::Clock::on(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    csip_engine::Workbook::new(&schema, clock)
        .unwrap()
        .table_id("T")
        .unwrap()
}
