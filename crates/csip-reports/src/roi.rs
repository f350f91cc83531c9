//! The Platform ROI report (the Calculate Platform ROI button; DESIGN §5
//! "Reports"). The workbook decides everything: the Initiatives view
//! `Platform ROI` picks the initiatives (its filter resolves the period with
//! `Switch()`), their investment and annual benefit are summed and written
//! back to the account (`ROI_Investment_USD`, `ROI_Annual_Benefit_USD`), and
//! Account_Master's formula columns give the figures (`Platform_ROI_Percent`,
//! `Platform_Payback_Months`, `Platform_ROI_3yr_Percent`,
//! `Platform_NPV_USD`). [`calculate`] applies that write to a copy of the
//! workbook to read the figures, and hands back the transaction for the
//! caller to commit; [`document`] lays the result out as a PDF's sections.

use crate::ReportError;
use crate::doc::{Block, Chart, ChartKind, Document, Figure, Section, Series, shorten};
use crate::read::{Rows, account, amount, cell};
use csip_engine::{NaiveDate, NaiveDateTime, RowId, Transaction, Value, Workbook};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value as Json, json};
use std::str::FromStr;

/// The period an ROI covers, as the view's `period` parameter names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// From the first day of this calendar quarter.
    ThisQuarter,
    /// From the first of January.
    ThisYear,
    /// From the same day a year ago.
    Last12Months,
    /// Every initiative.
    AllTime,
}

impl Period {
    /// Every period, in the order a form offers them.
    pub const ALL: [Period; 4] = [
        Period::ThisQuarter,
        Period::ThisYear,
        Period::Last12Months,
        Period::AllTime,
    ];

    /// Its name, as the workbook writes it (`"This Quarter"`).
    pub fn name(self) -> &'static str {
        match self {
            Period::ThisQuarter => "This Quarter",
            Period::ThisYear => "This Year",
            Period::Last12Months => "Last 12 Months",
            Period::AllTime => "All Time",
        }
    }

    /// Its first day on `today`, for the report's heading only: which
    /// initiatives count is decided by the view's `Switch()`, which says the
    /// same in a formula (both are tested against the same days:
    /// `first_days_of_periods` here, the workbook's `Platform ROI` tests).
    /// `None` for all time.
    pub fn first_day(self, today: NaiveDate) -> Option<NaiveDate> {
        use chrono::Datelike;
        match self {
            Period::ThisQuarter => {
                NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1)
            }
            Period::ThisYear => NaiveDate::from_ymd_opt(today.year(), 1, 1),
            Period::Last12Months => today.checked_sub_months(chrono::Months::new(12)),
            Period::AllTime => None,
        }
    }
}

impl FromStr for Period {
    type Err = String;

    /// A period by its name, case, spaces, dashes and underscores aside
    /// (`this-quarter`, `"Last 12 Months"`).
    fn from_str(s: &str) -> Result<Period, String> {
        let key = |t: &str| {
            t.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        };
        Period::ALL
            .into_iter()
            .find(|p| key(p.name()) == key(s))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a period; use one of: {}",
                    Period::ALL.map(Period::name).join(", ")
                )
            })
    }
}

/// What the ROI is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoiRequest {
    /// The account: its Account_Name or Account_ID.
    pub account: String,
    /// The period.
    pub period: Period,
    /// Whether initiatives still in progress count (completed ones always do).
    pub include_in_progress: bool,
}

/// One initiative the ROI counted.
#[derive(Clone, Debug, PartialEq)]
pub struct RoiInitiative {
    /// Initiative_Name.
    pub name: String,
    /// Initiative_Type.
    pub kind: String,
    /// Status.
    pub status: String,
    /// Investment_USD (Blank counts as 0).
    pub investment: Decimal,
    /// Annual_Benefit_USD (Blank counts as 0).
    pub annual_benefit: Decimal,
    /// ROI_Percent as its formula column gives it.
    pub roi_percent: Option<Decimal>,
}

/// One figure of the report with the formula that gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoiFigure {
    /// What it is ("Simple ROI").
    pub label: &'static str,
    /// The Account_Master column it is read from or written to.
    pub column: &'static str,
    /// Its value (`None`: no value, such as an ROI without investment).
    pub value: Option<Decimal>,
    /// Its unit: `USD`, `%` or `months`.
    pub unit: &'static str,
    /// How it is obtained: the column's formula, or the sum it is.
    pub formula: String,
}

