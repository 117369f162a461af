//! Plain types and rules: no HTTP, no SQL.

pub mod access;
pub mod activity;
pub mod alert;
pub mod audit;
pub mod bounded;
pub mod call;
pub mod contract;
pub mod endpoint;
pub mod event;
pub mod health;
mod names;
pub mod page;
pub mod password;
pub mod record;
pub mod reveal;
pub mod schema_draft;
pub mod sealing;
pub mod secret;
pub mod text;
pub mod throttle;
pub mod timeline;
pub mod token;
pub mod token_policy;
pub mod user;
