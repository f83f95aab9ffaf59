//! Organization-owned API keys: `osk_` + 43 base62 characters (32 random bytes) + 6
//! base62 characters of the CRC-32 of what precedes them, so that a mistyped key is
//! refused before any database read and secret scanners can match the form.
//!
//! Only an HMAC-SHA256 of a key is stored, under a key of its own derived from the JWT
//! secret (`JwtSettings::derived_key("api-key")`: HMAC-SHA256 of
//! `organization-service/api-key` under it). A key is found by its first 12 characters
//! (its prefix, which is not secret: the list shows it) and its HMAC compared in
//! constant time, so the time of a check says nothing about the secret part.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::{constant_time, hmac};
use mongodb::bson::oid::ObjectId;

use crate::config::JwtSettings;
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::api_keys::{self, KeyDoc};

/// Every key starts so.
pub const KEY_PREFIX: &str = "osk_";
/// How many characters of a key are shown (and stored) as its prefix.
pub const PREFIX_LEN: usize = 12;
const BODY_LEN: usize = 43;
const CHECK_LEN: usize = 6;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `bytes` as a big-endian number in base62, left-padded with `0` to `width` digits.
fn base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for byte in number.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        digits.push(ALPHABET[rem as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("base62 digits are ASCII")
}

fn checksum(head: &str) -> String {
    base62(&crc32fast::hash(head.as_bytes()).to_be_bytes(), CHECK_LEN)
}

/// A new key: `osk_...`.
pub fn new_key() -> String {
    let bytes: [u8; 32] = rand::random();
    let head = format!("{KEY_PREFIX}{}", base62(&bytes, BODY_LEN));
    let check = checksum(&head);
    format!("{head}{check}")
}

/// Whether `token` has a key's form and checksum (no database read).
pub fn well_formed(token: &str) -> bool {
    let Some(head) = token.get(..token.len().saturating_sub(CHECK_LEN)) else {
        return false;
    };
    token.len() == KEY_PREFIX.len() + BODY_LEN + CHECK_LEN
        && token.starts_with(KEY_PREFIX)
        && token
            .bytes()
            .skip(KEY_PREFIX.len())
            .all(|b| b.is_ascii_alphanumeric())
        && checksum(head) == token[head.len()..]
}

/// The stored form of a key.
pub fn digest(jwt: &JwtSettings, key: &str) -> String {
    let mac = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &jwt.derived_key("api-key")),
        key.as_bytes(),
    );
    crate::store::invitations::hex(mac.as_ref())
}

fn unknown() -> ApiError {
    ApiError::Unauthorized("Invalid, revoked or expired API key".into())
}

/// Which organization each key prefix belongs to, once seen (it never changes): a warm
/// instance reads a key and its organization at the same time.
static ORG_OF: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// The organization a key prefix was seen with, if it was.
pub fn known_org(prefix: &str) -> Option<String> {
    ORG_OF.lock().ok()?.as_ref()?.get(prefix).cloned()
}

fn remember(prefix: &str, org: &str) {
    if let Ok(mut map) = ORG_OF.lock() {
        let map = map.get_or_insert_with(HashMap::new);
        if map.len() < 10_000 {
            map.insert(prefix.to_owned(), org.to_owned());
        }
    }
}

/// The key behind `token`, if it works now: 401 "Malformed API key" for a key that is
/// not one (no database read), else 401 alike for unknown, revoked and expired keys.
pub async fn check(store: &Store, jwt: &JwtSettings, token: &str) -> ApiResult<KeyDoc> {
    if !well_formed(token) {
        return Err(ApiError::Unauthorized("Malformed API key".into()));
    }
    let prefix = &token[..PREFIX_LEN];
    let key = api_keys::by_prefix(store, prefix).await?;
    let wanted = digest(jwt, token);
    let stored = key.as_ref().map_or(wanted.as_str(), |k| k.hmac.as_str());
    let same = constant_time::verify_slices_are_equal(wanted.as_bytes(), stored.as_bytes()).is_ok();
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    match key {
        Some(key) if same && key.active(now) => {
            remember(prefix, &key.org);
            Ok(key)
        }
        _ => Err(unknown()),
    }
}

/// Records that `key` was used (at most one write a minute per key); best effort: a
/// failure is logged, the request goes on.
pub async fn used(store: &Store, key: &KeyDoc) {
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    if key.last_used_ms < now - 60_000
        && let Err(err) = api_keys::touch(store, key.id, now).await
    {
        tracing::warn!(key = %key.id, error = %err, "could not record the key's use");
    }
}

/// The organization id of a key, as an ObjectId.
pub fn org_id(key: &KeyDoc) -> ApiResult<ObjectId> {
    ObjectId::parse_str(&key.org).map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_form_and_a_checksum() {
        let key = new_key();
        assert_eq!(key.len(), 53);
        assert!(key.starts_with("osk_") && well_formed(&key), "{key}");
        // One character changed: the checksum no longer holds.
        let mut bytes = key.clone().into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        assert!(!well_formed(&String::from_utf8(bytes).unwrap()));
        assert!(!well_formed("osk_short"));
        assert!(!well_formed(&format!("{key}x")));
        assert!(!well_formed(&key.replace("osk_", "osx_")));
        assert_ne!(new_key(), key);
    }

    #[test]
    fn base62_pads_and_encodes_big_endian() {
        assert_eq!(base62(&[0, 0], 3), "000");
        assert_eq!(base62(&[0, 62], 2), "10");
        assert_eq!(base62(&[0xff; 32], 43).len(), 43);
    }
}
