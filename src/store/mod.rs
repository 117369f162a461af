//! The only place with diesel queries, one file per table family. Functions take
//! a connection so callers can compose them inside one transaction.

pub mod access;
pub mod audit;
pub mod calls;
pub mod endpoints;
pub mod idempotency;
pub mod mappings;
pub mod records;
pub mod tokens;
pub mod users;

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
