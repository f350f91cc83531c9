//! What one evaluation may spend (DESIGN §5 "Limits"): steps, bytes, a
//! deadline and a cancel flag, checked in every loop of the evaluator and in
//! every text and list it builds. Past a limit the evaluation ends with an
//! error value of kind [`ErrorKind::Limit`] that names the limit; nothing
//! panics or aborts.
//!
//! The engine reads no clock: a deadline is a check the host passes in
//! ([`Budget::with_deadline`]), polled every few thousand steps, and a
//! [`CancelFlag`] is set from any thread (a service shutting down).

use crate::value::{ErrorKind, Value};
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The limits of one evaluation.
///
/// [`Limits::default`] holds the caps every cell of a workbook is held to
/// (text and list size); [`Limits::request`] adds what a service asks of a
/// formula a client sent (steps and bytes in all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest text one value may hold, in bytes (default 1 MiB).
    pub max_text_bytes: usize,
    /// The most items one list may hold (default 1,000,000).
    pub max_list_items: usize,
    /// The most steps in all: items visited by loops and comparisons made
    /// (`None`: no limit).
    pub max_steps: Option<u64>,
    /// The most bytes of text and lists built in all, garbage included
    /// (`None`: no limit).
    pub max_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_text_bytes: 1 << 20,
            max_list_items: 1_000_000,
            max_steps: None,
            max_bytes: None,
        }
    }
}

impl Limits {
    /// The limits of a formula or view a client asks for: the default caps,
    /// at most 200,000,000 steps and 256 MiB built.
    pub fn request() -> Limits {
        Limits {
            max_steps: Some(200_000_000),
            max_bytes: Some(256 << 20),
            ..Limits::default()
        }
    }
}

/// A flag that stops evaluations when set; clones share it, across threads.
///
/// ```
/// let flag = csip_engine::CancelFlag::new();
/// let other = flag.clone();
/// other.cancel();
/// assert!(flag.is_cancelled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag not set.
    pub fn new() -> CancelFlag {
        CancelFlag::default()
    }

    /// Sets the flag: evaluations watching it end within a few thousand steps.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Which limit an evaluation ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exceeded {
    /// A text longer than [`Limits::max_text_bytes`].
    Text,
    /// A list longer than [`Limits::max_list_items`].
    List,
    /// More steps than [`Limits::max_steps`].
    Steps,
    /// More bytes built than [`Limits::max_bytes`].
    Bytes,
    /// The deadline passed.
    Time,
    /// The cancel flag was set.
    Cancelled,
}

/// The budget of one evaluation: its [`Limits`], what it has spent, and the
/// deadline and cancel flag it watches. Not shared between threads; give each
/// evaluation its own.
///
/// ```
/// use csip_engine::{Budget, Limits, Value};
/// # use csip_engine::{Clock, Schema, Workbook};
/// # let wb = Workbook::new(&Schema::new(), Clock::on(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()))?;
/// let budget = Budget::new(Limits { max_text_bytes: 10, ..Limits::default() });
/// let v = wb.eval_within(r#"Len("0123456789" & "x")"#, None, &budget)?;
/// assert!(matches!(v, Value::Error(e) if e.kind == csip_engine::ErrorKind::Limit));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Budget {
    limits: Limits,
    cancel: Option<CancelFlag>,
    deadline: Option<Deadline>,
    /// Steps left before the next look at the totals, the flag and the deadline.
    countdown: Cell<u32>,
    /// The steps the current countdown began with.
    window: Cell<u32>,
    /// Steps spent before the current countdown began.
    steps: Cell<u64>,
    bytes: Cell<u64>,
    /// The limit an evaluation ran into; once set, every check fails.
    exceeded: Cell<Option<Exceeded>>,
}

struct Deadline {
    passed: Box<dyn Fn() -> bool + Send + Sync>,
    /// How the host names it ("2 s").
    label: String,
}

/// Steps between looks at the totals, the cancel flag and the deadline.
const WINDOW: u32 = 4096;

