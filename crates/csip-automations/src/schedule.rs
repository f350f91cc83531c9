//! When a scheduled rule is due: a cron expression read in an IANA time
//! zone, turned into the UTC instants ("slots") at which the rule runs.
//!
//! The cron expression is matched against the *wall clock* of its zone, and
//! every wall-clock occurrence runs exactly once, whatever daylight saving
//! time does to that clock:
//!
//! - a wall-clock time that a spring-forward gap skips (02:30 on the day
//!   Europe/Oslo goes from 02:00 straight to 03:00) runs once, at the first
//!   instant after the gap (03:00 local); several skipped times of one gap
//!   (an every-15-minutes rule) all land on that instant and run there once;
//! - a wall-clock time that a fall-back overlap repeats (01:30 in
//!   America/New_York on the first Sunday of November) runs once, at its
//!   first occurrence (01:30 EDT), and not again an hour later.
//!
//! So a daily rule runs once for every local day, and slots are strictly
//! increasing. Where a gap spans midnight the run moves into the next local
//! day: America/Nuuk goes from 23:00 on Saturday 2026-03-28 to 00:00 on the
//! 29th, so a 23:30 rule runs at 00:00 on the 29th, and again at 23:30 that
//! day for the 29th; a day a zone skipped whole (Pacific/Apia, 2011-12-30)
//! runs at the next midnight. croner walks the wall clock (in UTC, which has no daylight
//! saving time) and this module turns each wall-clock occurrence into an
//! instant itself, so the rules above are the only ones that apply.
//!
//! Catch-up is coalesced ([`Schedule::due`]): a rule whose runner was down
//! for five days runs once for the latest slot, with `missed = 4`, and a rule
//! that has never run does not replay history older than 24 hours.
//!
//! Nothing here reads the clock: the caller passes `now`.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use csip_automations::schedule::{Schedule, slot_key};
//!
//! let schedule = Schedule::new("0 8 * * *", "Europe/Oslo")?;
//! let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
//! let due = schedule.due(None, now).expect("08:00 in Oslo was an hour ago");
//! assert_eq!(slot_key("Renewal Risk Detector", due.slot), "Renewal Risk Detector/2026-12-07T07:00:00Z");
//! # Ok::<(), csip_automations::schedule::ScheduleError>(())
//! ```

use std::fmt;
use std::ops::ControlFlow;

