//! HTTP Basic client credentials as RFC 6749 §2.3.1 defines them: the client id and
//! secret are form-urlencoded, then joined by `:` and base64-encoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why an `Authorization: Basic` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    /// The header is not `Basic <base64>`.
    #[error("Authorization header is not 'Basic <base64 credentials>'")]
    NotBasic,
    /// The credentials are not valid base64.
    #[error("Basic credentials are not valid base64")]
    Base64,
    /// There is no `:` between id and secret.
    #[error("Basic credentials have no ':' between client id and secret")]
    NoSeparator,
    /// The id or secret is not UTF-8 once decoded.
    #[error("Basic credentials are not UTF-8")]
    NotUtf8,
    /// The client id is empty.
    #[error("Basic credentials have an empty client id")]
    EmptyId,
}

/// Decodes an `Authorization` header value into `(client_id, client_secret)`.
///
/// # Errors
/// A [`BasicError`] saying what is wrong; never the credentials themselves.
pub fn parse_basic_credentials(header: &[u8]) -> Result<(String, String), BasicError> {
    let header = std::str::from_utf8(header).map_err(|_| BasicError::NotBasic)?;
    let (scheme, encoded) = header.trim().split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicError::NotBasic);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| BasicError::Base64)?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or(BasicError::NoSeparator)?;
    let id = form_decode(&decoded[..colon]).ok_or(BasicError::NotUtf8)?;
    let secret = form_decode(&decoded[colon + 1..]).ok_or(BasicError::NotUtf8)?;
    if id.is_empty() {
        return Err(BasicError::EmptyId);
    }
    Ok((id, secret))
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value (`+` is a
/// space, `%XX` a byte): `None` unless the result is UTF-8, where the `form_urlencoded`
/// crate would silently replace bad bytes.
pub fn form_decode(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_encoding::percent_decode(&plus_as_space).collect()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn plain_credentials() {
        assert_eq!(
            parse_basic_credentials(header("app:vgs_secret").as_bytes()),
            Ok(("app".into(), "vgs_secret".into()))
        );
    }

    #[test]
    fn form_encoded_credentials_are_decoded() {
        assert_eq!(
            parse_basic_credentials(header("my%20app:s%3Acret+x").as_bytes()),
            Ok(("my app".into(), "s:cret x".into()))
        );
    }

    #[test]
    fn secret_may_contain_colons_after_the_first() {
        assert_eq!(
            parse_basic_credentials(header("a:b:c").as_bytes()),
            Ok(("a".into(), "b:c".into()))
        );
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let value = format!("bAsIc {}", STANDARD.encode("a:b"));
        assert!(parse_basic_credentials(value.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(
            parse_basic_credentials(b"Bearer abc"),
            Err(BasicError::NotBasic)
        );
        assert_eq!(parse_basic_credentials(b"Basic"), Err(BasicError::NotBasic));
        assert_eq!(
            parse_basic_credentials(b"Basic !!!"),
            Err(BasicError::Base64)
        );
        assert_eq!(
            parse_basic_credentials(header("nocolon").as_bytes()),
            Err(BasicError::NoSeparator)
        );
        assert_eq!(
            parse_basic_credentials(header(":secret").as_bytes()),
            Err(BasicError::EmptyId)
        );
        assert_eq!(
            parse_basic_credentials(header("a:%FF").as_bytes()),
            Err(BasicError::NotUtf8)
        );
        let raw = format!("Basic {}", STANDARD.encode([b'a', b':', 0xff]));
        assert_eq!(
            parse_basic_credentials(raw.as_bytes()),
            Err(BasicError::NotUtf8)
        );
    }
}
