//! Webhooks as the receiver sees them: secrets, Standard Webhooks signatures, the rules
//! an endpoint's URL must meet (and its host's addresses, at registration and at every
//! attempt), and one attempt, made to the address that was checked.
//!
//! A secret is `whsec_` + base64 of 32 random bytes, shown once. It is stored sealed
//! (AES-256-GCM under a key derived from the JWT secret for this purpose alone), so a
//! copy of the database does not sign anything.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::config::JwtSettings;

/// How long an attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a host's name may take to resolve.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long both secrets sign after a rotation.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;
/// The most of a receiver's answer kept (in the attempt's `error`).
const KEPT_ANSWER: usize = 1024;

/// One stored secret: sealed, and until when it signs (`None`: the current one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSecret {
    /// Nonce and ciphertext, base64.
    pub sealed: String,
    /// When it stops signing (ms since the epoch), after a rotation.
    #[serde(default)]
    pub until_ms: Option<i64>,
}

fn sealing_key(jwt: &JwtSettings) -> LessSafeKey {
    let key = jwt.derived_key("webhook-secret");
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte AES-256 key"))
}

/// A new secret: what the API shows once (`whsec_...`), and how it is stored.
pub fn new_secret(jwt: &JwtSettings) -> (String, StoredSecret) {
    let bytes: [u8; 32] = rand::random();
    let nonce: [u8; 12] = rand::random();
    let mut sealed = bytes.to_vec();
    sealing_key(jwt)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .expect("sealing 32 bytes");
    let mut stored = nonce.to_vec();
    stored.extend_from_slice(&sealed);
    (
        format!("whsec_{}", B64.encode(bytes)),
        StoredSecret {
            sealed: B64.encode(stored),
            until_ms: None,
        },
    )
}

/// The key bytes of the secrets that sign now (the current one, and one rotated out
/// less than a day ago).
pub fn signing_keys(jwt: &JwtSettings, secrets: &str, now_ms: i64) -> Vec<Vec<u8>> {
    let stored: Vec<StoredSecret> = serde_json::from_str(secrets).unwrap_or_default();
    let key = sealing_key(jwt);
    stored
        .iter()
        .filter(|s| s.until_ms.is_none_or(|until| until > now_ms))
        .filter_map(|s| {
            let raw = B64.decode(&s.sealed).ok()?;
            let (nonce, sealed) = raw.split_at_checked(12)?;
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut in_out = sealed.to_vec();
            let open = key.open_in_place(nonce, Aad::empty(), &mut in_out).ok()?;
            Some(open.to_vec())
        })
        .collect()
}

