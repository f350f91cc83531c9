//! Every view of the CSIP workbook against the pilot data, as of 2026-11-24:
//! which rows it shows (the filter), in which order (the sort), in which groups,
//! and the tiles and parameters of the views that have them.
//!
//! Every expectation is worked out by hand from `fixtures/csip/tables` (the
//! formulas and views) and `fixtures/csip/data` (the rows); where a computed
//! value decides a filter, a sort or a group, a comment gives the arithmetic.
//! Rows are named by a readable field, formatted as people read it
//! (`Workbook::format_value`).
//!
//! Two rules of the engine that the expectations rely on: sorting is stable
//! (rows that tie keep their table order), and rows (relation values) sort by
//! what they show, their display column (`view.rs`, `sort_key`). The
//! pilot accounts are in alphabetical order in their table (Gard AS, Helix Health
//! Partners, Sakura Retail Group), so sorting by `Account` is alphabetical too.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_engine::{Transaction, Value, ViewError, ViewLayout, ViewPage, ViewResult, Workbook};

// ---- helpers --------------------------------------------------------------------

fn pilot() -> Workbook {
    csip_workbook::pilot(csip_workbook::sample_today()).unwrap()
}

/// A view with no parameters.
fn show(wb: &Workbook, name: &str) -> ViewResult {
    show_with(wb, name, &[])
}

/// A view with parameters.
fn show_with(wb: &Workbook, name: &str, params: &[(&str, Value)]) -> ViewResult {
    wb.view(name, params)
        .unwrap_or_else(|e| panic!("view `{name}`: {e}"))
}

/// A view for one user (`CurrentUser()`).
fn for_user(wb: &Workbook, name: &str, user: &str) -> ViewResult {
    show_with(wb, name, &[("user", Value::from(user))])
}

/// A view for one account (`Param("account")`).
fn for_account(wb: &Workbook, name: &str, account: &str) -> ViewResult {
    show_with(wb, name, &[("account", Value::from(account))])
}

/// One field's values, formatted, row by row across the groups.
fn column(wb: &Workbook, v: &ViewResult, field: &str) -> Vec<String> {
    let i = v
        .fields
        .iter()
        .position(|f| f == field)
        .unwrap_or_else(|| panic!("view `{}` has no field `{field}`", v.name));
    v.rows()
        .map(|r| wb.format_value(v.field_columns[i], &r.values[i]))
        .collect()
}

/// The first field of each row, across the groups.
fn names(wb: &Workbook, v: &ViewResult) -> Vec<String> {
    column(wb, v, &v.fields[0])
}

/// The first field of each row of a view that is not grouped.
fn flat(wb: &Workbook, v: &ViewResult) -> Vec<String> {
    assert_eq!(v.groups.len(), 1, "view `{}` is not grouped", v.name);
    assert_eq!(v.groups[0].key, None, "view `{}` is not grouped", v.name);
    names(wb, v)
}

/// Each group's key and the first field of its rows.
fn groups(wb: &Workbook, v: &ViewResult) -> Vec<(String, Vec<String>)> {
    v.groups
        .iter()
        .map(|g| {
            let key = wb.display(g.key.as_ref().expect("a grouped view's groups have keys"));
            let rows = g
                .rows
                .iter()
                .map(|r| wb.format_value(v.field_columns[0], &r.values[0]))
                .collect();
            (key, rows)
        })
        .collect()
}

/// Asserts a grouped view's groups, in order, with their rows in order.
fn assert_groups(wb: &Workbook, v: &ViewResult, expected: &[(&str, &[&str])]) {
    let expected: Vec<(String, Vec<String>)> = expected
        .iter()
        .map(|(k, rows)| (k.to_string(), rows.iter().map(|r| r.to_string()).collect()))
        .collect();
    assert_eq!(groups(wb, v), expected, "groups of view `{}`", v.name);
}

/// A tile's value as text.
fn tile(wb: &Workbook, v: &ViewResult, name: &str) -> String {
    let (_, value) = v
        .tiles
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("view `{}` has no tile `{name}`", v.name));
    wb.display(value)
}