/// A calculated ROI.
#[derive(Clone, Debug, PartialEq)]
pub struct Roi {
    /// The account's name.
    pub account: String,
    /// The account's Account_ID.
    pub account_id: String,
    /// The account's row.
    pub row: RowId,
    /// The period.
    pub period: Period,
    /// Its first day (`None` for all time).
    pub from: Option<NaiveDate>,
    /// Today, its last day.
    pub to: NaiveDate,
    /// Whether initiatives in progress counted.
    pub include_in_progress: bool,
    /// The initiatives counted, the largest investment first.
    pub initiatives: Vec<RoiInitiative>,
    /// Investment, annual benefit, simple ROI, payback, 3-year ROI, NPV.
    pub figures: Vec<RoiFigure>,
}

/// The Account_Master columns the ROI writes and reads.
const INVESTMENT: &str = "ROI_Investment_USD";
const BENEFIT: &str = "ROI_Annual_Benefit_USD";
const FIGURES: [(&str, &str, &str); 4] = [
    ("Simple ROI", "Platform_ROI_Percent", "%"),
    ("Payback", "Platform_Payback_Months", "months"),
    ("3-year ROI", "Platform_ROI_3yr_Percent", "%"),
    ("NPV at 10 %", "Platform_NPV_USD", "USD"),
];

/// The ROI of `request` on the workbook as it is at `at`, and the
/// transaction that writes its sums (and the period, and when) back to the
/// account: commit it to keep them, the figures follow from the formulas.
///
/// # Errors
///
/// An unknown account (with the nearest name), or a workbook without the
/// report's view and columns (`csip upgrade`).
///
/// ```
/// use csip_reports::roi::{Period, RoiRequest, calculate};
/// let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
/// let at = csip_workbook::sample_today().and_hms_opt(9, 0, 0).unwrap();
/// let request = RoiRequest { account: "Helix Health Partners".into(), period: Period::ThisYear, include_in_progress: false };
/// let (roi, _write_back) = calculate(&wb, &request, at)?;
/// // Prior authorization automation: 300,000 invested, 1,250,000 a year.
/// assert_eq!(roi.figure("Simple ROI").unwrap().to_string(), "316.7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn calculate(
    wb: &Workbook,
    request: &RoiRequest,
    at: NaiveDateTime,
) -> Result<(Roi, Transaction), ReportError> {
    let row = account(wb, &request.account)?;
    let accounts = wb
        .table_id("Account_Master")
        .map_err(|e| ReportError::workbook("Account_Master", e))?;
    let rows = Rows::of(
        wb,
        "Platform ROI",
        &[
            ("account", Value::Row(accounts, row)),
            ("period", Value::from(request.period.name())),
            (
                "include_in_progress",
                Value::Bool(request.include_in_progress),
            ),
        ],
    )?;
    let decimals = |field| -> Result<Vec<Decimal>, ReportError> {
        Ok(rows
            .values(field)?
            .into_iter()
            .map(|v| v.as_number().unwrap_or_default())
            .collect())
    };
    let (investments, benefits) = (decimals("Investment_USD")?, decimals("Annual_Benefit_USD")?);
    let (names, kinds, statuses) = (
        rows.texts("Initiative_Name")?,
        rows.texts("Initiative_Type")?,
        rows.texts("Status")?,
    );
    let rois = rows.values("ROI_Percent")?;
    let initiatives: Vec<RoiInitiative> = (0..rows.len())
        .map(|i| RoiInitiative {
            name: names[i].clone(),
            kind: kinds[i].clone(),
            status: statuses[i].clone(),
            investment: investments[i],
            annual_benefit: benefits[i],
            roi_percent: rois[i].as_number(),
        })
        .collect();
    let investment: Decimal = investments.iter().sum();
    let benefit: Decimal = benefits.iter().sum();

    let column = |name: &str| {
        wb.column_id(accounts, name)
            .map_err(|e| ReportError::workbook(name, e))
    };
    let tx = Transaction::new()
        .set(column("ROI_Period")?, row, request.period.name())
        .set(
            column("ROI_Includes_In_Progress")?,
            row,
            Value::Bool(request.include_in_progress),
        )
        .set(column(INVESTMENT)?, row, Value::Number(investment))
        .set(column(BENEFIT)?, row, Value::Number(benefit))
        .set(column("ROI_Calculated_At")?, row, Value::DateTime(at));
    // The figures are the account's formulas over the sums: read them from a
    // copy of the workbook with the write applied (a copy shares its cells
    // until written).
    let mut after = wb.clone();
    after
        .apply(tx.clone())
        .map_err(|e| ReportError::workbook("Account_Master", e))?;
    let view_filter = wb
        .schema()
        .views
        .iter()
        .find(|v| v.name == "Platform ROI")
        .and_then(|v| v.filter.as_ref())
        .map(|f| f.text.clone())
        .unwrap_or_default();
    let mut figures = vec![
        RoiFigure {
            label: "Investment",
            column: INVESTMENT,
            value: Some(investment),
            unit: "USD",
            formula: format!(
                "the sum of Investment_USD over the Initiatives view Platform ROI, whose filter is {view_filter}"
            ),
        },
        RoiFigure {
            label: "Annual benefit",
            column: BENEFIT,
            value: Some(benefit),
            unit: "USD",
            formula: "the sum of Annual_Benefit_USD over the same initiatives".into(),
        },
    ];
    for (label, name, unit) in FIGURES {
        let c = column(name)?;
        let value = after
            .value(c, row)
            .map_err(|e| ReportError::workbook(name, e))?;
        let formula = after
            .column_schema(c)
            .ok()
            .and_then(|s| s.formula.as_ref())
            .cloned()
            .unwrap_or_default();
        figures.push(RoiFigure {
            label,
            column: name,
            value: value.as_number(),
            unit,
            formula,
        });
    }
    let (_, id) = cell(wb, "Account_Master", "Account_ID", row)?;
    let today = wb.clock().today;
    Ok((
        Roi {
            account: csip_workbook::lookup::account_name(wb, row),
            account_id: wb.display(id),
            row,
            period: request.period,
            from: request.period.first_day(today),
            to: today,
            include_in_progress: request.include_in_progress,
            initiatives,
            figures,
        },
        tx,
    ))
}

