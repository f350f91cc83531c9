//! The QBR deck (the Generate QBR Deck button; DESIGN §5 "Reports"): an
//! account's quarter from the six tables the blueprint names, read through
//! the workbook's `QBR …` views (each takes the account, and the history
//! and engagements the date range), laid out as a title and ten sections —
//! executive summary, health, objectives, value delivered, initiatives and
//! value streams, platform health, APIs, risks, engagements, next quarter —
//! and an appendix with the metric table when asked. A section with no data
//! says so instead of drawing an empty chart.

use crate::doc::{Block, Chart, ChartKind, Document, Figure, Section, Series, shorten};
use crate::read::{Rows, account, cell, cell_text};
use crate::{Format, ReportError, ReportFile, file_name};
use csip_engine::{NaiveDate, NaiveDateTime, RowId, Value, Workbook};

/// What a QBR deck is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QbrRequest {
    /// The account: its Account_Name or Account_ID.
    pub account: String,
    /// The first day of the range (health history, engagements).
    pub from: NaiveDate,
    /// Its last day.
    pub to: NaiveDate,
    /// Whether to add the appendix with the account's metric table.
    pub appendix: bool,
}

impl QbrRequest {
    /// A request without the appendix.
    pub fn new(account: impl Into<String>, from: NaiveDate, to: NaiveDate) -> QbrRequest {
        QbrRequest {
            account: account.into(),
            from,
            to,
            appendix: false,
        }
    }
}

/// A generated QBR: the account and the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qbr {
    /// The account's name.
    pub account: String,
    /// The account's row (where the files are listed).
    pub row: RowId,
    /// The deck and/or the PDF, as asked.
    pub files: Vec<ReportFile>,
}

impl Qbr {
    /// The e-mail that sends this QBR of `request` to `to` (`None` when
    /// nobody is named).
    pub fn email(&self, request: &QbrRequest, to: &[String]) -> Option<crate::keep::Email> {
        crate::keep::Email::to(
            to,
            format!("Quarterly Business Review: {}", self.account),
            format!(
                "The Quarterly Business Review of {} for {} to {} is attached.",
                self.account, request.from, request.to
            ),
        )
    }
}

/// The QBR of `request` as the files `format` asks for.
///
/// # Errors
///
/// An unknown account, a date range that ends before it starts (or spans
/// more than ten years), a workbook without the report views (`csip
/// upgrade`), or a writer's failure.
pub fn generate(
    wb: &Workbook,
    request: &QbrRequest,
    format: Format,
    made_at: NaiveDateTime,
) -> Result<Qbr, ReportError> {
    let (doc, row) = document(wb, request, made_at)?;
    let account = csip_workbook::lookup::account_name(wb, row);
    let stem = format!("QBR {account} {} to {}", request.from, request.to);
    let mut files = Vec::new();
    if matches!(format, Format::Pptx | Format::Both) {
        files.push(ReportFile {
            name: file_name(&stem, "pptx"),
            media_type: crate::PPTX,
            bytes: crate::pptx::write_deck(&doc)?,
        });
    }
    if matches!(format, Format::Pdf | Format::Both) {
        files.push(ReportFile {
            name: file_name(&stem, "pdf"),
            media_type: crate::PDF,
            bytes: crate::pdf::write_pdf(&doc)?,
        });
    }
    Ok(Qbr {
        account,
        row,
        files,
    })
}