/// A sample value of a report view's parameter other than `user` and
/// `account`: the QBR's date range, the ROI's period.
fn report_param(name: &str) -> Option<(&'static str, Value)> {
    let day = |d| Value::Date(csip_engine::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
    Some(match name {
        "from" => ("from", day("2026-09-01")),
        "to" => ("to", day("2026-11-24")),
        "period" => ("period", Value::from("All Time")),
        "include_in_progress" => ("include_in_progress", Value::Bool(true)),
        _ => return None,
    })
}

// ---- the list of views ----------------------------------------------------------

#[test]
fn every_view_is_listed_and_tested_here() {
    let wb = pilot();
    let listed: Vec<String> = wb
        .views()
        .iter()
        .map(|v| format!("{}/{}", wb.table_name(v.table).unwrap(), v.name))
        .collect();
    // In file order. A view added to a table file must be added here, and tested.
    let expected = [
        "Account_Master/All Accounts",
        "Account_Master/By CSM",
        "Account_Master/Renewal Risk",
        "Account_Master/Health Score",
        "Account_Master/QBR Preparation",
        "Account_Master/Value Realization",
        "Account_Master/CSM Command Center",
        "People_Team/All Team Members",
        "People_Team/By Role",
        "People_Team/By Portfolio Size",
        "Business_Context/All Contexts",
        "Business_Context/By Digital Maturity",
        "Strategic_Objectives/All Objectives",
        "Strategic_Objectives/By Status",
        "Strategic_Objectives/By Strategic Pillar",
        "Strategic_Objectives/At Risk",
        "Strategic_Objectives/High Impact",
        "Strategic_Objectives/Strategic Alignment Board",
        "Strategic_Objectives/QBR Objectives",
        "MuleSoft_Capabilities/All Capabilities",
        "MuleSoft_Capabilities/By Gap Status",
        "MuleSoft_Capabilities/Critical Gaps",
        "MuleSoft_Capabilities/By Priority",
        "Value_Streams/All Value Streams",
        "Value_Streams/By Business Value",
        "Value_Streams/High Impact",
        "Value_Streams/QBR Value Streams",
        "API_Portfolio/All APIs",
        "API_Portfolio/By Health Status",
        "API_Portfolio/Critical APIs",
        "API_Portfolio/Unhealthy APIs",
        "API_Portfolio/By Business Value",
        "API_Portfolio/API Heat Map",
        "API_Portfolio/QBR APIs",
        "Platform_Health_Metrics/All Metrics",
        "Platform_Health_Metrics/By Health Status",
        "Platform_Health_Metrics/Critical Metrics",
        "Platform_Health_Metrics/Alerts",
        "Platform_Health_Metrics/Platform Health Dashboard",
        "Platform_Health_Metrics/QBR Metrics",
        "Initiatives/All Initiatives",
        "Initiatives/By Status",
        "Initiatives/By Priority",
        "Initiatives/In Progress",
        "Initiatives/Overdue",
        "Initiatives/High ROI",
        "Initiatives/QBR Initiatives",
        "Initiatives/QBR Plan",
        "Initiatives/Platform ROI",
        "Risk_Register/All Risks",
        "Risk_Register/By Risk Level",
        "Risk_Register/Critical & High",
        "Risk_Register/Open Risks",
        "Risk_Register/QBR Risks",
        "Stakeholder_Outcomes/All Outcomes",
        "Stakeholder_Outcomes/By Status",
        "Stakeholder_Outcomes/Achieved",
        "Stakeholder_Outcomes/QBR Outcomes",
        "Engagement_Log/All Engagements",
        "Engagement_Log/By Account",
        "Engagement_Log/Recent",
        "Engagement_Log/QBRs",
        "Engagement_Log/QBR Engagements",
        "Account_Master_History/By Account",
        "Account_Master_History/QBR Health History",
        "Platform_Health_Metrics_History/By Metric",
        "Tasks/Open Tasks",
        "Tasks/My Tasks",
        "Tasks/Overdue Tasks",
        "Tasks/QBR Open Tasks",
        "Automation_Logs/Recent Runs",
        "Automation_Logs/Failures",
    ];
    assert_eq!(wb.views().len(), 72);
    assert_eq!(listed, expected);
}

#[test]
fn no_view_shows_an_error_value() {
    let wb = pilot();
    for info in wb.views() {
        let name = format!("{}/{}", wb.table_name(info.table).unwrap(), info.name);
        let params: Vec<(&str, Value)> = info
            .params
            .iter()
            .map(|p| match p.name.as_str() {
                "user" => ("user", Value::from("Kari Nordmann")),
                "account" => ("account", Value::from("Gard AS")),
                other => report_param(other).unwrap_or_else(|| {
                    panic!("view `{name}` takes an unexpected parameter `{other}`")
                }),
            })
            .collect();
        let v = show_with(&wb, &name, &params);
        for row in v.rows() {
            for (field, value) in v.fields.iter().zip(&row.values) {
                assert!(
                    !matches!(value, Value::Error(_)),
                    "view `{name}`, field `{field}`: {}",
                    wb.display(value)
                );
            }
        }
        for (tile, value) in &v.tiles {
            assert!(
                !matches!(value, Value::Error(_)),
                "view `{name}`, tile `{tile}`: {}",
                wb.display(value)
            );
        }
    }
}

// ---- Account_Master ---------------------------------------------------------------
//
// Health_Score = PTH × 0.35 + BVR × 0.30 + SE × 0.20 + SA × 0.15, from:
// - Platform_Technical_Health: the average Health_Status_Numeric of the account's
//   Performance, Reliability and Security metrics (healthy 100, warning 60,
//   critical 20):
//   Gard: broker latency 780 ≥ warn 600 → 60, quote availability 100, integration
//   errors 1.8 ≥ 1 → 60, MTTR 100, incidents 100, policy 92 > 90 → 100, cert expiry
//   12 ≤ crit 14 → 20, throughput 100, CPU 81 ≥ 75 → 60, backlog 100: 800 / 10 = 80.
//   Helix: 100, 100, failed auth 0.3 ≥ 0.25 → 60, 100: 360 / 4 = 90.
//   Sakura: inventory latency 950 ≥ 900 → 20, order sync 2.1 ≥ 1 → 60, store
//   connectivity 99.6 ≤ 99.7 → 60, patch 100: 240 / 4 = 60.
// - Business_Value_Realization: the average Target_Achievement_Percent of the
//   outcomes that have started: Gard (24→8 of 24→4) 80, (0→14 of 0→40) 35,
//   (12→8.5 of 12→2) 35: 50; Helix (100→15 of 100→0) 85, (0→60 of 0→80) 75: 80;
//   Sakura (80→88 of 80→100) 40.
// - Stakeholder_Engagement: the average Relationship_Depth_Score since
//   2026-08-26 (today − 90): Gard 70, 65, 60, 55: 62.5 (2026-07-27 too old);
//   Helix 80, 85, 90: 85 (2026-06-10 too old); Sakura 50 (2026-08-30), 40: 45.
// - Strategic_Alignment: objectives On Track or Achieved: Gard 1 of 2 = 50,
//   Helix 2 of 2 = 100, Sakura 0 of 2 = 0.
// Gard 28 + 15 + 12.5 + 7.5 = 63; Helix 31.5 + 24 + 17 + 15 = 87.5; Sakura 21 + 12 + 9 + 0 = 42.
// Days_To_Renewal from 2026-11-24: Gard 2027-02-28 → 96, Helix 2027-08-31 → 280,
// Sakura 2027-01-15 → 52.
// Renewal_Risk_Level: Sakura 42 < 60 and 52 < 180 → Critical; Gard 63 < 70 and
// 96 < 365 → At Risk; Helix 87.5 ≥ 80 → Healthy.
// Health_Score_Trend_30d against the 2026-10-25 snapshot: Gard 63 − 71.5 = −8.5
// (Declining), Helix 87.5 − 81 = 6.5 (Improving), Sakura 42 − 44 = −2 (Stable).

#[test]
fn account_master_views() {
    let wb = pilot();

    let v = show(&wb, "Account_Master/All Accounts");
    assert_eq!(v.layout, ViewLayout::Grid);
    assert_eq!(flat(&wb, &v), ["ACC-00001", "ACC-00002", "ACC-00003"]);
    assert_eq!(
        column(&wb, &v, "Account_Name"),
        ["Gard AS", "Helix Health Partners", "Sakura Retail Group"]
    );
    assert_eq!(column(&wb, &v, "Health_Score"), ["63.0", "87.5", "42.0"]);
    assert_eq!(
        column(&wb, &v, "Renewal_Risk_Level"),
        ["At Risk", "Healthy", "Critical"]
    );
    assert_eq!(column(&wb, &v, "Days_To_Renewal"), ["96", "280", "52"]);
    assert_eq!(
        column(&wb, &v, "Customer_Success_Manager"),
        ["Kari Nordmann", "James Carter", "Kenji Watanabe"]
    );

    // Grouped by a people column with no group_order: views sort rows by what
    // they show, so the CSMs come by name (James, Kari, Kenji).
    let v = show(&wb, "Account_Master/By CSM");
    assert_groups(
        &wb,
        &v,
        &[
            ("James Carter", &["Helix Health Partners"]),
            ("Kari Nordmann", &["Gard AS"]),
            ("Kenji Watanabe", &["Sakura Retail Group"]),
        ],
    );

    // Critical or At Risk (Helix is Healthy), nearest renewal first: Sakura 52 days, Gard 96.
    let v = show(&wb, "Account_Master/Renewal Risk");
    assert_eq!(flat(&wb, &v), ["Sakura Retail Group", "Gard AS"]);
    assert_eq!(
        column(&wb, &v, "Renewal_Risk_Level"),
        ["Critical", "At Risk"]
    );
    assert_eq!(column(&wb, &v, "Days_To_Renewal"), ["52", "96"]);
    assert_eq!(
        column(&wb, &v, "Health_Score_Change_Flag"),
        ["→ Stable", "🔴 Declining"]
    );

    // Lowest health first: Sakura 42, Gard 63, Helix 87.5.
    let v = show(&wb, "Account_Master/Health Score");
    assert_eq!(
        flat(&wb, &v),
        ["Sakura Retail Group", "Gard AS", "Helix Health Partners"]
    );
    assert_eq!(
        column(&wb, &v, "Platform_Technical_Health"),
        ["60.0", "80.0", "90.0"]
    );
    assert_eq!(
        column(&wb, &v, "Business_Value_Realization"),
        ["40.0", "50.0", "80.0"]
    );
    assert_eq!(
        column(&wb, &v, "Stakeholder_Engagement"),
        ["45.0", "62.5", "85.0"]
    );
    assert_eq!(
        column(&wb, &v, "Strategic_Alignment"),
        ["0.0", "50.0", "100.0"]
    );
    assert_eq!(
        column(&wb, &v, "Health_Score_Change_Flag"),
        ["→ Stable", "🔴 Declining", "🟢 Improving"]
    );

    // All three are Active. Next_Engagement_Due = last engagement + cadence:
    // Gard 2026-11-10 + 14 (Signature) = 2026-11-24; Sakura 2026-10-02 + 60 (Standard)
    // = 2026-12-01; Helix 2026-11-18 + 30 (Premier) = 2026-12-18.
    let v = show(&wb, "Account_Master/QBR Preparation");
    assert_eq!(
        flat(&wb, &v),
        ["Gard AS", "Sakura Retail Group", "Helix Health Partners"]
    );
    assert_eq!(
        column(&wb, &v, "Next_Engagement_Due"),
        ["2026-11-24", "2026-12-01", "2026-12-18"]
    );

    // Business_Value_Realization descending: Helix 80, Gard 50, Sakura 40.
    // Objective value: Helix 3.1M + 1.25M, Gard 2.4M + 1.8M, Sakura 0.9M + 0.6M.
    // Value streams: (baseline − current) × volume × cost per hour + revenue impact:
    // Helix 76 × 5000 × 6 + 500,000 = 2,780,000; Gard 16 × 900 × 55 + 350,000 =
    // 1,142,000 and 12 × 4000 × 40 + 600,000 = 2,520,000; Sakura 8 × 2000 × 30 + 150,000.
    let v = show(&wb, "Account_Master/Value Realization");
    assert_eq!(
        flat(&wb, &v),
        ["Helix Health Partners", "Gard AS", "Sakura Retail Group"]
    );
    assert_eq!(
        column(&wb, &v, "Objective Value (USD)"),
        ["4,350,000", "4,200,000", "1,500,000"]
    );
    assert_eq!(
        column(&wb, &v, "Value Streams (USD)"),
        ["2,780,000", "3,662,000", "630,000"]
    );
}

#[test]
fn csm_command_center_per_user() {
    let wb = pilot();

    // Kari manages Gard AS (Active, At Risk: 63 < 70, 96 days < 365).
    let v = for_user(&wb, "CSM Command Center", "Kari Nordmann");
    assert_eq!(v.layout, ViewLayout::Cards);
    assert_groups(
        &wb,
        &v,
        &[
            ("Critical", &[]),
            ("At Risk", &["Gard AS"]),
            ("Attention Needed", &[]),
            ("Healthy", &[]),
        ],
    );
    assert_eq!(column(&wb, &v, "Last_Engagement_Date"), ["2026-11-10"]);

    // Kenji manages Sakura Retail Group (Critical: 42 < 60, 52 days < 180).
    let v = for_user(&wb, "CSM Command Center", "Kenji Watanabe");
    assert_groups(
        &wb,
        &v,
        &[
            ("Critical", &["Sakura Retail Group"]),
            ("At Risk", &[]),
            ("Attention Needed", &[]),
            ("Healthy", &[]),
        ],
    );

    // James manages Helix Health Partners (87.5 ≥ 80 → Healthy).
    let v = for_user(&wb, "CSM Command Center", "James Carter");
    assert_groups(
        &wb,
        &v,
        &[
            ("Critical", &[]),
            ("At Risk", &[]),
            ("Attention Needed", &[]),
            ("Healthy", &["Helix Health Partners"]),
        ],
    );

    // Lars Berg is an AE on Gard AS, not its CSM: no rows, the four groups still shown.
    let v = for_user(&wb, "CSM Command Center", "Lars Berg");
    assert_eq!(v.row_count(), 0);
    assert_groups(
        &wb,
        &v,
        &[
            ("Critical", &[]),
            ("At Risk", &[]),
            ("Attention Needed", &[]),
            ("Healthy", &[]),
        ],
    );
}

// ---- People_Team ------------------------------------------------------------------

#[test]
fn people_team_views() {
    let wb = pilot();

    // Rows in file order are PER-00001 Kari … PER-00010 Sofia; sorted by name.
    let v = show(&wb, "People_Team/All Team Members");
    assert_eq!(
        flat(&wb, &v),
        [
            "PER-00007",
            "PER-00009",
            "PER-00006",
            "PER-00002",
            "PER-00001",
            "PER-00003",
            "PER-00004",
            "PER-00008",
            "PER-00005",
            "PER-00010",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Full_Name"),
        [
            "Aiko Tanaka",
            "Erik Haugland",
            "Ingrid Solheim",
            "James Carter",
            "Kari Nordmann",
            "Kenji Watanabe",
            "Lars Berg",
            "Maria Alvarez",
            "Priya Nair",
            "Sofia Rossi",
        ]
    );

    // No group_order: roles sorted as text, without regard to case
    // ("csm" < "customer contact" since 's' < 'u'; "se" < "support engineer").
    let v = show(&wb, "People_Team/By Role");
    assert_groups(
        &wb,
        &v,
        &[
            ("AE", &["Lars Berg", "Priya Nair"]),
            ("CSM", &["James Carter", "Kari Nordmann", "Kenji Watanabe"]),
            ("Customer Contact", &["Erik Haugland"]),
            ("Executive Sponsor", &["Maria Alvarez"]),
            ("SE", &["Aiko Tanaka", "Ingrid Solheim"]),
            ("Support Engineer", &["Sofia Rossi"]),
        ],
    );

    // Only the three CSMs manage an account (Account_Count 1 each); by ARR managed:
    // Kari 480,000 (Gard), James 310,000 (Helix), Kenji 145,000 (Sakura).
    let v = show(&wb, "People_Team/By Portfolio Size");
    assert_eq!(
        flat(&wb, &v),
        ["Kari Nordmann", "James Carter", "Kenji Watanabe"]
    );
    assert_eq!(column(&wb, &v, "Account_Count"), ["1", "1", "1"]);
    assert_eq!(
        column(&wb, &v, "Total_ARR_Managed"),
        ["480,000", "310,000", "145,000"]
    );
    assert_eq!(
        column(&wb, &v, "Avg_Health_Score"),
        ["63.0", "87.5", "42.0"]
    );
}

// ---- Business_Context -------------------------------------------------------------

#[test]
fn business_context_views() {
    let wb = pilot();

    let v = show(&wb, "Business_Context/All Contexts");
    assert_eq!(flat(&wb, &v), ["CTX-00001", "CTX-00002", "CTX-00003"]);
    assert_eq!(
        column(&wb, &v, "Account"),
        ["Gard AS", "Helix Health Partners", "Sakura Retail Group"]
    );
    // Sakura has no IT_Complexity_Score written: the default 5.
    assert_eq!(column(&wb, &v, "IT_Complexity_Score"), ["7", "8", "5"]);

    let v = show(&wb, "Business_Context/By Digital Maturity");
    assert_groups(
        &wb,
        &v,
        &[
            ("Digital Native", &[]),
            ("Transforming", &["Gard AS", "Helix Health Partners"]),
            ("Traditional", &["Sakura Retail Group"]),
            ("Legacy", &[]),
        ],
    );
}

// ---- Strategic_Objectives ---------------------------------------------------------
//
// OBJ-00001 Digitize war risk quoting (Gard, On Track, 2027-06-30, 2.4M, Critical Enabler)
// OBJ-00002 Open broker self-service APIs (Gard, At Risk, 2027-12-31, 1.8M, Critical Enabler)
// OBJ-00003 Real-time patient referral exchange (Helix, On Track, 2027-03-31, 3.1M, Critical Enabler)
// OBJ-00004 Automate prior authorization (Helix, Achieved, 2026-09-30, 1.25M, Supporting)
// OBJ-00005 Unified inventory across stores and online (Sakura, At Risk, 2027-03-31, 0.9M, Critical Enabler)
// OBJ-00006 Partner loyalty platform (Sakura, In Progress, 2027-09-30, 0.6M, Supporting)

#[test]
fn strategic_objectives_views() {
    let wb = pilot();

    // By account, then target date: Helix's 2026-09-30 objective before its 2027-03-31 one.
    let v = show(&wb, "Strategic_Objectives/All Objectives");
    assert_eq!(
        flat(&wb, &v),
        [
            "OBJ-00001",
            "OBJ-00002",
            "OBJ-00004",
            "OBJ-00003",
            "OBJ-00005",
            "OBJ-00006"
        ]
    );
    assert_eq!(
        column(&wb, &v, "Health_Indicator"),
        [
            "⚪ Pending",
            "🔴 Risk",
            "🟢 Complete",
            "⚪ Pending",
            "🔴 Risk",
            "🟡 Active"
        ]
    );

    let v = show(&wb, "Strategic_Objectives/By Status");
    assert_groups(
        &wb,
        &v,
        &[
            ("Not Started", &[]),
            ("In Progress", &["Partner loyalty platform"]),
            (
                "On Track",
                // 2027-03-31 before 2027-06-30
                &[
                    "Real-time patient referral exchange",
                    "Digitize war risk quoting",
                ],
            ),
            (
                "At Risk",
                // 2027-03-31 before 2027-12-31
                &[
                    "Unified inventory across stores and online",
                    "Open broker self-service APIs",
                ],
            ),
            ("Achieved", &["Automate prior authorization"]),
            ("On Hold", &[]),
        ],
    );

    // No group_order: pillars sorted as text; within a pillar by account.
    let v = show(&wb, "Strategic_Objectives/By Strategic Pillar");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "Customer Experience",
                &[
                    "Digitize war risk quoting",
                    "Real-time patient referral exchange",
                ],
            ),
            (
                "Growth",
                &["Open broker self-service APIs", "Partner loyalty platform"],
            ),
            (
                "Operational Efficiency",
                &[
                    "Automate prior authorization",
                    "Unified inventory across stores and online",
                ],
            ),
        ],
    );

    let v = show(&wb, "Strategic_Objectives/At Risk");
    assert_eq!(
        flat(&wb, &v),
        [
            "Unified inventory across stores and online",
            "Open broker self-service APIs"
        ]
    );
    assert_eq!(column(&wb, &v, "Target_Date"), ["2027-03-31", "2027-12-31"]);

    // Critical Enabler and ≥ 1M: OBJ-1, 2, 3 (OBJ-4 is Supporting, OBJ-5 is 0.9M).
    // MuleSoft_Impact_Score = capabilities × APIs of the linked value streams × value in M:
    // OBJ-1 2 × 3 (VS-1) × 2.4 = 14.4; OBJ-2 2 × 2 (VS-2) × 1.8 = 7.2; OBJ-3 1 × 2 (VS-3) × 3.1 = 6.2.
    let v = show(&wb, "Strategic_Objectives/High Impact");
    assert_eq!(
        flat(&wb, &v),
        [
            "Digitize war risk quoting",
            "Open broker self-service APIs",
            "Real-time patient referral exchange",
        ]
    );
    assert_eq!(
        column(&wb, &v, "MuleSoft_Impact_Score"),
        ["14.4", "7.2", "6.2"]
    );
}

