//! The call log: every request to `/e/...` is one [`Call`] (or a repeat folded into
//! one), and the data viewer, its exports and statistics read it through here.
//! The API and the UI share the query parser ([`filter`]), the pages ([`view`]),
//! exports ([`export`]) and statistics ([`stats`]); the writer executes [`fold`].

pub mod activity;
pub mod conformance;
pub mod export;
pub mod filter;
pub mod fold;
pub mod refusals;
pub mod search;
pub mod stats;
pub mod view;
pub mod why;

pub use crate::store::calls::{Call, CallFilter};
pub use filter::{CallQuery, Syntax};