/// [`calculate`], and the report as a PDF ([`document`] written by
/// [`crate::pdf::write_pdf`]).
///
/// # Errors
///
/// Those of [`calculate`], and the PDF writer's.
pub fn generate(
    wb: &Workbook,
    request: &RoiRequest,
    at: NaiveDateTime,
) -> Result<(Roi, Transaction, crate::ReportFile), ReportError> {
    let (roi, tx) = calculate(wb, request, at)?;
    let bytes = crate::pdf::write_pdf(&document(&roi, at))?;
    let file = crate::ReportFile {
        name: crate::file_name(
            &format!(
                "Platform ROI {} {} {}",
                roi.account,
                roi.period.name(),
                roi.to
            ),
            "pdf",
        ),
        media_type: crate::PDF,
        bytes,
    };
    Ok((roi, tx, file))
}

impl Roi {
    /// A figure's value by its label ("Simple ROI", "NPV at 10 %", …).
    pub fn figure(&self, label: &str) -> Option<Decimal> {
        self.figures
            .iter()
            .find(|f| f.label == label)
            .and_then(|f| f.value)
    }

    /// The figures as JSON: what the button's summary modal shows.
    ///
    /// ```
    /// # use csip_reports::roi::{Period, RoiRequest, calculate};
    /// # let wb = csip_workbook::pilot(csip_workbook::sample_today())?;
    /// # let at = csip_workbook::sample_today().and_hms_opt(9, 0, 0).unwrap();
    /// # let request = RoiRequest { account: "Gard AS".into(), period: Period::AllTime, include_in_progress: true };
    /// let (roi, _) = calculate(&wb, &request, at)?;
    /// let json = roi.to_json();
    /// assert_eq!(json["figures"]["payback_months"].to_string(), "6.3");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Json {
        let number = |d: Option<Decimal>| {
            d.and_then(|d| serde_json::from_str::<Json>(&d.normalize().to_string()).ok())
                .unwrap_or(Json::Null)
        };
        let keys = [
            "investment_usd",
            "annual_benefit_usd",
            "simple_roi_percent",
            "payback_months",
            "roi_3yr_percent",
            "npv_usd",
        ];
        let figures: serde_json::Map<String, Json> = keys
            .iter()
            .zip(&self.figures)
            .map(|(k, f)| ((*k).to_string(), number(f.value)))
            .collect();
        let formulas: serde_json::Map<String, Json> = keys
            .iter()
            .zip(&self.figures)
            .map(|(k, f)| ((*k).to_string(), json!(f.formula)))
            .collect();
        json!({
            "account": self.account,
            "account_id": self.account_id,
            "period": self.period.name(),
            "from": self.from.map(|d| d.to_string()),
            "to": self.to.to_string(),
            "include_in_progress": self.include_in_progress,
            "initiatives": self.initiatives.iter().map(|i| json!({
                "name": i.name,
                "type": i.kind,
                "status": i.status,
                "investment_usd": number(Some(i.investment)),
                "annual_benefit_usd": number(Some(i.annual_benefit)),
                "roi_percent": number(i.roi_percent),
            })).collect::<Vec<_>>(),
            "figures": figures,
            "formulas": formulas,
        })
    }

    /// The period in words: "This Year (2026-01-01 to 2026-11-24)".
    pub fn period_text(&self) -> String {
        match self.from {
            Some(from) => format!("{} ({from} to {})", self.period.name(), self.to),
            None => format!("{} (to {})", self.period.name(), self.to),
        }
    }
}

