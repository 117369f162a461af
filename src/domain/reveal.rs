//! Show-once values across a redirect. After a form creates a secret (a token value,
//! a primary token), the page that shows it is reached by a redirect, so a reload
//! never sends the form again. The value waits for that one view in the session's
//! row, sealed (ChaCha20-Poly1305, by `ring`) with a key derived (HKDF-SHA256) from
//! the session cookie's value: the database holds only the session's hash, so what
//! it stores cannot be opened without the browser's cookie.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::token::TokenValue;

/// How long a sealed value waits for its page.
pub const REVEAL_TTL_SECONDS: i64 = 600;

const SALT: &[u8] = b"portico-reveal-v1";
const AAD: &[u8] = b"portico-reveal";

/// A secret value to show once, with its label ("Token value", "POST primary token").
#[derive(Clone, Serialize, Deserialize)]
pub struct Shown {
    pub label: String,
    pub value: String,
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shown({}: [redacted])", self.label)
    }
}

/// What is sealed: the values, the page they are for and when they were made.
#[derive(Serialize, Deserialize)]
struct Sealed {
    page: String,
    at: i64,
    shown: Vec<Shown>,
}

fn key_for(session: &TokenValue) -> LessSafeKey {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(session.expose().as_bytes());
    let okm = prk
        .expand(&[b"show-once"], &CHACHA20_POLY1305)
        .expect("a 32-byte key is a valid HKDF-SHA256 output length");
    let mut key = [0u8; 32];
    okm.fill(&mut key)
        .expect("the key buffer has the AEAD's key length");
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).expect("32-byte ChaCha20 key"))
}

/// Seals `shown` for `page` under `session`: nonce followed by ciphertext and tag.
pub fn seal(session: &TokenValue, page: &str, at: i64, shown: Vec<Shown>) -> Vec<u8> {
    let plain = serde_json::to_vec(&Sealed {
        page: page.to_owned(),
        at,
        shown,
    })
    .expect("plain strings serialise");
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .expect("the system's random source works");
    let mut out = plain;
    key_for(session)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut out,
        )
        .expect("sealing a short message succeeds");
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&out);
    sealed
}

/// Opens what [`seal`] made for `page` under the same session, if it is not older
/// than [`REVEAL_TTL_SECONDS`] at `now`. Anything else (another session's key, a
/// changed byte, another page, too old) opens to nothing.
pub fn open(session: &TokenValue, page: &str, now: i64, sealed: &[u8]) -> Option<Vec<Shown>> {
    if sealed.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut body = body.to_vec();
    let plain = key_for(session)
        .open_in_place(nonce, Aad::from(AAD), &mut body)
        .ok()?;
    let sealed: Sealed = serde_json::from_slice(plain).ok()?;
    let fresh = (0..=REVEAL_TTL_SECONDS).contains(&(now - sealed.at));
    (sealed.page == page && fresh).then_some(sealed.shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown() -> Vec<Shown> {
        vec![Shown {
            label: "Token value".into(),
            value: "s3cret-value".into(),
        }]
    }

    #[test]
    fn opens_only_with_the_same_session_for_the_same_page_while_fresh() {
        let session = TokenValue::generate();
        let sealed = seal(&session, "/ui/tokens/7", 1000, shown());
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("s3cret"), "the value is not stored in clear");
        let opened = open(&session, "/ui/tokens/7", 1010, &sealed).unwrap();
        assert_eq!(opened[0].value, "s3cret-value");
        assert!(open(&TokenValue::generate(), "/ui/tokens/7", 1010, &sealed).is_none());
        assert!(open(&session, "/ui/tokens/8", 1010, &sealed).is_none());
        assert!(open(
            &session,
            "/ui/tokens/7",
            1000 + REVEAL_TTL_SECONDS + 1,
            &sealed
        )
        .is_none());
        let mut changed = sealed.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert!(open(&session, "/ui/tokens/7", 1010, &changed).is_none());
        assert!(open(&session, "/ui/tokens/7", 1010, &sealed[..5]).is_none());
    }

    #[test]
    fn debug_hides_the_value() {
        assert!(!format!("{:?}", shown()).contains("s3cret"));
    }
}
