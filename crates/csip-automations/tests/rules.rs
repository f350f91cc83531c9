//! The blueprint's rules on a real workbook file with an injected clock:
//! 60 simulated days across the autumn DST changes for CSMs in
//! Europe/Oslo, America/New_York and Asia/Tokyo, every slot exactly once;
//! a rerun changes nothing; the change rule fired by 50 edits makes one
//! risk and one alert.

#![allow(clippy::unwrap_used)] // tests may panic

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use csip_automations::rules::{CSIP_RULES, CSIP_RULES_PATH, Rules};
use csip_automations::{Automations, Outcome, Settings};
use csip_engine::{Transaction, Value, Workbook};
use csip_store::{Outbox, Store};
use std::collections::{BTreeMap, BTreeSet};

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
}

fn settings(dir: &std::path::Path) -> Settings {
    let mut channels = BTreeMap::new();
    channels.insert("alerts".to_string(), "#customer-success-alerts".to_string());
    channels.insert(
        "platform_health".to_string(),
        "#platform-health".to_string(),
    );
    Settings {
        channels,
        backup: Some(csip_automations::backup::Target::Local(dir.join("backups"))),
        keep: 3,
    }
}

fn automations(store: &Store, dir: &std::path::Path) -> Automations {
    let rules = Rules::read(CSIP_RULES_PATH, CSIP_RULES).unwrap();
    rules.check(store.workbook()).unwrap();
    Automations::new(rules, settings(dir))
}

fn pilot_file(dir: &std::path::Path, today: NaiveDate) -> Store {
    Store::create(
        &dir.join("csip.db"),
        csip_workbook::table_files(),
        csip_workbook::pilot(today).unwrap(),
    )
    .unwrap()
}

/// Automation_Logs rows: (automation, run key, status, message).
fn logs(wb: &Workbook) -> Vec<(String, String, String, String)> {
    let t = wb.table_id("Automation_Logs").unwrap();
    let col = |n| wb.column_id(t, n).unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .map(|&r| {
            let v = |n| wb.display(wb.value(col(n), r).unwrap());
            (v("Automation"), v("Run_Key"), v("Status"), v("Message"))
        })
        .collect()
}

fn count(wb: &Workbook, table: &str) -> usize {
    wb.rows(wb.table_id(table).unwrap()).unwrap().len()
}

