//! Reading the workbook for a report: an account by what a person typed,
//! a view's rows by field name, values formatted as their columns say.

use crate::ReportError;
use crate::doc::{Table, shorten};
use csip_engine::{ColumnId, RowId, Value, ViewResult, Workbook};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The account `text` names (Account_Name or Account_ID), with a "did you
/// mean" when none does.
pub(crate) fn account(wb: &Workbook, text: &str) -> Result<RowId, ReportError> {
    csip_workbook::lookup::find_account(wb, text).ok_or_else(|| ReportError::UnknownAccount {
        account: text.to_string(),
        nearest: csip_workbook::lookup::nearest_account(wb, text),
    })
}

/// A view of the workbook's report views, evaluated whole.
pub(crate) fn view(
    wb: &Workbook,
    name: &str,
    params: &[(&str, Value)],
) -> Result<ViewResult, ReportError> {
    wb.view(name, params).map_err(|e| ReportError::View {
        view: name.to_string(),
        message: e.to_string(),
    })
}

/// The rows of a view, read by field name.
pub(crate) struct Rows<'a> {
    wb: &'a Workbook,
    pub(crate) view: ViewResult,
}

impl<'a> Rows<'a> {
    pub(crate) fn of(
        wb: &'a Workbook,
        name: &str,
        params: &[(&str, Value)],
    ) -> Result<Rows<'a>, ReportError> {
        Ok(Rows {
            wb,
            view: view(wb, name, params)?,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.view.total
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.view.total == 0
    }

    fn field(&self, name: &str) -> Result<usize, ReportError> {
        self.view
            .fields
            .iter()
            .position(|f| f == name)
            .ok_or_else(|| ReportError::View {
                view: self.view.name.clone(),
                message: format!(
                    "it has no field `{name}`; the report needs the workbook's report views as fixtures/csip/tables has them (`csip upgrade`)"
                ),
            })
    }

    /// The value of `field` in each row, in the view's order.
    pub(crate) fn values(&self, field: &str) -> Result<Vec<&Value>, ReportError> {
        let i = self.field(field)?;
        Ok(self.view.rows().map(|r| &r.values[i]).collect())
    }

    /// `field` of each row as its column shows it.
    pub(crate) fn texts(&self, field: &str) -> Result<Vec<String>, ReportError> {
        let i = self.field(field)?;
        let column = self.view.field_columns[i];
        Ok(self
            .view
            .rows()
            .map(|r| shown(self.wb, column, &r.values[i]))
            .collect())
    }

    /// `field` of each row as a number (`None` where it is not one).
    pub(crate) fn numbers(&self, field: &str) -> Result<Vec<Option<f64>>, ReportError> {
        Ok(self.values(field)?.into_iter().map(number).collect())
    }

    /// A tile's value.
    pub(crate) fn tile(&self, name: &str) -> Option<&Value> {
        self.view
            .tiles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// A table of `columns` (heading, field, width in characters), each
    /// cell shown as its column says and shortened to its width.
    pub(crate) fn table(&self, columns: &[(&str, &str, usize)]) -> Result<Table, ReportError> {
        let mut cells = Vec::new();
        let mut numeric = Vec::new();
        for (_, field, width) in columns {
            let i = self.field(field)?;
            numeric.push(
                self.view
                    .rows()
                    .any(|r| matches!(r.values[i], Value::Number(_))),
            );
            cells.push(
                self.texts(field)?
                    .into_iter()
                    .map(|t| shorten(&t, *width))
                    .collect::<Vec<_>>(),
            );
        }
        let rows = (0..self.view.rows().count())
            .map(|r| cells.iter().map(|c| c[r].clone()).collect())
            .collect();
        Ok(Table {
            columns: columns.iter().map(|(h, _, _)| (*h).to_string()).collect(),
            rows,
            numeric,
        })
    }
}

/// A value as its column shows it (a list joined with commas).
pub(crate) fn shown(wb: &Workbook, column: Option<ColumnId>, value: &Value) -> String {
    wb.format_value(column, value)
}

/// A number as a float for a chart.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.to_f64(),
        _ => None,
    }
}

/// One cell of a table by name (Account_Master's, say).
pub(crate) fn cell<'w>(
    wb: &'w Workbook,
    table: &str,
    column: &str,
    row: RowId,
) -> Result<(Option<ColumnId>, &'w Value), ReportError> {
    let missing = |e: csip_engine::LookupError| ReportError::View {
        view: table.to_string(),
        message: format!("{e}; the report needs the CSIP workbook's columns (`csip upgrade`)"),
    };
    let t = wb.table_id(table).map_err(missing)?;
    let c = wb.column_id(t, column).map_err(missing)?;
    Ok((Some(c), wb.value(c, row).map_err(missing)?))
}

/// One cell shown as its column says.
pub(crate) fn cell_text(
    wb: &Workbook,
    table: &str,
    column: &str,
    row: RowId,
) -> Result<String, ReportError> {
    let (c, v) = cell(wb, table, column, row)?;
    Ok(shown(wb, c, v))
}

/// A decimal amount shown with thousands separators and `decimals` places.
pub(crate) fn amount(n: Decimal, decimals: u32) -> String {
    let n = n.round_dp(decimals);
    let text = format!("{:.*}", decimals as usize, n);
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |d| ("-", d));
    let (int, frac) = digits.split_once('.').map_or((digits, ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_are_grouped_by_thousands() {
        use rust_decimal::Decimal;
        assert_eq!(super::amount(Decimal::new(400815177, 2), 2), "4,008,151.77");
        assert_eq!(super::amount(Decimal::new(-1070000, 0), 0), "-1,070,000");
        assert_eq!(super::amount(Decimal::new(999, 0), 0), "999");
        assert_eq!(super::amount(Decimal::ZERO, 1), "0.0");
    }
}
