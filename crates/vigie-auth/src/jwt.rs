//! JWT access tokens (RFC 9068) signed with Ed25519 (`EdDSA`), and the key ring that
//! signs and verifies them. The algorithm is pinned: a token whose header names any
//! other algorithm (`HS256`, `none`, `RS256`, …) is rejected before any key is used.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vigie_proto::{Jwk, JwkSet};
use vigie_store::{Millis, NewSigningKey, SigningKeyRecord};

/// The one JWS algorithm Vigie signs and accepts.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// Its name in JWT headers and key records.
pub const ALGORITHM_NAME: &str = "EdDSA";
/// The JWT `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Claims of a Vigie access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the application id.
    pub sub: String,
    /// The application id (RFC 9068 `client_id`).
    pub client_id: String,
    /// The application's organisation.
    pub org: String,
    /// Granted scope, space separated.
    pub scope: String,
    /// Audience.
    pub aud: String,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

impl AccessClaims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Why an access token was refused; the text is safe to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a JWT.
    #[error("the access token is malformed")]
    Malformed,
    /// Signed with an algorithm other than the pinned one.
    #[error("the access token is signed with an algorithm this server does not accept")]
    WrongAlgorithm,
    /// The header `typ` is not `at+jwt`.
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    /// Signed by a key this server does not know.
    #[error("the access token is signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the access token signature is invalid")]
    BadSignature,
    /// Issued for another audience or by another issuer.
    #[error("the access token was issued for another audience or by another issuer")]
    WrongAudience,
    /// Past its `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Revoked (RFC 7009) or its application was disabled.
    #[error("the access token has been revoked")]
    Revoked,
}

