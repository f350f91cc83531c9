//! Schedules: cron expressions in a time zone, turned into UTC slots, each
//! wall-clock occurrence once across daylight saving time changes.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use csip_automations::schedule::{Due, MAX_SLOTS, Schedule, ScheduleError, slot_key};
use proptest::prelude::*;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn schedule(cron: &str, zone: &str) -> Schedule {
    Schedule::new(cron, zone).unwrap()
}

/// Slots of `schedule` in `(after, until]` on its wall clock, as
/// `YYYY-MM-DD HH:MM ZONE`.
fn local_slots(schedule: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    schedule
        .slots(after, until)
        .into_iter()
        .map(|slot| schedule.local(slot).format("%F %R %Z").to_string())
        .collect()
}

/// Checks that `slots` has exactly one slot per local calendar day, at
/// `time` on the wall clock (or later that day where a gap skipped it),
/// strictly increasing.
fn assert_daily(schedule: &Schedule, slots: &[DateTime<Utc>], time: NaiveTime) {
    assert!(!slots.is_empty());
    for pair in slots.windows(2) {
        assert!(
            pair[0] < pair[1],
            "{schedule}: {} is not before {}",
            pair[0],
            pair[1]
        );
        let (a, b) = (schedule.local(pair[0]), schedule.local(pair[1]));
        assert_eq!(
            a.date_naive().succ_opt(),
            Some(b.date_naive()),
            "{schedule}: {a} and {b} are not on consecutive local days"
        );
    }
    for &slot in slots {
        let local = schedule.local(slot).time();
        assert!(
            local >= time,
            "{schedule}: {slot} is {local} on the wall clock, before {time}"
        );
    }
}

#[test]
fn daily_0800_across_the_spring_changes() {
    // 2026-02-20 to 2026-04-21: the US changes on 03-08 and the EU on
    // 03-29; Tokyo has no daylight saving time.
    let after = utc(2026, 2, 20, 0, 0);
    let until = after + Duration::days(60);
    let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
    for zone in ["Europe/Oslo", "America/New_York", "Asia/Tokyo"] {
        let daily = schedule("0 8 * * *", zone);
        let slots = daily.slots(after, until);
        assert_eq!(slots.len(), 60, "{daily}");
        assert_daily(&daily, &slots, eight);
        assert!(
            slots.iter().all(|&slot| daily.local(slot).time() == eight),
            "{daily}"
        );
    }

    let oslo = schedule("0 8 * * *", "Europe/Oslo").slots(after, until);
    assert!(oslo.contains(&utc(2026, 3, 28, 7, 0))); // 08:00 CET
    assert!(oslo.contains(&utc(2026, 3, 29, 6, 0))); // 08:00 CEST, the day of the change
    assert!(oslo.contains(&utc(2026, 3, 30, 6, 0)));

    let new_york = schedule("0 8 * * *", "America/New_York").slots(after, until);
    assert!(new_york.contains(&utc(2026, 3, 7, 13, 0))); // 08:00 EST
    assert!(new_york.contains(&utc(2026, 3, 8, 12, 0))); // 08:00 EDT
    assert!(new_york.contains(&utc(2026, 3, 9, 12, 0)));

    let tokyo = schedule("0 8 * * *", "Asia/Tokyo").slots(after, until);
    assert!(
        tokyo
            .iter()
            .all(|slot| slot.hour() == 23 && slot.minute() == 0)
    );
}