impl Budget {
    /// A budget of `limits`, with no deadline and no cancel flag.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            cancel: None,
            deadline: None,
            // The first step looks at once: a deadline already passed (a
            // request that waited for its turn) stops it before any work.
            countdown: Cell::new(0),
            window: Cell::new(0),
            steps: Cell::new(0),
            bytes: Cell::new(0),
            exceeded: Cell::new(None),
        }
    }

    /// Watches `flag`: once it is set, the evaluation ends.
    pub fn with_cancel(mut self, flag: CancelFlag) -> Budget {
        self.cancel = Some(flag);
        self
    }

    /// Ends the evaluation once `passed` returns true, polled every few
    /// thousand steps; `label` names the time limit in the error ("2 s"). The
    /// host owns the clock: `passed` is typically `move || start.elapsed() > limit`.
    pub fn with_deadline(
        mut self,
        label: impl Into<String>,
        passed: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Budget {
        self.deadline = Some(Deadline {
            passed: Box::new(passed),
            label: label.into(),
        });
        self
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The limit the evaluation ran into, if it did.
    pub fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get()
    }

    /// Steps spent so far (to within a few thousand).
    pub fn steps(&self) -> u64 {
        self.steps.get()
            + u64::from(self.window.get() - self.countdown.get().min(self.window.get()))
    }

    /// The error value of the limit the evaluation ran into, if it did.
    pub fn error(&self) -> Option<Value> {
        self.exceeded.get().map(|e| self.limit_error(e))
    }

    /// Spends one step.
    #[inline]
    pub(crate) fn step(&self) -> Result<(), Value> {
        self.spend(1)
    }

    /// Spends `n` steps (a loop's items, a comparison of every pair).
    #[inline]
    pub(crate) fn spend(&self, n: u64) -> Result<(), Value> {
        let left = self.countdown.get();
        if n < u64::from(left) {
            // `n < left <= u32::MAX`.
            self.countdown.set(left - n as u32);
            return Ok(());
        }
        self.settle(n)
    }

    /// Adds up a countdown and looks at the totals, the flag and the deadline.
    #[cold]
    fn settle(&self, n: u64) -> Result<(), Value> {
        if let Some(e) = self.exceeded.get() {
            return Err(self.limit_error(e));
        }
        let spent = u64::from(self.window.get() - self.countdown.get().min(self.window.get()));
        let total = self.steps.get().saturating_add(spent).saturating_add(n);
        self.steps.set(total);
        self.countdown.set(WINDOW);
        self.window.set(WINDOW);
        if self.limits.max_steps.is_some_and(|max| total > max) {
            return Err(self.trip(Exceeded::Steps));
        }
        self.check_watch()
    }

    fn check_watch(&self) -> Result<(), Value> {
        if self.cancel.as_ref().is_some_and(CancelFlag::is_cancelled) {
            return Err(self.trip(Exceeded::Cancelled));
        }
        if self.deadline.as_ref().is_some_and(|d| (d.passed)()) {
            return Err(self.trip(Exceeded::Time));
        }
        Ok(())
    }

    /// Checks a text being built, grown to `len` bytes so far.
    #[inline]
    pub(crate) fn text_so_far(&self, len: usize) -> Result<(), Value> {
        // A limit of one value: that value is the error, and the evaluation
        // goes on (the error propagates like any other; no `IfError` catches it).
        if len > self.limits.max_text_bytes {
            return Err(self.limit_error(Exceeded::Text));
        }
        Ok(())
    }

    /// Checks a text built, of `len` bytes; counts it against the bytes in all.
    #[inline]
    pub(crate) fn text(&self, len: usize) -> Result<(), Value> {
        self.text_so_far(len)?;
        self.bytes(len as u64)
    }

    /// Checks a list about to be built with `items` items.
    #[inline]
    pub(crate) fn list(&self, items: usize) -> Result<(), Value> {
        if items > self.limits.max_list_items {
            return Err(self.limit_error(Exceeded::List));
        }
        self.bytes((items as u64).saturating_mul(std::mem::size_of::<Value>() as u64))
    }

    fn bytes(&self, n: u64) -> Result<(), Value> {
        if let Some(e) = self.exceeded.get() {
            return Err(self.limit_error(e));
        }
        let Some(max) = self.limits.max_bytes else {
            return Ok(());
        };
        let total = self.bytes.get().saturating_add(n);
        self.bytes.set(total);
        if total > max {
            return Err(self.trip(Exceeded::Bytes));
        }
        Ok(())
    }

    /// A limit of the whole evaluation: every later check fails too.
    fn trip(&self, e: Exceeded) -> Value {
        self.exceeded.set(Some(e));
        self.countdown.set(0);
        self.window.set(0);
        self.limit_error(e)
    }

    fn limit_error(&self, e: Exceeded) -> Value {
        let l = &self.limits;
        let message = match e {
            Exceeded::Text => format!(
                "a text would be longer than {}, the limit of one value",
                bytes_text(l.max_text_bytes as u64)
            ),
            Exceeded::List => format!(
                "a list would hold more than {} items, the limit of one value",
                thousands(l.max_list_items as u64)
            ),
            Exceeded::Steps => format!(
                "the evaluation took more than {} steps, its limit",
                thousands(l.max_steps.unwrap_or(0))
            ),
            Exceeded::Bytes => format!(
                "the evaluation built more than {} of text and lists, its limit",
                bytes_text(l.max_bytes.unwrap_or(0))
            ),
            Exceeded::Time => format!(
                "the evaluation ran past its time limit ({})",
                self.deadline.as_ref().map_or("", |d| d.label.as_str())
            ),
            Exceeded::Cancelled => "the evaluation was cancelled (the service is stopping)".into(),
        };
        Value::error(ErrorKind::Limit, message)
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limits", &self.limits)
            .field("steps", &self.steps())
            .field("bytes", &self.bytes.get())
            .field("exceeded", &self.exceeded.get())
            .field("deadline", &self.deadline.as_ref().map(|d| &d.label))
            .finish_non_exhaustive()
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(Limits::default())
    }
}