#[test]
fn strategic_alignment_board_per_account() {
    let wb = pilot();
    let name = "Strategic Alignment Board";

    let v = for_account(&wb, name, "Gard AS");
    assert_eq!(v.layout, ViewLayout::Kanban);
    assert_groups(
        &wb,
        &v,
        &[
            ("Not Started", &[]),
            ("In Progress", &[]),
            ("On Track", &["Digitize war risk quoting"]),
            ("At Risk", &["Open broker self-service APIs"]),
            ("Achieved", &[]),
        ],
    );
    assert_eq!(column(&wb, &v, "Capabilities"), ["2", "2"]);
    assert_eq!(column(&wb, &v, "Value Streams"), ["1", "1"]);
    assert_eq!(tile(&wb, &v, "Objectives"), "2");
    assert_eq!(tile(&wb, &v, "Business value (USD)"), "4200000"); // 2.4M + 1.8M
    assert_eq!(tile(&wb, &v, "Average progress (%)"), "47.5"); // (60 + 35) / 2
    assert_eq!(tile(&wb, &v, "At risk"), "1");

    // Helix: both objectives are Critical Enabler or Supporting.
    let v = for_account(&wb, name, "Helix Health Partners");
    assert_groups(
        &wb,
        &v,
        &[
            ("Not Started", &[]),
            ("In Progress", &[]),
            ("On Track", &["Real-time patient referral exchange"]),
            ("At Risk", &[]),
            ("Achieved", &["Automate prior authorization"]),
        ],
    );
    assert_eq!(column(&wb, &v, "Capabilities"), ["1", "1"]);
    assert_eq!(column(&wb, &v, "Value Streams"), ["1", "0"]);
    assert_eq!(tile(&wb, &v, "Objectives"), "2");
    assert_eq!(tile(&wb, &v, "Business value (USD)"), "4350000"); // 3.1M + 1.25M
    assert_eq!(tile(&wb, &v, "Average progress (%)"), "85"); // (70 + 100) / 2
    assert_eq!(tile(&wb, &v, "At risk"), "0");

    let v = for_account(&wb, name, "Sakura Retail Group");
    assert_groups(
        &wb,
        &v,
        &[
            ("Not Started", &[]),
            ("In Progress", &["Partner loyalty platform"]),
            ("On Track", &[]),
            ("At Risk", &["Unified inventory across stores and online"]),
            ("Achieved", &[]),
        ],
    );
    assert_eq!(tile(&wb, &v, "Objectives"), "2");
    assert_eq!(tile(&wb, &v, "Business value (USD)"), "1500000"); // 0.9M + 0.6M
    assert_eq!(tile(&wb, &v, "Average progress (%)"), "25"); // (30 + 20) / 2
    assert_eq!(tile(&wb, &v, "At risk"), "1");
}

// ---- MuleSoft_Capabilities --------------------------------------------------------
//
// Maturity_Gap = target − current, and Gap_Status (≥ 3 critical, 2 significant, 1 minor):
// CAP-1 API-led Connectivity 2→4: 2 🟡; CAP-2 Event-Driven Integration 1→4: 3 🔴;
// CAP-3 API Security & Governance 3→4: 1 🟢 minor; CAP-4 FHIR Integration Hub 3→5: 2 🟡;
// CAP-5 Intelligent Automation 4→4: 0 at target; CAP-6 Omnichannel Inventory APIs 1→3: 2 🟡;
// CAP-7 Runtime Observability 1→4: 3 🔴.

#[test]
fn mulesoft_capabilities_views() {
    let wb = pilot();

    // By account, then name: "API Security…" before "API-led…" (' ' < '-').
    let v = show(&wb, "MuleSoft_Capabilities/All Capabilities");
    assert_eq!(
        flat(&wb, &v),
        [
            "CAP-00003",
            "CAP-00001",
            "CAP-00002",
            "CAP-00004",
            "CAP-00005",
            "CAP-00006",
            "CAP-00007"
        ]
    );
    assert_eq!(
        column(&wb, &v, "Capability_Name"),
        [
            "API Security & Governance",
            "API-led Connectivity",
            "Event-Driven Integration",
            "FHIR Integration Hub",
            "Intelligent Automation",
            "Omnichannel Inventory APIs",
            "Runtime Observability",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Gap_Status"),
        [
            "🟢 Minor Gap",
            "🟡 Significant Gap",
            "🔴 Critical Gap",
            "🟡 Significant Gap",
            "🟢 At Target",
            "🟡 Significant Gap",
            "🔴 Critical Gap",
        ]
    );

    // Largest gap first; ties keep table order.
    let v = show(&wb, "MuleSoft_Capabilities/By Gap Status");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "🔴 Critical Gap",
                &["Event-Driven Integration", "Runtime Observability"],
            ),
            (
                "🟡 Significant Gap",
                &[
                    "API-led Connectivity",
                    "FHIR Integration Hub",
                    "Omnichannel Inventory APIs",
                ],
            ),
            ("🟢 Minor Gap", &["API Security & Governance"]),
            ("🟢 At Target", &["Intelligent Automation"]),
            ("⚪ Not Assessed", &[]),
        ],
    );

    // Gap ≥ 3, most investment first: 240,000 then 70,000.
    let v = show(&wb, "MuleSoft_Capabilities/Critical Gaps");
    assert_eq!(
        flat(&wb, &v),
        ["Event-Driven Integration", "Runtime Observability"]
    );
    assert_eq!(
        column(&wb, &v, "Investment_Required_USD"),
        ["240,000", "70,000"]
    );

    // Within a priority, largest gap first: High has CAP-7 (3), CAP-1 (2), CAP-4 (2), CAP-3 (1).
    let v = show(&wb, "MuleSoft_Capabilities/By Priority");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "Critical",
                &["Event-Driven Integration", "Omnichannel Inventory APIs"],
            ),
            (
                "High",
                &[
                    "Runtime Observability",
                    "API-led Connectivity",
                    "FHIR Integration Hub",
                    "API Security & Governance",
                ],
            ),
            ("Medium", &["Intelligent Automation"]),
            ("Low", &[]),
        ],
    );
}