#[test]
fn daily_0800_across_the_autumn_changes() {
    // 2026-10-01 to 2026-11-30: the EU changes on 10-25, the US on 11-01.
    let after = utc(2026, 10, 1, 0, 0);
    let until = after + Duration::days(60);
    let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
    for zone in ["Europe/Oslo", "America/New_York", "Asia/Tokyo"] {
        let daily = schedule("0 8 * * *", zone);
        let slots = daily.slots(after, until);
        assert_eq!(slots.len(), 60, "{daily}");
        assert_daily(&daily, &slots, eight);
        assert!(
            slots.iter().all(|&slot| daily.local(slot).time() == eight),
            "{daily}"
        );
    }

    let oslo = schedule("0 8 * * *", "Europe/Oslo").slots(after, until);
    assert!(oslo.contains(&utc(2026, 10, 24, 6, 0))); // 08:00 CEST
    assert!(oslo.contains(&utc(2026, 10, 25, 7, 0))); // 08:00 CET, the day of the change
    assert!(oslo.contains(&utc(2026, 10, 26, 7, 0)));

    let new_york = schedule("0 8 * * *", "America/New_York").slots(after, until);
    assert!(new_york.contains(&utc(2026, 10, 31, 12, 0))); // 08:00 EDT
    assert!(new_york.contains(&utc(2026, 11, 1, 13, 0))); // 08:00 EST
    assert!(new_york.contains(&utc(2026, 11, 2, 13, 0)));

    let tokyo = schedule("0 8 * * *", "Asia/Tokyo").slots(after, until);
    assert!(tokyo.contains(&utc(2026, 10, 24, 23, 0)));
    assert!(tokyo.contains(&utc(2026, 10, 31, 23, 0)));
}

#[test]
fn a_time_the_spring_gap_skips_runs_once_when_the_gap_ends() {
    // Europe/Oslo, 2026-03-29: at 01:00 UTC, 02:00 CET becomes 03:00 CEST.
    let oslo = schedule("30 2 * * *", "Europe/Oslo");
    assert_eq!(
        local_slots(&oslo, utc(2026, 3, 27, 12, 0), utc(2026, 3, 30, 12, 0)),
        [
            "2026-03-28 02:30 CET",
            "2026-03-29 03:00 CEST",
            "2026-03-30 02:30 CEST"
        ]
    );
    assert_eq!(
        oslo.slots(utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 12, 0)),
        [utc(2026, 3, 29, 1, 0)]
    );

    // America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
    let new_york = schedule("30 2 * * *", "America/New_York");
    assert_eq!(
        new_york.slots(utc(2026, 3, 7, 12, 0), utc(2026, 3, 8, 12, 0)),
        [utc(2026, 3, 8, 7, 0)]
    );
}

#[test]
fn a_time_the_autumn_overlap_repeats_runs_once_at_its_first_occurrence() {
    // Europe/Oslo, 2026-10-25: at 01:00 UTC, 03:00 CEST becomes 02:00 CET,
    // so 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    let oslo = schedule("30 2 * * *", "Europe/Oslo");
    assert_eq!(
        oslo.slots(utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 12, 0)),
        [utc(2026, 10, 25, 0, 30)]
    );
    assert_eq!(
        local_slots(&oslo, utc(2026, 10, 23, 12, 0), utc(2026, 10, 26, 12, 0)),
        [
            "2026-10-24 02:30 CEST",
            "2026-10-25 02:30 CEST",
            "2026-10-26 02:30 CET"
        ]
    );

    // America/New_York, 2026-11-01: 01:30 EDT (05:30 UTC), not 01:30 EST.
    let new_york = schedule("30 1 * * *", "America/New_York");
    assert_eq!(
        new_york.slots(utc(2026, 10, 31, 12, 0), utc(2026, 11, 1, 12, 0)),
        [utc(2026, 11, 1, 5, 30)]
    );
    // Asked from inside the second pass, the slot already ran.
    assert_eq!(
        new_york.next(utc(2026, 11, 1, 6, 0)),
        Some(utc(2026, 11, 2, 6, 30))
    );
    assert_eq!(
        new_york.due(Some(utc(2026, 11, 1, 5, 30)), utc(2026, 11, 1, 6, 45)),
        None
    );
}

#[test]
fn hourly_runs_each_wall_clock_hour_once() {
    // New York falls back: 01:00 comes twice and runs once, in EDT.
    let new_york = schedule("0 * * * *", "America/New_York");
    assert_eq!(
        local_slots(&new_york, utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 8, 30)),
        [
            "2026-11-01 00:00 EDT",
            "2026-11-01 01:00 EDT",
            "2026-11-01 02:00 EST",
            "2026-11-01 03:00 EST"
        ]
    );
    // Oslo springs forward: 02:00 does not exist and runs at 03:00 CEST,
    // together with 03:00 itself (one instant, one run).
    let oslo = schedule("0 * * * *", "Europe/Oslo");
    assert_eq!(
        local_slots(&oslo, utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 2, 30)),
        [
            "2026-03-29 00:00 CET",
            "2026-03-29 01:00 CET",
            "2026-03-29 03:00 CEST",
            "2026-03-29 04:00 CEST"
        ]
    );
}

