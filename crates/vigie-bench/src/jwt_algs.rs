//! `jwt-algs`: signatures and verifications per second of an access token like
//! Vigie's, with `jsonwebtoken` and its RustCrypto back end as the workspace builds it,
//! for RS256 (2048-bit), ES256 and EdDSA (Ed25519), on one core.
//!
//! "Sign" is `jsonwebtoken::encode` (what issuing a token costs); "verify" is
//! `jsonwebtoken::decode` with issuer and audience validation (what every data request
//! costs). Keys are generated in-process and passed in the DER forms the crate expects.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

const ISSUER: &str = "http://127.0.0.1:8080";
const AUDIENCE: &str = "vigie-api";

/// The claims of a Vigie access token, with values of typical sizes.
#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    client_id: String,
    org: String,
    scope: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// One algorithm's key pair, ready for `jsonwebtoken`.
struct KeyPair {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// RS256 with a 2048-bit key: PKCS#1 DER both ways.
fn rs256() -> anyhow::Result<KeyPair> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048)?;
    Ok(KeyPair {
        algorithm: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der()?.as_bytes()),
        decoding: DecodingKey::from_rsa_der(private.to_public_key().to_pkcs1_der()?.as_bytes()),
    })
}

/// ES256: a PKCS#8 private key and an uncompressed SEC1 public point.
fn es256() -> anyhow::Result<KeyPair> {
    use p256::pkcs8::EncodePrivateKey;
    let private = p256::ecdsa::SigningKey::random(&mut OsRng);
    Ok(KeyPair {
        algorithm: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(private.to_pkcs8_der()?.as_bytes()),
        decoding: DecodingKey::from_ec_der(
            private.verifying_key().to_encoded_point(false).as_bytes(),
        ),
    })
}

/// EdDSA (Ed25519): a PKCS#8 private key and the raw 32-byte public key, as Vigie stores them.
fn eddsa() -> anyhow::Result<KeyPair> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let private = ed25519_dalek::SigningKey::generate(&mut OsRng);
    Ok(KeyPair {
        algorithm: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(private.to_pkcs8_der()?.as_bytes()),
        decoding: DecodingKey::from_ed_der(private.verifying_key().as_bytes()),
    })
}

/// One row of the table.
struct Row {
    algorithm: Algorithm,
    sign_per_second: f64,
    verify_per_second: f64,
    token_length: usize,
}

/// Measures every algorithm and prints the table, with ratios against RS256.
pub fn run(iterations: u32) -> anyhow::Result<()> {
    let claims = Claims {
        iss: ISSUER.into(),
        sub: uuid::Uuid::new_v4().to_string(),
        client_id: uuid::Uuid::new_v4().to_string(),
        org: uuid::Uuid::new_v4().to_string(),
        scope: "data".into(),
        aud: AUDIENCE.into(),
        iat: 1_767_225_600,
        exp: 1_767_398_400,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let mut rows = Vec::new();
    for keys in [rs256()?, es256()?, eddsa()?] {
        let mut header = Header::new(keys.algorithm);
        header.typ = Some("at+jwt".into());
        header.kid = Some("k".repeat(43));
        let mut validation = Validation::new(keys.algorithm);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let sign = || jsonwebtoken::encode(&header, &claims, &keys.encoding);
        let token = sign().with_context(|| format!("signing with {:?}", keys.algorithm))?;
        let verify = || jsonwebtoken::decode::<Claims>(&token, &keys.decoding, &validation);
        verify().with_context(|| format!("verifying with {:?}", keys.algorithm))?;
        rows.push(Row {
            algorithm: keys.algorithm,
            sign_per_second: rate(iterations, || drop(black_box(sign()))),
            verify_per_second: rate(iterations, || drop(black_box(verify()))),
            token_length: token.len(),
        });
    }
    let (rs_sign, rs_verify) = (rows[0].sign_per_second, rows[0].verify_per_second);
    println!("algorithm    sign/s  verify/s  sign vs RS256  verify vs RS256  token chars");
    for row in &rows {
        println!(
            "{:<9} {:>9.0} {:>9.0} {:>13.2}x {:>15.2}x {:>12}",
            format!("{:?}", row.algorithm),
            row.sign_per_second,
            row.verify_per_second,
            row.sign_per_second / rs_sign,
            row.verify_per_second / rs_verify,
            row.token_length,
        );
    }
    Ok(())
}

/// Operations per second of `op` over `iterations` calls, after a tenth as many unmeasured.
fn rate(iterations: u32, mut op: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        op();
    }
    let started = Instant::now();
    for _ in 0..iterations {
        op();
    }
    f64::from(iterations) / started.elapsed().as_secs_f64()
}
