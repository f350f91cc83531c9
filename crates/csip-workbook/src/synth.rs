//! A synthetic portfolio for the CSIP workbook at any size, for benchmarks and
//! load tests: deterministic (the same seed gives the same rows), with the
//! fan-out of a real book of business (per account about 100 health metrics,
//! 50 engagements, 5 objectives, 10 APIs, 5 initiatives, 5 risks, 5 outcomes;
//! about 50 accounts per CSM; 30 days of Health_Score history).

use csip_engine::{ColumnId, NaiveDate, RowId, RowValues, TableId, Value, Workbook};
use std::sync::Arc;

/// How big a portfolio to make, and from which seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Number of accounts.
    pub accounts: usize,
    /// The seed: the same seed and sizes give the same rows.
    pub seed: u64,
    /// Health metrics per account.
    pub metrics_per_account: usize,
    /// Engagements per account.
    pub engagements_per_account: usize,
    /// Strategic objectives per account.
    pub objectives_per_account: usize,
    /// APIs per account.
    pub apis_per_account: usize,
    /// Initiatives per account.
    pub initiatives_per_account: usize,
    /// Risks per account.
    pub risks_per_account: usize,
    /// Stakeholder outcomes per account.
    pub outcomes_per_account: usize,
    /// Capabilities per account.
    pub capabilities_per_account: usize,
    /// Value streams per account.
    pub value_streams_per_account: usize,
    /// Accounts each CSM manages.
    pub accounts_per_csm: usize,
    /// Days of daily Health_Score snapshots per account.
    pub history_days: usize,
}

impl SynthConfig {
    /// The fan-out the benchmarks use, for `accounts` accounts.
    pub fn new(accounts: usize) -> SynthConfig {
        SynthConfig {
            accounts,
            seed: 0x5eed_c51f,
            metrics_per_account: 100,
            engagements_per_account: 50,
            objectives_per_account: 5,
            apis_per_account: 10,
            initiatives_per_account: 5,
            risks_per_account: 5,
            outcomes_per_account: 5,
            capabilities_per_account: 3,
            value_streams_per_account: 2,
            accounts_per_csm: 50,
            history_days: 30,
        }
    }

    /// How many rows each table gets, in load order.
    pub fn row_counts(&self) -> Vec<(&'static str, usize)> {
        let n = self.accounts;
        vec![
            ("People_Team", self.people()),
            ("Account_Master", n),
            ("Business_Context", n),
            ("MuleSoft_Capabilities", n * self.capabilities_per_account),
            ("Strategic_Objectives", n * self.objectives_per_account),
            ("API_Portfolio", n * self.apis_per_account),
            ("Value_Streams", n * self.value_streams_per_account),
            ("Initiatives", n * self.initiatives_per_account),
            ("Risk_Register", n * self.risks_per_account),
            ("Stakeholder_Outcomes", n * self.outcomes_per_account),
            ("Engagement_Log", n * self.engagements_per_account),
            ("Platform_Health_Metrics", n * self.metrics_per_account),
            ("Account_Master_History", n * self.history_days),
        ]
    }

    fn csms(&self) -> usize {
        self.accounts.div_ceil(self.accounts_per_csm.max(1)).max(1)
    }

    fn aes(&self) -> usize {
        self.accounts.div_ceil(100).max(1)
    }

    fn ses(&self) -> usize {
        self.accounts.div_ceil(200).max(1)
    }

    fn sponsors(&self) -> usize {
        self.accounts.div_ceil(1000).max(1)
    }

    fn people(&self) -> usize {
        self.csms() + self.aes() + self.ses() + self.sponsors()
    }
}

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An integer in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(u64::try_from(hi - lo + 1).unwrap_or(1))).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

/// Column ids of one table, by name.
struct Cols<'w> {
    wb: &'w Workbook,
    table: TableId,
}

impl Cols<'_> {
    fn get(&self, name: &str) -> ColumnId {
        self.wb
            .column_id(self.table, name)
            .unwrap_or_else(|e| panic!("the CSIP schema does not fit the generator: {e}"))
    }
}