/// Checks that `due` and `next` agree with `slots` at `now`.
fn check_queries_agree(schedule: &Schedule, now: DateTime<Utc>) {
    let last_run = now - Duration::hours(5);
    let window = schedule.slots(last_run, now);
    let expected = window.last().map(|&slot| Due {
        slot,
        missed: window.len() - 1,
    });
    assert_eq!(
        schedule.due(Some(last_run), now),
        expected,
        "{schedule} at {now}"
    );

    let day = schedule.slots(now - Duration::hours(24), now);
    let expected = day.last().map(|&slot| Due { slot, missed: 0 });
    assert_eq!(schedule.due(None, now), expected, "{schedule} at {now}");

    let ahead = schedule.slots(now, now + Duration::days(2));
    match (schedule.next(now), ahead.first()) {
        (next, Some(first)) => assert_eq!(next, Some(*first), "{schedule} at {now}"),
        (Some(next), None) => assert!(next > now + Duration::days(2), "{schedule} at {now}"),
        (None, None) => {}
    }
}

#[test]
fn due_and_next_agree_with_slots_across_the_changes() {
    for (cron, zone, start) in [
        ("*/20 * * * *", "America/New_York", utc(2026, 11, 1, 3, 0)),
        ("*/20 * * * *", "America/New_York", utc(2026, 3, 8, 5, 0)),
        ("15,45 1-3 * * *", "Europe/Oslo", utc(2026, 10, 24, 22, 0)),
        ("15,45 1-3 * * *", "Europe/Oslo", utc(2026, 3, 28, 22, 0)),
        ("30 23 * * *", "America/Nuuk", utc(2026, 3, 29, 0, 0)),
    ] {
        let schedule = schedule(cron, zone);
        for step in 0..(8 * 12) {
            check_queries_agree(&schedule, start + Duration::minutes(5 * step));
        }
    }
}

#[test]
fn due_inside_the_repeated_hour() {
    // 2026-11-01 06:10 UTC is 01:10 EST, the second pass of 01:00-02:00 in
    // New York; 01:20 and 01:40 ran in the first pass (05:20 and 05:40 UTC).
    let every_20 = schedule("*/20 * * * *", "America/New_York");
    let now = utc(2026, 11, 1, 6, 10);
    assert_eq!(
        every_20.due(None, now),
        Some(Due {
            slot: utc(2026, 11, 1, 5, 40),
            missed: 0
        })
    );
    assert_eq!(
        every_20.due(Some(utc(2026, 11, 1, 5, 0)), now),
        Some(Due {
            slot: utc(2026, 11, 1, 5, 40),
            missed: 1
        })
    );
    assert_eq!(every_20.due(Some(utc(2026, 11, 1, 5, 40)), now), None);
    assert_eq!(every_20.next(now), Some(utc(2026, 11, 1, 7, 0)));
}

#[test]
fn weekly_on_sunday_at_0300_utc() {
    let weekly = schedule("0 3 * * 0", "UTC");
    let slots = weekly.slots(utc(2026, 1, 1, 0, 0), utc(2026, 3, 1, 0, 0));
    // Sundays from 4 January to 1 March 2026 (exclusive of 03:00 on 1 March).
    assert_eq!(slots.len(), 8);
    assert_eq!(slots[0], utc(2026, 1, 4, 3, 0));
    for pair in slots.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::days(7));
    }
    assert!(
        slots
            .iter()
            .all(|slot| slot.format("%a %H:%M:%S").to_string() == "Sun 03:00:00")
    );
    assert_eq!(
        weekly.next(utc(2026, 3, 1, 2, 59)),
        Some(utc(2026, 3, 1, 3, 0))
    );
    assert_eq!(
        weekly.next(utc(2026, 3, 1, 3, 0)),
        Some(utc(2026, 3, 8, 3, 0))
    );
}