// ---- Value_Streams ----------------------------------------------------------------
//
// Total_Business_Value_USD = (baseline − current) × volume × cost per hour + revenue:
// VS-1 War Risk Quoting (24−8) × 900 × 55 + 350,000 = 1,142,000;
// VS-2 Broker Renewal Placement (72−60) × 4000 × 40 + 600,000 = 2,520,000;
// VS-3 Patient Referral (96−20) × 5000 × 6 + 500,000 = 2,780,000;
// VS-4 Store Replenishment (48−40) × 2000 × 30 + 150,000 = 630,000.

#[test]
fn value_streams_views() {
    let wb = pilot();

    let v = show(&wb, "Value_Streams/All Value Streams");
    assert_eq!(
        flat(&wb, &v),
        ["VS-00002", "VS-00001", "VS-00003", "VS-00004"]
    );
    assert_eq!(
        column(&wb, &v, "Value_Stream_Name"),
        [
            "Broker Renewal Placement",
            "War Risk Quoting",
            "Patient Referral",
            "Store Replenishment"
        ]
    );
    // Reduction: 12/72, 16/24, 76/96, 8/48.
    assert_eq!(
        column(&wb, &v, "Cycle_Time_Reduction_Percent"),
        ["16.7 %", "66.7 %", "79.2 %", "16.7 %"]
    );
    // Way from baseline to target: 12/48 = 0.25, 16/20 = 0.8, 76/84 ≈ 0.9, 8/40 = 0.2.
    assert_eq!(
        column(&wb, &v, "Cycle_Time_Progress_Indicator"),
        ["🔴 Behind", "🟡 On Track", "🟡 On Track", "🔴 Behind"]
    );
    assert_eq!(
        column(&wb, &v, "Total_Business_Value_USD"),
        ["2,520,000", "1,142,000", "2,780,000", "630,000"]
    );

    let v = show(&wb, "Value_Streams/By Business Value");
    assert_eq!(
        flat(&wb, &v),
        [
            "Patient Referral",
            "Broker Renewal Placement",
            "War Risk Quoting",
            "Store Replenishment"
        ]
    );

    // ≥ 1,000,000: Store Replenishment (630,000) is out.
    let v = show(&wb, "Value_Streams/High Impact");
    assert_eq!(
        flat(&wb, &v),
        [
            "Patient Referral",
            "Broker Renewal Placement",
            "War Risk Quoting"
        ]
    );
}

// ---- API_Portfolio ----------------------------------------------------------------
//
// SLA_Compliance_Percent: 100 at or under the target, else 100 − overshoot % of it:
// Broker Portal 780 vs 600 → 70; Prior Authorization 640 vs 600 → 93.3;
// Inventory 950 vs 500 → 10; the rest 100 (Sanctions Screening has neither value:
// Blank ≤ Blank → 100).
// Health_Status: Broker Portal SLA 70 < 80 → 🔴; Inventory 6.2 % errors ≥ 5 → 🔴;
// Vessel Registry 1.8 % errors ≥ 1 → 🟡; Prior Authorization SLA 93.3 < 95 → 🟡;
// Sanctions Screening no metrics → ⚪ Unknown; the rest 🟢.
// Business_Criticality: Mission-Critical when a linked objective is a Critical Enabler
// (War Risk Quote, Broker Portal, Referral Exchange, FHIR Records, Inventory) or
// ≥ 1M calls a month (Vessel Registry 1.2M); Business-Critical with another objective
// (Prior Authorization OBJ-4, Loyalty OBJ-6); else Standard (Claims, Sanctions).
// Sorting by Health_Status sorts the text: '⚪' U+26AA < '🔴' U+1F534 < '🟡' U+1F7E1 < '🟢' U+1F7E2.

