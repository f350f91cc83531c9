//! Values as people read them: a column's type and decimals decide the form
//! (`480,000` for currency, `63.0` for a one-decimal number, `35 %`).

use crate::ids::ColumnId;
use crate::schema::ColumnType;
use crate::value::{Value, date_to_text, datetime_to_text, number_to_text};
use crate::workbook::Workbook;
use rust_decimal::{Decimal, RoundingStrategy};

impl Workbook {
    /// A value formatted for people, as a cell of `column` when given: currency
    /// with thousands separators, numbers to the column's decimals, percent
    /// with `%`, checkboxes as ✓, rows by their display column, lists joined.
    /// Error values show as `#kind`.
    pub fn format_value(&self, column: Option<ColumnId>, value: &Value) -> String {
        let schema = column.and_then(|c| self.column_schema(c).ok());
        match value {
            Value::Blank => String::new(),
            Value::Number(n) => {
                let ty = schema.map(|s| &s.ty);
                let decimals = schema.and_then(|s| s.decimals);
                format_number(*n, ty, decimals)
            }
            Value::Bool(b) => {
                if *b {
                    "✓".to_string()
                } else {
                    String::new()
                }
            }
            Value::Date(d) => date_to_text(*d),
            Value::DateTime(d) => datetime_to_text(*d).replace('T', " "),
            Value::List(items) => items
                .iter()
                .map(|v| self.format_value(None, v))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Error(e) => format!("#{}", e.kind),
            other => self.display(other),
        }
    }
}

fn format_number(n: Decimal, ty: Option<&ColumnType>, decimals: Option<u32>) -> String {
    let rounded = match decimals {
        Some(d) => n.round_dp_with_strategy(d, RoundingStrategy::MidpointAwayFromZero),
        None => n
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .normalize(),
    };
    let mut text = match decimals {
        Some(d) => format!("{:.*}", d as usize, rounded),
        None => number_to_text(rounded),
    };
    if matches!(ty, Some(ColumnType::Currency)) || rounded.abs() >= Decimal::from(10_000) {
        text = group(&text);
    }
    if matches!(ty, Some(ColumnType::Percent)) {
        text.push_str(" %");
    }
    text
}

/// `1234567.5` as `1,234,567.5`.
fn group(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(
            format_number(d("480000"), Some(&ColumnType::Currency), None),
            "480,000"
        );
        assert_eq!(
            format_number(d("63"), Some(&ColumnType::Number), Some(1)),
            "63.0"
        );
        assert_eq!(
            format_number(d("66.6666666"), Some(&ColumnType::Percent), Some(1)),
            "66.7 %"
        );
        assert_eq!(
            format_number(d("-1234567.891"), None, None),
            "-1,234,567.89"
        );
        assert_eq!(format_number(d("0.5"), None, None), "0.5");
    }
}
