//! Application secrets and refresh tokens: generated with 256 bits of entropy, stored
//! only as SHA-256 hashes, compared in constant time.
//!
//! A slow password hash (argon2, bcrypt) protects low-entropy human passwords against
//! offline guessing. These secrets are 256 random bits: guessing one from its SHA-256
//! hash is as hard as breaking SHA-256, so a slow hash would add nothing but latency to
//! every token request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of application secrets, so leaked secrets are easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "vgs_";

/// A SHA-256 digest of a secret or token.
pub type SecretHash = [u8; 32];

/// 32 random bytes, base64url without padding: 43 characters of the RFC 3986
/// unreserved alphabet, so form-encoding leaves them unchanged.
fn random_unreserved() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Generates a new application secret (`vgs_` and 256 random bits).
pub fn generate_client_secret() -> SecretString {
    SecretString::from(format!("{SECRET_PREFIX}{}", random_unreserved()))
}

/// Generates a new opaque refresh token and its hash.
pub fn generate_refresh_token() -> (String, SecretHash) {
    let token = random_unreserved();
    let hash = hash_secret(&token);
    (token, hash)
}

/// SHA-256 of a secret or token.
pub fn hash_secret(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `presented` hashes to `stored`, in time independent of where they differ.
pub fn hash_matches(presented: &SecretHash, stored: &[u8]) -> bool {
    presented.ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn secrets_are_long_unreserved_and_distinct() {
        let a = generate_client_secret();
        let b = generate_client_secret();
        let a = a.expose_secret();
        assert_ne!(a, b.expose_secret());
        assert!(a.starts_with(SECRET_PREFIX));
        let body = &a[SECRET_PREFIX.len()..];
        assert_eq!(
            body.len(),
            43,
            "43 base64url characters carry 258 bits, 256 of them random"
        );
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
    }

    #[test]
    fn hashes_match_only_their_secret() {
        let hash = hash_secret("vgs_abc");
        assert!(hash_matches(&hash_secret("vgs_abc"), &hash));
        assert!(!hash_matches(&hash_secret("vgs_abd"), &hash));
        assert!(
            !hash_matches(&hash, &hash[..31]),
            "a truncated hash never matches"
        );
    }

    #[test]
    fn refresh_tokens_hash_to_their_stored_hash() {
        let (token, hash) = generate_refresh_token();
        assert_eq!(hash_secret(&token), hash);
        assert_eq!(token.len(), 43);
    }
}
