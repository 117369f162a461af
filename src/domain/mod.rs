//! Plain types and rules: no HTTP, no SQL.

pub mod access;
pub mod endpoint;
pub mod secret;
pub mod token;