use chrono::{
    DateTime, LocalResult, NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone, Utc,
};
use chrono_tz::{TZ_VARIANTS, Tz};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The most slots one call returns or counts ([`Schedule::slots`], and
/// [`Due::missed`] plus one): a guard against a runaway window such as a
/// rule firing every second over a year.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use csip_automations::schedule::{MAX_SLOTS, Schedule};
///
/// let every_second = Schedule::new("* * * * * *", "UTC")?;
/// let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let end = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
/// assert_eq!(every_second.slots(start, end).len(), MAX_SLOTS);
/// # Ok::<(), csip_automations::schedule::ScheduleError>(())
/// ```
pub const MAX_SLOTS: usize = 100_000;

/// How many wall-clock occurrences one walk may look at, counting those it
/// passes over because they ran already (the second half of a fall-back
/// overlap, the skipped times of a gap after the first).
const MAX_STEPS: usize = 4 * MAX_SLOTS;

/// The longest name for which [`ScheduleError::UnknownZone`] looks for a
/// close known zone (the longest IANA name has 30 characters).
const MAX_SUGGESTED_LEN: usize = 64;

/// Why a cron expression or a time zone name was refused.
///
/// ```
/// use csip_automations::schedule::{Schedule, ScheduleError};
///
/// let error = Schedule::new("0 8 * * *", "Europe/Olso").unwrap_err();
/// assert!(matches!(error, ScheduleError::UnknownZone { suggestion: Some("Europe/Oslo"), .. }));
/// assert_eq!(
///     error.to_string(),
///     "`Europe/Olso` is not an IANA time zone name: did you mean `Europe/Oslo`?"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is empty or only white space.
    #[error(
        "the cron expression is empty: write 5 fields (minute hour day-of-month month day-of-week), such as `0 8 * * *` for 08:00 every day"
    )]
    Empty,
    /// The cron expression has fewer than 5 fields.
    #[error(
        "the cron expression `{cron}` has {found} field(s), too few: write 5 (minute hour day-of-month month day-of-week), or 6 with seconds first"
    )]
    TooFewFields {
        /// The expression, its fields separated by one space.
        cron: String,
        /// How many fields it has.
        found: usize,
    },
    /// The cron expression has more than 6 fields.
    #[error(
        "the cron expression `{cron}` has {found} fields, too many: write 5 (minute hour day-of-month month day-of-week), or 6 with seconds first"
    )]
    TooManyFields {
        /// The expression, its fields separated by one space.
        cron: String,
        /// How many fields it has.
        found: usize,
    },
    /// croner refused one of the fields.
    #[error(
        "the cron expression `{cron}` is not valid ({reason}): correct it, as in `0 8 * * 1-5` for 08:00 on weekdays"
    )]
    InvalidCron {
        /// The expression, its fields separated by one space.
        cron: String,
        /// croner's explanation.
        reason: String,
    },
    /// The cron expression is valid but names no date that exists, such as
    /// 30 February.
    #[error(
        "the cron expression `{cron}` never fires (it names no date that exists, such as 30 February): correct its day-of-month, month or day-of-week"
    )]
    NeverFires {
        /// The expression, its fields separated by one space.
        cron: String,
    },
    /// The time zone is not a name of the IANA time zone database.
    #[error("`{zone}` is not an IANA time zone name: {}", zone_hint(*.suggestion))]
    UnknownZone {
        /// The name given.
        zone: String,
        /// The nearest known name, when one is close.
        suggestion: Option<&'static str>,
    },
}

fn zone_hint(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!("did you mean `{name}`?"),
        None => "write one such as `Europe/Oslo`, `America/New_York` or `UTC`".to_owned(),
    }
}

/// A parsed cron expression and the IANA time zone whose wall clock it is
/// read in.
///
/// The expression has 5 fields (minute, hour, day of month, month, day of
/// week; 0 and 7 are Sunday), or 6 with seconds first; croner's extensions
/// (`L`, `W`, `#`, month and weekday names, `@daily` and the other
/// nicknames) are accepted. A day of month and a day of week that are both
/// restricted match when either does, as in Vixie cron. Slots exist from
/// year 1 to year 5000.
///
/// ```
/// use csip_automations::schedule::Schedule;
///
/// let schedule = Schedule::new("0  8 * * *", "Europe/Oslo")?;
/// assert_eq!(schedule.to_string(), "0 8 * * * Europe/Oslo");
/// assert_eq!(schedule.zone(), chrono_tz::Europe::Oslo);
/// # Ok::<(), csip_automations::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The expression as written, its fields separated by one space.
    text: String,
    cron: Cron,
    zone: Tz,
}

/// A slot that is due: the one run that catches a rule up.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use csip_automations::schedule::{Due, Schedule};
///
/// let schedule = Schedule::new("0 8 * * *", "UTC")?;
/// let last_run = Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 5, 3, 12, 0, 0).unwrap();
/// let slot = Utc.with_ymd_and_hms(2026, 5, 3, 8, 0, 0).unwrap();
/// assert_eq!(schedule.due(Some(last_run), now), Some(Due { slot, missed: 1 }));
/// # Ok::<(), csip_automations::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Due {
    /// The latest slot at or before `now`: the one to run.
    pub slot: DateTime<Utc>,
    /// How many earlier slots of the window are coalesced into this run
    /// (at most [`MAX_SLOTS`] − 1).
    pub missed: usize,
}

