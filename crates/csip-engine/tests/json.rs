//! The JSON shapes of the `serde` feature (docs/engine-json.md): exactly
//! as documented, read back equal to what was written, and anything else
//! refused with a sentence that says why.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use chrono::Datelike;
use csip_engine::{
    CellChange, CellId, ChangeSet, Clock, ColumnId, ColumnSchema, ColumnType, Decimal, DeletedRow,
    ErrorKind, FieldSchema, FormulaText, NaiveDate, NaiveDateTime, Op, ParamSchema, RowId, Schema,
    SchemaChange, SortKey, TableId, TableSchema, TileSchema, Transaction, Value, ViewLayout,
    ViewSchema, Workbook,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Ids are made by the workbook; these tests read them from their JSON number.
fn table(n: u32) -> TableId {
    serde_json::from_value(json!(n)).unwrap()
}

fn column(n: u32) -> ColumnId {
    serde_json::from_value(json!(n)).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Written, read back, written again: equal both times.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(x: &T) -> String {
    let text = serde_json::to_string(x).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(&back, x, "{text}");
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    text
}

fn refused<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    match serde_json::from_str::<T>(json) {
        Ok(x) => panic!("{json} was read as {x:?}"),
        Err(e) => e.to_string(),
    }
}

// ---- the documented examples -------------------------------------------------------

/// Every ```json block of docs/engine-json.md after a `<!-- check: Type -->`
/// reads as that type and is written again as it is (with `, read`: reads,
/// and what it reads round-trips).
#[test]
fn the_documented_examples_read_and_write_as_shown() {
    let doc = include_str!("../../../docs/engine-json.md");
    let mut checked = 0;
    for (i, _) in doc.match_indices("<!-- check: ") {
        let rest = &doc[i + "<!-- check: ".len()..];
        let (tag, rest) = rest.split_once(" -->").unwrap();
        let body = rest
            .trim_start()
            .strip_prefix("```json\n")
            .and_then(|b| b.split_once("\n```"))
            .map(|(b, _)| b)
            .unwrap_or_else(|| panic!("no ```json block after `check: {tag}`"));
        let (ty, read_only) = match tag.strip_suffix(", read") {
            Some(ty) => (ty, true),
            None => (tag, false),
        };
        match ty {
            "Value" => check_example::<Value>(body, read_only),
            "CellId" => check_example::<CellId>(body, read_only),
            "Transaction" => check_example::<Transaction>(body, read_only),
            "ChangeSet" => check_example::<ChangeSet>(body, read_only),
            "Schema" => check_example::<Schema>(body, read_only),
            other => panic!("no check for `{other}`"),
        }
        checked += 1;
    }
    assert_eq!(checked, 7, "the examples checked");
}

fn check_example<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    body: &str,
    read_only: bool,
) {
    let x: T = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}:\n{body}"));
    round_trip(&x);
    if !read_only {
        let written = serde_json::to_value(&x).unwrap();
        let shown: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(written, shown, "written:\n{written:#}\nshown:\n{body}");
    }
}

// ---- values -----------------------------------------------------------------------

