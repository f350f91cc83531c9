//! Cell values as JSON, both ways.
//!
//! | value | JSON |
//! |---|---|
//! | Blank | `null` |
//! | number | a JSON number with every digit (`1250000.5`) |
//! | text | a string |
//! | true / false | `true` / `false` |
//! | date, date-time | `"2026-11-24"`, `"2026-11-24T08:00:00"` |
//! | a row | `{"table": "People_Team", "row_id": 3, "name": "Kari Nordmann"}` |
//! | a list | an array |
//! | an error value | `{"error": "division by zero", "message": "..."}` |
//!
//! Writes take the same shapes: a number or a numeric string for number
//! columns, a string for dates, options and relations (a row by its display
//! name), `{"row_id": 3}` for a row by id, an array for lists.
//!
//! Answers are serialized straight from the workbook ([`Cell`], [`Fields`]),
//! without building a JSON tree first: a view of thousands of rows is
//! written in one pass.

use csip_engine::{
    ColumnId, ColumnType, RowId, TableId, Value, ViewGroup, ViewLayout, ViewLink, ViewResult,
    Workbook,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashMap;

/// What writing a value needs besides the value: the names of tables and of
/// the rows it refers to. A [`Workbook`] has them; a [`Names`] snapshot
/// holds those one answer needs, so that it is written after the
/// workbook's lock is released.
pub(crate) trait Naming {
    fn table_name(&self, t: TableId) -> &str;
    fn row_name(&self, t: TableId, r: RowId) -> String;
}

impl Naming for Workbook {
    fn table_name(&self, t: TableId) -> &str {
        Workbook::table_name(self, t).unwrap_or_default()
    }

    fn row_name(&self, t: TableId, r: RowId) -> String {
        self.display_column(t)
            .ok()
            .flatten()
            .and_then(|c| self.value(c, r).ok())
            .map(|v| self.display(v))
            .unwrap_or_default()
    }
}

/// The names an answer needs, taken from the workbook.
#[derive(Debug, Default)]
pub(crate) struct Names {
    tables: HashMap<TableId, String>,
    rows: HashMap<(TableId, RowId), String>,
}

impl Names {
    /// The names a view's result refers to.
    pub(crate) fn of_view(wb: &Workbook, v: &ViewResult) -> Names {
        let mut names = Names::default();
        names.add_view(wb, v);
        names
    }

    fn add_view(&mut self, wb: &Workbook, v: &ViewResult) {
        self.add_table(wb, v.table);
        for g in &v.groups {
            if let Some(k) = &g.key {
                self.add(wb, k);
            }
            for r in &g.rows {
                for x in &r.values {
                    self.add(wb, x);
                }
            }
        }
        for (_, x) in &v.tiles {
            self.add(wb, x);
        }
        for i in &v.included {
            self.add_table(wb, i.table);
            for (_, x) in &i.params {
                self.add(wb, x);
            }
        }
    }

    fn add_table(&mut self, wb: &Workbook, t: TableId) {
        self.tables
            .entry(t)
            .or_insert_with(|| wb.table_name(t).unwrap_or_default().to_string());
    }

    fn add(&mut self, wb: &Workbook, value: &Value) {
        match value {
            Value::Row(t, r) => {
                self.add_table(wb, *t);
                self.rows
                    .entry((*t, *r))
                    .or_insert_with(|| Naming::row_name(wb, *t, *r));
            }
            Value::List(items) => {
                for item in items.iter() {
                    self.add(wb, item);
                }
            }
            _ => {}
        }
    }
}

impl Naming for Names {
    fn table_name(&self, t: TableId) -> &str {
        self.tables.get(&t).map_or("", String::as_str)
    }

    fn row_name(&self, t: TableId, r: RowId) -> String {
        self.rows.get(&(t, r)).cloned().unwrap_or_default()
    }
}

/// A cell's value, serialized as JSON.
#[derive(Clone, Copy)]
pub(crate) struct Cell<'a>(pub(crate) &'a dyn Naming, pub(crate) &'a Value);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Cell(wb, value) = *self;
        match value {
            Value::Blank => s.serialize_unit(),
            Value::Number(n) => match n.normalize().to_string().parse::<Number>() {
                Ok(number) => number.serialize(s),
                Err(_) => s.serialize_str(&n.to_string()),
            },
            Value::Text(t) => s.serialize_str(t),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Date(d) => s.collect_str(&d.format("%Y-%m-%d")),
            Value::DateTime(d) => s.collect_str(&d.format("%Y-%m-%dT%H:%M:%S")),
            Value::Row(t, r) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("table", wb.table_name(*t))?;
                m.serialize_entry("row_id", &r.get())?;
                m.serialize_entry("name", &wb.row_name(*t, *r))?;
                m.end()
            }
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&Cell(wb, item))?;
                }
                seq.end()
            }
            Value::Error(e) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("error", e.kind.name())?;
                m.serialize_entry("message", &e.message)?;
                m.end()
            }
        }
    }
}

