//! How a report's columns are found and its cells read: the header names
//! csip knows by itself, and named mappings in `csip.toml` for reports
//! that call them otherwise (`[ingest.mappings.NAME]`).

use crate::text::Encoding;
use crate::values::{DateOrder, DecimalMark};

/// One report layout (`[ingest.mappings.NAME]` in `csip.toml`); every key
/// optional.
///
/// ```toml
/// [ingest.mappings.finance]
/// account = "Customer"          # the header of the account's column
/// metric_name = "KPI"
/// current_value = "Value"
/// measured_at = "As Of"
/// dates = "eu"                  # 24/11/2026; "us": 11/24/2026; default ISO 8601 only
/// decimal = ","                 # 1.234,5
/// encoding = "windows-1252"
/// delimiter = ";"               # else detected from the header line
/// create_metrics = true         # a metric an account lacks is created
/// data_source = "Tableau Report"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The account's column (Account_Name or Account_ID); default a header
    /// such as `Account`, `Account Name`, `Account ID`, `Customer`.
    pub account: Option<String>,
    /// The metric's name; default `Metric Name` or `Metric`.
    pub metric_name: Option<String>,
    /// The value; default `Current Value` or `Value`.
    pub current_value: Option<String>,
    /// When it was measured; default `Measured At`, `Last Measured`,
    /// `Date` or `Timestamp`. Without one, the time of ingestion.
    pub measured_at: Option<String>,
    /// The unit, used for a metric created by the report; default `Unit`.
    pub unit: Option<String>,
    /// How dates that are not ISO 8601 are written.
    #[serde(default)]
    pub dates: DateOrder,
    /// The decimal mark.
    #[serde(default)]
    pub decimal: DecimalMark,
    /// The encoding, when the bytes carry no byte-order mark.
    #[serde(default)]
    pub encoding: Encoding,
    /// `,`, `;` or `tab`; else detected from the header line.
    pub delimiter: Option<String>,
    /// Whether a metric an account does not have yet is created (with the
    /// thresholds, unit and category of the same metric on another account).
    #[serde(default)]
    pub create_metrics: bool,
    /// Platform_Health_Metrics.Data_Source of the metrics the report
    /// creates (an existing metric keeps its own); default by the source
    /// (`Webhook` for the webhook, else `Tableau Report`).
    pub data_source: Option<String>,
}

/// The fields a report carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The account.
    Account,
    /// The metric's name.
    MetricName,
    /// The value.
    CurrentValue,
    /// When it was measured.
    MeasuredAt,
    /// The unit.
    Unit,
}

impl Field {
    /// Every field, in the order a report usually has them.
    pub const ALL: [Field; 5] = [
        Field::Account,
        Field::MetricName,
        Field::CurrentValue,
        Field::MeasuredAt,
        Field::Unit,
    ];

    /// Whether a report must have it.
    pub fn required(self) -> bool {
        matches!(
            self,
            Field::Account | Field::MetricName | Field::CurrentValue
        )
    }

    /// How the field is named in errors and in `csip.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Account => "Account",
            Field::MetricName => "Metric Name",
            Field::CurrentValue => "Current Value",
            Field::MeasuredAt => "Measured At",
            Field::Unit => "Unit",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Field::Account => "account",
            Field::MetricName => "metric_name",
            Field::CurrentValue => "current_value",
            Field::MeasuredAt => "measured_at",
            Field::Unit => "unit",
        }
    }

    /// The headers csip knows the field by, normalized ([`normalize`]).
    fn known(self) -> &'static [&'static str] {
        match self {
            Field::Account => &[
                "account",
                "accountname",
                "accountid",
                "customer",
                "customername",
            ],
            Field::MetricName => &["metricname", "metric", "kpi"],
            Field::CurrentValue => &["currentvalue", "value", "metricvalue"],
            Field::MeasuredAt => &[
                "measuredat",
                "lastmeasured",
                "date",
                "timestamp",
                "measured",
            ],
            Field::Unit => &["unit", "units"],
        }
    }
}