impl Schedule {
    /// Parses `cron` (5 fields, or 6 with seconds first) read in the IANA
    /// time zone `zone` (such as `Europe/Oslo` or `UTC`; names are
    /// case-sensitive).
    ///
    /// # Errors
    ///
    /// A [`ScheduleError`] saying what is wrong: too few or too many fields,
    /// a field croner refuses, an expression that names no existing date,
    /// or a zone name that is not in the IANA database (with the nearest
    /// known name when one is close).
    ///
    /// ```
    /// use csip_automations::schedule::{Schedule, ScheduleError};
    ///
    /// assert!(Schedule::new("0 8 * * *", "Europe/Oslo").is_ok());
    /// assert!(Schedule::new("30 0 8 * * 1-5", "Asia/Tokyo").is_ok());
    /// assert_eq!(
    ///     Schedule::new("0 8 * *", "Europe/Oslo"),
    ///     Err(ScheduleError::TooFewFields { cron: "0 8 * *".into(), found: 4 })
    /// );
    /// ```
    pub fn new(cron: &str, zone: &str) -> Result<Schedule, ScheduleError> {
        let fields: Vec<&str> = cron.split_whitespace().collect();
        let text = fields.join(" ");
        // A nickname such as `@daily` is one field; croner expands it.
        if !text.starts_with('@') {
            match fields.len() {
                0 => return Err(ScheduleError::Empty),
                found @ 1..5 => return Err(ScheduleError::TooFewFields { cron: text, found }),
                5 | 6 => {}
                found => return Err(ScheduleError::TooManyFields { cron: text, found }),
            }
        }
        let parsed = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&text)
            .map_err(|error| ScheduleError::InvalidCron {
                cron: text.clone(),
                reason: error.to_string().trim_end_matches('.').to_owned(),
            })?;
        // Without a year field the calendar repeats every 400 years, so an
        // expression that fires at all fires within 400 years of any start.
        let start = NaiveDateTime::default().and_utc();
        if parsed.find_next_occurrence(&start, true).is_err() {
            return Err(ScheduleError::NeverFires { cron: text });
        }
        let zone = parse_zone(zone)?;
        Ok(Schedule {
            text,
            cron: parsed,
            zone,
        })
    }

    /// The time zone whose wall clock the expression is read in.
    ///
    /// ```
    /// use csip_automations::schedule::Schedule;
    ///
    /// let schedule = Schedule::new("0 8 * * *", "Asia/Tokyo")?;
    /// assert_eq!(schedule.zone().name(), "Asia/Tokyo");
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The cron expression, its fields separated by one space.
    ///
    /// ```
    /// use csip_automations::schedule::Schedule;
    ///
    /// let schedule = Schedule::new(" 0 3  * * 0 ", "UTC")?;
    /// assert_eq!(schedule.cron(), "0 3 * * 0");
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn cron(&self) -> &str {
        &self.text
    }

    /// Every instant in `(after, until]` at which the schedule fires, in
    /// strictly increasing order, each wall-clock occurrence once (see the
    /// module documentation for daylight saving time), and at most
    /// [`MAX_SLOTS`] of them: the first ones of the window.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use csip_automations::schedule::Schedule;
    ///
    /// // 02:30 every day in Oslo; on 2026-03-29 the clock skips 02:00-03:00.
    /// let schedule = Schedule::new("30 2 * * *", "Europe/Oslo")?;
    /// let after = Utc.with_ymd_and_hms(2026, 3, 28, 0, 0, 0).unwrap();
    /// let until = Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap();
    /// let slots: Vec<String> = schedule
    ///     .slots(after, until)
    ///     .into_iter()
    ///     .map(|slot| schedule.local(slot).format("%F %R %Z").to_string())
    ///     .collect();
    /// assert_eq!(slots, ["2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]);
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn slots(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut slots = Vec::new();
        self.for_each_slot(after, until, |slot| {
            slots.push(slot);
            ControlFlow::Continue(())
        });
        slots
    }

    /// The slot to run now, if any: the latest slot in `(last_run, now]`,
    /// with the earlier slots of that window counted in
    /// [`Due::missed`] (a rule catches up once, not once per missed slot).
    ///
    /// With `last_run = None` (a rule that has never run) only the latest
    /// slot in the 24 hours up to `now` counts, with `missed = 0`: a first
    /// start does not replay history. `None` when nothing is due.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use csip_automations::schedule::Schedule;
    ///
    /// let schedule = Schedule::new("0 8 * * *", "UTC")?;
    /// let now = Utc.with_ymd_and_hms(2026, 5, 3, 7, 0, 0).unwrap();
    /// let yesterday = Utc.with_ymd_and_hms(2026, 5, 2, 8, 0, 0).unwrap();
    /// assert_eq!(schedule.due(Some(yesterday), now), None);
    /// assert_eq!(schedule.due(None, now).map(|due| due.slot), Some(yesterday));
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn due(&self, last_run: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<Due> {
        let slot = self.latest(now)?;
        match last_run {
            Some(last_run) => {
                if slot <= last_run {
                    return None;
                }
                let mut in_window: usize = 0;
                self.for_each_slot(last_run, slot, |_| {
                    in_window += 1;
                    ControlFlow::Continue(())
                });
                Some(Due {
                    slot,
                    missed: in_window.saturating_sub(1),
                })
            }
            None => {
                let horizon = now.checked_sub_signed(TimeDelta::hours(24));
                horizon
                    .is_none_or(|horizon| slot > horizon)
                    .then_some(Due { slot, missed: 0 })
            }
        }
    }

    /// The first slot strictly after `after`, or `None` when there is none
    /// before year 5000.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use csip_automations::schedule::Schedule;
    ///
    /// let schedule = Schedule::new("0 3 * * 0", "UTC")?; // Sundays, 03:00
    /// let monday = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    /// let sunday = Utc.with_ymd_and_hms(2026, 6, 7, 3, 0, 0).unwrap();
    /// assert_eq!(schedule.next(monday), Some(sunday));
    /// assert_eq!(schedule.next(sunday), Some(Utc.with_ymd_and_hms(2026, 6, 14, 3, 0, 0).unwrap()));
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut next = None;
        self.for_each_slot(after, DateTime::<Utc>::MAX_UTC, |slot| {
            next = Some(slot);
            ControlFlow::Break(())
        });
        next
    }

    /// `at` on the schedule's wall clock, for display.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use csip_automations::schedule::Schedule;
    ///
    /// let schedule = Schedule::new("0 8 * * *", "Europe/Oslo")?;
    /// let slot = Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap();
    /// assert_eq!(schedule.local(slot).format("%H:%M %Z").to_string(), "08:00 CET");
    /// # Ok::<(), csip_automations::schedule::ScheduleError>(())
    /// ```
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.zone)
    }

    /// Calls `visit` with each slot in `(after, until]`, in strictly
    /// increasing order, until it breaks or [`MAX_SLOTS`] were visited.
    fn for_each_slot(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        mut visit: impl FnMut(DateTime<Utc>) -> ControlFlow<()>,
    ) {
        // Every occurrence at or before the wall clock of `after` runs at
        // or before `after`, so the walk starts there. Those just after it
        // may have run already too, when `after` lies in the second half of
        // a fall-back overlap: they are passed over as not increasing.
        let Some(mut wall) = self.wall_clock(after) else {
            return;
        };
        let mut last = after;
        let mut visited = 0;
        for _ in 0..MAX_STEPS {
            if visited == MAX_SLOTS {
                return;
            }
            let Some(next) = self.next_occurrence(wall) else {
                return;
            };
            wall = next;
            let Some(slot) = self.instant(wall) else {
                return;
            };
            if slot <= last {
                continue;
            }
            if slot > until {
                return;
            }
            last = slot;
            visited += 1;
            if visit(slot).is_break() {
                return;
            }
        }
    }

    /// The latest slot at or before `now`.
    fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let wall = self.wall_clock(now)?;
        let previous = self
            .cron
            .find_previous_occurrence(&wall.and_utc(), true)
            .ok()
            .and_then(|previous| self.instant(previous.naive_utc()))?;
        // In the second half of a fall-back overlap, occurrences later on
        // the wall clock than `now` ran in its first half.
        let mut latest = previous;
        self.for_each_slot(previous, now, |slot| {
            latest = slot;
            ControlFlow::Continue(())
        });
        Some(latest)
    }

    /// The first occurrence strictly after `wall` on the schedule's wall
    /// clock. croner walks it in UTC, a clock without gaps or overlaps.
    fn next_occurrence(&self, wall: NaiveDateTime) -> Option<NaiveDateTime> {
        let next = self
            .cron
            .find_next_occurrence(&wall.and_utc(), false)
            .ok()?;
        Some(next.naive_utc())
    }

    /// The wall clock of the zone at `at`.
    fn wall_clock(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self.zone.offset_from_utc_datetime(&at.naive_utc()).fix();
        at.naive_utc().checked_add_offset(offset)
    }

    /// The instant at which the wall-clock occurrence `wall` runs: its
    /// only instant; the first of two in a fall-back overlap; the end of
    /// the gap for a time a spring-forward gap skips.
    fn instant(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(at) => Some(at.to_utc()),
            LocalResult::Ambiguous(first, _) => Some(first.to_utc()),
            LocalResult::None => self.end_of_gap(wall),
        }
    }

    /// The first instant whose wall clock is at or after `wall`, a time in
    /// a gap: the instant the clock jumped over it.
    fn end_of_gap(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        // UTC offsets lie within ±16 hours, so the wall clock is before
        // `wall` at `low` and at or after it at `high`.
        let margin = TimeDelta::hours(16).num_seconds();
        let target = wall.and_utc().timestamp();
        let mut low = target.checked_sub(margin)?;
        let mut high = target.checked_add(margin)?;
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let at = DateTime::from_timestamp(middle, 0)?;
            if self.wall_clock(at)? >= wall {
                high = middle;
            } else {
                low = middle;
            }
        }
        DateTime::from_timestamp(high, 0)
    }
}