#[test]
fn each_kind_of_value_has_its_shape() {
    let d = date(2026, 11, 24);
    let cases = [
        (Value::Blank, "null"),
        (
            Value::Number(Decimal::new(1250, 2)),
            r#"{"number":"12.50"}"#,
        ),
        (
            Value::Number(Decimal::MIN),
            r#"{"number":"-79228162514264337593543950335"}"#,
        ),
        (
            Value::Number(Decimal::new(1, 28)),
            r#"{"number":"0.0000000000000000000000000001"}"#,
        ),
        (Value::from("Gard AS"), r#"{"text":"Gard AS"}"#),
        (Value::from(""), r#"{"text":""}"#),
        (Value::from(false), r#"{"bool":false}"#),
        (Value::Date(d), r#"{"date":"2026-11-24"}"#),
        (Value::Date(date(1, 1, 1)), r#"{"date":"0001-01-01"}"#),
        (
            Value::DateTime(d.and_hms_opt(8, 0, 0).unwrap()),
            r#"{"datetime":"2026-11-24T08:00:00"}"#,
        ),
        (
            Value::DateTime(d.and_hms_micro_opt(8, 0, 0, 1).unwrap()),
            r#"{"datetime":"2026-11-24T08:00:00.000001"}"#,
        ),
        (
            Value::Row(table(0), RowId::from_raw(1)),
            r#"{"row":{"table":0,"row":1}}"#,
        ),
        (Value::list(vec![]), r#"{"list":[]}"#),
        (
            Value::list(vec![Value::Blank, Value::list(vec![Value::from(1)])]),
            r#"{"list":[null,{"list":[{"number":"1"}]}]}"#,
        ),
        (
            Value::error(ErrorKind::DivisionByZero, "cannot divide 12 by 0"),
            r#"{"error":{"kind":"division by zero","message":"cannot divide 12 by 0"}}"#,
        ),
    ];
    for (value, json) in cases {
        assert_eq!(round_trip(&value), json);
    }
}

#[test]
fn a_number_may_come_as_a_json_number_when_no_digit_is_lost() {
    let read = |json: &str| serde_json::from_str::<Value>(json).unwrap();
    assert_eq!(
        read(r#"{"number": 12.50}"#),
        Value::Number(Decimal::new(1250, 2))
    );
    assert_eq!(read(r#"{"number": -3}"#), Value::from(-3));
    assert_eq!(read(r#"{"number": 1.5e3}"#), Value::from(1500));
    // Digits a float would lose: this JSON reader keeps them all.
    assert_eq!(
        read(r#"{"number": 1234567890.123456789012345678}"#)
            .as_number()
            .unwrap()
            .to_string(),
        "1234567890.123456789012345678"
    );
    assert_eq!(
        read(r#"{"number": 79228162514264337593543950335}"#),
        Value::Number(Decimal::MAX)
    );
    assert_eq!(
        read(r#"{"number": "1234567890.1234567890123456789"}"#)
            .as_number()
            .unwrap()
            .to_string(),
        "1234567890.1234567890123456789"
    );
    // A reader that hands over binary floats (TOML here): taken at its
    // shortest form while it carries its digits, refused past them.
    #[derive(serde::Deserialize)]
    struct Cell {
        v: Value,
    }
    let toml = |text: &str| {
        toml::from_str::<Cell>(text)
            .map(|c| c.v)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        toml("v = { number = 0.1 }"),
        Ok(Value::Number(Decimal::new(1, 1)))
    );
    assert_eq!(toml("v = { number = 7 }"), Ok(Value::from(7)));
    let message = toml("v = { number = 0.1234567890123456789 }").unwrap_err();
    assert!(message.contains("send it as a string"), "{message}");
}

#[test]
fn anything_else_is_refused_with_the_reason() {
    for (json, says) in [
        (
            "12",
            "expected a value: null (Blank), or an object with one key",
        ),
        (r#""Gard AS""#, "expected a value"),
        ("{}", "Blank is null"),
        (r#"{"numbr": "1"}"#, "unknown value type `numbr`"),
        (
            r#"{"number": "1", "text": "a"}"#,
            "`number` is followed by `text`",
        ),
        (r#"{"number": "12,5"}"#, "is not a number"),
        (r#"{"number": ""}"#, "Blank is null"),
        // 29 significant digits: held when the decimal has room, else rounded.
        (
            r#"{"number": "9234567890.1234567890123456789"}"#,
            "would be rounded to 9234567890.123456789012345679",
        ),
        (
            r#"{"number": 9234567890.1234567890123456789}"#,
            "would be rounded",
        ),
        (
            r#"{"number": "0.00000000000000000000000000001"}"#,
            "would be rounded",
        ),
        (r#"{"number": "79228162514264337593543950336"}"#, "beyond"),
        (
            r#"{"number": "1.2345678901234567890123456789e3"}"#,
            "29 significant digits",
        ),
        (
            r#"{"date": "10000-01-01"}"#,
            "has the year 10000; csip takes years 1 to 9999",
        ),
        (r#"{"date": "0000-12-31"}"#, "has the year 0"),
        (r#"{"date": "24/11/2026"}"#, "is not written YYYY-MM-DD"),
        (
            r#"{"datetime": "+10000-01-01T00:00:00"}"#,
            "years 1 to 9999",
        ),
        (
            r#"{"datetime": "2026-11-24T25:00:00"}"#,
            "YYYY-MM-DDTHH:MM:SS",
        ),
        (r#"{"row": {"table": 0, "row": 0}}"#, "row ids count from 1"),
        (r#"{"row": {"table": 0}}"#, "missing field `row`"),
        (
            r#"{"row": {"table": -1, "row": 1}}"#,
            "a table id is a whole number",
        ),
        (r#"{"bool": "true"}"#, "expected a boolean"),
        (r#"{"list": {"text": "a"}}"#, "expected a sequence"),
        (
            r#"{"error": {"kind": "oops"}}"#,
            "unknown error kind \"oops\"",
        ),
    ] {
        let message = refused::<Value>(json);
        assert!(message.contains(says), "{json}: {message}");
    }
}

fn decimals() -> impl Strategy<Value = Decimal> {
    const MANTISSA: i128 = 79_228_162_514_264_337_593_543_950_335;
    prop_oneof![
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        (-MANTISSA..=MANTISSA, 0u32..=28).prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s)),
        prop_oneof![
            Just(Decimal::MAX),
            Just(Decimal::MIN),
            Just(Decimal::ZERO),
            Just(Decimal::new(1, 28)),
            Just(Decimal::new(-1, 28)),
            Just(Decimal::new(-0, 5)),
        ],
    ]
}

fn dates() -> impl Strategy<Value = NaiveDate> {
    let (first, last) = (date(1, 1, 1), date(9999, 12, 31));
    prop_oneof![
        Just(first),
        Just(last),
        (first.num_days_from_ce()..=last.num_days_from_ce())
            .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap()),
    ]
}

fn datetimes() -> impl Strategy<Value = NaiveDateTime> {
    let nanos = prop_oneof![Just(0u32), 0u32..1_000_000_000, Just(999_999_999)];
    (dates(), 0u32..86_400, nanos).prop_map(|(d, s, n)| {
        d.and_hms_nano_opt(s / 3600, s / 60 % 60, s % 60, n)
            .unwrap()
    })
}

fn scalars() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Blank),
        decimals().prop_map(Value::Number),
        any::<String>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        dates().prop_map(Value::Date),
        datetimes().prop_map(Value::DateTime),
        (any::<u32>(), 1..=u32::MAX).prop_map(|(t, r)| Value::Row(table(t), RowId::from_raw(r))),
        (
            prop::sample::select(ErrorKind::ALL.to_vec()),
            any::<String>()
        )
            .prop_map(|(k, m)| Value::error(k, m)),
    ]
}

fn values() -> impl Strategy<Value = Value> {
    scalars().prop_recursive(4, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(Value::list)
    })
}

proptest! {
    #[test]
    fn values_read_back_as_written(v in values()) {
        round_trip(&v);
    }

    #[test]
    fn numbers_keep_every_digit_and_their_scale(n in decimals()) {
        let json = round_trip(&Value::Number(n));
        prop_assert_eq!(json, format!(r#"{{"number":"{n}"}}"#));
    }
}

// ---- transactions and change sets ------------------------------------------------

#[test]
fn operations_are_tagged_objects() {
    let (c3, c5, t1) = (column(3), column(5), table(1));
    let t = Transaction::new()
        .set(c3, RowId::from_raw(12), Decimal::new(40, 0))
        .insert(
            t1,
            vec![(c3, Value::from(90)), (c5, Value::from("Gard AS"))],
        )
        .insert_with_id(t1, RowId::from_raw(20), vec![])
        .delete(t1, RowId::from_raw(7));
    assert_eq!(
        round_trip(&t),
        concat!(
            r#"{"ops":["#,
            r#"{"op":"set","column":3,"row":12,"value":{"number":"40"}},"#,
            r#"{"op":"insert","table":1,"id":null,"values":[[3,{"number":"90"}],[5,{"text":"Gard AS"}]]},"#,
            r#"{"op":"insert","table":1,"id":20,"values":[]},"#,
            r#"{"op":"delete","table":1,"row":7}"#,
            "]}"
        )
    );
    // Read in any key order, with an insert's `id` and `values` left out.
    let read: Transaction = serde_json::from_str(
        r#"{"ops": [{"value": null, "row": 1, "column": 0, "op": "set"}, {"table": 1, "op": "insert"}]}"#,
    )
    .unwrap();
    assert_eq!(
        read,
        Transaction::new()
            .set(column(0), RowId::from_raw(1), Value::Blank)
            .insert(t1, vec![])
    );
}

#[test]
fn an_operation_with_keys_it_does_not_have_is_refused() {
    for (json, says) in [
        (
            r#"{"op": "rename", "table": 1}"#,
            "unknown operation `rename`; the operations are: set, insert, delete",
        ),
        (
            r#"{"op": "set", "column": 3, "row": 12}"#,
            "a `set` operation needs `value`",
        ),
        (
            r#"{"op": "set", "table": 1, "column": 3, "row": 12, "value": null}"#,
            "`table` is not a key of a `set` operation",
        ),
        (
            r#"{"op": "delete", "table": 1}"#,
            "a `delete` operation needs `row`",
        ),
        (
            r#"{"op": "delete", "table": 1, "row": 2, "rows": [3]}"#,
            "unknown field `rows`",
        ),
        (
            r#"{"op": "insert", "values": []}"#,
            "a `insert` operation needs `table`",
        ),
        (r#"{"column": 3}"#, "missing field `op`"),
    ] {
        let message = refused::<Op>(json);
        assert!(message.contains(says), "{json}: {message}");
    }
    let message = refused::<Transaction>(r#"[{"op": "delete", "table": 1, "row": 2}]"#);
    assert!(
        message.contains("expected a transaction: {\"ops\": [...]}"),
        "{message}"
    );
}

fn ids() -> impl Strategy<Value = (u32, u32)> {
    (any::<u32>(), 1..=u32::MAX)
}

fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        (ids(), values()).prop_map(|((c, r), value)| Op::Set {
            column: column(c),
            row: RowId::from_raw(r),
            value,
        }),
        (
            any::<u32>(),
            prop::option::of(1..=u32::MAX),
            prop::collection::vec((any::<u32>(), values()), 0..4)
        )
            .prop_map(|(t, id, values)| Op::Insert {
                table: table(t),
                id: id.map(RowId::from_raw),
                values: values.into_iter().map(|(c, v)| (column(c), v)).collect(),
            }),
        ids().prop_map(|(t, r)| Op::Delete {
            table: table(t),
            row: RowId::from_raw(r),
        }),
        ids().prop_map(|(t, c)| Transaction::new()
            .change_schema(SchemaChange::RenameColumn {
                column: column(c),
                name: format!("C{t}"),
            })
            .ops()[0]
            .clone()),
        any::<u32>().prop_map(|t| Transaction::new()
            .change_schema(SchemaChange::AddColumn {
                table: table(t),
                column: ColumnSchema::formula("Tax", ColumnType::Number, "[Amount] / 4"),
            })
            .ops()[0]
            .clone()),
    ]
}

fn rows() -> impl Strategy<Value = Vec<(TableId, RowId)>> {
    prop::collection::vec(
        ids().prop_map(|(t, r)| (table(t), RowId::from_raw(r))),
        0..4,
    )
}

fn change_sets() -> impl Strategy<Value = ChangeSet> {
    let change = (ids(), any::<u32>(), prop::option::of(values()), values()).prop_map(
        |((c, r), t, old, new)| CellChange {
            cell: CellId {
                column: column(c),
                row: RowId::from_raw(r),
            },
            table: table(t),
            old,
            new,
        },
    );
    let deleted = (ids(), prop::collection::vec((any::<u32>(), values()), 0..3)).prop_map(
        |((t, r), values)| DeletedRow {
            table: table(t),
            row: RowId::from_raw(r),
            values: values.into_iter().map(|(c, v)| (column(c), v)).collect(),
        },
    );
    (
        prop::collection::vec(change, 0..6),
        rows(),
        prop::collection::vec(deleted, 0..3),
        any::<bool>(),
    )
        .prop_map(|(changes, inserted, deleted, renamed)| ChangeSet {
            changes,
            inserted,
            deleted,
            // A schema change's answer carries the schema after it.
            schema: renamed.then(|| {
                std::sync::Arc::new(
                    Schema::new().with_table(
                        TableSchema::new("Deals")
                            .with_column(ColumnSchema::data("Gross", ColumnType::Number)),
                    ),
                )
            }),
        })
}

proptest! {
    #[test]
    fn transactions_read_back_as_written(ops in prop::collection::vec(ops(), 0..8)) {
        let mut t = Transaction::new();
        for op in ops {
            t.push(op);
        }
        round_trip(&t);
    }

    #[test]
    fn change_sets_read_back_as_written(changes in change_sets()) {
        round_trip(&changes);
    }
}

#[test]
fn a_workbooks_change_set_reads_back_as_written() {
    let schema = Schema::new()
        .with_table(
            TableSchema::new("Accounts")
                .with_column(ColumnSchema::data("Name", ColumnType::Text))
                .with_column(ColumnSchema::formula(
                    "Health",
                    ColumnType::Number,
                    "Average(Filter([Metrics], [Account] = thisRow).[Score])",
                )),
        )
        .with_table(
            TableSchema::new("Metrics")
                .with_column(ColumnSchema::data(
                    "Account",
                    ColumnType::Relation {
                        table: "Accounts".into(),
                        multiple: false,
                    },
                ))
                .with_column(ColumnSchema::data("Score", ColumnType::Number)),
        );
    let mut wb = Workbook::new(&schema, Clock::on(date(2026, 11, 24))).unwrap();
    let (accounts, metrics) = (
        wb.table_id("Accounts").unwrap(),
        wb.table_id("Metrics").unwrap(),
    );
    let name = wb.column_id(accounts, "Name").unwrap();
    let (account, score) = (
        wb.column_id(metrics, "Account").unwrap(),
        wb.column_id(metrics, "Score").unwrap(),
    );
    let ids = wb
        .import(vec![
            (accounts, vec![vec![(name, Value::from("Gard AS"))]]),
            (
                metrics,
                vec![
                    vec![(account, Value::from("Gard AS")), (score, Value::from(80))],
                    vec![(account, Value::from("Gard AS")), (score, Value::from(90))],
                ],
            ),
        ])
        .unwrap();
    let edit = Transaction::new()
        .set(score, ids[1][0], Value::Number(Decimal::new(405, 1)))
        .insert(
            metrics,
            vec![(account, Value::from("Gard AS")), (score, Value::from(7))],
        )
        .delete(metrics, ids[1][1]);
    let t: Transaction = serde_json::from_str(&round_trip(&edit)).unwrap();
    let changes = wb.apply(t).unwrap();
    assert!(
        changes.changes.iter().any(|c| c.old.is_none()),
        "{changes:?}"
    );
    let json = round_trip(&changes);
    assert!(
        json.contains(r#""new":{"row":{"table":0,"row":1}}"#),
        "{json}"
    );
}

// ---- the schema -------------------------------------------------------------------

#[test]
fn a_schema_with_every_column_type_reads_back_as_written() {
    let types = [
        ColumnType::Text,
        ColumnType::Number,
        ColumnType::Currency,
        ColumnType::Percent,
        ColumnType::Date,
        ColumnType::DateTime,
        ColumnType::Checkbox,
        ColumnType::Select(vec!["Open".into(), "Closed \"for good\"".into()]),
        ColumnType::MultiSelect(vec![]),
        ColumnType::Email,
        ColumnType::Slider {
            min: Decimal::new(-15, 1),
            max: Decimal::MAX,
        },
        ColumnType::Canvas,
        ColumnType::Relation {
            table: "T".into(),
            multiple: true,
        },
        ColumnType::People {
            table: "People_Team".into(),
            multiple: false,
        },
        ColumnType::Attachment,
        ColumnType::Button,
    ];
    let mut t = TableSchema::new("T");
    for (i, ty) in types.iter().enumerate() {
        t = t.with_column(ColumnSchema::data(format!("C{i}"), ty.clone()));
    }
    t.comment = Some("every type".into());
    t.display_column = Some("C0".into());
    t.columns[0] = t.columns[0]
        .clone()
        .required()
        .unique()
        .with_default(Value::Blank);
    t.columns[1].decimals = Some(2);
    t.columns[1].default = Some(Value::Number(Decimal::new(125, 1)));
    t.columns[2] = ColumnSchema::formula("F", ColumnType::Currency, "[C1] * 2");
    t.columns[2].comment = Some("twice".into());
    let view = ViewSchema {
        name: "V".into(),
        table: "T".into(),
        layout: ViewLayout::Dashboard,
        filter: Some(FormulaText::new("[C6]")),
        sort: vec![SortKey {
            field: "C1".into(),
            descending: true,
        }],
        group_by: Some("C7".into()),
        group_order: vec!["Open".into()],
        fields: vec![
            FieldSchema {
                name: "C0".into(),
                formula: None,
            },
            FieldSchema {
                name: "Twice".into(),
                formula: Some(FormulaText::new("[C1] * 2")),
            },
        ],
        params: vec![ParamSchema {
            name: "from".into(),
            ty: ColumnType::Date,
            required: false,
        }],
        tiles: vec![TileSchema {
            name: "Rows".into(),
            formula: FormulaText::new("[T].Count()"),
        }],
        include: vec!["W".into()],
        comment: Some("all of it".into()),
        declared: None,
    };
    let schema = Schema {
        tables: vec![t],
        views: vec![
            view,
            ViewSchema {
                name: "W".into(),
                table: "T".into(),
                ..ViewSchema::default()
            },
        ],
        names: vec![ColumnSchema::formula("N", ColumnType::Number, "Count([T])")],
    };
    let json = round_trip(&schema);
    assert!(
        json.contains(r#""names":[{"name":"N","type":"number","formula":"Count([T])"}]"#),
        "{json}"
    );
    assert!(
        json.contains(
            r#"{"name":"C0","type":"text","required":true,"unique":true,"default":null}"#
        ),
        "{json}"
    );
    assert!(json.contains(r#"{"name":"W","table":"T"}"#), "{json}");
    assert!(
        json.contains(r#""type":{"slider":{"min":"-1.5","max":"79228162514264337593543950335"}}"#),
        "{json}"
    );
    for ty in &types {
        round_trip(ty);
    }
    assert_eq!(
        round_trip(&ColumnType::MultiSelect(vec![])),
        r#"{"multi-select":[]}"#
    );
}

#[test]
fn a_schema_with_an_unknown_key_or_type_is_refused() {
    for (json, says) in [
        (
            r#"{"tables": [{"name": "T", "colums": []}]}"#,
            "unknown field `colums`",
        ),
        (
            r#"{"tables": [{"name": "T", "columns": [{"name": "A", "type": "nuber"}]}]}"#,
            "unknown variant `nuber`",
        ),
        (
            r#"{"tables": [{"name": "T", "columns": [{"name": "A", "type": {"relation": {"multiple": true}}}]}]}"#,
            "missing field `table`",
        ),
        (
            r#"{"tables": [{"name": "T", "columns": [{"name": "A", "type": {"slider": {"min": "0", "max": "1e40"}}}]}]}"#,
            "1e40",
        ),
        (
            r#"{"views": [{"name": "V", "table": "T", "layout": "pie"}]}"#,
            "unknown layout \"pie\"",
        ),
    ] {
        let message = refused::<Schema>(json);
        assert!(message.contains(says), "{json}: {message}");
    }
}