/// A freshly generated signing key, ready to store.
///
/// # Panics
/// Never in practice: encoding a valid Ed25519 key as PKCS#8 cannot fail.
pub fn generate_signing_key() -> NewSigningKey {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key = key.verifying_key().to_bytes().to_vec();
    NewSigningKey {
        kid: thumbprint(&public_key),
        algorithm: ALGORITHM_NAME.to_owned(),
        private_key: key
            .to_pkcs8_der()
            .expect("PKCS#8 encoding of an Ed25519 key")
            .as_bytes()
            .to_vec(),
        public_key,
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key, used as its `kid`.
fn thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

struct VerifyingKey {
    key: DecodingKey,
}

/// The keys a server signs with and accepts, built from the stored key records.
pub struct KeyRing {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
    validation: Validation,
}

impl KeyRing {
    /// Builds the ring: the newest active key signs; every key that is active or was
    /// retired less than `max_token_lifetime_ms` ago verifies and is published.
    pub fn new(
        records: &[SigningKeyRecord],
        now: Millis,
        max_token_lifetime_ms: Millis,
        issuer: &str,
        audience: &str,
    ) -> Self {
        let mut signing = None;
        let mut verifying = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for record in records.iter().filter(|r| r.algorithm == ALGORITHM_NAME) {
            let usable = record
                .retired_at
                .is_none_or(|retired| retired + max_token_lifetime_ms > now);
            if !usable {
                continue;
            }
            if record.retired_at.is_none() && signing.is_none() {
                signing = Some((
                    record.kid.clone(),
                    EncodingKey::from_ed_der(&record.private_key),
                ));
            }
            let x = URL_SAFE_NO_PAD.encode(&record.public_key);
            let Ok(key) = DecodingKey::from_ed_components(&x) else {
                tracing::error!(kid = %record.kid, "stored public key is invalid; skipping it");
                continue;
            };
            verifying.insert(record.kid.clone(), VerifyingKey { key });
            jwks.keys.push(Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x,
                kid: record.kid.clone(),
                alg: ALGORITHM_NAME.into(),
                key_use: "sig".into(),
            });
        }
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock, not jsonwebtoken's system time.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            signing,
            verifying,
            jwks,
            validation,
        }
    }

    /// The public keys to publish at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Signs claims as an `at+jwt` with the active key; `None` when there is no active key.
    pub fn sign(&self, claims: &AccessClaims) -> Option<String> {
        let (kid, key) = self.signing.as_ref()?;
        let mut header = Header::new(ALGORITHM);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(kid.clone());
        match jsonwebtoken::encode(&header, claims, key) {
            Ok(token) => Some(token),
            Err(error) => {
                tracing::error!(%error, "signing an access token failed");
                None
            }
        }
    }

    /// Verifies a token's algorithm, type, key, signature, issuer, audience and expiry.
    ///
    /// # Errors
    /// The [`TokenRejection`] to report to the client.
    pub fn verify(&self, token: &str, now: Millis) -> Result<AccessClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) if token.split('.').count() == 3 => {
                TokenRejection::WrongAlgorithm
            }
            _ => TokenRejection::Malformed,
        })?;
        if header.alg != ALGORITHM {
            return Err(TokenRejection::WrongAlgorithm);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenRejection::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(TokenRejection::UnknownKey)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &self.validation)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                    ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => {
                        TokenRejection::WrongAudience
                    }
                    ErrorKind::InvalidAlgorithm => TokenRejection::WrongAlgorithm,
                    _ => TokenRejection::Malformed,
                }
            })?
            .claims;
        if claims.exp <= now.div_euclid(1000) {
            return Err(TokenRejection::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "http://vigie.test";
    const AUD: &str = "vigie-api";

    fn record(key: &NewSigningKey, retired_at: Option<Millis>) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            private_key: key.private_key.clone(),
            public_key: key.public_key.clone(),
            created_at: 0,
            retired_at,
        }
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISS.into(),
            sub: "app".into(),
            client_id: "app".into(),
            org: "org".into(),
            scope: "data".into(),
            aud: AUD.into(),
            iat: 1_000,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn signs_and_verifies_until_expiry() {
        let key = generate_signing_key();
        let ring = KeyRing::new(&[record(&key, None)], 0, 1_000, ISS, AUD);
        let token = ring.sign(&claims(2_000)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(ring.verify(&token, 1_999_999), Ok(claims(2_000)));
        assert_eq!(ring.verify(&token, 2_000_000), Err(TokenRejection::Expired));
    }

    #[test]
    fn retired_keys_verify_until_their_tokens_expire_then_disappear() {
        let old = generate_signing_key();
        let new = generate_signing_key();
        let records = [record(&new, None), record(&old, Some(10_000))];
        let old_token = KeyRing::new(&[record(&old, None)], 0, 1, ISS, AUD)
            .sign(&claims(2_000))
            .unwrap();
        let ring = KeyRing::new(&records, 20_000, 1_000_000, ISS, AUD);
        assert!(ring.verify(&old_token, 1_000).is_ok());
        assert_eq!(ring.jwks().keys.len(), 2);
        let new_token = ring.sign(&claims(2_000)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .unwrap(),
            new.kid
        );
        let later = KeyRing::new(&records, 10_000 + 1_000_000, 1_000_000, ISS, AUD);
        assert_eq!(later.jwks().keys.len(), 1);
        assert_eq!(
            later.verify(&old_token, 1_000),
            Err(TokenRejection::UnknownKey)
        );
    }

    #[test]
    fn other_algorithms_types_audiences_and_garbage_are_rejected() {
        let key = generate_signing_key();
        let ring = KeyRing::new(&[record(&key, None)], 0, 1_000, ISS, AUD);
        let token = ring.sign(&claims(2_000)).unwrap();
        let (_, rest) = token.split_once('.').unwrap();

        let hs_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#,
            key.kid
        ));
        assert_eq!(
            ring.verify(&format!("{hs_header}.{rest}"), 0),
            Err(TokenRejection::WrongAlgorithm)
        );
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
        let payload = rest.split('.').next().unwrap();
        assert_eq!(
            ring.verify(&format!("{none_header}.{payload}."), 0),
            Err(TokenRejection::WrongAlgorithm)
        );
        let jwt_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#,
            key.kid
        ));
        assert_eq!(
            ring.verify(&format!("{jwt_header}.{rest}"), 0),
            Err(TokenRejection::WrongType)
        );
        assert_eq!(ring.verify("not-a-jwt", 0), Err(TokenRejection::Malformed));

        let mut tampered = claims(2_000);
        tampered.org = "someone-else".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap());
        let (header, _) = token.split_once('.').unwrap();
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(
            ring.verify(&format!("{header}.{forged_payload}.{signature}"), 0),
            Err(TokenRejection::BadSignature)
        );

        let other_audience = KeyRing::new(&[record(&key, None)], 0, 1_000, ISS, "another-api");
        assert_eq!(
            other_audience.verify(&token, 0),
            Err(TokenRejection::WrongAudience)
        );
        let stranger = KeyRing::new(&[record(&generate_signing_key(), None)], 0, 1_000, ISS, AUD);
        assert_eq!(stranger.verify(&token, 0), Err(TokenRejection::UnknownKey));
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert_eq!(
            thumbprint(&x),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
