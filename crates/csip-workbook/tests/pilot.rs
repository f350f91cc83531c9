//! The CSIP workbook with its pilot data: the blueprint's tables, columns and
//! views are there; Gard AS's health score and its components come out as the
//! arithmetic below says; trends, flags and roll-ups follow the history and
//! the edits; no formula cell holds an error; mistakes in the files are located.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{
    ColumnId, NaiveDate, RowId, SchemaError, SourceFile, TableId, Transaction, Value, Workbook,
};
use rust_decimal::Decimal;
use std::str::FromStr;

fn pilot() -> Workbook {
    csip_workbook::pilot(csip_workbook::sample_today()).unwrap()
}

fn t(wb: &Workbook, table: &str) -> TableId {
    wb.table_id(table).unwrap_or_else(|e| panic!("{e}"))
}

fn c(wb: &Workbook, table: &str, column: &str) -> ColumnId {
    wb.column_id(t(wb, table), column)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn row(wb: &Workbook, table: &str, name: &str) -> RowId {
    let rows = wb.find_rows(t(wb, table), name).unwrap();
    assert_eq!(rows.len(), 1, "{table}: {name}");
    rows[0]
}

fn cell(wb: &Workbook, table: &str, column: &str, r: RowId) -> Value {
    wb.value(c(wb, table, column), r).unwrap().clone()
}

fn num(s: &str) -> Value {
    Value::Number(Decimal::from_str(s).unwrap())
}

fn dec(v: &Value) -> Decimal {
    v.as_number()
        .unwrap_or_else(|| panic!("not a number: {v:?}"))
}

/// Rows of `table` whose `Account` is `account`.
fn rows_of(wb: &Workbook, table: &str, account: RowId) -> Vec<RowId> {
    let acc = c(wb, table, "Account");
    let accounts = t(wb, "Account_Master");
    wb.rows(t(wb, table))
        .unwrap()
        .iter()
        .copied()
        .filter(|r| wb.value(acc, *r).ok() == Some(&Value::Row(accounts, account)))
        .collect()
}

#[test]
fn every_blueprint_table_column_and_view_is_there() {
    let wb = pilot();
    let tables: &[(&str, &[&str])] = &[
        (
            "Account_Master",
            &[
                "Account_ID",
                "Account_Name",
                "Industry_Vertical",
                "Industry_Sub_Sector",
                "Contract_Type",
                "Contract_Start_Date",
                "Contract_End_Date",
                "Renewal_Date",
                "Days_To_Renewal",
                "ARR",
                "ACV",
                "Customer_Success_Manager",
                "Account_Executive",
                "Solutions_Architect",
                "Executive_Sponsor_MuleSoft",
                "Health_Score",
                "Platform_Technical_Health",
                "Business_Value_Realization",
                "Stakeholder_Engagement",
                "Strategic_Alignment",
                "Health_Score_Trend_30d",
                "Health_Score_Change_Flag",
                "Renewal_Risk_Level",
                "Account_Status",
                "S&P_Rating",
                "Customer_Annual_Revenue",
                "Employee_Count",
                "Geography",
                "Country",
                "Primary_Contact_Name",
                "Primary_Contact_Email",
                "Primary_Contact_Role",
                "Last_Engagement_Date",
                "Next_Engagement_Due",
                "Engagement_Cadence_Days",
                "Created_Date",
                "Last_Modified",
                "Data_Source",
                "Sync_from_Anypoint",
            ],
        ),
        (
            "People_Team",
            &[
                "Person_ID",
                "Full_Name",
                "Email",
                "Role",
                "Department",
                "Region",
                "Slack_User_ID",
                "Active_Status",
                "Accounts_Assigned",
                "Account_Count",
                "Total_ARR_Managed",
                "Avg_Health_Score",
            ],
        ),
        (
            "Business_Context",
            &[
                "Context_ID",
                "Account",
                "Last_Updated",
                "Updated_By",
                "Business_Model",
                "Market_Position",
                "Operating_Environment",
                "Key_Business_Challenges",
                "Strategic_Priorities_Current_Year",
                "Digital_Maturity",
                "IT_Complexity_Score",
                "Legacy_System_Count",
                "Cloud_Strategy",
                "Data_Classification",
            ],
        ),
        (
            "Strategic_Objectives",
            &[
                "Objective_ID",
                "Account",
                "Strategic_Pillar",
                "Objective_Name",
                "Description",
                "Business_Driver",
                "Quantified_Goal",
                "Target_Date",
                "Business_Owner",
                "Business_Value_USD",
                "MuleSoft_Relevance",
                "Status",
                "Progress_Percent",
                "Health_Indicator",
                "Last_Review_Date",
                "Notes",
                "Linked_Capabilities",
                "Linked_Value_Streams",
                "Linked_Initiatives",
                "MuleSoft_Impact_Score",
            ],
        ),
        (
            "MuleSoft_Capabilities",
            &[
                "Capability_ID",
                "Account",
                "Capability_Domain",
                "Capability_Name",
                "Description",
                "Current_Maturity",
                "Current_Maturity_Numeric",
                "Target_Maturity",
                "Target_Maturity_Numeric",
                "Maturity_Gap",
                "Gap_Status",
                "Investment_Required_USD",
                "Priority",
                "Implementation_Status",
                "Business_Impact_Statement",
                "Technical_Owner_Customer",
                "Last_Assessment_Date",
            ],
        ),
        (
            "Value_Streams",
            &[
                "Account",
                "Value_Stream_Name",
                "Business_Process",
                "Process_Owner",
                "Cycle_Time_Reduction_Percent",
                "Cycle_Time_Progress_Indicator",
                "Annual_Cost_Savings_USD",
                "Total_Business_Value_USD",
                "Revenue_Impact_USD",
                "Supporting_APIs",
            ],
        ),
        (
            "API_Portfolio",
            &[
                "API_ID",
                "Account",
                "SLA_Compliance_Percent",
                "Annual_Transaction_Volume",
                "Business_Criticality",
                "Business_Value_Score",
                "Health_Status",
                "Owner_Team",
                "Documentation_Quality",
                "Last_Deployed_Date",
                "Last_Sync_From_Anypoint",
                "Needs_Manual_Mapping",
            ],
        ),
        (
            "Platform_Health_Metrics",
            &[
                "Metric_ID",
                "Account",
                "Linked_Capability",
                "Linked_Strategic_Objective",
                "Health_Status",
                "Data_Source",
            ],
        ),
        (
            "Initiatives",
            &[
                "Initiative_ID",
                "Status_Indicator",
                "Is_Overdue",
                "ROI_Percent",
            ],
        ),
        (
            "Risk_Register",
            &[
                "Risk_ID",
                "Impact",
                "Probability",
                "Risk_Score",
                "Risk_Level",
                "Mitigation_Initiatives",
            ],
        ),
        (
            "Stakeholder_Outcomes",
            &[
                "Outcome_ID",
                "Account",
                "Baseline_Value",
                "Current_Value",
                "Target_Value",
                "Unit",
                "Improvement_Percent",
                "Target_Achievement_Percent",
                "Measurement_Frequency",
            ],
        ),
        (
            "Engagement_Log",
            &[
                "Engagement_ID",
                "Account",
                "Engagement_Date",
                "Engagement_Type",
                "Sentiment",
                "Relationship_Depth_Score",
                "Next_Engagement_Date",
            ],
        ),
        (
            "Account_Master_History",
            &[
                "Account_ID",
                "Date",
                "Health_Score",
                "Health_Score_Trend_30d",
            ],
        ),
        (
            "Platform_Health_Metrics_History",
            &["Metric_ID", "Date", "Current_Value"],
        ),
        ("Tasks", &["Title", "Assigned_To", "Due_Date"]),
        ("Automation_Logs", &["Automation", "Run_At", "Status"]),
    ];
    assert_eq!(wb.tables().count(), 16);
    for (table, columns) in tables {
        for column in *columns {
            c(&wb, table, column);
        }
    }
    let views: &[(&str, &[&str])] = &[
        (
            "Account_Master",
            &[
                "All Accounts",
                "By CSM",
                "Renewal Risk",
                "Health Score",
                "CSM Command Center",
            ],
        ),
        (
            "People_Team",
            &["All Team Members", "By Role", "By Portfolio Size"],
        ),
        ("Business_Context", &["All Contexts", "By Digital Maturity"]),
        (
            "Strategic_Objectives",
            &[
                "By Status",
                "By Strategic Pillar",
                "At Risk",
                "High Impact",
                "Strategic Alignment Board",
            ],
        ),
        (
            "MuleSoft_Capabilities",
            &[
                "All Capabilities",
                "By Gap Status",
                "Critical Gaps",
                "By Priority",
            ],
        ),
        (
            "Value_Streams",
            &["All Value Streams", "By Business Value", "High Impact"],
        ),
        (
            "API_Portfolio",
            &[
                "All APIs",
                "By Health Status",
                "Critical APIs",
                "Unhealthy APIs",
                "By Business Value",
            ],
        ),
        (
            "Platform_Health_Metrics",
            &[
                "All Metrics",
                "By Health Status",
                "Critical Metrics",
                "Alerts",
                "Platform Health Dashboard",
            ],
        ),
        (
            "Initiatives",
            &[
                "All Initiatives",
                "By Status",
                "By Priority",
                "In Progress",
                "Overdue",
                "High ROI",
            ],
        ),
        (
            "Risk_Register",
            &[
                "All Risks",
                "By Risk Level",
                "Critical & High",
                "Open Risks",
            ],
        ),
        (
            "Stakeholder_Outcomes",
            &["All Outcomes", "By Status", "Achieved"],
        ),
        (
            "Engagement_Log",
            &["All Engagements", "By Account", "Recent", "QBRs"],
        ),
    ];
    let all = wb.views();
    for (table, names) in views {
        for name in *names {
            assert!(
                all.iter()
                    .any(|v| wb.table_name(v.table).unwrap() == *table && v.name == *name),
                "no view {table}/{name}"
            );
        }
    }
}

/// Gard AS's health score, each component worked out by hand from the pilot data.
#[test]
fn gard_health_score_by_hand() {
    let wb = pilot();
    let gard = row(&wb, "Account_Master", "Gard AS");

    // Platform_Technical_Health: Gard AS's metrics in Performance, Reliability or Security,
    // each scored healthy 100, warning 60, critical 20 by its thresholds:
    //   Broker API p95 latency        780 ms, lower is better, warning ≥ 600 → warning   60
    //   Quote API availability      99.95 %,  higher is better, warning ≤ 99.5 → healthy 100
    //   Integration error rate        1.8 %,  lower, warning ≥ 1              → warning   60
    //   Mean time to recovery         3.0 h,  lower, warning ≥ 4              → healthy  100
    //   Security incidents (30 days)  0,      lower, warning ≥ 1              → healthy  100
    //   APIs under security policy    92 %,   higher, warning ≤ 90            → healthy  100
    //   Days to certificate expiry    12,     higher, critical ≤ 14           → critical  20
    //   Peak throughput               420/s,  higher, warning ≤ 250           → healthy  100
    //   CloudHub CPU utilization      81 %,   lower, warning ≥ 75             → warning   60
    //   Message queue backlog         120,    lower, warning ≥ 500            → healthy  100
    //   (API reuse rate is Adoption, cost per million calls is Cost: not counted.)
    //   (6 × 100 + 3 × 60 + 1 × 20) / 10 = 800 / 10 = 80
    let pth = dec(&cell(
        &wb,
        "Account_Master",
        "Platform_Technical_Health",
        gard,
    ));
    assert_eq!(pth, Decimal::from(80));
    // The same, from the data cells rather than the formula columns.
    let scores: Vec<Decimal> = rows_of(&wb, "Platform_Health_Metrics", gard)
        .into_iter()
        .filter(|m| {
            let cat = cell(&wb, "Platform_Health_Metrics", "Metric_Category", *m);
            ["Performance", "Reliability", "Security"]
                .iter()
                .any(|x| cat == Value::from(*x))
        })
        .map(|m| {
            let v = dec(&cell(&wb, "Platform_Health_Metrics", "Current_Value", m));
            let warn = dec(&cell(
                &wb,
                "Platform_Health_Metrics",
                "Warning_Threshold",
                m,
            ));
            let crit = dec(&cell(
                &wb,
                "Platform_Health_Metrics",
                "Critical_Threshold",
                m,
            ));
            let higher =
                cell(&wb, "Platform_Health_Metrics", "Higher_Is_Better", m) == Value::Bool(true);
            let (critical, warning) = if higher {
                (v <= crit, v <= warn)
            } else {
                (v >= crit, v >= warn)
            };
            Decimal::from(if critical {
                20
            } else if warning {
                60
            } else {
                100
            })
        })
        .collect();
    assert_eq!(scores.len(), 10);
    assert_eq!(
        scores.iter().sum::<Decimal>() / Decimal::from(scores.len()),
        pth
    );

    // Business_Value_Realization: outcomes not "Not Started", achievement (current − baseline) / (target − baseline):
    //   quote turnaround     (8 − 24) / (4 − 24)   = 0.80 → 80
    //   broker API renewals  (14 − 0) / (40 − 0)   = 0.35 → 35
    //   claims incidents     (8.5 − 12) / (2 − 12) = 0.35 → 35
    //   (the CFO's outcome is Not Started: not counted)
    //   (80 + 35 + 35) / 3 = 50
    assert_eq!(
        cell(&wb, "Account_Master", "Business_Value_Realization", gard),
        Value::from(50)
    );
    let achieved: Vec<Decimal> = rows_of(&wb, "Stakeholder_Outcomes", gard)
        .into_iter()
        .filter(|o| cell(&wb, "Stakeholder_Outcomes", "Status", *o) != Value::from("Not Started"))
        .map(|o| {
            let get = |col| dec(&cell(&wb, "Stakeholder_Outcomes", col, o));
            (get("Current_Value") - get("Baseline_Value"))
                / (get("Target_Value") - get("Baseline_Value"))
                * Decimal::ONE_HUNDRED
        })
        .collect();
    assert_eq!(
        achieved.iter().sum::<Decimal>() / Decimal::from(achieved.len()),
        Decimal::from(50)
    );

    // Stakeholder_Engagement: engagements on or after 2026-11-24 − 90 = 2026-08-26:
    //   2026-09-15 QBR 70, 2026-10-06 review 65, 2026-10-27 escalation 60, 2026-11-10 check-in 55
    //   (the 2026-07-27 QBR, 90, is older)
    //   (70 + 65 + 60 + 55) / 4 = 62.5
    assert_eq!(
        cell(&wb, "Account_Master", "Stakeholder_Engagement", gard),
        num("62.5")
    );
    let since = NaiveDate::from_ymd_opt(2026, 8, 26).unwrap();
    let depth: Vec<Decimal> = rows_of(&wb, "Engagement_Log", gard)
        .into_iter()
        .filter(
            |e| match cell(&wb, "Engagement_Log", "Engagement_Date", *e) {
                Value::Date(d) => d >= since,
                _ => false,
            },
        )
        .map(|e| dec(&cell(&wb, "Engagement_Log", "Relationship_Depth_Score", e)))
        .collect();
    assert_eq!(
        depth.iter().sum::<Decimal>() / Decimal::from(depth.len()),
        num("62.5").as_number().unwrap()
    );

    // Strategic_Alignment: of the two objectives, "Digitize war risk quoting" is On Track and
    // "Open broker self-service APIs" At Risk: 1 / 2 × 100 = 50
    assert_eq!(
        cell(&wb, "Account_Master", "Strategic_Alignment", gard),
        Value::from(50)
    );

    // Health_Score = 80 × 0.35 + 50 × 0.30 + 62.5 × 0.20 + 50 × 0.15 = 28 + 15 + 12.5 + 7.5 = 63
    assert_eq!(
        cell(&wb, "Account_Master", "Health_Score", gard),
        Value::from(63)
    );
    // 63 is under 70 with 96 days to renewal (2026-11-24 to 2027-02-28), not under 60: At Risk.
    assert_eq!(
        cell(&wb, "Account_Master", "Days_To_Renewal", gard),
        Value::from(96)
    );
    assert_eq!(
        cell(&wb, "Account_Master", "Renewal_Risk_Level", gard),
        Value::from("At Risk")
    );
    // Signature Success meets every 14 days: last met 2026-11-10, so due 2026-11-24.
    assert_eq!(
        cell(&wb, "Account_Master", "Engagement_Cadence_Days", gard),
        Value::from(14)
    );
    assert_eq!(
        cell(&wb, "Account_Master", "Next_Engagement_Due", gard),
        Value::Date(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
    );
}

#[test]
fn trends_and_flags_come_from_the_history() {
    let wb = pilot();
    // The snapshots of 2026-10-25 (30 days ago): Gard 71.5, Helix 81.0, Sakura 44.0.
    let cases = [
        ("Gard AS", "63", "-8.5", "🔴 Declining", "At Risk"),
        (
            "Helix Health Partners",
            "87.5",
            "6.5",
            "🟢 Improving",
            "Healthy",
        ),
        ("Sakura Retail Group", "42", "-2", "→ Stable", "Critical"),
    ];
    for (name, health, trend, flag, risk) in cases {
        let r = row(&wb, "Account_Master", name);
        assert_eq!(
            cell(&wb, "Account_Master", "Health_Score", r),
            num(health),
            "{name}"
        );
        assert_eq!(
            cell(&wb, "Account_Master", "Health_Score_Trend_30d", r),
            num(trend),
            "{name}"
        );
        assert_eq!(
            cell(&wb, "Account_Master", "Health_Score_Change_Flag", r),
            Value::from(flag),
            "{name}"
        );
        assert_eq!(
            cell(&wb, "Account_Master", "Renewal_Risk_Level", r),
            Value::from(risk),
            "{name}"
        );
    }
}

#[test]
fn deleting_an_account_leaves_every_other_id_and_trend_as_it_was() {
    let mut wb = pilot();
    let accounts = t(&wb, "Account_Master");
    let metrics = t(&wb, "Platform_Health_Metrics");
    let snapshot = |wb: &Workbook| -> Vec<(RowId, Value, Value, Vec<Value>)> {
        wb.rows(accounts)
            .unwrap()
            .iter()
            .map(|&r| {
                let metric_ids = wb
                    .rows(metrics)
                    .unwrap()
                    .iter()
                    .filter(|m| {
                        cell(wb, "Platform_Health_Metrics", "Account", **m)
                            == Value::Row(accounts, r)
                    })
                    .map(|m| cell(wb, "Platform_Health_Metrics", "Metric_ID", *m))
                    .collect();
                (
                    r,
                    cell(wb, "Account_Master", "Account_ID", r),
                    cell(wb, "Account_Master", "Health_Score_Trend_30d", r),
                    metric_ids,
                )
            })
            .collect()
    };
    let before = snapshot(&wb);
    assert_eq!(
        before[0].1,
        Value::from("ACC-00001"),
        "the sample data keeps its ids"
    );
    // Helix, the second account, goes with every row that belongs to it.
    let helix = row(&wb, "Account_Master", "Helix Health Partners");
    let mut tx = Transaction::new();
    for table in wb.tables().collect::<Vec<_>>() {
        let Ok(account) = wb.column_id(table, "Account") else {
            continue;
        };
        for &r in wb.rows(table).unwrap() {
            if wb.value(account, r).ok() == Some(&Value::Row(accounts, helix)) {
                tx = tx.delete(table, r);
            }
        }
    }
    tx = tx.delete(accounts, helix);
    let changes = wb.apply(tx).unwrap();
    let gone = changes
        .deleted
        .iter()
        .find(|d| (d.table, d.row) == (accounts, helix))
        .expect("Helix is among the deleted rows");
    assert_eq!(
        gone.value(c(&wb, "Account_Master", "Account_Name")),
        Some(&Value::from("Helix Health Partners")),
        "the change set carries the deleted row's values"
    );
    let after = snapshot(&wb);
    let kept: Vec<_> = before.into_iter().filter(|a| a.0 != helix).collect();
    assert_eq!(
        after, kept,
        "Gard and Sakura keep their ids, metric ids and trends"
    );
    assert_eq!(
        cell(
            &wb,
            "Account_Master",
            "Account_ID",
            row(&wb, "Account_Master", "Sakura Retail Group")
        ),
        Value::from("ACC-00003")
    );
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn people_roll_ups_follow_the_accounts() {
    let mut wb = pilot();
    let person = |wb: &Workbook, name: &str| row(wb, "People_Team", name);
    let rollup = |wb: &Workbook, name: &str| {
        let p = person(wb, name);
        (
            cell(wb, "People_Team", "Account_Count", p),
            cell(wb, "People_Team", "Total_ARR_Managed", p),
            cell(wb, "People_Team", "Avg_Health_Score", p),
        )
    };
    assert_eq!(
        rollup(&wb, "Kari Nordmann"),
        (Value::from(1), Value::from(480000), Value::from(63))
    );
    assert_eq!(
        rollup(&wb, "James Carter"),
        (Value::from(1), Value::from(310000), num("87.5"))
    );
    assert_eq!(
        rollup(&wb, "Kenji Watanabe"),
        (Value::from(1), Value::from(145000), Value::from(42))
    );
    assert_eq!(
        rollup(&wb, "Lars Berg"),
        (Value::from(0), Value::from(0), Value::Blank)
    );

    // Helix moves to Kari: she manages 480,000 + 310,000 = 790,000 at (63 + 87.5) / 2 = 75.25.
    let helix = row(&wb, "Account_Master", "Helix Health Partners");
    let csm = c(&wb, "Account_Master", "Customer_Success_Manager");
    let changes = wb
        .apply(Transaction::new().set(csm, helix, "Kari Nordmann"))
        .unwrap();
    assert_eq!(
        rollup(&wb, "Kari Nordmann"),
        (Value::from(2), Value::from(790000), num("75.25"))
    );
    assert_eq!(
        rollup(&wb, "James Carter"),
        (Value::from(0), Value::from(0), Value::Blank)
    );
    let total = c(&wb, "People_Team", "Total_ARR_Managed");
    let kari = person(&wb, "Kari Nordmann");
    assert_eq!(changes.get(total, kari).unwrap().new, Value::from(790000));

    // An ARR edit reaches only its CSM.
    let arr = c(&wb, "Account_Master", "ARR");
    let sakura = row(&wb, "Account_Master", "Sakura Retail Group");
    let changes = wb
        .apply(Transaction::new().set(arr, sakura, 150000))
        .unwrap();
    let people_changed: Vec<RowId> = changes.in_column(total).map(|ch| ch.cell.row).collect();
    assert_eq!(people_changed, [person(&wb, "Kenji Watanabe")]);
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn a_gard_metric_edit_updates_its_health_score() {
    let mut wb = pilot();
    let gard = row(&wb, "Account_Master", "Gard AS");
    let cert = rows_of(&wb, "Platform_Health_Metrics", gard)
        .into_iter()
        .find(|m| {
            cell(&wb, "Platform_Health_Metrics", "Metric_Name", *m)
                == Value::from("Days to certificate expiry")
        })
        .unwrap();
    // The certificate is renewed: 45 days is healthy, so the critical 20 becomes 100:
    // PTH = (7 × 100 + 3 × 60) / 10 = 88; Health = 88 × 0.35 + 35 = 30.8 + 35 = 65.8.
    let value = c(&wb, "Platform_Health_Metrics", "Current_Value");
    let changes = wb.apply(Transaction::new().set(value, cert, 45)).unwrap();
    let health = c(&wb, "Account_Master", "Health_Score");
    let change = changes.get(health, gard).unwrap();
    assert_eq!(
        (change.old.clone(), change.new.clone()),
        (Some(Value::from(63)), num("65.8"))
    );
    assert_eq!(
        cell(&wb, "Account_Master", "Platform_Technical_Health", gard),
        Value::from(88)
    );
    assert_eq!(
        cell(&wb, "Platform_Health_Metrics", "Alert", cert),
        Value::Bool(false)
    );
    // 65.8 − 71.5 = −5.7: still declining.
    assert_eq!(
        cell(&wb, "Account_Master", "Health_Score_Trend_30d", gard),
        num("-5.7")
    );
    let others =
        ["Helix Health Partners", "Sakura Retail Group"].map(|n| row(&wb, "Account_Master", n));
    assert!(changes.in_column(health).all(|ch| ch.cell.row == gard) && !others.contains(&gard));
    assert!(wb.differences_from_full_recalc().is_empty());
}

#[test]
fn no_formula_cell_holds_an_error() {
    let wb = pilot();
    let mut errors = Vec::new();
    for table in wb.tables() {
        for &col in wb.columns(table).unwrap() {
            if !wb.is_formula(col).unwrap() {
                continue;
            }
            for &r in wb.rows(table).unwrap() {
                if let Some(e) = wb.value(col, r).unwrap().as_error() {
                    errors.push(format!(
                        "{}.{} row {}: {e}",
                        wb.table_name(table).unwrap(),
                        wb.column_name(col).unwrap(),
                        r
                    ));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_data_reads_the_same_on_any_day() {
    // Every date moves with `today`, so every computed value stays.
    let base = pilot();
    let later = csip_workbook::pilot(NaiveDate::from_ymd_opt(2027, 3, 9).unwrap()).unwrap();
    for table in base.tables() {
        let name = base.table_name(table).unwrap();
        let later_table = later.table_id(name).unwrap();
        for &col in base.columns(table).unwrap() {
            if !base.is_formula(col).unwrap() {
                continue;
            }
            let later_col = later
                .column_id(later_table, base.column_name(col).unwrap())
                .unwrap();
            let rows = base.rows(table).unwrap();
            for (a, b) in rows.iter().zip(later.rows(later_table).unwrap()) {
                let (x, y) = (
                    base.value(col, *a).unwrap(),
                    later.value(later_col, *b).unwrap(),
                );
                let same = match (x, y) {
                    (Value::Date(p), Value::Date(q)) => {
                        (*q - *p).num_days()
                            == (later.clock().today - base.clock().today).num_days()
                    }
                    _ => x == y,
                };
                assert!(
                    same,
                    "{}.{}: {x:?} then {y:?}",
                    base.table_name(table).unwrap(),
                    base.column_name(col).unwrap()
                );
            }
        }
    }
}

#[test]
fn a_mistake_in_a_table_file_is_located() {
    let mut files = csip_workbook::table_files();
    files[0].text = files[0].text.replace(
        "([Platform_Technical_Health] * 0.35)",
        "([Platform_Technical_Helth] * 0.35)",
    );
    let account_master = files[0].clone();
    let schema = csip_engine::schema_from_files(&files).unwrap();
    let err: SchemaError = Workbook::new(
        &schema,
        csip_engine::Clock::on(csip_workbook::sample_today()),
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let p = &err.problems[0];
    assert_eq!(p.place(), "Account_Master.Health_Score");
    let (file, line, column) = p.location().unwrap();
    assert_eq!(file, "fixtures/csip/tables/01_account_master.toml");
    let text_line = account_master.text.lines().nth(line - 1).unwrap();
    assert!(
        text_line.starts_with("formula = '([Platform_Technical_Helth]"),
        "{text_line}"
    );
    assert_eq!(column, 13);
    let rendered = p.render();
    assert!(
        rendered.contains("did you mean `Platform_Technical_Health`?"),
        "{rendered}"
    );
    assert!(rendered.contains("01_account_master.toml:"), "{rendered}");

    // Not a formula: a relation to a table that does not exist, pointed at its column.
    let mut files = csip_workbook::table_files();
    files[0].text = files[0].text.replace(
        "table = \"People_Team\"\nrequired = true",
        "table = \"People\"\nrequired = true",
    );
    let schema = csip_engine::schema_from_files(&files).unwrap();
    let err = Workbook::new(
        &schema,
        csip_engine::Clock::on(csip_workbook::sample_today()),
    )
    .unwrap_err();
    let (_, line, _) = err.problems[0].location().unwrap();
    assert_eq!(files[0].text.lines().nth(line - 1).unwrap(), "[[columns]]");
    assert!(
        err.problems[0]
            .message
            .contains("did you mean `People_Team`?"),
        "{}",
        err.problems[0].message
    );

    // Not TOML at all.
    let broken = SourceFile::new("broken.toml", "name = \"T\"\n[[columns]\n");
    let err = csip_engine::schema_from_files(&[broken]).unwrap_err();
    assert_eq!((err.path.as_str(), err.line), ("broken.toml", 2));
}

#[test]
fn a_mistake_in_a_data_file_is_located() {
    let schema = csip_workbook::schema().unwrap();
    let mut files = csip_workbook::data_files();
    let at = files
        .iter()
        .position(|f| f.path.ends_with("data/account_master.toml"))
        .unwrap();
    files[at].text = files[at].text.replace(
        "Contract_Type = \"Premier Success\"",
        "Contract_Type = \"Platinum\"",
    );
    let accounts = files[at].clone();
    let mut wb = Workbook::new(
        &schema,
        csip_engine::Clock::on(csip_workbook::sample_today()),
    )
    .unwrap();
    let err = wb.import_files(&files, 0).unwrap_err();
    assert!(err.path.ends_with("data/account_master.toml"), "{err}");
    assert!(err.message.contains("has no option \"Platinum\""), "{err}");
    // The error points at the row: the second account's `[[rows]]`.
    let line = accounts.text.lines().nth(err.line - 1).unwrap();
    assert!(
        line.starts_with("Account_Name = \"Helix") || line == "[[rows]]",
        "{line}"
    );
    // Nothing was loaded.
    assert!(
        wb.rows(wb.table_id("Account_Master").unwrap())
            .unwrap()
            .is_empty()
    );
}