/// A header as compared: lower case, without spaces, `_` and `-`.
pub fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each field is in a report's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// The position of each field ([`Field::ALL`] order), when present.
    pub position: [Option<usize>; 5],
    /// The headers as the report writes them.
    pub headers: Vec<String>,
    /// Headers no field took, ignored.
    pub extra: Vec<String>,
}

impl Columns {
    /// Finds the fields in `headers`: the mapping's name for a field when it
    /// gives one (that column must then be there), else the first header
    /// csip knows the field by.
    ///
    /// # Errors
    ///
    /// A required column is missing: which, and the headers there are.
    pub fn find(headers: Vec<String>, mapping: &Mapping) -> Result<Columns, String> {
        let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
        let mut position = [None; 5];
        let mut missing = Vec::new();
        for (i, field) in Field::ALL.into_iter().enumerate() {
            let named = match field {
                Field::Account => &mapping.account,
                Field::MetricName => &mapping.metric_name,
                Field::CurrentValue => &mapping.current_value,
                Field::MeasuredAt => &mapping.measured_at,
                Field::Unit => &mapping.unit,
            };
            position[i] = match named {
                Some(name) => {
                    let wanted = normalize(name);
                    let at = normalized.iter().position(|h| *h == wanted);
                    if at.is_none() {
                        missing.push(format!(
                            "“{name}” (the mapping's {} for {})",
                            field.key(),
                            field.name()
                        ));
                    }
                    at
                }
                None => {
                    let at = field
                        .known()
                        .iter()
                        .find_map(|k| normalized.iter().position(|h| h == k));
                    if at.is_none() && field.required() {
                        missing.push(format!(
                            "{} (or set {} in the mapping)",
                            field.name(),
                            field.key()
                        ));
                    }
                    at
                }
            };
        }
        if !missing.is_empty() {
            return Err(format!(
                "the report has no column {}; its columns are {}",
                missing.join(", no column "),
                if headers.is_empty() {
                    "none".to_string()
                } else {
                    headers
                        .iter()
                        .map(|h| format!("“{h}”"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
        let extra = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !position.contains(&Some(*i)))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(Columns {
            position,
            headers,
            extra,
        })
    }

    /// The header of `field`'s column, as the report writes it.
    pub fn header(&self, field: Field) -> &str {
        let i = Field::ALL.iter().position(|f| *f == field).unwrap_or(0);
        self.position[i]
            .and_then(|p| self.headers.get(p))
            .map_or(field.name(), String::as_str)
    }

    /// The position of `field`'s column.
    pub fn of(&self, field: Field) -> Option<usize> {
        let i = Field::ALL.iter().position(|f| *f == field)?;
        self.position[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn known_headers_any_case_and_spacing() {
        let c = Columns::find(
            headers(&[
                "ACCOUNT",
                "metric_name",
                "Current  Value",
                "Measured-At",
                "Region",
            ]),
            &Mapping::default(),
        )
        .unwrap();
        assert_eq!(c.position, [Some(0), Some(1), Some(2), Some(3), None]);
        assert_eq!(c.extra, ["Region"]);
        assert_eq!(c.header(Field::CurrentValue), "Current  Value");
    }

    #[test]
    fn a_mapping_names_other_headers_and_a_missing_one_is_named() {
        let mapping = Mapping {
            account: Some("Customer Org".into()),
            current_value: Some("Reading".into()),
            ..Mapping::default()
        };
        let c = Columns::find(headers(&["Customer Org", "KPI", "Reading"]), &mapping).unwrap();
        assert_eq!(c.position[..3], [Some(0), Some(1), Some(2)]);
        let e = Columns::find(headers(&["Customer Org", "KPI"]), &mapping).unwrap_err();
        assert!(
            e.contains("“Reading”") && e.contains("current_value"),
            "{e}"
        );
        let e = Columns::find(headers(&["Account", "Value"]), &Mapping::default()).unwrap_err();
        assert!(
            e.contains("no column Metric Name") && e.contains("“Account”, “Value”"),
            "{e}"
        );
    }
}