/// A view's row: `{"row_id": N, "values": {"field": value, ...}}`.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) wb: &'a dyn Naming,
    pub(crate) row: RowId,
    pub(crate) names: &'a [String],
    pub(crate) values: &'a [Value],
}

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Values<'a>(&'a Fields<'a>);
        impl Serialize for Values<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let f = self.0;
                let mut m = s.serialize_map(Some(f.names.len()))?;
                for (n, v) in f.names.iter().zip(f.values) {
                    m.serialize_entry(n, &Cell(f.wb, v))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("row_id", &self.row.get())?;
        m.serialize_entry("values", &Values(self))?;
        m.end()
    }
}

/// A table's row, every column but buttons: `{"row_id": N, "values": {...}}`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableRow<'a> {
    pub(crate) wb: &'a Workbook,
    pub(crate) table: TableId,
    pub(crate) row: RowId,
}

impl Serialize for TableRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Values<'a>(&'a TableRow<'a>);
        impl Serialize for Values<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let TableRow { wb, table, row } = *self.0;
                let mut m = s.serialize_map(None)?;
                for &c in wb.columns(table).unwrap_or_default() {
                    if wb
                        .column_schema(c)
                        .is_ok_and(|s| matches!(s.ty, ColumnType::Button))
                    {
                        continue;
                    }
                    let v = wb.value(c, row).unwrap_or(&Value::Blank);
                    m.serialize_entry(wb.column_name(c).unwrap_or_default(), &Cell(wb, v))?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("row_id", &self.row.get())?;
        m.serialize_entry("values", &Values(self))?;
        m.end()
    }
}

