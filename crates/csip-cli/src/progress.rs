//! Progress on stderr (drawn only when it is a terminal) and durations for people.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A bar over `len` units.
pub(crate) fn bar(len: u64, template: &str) -> ProgressBar {
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// A spinner with a message, for work of unknown length; finish it with
/// `finish_and_clear`.
pub(crate) fn spinner(message: String) -> ProgressBar {
    let s = ProgressBar::new_spinner().with_message(message);
    s.enable_steady_tick(Duration::from_millis(120));
    s
}

/// `830 ms`, `7.1 s`.
pub(crate) fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