/// The QBR of `request` as a document, and the account's row.
///
/// # Errors
///
/// Those of [`generate`] before writing.
pub fn document(
    wb: &Workbook,
    request: &QbrRequest,
    made_at: NaiveDateTime,
) -> Result<(Document, RowId), ReportError> {
    let (from, to) = (request.from, request.to);
    if to < from {
        return Err(ReportError::BadRange {
            from,
            to,
            reason: "it ends before it starts",
        });
    }
    if (to - from).num_days() > 3660 {
        return Err(ReportError::BadRange {
            from,
            to,
            reason: "it spans more than ten years",
        });
    }
    let row = account(wb, &request.account)?;
    let accounts = wb
        .table_id("Account_Master")
        .map_err(|e| ReportError::workbook("Account_Master", e))?;
    let name = csip_workbook::lookup::account_name(wb, row);
    let one = [("account", Value::Row(accounts, row))];
    let ranged = [
        ("account", Value::Row(accounts, row)),
        ("from", Value::Date(from)),
        ("to", Value::Date(to)),
    ];
    let a = |column: &str| cell_text(wb, "Account_Master", column, row);
    let range = format!("{from} to {to}");

    let mut sections = Vec::new();

    // Executive summary.
    let trend = a("Health_Score_Trend_30d")?;
    let flag = a("Health_Score_Change_Flag")?;
    let days = a("Days_To_Renewal")?;
    sections.push(Section {
        title: "Executive summary".into(),
        blocks: vec![
            Block::Figures(vec![
                figure(
                    "Health score",
                    a("Health_Score")?,
                    if trend.is_empty() {
                        flag.clone()
                    } else {
                        format!("{flag} ({trend} in 30 days)")
                    },
                ),
                figure(
                    "Renewal",
                    a("Renewal_Date")?,
                    if days.is_empty() {
                        String::new()
                    } else {
                        format!("in {days} days")
                    },
                ),
                figure("ARR", a("ARR")?, a("Contract_Type")?),
                figure("Renewal risk", a("Renewal_Risk_Level")?, String::new()),
            ]),
            Block::Bullets(
                [
                    ("Customer Success Manager", a("Customer_Success_Manager")?),
                    ("Contract", a("Contract_Type")?),
                    ("Contract ends", a("Contract_End_Date")?),
                    ("Last engagement", a("Last_Engagement_Date")?),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}: {}", shorten(&v, 60)))
                .collect(),
            ),
        ],
        notes: formula_note(wb, &["Health_Score", "Renewal_Risk_Level"]),
    });

    // Health: the four components and the history in the range.
    let history = Rows::of(wb, "QBR Health History", &ranged)?;
    let mut health = vec![Block::Figures(vec![
        figure(
            "Platform technical health",
            a("Platform_Technical_Health")?,
            "35 % of the score".into(),
        ),
        figure(
            "Business value realization",
            a("Business_Value_Realization")?,
            "30 %".into(),
        ),
        figure(
            "Stakeholder engagement",
            a("Stakeholder_Engagement")?,
            "20 %".into(),
        ),
        figure(
            "Strategic alignment",
            a("Strategic_Alignment")?,
            "15 %".into(),
        ),
    ])];
    if history.is_empty() {
        health.push(Block::Empty(format!(
            "No health score snapshots between {from} and {to} (the Daily Health Score Refresh writes one a day)."
        )));
    } else {
        health.push(Block::Chart(Chart {
            kind: ChartKind::Line,
            title: format!("Health score, {range}"),
            categories: history.texts("Date")?,
            series: vec![Series {
                name: "Health score".into(),
                values: history.numbers("Health_Score")?,
            }],
            unit: "points".into(),
        }));
    }
    sections.push(Section {
        title: "Health score and its components".into(),
        blocks: health,
        notes: formula_note(
            wb,
            &[
                "Platform_Technical_Health",
                "Business_Value_Realization",
                "Stakeholder_Engagement",
                "Strategic_Alignment",
            ],
        ),
    });

    // Strategic objectives by status.
    let objectives = Rows::of(wb, "QBR Objectives", &one)?;
    let mut blocks = Vec::new();
    if objectives.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no strategic objectives recorded.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Figures(
            objectives
                .view
                .groups
                .iter()
                .map(|g| {
                    figure(
                        &g.key.as_ref().map(|k| wb.display(k)).unwrap_or_default(),
                        g.count.to_string(),
                        if g.count == 1 {
                            "objective"
                        } else {
                            "objectives"
                        }
                        .into(),
                    )
                })
                .collect(),
        ));
        blocks.push(Block::Table(objectives.table(&[
            ("Objective", "Objective_Name", 44),
            ("Status", "Status", 12),
            ("Progress", "Progress_Percent", 9),
            ("Value", "Business_Value_USD", 14),
            ("Target date", "Target_Date", 11),
        ])?));
    }
    sections.push(section("Strategic objectives", blocks));

    // Value delivered: stakeholder outcomes.
    let outcomes = Rows::of(wb, "QBR Outcomes", &one)?;
    let streams = Rows::of(wb, "QBR Value Streams", &one)?;
    let mut blocks = vec![Block::Figures(vec![
        figure(
            "Value streams' yearly value",
            streams
                .tile("Business value (USD)")
                .and_then(Value::as_number)
                .map(|v| format!("${}", crate::read::amount(v, 0)))
                .unwrap_or_default(),
            "a year".into(),
        ),
        figure(
            "Outcomes achieved",
            format!(
                "{} of {}",
                outcomes
                    .values("Achievement_Status")?
                    .iter()
                    .filter(|v| wb.display(v).contains("Achieved"))
                    .count(),
                outcomes.len()
            ),
            "stakeholder outcomes".into(),
        ),
    ])];
    if outcomes.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no stakeholder outcomes recorded.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Table(outcomes.table(&[
            ("Stakeholder", "Stakeholder_Name", 20),
            ("Metric", "Success_Metric", 30),
            ("Baseline", "Baseline_Value", 10),
            ("Current", "Current_Value", 10),
            ("Target", "Target_Value", 10),
            ("Achieved", "Target_Achievement_Percent", 9),
        ])?));
    }
    sections.push(section("Value delivered: stakeholder outcomes", blocks));

    // Value delivered: initiatives' ROI and value streams.
    let initiatives = Rows::of(wb, "QBR Initiatives", &one)?;
    let mut blocks = Vec::new();
    if initiatives.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no initiatives recorded.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Table(initiatives.table(&[
            ("Initiative", "Initiative_Name", 36),
            ("Status", "Status", 12),
            ("Investment", "Investment_USD", 13),
            ("Annual benefit", "Annual_Benefit_USD", 13),
            ("ROI", "ROI_Percent", 9),
            ("Payback (months)", "Payback_Months", 8),
        ])?));
    }
    if streams.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no value streams recorded.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Table(streams.table(&[
            ("Value stream", "Value_Stream_Name", 36),
            ("Cycle time cut", "Cycle_Time_Reduction_Percent", 10),
            ("Cost savings", "Annual_Cost_Savings_USD", 14),
            ("Revenue impact", "Revenue_Impact_USD", 14),
            ("Total value", "Total_Business_Value_USD", 14),
        ])?));
    }
    sections.push(section(
        "Value delivered: initiatives and value streams",
        blocks,
    ));

    // Platform health: metrics against targets.
    let metrics = Rows::of(wb, "QBR Metrics", &one)?;
    let apis = Rows::of(wb, "QBR APIs", &one)?;
    let tile = |rows: &Rows<'_>, name| rows.tile(name).map(|v| wb.display(v)).unwrap_or_default();
    let mut blocks = vec![Block::Figures(vec![
        figure(
            "APIs in production",
            tile(&apis, "APIs in production"),
            String::new(),
        ),
        figure("Average SLA", tile(&apis, "Average SLA (%)"), "%".into()),
        figure("Metrics", metrics.len().to_string(), "measured".into()),
    ])];
    let attainment = metrics.numbers("Attainment (%)")?;
    if attainment.iter().all(Option::is_none) {
        blocks.push(Block::Empty(format!(
            "{} has no metrics with both a value and a target to chart.",
            shorten(&name, 60)
        )));
    } else {
        let names = metrics.texts("Metric_Name")?;
        let charted: Vec<usize> = (0..names.len())
            .filter(|&i| attainment[i].is_some())
            .collect();
        blocks.push(Block::Chart(Chart {
            kind: ChartKind::Bar,
            title: "Metrics against their targets (100 % = on target)".into(),
            categories: charted.iter().map(|&i| shorten(&names[i], 22)).collect(),
            series: vec![
                Series {
                    name: "Current, % of target".into(),
                    values: charted
                        .iter()
                        .map(|&i| attainment[i].map(|v| v.min(200.0)))
                        .collect(),
                },
                Series {
                    name: "Target".into(),
                    values: charted.iter().map(|_| Some(100.0)).collect(),
                },
            ],
            unit: "%".into(),
        }));
    }
    sections.push(Section {
        title: "APIs and platform health".into(),
        blocks,
        notes: "A metric's attainment is its current value over its target (the target over the value where lower is better), as the Platform_Health_Metrics view QBR Metrics computes it; capped at 200 % in the chart.".into(),
    });

    // APIs, mission-critical first.
    let mut blocks = Vec::new();
    if apis.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no APIs in the portfolio.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Table(apis.table(&[
            ("API", "API_Name", 32),
            ("Criticality", "Business_Criticality", 17),
            ("Environment", "Environment", 11),
            ("Health", "Health_Status", 12),
            ("SLA", "SLA_Compliance_Percent", 8),
            ("Errors", "Error_Rate_Percent", 8),
        ])?));
    }
    sections.push(section("Critical APIs", blocks));

    // Risks and their mitigations.
    let risks = Rows::of(wb, "QBR Risks", &one)?;
    let mut blocks = Vec::new();
    if risks.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no open risks.",
            shorten(&name, 60)
        )));
    } else {
        blocks.push(Block::Table(risks.table(&[
            ("Risk", "Risk_Title", 30),
            ("Level", "Risk_Level", 9),
            ("Status", "Status", 10),
            ("Mitigation", "Mitigation_Plan", 44),
            ("Owner", "Risk_Owner", 16),
        ])?));
    }
    sections.push(section("Risks and mitigations", blocks));

    // Engagements in the range.
    let engagements = Rows::of(wb, "QBR Engagements", &ranged)?;
    let mut blocks = Vec::new();
    if engagements.is_empty() {
        blocks.push(Block::Empty(format!(
            "No engagements between {from} and {to}."
        )));
    } else {
        blocks.push(Block::Table(engagements.table(&[
            ("Date", "Engagement_Date", 10),
            ("Type", "Engagement_Type", 18),
            ("Seniority", "Seniority_Level", 14),
            ("Sentiment", "Sentiment", 13),
            ("Summary", "Summary", 50),
        ])?));
    }
    sections.push(section(&format!("Engagements, {range}"), blocks));

    // Next quarter: open initiatives and tasks.
    let plan = Rows::of(wb, "QBR Plan", &one)?;
    let tasks = Rows::of(wb, "QBR Open Tasks", &one)?;
    let mut blocks = Vec::new();
    if plan.is_empty() && tasks.is_empty() {
        blocks.push(Block::Empty(format!(
            "{} has no open initiatives or tasks.",
            shorten(&name, 60)
        )));
    }
    if !plan.is_empty() {
        blocks.push(Block::Table(plan.table(&[
            ("Initiative", "Initiative_Name", 36),
            ("Phase", "Phase", 10),
            ("Status", "Status_Indicator", 16),
            ("Target", "Target_Completion_Date", 10),
            ("Owner", "Initiative_Owner", 18),
        ])?));
    }
    if !tasks.is_empty() {
        blocks.push(Block::Table(tasks.table(&[
            ("Task", "Title", 44),
            ("Priority", "Priority", 8),
            ("Due", "Due_Date", 10),
            ("Assigned to", "Assigned_To", 18),
        ])?));
    }
    sections.push(section("Next quarter", blocks));

    if request.appendix {
        let mut blocks = Vec::new();
        if metrics.is_empty() {
            blocks.push(Block::Empty(format!(
                "{} has no metrics.",
                shorten(&name, 60)
            )));
        } else {
            blocks.push(Block::Table(metrics.table(&[
                ("Metric", "Metric_Name", 30),
                ("Category", "Metric_Category", 12),
                ("Current", "Current_Value", 10),
                ("Target", "Target_Value", 10),
                ("Unit", "Unit", 8),
                ("Status", "Health_Status", 12),
                ("Measured", "Last_Measured", 16),
            ])?));
        }
        sections.push(section("Appendix: platform health metrics", blocks));
    }

    let (_, id) = cell(wb, "Account_Master", "Account_ID", row)?;
    Ok((
        Document {
            title: "Quarterly Business Review".into(),
            subtitle: format!("{} · {range}", shorten(&name, 80)),
            footer: format!(
                "{} · prepared {} by csip from the CSIP workbook",
                wb.display(id),
                made_at.format("%Y-%m-%d %H:%M UTC")
            ),
            sections,
        },
        row,
    ))
}

fn figure(label: &str, value: String, detail: String) -> Figure {
    Figure {
        label: shorten(label, 30),
        value: if value.is_empty() {
            "n/a".into()
        } else {
            shorten(&value, 18)
        },
        detail: shorten(&detail, 36),
    }
}

fn section(title: &str, blocks: Vec<Block>) -> Section {
    Section {
        title: title.to_string(),
        blocks,
        notes: String::new(),
    }
}

/// Speaker notes naming how Account_Master's columns are computed.
fn formula_note(wb: &Workbook, columns: &[&str]) -> String {
    let Ok(t) = wb.table_id("Account_Master") else {
        return String::new();
    };
    columns
        .iter()
        .filter_map(|c| {
            let id = wb.column_id(t, c).ok()?;
            let f = wb.column_schema(id).ok()?.formula.as_ref()?;
            Some(format!("{c} = {f}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