/// The zone of each account's CSM.
fn zones(wb: &Workbook) -> BTreeSet<String> {
    let t = wb.table_id("Account_Master").unwrap();
    wb.rows(t)
        .unwrap()
        .iter()
        .map(|&r| {
            wb.display(
                &wb.eval("[Customer_Success_Manager].[Time_Zone]", Some((t, r)))
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn sixty_days_across_dst_run_every_slot_once_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), start());
    let automations = automations(&store, dir.path());
    let wb = store.workbook();
    assert_eq!(
        zones(wb),
        ["America/New_York", "Asia/Tokyo", "Europe/Oslo"]
            .map(String::from)
            .into(),
        "the pilot's CSMs are in three zones"
    );
    let logs_before = logs(wb).len();
    let (tasks_before, history_before) = (count(wb, "Tasks"), count(wb, "Account_Master_History"));

    // Every hour for 60 days (2026-10-01 to 2026-11-30: Oslo leaves summer
    // time on 2026-10-25, New York on 2026-11-01; Tokyo keeps its time).
    let begin = Utc.from_utc_datetime(&start().and_hms_opt(0, 0, 0).unwrap());
    let end = begin + Duration::days(60);
    let mut now = begin;
    while now <= end {
        for report in automations.run_due(&mut store, now, None) {
            assert!(matches!(report.outcome, Outcome::Ran { .. }), "{report:?}");
        }
        now += Duration::hours(1);
    }
    let wb = store.workbook();
    let ran = &logs(wb)[logs_before..];
    // Renewal Risk Detector: once per local day in each zone, at 08:00 local.
    for zone in ["Europe/Oslo", "America/New_York", "Asia/Tokyo"] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let keys: Vec<&String> = ran
            .iter()
            .filter(|l| l.0 == "Renewal Risk Detector" && l.1.contains(&format!("({zone})")))
            .map(|l| &l.1)
            .collect();
        let days: BTreeSet<NaiveDate> = keys
            .iter()
            .map(|k| {
                let at = DateTime::parse_from_rfc3339(k.rsplit_once('/').unwrap().1).unwrap();
                let local = at.with_timezone(&tz);
                assert_eq!(local.format("%H:%M").to_string(), "08:00", "{k}");
                local.date_naive()
            })
            .collect();
        assert_eq!(days.len(), keys.len(), "{zone}: one run per local day");
        // A first start runs the latest slot of the last 24 hours, not older ones.
        let first = begin - Duration::hours(24);
        let expected = (-1..=60)
            .map(|d| begin + Duration::days(d))
            .flat_map(|d| [d, d + Duration::hours(12)])
            .filter(|at| *at <= end)
            .map(|at| at.with_timezone(&tz).date_naive())
            .filter(|day| {
                let eight = tz
                    .from_local_datetime(&day.and_hms_opt(8, 0, 0).unwrap())
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc);
                eight > first && eight <= end
            })
            .collect::<BTreeSet<_>>();
        assert_eq!(days, expected, "{zone}");
    }
    // Daily Health Score Refresh at 02:00 UTC and the weekly backup on Sundays.
    let refreshes = ran
        .iter()
        .filter(|l| l.0 == "Daily Health Score Refresh")
        .count();
    // 2026-09-30 (the first start's last 24 hours) to 2026-11-29.
    assert_eq!(refreshes, 61);
    let backups = ran.iter().filter(|l| l.0 == "Weekly Backup Export").count();
    assert_eq!(backups, 9, "Sundays from 2026-10-04 to 2026-11-29");
    // Each refresh appended one history row per active account.
    let wb = store.workbook();
    let active = wb
        .eval(
            "CountIf([Account_Master], [Account_Status] = \"Active\")",
            None,
        )
        .unwrap();
    assert_eq!(
        Value::from(i64::try_from(count(wb, "Account_Master_History") - history_before).unwrap()),
        Value::from(61 * i64::try_from(wb.display(&active).parse::<usize>().unwrap()).unwrap())
    );
    // Tasks: one per account in each run's message count; every task keyed.
    let tasks = count(wb, "Tasks") - tasks_before;
    let detector_rows: usize = ran
        .iter()
        .filter(|l| l.0 == "Renewal Risk Detector")
        .map(|l| l.3.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(tasks, detector_rows);
    assert!(tasks > 0, "the pilot has accounts at risk");
    let outbox = Outbox::open(store.path()).unwrap();
    let messages = outbox.list(None, 100_000).unwrap();
    let alerts = messages
        .iter()
        .filter(|m| m.address == "#customer-success-alerts")
        .count();
    assert!(alerts >= tasks, "an alert per task, and drop alerts");
    println!(
        "simulated 60 days: {} runs, {tasks} tasks, {} messages",
        ran.len(),
        messages.len()
    );

    // A rerun of every slot, and a run as of the end again: nothing new.
    let (logs_after, tasks_after, messages_after) =
        (logs(wb).len(), count(wb, "Tasks"), messages.len());
    let history_after = count(wb, "Account_Master_History");
    let slots: Vec<csip_automations::Slot> = ran
        .iter()
        .map(|l| {
            let (prefix, at) = l.1.rsplit_once('/').unwrap();
            let zone = prefix
                .split_once(" (")
                .map(|(_, z)| z.trim_end_matches(')').to_string());
            csip_automations::Slot {
                rule: l.0.clone(),
                zone,
                at: DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&Utc),
                missed: 0,
                key: l.1.clone(),
            }
        })
        .collect();
    for slot in slots {
        assert_eq!(
            automations.run(&mut store, slot).outcome,
            Outcome::AlreadyDone
        );
    }
    assert!(automations.run_due(&mut store, end, None).is_empty());
    let wb = store.workbook();
    assert_eq!(logs(wb).len(), logs_after);
    assert_eq!(count(wb, "Tasks"), tasks_after);
    assert_eq!(count(wb, "Account_Master_History"), history_after);
    assert_eq!(outbox.list(None, 100_000).unwrap().len(), messages_after);
}

#[test]
fn missed_slots_are_caught_up_once_and_the_log_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), start());
    let automations = automations(&store, dir.path());
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap();
    automations.run_due(&mut store, day(1, 3), Some("Daily Health Score Refresh"));
    // Nothing ran for five days.
    let reports = automations.run_due(&mut store, day(6, 3), Some("Daily Health Score Refresh"));
    assert_eq!(reports.len(), 1);
    let Outcome::Ran { message, .. } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(message.contains("4 missed slots coalesced"), "{message}");
}

