//! Call-log vocabulary: which kind of credential a call presented.

use serde::{Deserialize, Serialize};

use super::names::names;

names!(
    /// How a call identified itself: `primary` token, `secondary` token, `none` (no
    /// token, or a public endpoint) or `unknown` (a token that matched nothing).
    #[derive(Default, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum TokenKind refusing "must be primary, secondary, none or unknown" {
        Primary = "primary",
        Secondary = "secondary",
        #[default]
        None = "none",
        Unknown = "unknown",
    }
);