#[test]
fn six_fields_read_seconds_first() {
    let with_seconds = schedule("30 0 8 * * *", "Europe/Oslo");
    assert_eq!(with_seconds.to_string(), "30 0 8 * * * Europe/Oslo");
    assert_eq!(
        with_seconds.next(utc(2026, 12, 1, 0, 0)),
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 30).unwrap())
    );
}

#[test]
fn slots_are_half_open_and_capped() {
    let daily = schedule("0 8 * * *", "UTC");
    let eight = utc(2026, 5, 1, 8, 0);
    assert_eq!(
        daily.slots(eight, eight + Duration::days(1)),
        [eight + Duration::days(1)]
    );
    assert_eq!(daily.slots(eight - Duration::seconds(1), eight), [eight]);
    assert!(daily.slots(eight, eight).is_empty());
    assert!(daily.slots(eight + Duration::days(3), eight).is_empty());

    let every_minute = schedule("* * * * *", "Europe/Oslo");
    let slots = every_minute.slots(utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
    assert_eq!(slots.len(), MAX_SLOTS);
    assert_eq!(slots[0], utc(2026, 1, 1, 0, 1));
    assert_eq!(
        slots[MAX_SLOTS - 1],
        utc(2026, 1, 1, 0, 0) + Duration::minutes(MAX_SLOTS as i64)
    );
}

#[test]
fn due_coalesces_missed_slots_into_one_run() {
    let daily = schedule("0 8 * * *", "Europe/Oslo");
    let last_run = utc(2026, 3, 1, 7, 0);
    let now = utc(2026, 3, 6, 9, 0);
    // Slots on 2, 3, 4, 5 and 6 March: one run, for the 6th, four missed.
    assert_eq!(
        daily.due(Some(last_run), now),
        Some(Due {
            slot: utc(2026, 3, 6, 7, 0),
            missed: 4
        })
    );
    // Across the spring change too: 28, 29 and 30 March.
    assert_eq!(
        daily.due(Some(utc(2026, 3, 27, 7, 0)), utc(2026, 3, 30, 12, 0)),
        Some(Due {
            slot: utc(2026, 3, 30, 6, 0),
            missed: 2
        })
    );
}

#[test]
fn due_runs_each_slot_once() {
    let daily = schedule("0 8 * * *", "Europe/Oslo");
    let slot = utc(2026, 3, 6, 7, 0);
    assert_eq!(
        daily.due(Some(slot - Duration::days(1)), slot),
        Some(Due { slot, missed: 0 })
    );
    // Once it ran, it is not due again until the next slot.
    assert_eq!(daily.due(Some(slot), slot), None);
    assert_eq!(daily.due(Some(slot), slot + Duration::hours(23)), None);
    assert_eq!(
        daily.due(Some(slot), slot + Duration::days(1)),
        Some(Due {
            slot: slot + Duration::days(1),
            missed: 0
        })
    );
    // A last run in the future (the clock went back) makes nothing due.
    assert_eq!(daily.due(Some(slot + Duration::days(3)), slot), None);
}

#[test]
fn a_first_start_does_not_replay_history() {
    let daily = schedule("0 8 * * *", "Europe/Oslo");
    // The latest slot within 24 hours runs, alone.
    assert_eq!(
        daily.due(None, utc(2026, 3, 6, 9, 0)),
        Some(Due {
            slot: utc(2026, 3, 6, 7, 0),
            missed: 0
        })
    );
    assert_eq!(
        daily.due(None, utc(2026, 3, 6, 6, 0)),
        Some(Due {
            slot: utc(2026, 3, 5, 7, 0),
            missed: 0
        })
    );
    // A weekly slot three days old is history.
    let weekly = schedule("0 3 * * 0", "UTC");
    assert_eq!(weekly.due(None, utc(2026, 6, 10, 12, 0)), None);
    assert_eq!(
        weekly.due(None, utc(2026, 6, 8, 2, 59)),
        Some(Due {
            slot: utc(2026, 6, 7, 3, 0),
            missed: 0
        })
    );
    assert_eq!(weekly.due(None, utc(2026, 6, 8, 3, 0)), None);
}

#[test]
fn next_is_strictly_after() {
    let daily = schedule("0 8 * * *", "Asia/Tokyo");
    let slot = utc(2026, 7, 1, 23, 0);
    assert_eq!(daily.next(slot - Duration::seconds(1)), Some(slot));
    assert_eq!(daily.next(slot), Some(slot + Duration::days(1)));
}

#[test]
fn slot_keys_are_rfc_3339_utc_to_the_second() {
    let slot = utc(2026, 12, 7, 7, 0);
    assert_eq!(
        slot_key("Renewal Risk Detector", slot),
        "Renewal Risk Detector/2026-12-07T07:00:00Z"
    );
    let with_nanos = slot + Duration::nanoseconds(123_456_789);
    assert_eq!(slot_key("r", with_nanos), "r/2026-12-07T07:00:00Z");
}

#[test]
fn display_and_accessors() {
    let oslo = schedule("  0  8 * * * ", "Europe/Oslo");
    assert_eq!(oslo.to_string(), "0 8 * * * Europe/Oslo");
    assert_eq!(oslo.cron(), "0 8 * * *");
    assert_eq!(oslo.zone(), chrono_tz::Europe::Oslo);
    assert_eq!(
        oslo.local(utc(2026, 12, 7, 7, 0))
            .format("%H:%M %Z")
            .to_string(),
        "08:00 CET"
    );
    assert_eq!(
        oslo.local(utc(2026, 6, 7, 6, 0))
            .format("%H:%M %Z")
            .to_string(),
        "08:00 CEST"
    );
}

#[test]
fn bad_cron_expressions_are_errors() {
    let error = |cron: &str| Schedule::new(cron, "UTC").unwrap_err();
    assert_eq!(error(""), ScheduleError::Empty);
    assert_eq!(error("  "), ScheduleError::Empty);
    assert_eq!(
        error("0 8 * *"),
        ScheduleError::TooFewFields {
            cron: "0 8 * *".into(),
            found: 4
        }
    );
    assert_eq!(
        error("0 8 * *").to_string(),
        "the cron expression `0 8 * *` has 4 field(s), too few: write 5 (minute hour day-of-month month day-of-week), or 6 with seconds first"
    );
    assert_eq!(
        error("0 0 8 * * * 2026"),
        ScheduleError::TooManyFields {
            cron: "0 0 8 * * * 2026".into(),
            found: 7
        }
    );
    assert!(matches!(
        error("61 8 * * *"),
        ScheduleError::InvalidCron { .. }
    ));
    assert!(matches!(
        error("0 24 * * *"),
        ScheduleError::InvalidCron { .. }
    ));
    assert!(matches!(
        error("0 8 * * MONDAY-ish"),
        ScheduleError::InvalidCron { .. }
    ));
    assert!(matches!(error("@never"), ScheduleError::InvalidCron { .. }));
    assert_eq!(
        error("0 0 30 2 *"),
        ScheduleError::NeverFires {
            cron: "0 0 30 2 *".into()
        }
    );
    assert!(
        error("61 8 * * *")
            .to_string()
            .starts_with("the cron expression `61 8 * * *` is not valid (")
    );
    // Nicknames are one field.
    assert_eq!(
        schedule("@daily", "UTC").next(utc(2026, 1, 1, 12, 0)),
        Some(utc(2026, 1, 2, 0, 0))
    );
}

#[test]
fn bad_zone_names_are_errors_with_a_suggestion() {
    let error = |zone: &str| Schedule::new("0 8 * * *", zone).unwrap_err();
    assert_eq!(
        error("Europe/Olso"),
        ScheduleError::UnknownZone {
            zone: "Europe/Olso".into(),
            suggestion: Some("Europe/Oslo")
        }
    );
    assert_eq!(
        error("Europe/Olso").to_string(),
        "`Europe/Olso` is not an IANA time zone name: did you mean `Europe/Oslo`?"
    );
    assert_eq!(
        error("America/NewYork"),
        ScheduleError::UnknownZone {
            zone: "America/NewYork".into(),
            suggestion: Some("America/New_York")
        }
    );
    assert_eq!(
        error("Oslo"),
        ScheduleError::UnknownZone {
            zone: "Oslo".into(),
            suggestion: Some("Europe/Oslo")
        }
    );
    assert_eq!(
        error("Mars/Olympus"),
        ScheduleError::UnknownZone {
            zone: "Mars/Olympus".into(),
            suggestion: None
        }
    );
    assert_eq!(
        error("").to_string(),
        "`` is not an IANA time zone name: write one such as `Europe/Oslo`, `America/New_York` or `UTC`"
    );
    // Zone names are case-sensitive, as in the IANA database.
    assert_eq!(
        error("europe/oslo"),
        ScheduleError::UnknownZone {
            zone: "europe/oslo".into(),
            suggestion: Some("Europe/Oslo")
        }
    );
}

/// The instant at which the wall-clock time `wall` should run in `zone`,
/// found by brute force rather than by the code under test: its first
/// instant, or, for a time that a gap skips, the first instant whose wall
/// clock is past it.
fn expected_instant(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(first) = zone.from_local_datetime(&wall).earliest() {
        return first.to_utc();
    }
    let wall_at = |at: DateTime<Utc>| at.with_timezone(&zone).naive_local();
    let mut at = wall.and_utc() - Duration::hours(16);
    while wall_at(at) < wall {
        at += Duration::minutes(1);
    }
    at -= Duration::minutes(1);
    while wall_at(at) < wall {
        at += Duration::seconds(1);
    }
    at
}

/// Checks `hour:minute` daily in `zone` over `(after, after + days]`
/// against [`expected_instant`] for every local day, and, where no gap
/// moves a run to another local day, that there is exactly one slot per
/// local calendar day.
fn check_daily(zone: Tz, hour: u32, minute: u32, after: DateTime<Utc>, days: i64) {
    let daily = Schedule::new(&format!("{minute} {hour} * * *"), zone.name()).unwrap();
    let until = after + Duration::days(days);
    let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap();
    let slots = daily.slots(after, until);

    let first_day = daily.local(after).date_naive() - Duration::days(2);
    let last_day = daily.local(until).date_naive() + Duration::days(1);
    let mut expected = Vec::new();
    let mut moved_to_another_day = false;
    for day in first_day.iter_days().take_while(|day| *day <= last_day) {
        let at = expected_instant(zone, day.and_time(time));
        if at > after && at <= until {
            moved_to_another_day |= daily.local(at).date_naive() != day;
            expected.push(at);
        }
    }
    // Two skipped times that the same gap end runs are one run.
    expected.dedup();
    assert_eq!(slots, expected, "{daily} over ({after}, {until}]");

    assert!(
        slots.windows(2).all(|pair| pair[0] < pair[1]),
        "{daily}: not increasing"
    );
    if !moved_to_another_day {
        assert_daily(&daily, &slots, time);
        assert!(
            (days - 1..=days + 1).contains(&(slots.len() as i64)),
            "{daily}: {} slots",
            slots.len()
        );
    }
}

#[test]
fn a_gap_across_midnight_moves_the_run_into_the_next_day() {
    // America/Nuuk springs forward at 23:00 on Saturday 2026-03-28, to
    // 00:00 on the 29th. The 23:30 of the 28th runs then, once.
    let nuuk = schedule("30 23 * * *", "America/Nuuk");
    assert_eq!(
        local_slots(&nuuk, utc(2026, 3, 27, 12, 0), utc(2026, 3, 31, 0, 0)),
        [
            "2026-03-27 23:30 -02",
            "2026-03-29 00:00 -01",
            "2026-03-29 23:30 -01"
        ]
    );
    check_daily(chrono_tz::America::Nuuk, 23, 30, utc(2026, 1, 1, 0, 0), 400);
}

#[test]
fn a_skipped_day_runs_at_the_next_midnight() {
    // Samoa skipped Friday 30 December 2011 (UTC-10 to UTC+14). Its 08:00
    // runs at the first instant after the gap, 00:00 on the 31st, and the
    // 31st has its own 08:00 too.
    let apia = schedule("0 8 * * *", "Pacific/Apia");
    assert_eq!(
        local_slots(&apia, utc(2011, 12, 29, 0, 0), utc(2011, 12, 31, 9, 0)),
        [
            "2011-12-29 08:00 -10",
            "2011-12-31 00:00 +14",
            "2011-12-31 08:00 +14"
        ]
    );
    // A midnight run of the skipped day and of the next day are one run.
    let midnight = schedule("0 0 * * *", "Pacific/Apia");
    assert_eq!(
        local_slots(&midnight, utc(2011, 12, 29, 0, 0), utc(2011, 12, 31, 9, 0)),
        ["2011-12-29 00:00 -10", "2011-12-31 00:00 +14"]
    );
}

#[test]
fn daily_runs_match_brute_force_in_zones_with_odd_changes() {
    let cases = [
        ("America/Nuuk", 2026),
        ("Pacific/Apia", 2011),
        ("Pacific/Kiritimati", 1994),
        ("Pacific/Kwajalein", 1993),
        ("Asia/Singapore", 1981),
        ("Australia/Lord_Howe", 2026),
        ("America/Santiago", 2026),
        ("Africa/Monrovia", 1972),
    ];
    for (zone, year) in cases {
        let zone: Tz = zone.parse().unwrap();
        for (hour, minute) in [
            (0, 0),
            (0, 30),
            (1, 30),
            (2, 0),
            (2, 30),
            (23, 0),
            (23, 30),
            (23, 59),
        ] {
            check_daily(zone, hour, minute, utc(year, 1, 1, 0, 0), 366);
        }
    }
}

fn zone() -> impl Strategy<Value = Tz> {
    proptest::sample::select(TZ_VARIANTS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A daily schedule runs each local day's time once, as brute force
    /// finds it, in strictly increasing order, and so exactly once per
    /// local calendar day wherever no gap moves a run across midnight.
    #[test]
    fn daily_runs_once_per_local_day(
        hour in prop_oneof![0u32..4, 0u32..24, 22u32..24],
        minute in prop_oneof![Just(0u32), Just(30), 0u32..60],
        zone in zone(),
        start_day in -(70 * 366i64)..(70 * 366),
    ) {
        check_daily(zone, hour, minute, utc(1970, 1, 1, 0, 0) + Duration::days(start_day), 400);
    }

    /// Any text, as cron expression or zone, gives a schedule or an error.
    #[test]
    fn any_text_is_a_schedule_or_an_error(cron in "\\PC{0,40}", zone in "\\PC{0,40}") {
        let _ = Schedule::new(&cron, &zone);
        let _ = Schedule::new(&cron, "UTC");
    }

    /// Expressions made of cron-like tokens parse or fail, and the ones
    /// that parse answer every query without panicking.
    #[test]
    fn cron_like_text_never_panics(
        fields in proptest::collection::vec(
            "[*]|[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}|[*]/[0-9]{1,2}|[0-9]{1,2},[0-9]{1,2}|L|[0-9]L|[0-9]#[0-9]|[0-9]{1,2}W|MON|JAN|[?]|@daily|@weekly",
            0..8,
        ),
        zone in zone(),
        at in -2_000_000_000i64..8_000_000_000,
    ) {
        let cron = fields.join(" ");
        if let Ok(schedule) = Schedule::new(&cron, zone.name()) {
            let at = DateTime::from_timestamp(at, 0).unwrap();
            let slots = schedule.slots(at, at + Duration::days(3));
            prop_assert!(slots.windows(2).all(|pair| pair[0] < pair[1]));
            prop_assert!(slots.iter().all(|&slot| slot > at && slot <= at + Duration::days(3)));
            if let Some(next) = schedule.next(at) {
                prop_assert!(next > at);
                if let Some(&first) = slots.first() {
                    prop_assert_eq!(first, next);
                }
            }
            check_queries_agree(&schedule, at);
        }
    }
}

#[test]
fn extreme_instants_do_not_panic() {
    let oslo = schedule("0 8 * * *", "Pacific/Kiritimati");
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    assert!(oslo.slots(min, min + Duration::days(2)).len() <= 2);
    assert!(oslo.slots(max - Duration::days(2), max).is_empty());
    assert_eq!(oslo.next(max), None);
    assert_eq!(oslo.due(None, min), None);
    let _ = oslo.due(Some(min), max);
    let _ = oslo.next(min);
}
