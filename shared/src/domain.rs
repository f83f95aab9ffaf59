//! Domain values parsed from untrusted input: once built, they are valid.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// An organization's name: 3–50 of `[A-Za-z0-9_-]`, kept lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);

impl OrganizationName {
    /// Parses and lowercases a name, or says what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(3..=50).contains(&len) {
            return Err("Organization name must be 3 to 50 characters long".into());
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(
                "Organization name may contain only letters A-Z, digits, '_' and '-'".into(),
            );
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The name as stored (lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant collection of this name: `org_` + name with `-` as `_`.
    pub fn collection_name(&self) -> String {
        collection_of(&self.0)
    }
}

/// The tenant collection of a stored organization name: `org_` + name with `-` as `_`.
pub fn collection_of(name: &str) -> String {
    format!("org_{}", name.replace('-', "_"))
}

/// An email address in its one canonical form: ASCII, at most 254 bytes, trimmed and
/// lowercased, in the dot-atom form only (no quoted local part, no comment, no IP
/// literal), so that two spellings of one mailbox, or a string that only reads like an
/// address, never pass for different accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// The characters of an atom (RFC 5322 `atext`), besides letters and digits.
const ATEXT: &[u8] = b"!#$%&'*+/=?^_`{|}~-";

/// `local` is dot-atoms: atoms of `atext` joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || ATEXT.contains(&b))
        })
}

/// `domain` is a host name of at least two labels of letters, digits and inner hyphens.
fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Email {
    /// Parses an email address into its canonical form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let invalid = || "Value is not a valid email address".to_owned();
        if raw.len() > 254 || !raw.is_ascii() {
            return Err(invalid());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
        if !is_dot_atom(local) || !is_host_name(domain) {
            return Err(invalid());
        }
        raw.parse::<email_address::EmailAddress>()
            .map_err(|_| invalid())?;
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The address as stored (lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the rules: 8–72 bytes, upper, lower and a digit. Never printed.
pub struct Password(SecretString);

impl Password {
    /// Checks the rules; the error never contains the password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() < 8 {
            return Err("Password must be at least 8 characters long".into());
        }
        if raw.len() > 72 {
            return Err("Password must be at most 72 bytes long (bcrypt's limit)".into());
        }
        if raw.contains('\0') {
            return Err("Password must not contain a NUL character".into());
        }
        let has = |f: fn(&char) -> bool| raw.chars().any(|c| f(&c));
        if !has(char::is_ascii_uppercase)
            || !has(char::is_ascii_lowercase)
            || !has(char::is_ascii_digit)
        {
            return Err(
                "Password must contain at least one uppercase letter, one lowercase letter and one digit"
                    .into(),
            );
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads, items, its own account.
    Member,
    /// And invitations, and members' roles between `member` and `admin`.
    Admin,
    /// Everything, the organization itself included.
    Owner,
}

impl Role {
    /// Parses `member`, `admin` or `owner`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err("Role must be one of member, admin, owner".into()),
        }
    }

    /// The role as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_mapped_to_identifiers() {
        let name = OrganizationName::parse("Acme-Corp").unwrap();
        assert_eq!(name.as_str(), "acme-corp");
        assert_eq!(name.collection_name(), "org_acme_corp");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "ab",
            &"a".repeat(51),
            "system.x",
            "$cmd",
            "..",
            "a\0bc",
            "аcme",
            "a b c",
            "",
        ] {
            assert!(OrganizationName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(OrganizationName::parse(&"a".repeat(50)).is_ok());
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            Email::parse("Admin@Acme.COM").unwrap().as_str(),
            "admin@acme.com"
        );
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "аdmin@acme.com",
            "a@b.com\0",
            "$gt@",
            // Only the dot-atom form: no quoted local part, comment or IP literal.
            "\"r1x-oa@example.com\"@evil.example",
            "\"r1x-ma\"@example.com",
            "a(comment)@example.com",
            "a@[127.0.0.1]",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@-example.com",
            "a@example..com",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "first.last+tag@sub.example.com",
            "o'brien@example.ie",
            " A@B.CO ",
        ] {
            assert!(Email::parse(good).is_ok(), "{good:?} refused");
        }
        assert_eq!(Email::parse(" A@B.CO ").unwrap().as_str(), "a@b.co");
    }

    #[test]
    fn password_rules_hold_and_secrets_stay_hidden() {
        assert!(Password::parse("Passw0rd").is_ok());
        for bad in [
            "Sh0rt",
            "alllower1",
            "ALLUPPER1",
            "NoDigitsHere",
            &format!("Aa1{}", "x".repeat(70)),
        ] {
            assert!(Password::parse(bad).is_err(), "{bad:?} accepted");
        }
        let p = Password::parse("Secret123").unwrap();
        assert!(!format!("{p:?}").contains("Secret123"));
        assert_eq!(p.expose(), "Secret123");
    }
}

