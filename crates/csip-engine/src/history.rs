//! What a workbook remembers of its commits: the undo and redo history (the
//! steps that invert each transaction) and the change feed (a version every
//! commit increments, and every change set, in order, to whoever subscribed).

use crate::transaction::{ChangeSet, Undo};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// How many transactions [`crate::Workbook::undo`] can go back, by default.
pub const DEFAULT_UNDO_LIMIT: usize = 100;

/// The most undo steps (cells, rows) kept in all; past it the oldest
/// transactions are forgotten, and a transaction larger than this alone is
/// not undoable (the history is cleared).
pub const MAX_UNDO_STEPS: usize = 1_000_000;

/// The undo and redo stacks.
#[derive(Debug)]
pub(crate) struct History {
    undo: VecDeque<Vec<Undo>>,
    redo: Vec<Vec<Undo>>,
    limit: usize,
    /// Steps held in both stacks.
    steps: usize,
}

impl History {
    pub(crate) fn new(limit: usize) -> History {
        History {
            undo: VecDeque::new(),
            redo: Vec::new(),
            limit,
            steps: 0,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.trim();
    }

    /// A new transaction: undoable, and nothing is left to redo.
    pub(crate) fn record(&mut self, steps: Vec<Undo>) {
        self.steps -= self.redo.iter().map(Vec::len).sum::<usize>();
        self.redo.clear();
        self.push_undo(steps);
    }

    /// An undone transaction's inverse, for [`History::take_redo`].
    pub(crate) fn push_redo(&mut self, steps: Vec<Undo>) {
        self.steps += steps.len();
        self.redo.push(steps);
        self.trim();
    }

    /// A redone transaction's inverse: undoable again, the redo stack kept.
    pub(crate) fn push_undo(&mut self, steps: Vec<Undo>) {
        if self.limit == 0 || steps.is_empty() {
            return;
        }
        if steps.len() > MAX_UNDO_STEPS {
            self.clear();
            return;
        }
        self.steps += steps.len();
        self.undo.push_back(steps);
        self.trim();
    }

    pub(crate) fn take_undo(&mut self) -> Option<Vec<Undo>> {
        let steps = self.undo.pop_back()?;
        self.steps -= steps.len();
        Some(steps)
    }

    pub(crate) fn take_redo(&mut self) -> Option<Vec<Undo>> {
        let steps = self.redo.pop()?;
        self.steps -= steps.len();
        Some(steps)
    }

    pub(crate) fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
        self.steps = 0;
    }

    pub(crate) fn can_undo(&self) -> usize {
        self.undo.len()
    }

    pub(crate) fn can_redo(&self) -> usize {
        self.redo.len()
    }

    /// Forgets the oldest transactions past the limits.
    fn trim(&mut self) {
        while self.undo.len() > self.limit || (self.steps > MAX_UNDO_STEPS && !self.undo.is_empty())
        {
            if let Some(old) = self.undo.pop_front() {
                self.steps -= old.len();
            }
        }
        while self.steps > MAX_UNDO_STEPS {
            match self.redo.first() {
                Some(_) => {
                    let old = self.redo.remove(0);
                    self.steps -= old.len();
                }
                None => break,
            }
        }
    }
}

/// What caused a change on the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeCause {
    /// [`crate::Workbook::apply`].
    Edit,
    /// [`crate::Workbook::undo`].
    Undo,
    /// [`crate::Workbook::redo`].
    Redo,
    /// [`crate::Workbook::import`] and friends: a summary. `changes` lists
    /// the rows inserted, not their cells; an import computes every formula
    /// again, so a formula cell of any row may have changed (a reader
    /// redraws what it shows rather than patching it).
    Import,
    /// [`crate::Workbook::set_clock`].
    Clock,
    /// A transaction of schema changes; `changes.schema` is the new schema.
    Schema,
}

/// One commit on the change feed ([`crate::Workbook::subscribe`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Change {
    /// The workbook's version after the commit: one more than the last.
    pub version: u64,
    /// What made it.
    pub cause: ChangeCause,
    /// What changed.
    pub changes: ChangeSet,
}

/// The version and the subscribers.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    version: u64,
    subscribers: Vec<Sender<Arc<Change>>>,
}

impl Feed {
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The same version with no subscribers (a clone of the workbook).
    pub(crate) fn detached(&self) -> Feed {
        Feed {
            version: self.version,
            subscribers: Vec::new(),
        }
    }

    pub(crate) fn subscribe(&mut self) -> Receiver<Arc<Change>> {
        let (tx, rx) = channel();
        self.subscribers.push(tx);
        rx
    }

    /// A commit: the version moves, and subscribers whose receiver still
    /// exists get the change.
    pub(crate) fn publish(&mut self, cause: ChangeCause, changes: &ChangeSet) {
        self.publish_with(cause, || changes.clone());
    }

    /// [`Feed::publish`] of a change set built only if someone listens.
    pub(crate) fn publish_with(&mut self, cause: ChangeCause, changes: impl FnOnce() -> ChangeSet) {
        self.version += 1;
        if self.subscribers.is_empty() {
            return;
        }
        let change = Arc::new(Change {
            version: self.version,
            cause,
            changes: changes(),
        });
        self.subscribers.retain(|s| s.send(change.clone()).is_ok());
    }
}