fn bytes_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{} bytes", thousands(n))
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(v: &Value) -> Option<ErrorKind> {
        match v {
            Value::Error(e) => Some(e.kind),
            _ => None,
        }
    }

    #[test]
    fn steps_trip_once_and_stay_tripped() {
        let b = Budget::new(Limits {
            max_steps: Some(10_000),
            ..Limits::default()
        });
        let mut ok = 0u64;
        let err = loop {
            match b.step() {
                Ok(()) => ok += 1,
                Err(e) => break e,
            }
        };
        assert!((10_000..=10_000 + u64::from(WINDOW)).contains(&ok), "{ok}");
        assert_eq!(kind(&err), Some(ErrorKind::Limit));
        assert!(format!("{err:?}").contains("10,000 steps"), "{err:?}");
        assert_eq!(b.exceeded(), Some(Exceeded::Steps));
        assert!(b.step().is_err() && b.text(1).is_err(), "stays tripped");
    }

    #[test]
    fn one_value_over_a_cap_is_an_error_of_its_own() {
        let b = Budget::default();
        assert!(b.text(1 << 20).is_ok());
        let e = b.text((1 << 20) + 1).unwrap_err();
        assert!(format!("{e:?}").contains("1 MiB"), "{e:?}");
        assert!(b.list(1_000_001).is_err());
        assert_eq!(b.exceeded(), None, "the evaluation goes on");
        assert!(b.step().is_ok());
    }

    #[test]
    fn the_flag_and_the_deadline_end_it_within_a_window() {
        let flag = CancelFlag::new();
        let b = Budget::default().with_cancel(flag.clone());
        assert!(b.spend(u64::from(WINDOW)).is_ok());
        flag.cancel();
        let steps = (0..=WINDOW).take_while(|_| b.step().is_ok()).count();
        assert!(steps <= WINDOW as usize);
        assert_eq!(b.exceeded(), Some(Exceeded::Cancelled));
        let b = Budget::default().with_deadline("2 s", || true);
        let e = b.step().unwrap_err();
        assert!(format!("{e:?}").contains("time limit (2 s)"), "{e:?}");
        assert_eq!(b.steps(), 1, "looked at before any work");
    }

    #[test]
    fn bytes_in_all() {
        let b = Budget::new(Limits {
            max_bytes: Some(100),
            ..Limits::default()
        });
        assert!(b.text(60).is_ok());
        assert!(b.text(60).is_err());
        assert_eq!(b.exceeded(), Some(Exceeded::Bytes));
    }
}