impl Roi {
    /// The e-mail that sends this report to `to` (`None` when nobody is named).
    pub fn email(&self, to: &[String]) -> Option<crate::keep::Email> {
        crate::keep::Email::to(
            to,
            format!("Platform ROI: {}", self.account),
            format!(
                "The Platform ROI of {} for {} is attached.",
                self.account,
                self.period_text()
            ),
        )
    }
}

/// A figure as shown: `$1,070,000`, `90.8 %`, `6.3 months`, or `n/a`.
pub fn shown(f: &RoiFigure) -> String {
    match (f.value, f.unit) {
        (None, _) => "n/a".into(),
        (Some(v), "USD") => format!("${}", amount(v, if v.fract().is_zero() { 0 } else { 2 })),
        (Some(v), "%") => format!("{} %", amount(v, 1)),
        (Some(v), unit) => format!("{} {unit}", amount(v, 1)),
    }
}

/// The ROI laid out as the PDF's sections: the figures (their formulas in
/// the notes), the initiatives with a bar chart, the cumulative net value
/// over three years as a line, the investment by initiative type as a pie.
pub fn document(roi: &Roi, made_at: NaiveDateTime) -> Document {
    let counted = if roi.include_in_progress {
        "completed and in-progress initiatives"
    } else {
        "completed initiatives"
    };
    let none = format!(
        "No initiative of {} counts for {}: the ROI counts {counted} active in the period.",
        shorten(&roi.account, 60),
        roi.period_text()
    );
    let figures = roi
        .figures
        .iter()
        .map(|f| Figure {
            label: f.label.to_string(),
            value: shown(f),
            detail: String::new(),
        })
        .collect();
    let notes = roi
        .figures
        .iter()
        .map(|f| format!("{} ({}) = {}", f.label, f.column, f.formula))
        .collect::<Vec<_>>()
        .join("\n");
    let summary = Section {
        title: "Summary".into(),
        blocks: vec![
            Block::Text(format!(
                "{} {counted} of {} for {}. Benefits are yearly; payback and NPV assume the benefit starts when the investment is made.",
                roi.initiatives.len(),
                shorten(&roi.account, 60),
                roi.period_text()
            )),
            Block::Figures(figures),
        ],
        notes: format!("How each figure is obtained (the workbook's formulas):\n{notes}"),
    };
    let f64_of = |d: Decimal| d.to_f64();
    let mut initiatives = Section {
        title: "Initiatives".into(),
        ..Section::default()
    };
    let mut payback = Section {
        title: "Payback over three years".into(),
        ..Section::default()
    };
    let mut mix = Section {
        title: "Investment by initiative type".into(),
        ..Section::default()
    };
    if roi.initiatives.is_empty() {
        for s in [&mut initiatives, &mut payback, &mut mix] {
            s.blocks.push(Block::Empty(none.clone()));
        }
    } else {
        initiatives.blocks.push(Block::Chart(Chart {
            kind: ChartKind::Bar,
            title: "Investment and annual benefit by initiative".into(),
            categories: roi
                .initiatives
                .iter()
                .map(|i| shorten(&i.name, 28))
                .collect(),
            series: vec![
                Series {
                    name: "Investment".into(),
                    values: roi
                        .initiatives
                        .iter()
                        .map(|i| f64_of(i.investment))
                        .collect(),
                },
                Series {
                    name: "Annual benefit".into(),
                    values: roi
                        .initiatives
                        .iter()
                        .map(|i| f64_of(i.annual_benefit))
                        .collect(),
                },
            ],
            unit: "USD".into(),
        }));
        initiatives.blocks.push(Block::Table(crate::doc::Table {
            columns: [
                "Initiative",
                "Type",
                "Status",
                "Investment",
                "Annual benefit",
                "ROI",
            ]
            .map(String::from)
            .to_vec(),
            rows: roi
                .initiatives
                .iter()
                .map(|i| {
                    vec![
                        shorten(&i.name, 40),
                        i.kind.clone(),
                        i.status.clone(),
                        format!("${}", amount(i.investment, 0)),
                        format!("${}", amount(i.annual_benefit, 0)),
                        i.roi_percent
                            .map_or_else(|| "n/a".into(), |r| format!("{} %", amount(r, 1))),
                    ]
                })
                .collect(),
            numeric: vec![false, false, false, true, true, true],
        }));
        let (i, b) = (
            roi.figure("Investment").unwrap_or_default(),
            roi.figure("Annual benefit").unwrap_or_default(),
        );
        let months: Vec<u32> = (0..=12).map(|q| q * 3).collect();
        payback.blocks.push(Block::Text(format!(
            "The investment (${}) is spent at the start; the annual benefit (${}) accrues evenly, one twelfth a month. The line crosses zero at the payback month.",
            amount(i, 0),
            amount(b, 0)
        )));
        payback.blocks.push(Block::Chart(Chart {
            kind: ChartKind::Line,
            title: "Cumulative net value (USD)".into(),
            categories: months.iter().map(|m| format!("M{m}")).collect(),
            series: vec![Series {
                name: "Cumulative net value".into(),
                values: months
                    .iter()
                    .map(|m| f64_of(b * Decimal::from(*m) / Decimal::from(12) - i))
                    .collect(),
            }],
            unit: "USD".into(),
        }));
        let mut by_kind: Vec<(String, Decimal)> = Vec::new();
        for init in &roi.initiatives {
            let kind = if init.kind.is_empty() {
                "No type".to_string()
            } else {
                init.kind.clone()
            };
            match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, sum)) => *sum += init.investment,
                None => by_kind.push((kind, init.investment)),
            }
        }
        mix.blocks.push(Block::Chart(Chart {
            kind: ChartKind::Pie,
            title: "Investment by initiative type".into(),
            categories: by_kind.iter().map(|(k, _)| shorten(k, 28)).collect(),
            series: vec![Series {
                name: "Investment".into(),
                values: by_kind.iter().map(|(_, v)| f64_of(*v)).collect(),
            }],
            unit: "USD".into(),
        }));
    }
    Document {
        title: "Platform ROI".into(),
        subtitle: format!("{} · {}", shorten(&roi.account, 80), roi.period_text()),
        footer: format!(
            "Calculated {} by csip from the CSIP workbook",
            made_at.format("%Y-%m-%d %H:%M UTC")
        ),
        sections: vec![summary, initiatives, payback, mix],
    }
}

#[cfg(test)]
mod tests {
    use super::Period;
    use csip_engine::NaiveDate;

    #[test]
    fn periods_parse_loosely_and_refuse_with_the_list() {
        assert_eq!("this-quarter".parse(), Ok(Period::ThisQuarter));
        assert_eq!("Last 12 Months".parse(), Ok(Period::Last12Months));
        assert_eq!("all_time".parse(), Ok(Period::AllTime));
        let e = "next year".parse::<Period>().unwrap_err();
        assert!(
            e.contains("This Quarter, This Year, Last 12 Months, All Time"),
            "{e}"
        );
    }

    #[test]
    fn first_days_of_periods() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let today = d("2026-11-24").unwrap_or_default();
        assert_eq!(Period::ThisQuarter.first_day(today), d("2026-10-01"));
        assert_eq!(Period::ThisYear.first_day(today), d("2026-01-01"));
        assert_eq!(Period::Last12Months.first_day(today), d("2025-11-24"));
        assert_eq!(Period::AllTime.first_day(today), None);
        let march = d("2026-03-31").unwrap_or_default();
        assert_eq!(Period::ThisQuarter.first_day(march), d("2026-01-01"));
    }
}