/// A view's result: name, table, layout, fields, row count, groups, tiles,
/// included views.
#[derive(Clone, Copy)]
pub(crate) struct View<'a>(pub(crate) &'a dyn Naming, pub(crate) &'a ViewResult);

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let View(wb, v) = *self;
        struct Group<'a>(&'a dyn Naming, &'a ViewResult, &'a ViewGroup);
        impl Serialize for Group<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let Group(wb, v, g) = *self;
                struct Rows<'a>(&'a dyn Naming, &'a ViewResult, &'a ViewGroup);
                impl Serialize for Rows<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let Rows(wb, v, g) = *self;
                        let mut seq = s.serialize_seq(Some(g.rows.len()))?;
                        for r in &g.rows {
                            seq.serialize_element(&Fields {
                                wb,
                                row: r.row,
                                names: &v.fields,
                                values: &r.values,
                            })?;
                        }
                        seq.end()
                    }
                }
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("key", &g.key.as_ref().map(|k| Cell(wb, k)))?;
                m.serialize_entry("count", &g.count)?;
                m.serialize_entry("offset", &g.offset)?;
                m.serialize_entry("rows", &Rows(wb, v, g))?;
                m.end()
            }
        }
        let groups: Vec<Group<'_>> = v.groups.iter().map(|g| Group(wb, v, g)).collect();
        let tiles: Vec<(&str, Cell<'_>)> = v
            .tiles
            .iter()
            .map(|(n, x)| (n.as_str(), Cell(wb, x)))
            .collect();
        struct Link<'a>(&'a dyn Naming, &'a ViewLink);
        impl Serialize for Link<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let Link(wb, l) = *self;
                let table = wb.table_name(l.table);
                let qualified = format!("{table}/{}", l.name);
                let mut href = format!("/api/v1/views/{}", percent(&qualified));
                for (i, (name, value)) in l.params.iter().enumerate() {
                    href.push(if i == 0 { '?' } else { '&' });
                    href.push_str(&percent(name));
                    href.push('=');
                    let text = match value {
                        Value::Row(t, r) => wb.row_name(*t, *r),
                        Value::Text(t) => t.to_string(),
                        other => other.to_string(),
                    };
                    href.push_str(&percent(&text));
                }
                let params: Vec<(&str, Cell<'_>)> = l
                    .params
                    .iter()
                    .map(|(n, x)| (n.as_str(), Cell(wb, x)))
                    .collect();
                let mut m = s.serialize_map(Some(4))?;
                m.serialize_entry("view", &l.name)?;
                m.serialize_entry("table", table)?;
                m.serialize_entry("params", &TileMap(&params))?;
                m.serialize_entry("href", &href)?;
                m.end()
            }
        }
        let included: Vec<Link<'_>> = v.included.iter().map(|i| Link(wb, i)).collect();
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("view", &v.name)?;
        m.serialize_entry("table", wb.table_name(v.table))?;
        m.serialize_entry("layout", &layout_name(v.layout))?;
        m.serialize_entry("fields", &v.fields)?;
        m.serialize_entry("row_count", &v.row_count())?;
        m.serialize_entry("group_count", &v.group_count)?;
        m.serialize_entry("groups", &groups)?;
        m.serialize_entry("tiles", &TileMap(&tiles))?;
        m.serialize_entry("included", &included)?;
        m.end()
    }
}

struct TileMap<'a>(&'a [(&'a str, Cell<'a>)]);

impl Serialize for TileMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (n, c) in self.0 {
            m.serialize_entry(n, c)?;
        }
        m.end()
    }
}

/// Text as a URL path segment or query value: everything but unreserved
/// characters percent-encoded (UTF-8).
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `grid`, `cards`, `kanban` or `dashboard`.
pub(crate) fn layout_name(layout: ViewLayout) -> &'static str {
    match layout {
        ViewLayout::Grid => "grid",
        ViewLayout::Cards => "cards",
        ViewLayout::Kanban => "kanban",
        ViewLayout::Dashboard => "dashboard",
    }
}

/// A cell's value as a JSON tree, as the REST API writes it: numbers with
/// every digit, rows as `{"table", "row_id", "name"}`, errors as
/// `{"error", "message"}` (`docs/api.md`).
pub fn to_json(wb: &Workbook, value: &Value) -> Json {
    serde_json::to_value(Cell(wb, value)).unwrap_or(Json::Null)
}

/// A JSON value written to `column`, as the write takes it; the error is a
/// sentence about the value (the caller names the field). Numbers and
/// strings are read as [`Workbook::parse_text`] reads text: a number with
/// more than 28 significant digits, or a date whose year is outside 1 to
/// 9999, is refused rather than rounded or stored.
pub(crate) fn from_json(wb: &Workbook, column: ColumnId, json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Blank,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => wb.parse_text(column, &n.to_string())?,
        Json::String(s) => {
            if s.trim().is_empty() {
                Value::Blank
            } else if wb.relation_target(column).ok().flatten().is_some() {
                Value::from(s.as_str())
            } else {
                wb.parse_text(column, s)?
            }
        }
        Json::Array(items) => Value::list(
            items
                .iter()
                .map(|i| from_json(wb, column, i))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => row_ref(wb, column, map)?,
    })
}