/// (v3) What an organization's creator may say of it besides its name.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Its `metadata`.
    pub metadata: Metadata,
    /// Its `external_id`.
    pub external_id: Option<ExternalId>,
}

/// (v3) The caller's own id for an organization: 1–64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId(String);

impl ExternalId {
    /// Checks the form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let printable = raw.bytes().all(|b| (0x20..0x7f).contains(&b));
        if (1..=64).contains(&raw.len()) && printable {
            Ok(Self(raw.to_owned()))
        } else {
            Err("External id must be 1-64 printable ASCII characters".into())
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// (v3) An organization's `metadata`: at most 50 keys of 1–40 `[A-Za-z0-9_.-]`, each a
/// string of at most 500 characters, at most 8 KB as JSON. Stored as that JSON text, so
/// that keys with dots never meet MongoDB's field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(std::collections::BTreeMap<String, String>);

/// Changes to [`Metadata`]: each key to a new value, or `None` to remove it.
pub type MetadataChanges = std::collections::BTreeMap<String, Option<String>>;

impl Metadata {
    const MAX_KEYS: usize = 50;
    const MAX_BYTES: usize = 8 * 1024;

    /// The changes of a request body's object (`null` removes a key).
    pub fn changes(value: &serde_json::Value) -> Result<MetadataChanges, String> {
        let object = value.as_object().ok_or("Metadata must be an object")?;
        if object.len() > Self::MAX_KEYS {
            return Err(format!("Metadata may have at most {} keys", Self::MAX_KEYS));
        }
        let mut changes = MetadataChanges::new();
        for (key, value) in object {
            let key_ok = (1..=40).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !key_ok {
                return Err("Metadata keys must be 1-40 of [A-Za-z0-9_.-]".into());
            }
            let value = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.chars().count() <= 500 => Some(s.clone()),
                _ => return Err("Metadata values must be strings of at most 500 characters".into()),
            };
            changes.insert(key.clone(), value);
        }
        Ok(changes)
    }

    /// A new organization's metadata (no `null`s).
    pub fn parse(value: &serde_json::Value) -> Result<Self, String> {
        let changes = Self::changes(value)?;
        if changes.values().any(Option::is_none) {
            return Err("Metadata values must be strings of at most 500 characters".into());
        }
        Self::default().merged(&changes)
    }

    /// These metadata with `changes` applied, within the limits.
    pub fn merged(&self, changes: &MetadataChanges) -> Result<Self, String> {
        let mut map = self.0.clone();
        for (key, value) in changes {
            match value {
                Some(v) => map.insert(key.clone(), v.clone()),
                None => map.remove(key),
            };
        }
        let merged = Self(map);
        if merged.0.len() > Self::MAX_KEYS {
            return Err(format!("Metadata may have at most {} keys", Self::MAX_KEYS));
        }
        if merged.to_json().len() > Self::MAX_BYTES {
            return Err("Metadata may be at most 8 KB".into());
        }
        Ok(merged)
    }

    /// The stored form (JSON text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// Metadata from their stored form (empty if there are none).
    pub fn from_json(text: Option<&str>) -> Self {
        Self(
            text.and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        )
    }

    /// As a JSON object.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