/// The secrets after a rotation: `fresh` signs from now on, the current one for one
/// more day; older ones are dropped.
pub fn rotated(secrets: &str, fresh: StoredSecret, now_ms: i64) -> String {
    let stored: Vec<StoredSecret> = serde_json::from_str(secrets).unwrap_or_default();
    let mut kept = vec![fresh];
    kept.extend(
        stored
            .into_iter()
            .filter(|s| s.until_ms.is_none())
            .map(|mut s| {
                s.until_ms = Some(now_ms + ROTATION_OVERLAP_MS);
                s
            }),
    );
    serde_json::to_string(&kept).unwrap_or_default()
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>`
/// under each key, space-separated.
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    use aws_lc_rs::hmac;
    let content = format!("{id}.{timestamp}.{body}");
    keys.iter()
        .map(|k| {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k), content.as_bytes());
            format!("v1,{}", B64.encode(tag.as_ref()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks an endpoint URL's form: `https` (also `http` with `local`), no credentials,
/// a host, at most 2,048 characters. The parsed URL, or what is wrong.
pub fn check_url(raw: &str, local: bool) -> Result<reqwest::Url, String> {
    if raw.len() > 2048 {
        return Err("URL must be at most 2048 characters long".into());
    }
    let url = reqwest::Url::parse(raw).map_err(|_| "URL is not a valid absolute URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err("URL must use https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("URL must not contain credentials".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("URL must have a host".into());
    }
    Ok(url)
}

/// Whether an address is one an endpoint may never be: loopback, private,
/// link-local, unique-local, shared (CGNAT), cloud metadata, unspecified, broadcast,
/// multicast or documentation; IPv4 inside IPv6 (mapped, NAT64) as its IPv4.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 (64:ff9b::/96): the IPv4 address in its last 32 bits.
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7 (fd00:ec2::254 included)
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, the metadata address 169.254.169.254 included
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

/// The address to connect to for `url`: its host resolved, refused if any address is
/// forbidden (outside local mode, where loopback is allowed so that a receiver on the
/// same machine works).
pub async fn safe_address(url: &reqwest::Url, local: bool) -> Result<SocketAddr, String> {
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| format!("the host {host} did not resolve within 3 s"))?
            .map_err(|_| format!("the host {host} does not resolve"))?
            .collect(),
    };
    let allowed = |ip: IpAddr| !forbidden(ip) || (local && ip.is_loopback());
    match addresses.first() {
        None => Err(format!("the host {host} does not resolve")),
        Some(_) if addresses.iter().any(|a| !allowed(a.ip())) => Err(format!(
            "the host {host} resolves to a loopback, private, link-local or metadata address"
        )),
        Some(first) => Ok(*first),
    }
}

/// What one attempt gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started (`2026-01-01T10:30:00.123Z`).
    pub at: String,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed (the first 1 KB of a receiver's non-2xx answer, or the cause).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

impl Attempt {
    /// Whether the receiver took it (any 2xx).
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One attempt: the checks of the URL and its host (again: the address may have
/// changed since registration), then a `POST` of `body` to the address checked, signed,
/// without following redirects, within 10 s.
pub async fn attempt(
    url: &str,
    local: bool,
    (id, keys): (&str, &[Vec<u8>]),
    body: &str,
    at: String,
) -> Attempt {
    let start = Instant::now();
    let result = send(url, local, id, keys, body).await;
    let duration_ms = start.elapsed().as_millis() as u64;
    match result {
        Ok((status, _)) if (200..300).contains(&status) => Attempt {
            at,
            status_code: Some(status),
            error: None,
            duration_ms,
        },
        Ok((status, text)) => Attempt {
            at,
            status_code: Some(status),
            error: Some(match kept(&text) {
                "" => format!("HTTP {status}"),
                answer => answer.to_owned(),
            }),
            duration_ms,
        },
        Err(error) => Attempt {
            at,
            status_code: None,
            error: Some(error),
            duration_ms,
        },
    }
}

async fn send(
    url: &str,
    local: bool,
    id: &str,
    keys: &[Vec<u8>],
    body: &str,
) -> Result<(u16, String), String> {
    let url = check_url(url, local)?;
    let address = safe_address(&url, local).await?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Straight to the address checked: a proxy would resolve the host again.
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .resolve(&host, address)
        .user_agent("organization-service-webhooks/1")
        .build()
        .map_err(|_| "could not prepare the request".to_owned())?;
    let timestamp = mongodb::bson::DateTime::now().timestamp_millis() / 1000;
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(keys, id, timestamp, body))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer within 10 s".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    Ok((status, text))
}

/// The first 1 KB of a receiver's answer (on a character boundary).
fn kept(text: &str) -> &str {
    let mut end = text.len().min(KEPT_ANSWER);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_class_is_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_https_without_credentials() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("ftp://hooks.example.com/", false).is_err());
        assert!(
            check_url(
                &format!("https://h.example.com/{}", "a".repeat(2048)),
                false
            )
            .is_err()
        );
        assert!(check_url("not a url", false).is_err());
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The Standard Webhooks specification's example.
        let key = B64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_sealed_and_both_sign_after_a_rotation() {
        let jwt = JwtSettings {
            secret: "k3J9w2QmX8vR4tY7uI0oP5aS6dF1gH2jL3zX".into(),
            issuer: String::new(),
            audience: String::new(),
            ttl: Duration::from_secs(60),
        };
        let (shown, stored) = new_secret(&jwt);
        let bytes = B64.decode(shown.strip_prefix("whsec_").unwrap()).unwrap();
        assert!(
            !stored
                .sealed
                .contains(shown.strip_prefix("whsec_").unwrap())
        );
        let one = serde_json::to_string(&vec![stored]).unwrap();
        assert_eq!(signing_keys(&jwt, &one, 0), vec![bytes.clone()]);
        let (_, fresh) = new_secret(&jwt);
        let two = rotated(&one, fresh, 1000);
        assert_eq!(signing_keys(&jwt, &two, 1000).len(), 2);
        assert_eq!(
            signing_keys(&jwt, &two, 1000 + ROTATION_OVERLAP_MS).len(),
            1
        );
        assert!(!signing_keys(&jwt, &two, 1000 + ROTATION_OVERLAP_MS).contains(&bytes));
    }
}