#[test]
fn api_portfolio_views() {
    let wb = pilot();

    let v = show(&wb, "API_Portfolio/All APIs");
    assert_eq!(
        column(&wb, &v, "API_Name"),
        [
            "Broker Portal API",
            "Claims System API",
            "Sanctions Screening API",
            "Vessel Registry API",
            "War Risk Quote API",
            "FHIR Records API",
            "Prior Authorization API",
            "Referral Exchange API",
            "Inventory Availability API",
            "Loyalty API",
        ]
    );
    assert_eq!(
        flat(&wb, &v),
        [
            "gard-broker-portal-eapi",
            "gard-claims-sapi",
            "gard-sanctions-screening-sapi",
            "gard-vessel-registry-sapi",
            "gard-war-risk-quote-papi",
            "helix-fhir-sapi",
            "helix-prior-auth-papi",
            "helix-referral-eapi",
            "sakura-inventory-papi",
            "sakura-loyalty-eapi",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Health_Status"),
        [
            "🔴 Critical",
            "🟢 Healthy",
            "⚪ Unknown",
            "🟡 Degraded",
            "🟢 Healthy",
            "🟢 Healthy",
            "🟡 Degraded",
            "🟢 Healthy",
            "🔴 Critical",
            "🟢 Healthy",
        ]
    );
    assert_eq!(
        column(&wb, &v, "SLA_Compliance_Percent"),
        [
            "70.0 %", "100.0 %", "100.0 %", "100.0 %", "100.0 %", "100.0 %", "93.3 %", "100.0 %",
            "10.0 %", "100.0 %",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Business_Criticality"),
        [
            "Mission-Critical",
            "Standard",
            "Standard",
            "Mission-Critical",
            "Mission-Critical",
            "Mission-Critical",
            "Business-Critical",
            "Mission-Critical",
            "Mission-Critical",
            "Business-Critical",
        ]
    );

    let v = show(&wb, "API_Portfolio/By Health Status");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "🔴 Critical",
                &["Broker Portal API", "Inventory Availability API"],
            ),
            (
                "🟡 Degraded",
                &["Prior Authorization API", "Vessel Registry API"],
            ),
            (
                "🟢 Healthy",
                &[
                    "Claims System API",
                    "FHIR Records API",
                    "Loyalty API",
                    "Referral Exchange API",
                    "War Risk Quote API",
                ],
            ),
            ("⚪ Unknown", &["Sanctions Screening API"]),
        ],
    );

    // Mission-Critical, the furthest from their SLA first, then by name:
    // Inventory 100 − (950 − 500) / 500 × 100 = 10, Broker Portal 100 − 180 / 600 × 100 = 70,
    // the rest at 100.
    let v = show(&wb, "API_Portfolio/Critical APIs");
    assert_eq!(
        flat(&wb, &v),
        [
            "Inventory Availability API",
            "Broker Portal API",
            "FHIR Records API",
            "Referral Exchange API",
            "Vessel Registry API",
            "War Risk Quote API",
        ]
    );

    // 🔴 before 🟡; within each, most errors first: 6.2 > 0.9, 1.8 > 0.5.
    let v = show(&wb, "API_Portfolio/Unhealthy APIs");
    assert_eq!(
        flat(&wb, &v),
        [
            "Inventory Availability API",
            "Broker Portal API",
            "Vessel Registry API",
            "Prior Authorization API",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Error_Rate_Percent"),
        ["6.2 %", "0.9 %", "1.8 %", "0.5 %"]
    );

    // Business_Value_Score = min(100, round(value streams' value / 50,000 + 40 MC / 20 BC)):
    // Referral, FHIR 2,780,000/50,000 = 55.6 + 40 → 96; Broker 50.4 + 40 → 90;
    // War Risk, Vessel 22.84 + 40 → 63; Inventory 12.6 + 40 → 53; Claims 50.4 → 50;
    // Sanctions 22.84 → 23; Prior Authorization, Loyalty 0 + 20 → 20. Ties in table order.
    let v = show(&wb, "API_Portfolio/By Business Value");
    assert_eq!(
        flat(&wb, &v),
        [
            "Referral Exchange API",
            "FHIR Records API",
            "Broker Portal API",
            "War Risk Quote API",
            "Vessel Registry API",
            "Inventory Availability API",
            "Claims System API",
            "Sanctions Screening API",
            "Prior Authorization API",
            "Loyalty API",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Business_Value_Score"),
        ["96", "96", "90", "63", "63", "53", "50", "23", "20", "20"]
    );

    let v = show(&wb, "API_Portfolio/API Heat Map");
    assert_heat_map(&wb, &v);
}

/// The API heat map: grouped by account (by name: Gard, Helix, Sakura), within
/// an account the lowest SLA compliance first, then the highest error rate:
/// Gard: Broker Portal 70 %; then at 100 % Vessel Registry 1.8 %, War Risk Quote
/// 0.4 %, Claims 0.2 %, Sanctions Screening (no metrics: Blank sorts last
/// descending). Helix: Prior Authorization 100 − 40 / 600 × 100 = 93.3 %; then
/// FHIR 0.3 %, Referral 0.1 %. Sakura: Inventory 10 %, Loyalty 100 %.
fn assert_heat_map(wb: &Workbook, v: &ViewResult) {
    assert_eq!(v.name, "API Heat Map");
    assert_groups(
        wb,
        v,
        &[
            (
                "Gard AS",
                &[
                    "Broker Portal API",
                    "Vessel Registry API",
                    "War Risk Quote API",
                    "Claims System API",
                    "Sanctions Screening API",
                ],
            ),
            (
                "Helix Health Partners",
                &[
                    "Prior Authorization API",
                    "FHIR Records API",
                    "Referral Exchange API",
                ],
            ),
            (
                "Sakura Retail Group",
                &["Inventory Availability API", "Loyalty API"],
            ),
        ],
    );
}

// ---- Platform_Health_Metrics ------------------------------------------------------
//
// Row n is MET-0000n1 (the pattern "000001" ends in a literal 1). Health_Status, in the
// worse direction (Higher_Is_Better false: ≥ threshold; true: ≤ threshold):
//  1 Gard Broker API p95 latency 780 ≥ warn 600 → 🟡     12 Gard Cost per million calls 14.2 < 15 → 🟢
//  2 Gard Quote API availability 99.95 > 99.5 → 🟢       13 Helix Referral API p95 latency 210 < 300 → 🟢
//  3 Gard Integration error rate 1.8 ≥ 1 → 🟡            14 Helix FHIR API availability 99.97 → 🟢
//  4 Gard Mean time to recovery 3 < 4 → 🟢               15 Helix Failed authentication rate 0.3 ≥ 0.25 → 🟡
//  5 Gard Security incidents (30 days) 0 < 1 → 🟢        16 Helix Referrals processed per hour 1800 → 🟢
//  6 Gard APIs under security policy 92 > 90 → 🟢        17 Helix Developer onboarding time 5 < 7 → 🟢
//  7 Gard Days to certificate expiry 12 ≤ crit 14 → 🔴   18 Sakura Inventory API p95 latency 950 ≥ 900 → 🔴
//  8 Gard Peak throughput 420 > 250 → 🟢                 19 Sakura Order sync error rate 2.1 ≥ 1 → 🟡
//  9 Gard CloudHub CPU utilization 81 ≥ 75 → 🟡          20 Sakura Store connectivity 99.6 ≤ 99.7 → 🟡
// 10 Gard Message queue backlog 120 < 500 → 🟢           21 Sakura Security patch compliance 97 → 🟢
// 11 Gard API reuse rate 38 > 30 → 🟢                    22 Sakura Active loyalty partners 4 > 3 → 🟢
// Trend against the 2026-11-17 snapshot, in the better direction: declining 1 (650 → 780,
// lower is better), 7 (19 → 12), 18 (880 → 950), 19 (1.6 → 2.1); stable (same value)
// 2, 3, 5, 12, 14, 15, 20, 22; improving the rest.
// Alert = critical, or warning and declining: 1, 7, 18, 19.

#[test]
fn platform_health_metrics_views() {
    let wb = pilot();

    // By account, category (Adoption < Cost < Performance < Reliability < Security), name.
    let v = show(&wb, "Platform_Health_Metrics/All Metrics");
    assert_eq!(
        flat(&wb, &v),
        [
            "MET-000111",
            "MET-000121",
            "MET-000011",
            "MET-000091",
            "MET-000081",
            "MET-000031",
            "MET-000041",
            "MET-000101",
            "MET-000021",
            "MET-000061",
            "MET-000071",
            "MET-000051",
            "MET-000171",
            "MET-000131",
            "MET-000161",
            "MET-000141",
            "MET-000151",
            "MET-000221",
            "MET-000181",
            "MET-000191",
            "MET-000201",
            "MET-000211",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Metric_Name"),
        [
            "API reuse rate",
            "Cost per million calls",
            "Broker API p95 latency",
            "CloudHub CPU utilization",
            "Peak throughput",
            "Integration error rate",
            "Mean time to recovery",
            "Message queue backlog",
            "Quote API availability",
            "APIs under security policy",
            "Days to certificate expiry",
            "Security incidents (30 days)",
            "Developer onboarding time",
            "Referral API p95 latency",
            "Referrals processed per hour",
            "FHIR API availability",
            "Failed authentication rate",
            "Active loyalty partners",
            "Inventory API p95 latency",
            "Order sync error rate",
            "Store connectivity availability",
            "Security patch compliance",
        ]
    );
    let (h, w, c) = ("🟢 Healthy", "🟡 Warning", "🔴 Critical");
    assert_eq!(
        column(&wb, &v, "Health_Status"),
        [
            h, h, w, w, h, w, h, h, h, h, c, h, h, h, h, h, w, h, c, w, w, h
        ]
    );
    let (up, down, flat_) = ("🟢 Improving", "🔴 Declining", "→ Stable");
    assert_eq!(
        column(&wb, &v, "Trend"),
        [
            up, flat_, down, up, up, flat_, up, up, flat_, up, down, flat_, up, up, up, flat_,
            flat_, flat_, down, down, flat_, up,
        ]
    );

    let v = show(&wb, "Platform_Health_Metrics/By Health Status");
    assert_metrics_by_health(&wb, &v);

    let v = show(&wb, "Platform_Health_Metrics/Critical Metrics");
    assert_eq!(
        flat(&wb, &v),
        ["Days to certificate expiry", "Inventory API p95 latency"]
    );
    assert_eq!(
        column(&wb, &v, "Account"),
        ["Gard AS", "Sakura Retail Group"]
    );

    // By status text (🔴 < 🟡), then account.
    let v = show(&wb, "Platform_Health_Metrics/Alerts");
    assert_eq!(
        flat(&wb, &v),
        [
            "Days to certificate expiry",
            "Inventory API p95 latency",
            "Broker API p95 latency",
            "Order sync error rate",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Trend"),
        [
            "🔴 Declining",
            "🔴 Declining",
            "🔴 Declining",
            "🔴 Declining"
        ]
    );
    assert_eq!(column(&wb, &v, "Value_7d_Ago"), ["19", "880", "650", "1.6"]);
}

/// Metrics by health status, in group_order, each by account then name.
fn assert_metrics_by_health(wb: &Workbook, v: &ViewResult) {
    assert_groups(
        wb,
        v,
        &[
            (
                "🔴 Critical",
                &["Days to certificate expiry", "Inventory API p95 latency"],
            ),
            (
                "🟡 Warning",
                &[
                    "Broker API p95 latency",
                    "CloudHub CPU utilization",
                    "Integration error rate",
                    "Failed authentication rate",
                    "Order sync error rate",
                    "Store connectivity availability",
                ],
            ),
            (
                "🟢 Healthy",
                &[
                    "API reuse rate",
                    "APIs under security policy",
                    "Cost per million calls",
                    "Mean time to recovery",
                    "Message queue backlog",
                    "Peak throughput",
                    "Quote API availability",
                    "Security incidents (30 days)",
                    "Developer onboarding time",
                    "FHIR API availability",
                    "Referral API p95 latency",
                    "Referrals processed per hour",
                    "Active loyalty partners",
                    "Security patch compliance",
                ],
            ),
            ("⚪ No Data", &[]),
        ],
    );
}

#[test]
fn platform_health_dashboard() {
    let wb = pilot();
    let v = show(&wb, "Platform Health Dashboard");
    assert_eq!(v.layout, ViewLayout::Dashboard);
    assert_eq!(v.row_count(), 22);
    assert_metrics_by_health(&wb, &v);
    assert_eq!(
        v.fields,
        [
            "Metric_Name",
            "Account",
            "Metric_Category",
            "Current_Value",
            "Target_Value",
            "Unit",
            "Trend"
        ]
    );

    // Health_Status_Numeric over the 22 metrics (healthy 100, warning 60, critical 20):
    // Gard 100 × 8 + 60 × 3 + 20 = 1000; Helix 100 × 4 + 60 = 460; Sakura 100 × 2 + 60 × 2
    // + 20 = 340; 1800 / 22 = 81.81… → 81.8.
    assert_eq!(tile(&wb, &v, "Overall health"), "81.8");
    // Production: all but Sanctions Screening (Sandbox) and Loyalty (Staging).
    assert_eq!(tile(&wb, &v, "APIs in production"), "8");
    assert_eq!(tile(&wb, &v, "Critical alerts"), "4");
    // (100 + 70 + 100 + 100 + 100 + 100 + 93.33… + 10) / 8 = 673.33… / 8 = 84.17 → 84.2.
    assert_eq!(tile(&wb, &v, "Average SLA (%)"), "84.2");
    assert_eq!(v.tiles.len(), 4);

    // The heat map is a link, evaluated when asked for.
    assert_eq!(v.included.len(), 1);
    let link = &v.included[0];
    assert_eq!(
        (wb.table_name(link.table).unwrap(), link.name.as_str()),
        ("API_Portfolio", "API Heat Map")
    );
    assert!(link.params.is_empty());
    let heat_map = wb.view("API_Portfolio/API Heat Map", &[]).unwrap();
    assert_heat_map(&wb, &heat_map);
}

#[test]
fn a_page_of_a_view_counts_the_whole_view() {
    let wb = pilot();
    let whole = wb.view("Platform Health Dashboard", &[]).unwrap();
    let page = wb
        .view_page(
            "Platform Health Dashboard",
            &[],
            &ViewPage::first(2).skip(1).groups(1, 2),
            &Default::default(),
        )
        .unwrap();
    // Counts and tiles are the whole view's.
    assert_eq!((page.row_count(), page.group_count), (22, 4));
    assert_eq!(page.tiles, whole.tiles);
    // Groups 2 and 3, rows 2 and 3 of each, as the whole view has them.
    assert_eq!(page.groups.len(), 2);
    for (p, w) in page.groups.iter().zip(&whole.groups[1..3]) {
        assert_eq!(
            (p.key.as_ref(), p.count, p.offset),
            (w.key.as_ref(), w.rows.len(), 1.min(w.rows.len()))
        );
        let expected: Vec<_> = w.rows.iter().skip(1).take(2).cloned().collect();
        assert_eq!(p.rows, expected);
    }
    // One group by the text it shows as.
    let warning = wb
        .view_page(
            "Platform Health Dashboard",
            &[],
            &ViewPage::first(100).in_group(Value::from("🟡 Warning")),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(warning.groups.len(), 1);
    assert_eq!(warning.groups[0].rows.len(), 6);
    // The heat map is grouped by account (a row): a group named by its display text.
    let gard = wb
        .view_page(
            "API Heat Map",
            &[],
            &ViewPage::first(100).in_group(Value::from("Gard AS")),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(gard.groups.len(), 1);
    assert!(gard.groups[0].count > 0);
    // Streaming gives every row in the view's order.
    let mut streamed = Vec::new();
    wb.view_for_each(
        "Platform Health Dashboard",
        &[],
        &Default::default(),
        |_, r| {
            streamed.push(r.clone());
            Ok::<(), csip_engine::ViewError>(())
        },
    )
    .unwrap();
    assert_eq!(streamed, whole.rows().cloned().collect::<Vec<_>>());
}

// ---- Initiatives ------------------------------------------------------------------
//
// INI-1 War Risk Quoting API launch (Gard, Critical, In Progress, 2027-02-15)
// INI-2 Broker portal modernization (Gard, High, In Progress, 2026-10-31: overdue 24 days)
// INI-3 Event mesh pilot (Gard, Medium, Not Started, 2027-06-30)
// INI-4 Referral exchange rollout (Helix, Critical, In Progress, 2026-12-20)
// INI-5 Prior authorization automation (Helix, High, Completed, 2026-09-30: done, not overdue)
// INI-6 Unified inventory integration (Sakura, Critical, On Hold, 2026-11-15: overdue 9 days)
// ROI = (benefit − investment) / investment: INI-1 722/420 → 171.9; INI-2 250/650 → 38.5;
// INI-3 70/240 → 29.2; INI-4 1880/900 → 208.9; INI-5 950/300 → 316.7; INI-6 250/380 → 65.8.

#[test]
fn initiatives_views() {
    let wb = pilot();

    let v = show(&wb, "Initiatives/All Initiatives");
    assert_eq!(
        flat(&wb, &v),
        [
            "INI-00002",
            "INI-00001",
            "INI-00003",
            "INI-00005",
            "INI-00004",
            "INI-00006"
        ]
    );
    assert_eq!(
        column(&wb, &v, "Status_Indicator"),
        [
            "🔴 Overdue",
            "🟡 In Progress",
            "⚪ Not Started",
            "🟢 Completed",
            "🟡 In Progress",
            "🔴 Overdue",
        ]
    );

    let v = show(&wb, "Initiatives/By Status");
    assert_groups(
        &wb,
        &v,
        &[
            ("Not Started", &["Event mesh pilot"]),
            (
                "In Progress",
                &[
                    "Broker portal modernization",
                    "Referral exchange rollout",
                    "War Risk Quoting API launch",
                ],
            ),
            ("On Hold", &["Unified inventory integration"]),
            ("Completed", &["Prior authorization automation"]),
            ("Cancelled", &[]),
        ],
    );

    let v = show(&wb, "Initiatives/By Priority");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "Critical",
                // 2026-11-15, 2026-12-20, 2027-02-15
                &[
                    "Unified inventory integration",
                    "Referral exchange rollout",
                    "War Risk Quoting API launch",
                ],
            ),
            (
                "High",
                &[
                    "Prior authorization automation",
                    "Broker portal modernization",
                ],
            ),
            ("Medium", &["Event mesh pilot"]),
            ("Low", &[]),
        ],
    );

    let v = show(&wb, "Initiatives/In Progress");
    assert_eq!(
        flat(&wb, &v),
        [
            "Broker portal modernization",
            "Referral exchange rollout",
            "War Risk Quoting API launch",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Initiative_Owner"),
        ["Kari Nordmann", "James Carter", "Ingrid Solheim"]
    );

    // Most days overdue first: 24 (2026-10-31), 9 (2026-11-15).
    let v = show(&wb, "Initiatives/Overdue");
    assert_eq!(
        flat(&wb, &v),
        [
            "Broker portal modernization",
            "Unified inventory integration"
        ]
    );
    assert_eq!(column(&wb, &v, "Days_Overdue"), ["24", "9"]);

    // ROI ≥ 100: 316.7, 208.9, 171.9. Payback = investment / (benefit / 12):
    // 300/104.17 = 2.88; 900/231.67 = 3.88; 420/95.17 = 4.41.
    let v = show(&wb, "Initiatives/High ROI");
    assert_eq!(
        flat(&wb, &v),
        [
            "Prior authorization automation",
            "Referral exchange rollout",
            "War Risk Quoting API launch",
        ]
    );
    assert_eq!(
        column(&wb, &v, "ROI_Percent"),
        ["316.7 %", "208.9 %", "171.9 %"]
    );
    assert_eq!(column(&wb, &v, "Payback_Months"), ["2.9", "3.9", "4.4"]);
}

// ---- Risk_Register ----------------------------------------------------------------
//
// Risk_Score = impact (Critical 4 … Low 1) × probability (Almost Certain 5 … Rare 1):
// RISK-1 Broker portal latency… High × Likely = 12 (High, Open, 2026-10-27)
// RISK-2 Renewal at risk… Critical × Possible = 12 (High, Mitigating, 2026-11-10)
// RISK-3 Too few people… Medium × Possible = 6 (Medium, Open)
// RISK-4 Patient data exposed… Critical × Unlikely = 8 (High, Monitoring)
// RISK-5 Inventory API unstable… Critical × Almost Certain = 20 (Critical, Open)
// RISK-6 Executive sponsor leaving: High × Possible = 9 (High, Open)
// RISK-7 Prior authorization vendor change: Low × Rare = 1 (Low, Closed)

#[test]
fn risk_register_views() {
    let wb = pilot();

    // Highest score first; RISK-1 and RISK-2 tie at 12 and keep table order.
    let v = show(&wb, "Risk_Register/All Risks");
    assert_eq!(
        flat(&wb, &v),
        [
            "RISK-00005",
            "RISK-00001",
            "RISK-00002",
            "RISK-00006",
            "RISK-00004",
            "RISK-00003",
            "RISK-00007"
        ]
    );
    assert_eq!(
        column(&wb, &v, "Risk_Score"),
        ["20", "12", "12", "9", "8", "6", "1"]
    );
    assert_eq!(
        column(&wb, &v, "Risk_Indicator"),
        [
            "🔴 Critical",
            "🟡 High",
            "🟡 High",
            "🟡 High",
            "🟡 High",
            "⚪ Medium",
            "🟢 Low"
        ]
    );

    let v = show(&wb, "Risk_Register/By Risk Level");
    assert_groups(
        &wb,
        &v,
        &[
            ("Critical", &["Inventory API unstable in the peak season"]),
            (
                "High",
                &[
                    "Broker portal latency holds back broker adoption",
                    "Renewal at risk: health score falling",
                    "Executive sponsor leaving",
                    "Patient data exposed through a partner API",
                ],
            ),
            (
                "Medium",
                &["Too few people who know event-driven integration"],
            ),
            ("Low", &["Prior authorization vendor change"]),
        ],
    );

    // Critical or High and not Closed: RISK-5, 1, 2, 6, 4.
    let v = show(&wb, "Risk_Register/Critical & High");
    assert_eq!(
        flat(&wb, &v),
        [
            "Inventory API unstable in the peak season",
            "Broker portal latency holds back broker adoption",
            "Renewal at risk: health score falling",
            "Executive sponsor leaving",
            "Patient data exposed through a partner API",
        ]
    );

    // Not Closed (RISK-7 is out); the tie at 12 broken by Identified_Date: 10-27 before 11-10.
    let v = show(&wb, "Risk_Register/Open Risks");
    assert_eq!(
        flat(&wb, &v),
        [
            "Inventory API unstable in the peak season",
            "Broker portal latency holds back broker adoption",
            "Renewal at risk: health score falling",
            "Executive sponsor leaving",
            "Patient data exposed through a partner API",
            "Too few people who know event-driven integration",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Status"),
        ["Open", "Open", "Mitigating", "Open", "Monitoring", "Open"]
    );
}

// ---- Stakeholder_Outcomes ---------------------------------------------------------
//
// Target_Achievement_Percent = (current − baseline) / (target − baseline), 0–100:
// OUT-1 Erik (24 → 8 of 24 → 4) 80; OUT-2 Nina (0 → 14 of 0 → 40) 35;
// OUT-3 Ole (12 → 8.5 of 12 → 2) 35; OUT-4 Marte not measured; OUT-5 Dana (100 → 15
// of 100 → 0) 85; OUT-6 Rosa (0 → 60 of 0 → 80) 75; OUT-7 Haruto (80 → 88 of 80 → 100) 40;
// OUT-8 Yui not measured. None reaches 100 and none has the status Achieved.

#[test]
fn stakeholder_outcomes_views() {
    let wb = pilot();

    let v = show(&wb, "Stakeholder_Outcomes/All Outcomes");
    assert_eq!(
        flat(&wb, &v),
        [
            "OUT-00001",
            "OUT-00004",
            "OUT-00002",
            "OUT-00003",
            "OUT-00005",
            "OUT-00006",
            "OUT-00007",
            "OUT-00008"
        ]
    );
    assert_eq!(
        column(&wb, &v, "Stakeholder_Name"),
        [
            "Erik Haugland",
            "Marte Vik",
            "Nina Lund",
            "Ole Dahl",
            "Dana Whitfield",
            "Rosa Jimenez",
            "Haruto Sato",
            "Yui Kimura",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Target_Achievement_Percent"),
        [
            "80.0 %", "", "35.0 %", "35.0 %", "85.0 %", "75.0 %", "40.0 %", ""
        ]
    );
    assert_eq!(
        column(&wb, &v, "Achievement_Status"),
        [
            "🟡 Progressing",
            "⚪ Not Measured",
            "🔴 Behind",
            "🔴 Behind",
            "🟡 Progressing",
            "🟡 Progressing",
            "🔴 Behind",
            "⚪ Not Measured",
        ]
    );

    // Within a status by account (ties in table order).
    let v = show(&wb, "Stakeholder_Outcomes/By Status");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "Not Started",
                &[
                    "Integration run cost",
                    "Loyalty members joining through partner apps",
                ],
            ),
            ("In Progress", &["Claims integration incidents"]),
            (
                "On Track",
                &[
                    "War risk quote turnaround",
                    "Open referral backlog",
                    "Prior authorizations decided automatically",
                ],
            ),
            (
                "At Risk",
                &[
                    "Renewals placed through broker APIs",
                    "Stock accuracy across channels",
                ],
            ),
            ("Achieved", &[]),
        ],
    );

    let v = show(&wb, "Stakeholder_Outcomes/Achieved");
    assert_eq!(flat(&wb, &v), Vec::<String>::new());
}

// ---- Engagement_Log ---------------------------------------------------------------

#[test]
fn engagement_log_views() {
    let wb = pilot();

    let v = show(&wb, "Engagement_Log/All Engagements");
    assert_eq!(
        flat(&wb, &v),
        [
            "ENG-00009",
            "ENG-00005",
            "ENG-00004",
            "ENG-00008",
            "ENG-00003",
            "ENG-00011",
            "ENG-00002",
            "ENG-00007",
            "ENG-00010",
            "ENG-00001",
            "ENG-00006",
        ]
    );
    assert_eq!(
        column(&wb, &v, "Engagement_Date"),
        [
            "2026-11-18",
            "2026-11-10",
            "2026-10-27",
            "2026-10-14",
            "2026-10-06",
            "2026-10-02",
            "2026-09-15",
            "2026-09-02",
            "2026-08-30",
            "2026-07-27",
            "2026-06-10",
        ]
    );

    // Grouped by account (by name: Gard, Helix, Sakura), newest first.
    let v = show(&wb, "Engagement_Log/By Account");
    assert_groups(
        &wb,
        &v,
        &[
            (
                "Gard AS",
                &[
                    "2026-11-10",
                    "2026-10-27",
                    "2026-10-06",
                    "2026-09-15",
                    "2026-07-27",
                ],
            ),
            (
                "Helix Health Partners",
                &["2026-11-18", "2026-10-14", "2026-09-02", "2026-06-10"],
            ),
            ("Sakura Retail Group", &["2026-10-02", "2026-08-30"]),
        ],
    );

    // Since 2026-10-25 (today − 30).
    let v = show(&wb, "Engagement_Log/Recent");
    assert_eq!(flat(&wb, &v), ["2026-11-18", "2026-11-10", "2026-10-27"]);
    assert_eq!(
        column(&wb, &v, "Account"),
        ["Helix Health Partners", "Gard AS", "Gard AS"]
    );

    let v = show(&wb, "Engagement_Log/QBRs");
    assert_eq!(flat(&wb, &v), ["2026-09-15", "2026-09-02", "2026-07-27"]);
    assert_eq!(
        column(&wb, &v, "Account"),
        ["Gard AS", "Helix Health Partners", "Gard AS"]
    );
}

// ---- the history tables -----------------------------------------------------------

#[test]
fn account_master_history_by_account() {
    let wb = pilot();
    let v = show(&wb, "Account_Master_History/By Account");
    // 60 daily snapshots (2026-09-25 … 2026-11-23) for each of the three accounts.
    assert_eq!(v.row_count(), 180);
    let keys: Vec<String> = v
        .groups
        .iter()
        .map(|g| wb.display(g.key.as_ref().unwrap()))
        .collect();
    assert_eq!(keys, ["ACC-00001", "ACC-00002", "ACC-00003"]);
    let expected = [
        // (first three, last three): (date, Health_Score)
        (
            [
                ("2026-11-23", "63.4"),
                ("2026-11-22", "63.7"),
                ("2026-11-21", "64.0"),
            ],
            [
                ("2026-09-27", "73.8"),
                ("2026-09-26", "73.9"),
                ("2026-09-25", "74.0"),
            ],
        ),
        (
            [
                ("2026-11-23", "87.2"),
                ("2026-11-22", "87.0"),
                ("2026-11-21", "86.8"),
            ],
            [
                ("2026-09-27", "78.2"),
                ("2026-09-26", "78.1"),
                ("2026-09-25", "78.0"),
            ],
        ),
        (
            [
                ("2026-11-23", "42.3"),
                ("2026-11-22", "42.4"),
                ("2026-11-21", "42.4"),
            ],
            [
                ("2026-09-27", "44.9"),
                ("2026-09-26", "45.0"),
                ("2026-09-25", "45.0"),
            ],
        ),
    ];
    let date = v.fields.iter().position(|f| f == "Date").unwrap();
    let score = v.fields.iter().position(|f| f == "Health_Score").unwrap();
    let trend = v
        .fields
        .iter()
        .position(|f| f == "Health_Score_Trend_30d")
        .unwrap();
    let cell =
        |r: &csip_engine::ViewRow, i: usize| wb.format_value(v.field_columns[i], &r.values[i]);
    for (g, (first, last)) in v.groups.iter().zip(expected) {
        assert_eq!(g.rows.len(), 60);
        let got: Vec<(String, String)> = g
            .rows
            .iter()
            .map(|r| (cell(r, date), cell(r, score)))
            .collect();
        let want_first: Vec<(String, String)> = first
            .iter()
            .map(|(d, s)| (d.to_string(), s.to_string()))
            .collect();
        let want_last: Vec<(String, String)> = last
            .iter()
            .map(|(d, s)| (d.to_string(), s.to_string()))
            .collect();
        assert_eq!(got[..3], want_first[..]);
        assert_eq!(got[57..], want_last[..]);
        // The snapshot trend is written from 2026-10-25 on; the oldest have none.
        assert_eq!(cell(&g.rows[59], trend), "");
    }
    // Gard's latest snapshot trend, as written: −8.2.
    assert_eq!(cell(&v.groups[0].rows[0], trend), "-8.2");
}

#[test]
fn platform_health_metrics_history_by_metric() {
    let wb = pilot();
    let v = show(&wb, "Platform_Health_Metrics_History/By Metric");
    // 60 daily values for each of the 22 metrics.
    assert_eq!(v.row_count(), 22 * 60);
    let keys: Vec<String> = v
        .groups
        .iter()
        .map(|g| wb.display(g.key.as_ref().unwrap()))
        .collect();
    // Metric ids as text, all the same length: row order MET-000011 … MET-000221.
    let expected: Vec<String> = (1..=22).map(|n| format!("MET-{n:05}1")).collect();
    assert_eq!(keys, expected);
    for g in &v.groups {
        assert_eq!(g.rows.len(), 60);
    }
    let first = &v.groups[0]; // MET-000011, Broker API p95 latency, rising to 780
    let dates: Vec<String> = first
        .rows
        .iter()
        .map(|r| wb.format_value(v.field_columns[0], &r.values[0]))
        .collect();
    let values: Vec<String> = first
        .rows
        .iter()
        .map(|r| wb.format_value(v.field_columns[1], &r.values[1]))
        .collect();
    assert_eq!(dates[..3], ["2026-11-23", "2026-11-22", "2026-11-21"]);
    assert_eq!(values[..3], ["761.43", "742.86", "724.29"]);
    assert_eq!(dates[57..], ["2026-09-27", "2026-09-26", "2026-09-25"]);
    assert_eq!(values[57..], ["524.91", "522.45", "520"]);

    let last = &v.groups[21]; // MET-000221, Active loyalty partners, 2 → 4
    let values: Vec<String> = last
        .rows
        .iter()
        .map(|r| wb.format_value(v.field_columns[1], &r.values[1]))
        .collect();
    assert_eq!(values[..3], ["4", "4", "4"]);
    assert_eq!(values[57..], ["2.08", "2.04", "2"]);
}

// ---- Tasks ------------------------------------------------------------------------
//
// TSK-1 Prepare the Gard AS QBR deck (Kari, Open, due 2026-11-28)
// TSK-2 Review the broker portal latency fix plan (Ingrid, In Progress, due 2026-11-20)
// TSK-3 Schedule an executive check-in with Sakura (Kenji, Open, due 2026-11-27)
// TSK-4 Send the referral rollout recap to Helix (James, Done, due 2026-11-21)

#[test]
fn tasks_views() {
    let wb = pilot();

    let v = show(&wb, "Tasks/Open Tasks");
    assert_eq!(flat(&wb, &v), ["TSK-00002", "TSK-00003", "TSK-00001"]);
    assert_eq!(
        column(&wb, &v, "Assigned_To"),
        ["Ingrid Solheim", "Kenji Watanabe", "Kari Nordmann"]
    );

    // Not done and due before 2026-11-24: TSK-2 (11-20); TSK-4 (11-21) is done.
    let v = show(&wb, "Tasks/Overdue Tasks");
    assert_eq!(flat(&wb, &v), ["Review the broker portal latency fix plan"]);
}

#[test]
fn my_tasks_per_user() {
    let wb = pilot();

    let v = for_user(&wb, "My Tasks", "Kari Nordmann");
    assert_eq!(flat(&wb, &v), ["Prepare the Gard AS QBR deck"]);
    assert_eq!(column(&wb, &v, "Due_Date"), ["2026-11-28"]);

    let v = for_user(&wb, "My Tasks", "Kenji Watanabe");
    assert_eq!(
        flat(&wb, &v),
        ["Schedule an executive check-in with Sakura"]
    );

    // James's only task is Done; Lars has none.
    let v = for_user(&wb, "My Tasks", "James Carter");
    assert_eq!(flat(&wb, &v), Vec::<String>::new());
    let v = for_user(&wb, "My Tasks", "Lars Berg");
    assert_eq!(flat(&wb, &v), Vec::<String>::new());
}

// ---- Automation_Logs --------------------------------------------------------------

#[test]
fn automation_logs_views() {
    let wb = pilot();

    let v = show(&wb, "Automation_Logs/Recent Runs");
    assert_eq!(
        flat(&wb, &v),
        ["LOG-000003", "LOG-000002", "LOG-000001", "LOG-000004"]
    );
    assert_eq!(
        column(&wb, &v, "Run_At"),
        [
            "2026-11-23 08:00:12",
            "2026-11-23 02:00:05",
            "2026-11-23 01:00:02",
            "2026-11-22 03:00:00",
        ]
    );

    // Every pilot run succeeded.
    let v = show(&wb, "Automation_Logs/Failures");
    assert_eq!(flat(&wb, &v), Vec::<String>::new());
}

// ---- names and parameters ---------------------------------------------------------

#[test]
fn view_names_and_parameters() {
    let wb = pilot();

    // A name only one table has needs no table; case does not matter.
    let bare = show(&wb, "renewal risk");
    assert_eq!(bare, show(&wb, "Account_Master/Renewal Risk"));

    assert_eq!(
        wb.view("High Impact", &[]),
        Err(ViewError::AmbiguousView {
            name: "High Impact".into(),
            candidates: vec![
                "Strategic_Objectives/High Impact".into(),
                "Value_Streams/High Impact".into(),
            ],
        })
    );
    assert!(matches!(
        wb.view("By Status", &[]),
        Err(ViewError::AmbiguousView { candidates, .. }) if candidates.len() == 3
    ));
    assert!(matches!(
        wb.view("Renewal Risks", &[]),
        Err(ViewError::UnknownView { .. })
    ));

    assert_eq!(
        wb.view("CSM Command Center", &[]),
        Err(ViewError::MissingParam {
            view: "CSM Command Center".into(),
            param: "user".into(),
        })
    );
    assert_eq!(
        wb.view("My Tasks", &[]),
        Err(ViewError::MissingParam {
            view: "My Tasks".into(),
            param: "user".into(),
        })
    );
    assert_eq!(
        wb.view("Strategic Alignment Board", &[]),
        Err(ViewError::MissingParam {
            view: "Strategic Alignment Board".into(),
            param: "account".into(),
        })
    );
    assert_eq!(
        wb.view("Renewal Risk", &[("user", Value::from("Kari Nordmann"))]),
        Err(ViewError::UnknownParam {
            view: "Renewal Risk".into(),
            param: "user".into(),
            known: "none".into(),
        })
    );
    assert_eq!(
        wb.view(
            "CSM Command Center",
            &[
                ("user", Value::from("Kari Nordmann")),
                ("account", Value::from("Gard AS")),
            ],
        ),
        Err(ViewError::UnknownParam {
            view: "CSM Command Center".into(),
            param: "account".into(),
            known: "user".into(),
        })
    );
    // A user who is not in People_Team does not fit the people parameter.
    assert!(matches!(
        wb.view("My Tasks", &[("user", Value::from("Nobody Here"))]),
        Err(ViewError::BadParam { .. })
    ));
}

/// A value a data cell can take instead of `v` (of its column's type), or
/// None where the test leaves the column alone (relations, people, lists).
fn another(ty: &csip_engine::ColumnType, v: &Value) -> Option<Value> {
    use csip_engine::ColumnType as T;
    Some(match (ty, v) {
        (T::Number | T::Currency | T::Percent, Value::Number(n)) => {
            Value::Number(*n + csip_engine::Decimal::ONE)
        }
        (T::Number | T::Currency | T::Percent, Value::Blank) => Value::from(1),
        (T::Slider { min, .. }, _) => Value::Number(*min),
        (T::Text | T::Canvas, Value::Text(t)) => Value::from(format!("{t} (edited)")),
        (T::Text | T::Canvas, Value::Blank) => Value::from("edited"),
        (T::Date, Value::Date(d)) => Value::Date(*d + csip_engine::TimeDelta::days(3)),
        (T::Checkbox, Value::Bool(b)) => Value::Bool(!b),
        (T::Select(options), _) => Value::from(
            options
                .iter()
                .find(|o| Value::from(o.as_str()) != *v)?
                .as_str(),
        ),
        _ => return None,
    })
}

#[test]
fn a_commit_that_does_not_touch_what_a_view_reads_leaves_its_answer_as_it_was() {
    let base = pilot();
    // Every view, with a sample parameter where it takes one.
    let people = base.table_id("People_Team").unwrap();
    let kari = base.find_rows(people, "Kari Nordmann").unwrap()[0];
    let accounts = base.table_id("Account_Master").unwrap();
    let gard = base.find_rows(accounts, "Gard AS").unwrap()[0];
    let views: Vec<(String, Vec<(&str, Value)>)> = base
        .views()
        .into_iter()
        .map(|v| {
            let qualified = format!("{}/{}", base.table_name(v.table).unwrap(), v.name);
            let params = v
                .params
                .iter()
                .map(|p| match p.name.as_str() {
                    "user" => ("user", Value::Row(people, kari)),
                    "account" => ("account", Value::Row(accounts, gard)),
                    other => report_param(other)
                        .unwrap_or_else(|| panic!("an unexpected parameter `{other}`")),
                })
                .collect();
            (qualified, params)
        })
        .collect();
    let reads: Vec<_> = views
        .iter()
        .map(|(n, _)| base.view_reads(n).unwrap())
        .collect();
    let answers: Vec<ViewResult> = views
        .iter()
        .map(|(n, p)| base.view(n, p).unwrap())
        .collect();
    let (mut kept, mut touched, mut edits) = (0, 0, 0);
    // One edit of the first row's cell in every data column of every table.
    for t in base.tables() {
        let Some(&row) = base.rows(t).unwrap().first() else {
            continue;
        };
        for &c in base.columns(t).unwrap() {
            if base.is_formula(c).unwrap() {
                continue;
            }
            let ty = &base.column_schema(c).unwrap().ty;
            let Some(new) = another(ty, base.value(c, row).unwrap()) else {
                continue;
            };
            let mut wb = base.clone();
            let changes = wb
                .apply(Transaction::new().set(c, row, new))
                .expect("a value of the column's type");
            edits += 1;
            for (i, (name, params)) in views.iter().enumerate() {
                if reads[i].touched_by(&changes) {
                    touched += 1;
                    continue;
                }
                kept += 1;
                let after = wb.view(name, params).unwrap();
                assert_eq!(
                    after,
                    answers[i],
                    "`{name}` changed after an edit of `{}`.`{}` that its reads say does not touch it",
                    base.table_name(t).unwrap(),
                    base.column_name(c).unwrap()
                );
            }
        }
    }
    eprintln!("{edits} edits; views kept {kept}, touched {touched}");
    // The check decided something both ways.
    assert!(
        kept > 1000 && touched > 100,
        "kept {kept}, touched {touched}"
    );
}

// ---- the report views (the QBR deck, the Platform ROI) ------------------------------

/// The Platform ROI view's initiatives and sums for an account, a period and
/// whether initiatives in progress count.
fn roi(
    wb: &Workbook,
    account: &str,
    period: &str,
    in_progress: bool,
) -> (Vec<String>, Vec<String>) {
    let v = show_with(
        wb,
        "Platform ROI",
        &[
            ("account", Value::from(account)),
            ("period", Value::from(period)),
            ("include_in_progress", Value::Bool(in_progress)),
        ],
    );
    let names = column(wb, &v, "Initiative_Name");
    let sums = ["Investment_USD", "Annual_Benefit_USD"]
        .iter()
        .map(|f| {
            let i = v.fields.iter().position(|x| x == f).unwrap();
            let total: rust_decimal::Decimal = v
                .rows()
                .filter_map(|r| match &r.values[i] {
                    Value::Number(n) => Some(*n),
                    _ => None,
                })
                .sum();
            total.to_string()
        })
        .collect();
    (names, sums)
}

#[test]
fn platform_roi_counts_completed_initiatives_active_in_the_period_and_in_progress_ones_when_asked()
{
    let wb = pilot();
    // Today is 2026-11-24: this quarter from 2026-10-01, this year from 2026-01-01,
    // the last 12 months from 2025-11-24.
    // Gard: two in progress (War Risk Quoting 420,000 / 1,142,000; Broker portal
    // 650,000 / 900,000), one not started (never counted).
    assert_eq!(
        roi(&wb, "Gard AS", "All Time", false),
        (vec![], vec!["0".into(), "0".into()])
    );
    assert_eq!(
        roi(&wb, "Gard AS", "This Quarter", true),
        (
            vec![
                "Broker portal modernization".into(),
                "War Risk Quoting API launch".into()
            ],
            vec!["1070000".into(), "2042000".into()]
        )
    );
    // Helix: prior authorization completed 2026-09-30 (in this year, not this quarter);
    // the referral exchange in progress.
    assert_eq!(
        roi(&wb, "Helix Health Partners", "This Year", false),
        (
            vec!["Prior authorization automation".into()],
            vec!["300000".into(), "1250000".into()]
        )
    );
    assert_eq!(
        roi(&wb, "Helix Health Partners", "This Quarter", false).0,
        Vec::<String>::new()
    );
    assert_eq!(
        roi(&wb, "Helix Health Partners", "This Quarter", true).0,
        vec!["Referral exchange rollout".to_string()]
    );
    assert_eq!(
        roi(&wb, "Helix Health Partners", "Last 12 Months", true).1,
        vec!["1200000".to_string(), "4030000".into()]
    );
    // Sakura: one initiative, on hold: nothing to count.
    assert_eq!(
        roi(&wb, "Sakura Retail Group", "All Time", true).0,
        Vec::<String>::new()
    );
    // A period the view does not know is refused, not read as all time.
    assert!(
        wb.view(
            "Platform ROI",
            &[
                ("account", Value::from("Gard AS")),
                ("period", Value::from("Next Year"))
            ]
        )
        .is_err()
    );
}

#[test]
fn the_roi_figures_are_the_account_columns_formulas_over_the_sums_written_back() {
    // The ROI report writes the view's sums to the account; the workbook's
    // formulas give the figures. Worked by hand for Gard, all time, in progress
    // counted: I = 1,070,000, B = 2,042,000.
    let mut wb = pilot();
    let t = wb.table_id("Account_Master").unwrap();
    let gard = wb.find_rows(t, "Gard AS").unwrap()[0];
    let col = |wb: &Workbook, name| wb.column_id(t, name).unwrap();
    let tx = Transaction::new()
        .set(col(&wb, "ROI_Investment_USD"), gard, Value::from(1_070_000))
        .set(
            col(&wb, "ROI_Annual_Benefit_USD"),
            gard,
            Value::from(2_042_000),
        );
    wb.apply(tx).unwrap();
    let shown = |name| {
        wb.format_value(
            Some(col(&wb, name)),
            wb.value(col(&wb, name), gard).unwrap(),
        )
    };
    // (B − I) / I × 100 = 90.84…
    assert_eq!(shown("Platform_ROI_Percent"), "90.8 %");
    // I / (B / 12) = 6.2879…
    assert_eq!(shown("Platform_Payback_Months"), "6.3");
    // (3B − I) / I × 100 = 472.52…
    assert_eq!(shown("Platform_ROI_3yr_Percent"), "472.5 %");
    // B/1.1 + B/1.21 + B/1.331 − I = 4,008,151.7655…
    assert_eq!(shown("Platform_NPV_USD"), "4,008,151.77");
}

#[test]
fn the_qbr_views_read_one_account_in_the_date_range() {
    let wb = pilot();
    let day = |d| Value::Date(csip_engine::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
    let range = |account: &str, from, to| {
        vec![
            ("account", Value::from(account)),
            ("from", day(from)),
            ("to", day(to)),
        ]
    };
    let history = show_with(
        &wb,
        "QBR Health History",
        &range("Gard AS", "2026-10-01", "2026-10-31"),
    );
    assert_eq!(history.total, 31);
    assert_eq!(column(&wb, &history, "Date")[0], "2026-10-01");
    assert_eq!(
        show_with(
            &wb,
            "QBR Health History",
            &range("Gard AS", "2027-01-01", "2027-03-31")
        )
        .total,
        0
    );
    let engagements = show_with(
        &wb,
        "QBR Engagements",
        &range("Gard AS", "2026-01-01", "2026-12-31"),
    );
    assert!(engagements.total > 0);
    // Gard's rows in each: 2 objectives, 4 outcomes, 2 value streams, 3
    // initiatives (all open), 12 metrics, 5 APIs, 3 open risks, 2 open tasks;
    // another account's never.
    for (name, count) in [
        ("QBR Objectives", 2),
        ("QBR Outcomes", 4),
        ("QBR Value Streams", 2),
        ("QBR Initiatives", 3),
        ("QBR Metrics", 12),
        ("QBR APIs", 5),
        ("QBR Risks", 3),
        ("QBR Open Tasks", 2),
    ] {
        assert_eq!(for_account(&wb, name, "Gard AS").total, count, "{name}");
    }
    // The plan is what is not done: Gard's two initiatives in progress and the one not started.
    assert_eq!(for_account(&wb, "QBR Plan", "Gard AS").total, 3);
    assert_eq!(
        tile(
            &wb,
            &for_account(&wb, "QBR APIs", "Gard AS"),
            "APIs in production"
        ),
        "4"
    );
}