impl fmt::Display for Schedule {
    /// The expression and the zone: `0 8 * * * Europe/Oslo`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.text, self.zone.name())
    }
}

/// The run key of `rule`'s run for `slot`: the rule's name, a slash, and
/// the slot in RFC 3339 UTC to the second. It is stable (one slot, one
/// key), so a run that is retried finds the same key.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use csip_automations::schedule::slot_key;
///
/// let slot = Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap();
/// assert_eq!(slot_key("Renewal Risk Detector", slot), "Renewal Risk Detector/2026-12-07T07:00:00Z");
/// ```
pub fn slot_key(rule: &str, slot: DateTime<Utc>) -> String {
    format!("{rule}/{}", slot.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `name` as a zone of the IANA database, or an error with the nearest
/// known name.
fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| ScheduleError::UnknownZone {
        zone: name.to_owned(),
        suggestion: suggest_zone(name),
    })
}

/// The known zone name nearest to `name`: the same name in other case or
/// with spaces for underscores (`europe/oslo`, `America/New York`), a zone
/// whose city is `name` (`Oslo`), or else the one fewest edits away
/// (`Europe/Olso`), if that is close.
fn suggest_zone(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let wanted: Vec<char> = name
        .chars()
        .map(|c| {
            if c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let names = || TZ_VARIANTS.iter().map(|zone| zone.name());
    let lower = |known: &str| {
        known
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .collect::<Vec<char>>()
    };
    if let Some(same) = names().find(|known| lower(known) == wanted) {
        return Some(same);
    }
    if !wanted.contains(&'/')
        && let Some(city) = names().find(|known| {
            known
                .rsplit('/')
                .next()
                .is_some_and(|city| lower(city) == wanted)
        })
    {
        return Some(city);
    }
    let allowed = (wanted.len() / 4).clamp(1, 3);
    names()
        .map(|known| (edit_distance(&wanted, &lower(known)), known))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// The number of single-character insertions, deletions, substitutions
/// and transpositions of neighbours that turn `a` into `b` (optimal string
/// alignment distance).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // Three rows of the table: two rows back, the previous and the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::NaiveDate;

    use super::*;

    fn wall(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        wall(y, m, d, h, min).and_utc()
    }

    #[test]
    fn a_time_in_a_gap_runs_when_the_gap_ends() {
        let oslo = Schedule::new("30 2 * * *", "Europe/Oslo").unwrap();
        // 2026-03-29: 01:00 UTC, 02:00 CET becomes 03:00 CEST.
        assert_eq!(
            oslo.instant(wall(2026, 3, 29, 2, 30)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            oslo.instant(wall(2026, 3, 29, 2, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            oslo.instant(wall(2026, 3, 29, 3, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            oslo.instant(wall(2026, 3, 29, 1, 59)),
            Some(utc(2026, 3, 29, 0, 59))
        );
    }

    #[test]
    fn a_repeated_time_runs_at_its_first_instant() {
        let oslo = Schedule::new("30 2 * * *", "Europe/Oslo").unwrap();
        // 2026-10-25: 01:00 UTC, 03:00 CEST becomes 02:00 CET.
        assert_eq!(
            oslo.instant(wall(2026, 10, 25, 2, 30)),
            Some(utc(2026, 10, 25, 0, 30))
        );
        assert_eq!(
            oslo.instant(wall(2026, 10, 25, 3, 0)),
            Some(utc(2026, 10, 25, 2, 0))
        );
    }

    #[test]
    fn a_gap_of_a_whole_day_ends_at_the_next_midnight() {
        // Samoa skipped 30 December 2011, going from UTC-10 to UTC+14.
        let apia = Schedule::new("0 8 * * *", "Pacific/Apia").unwrap();
        let end = apia.instant(wall(2011, 12, 30, 8, 0)).unwrap();
        assert_eq!(apia.local(end).naive_local(), wall(2011, 12, 31, 0, 0));
    }

    #[test]
    fn the_walk_passes_over_the_second_half_of_an_overlap() {
        let new_york = Schedule::new("*/20 * * * *", "America/New_York").unwrap();
        // 2026-11-01 06:10 UTC is 01:10 EST, in the second pass of 01:00-02:00;
        // 01:20 and 01:40 ran in the first pass (EDT), so the next is 02:00 EST.
        assert_eq!(
            new_york.next(utc(2026, 11, 1, 6, 10)),
            Some(utc(2026, 11, 1, 7, 0))
        );
        assert_eq!(
            new_york.latest(utc(2026, 11, 1, 6, 10)),
            Some(utc(2026, 11, 1, 5, 40))
        );
    }

    #[test]
    fn edit_distance_counts_a_transposition_once() {
        let chars = |text: &str| text.chars().collect::<Vec<char>>();
        assert_eq!(edit_distance(&chars("olso"), &chars("oslo")), 1);
        assert_eq!(edit_distance(&chars(""), &chars("oslo")), 4);
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars("oslo"), &chars("oslo")), 0);
    }

    #[test]
    fn zone_suggestions() {
        assert_eq!(suggest_zone("Europe/Olso"), Some("Europe/Oslo"));
        assert_eq!(suggest_zone("europe/oslo"), Some("Europe/Oslo"));
        assert_eq!(suggest_zone("America/New York"), Some("America/New_York"));
        assert_eq!(suggest_zone("Tokyo"), Some("Asia/Tokyo"));
        assert_eq!(suggest_zone("Mars/Olympus_Mons"), None);
        assert_eq!(suggest_zone(""), None);
        assert_eq!(suggest_zone(&"x".repeat(1000)), None);
    }
}