/// Shared text values, so a million rows do not hold a million copies of "Performance".
fn texts(items: &[&str]) -> Vec<Value> {
    items.iter().map(|s| Value::Text(Arc::from(*s))).collect()
}

/// The rows of a synthetic portfolio for the (empty) CSIP workbook `wb`, in
/// load order, ready for [`Workbook::import`]. Relations are rows, except
/// objectives' value streams, which name them by id (resolved at import).
///
/// `wb` must be the CSIP workbook with no rows: row ids are predicted from it.
pub fn rows(
    wb: &Workbook,
    config: &SynthConfig,
    today: NaiveDate,
) -> Vec<(TableId, Vec<RowValues>)> {
    let mut rng = Rng(config.seed);
    let table = |name: &str| {
        wb.table_id(name)
            .unwrap_or_else(|e| panic!("the CSIP schema does not fit the generator: {e}"))
    };
    let day = |offset: i64| Value::Date(today + csip_engine::TimeDelta::days(offset));
    // The `i`-th row (from 0) of a table the import fills from empty has id `i + 1`.
    let row = |t: TableId, i: usize| {
        Value::Row(t, RowId::from_raw(u32::try_from(i + 1).unwrap_or(u32::MAX)))
    };
    let n = config.accounts;
    let mut out = Vec::new();

    // People: CSMs, AEs, SEs, executive sponsors.
    let people = table("People_Team");
    let p = Cols { wb, table: people };
    let regions = texts(&["EMEA", "Americas", "APAC"]);
    let zones = ["Europe/Oslo", "America/New_York", "Asia/Tokyo"];
    let mut rows_people = Vec::with_capacity(config.people());
    let roles = [
        (config.csms(), "CSM", "Customer Success"),
        (config.aes(), "AE", "Sales"),
        (config.ses(), "SE", "Solutions Engineering"),
        (config.sponsors(), "Executive Sponsor", "Executive"),
    ];
    for (count, role, department) in roles {
        for k in 0..count {
            let r = rows_people.len() % 3;
            rows_people.push(vec![
                (p.get("Full_Name"), Value::from(format!("{role} {k:05}"))),
                (
                    p.get("Email"),
                    Value::from(format!(
                        "{}.{k:05}@csip.example",
                        role.to_lowercase().replace(' ', ".")
                    )),
                ),
                (p.get("Role"), Value::from(role)),
                (p.get("Department"), Value::from(department)),
                (p.get("Region"), regions[r].clone()),
                (p.get("Time_Zone"), Value::from(zones[r])),
                (
                    p.get("Slack_User_ID"),
                    Value::from(format!("U{:09}", rows_people.len())),
                ),
            ]);
        }
    }
    let (ae0, se0) = (config.csms(), config.csms() + config.aes());
    let sponsor0 = se0 + config.ses();
    out.push((people, rows_people));

    // Accounts.
    let accounts = table("Account_Master");
    let a = Cols {
        wb,
        table: accounts,
    };
    let industries = texts(&[
        "Maritime",
        "Financial Services",
        "Healthcare",
        "Retail",
        "Manufacturing",
        "Energy",
        "Public Sector",
        "Technology",
        "Telecommunications",
    ]);
    let contracts = texts(&[
        "Signature Success",
        "Premier Success",
        "Premier Success",
        "Standard",
        "Standard",
    ]);
    let statuses = texts(&[
        "Active",
        "Active",
        "Active",
        "Active",
        "Active",
        "Active",
        "Renewal Pending",
        "At Risk",
    ]);
    let first = [
        "Nordic", "Harbor", "Summit", "Atlas", "Cobalt", "Meridian", "Pioneer", "Granite",
        "Aurora", "Vertex",
    ];
    let second = [
        "Insurance",
        "Health",
        "Retail",
        "Energy",
        "Logistics",
        "Bank",
        "Telecom",
        "Foods",
        "Systems",
        "Group",
    ];
    let mut rows_accounts = Vec::with_capacity(n);
    for i in 0..n {
        let start = -rng.range(60, 1000);
        let end = start + 3 * 365;
        rows_accounts.push(vec![
            (
                a.get("Account_Name"),
                Value::from(format!("{} {} {i:06}", rng.pick(&first), rng.pick(&second))),
            ),
            (a.get("Industry_Vertical"), rng.pick(&industries).clone()),
            (a.get("Contract_Type"), rng.pick(&contracts).clone()),
            (a.get("Contract_Start_Date"), day(start)),
            (a.get("Contract_End_Date"), day(end)),
            (a.get("Renewal_Date"), day(end)),
            (a.get("ARR"), Value::from(rng.range(50, 2000) * 1000)),
            (
                a.get("Customer_Success_Manager"),
                row(people, i / config.accounts_per_csm.max(1)),
            ),
            (a.get("Account_Executive"), row(people, ae0 + i / 100)),
            (a.get("Solutions_Architect"), row(people, se0 + i / 200)),
            (
                a.get("Executive_Sponsor_MuleSoft"),
                row(people, sponsor0 + i / 1000),
            ),
            (a.get("Account_Status"), rng.pick(&statuses).clone()),
            (a.get("Geography"), regions[i % 3].clone()),
            (a.get("Employee_Count"), Value::from(rng.range(50, 50000))),
        ]);
    }
    out.push((accounts, rows_accounts));

    let per = |count: usize| (0..n).flat_map(move |i| (0..count).map(move |j| (i, j)));

    // Business context: one per account.
    let context = table("Business_Context");
    let bc = Cols { wb, table: context };
    let maturity = texts(&["Digital Native", "Transforming", "Traditional", "Legacy"]);
    let rows_context = (0..n)
        .map(|i| {
            vec![
                (bc.get("Account"), row(accounts, i)),
                (bc.get("Digital_Maturity"), rng.pick(&maturity).clone()),
                (bc.get("IT_Complexity_Score"), Value::from(rng.range(1, 10))),
            ]
        })
        .collect();
    out.push((context, rows_context));

    // Capabilities.
    let capabilities = table("MuleSoft_Capabilities");
    let cap = Cols {
        wb,
        table: capabilities,
    };
    let levels = texts(&[
        "1-Initial",
        "2-Developing",
        "3-Defined",
        "4-Managed",
        "5-Optimizing",
    ]);
    let domains = texts(&[
        "API Management",
        "Integration",
        "Automation",
        "Security & Governance",
        "Data",
    ]);
    let priorities = texts(&["Critical", "High", "Medium", "Low"]);
    let rows_caps = per(config.capabilities_per_account)
        .map(|(i, j)| {
            let current = usize::try_from(rng.below(4)).unwrap_or(0);
            let target = (current + 1 + usize::try_from(rng.below(3)).unwrap_or(0)).min(4);
            vec![
                (cap.get("Account"), row(accounts, i)),
                (
                    cap.get("Capability_Domain"),
                    domains[j % domains.len()].clone(),
                ),
                (
                    cap.get("Capability_Name"),
                    Value::from(format!("Capability {}", j + 1)),
                ),
                (cap.get("Current_Maturity"), levels[current].clone()),
                (cap.get("Target_Maturity"), levels[target].clone()),
                (cap.get("Priority"), rng.pick(&priorities).clone()),
                (
                    cap.get("Investment_Required_USD"),
                    Value::from(rng.range(20, 400) * 1000),
                ),
            ]
        })
        .collect();
    out.push((capabilities, rows_caps));

    // Objectives: linked to their account's capabilities and value streams.
    let objectives = table("Strategic_Objectives");
    let so = Cols {
        wb,
        table: objectives,
    };
    let pillars = texts(&[
        "Growth",
        "Operational Efficiency",
        "Customer Experience",
        "Risk & Compliance",
        "Innovation",
    ]);
    let relevance = texts(&[
        "Critical Enabler",
        "Critical Enabler",
        "Supporting",
        "Adjacent",
    ]);
    let objective_status = texts(&[
        "Not Started",
        "In Progress",
        "On Track",
        "On Track",
        "At Risk",
        "Achieved",
    ]);
    let rows_objectives = per(config.objectives_per_account)
        .map(|(i, j)| {
            let vs =
                i * config.value_streams_per_account + j % config.value_streams_per_account.max(1);
            vec![
                (so.get("Account"), row(accounts, i)),
                (
                    so.get("Strategic_Pillar"),
                    pillars[j % pillars.len()].clone(),
                ),
                (
                    so.get("Objective_Name"),
                    Value::from(format!("Objective {}", j + 1)),
                ),
                (so.get("Quantified_Goal"), Value::from("Measured quarterly")),
                (so.get("Target_Date"), day(rng.range(-60, 540))),
                (
                    so.get("Business_Value_USD"),
                    Value::from(rng.range(1, 50) * 100_000),
                ),
                (so.get("MuleSoft_Relevance"), rng.pick(&relevance).clone()),
                (so.get("Status"), rng.pick(&objective_status).clone()),
                (so.get("Progress_Percent"), Value::from(rng.range(0, 100))),
                (
                    so.get("Linked_Capabilities"),
                    Value::list(vec![row(
                        capabilities,
                        i * config.capabilities_per_account
                            + j % config.capabilities_per_account.max(1),
                    )]),
                ),
                (
                    so.get("Linked_Value_Streams"),
                    Value::list(vec![Value::from(format!("VS-{:05}", vs + 1))]),
                ),
            ]
        })
        .collect();
    out.push((objectives, rows_objectives));

    // APIs.
    let apis = table("API_Portfolio");
    let api = Cols { wb, table: apis };
    let layers = texts(&["Experience", "Process", "System"]);
    let environments = texts(&[
        "Production",
        "Production",
        "Production",
        "Staging",
        "Sandbox",
    ]);
    let rows_apis = per(config.apis_per_account)
        .map(|(i, j)| {
            let sla = rng.range(2, 10) * 100;
            let response = sla * rng.range(50, 140) / 100;
            vec![
                (
                    api.get("API_ID"),
                    Value::from(format!("acct-{i:06}-api-{j:02}")),
                ),
                (api.get("API_Name"), Value::from(format!("API {}", j + 1))),
                (api.get("Account"), row(accounts, i)),
                (api.get("API_Layer"), layers[j % 3].clone()),
                (api.get("Environment"), rng.pick(&environments).clone()),
                (
                    api.get("Linked_Objectives"),
                    Value::list(vec![row(
                        objectives,
                        i * config.objectives_per_account
                            + j % config.objectives_per_account.max(1),
                    )]),
                ),
                (api.get("Avg_Response_Time_ms"), Value::from(response)),
                (api.get("SLA_Target_ms"), Value::from(sla)),
                (
                    api.get("Monthly_Transactions"),
                    Value::from(rng.range(1, 3000) * 1000),
                ),
                (
                    api.get("Error_Rate_Percent"),
                    Value::Number(csip_engine::Decimal::new(rng.range(0, 80), 1)),
                ),
            ]
        })
        .collect();
    out.push((apis, rows_apis));

    // Value streams: supported by the account's first APIs.
    let streams = table("Value_Streams");
    let vs = Cols { wb, table: streams };
    let rows_streams = per(config.value_streams_per_account)
        .map(|(i, j)| {
            let baseline = rng.range(8, 96);
            let base_api = i * config.apis_per_account;
            vec![
                (vs.get("Account"), row(accounts, i)),
                (
                    vs.get("Value_Stream_Name"),
                    Value::from(format!("Value stream {}", j + 1)),
                ),
                (
                    vs.get("Supporting_APIs"),
                    Value::list(
                        (0..3.min(config.apis_per_account))
                            .map(|k| row(apis, base_api + (j + k) % config.apis_per_account))
                            .collect(),
                    ),
                ),
                (vs.get("Cycle_Time_Baseline_Hours"), Value::from(baseline)),
                (
                    vs.get("Cycle_Time_Current_Hours"),
                    Value::from(rng.range(1, baseline)),
                ),
                (
                    vs.get("Cycle_Time_Target_Hours"),
                    Value::from(rng.range(1, baseline / 2 + 1)),
                ),
                (vs.get("Annual_Volume"), Value::from(rng.range(100, 10000))),
                (vs.get("Cost_Per_Hour_USD"), Value::from(rng.range(10, 90))),
                (
                    vs.get("Revenue_Impact_USD"),
                    Value::from(rng.range(0, 500) * 1000),
                ),
            ]
        })
        .collect();
    out.push((streams, rows_streams));

    // Initiatives.
    let initiatives = table("Initiatives");
    let ini = Cols {
        wb,
        table: initiatives,
    };
    let initiative_status = texts(&[
        "Not Started",
        "In Progress",
        "In Progress",
        "On Hold",
        "Completed",
    ]);
    let rows_initiatives = per(config.initiatives_per_account)
        .map(|(i, j)| {
            let investment = rng.range(50, 900) * 1000;
            vec![
                (ini.get("Account"), row(accounts, i)),
                (
                    ini.get("Initiative_Name"),
                    Value::from(format!("Initiative {}", j + 1)),
                ),
                (ini.get("Priority"), rng.pick(&priorities).clone()),
                (ini.get("Status"), rng.pick(&initiative_status).clone()),
                (ini.get("Start_Date"), day(rng.range(-400, -30))),
                (ini.get("Target_Completion_Date"), day(rng.range(-90, 365))),
                (ini.get("Investment_USD"), Value::from(investment)),
                (
                    ini.get("Annual_Benefit_USD"),
                    Value::from(investment * rng.range(30, 400) / 100),
                ),
            ]
        })
        .collect();
    out.push((initiatives, rows_initiatives));

    // Risks.
    let risks = table("Risk_Register");
    let risk = Cols { wb, table: risks };
    let impacts = texts(&["Critical", "High", "Medium", "Low"]);
    let probabilities = texts(&["Almost Certain", "Likely", "Possible", "Unlikely", "Rare"]);
    let risk_status = texts(&["Open", "Open", "Mitigating", "Monitoring", "Closed"]);
    let rows_risks = per(config.risks_per_account)
        .map(|(i, j)| {
            vec![
                (risk.get("Account"), row(accounts, i)),
                (
                    risk.get("Risk_Title"),
                    Value::from(format!("Risk {}", j + 1)),
                ),
                (risk.get("Impact"), rng.pick(&impacts).clone()),
                (risk.get("Probability"), rng.pick(&probabilities).clone()),
                (risk.get("Status"), rng.pick(&risk_status).clone()),
                (risk.get("Identified_Date"), day(rng.range(-200, -1))),
            ]
        })
        .collect();
    out.push((risks, rows_risks));

    // Outcomes.
    let outcomes = table("Stakeholder_Outcomes");
    let out_c = Cols {
        wb,
        table: outcomes,
    };
    let outcome_status = texts(&[
        "Not Started",
        "In Progress",
        "On Track",
        "At Risk",
        "Achieved",
    ]);
    let rows_outcomes = per(config.outcomes_per_account)
        .map(|(i, j)| {
            let baseline = rng.range(0, 50);
            let target = baseline + rng.range(10, 100);
            vec![
                (out_c.get("Account"), row(accounts, i)),
                (
                    out_c.get("Stakeholder_Name"),
                    Value::from(format!("Stakeholder {}", j + 1)),
                ),
                (out_c.get("Success_Metric"), Value::from("Outcome metric")),
                (out_c.get("Baseline_Value"), Value::from(baseline)),
                (
                    out_c.get("Current_Value"),
                    Value::from(rng.range(baseline, target)),
                ),
                (out_c.get("Target_Value"), Value::from(target)),
                (out_c.get("Status"), rng.pick(&outcome_status).clone()),
            ]
        })
        .collect();
    out.push((outcomes, rows_outcomes));

    // Engagements over the last year.
    let engagements = table("Engagement_Log");
    let eng = Cols {
        wb,
        table: engagements,
    };
    let kinds = texts(&[
        "QBR",
        "Executive Briefing",
        "Technical Review",
        "Check-in",
        "Check-in",
        "Workshop",
        "Escalation",
    ]);
    let sentiments = texts(&["Very Positive", "Positive", "Neutral", "Negative"]);
    let rows_engagements = per(config.engagements_per_account)
        .map(|(i, _)| {
            vec![
                (eng.get("Account"), row(accounts, i)),
                (eng.get("Engagement_Date"), day(-rng.range(1, 365))),
                (eng.get("Engagement_Type"), rng.pick(&kinds).clone()),
                (eng.get("Sentiment"), rng.pick(&sentiments).clone()),
                (
                    eng.get("Relationship_Depth_Score"),
                    Value::from(rng.range(30, 100)),
                ),
            ]
        })
        .collect();
    out.push((engagements, rows_engagements));

    // Health metrics: a mix of healthy, warning and critical.
    let metrics = table("Platform_Health_Metrics");
    let met = Cols { wb, table: metrics };
    let categories = texts(&[
        "Performance",
        "Reliability",
        "Security",
        "Adoption",
        "Efficiency",
        "Cost",
    ]);
    let names: Vec<Value> = (0..config.metrics_per_account)
        .map(|j| Value::from(format!("Metric {}", j + 1)))
        .collect();
    let (ms, sources) = (Value::from("ms"), Value::from("Anypoint Monitoring"));
    let thresholds = [Value::from(400), Value::from(600), Value::from(900)];
    let mut rows_metrics = Vec::with_capacity(n * config.metrics_per_account);
    for (i, j) in per(config.metrics_per_account) {
        rows_metrics.push(vec![
            (met.get("Account"), row(accounts, i)),
            (met.get("Metric_Name"), names[j].clone()),
            (
                met.get("Metric_Category"),
                categories[j % categories.len()].clone(),
            ),
            (met.get("Current_Value"), Value::from(rng.range(200, 1000))),
            (met.get("Target_Value"), thresholds[0].clone()),
            (met.get("Warning_Threshold"), thresholds[1].clone()),
            (met.get("Critical_Threshold"), thresholds[2].clone()),
            (met.get("Higher_Is_Better"), Value::Bool(false)),
            (met.get("Unit"), ms.clone()),
            (met.get("Data_Source"), sources.clone()),
        ]);
    }
    out.push((metrics, rows_metrics));

    // Health_Score snapshots, the days before today.
    let history = table("Account_Master_History");
    let h = Cols { wb, table: history };
    let mut rows_history = Vec::with_capacity(n * config.history_days);
    for i in 0..n {
        let id = Value::from(format!("ACC-{:05}", i + 1));
        let mut score = rng.range(400, 950);
        for d in (1..=config.history_days).rev() {
            score = (score + rng.range(-15, 15)).clamp(0, 1000);
            rows_history.push(vec![
                (h.get("Account_ID"), id.clone()),
                (h.get("Date"), day(-i64::try_from(d).unwrap_or(0))),
                (
                    h.get("Health_Score"),
                    Value::Number(csip_engine::Decimal::new(score, 1)),
                ),
            ]);
        }
    }
    out.push((history, rows_history));
    out
}

/// The CSIP workbook filled with a synthetic portfolio, its clock on `today`.
pub fn workbook(
    config: &SynthConfig,
    today: NaiveDate,
) -> Result<Workbook, csip_engine::LoadError> {
    let mut wb = crate::empty(csip_engine::Clock::on(today))?;
    let input = rows(&wb, config, today);
    wb.import(input).map_err(|e| {
        csip_engine::LoadError::File(csip_engine::FileError {
            path: "synthetic portfolio".into(),
            line: 0,
            column: 0,
            rendered: format!("error: the synthetic portfolio does not load: {e}"),
            message: e.to_string(),
        })
    })?;
    Ok(wb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows() {
        let wb = crate::empty(csip_engine::Clock::on(crate::sample_today())).unwrap();
        let config = SynthConfig::new(3);
        let a = rows(&wb, &config, crate::sample_today());
        let b = rows(&wb, &config, crate::sample_today());
        assert_eq!(a, b);
        let counts: Vec<usize> = a.iter().map(|(_, r)| r.len()).collect();
        let expected: Vec<usize> = config.row_counts().iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, expected);
    }
}
