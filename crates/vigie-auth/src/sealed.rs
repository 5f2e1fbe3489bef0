//! Secrets Vigie must read back, sealed at rest: a webhook's signing secret (#15) or a
//! data bridge's credentials (#16) cannot be hashed like client secrets, since the
//! server uses them. They are encrypted with the operator's key (XChaCha20-Poly1305, a
//! random 24-byte nonce each time) and bound to what they belong to (the associated
//! data, e.g. the channel's id), so a sealed value copied onto another row does not
//! open. Stored as `v1.` and base64 of nonce and ciphertext.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Bytes of a key.
const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
const NONCE_BYTES: usize = 24;
/// The format's prefix.
const VERSION: &str = "v1.";

/// Why a key or a sealed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key is not the base64 of 32 bytes.
    #[error("the secret key must be the base64 of 32 bytes (e.g. `openssl rand -base64 32`)")]
    MalformedKey,
    /// The sealed value was not made by this key for this owner, or was altered.
    #[error("a sealed secret does not open with this key (another key, another owner, or altered)")]
    DoesNotOpen,
}

/// The operator's key.
pub struct SealingKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    /// Reads a key given as base64 (surrounding whitespace ignored, as in a file).
    ///
    /// # Errors
    /// [`SealError::MalformedKey`].
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::MalformedKey)?;
        if bytes.len() != KEY_BYTES {
            return Err(SealError::MalformedKey);
        }
        Ok(Self(
            XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealError::MalformedKey)?,
        ))
    }

    /// A new random key, as base64 (to write where the operator keeps it).
    pub fn generate() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        STANDARD.encode(bytes)
    }

    /// Seals `secret` for `owner`.
    pub fn seal(&self, secret: &[u8], owner: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: owner.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(bytes))
    }

    /// Opens what [`Self::seal`] made for `owner`.
    ///
    /// # Errors
    /// [`SealError::DoesNotOpen`].
    pub fn open(&self, sealed: &str, owner: &str) -> Result<Vec<u8>, SealError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .filter(|bytes| bytes.len() > NONCE_BYTES)
            .ok_or(SealError::DoesNotOpen)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_owner() {
        let key = SealingKey::parse(&SealingKey::generate()).unwrap();
        let sealed = key.seal(b"whsec_abc", "channel-1");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("whsec"), "nothing of the secret shows");
        assert_eq!(key.open(&sealed, "channel-1").unwrap(), b"whsec_abc");
        assert_ne!(
            key.seal(b"whsec_abc", "channel-1"),
            sealed,
            "a new nonce each time"
        );
        assert_eq!(key.open(&sealed, "channel-2"), Err(SealError::DoesNotOpen));
        let other = SealingKey::parse(&SealingKey::generate()).unwrap();
        assert_eq!(
            other.open(&sealed, "channel-1"),
            Err(SealError::DoesNotOpen)
        );
        // Any altered byte, a truncation or another format: refused.
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        for at in [0, NONCE_BYTES, bytes.len() - 1] {
            bytes[at] ^= 1;
            let altered = format!("v1.{}", STANDARD.encode(&bytes));
            assert_eq!(
                key.open(&altered, "channel-1"),
                Err(SealError::DoesNotOpen),
                "byte {at}"
            );
            bytes[at] ^= 1;
        }
        for bad in [
            "",
            "v1.",
            "v1.AAAA",
            "v2.whatever",
            &sealed[..sealed.len() - 4],
        ] {
            assert_eq!(
                key.open(bad, "channel-1"),
                Err(SealError::DoesNotOpen),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_are_the_base64_of_32_bytes() {
        assert!(SealingKey::parse(&format!("  {}\n", SealingKey::generate())).is_ok());
        for bad in ["", "c2hvcnQ=", "not base64!", &STANDARD.encode([0u8; 33])] {
            assert_eq!(
                SealingKey::parse(bad).map(|_| ()),
                Err(SealError::MalformedKey),
                "{bad}"
            );
        }
        let key = SealingKey::parse(&SealingKey::generate()).unwrap();
        assert_eq!(format!("{key:?}"), "SealingKey(…)");
    }
}