fn row_ref(wb: &Workbook, column: ColumnId, map: &Map<String, Json>) -> Result<Value, String> {
    let Some((target, _)) = wb.relation_target(column).ok().flatten() else {
        return Err("an object is a row reference, and this column is not a relation".into());
    };
    let id = map
        .get("row_id")
        .and_then(Json::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or("a row reference is {\"row_id\": N}")?;
    Ok(Value::Row(target, RowId::from_raw(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use csip_engine::{Clock, ColumnSchema, ColumnType, Schema, TableSchema};

    #[test]
    fn numbers_keep_every_digit_and_rows_carry_their_name() {
        let schema = Schema::new().with_table(
            TableSchema::new("T")
                .with_column(ColumnSchema::data("Name", ColumnType::Text))
                .with_column(ColumnSchema::data("N", ColumnType::Number)),
        );
        let today = csip_engine::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let Ok(mut wb) = csip_engine::Workbook::new(&schema, Clock::on(today)) else {
            panic!("the schema binds")
        };
        let t = wb.table_id("T").unwrap_or_else(|e| panic!("{e}"));
        let name = wb.column_id(t, "Name").unwrap_or_else(|e| panic!("{e}"));
        let n = wb.column_id(t, "N").unwrap_or_else(|e| panic!("{e}"));
        let Ok(changes) = wb
            .apply(csip_engine::Transaction::new().insert(t, vec![(name, Value::from("Gard AS"))]))
        else {
            panic!("inserted")
        };
        let row = changes.inserted[0].1;
        let exact: csip_engine::Decimal =
            "0.1000000000000000000000000001".parse().unwrap_or_default();
        assert_eq!(
            serde_json::to_string(&Cell(&wb, &Value::Number(exact))).unwrap_or_default(),
            "0.1000000000000000000000000001"
        );
        assert_eq!(
            serde_json::to_string(&Cell(&wb, &Value::Row(t, row))).unwrap_or_default(),
            r#"{"table":"T","row_id":1,"name":"Gard AS"}"#
        );
        assert_eq!(
            from_json(&wb, n, &serde_json::json!(12.50)).ok(),
            Some(Value::Number("12.5".parse().unwrap_or_default()))
        );
        assert!(from_json(&wb, n, &serde_json::json!("twelve")).is_err());
        assert!(from_json(&wb, n, &serde_json::json!({"row_id": 1})).is_err());
    }

    #[test]
    fn numbers_and_dates_that_would_change_are_refused() {
        let schema = Schema::new().with_table(
            TableSchema::new("T")
                .with_column(ColumnSchema::data("N", ColumnType::Number))
                .with_column(ColumnSchema::data("D", ColumnType::Date))
                .with_column(ColumnSchema::data("At", ColumnType::DateTime)),
        );
        let today = csip_engine::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let Ok(wb) = csip_engine::Workbook::new(&schema, Clock::on(today)) else {
            panic!("the schema binds")
        };
        let t = wb.table_id("T").unwrap_or_else(|e| panic!("{e}"));
        let column = |name: &str| wb.column_id(t, name).unwrap_or_else(|e| panic!("{e}"));
        let body = |text: &str| -> Json {
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
        };
        // Every digit of a JSON number reaches the check (arbitrary precision).
        let message = from_json(&wb, column("N"), &body("0.12345678901234567890123456789"))
            .expect_err("29 significant digits");
        assert!(
            message.contains("has 29 significant digits; csip keeps at most 28 exactly"),
            "{message}"
        );
        assert!(
            from_json(
                &wb,
                column("N"),
                &body(r#""12345678901234567890123456789""#)
            )
            .is_err()
        );
        let Ok(Value::Number(kept)) =
            from_json(&wb, column("N"), &body("0.1234567890123456789012345678"))
        else {
            panic!("28 significant digits are kept")
        };
        assert_eq!(kept.to_string(), "0.1234567890123456789012345678");
        for (c, text) in [
            ("D", r#""10000-01-01""#),
            ("D", r#""0000-12-31""#),
            ("At", r#""10000-01-01T08:00:00""#),
        ] {
            let message = from_json(&wb, column(c), &body(text)).expect_err(text);
            assert!(
                message.contains("csip takes years 1 to 9999"),
                "{text}: {message}"
            );
        }
        assert!(from_json(&wb, column("D"), &body(r#""9999-12-31""#)).is_ok());
    }
}