#[test]
fn the_detector_and_the_risk_formula_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), csip_workbook::sample_today());
    let automations = automations(&store, dir.path());
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap();
    let reports = automations.run_due(&mut store, at, Some("Renewal Risk Detector"));
    assert!(!reports.is_empty());
    let wb = store.workbook();
    let tasks = wb.table_id("Tasks").unwrap();
    let accounts = wb.table_id("Account_Master").unwrap();
    let (account, source) = (
        wb.column_id(tasks, "Account").unwrap(),
        wb.column_id(tasks, "Source").unwrap(),
    );
    let level = wb.column_id(accounts, "Renewal_Risk_Level").unwrap();
    let flagged: Vec<_> = wb
        .rows(tasks)
        .unwrap()
        .iter()
        .filter(|&&r| wb.display(wb.value(source, r).unwrap()) == "Renewal Risk Detector")
        .filter_map(|&r| match wb.value(account, r).unwrap() {
            Value::Row(_, a) => Some(*a),
            _ => None,
        })
        .collect();
    assert!(!flagged.is_empty());
    for a in flagged {
        let l = wb.display(wb.value(level, a).unwrap());
        assert!(l == "At Risk" || l == "Critical", "{l}");
    }
}

#[test]
fn fifty_edits_to_one_api_make_one_risk_and_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), csip_workbook::sample_today());
    let automations = automations(&store, dir.path());
    let wb = store.workbook();
    let apis = wb.table_id("API_Portfolio").unwrap();
    let vessel = wb.find_rows(apis, "gard-vessel-registry-sapi").unwrap()[0];
    let error_rate = wb.column_id(apis, "Error_Rate_Percent").unwrap();
    let at = |i: i64| Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap() + Duration::minutes(i);
    let commit = |store: &mut Store, v: &str, i: i64| -> Vec<csip_automations::Report> {
        let changes = store
            .commit(
                Transaction::new().set(
                    error_rate,
                    vessel,
                    Value::Number(v.parse::<csip_engine::Decimal>().unwrap()),
                ),
                "test",
                at(i).naive_utc(),
            )
            .unwrap();
        automations.on_changes(store, &[changes], at(i))
    };
    // Healthy first; then 50 edits in and out of Critical and Degraded.
    commit(&mut store, "0.2", 0);
    let risks_before = count(store.workbook(), "Risk_Register");
    let mut fired = 0;
    for i in 1..=50 {
        let v = ["6", "7.5", "2", "9", "1.5"][i % 5];
        fired += commit(&mut store, v, i as i64).len();
    }
    assert_eq!(fired, 1, "one firing");
    assert_eq!(count(store.workbook(), "Risk_Register"), risks_before + 1);
    let outbox = Outbox::open(store.path()).unwrap();
    let alerts: Vec<_> = outbox
        .list(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|m| m.address == "#platform-health")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].payload.contains("Vessel Registry API"),
        "{}",
        alerts[0].payload
    );

    // The risk closed, the next incident is a new one.
    let wb = store.workbook();
    let risks = wb.table_id("Risk_Register").unwrap();
    let status = wb.column_id(risks, "Status").unwrap();
    let newest = *wb.rows(risks).unwrap().iter().max().unwrap();
    store
        .commit(
            Transaction::new().set(status, newest, "Closed"),
            "test",
            at(60).naive_utc(),
        )
        .unwrap();
    commit(&mut store, "0.2", 61);
    assert_eq!(commit(&mut store, "8", 62).len(), 1);
    assert_eq!(count(store.workbook(), "Risk_Register"), risks_before + 2);
}

#[test]
fn a_condition_that_errs_is_logged_with_its_rows_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), csip_workbook::sample_today());
    // Gard AS's health score is 63: this condition divides by zero there.
    let text = r#"
[[rules]]
name = "Renewal Risk Detector"
schedule = "0 8 * * *"
time_zone = "UTC"
table = "Account_Master"
condition = '1 / ([Health_Score] - 63) > 0'

[[rules.actions]]
insert = "Tasks"
values = { Title = '"check " & [Account_Name]', Account = 'thisRow', Source = '"Renewal Risk Detector"' }
"#;
    let rules = Rules::read("test.toml", text).unwrap();
    rules.check(store.workbook()).unwrap();
    let automations = Automations::new(rules, settings(dir.path()));
    let reports = automations.run_due(
        &mut store,
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
        None,
    );
    let Outcome::Ran { status, .. } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert_eq!(status, "Partial");
    let wb = store.workbook();
    let t = wb.table_id("Automation_Logs").unwrap();
    let details = wb.column_id(t, "Details").unwrap();
    let last = *wb.rows(t).unwrap().iter().max().unwrap();
    let text = wb.display(wb.value(details, last).unwrap());
    assert!(text.contains("Gard AS: the condition erred"), "{text}");
}

