//! Time windows that sources are asked for, and the time helpers shared by the endpoints.

use jiff::Timestamp;

/// A closed time window `[start, end]` in Unix milliseconds.
///
/// ```
/// use aiopslab_sim::telemetry::TimeWindow;
/// let w = TimeWindow::new(1_000, 2_000);
/// assert!(w.contains(2_000) && !w.contains(2_001));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    /// First millisecond in the window.
    pub start: i64,
    /// Last millisecond in the window.
    pub end: i64,
}

impl TimeWindow {
    /// The window `[start, end]`; an inverted window is empty.
    pub fn new(start: i64, end: i64) -> Self {
        TimeWindow { start, end }
    }

    /// Whether `t` lies inside.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && t <= self.end
    }

    /// Whether the window holds no instant.
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }

    /// The overlap of two windows (possibly empty).
    pub fn intersect(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// The smallest window covering both.
    pub fn union(&self, other: &TimeWindow) -> TimeWindow {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Unix milliseconds of a timestamp.
pub fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// Unix microseconds of a timestamp.
pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}
