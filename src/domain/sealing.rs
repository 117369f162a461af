//! The server's secret key and what it seals: secrets Portico must use again
//! later (an alert target's signing secret), which therefore cannot be hashed.
//! Sealed with ChaCha20-Poly1305 (`ring`) under a 32-byte key the database never
//! holds (a file beside the SQLite database, or given by the operator), so a copy
//! of the database alone opens nothing.

use std::fmt;
use std::path::Path;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

const KEY_BYTES: usize = 32;

/// The server's secret key. `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_BYTES]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system's random source works");
        Self(key)
    }

    /// 32 bytes written as base64 (`openssl rand -base64 32`) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = match text.len() {
            64 => hex::decode(text).map_err(|_| "is not 64 hex digits".to_owned())?,
            _ => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "is neither base64 nor hex".to_owned())?,
        };
        let key: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|_| format!("must be {KEY_BYTES} bytes"))?;
        Ok(Self(key))
    }

    /// The key as written to a key file.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// The key in `path`; when there is no such file, a new key written there
    /// (readable by its owner only). Its text is never part of an error.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(Self, bool)> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .map(|k| (k, false))
                .map_err(|e| anyhow::anyhow!("the secret key in {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Beside a database not made yet: its directory too, as for the database.
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
                }
                let key = Self::generate();
                write_private(path, &format!("{}\n", key.encode()))?;
                Ok((key, true))
            }
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        }
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("32-byte key"))
    }

    /// Seals `plain` for `purpose` (bound in as associated data): nonce, then
    /// ciphertext and tag.
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut out = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut out,
            )
            .expect("sealing a short message succeeds");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// Opens what [`SecretKey::seal`] made for `purpose` under this key; another
    /// key, purpose or a changed byte opens to nothing.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_under_the_same_key_and_purpose() {
        let key = SecretKey::generate();
        let sealed = key.seal("alert-target", b"whsec_abc");
        assert!(!String::from_utf8_lossy(&sealed).contains("whsec"));
        assert_eq!(key.open("alert-target", &sealed).unwrap(), b"whsec_abc");
        assert!(key.open("other", &sealed).is_none());
        assert!(SecretKey::generate()
            .open("alert-target", &sealed)
            .is_none());
        let mut changed = sealed.clone();
        changed[NONCE_LEN] ^= 1;
        assert!(key.open("alert-target", &changed).is_none());
        assert!(key.open("alert-target", &sealed[..4]).is_none());
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_never_print() {
        let key = SecretKey::generate();
        let again = SecretKey::parse(&key.encode()).unwrap();
        assert_eq!(again.0, key.0);
        assert_eq!(SecretKey::parse(&hex::encode(key.0)).unwrap().0, key.0);
        assert!(SecretKey::parse("c2hvcnQ=").is_err());
        assert!(SecretKey::parse("not a key").is_err());
        assert!(!format!("{key:?}").contains(&key.encode()));
    }

    #[test]
    fn a_key_file_is_created_once_then_read() {
        let dir = std::env::temp_dir().join(format!("portico-key-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("new").join("portico.key");
        let (a, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
