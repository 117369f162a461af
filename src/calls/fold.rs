//! Folding: refused calls that repeat — same endpoint, method, path, status, code,
//! credential, address and user agent within [`FOLD_WINDOW`] of the row's first
//! call — are counted on that row (`repeats`) instead of getting rows of their own,
//! so a flood of denied requests costs an `UPDATE` per batch and cannot fill the
//! disk. This module decides; the writer executes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;

use crate::store::calls::Call;

/// Refused calls this close to the first of their kind share its row.
pub const FOLD_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// Rows open for folding that are remembered (beyond, it starts over).
const MAX_OPEN_ROWS: usize = 10_000;

/// What makes refused calls the same: the call with everything that varies
/// between repeats (id, time, sizes, duration, counts) cleared.
type FoldKey = Call;

/// The kind of a refused call that folds (`None`: an accepted call, which never does).
pub(crate) fn key_of(call: &Call) -> Option<FoldKey> {
    (call.status >= 400 && call.record_id.is_none()).then(|| Call {
        id: 0,
        at: NaiveDateTime::default(),
        request_bytes: 0,
        response_bytes: 0,
        duration_us: 0,
        repeats: 0,
        ..call.clone()
    })
}

/// Call rows open for folding: key → (row id, time of its first call).
type Rows = HashMap<FoldKey, (i64, NaiveDateTime)>;

/// Committed rows open for folding, shared by the writers of a lane.
#[derive(Clone, Default)]
pub struct OpenRows(Arc<Mutex<Rows>>);

/// Where a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A row of its own.
    Insert,
    /// Counted on the open row with this id.
    Folded(i64),
}

/// The folding decisions of one batch.
pub struct Batch {
    open: OpenRows,
    /// Rows this batch opens; other writers may fold into them once it has committed.
    opened: Rows,
    /// Row id → (calls folded in, request bytes, response bytes).
    folded: HashMap<i64, (i64, i64, i64)>,
}

impl Batch {
    pub fn new(open: &OpenRows) -> Self {
        Self {
            open: open.clone(),
            opened: Rows::new(),
            folded: HashMap::new(),
        }
    }

    /// Where `call` goes: folded into an open row of its kind (counted here), or
    /// into a row of its own (then tell [`Batch::inserted`] its id).
    pub fn place(&mut self, call: &Call) -> Placement {
        let Some(key) = key_of(call) else {
            return Placement::Insert;
        };
        let known = self.opened.get(&key).copied().or_else(|| {
            let open = self.open.0.lock().unwrap_or_else(|e| e.into_inner());
            open.get(&key).copied()
        });
        match known {
            Some((id, first)) if call.at >= first && call.at - first < FOLD_WINDOW => {
                let f = self.folded.entry(id).or_default();
                f.0 += call.repeats;
                f.1 += call.request_bytes;
                f.2 += call.response_bytes;
                Placement::Folded(id)
            }
            _ => Placement::Insert,
        }
    }

    /// `call` got row `id`: later repeats of its kind may fold into it.
    pub fn inserted(&mut self, call: &Call, id: i64) {
        if let Some(key) = key_of(call) {
            self.opened.insert(key, (id, call.at));
        }
    }

    /// (row id, calls folded in, request bytes, response bytes), in id order so
    /// writers folding into the same rows never wait on each other in a cycle.
    pub fn repeats(&self) -> Vec<(i64, i64, i64, i64)> {
        let mut out: Vec<_> = self
            .folded
            .iter()
            .map(|(id, (n, req, res))| (*id, *n, *req, *res))
            .collect();
        out.sort_unstable_by_key(|r| r.0);
        out
    }

    /// How many calls this batch counted on earlier rows.
    pub fn folded(&self) -> u64 {
        self.folded.values().map(|f| f.0.unsigned_abs()).sum()
    }

    /// The batch committed: its rows are open for every writer of the lane.
    pub fn publish(self) {
        let mut open = self.open.0.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() + self.opened.len() > MAX_OPEN_ROWS {
            open.clear();
        }
        open.extend(self.opened);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::TokenKind;

    fn refused(at: NaiveDateTime) -> Call {
        Call {
            id: 0,
            at,
            endpoint_id: Some(1),
            endpoint_slug: "orders".into(),
            method: "POST".into(),
            path: "/e/orders".into(),
            status: 401,
            code: Some("token_invalid".into()),
            token_kind: TokenKind::Unknown,
            token_id: None,
            token_name: None,
            token_method: None,
            remote_addr: "127.0.0.1".into(),
            user_agent: None,
            request_bytes: 10,
            response_bytes: 20,
            duration_us: 5,
            record_id: None,
            repeats: 1,
            conforms: None,
            detail: None,
        }
    }

    #[test]
    fn repeats_within_the_window_fold_and_later_ones_open_a_new_row() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let open = OpenRows::default();
        let mut batch = Batch::new(&open);
        let first = refused(t);
        assert_eq!(batch.place(&first), Placement::Insert);
        batch.inserted(&first, 7);
        let again = refused(t + chrono::TimeDelta::milliseconds(500));
        assert_eq!(batch.place(&again), Placement::Folded(7));
        assert_eq!(batch.repeats(), vec![(7, 1, 10, 20)]);
        batch.publish();
        let mut next = Batch::new(&open);
        assert_eq!(
            next.place(&refused(t + chrono::TimeDelta::milliseconds(900))),
            Placement::Folded(7)
        );
        assert_eq!(
            next.place(&refused(t + chrono::TimeDelta::seconds(2))),
            Placement::Insert
        );
        let mut accepted = refused(t);
        accepted.status = 201;
        assert_eq!(next.place(&accepted), Placement::Insert);
    }
}