#[test]
fn bad_rules_are_told_at_their_place() {
    let wb = csip_workbook::pilot(csip_workbook::sample_today()).unwrap();
    let text = "[[rules]]\nname = \"x\"\nschedule = \"0 8 * * *\"\ntime_zone = \"Europe/Olso\"\ntable = \"Account_Master\"\n";
    let e = Rules::read("r.toml", text).unwrap_err();
    assert!(
        e[0].to_string().starts_with("r.toml:3:12") && e[0].to_string().contains("Europe/Oslo"),
        "{}",
        e[0]
    );
    let text = "[[rules]]\nname = \"x\"\non_change = \"Health_Status\"\ntable = \"API_Portfolio\"\ncondition = '[Nope] > 1'\n\n[[rules.actions]]\ninsert = \"Tasks\"\nvalues = { Is_Overdue = 'true' }\n";
    let rules = Rules::read("r.toml", text).unwrap();
    let e = rules.check(&wb).unwrap_err();
    let all: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        all.iter()
            .any(|e| e.starts_with("r.toml:5:13") && e.contains("Nope")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|e| e.contains("“Is_Overdue” is a formula column")),
        "{all:?}"
    );
}

/// A job of another adapter (as the Anypoint sync's will be): it commits
/// its log row with the key it is given.
#[derive(Debug)]
struct Nightly(csip_automations::schedule::Schedule);

impl csip_automations::Job for Nightly {
    fn name(&self) -> &str {
        "Daily Anypoint Sync"
    }
    fn schedule(&self) -> &csip_automations::schedule::Schedule {
        &self.0
    }
    fn run(
        &self,
        access: &dyn csip_automations::Access,
        slot: DateTime<Utc>,
        key: &str,
    ) -> Result<String, String> {
        let mut done = Err(String::new());
        access.write(&mut |store| {
            let tx = csip_automations::log_row(
                store.workbook(),
                Transaction::new(),
                self.name(),
                key,
                slot.naive_utc(),
                "Success",
                0,
                "synced",
                "",
                1,
            );
            done = store
                .commit(tx, "job", slot.naive_utc())
                .map(|_| "synced".to_string())
                .map_err(|e| e.to_string());
        });
        done
    }
}

#[test]
fn a_registered_job_runs_once_per_slot() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = pilot_file(dir.path(), csip_workbook::sample_today());
    let mut automations = automations(&store, dir.path());
    automations.register(std::sync::Arc::new(Nightly(
        csip_automations::schedule::Schedule::new("0 1 * * *", "UTC").unwrap(),
    )));
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 1, 30, 0).unwrap();
    let first = automations.run_due(&mut store, at, Some("Daily Anypoint Sync"));
    assert_eq!(first.len(), 1);
    assert!(
        automations
            .run_due(&mut store, at, Some("Daily Anypoint Sync"))
            .is_empty()
    );
    let logged = logs(store.workbook());
    assert_eq!(
        logged
            .iter()
            .filter(|l| l.0 == "Daily Anypoint Sync" && l.1.ends_with("2026-11-24T01:00:00Z"))
            .count(),
        1
    );
}

#[test]
fn two_schedulers_on_one_file_run_each_slot_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = pilot_file(dir.path(), csip_workbook::sample_today());
    let path = store.path().to_path_buf();
    drop(store);
    let open =
        || Store::open(&path, csip_engine::Clock::on(csip_workbook::sample_today())).unwrap();
    let (mut a, mut b) = (open(), open());
    let automations = automations(&a, dir.path());
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    // Both see the same slots due; A runs them first.
    let due_b = automations.due(b.workbook(), at, None);
    let ran_a = automations.run_due(&mut a, at, None);
    assert!(!ran_a.is_empty() && due_b.len() == ran_a.len());
    for slot in due_b {
        assert_eq!(automations.run(&mut b, slot).outcome, Outcome::AlreadyDone);
    }
    let keys: Vec<String> = logs(open().workbook()).into_iter().map(|l| l.1).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "{keys:?}");
}
