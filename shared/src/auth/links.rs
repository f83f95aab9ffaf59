//! One-time link tokens (invitations, password resets, address verification): 32
//! random bytes, URL-safe base64 without padding (43 characters), stored only as their
//! SHA-256 (hex).

use base64::Engine;

use crate::store::invitations::hex;

/// A new token and the SHA-256 (hex) that is stored: `(hash, token)`.
pub fn new_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    (hash_of(&token), token)
}

/// The stored form of a token.
pub fn hash_of(token: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

/// A token as a client sends it: any string up to a sane length (an unknown one is
/// 404, like a used one).
pub fn token_text(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 256 {
        return Err("Token must be 1 to 256 characters long".into());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_stored_hashed() {
        let (hash, token) = new_token();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(hash, hash_of(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(new_token().1, token);
    }
}
