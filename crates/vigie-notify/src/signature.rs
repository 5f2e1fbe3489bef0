//! Webhook signatures as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com>, "Signature scheme"): a request carries
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
//! space-separated list of `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, one per
//! secret currently valid, so a receiver keeps working while a secret is rotated.
//! Secrets are shown as `whsec_` and the base64 of their bytes.
//!
//! `docs/webhooks.md` shows receivers how to verify; its Rust example runs as a test
//! of this crate ([`ReceiverGuide`]) and its Python one in `tests/python_receiver.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of a secret as shown to its owner.
const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The version tag of a signature.
const VERSION: &str = "v1";

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a secret or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The secret is not `whsec_` and base64 of 24 to 64 bytes.
    #[error("a webhook secret is \"whsec_\" followed by the base64 of 24 to 64 bytes")]
    MalformedSecret,
    /// The timestamp is further from now than the tolerance.
    #[error("the webhook timestamp is too far from now")]
    Expired,
    /// No signature of the header matches.
    #[error("no webhook signature matches")]
    Mismatch,
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Self(bytes)
    }

    /// Reads a secret as shown (`whsec_…`).
    ///
    /// # Errors
    /// [`SignatureError::MalformedSecret`].
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::MalformedSecret)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::MalformedSecret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SignatureError::MalformedSecret);
        }
        Ok(Self(bytes))
    }

    /// The secret as shown to its owner, once.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The base64 HMAC-SHA256 of `id.timestamp.body`.
    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The `webhook-signature` header of a message: one signature per secret (two while a
/// secret is rotated).
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            format!(
                "{VERSION},{}",
                STANDARD.encode(secret.mac(id, timestamp, body))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a received message as a receiver should: the timestamp within `tolerance_s`
/// seconds of `now`, and one of the header's `v1` signatures made with `secret`
/// (compared in constant time).
///
/// # Errors
/// [`SignatureError::Expired`] or [`SignatureError::Mismatch`].
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > tolerance_s {
        return Err(SignatureError::Expired);
    }
    let expected = secret.mac(id, timestamp, body);
    let matches = header.split(' ').any(|signature| {
        signature
            .strip_prefix("v1,")
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .is_some_and(|given| bool::from(given.as_slice().ct_eq(&expected)))
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The receivers' guide, `docs/webhooks.md`, whose Rust example is a doctest here.
#[doc = include_str!("../../../docs/webhooks.md")]
pub struct ReceiverGuide;

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries (checked independently
    /// with Python's `hmac`).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_the_specification_example() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(
            sign(&[secret], ID, TIMESTAMP, BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_and_either_verifies() {
        let old = Secret::parse(SECRET).unwrap();
        let new = Secret::generate();
        let header = sign(&[new.clone(), old.clone()], ID, TIMESTAMP, BODY);
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            assert_eq!(
                verify(secret, ID, TIMESTAMP, BODY, &header, TIMESTAMP + 10, 300),
                Ok(())
            );
        }
        let other = Secret::generate();
        assert_eq!(
            verify(&other, ID, TIMESTAMP, BODY, &header, TIMESTAMP, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_body_id_or_timestamp_and_an_old_message_are_refused() {
        let secret = Secret::parse(SECRET).unwrap();
        let header = sign(std::slice::from_ref(&secret), ID, TIMESTAMP, BODY);
        let check = |id: &str, timestamp: i64, body: &[u8], now: i64| {
            verify(&secret, id, timestamp, body, &header, now, 300)
        };
        assert_eq!(
            check(ID, TIMESTAMP, b"{}", TIMESTAMP),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("msg_other", TIMESTAMP, BODY, TIMESTAMP),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(ID, TIMESTAMP + 1, BODY, TIMESTAMP),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(ID, TIMESTAMP, BODY, TIMESTAMP + 301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(
                &secret,
                ID,
                TIMESTAMP,
                BODY,
                "v1,not-base64 v2,x",
                TIMESTAMP,
                300
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn secrets_read_back_as_shown_and_malformed_ones_are_refused() {
        let secret = Secret::generate();
        assert_eq!(Secret::parse(&secret.expose()), Ok(secret.clone()));
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            assert_eq!(
                Secret::parse(bad),
                Err(SignatureError::MalformedSecret),
                "{bad}"
            );
        }
    }
}
