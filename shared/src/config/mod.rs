//! Typed settings read from the environment once per cold start (secrets from AWS
//! Secrets Manager where the environment names them: [`secrets`]).

pub mod secrets;

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// The development secret used only with `APP_ENV=local` when `JWT_SECRET` is unset.
const LOCAL_DEV_SECRET: &str = "local-development-only-insecure-jwt-secret-do-not-deploy";

/// Secrets that are public knowledge (framework defaults, tutorials) and so refused.
const KNOWN_DEFAULTS: &[&str] = &[
    LOCAL_DEV_SECRET,
    "secret",
    "changeme",
    "change-me",
    "your-secret-key",
    "your-secret-key-change-in-production",
    "your-super-secret-key-change-this-in-production",
    "supersecretkey",
    "jwt-secret",
    "jwt_secret_key",
];

/// Shortest JWT secret accepted outside local development, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the service refuses to start. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable that must be set is not.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable holds a value that cannot be used.
    #[error("{name} is invalid: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong (never the value of a secret).
        why: String,
    },
    /// A secret could not be read from AWS.
    #[error("could not read {name} from AWS: {why}")]
    Secret {
        /// The variable naming the secret.
        name: &'static str,
        /// What went wrong.
        why: String,
    },
}

/// JWT issuing and checking settings.
pub struct JwtSettings {
    /// The HS256 key.
    pub secret: SecretString,
    /// The `iss` claim issued and required.
    pub issuer: String,
    /// The `aud` claim issued and required.
    pub audience: String,
    /// Lifetime of an access token.
    pub ttl: Duration,
}

/// How the service sends email (`crate::email`).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `EMAIL_FROM`: the sender, a verified SES identity. Unset (outside local mode
    /// with a mail folder): nothing is sent.
    pub from: Option<String>,
    /// `MAIL_DIR`: write each message as an `.eml` file here instead of sending it
    /// (`make run` points it at `.local/mail`).
    pub mail_dir: Option<std::path::PathBuf>,
    /// `APP_URL`: the console's public address, the base of every link (default: the
    /// API's own `/dashboard`, from the request).
    pub app_url: Option<String>,
    /// `EMAIL_CHANGE_VERIFICATION=true`: a new email takes effect once its link is
    /// confirmed.
    pub change_verification: bool,
}

impl EmailSettings {
    /// Whether messages go anywhere (SES, or the mail folder).
    pub fn configured(&self) -> bool {
        self.from.is_some() || self.mail_dir.is_some()
    }

    fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let from = match get("EMAIL_FROM") {
            Some(raw) => Some(
                crate::domain::Email::parse(&raw)
                    .map_err(|_| ConfigError::Invalid {
                        name: "EMAIL_FROM",
                        why: "must be a plain email address (a verified SES identity)".into(),
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let app_url = match get("APP_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "APP_URL",
                    why: "must start with https:// or http://".into(),
                });
            }
            None => None,
        };
        let change_verification = match get("EMAIL_CHANGE_VERIFICATION").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "EMAIL_CHANGE_VERIFICATION",
                    why: "must be true or false".into(),
                });
            }
        };
        let settings = Self {
            from,
            mail_dir: get("MAIL_DIR").map(std::path::PathBuf::from),
            app_url,
            change_verification,
        };
        if settings.change_verification && !settings.configured() {
            return Err(ConfigError::Invalid {
                name: "EMAIL_CHANGE_VERIFICATION",
                why: "true needs email: set EMAIL_FROM (or MAIL_DIR)".into(),
            });
        }
        Ok(settings)
    }
}

/// Everything the service needs to know about its environment.
pub struct Config {
    /// `APP_ENV=local` relaxes the JWT secret rule for development.
    pub local: bool,
    /// The name reported by `/health`.
    pub service_name: String,
    /// Where MongoDB is (may hold credentials).
    pub mongodb_uri: SecretString,
    /// Database of the registry (`organizations`, `login_attempts`).
    pub master_db: String,
    /// Database holding the tenant collections.
    pub tenant_db: String,
    /// Token settings.
    pub jwt: JwtSettings,
    /// bcrypt work factor for new hashes.
    pub bcrypt_cost: u32,
    /// Most connections one function instance opens.
    pub max_pool_size: u32,
    /// How long to wait for MongoDB before answering 503.
    pub db_timeout: Duration,
    /// How long audit events are kept (`AUDIT_RETENTION_DAYS`).
    pub audit_retention: Duration,
    /// (v3) How long a deleted organization can be restored (`DELETE_GRACE_DAYS`; zero
    /// purges it at once).
    pub delete_grace: Duration,
    /// Email: sender, transport, links.
    pub email: EmailSettings,
    /// How long one run of the dispatcher polls (`DISPATCH_SECONDS`; its schedule's
    /// period, less a margin).
    pub dispatch_window: Duration,
    /// Webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// Writes allowed per caller and per minute.
    pub write_limits: WriteLimits,
    /// (v3) The operator API's bearer token under `make run` (`OPERATOR_TOKEN`, at least
    /// 32 characters; refused outside `APP_ENV=local`, where IAM decides).
    pub operator_token: Option<SecretString>,
}

/// How many state-changing requests a caller may make per minute, across instances.
#[derive(Debug, Clone, Copy)]
pub struct WriteLimits {
    /// Per API key or user (`WRITE_LIMIT_PER_MINUTE`).
    pub per_caller: i64,
    /// Per client IP, for the unauthenticated writes (`ANON_WRITE_LIMIT_PER_MINUTE`).
    pub per_ip: i64,
}

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Waits before each retry of a failed attempt (`WEBHOOK_RETRY_SCHEDULE`, seconds).
    pub retry_schedule: Vec<Duration>,
    /// An endpoint failing this long is disabled (`WEBHOOK_DISABLE_AFTER_HOURS`).
    pub disable_after: Duration,
    /// How long events are kept (`EVENTS_RETENTION_DAYS`).
    pub events_retention: Duration,
}

/// The contract's retry schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
const RETRY_SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18_000, 36_000, 36_000];

fn retry_schedule(raw: Option<&str>) -> Result<Vec<Duration>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(RETRY_SCHEDULE
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect());
    };
    let parsed: Option<Vec<Duration>> = raw
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
        })
        .map(|n| n.map(Duration::from_secs))
        .collect();
    parsed
        .filter(|v| (1..=20).contains(&v.len()))
        .ok_or(ConfigError::Invalid {
            name: "WEBHOOK_RETRY_SCHEDULE",
            why: "must be 1 to 20 comma-separated whole seconds, each from 1 to 86400".into(),
        })
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("local", &self.local)
            .field("service_name", &self.service_name)
            .field("master_db", &self.master_db)
            .field("tenant_db", &self.tenant_db)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the process environment, fetching secrets from AWS where ARNs are given.
    pub async fn load() -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        secrets::resolve(&mut vars)
            .await
            .map_err(|e| ConfigError::Secret {
                name: e.name,
                why: e.why,
            })?;
        Self::from_vars(&vars)
    }

    /// Builds the settings from a map of variables (the environment, or a test's).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let local = match get("APP_ENV") {
            None => false,
            Some(v) => v.eq_ignore_ascii_case("local"),
        };
        let mongodb_uri = get("MONGODB_URI").ok_or(ConfigError::Missing("MONGODB_URI"))?;
        if !(mongodb_uri.starts_with("mongodb://") || mongodb_uri.starts_with("mongodb+srv://")) {
            return Err(ConfigError::Invalid {
                name: "MONGODB_URI",
                why: "must start with mongodb:// or mongodb+srv://".into(),
            });
        }
        let secret = jwt_secret(get("JWT_SECRET"), local)?;
        let name_var = |key: &'static str, default: &str| -> Result<String, ConfigError> {
            let v = get(key).unwrap_or(default);
            let ok = !v.is_empty()
                && v.len() <= 38
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            ok.then(|| v.to_owned()).ok_or(ConfigError::Invalid {
                name: key,
                why: "must be 1-38 of [A-Za-z0-9_-]".into(),
            })
        };
        Ok(Self {
            local,
            service_name: get("SERVICE_NAME")
                .unwrap_or("organization-service")
                .to_owned(),
            mongodb_uri: SecretString::from(mongodb_uri),
            master_db: name_var("MASTER_DB", "org_master")?,
            tenant_db: name_var("TENANT_DB", "org_tenants")?,
            jwt: JwtSettings {
                secret,
                issuer: get("JWT_ISSUER")
                    .unwrap_or("organization-service")
                    .to_owned(),
                audience: get("JWT_AUDIENCE").unwrap_or("organization-api").to_owned(),
                ttl: Duration::from_secs(number(
                    get("JWT_TTL_SECONDS"),
                    "JWT_TTL_SECONDS",
                    3600,
                    60..=86_400,
                )?),
            },
            bcrypt_cost: number(get("BCRYPT_COST"), "BCRYPT_COST", 12, 4..=31)? as u32,
            max_pool_size: number(
                get("MONGODB_MAX_POOL_SIZE"),
                "MONGODB_MAX_POOL_SIZE",
                2,
                1..=100,
            )? as u32,
            db_timeout: Duration::from_millis(number(
                get("MONGODB_TIMEOUT_MS"),
                "MONGODB_TIMEOUT_MS",
                5000,
                100..=60_000,
            )?),
            audit_retention: Duration::from_secs(
                24 * 3600
                    * number(
                        get("AUDIT_RETENTION_DAYS"),
                        "AUDIT_RETENTION_DAYS",
                        365,
                        1..=3650,
                    )?,
            ),
            delete_grace: Duration::from_secs(
                24 * 3600 * number(get("DELETE_GRACE_DAYS"), "DELETE_GRACE_DAYS", 30, 0..=3650)?,
            ),
            email: EmailSettings::from_vars(&|k| get(k).map(str::to_owned))?,
            dispatch_window: Duration::from_secs(number(
                get("DISPATCH_SECONDS"),
                "DISPATCH_SECONDS",
                55,
                1..=840,
            )?),
            webhooks: WebhookSettings {
                retry_schedule: retry_schedule(get("WEBHOOK_RETRY_SCHEDULE"))?,
                disable_after: Duration::from_secs(
                    3600 * number(
                        get("WEBHOOK_DISABLE_AFTER_HOURS"),
                        "WEBHOOK_DISABLE_AFTER_HOURS",
                        120,
                        1..=8760,
                    )?,
                ),
                events_retention: Duration::from_secs(
                    24 * 3600
                        * number(
                            get("EVENTS_RETENTION_DAYS"),
                            "EVENTS_RETENTION_DAYS",
                            30,
                            1..=3650,
                        )?,
                ),
            },
            operator_token: operator_token(get("OPERATOR_TOKEN"), local)?,
            write_limits: WriteLimits {
                per_caller: number(
                    get("WRITE_LIMIT_PER_MINUTE"),
                    "WRITE_LIMIT_PER_MINUTE",
                    120,
                    1..=1_000_000,
                )? as i64,
                per_ip: number(
                    get("ANON_WRITE_LIMIT_PER_MINUTE"),
                    "ANON_WRITE_LIMIT_PER_MINUTE",
                    10,
                    1..=1_000_000,
                )? as i64,
            },
        })
    }
}

/// `OPERATOR_TOKEN`: only in local development (on AWS the operator routes use IAM), and
/// long enough not to be guessed.
fn operator_token(raw: Option<&str>, local: bool) -> Result<Option<SecretString>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(_) if !local => Err(ConfigError::Invalid {
            name: "OPERATOR_TOKEN",
            why: "is accepted only with APP_ENV=local (on AWS the operator routes use IAM)".into(),
        }),
        Some(t) if t.len() < 32 => Err(ConfigError::Invalid {
            name: "OPERATOR_TOKEN",
            why: "must be at least 32 characters".into(),
        }),
        Some(t) => Ok(Some(SecretString::from(t.to_owned()))),
    }
}

/// Parses an optional integer variable within bounds.
fn number(
    raw: Option<&str>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let value = match raw {
        None => default,
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name,
            why: "must be a whole number".into(),
        })?,
    };
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            why: format!("must be between {} and {}", range.start(), range.end()),
        })
    }
}

/// Accepts a strong secret; in local mode also a weak or missing one.
fn jwt_secret(raw: Option<&str>, local: bool) -> Result<SecretString, ConfigError> {
    let weak = |s: &str| {
        s.len() < MIN_SECRET_BYTES || KNOWN_DEFAULTS.iter().any(|d| d.eq_ignore_ascii_case(s))
    };
    match raw {
        Some(s) if !weak(s) => Ok(SecretString::from(s)),
        _ if local => {
            tracing::warn!(
                "APP_ENV=local: using a weak or development JWT secret; never deploy this"
            );
            Ok(SecretString::from(raw.unwrap_or(LOCAL_DEV_SECRET)))
        }
        None => Err(ConfigError::Missing("JWT_SECRET")),
        Some(_) => Err(ConfigError::Invalid {
            name: "JWT_SECRET",
            why: format!(
                "must be at least {MIN_SECRET_BYTES} bytes and not a well-known default (set APP_ENV=local for development)"
            ),
        }),
    }
}

impl JwtSettings {
    /// The key bytes of the tokens' HS256 signatures.
    pub fn key(&self) -> &[u8] {
        self.secret.expose_secret().as_bytes()
    }

    /// A key of its own for `purpose`, derived from the secret: HMAC-SHA256 of
    /// `organization-service/<purpose>` under the secret. No two uses share a key, so
    /// (for instance) an idempotency fingerprint is never a MAC under the JWT key.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.key());
        let tag = hmac::sign(&key, format!("organization-service/{purpose}").as_bytes());
        let mut out = [0; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    const URI: (&str, &str) = ("MONGODB_URI", "mongodb://127.0.0.1:27017");
    const STRONG: (&str, &str) = ("JWT_SECRET", "k3J9w2QmX8vR4tY7uI0oP5aS6dF1gH2jL3zX");

    #[test]
    fn refuses_missing_short_or_default_secret_outside_local() {
        assert!(matches!(
            Config::from_vars(&vars(&[URI])),
            Err(ConfigError::Missing("JWT_SECRET"))
        ));
        let short = Config::from_vars(&vars(&[URI, ("JWT_SECRET", "short")]));
        assert!(matches!(
            short,
            Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                ..
            })
        ));
        let default = Config::from_vars(&vars(&[
            URI,
            ("JWT_SECRET", "your-secret-key-change-in-production"),
        ]));
        assert!(default.is_err());
        let err = Config::from_vars(&vars(&[URI, ("JWT_SECRET", "short")]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("short"), "error echoes the secret: {err}");
    }

    #[test]
    fn write_limits_default_to_the_contracts_and_refuse_zero() {
        let c = Config::from_vars(&vars(&[URI, STRONG])).unwrap();
        assert_eq!(
            (c.write_limits.per_caller, c.write_limits.per_ip),
            (120, 10)
        );
        let zero = Config::from_vars(&vars(&[URI, STRONG, ("WRITE_LIMIT_PER_MINUTE", "0")]));
        assert!(matches!(
            zero,
            Err(ConfigError::Invalid {
                name: "WRITE_LIMIT_PER_MINUTE",
                ..
            })
        ));
        let set = Config::from_vars(&vars(&[URI, STRONG, ("ANON_WRITE_LIMIT_PER_MINUTE", "3")]));
        assert_eq!(set.unwrap().write_limits.per_ip, 3);
    }

    #[test]
    fn local_mode_allows_a_development_secret() {
        let c = Config::from_vars(&vars(&[URI, ("APP_ENV", "local")])).unwrap();
        assert!(c.local);
        assert_eq!(c.jwt.key(), LOCAL_DEV_SECRET.as_bytes());
    }

    #[test]
    fn each_purpose_has_a_key_of_its_own() {
        let c = Config::from_vars(&vars(&[URI, STRONG])).unwrap();
        let a = c.jwt.derived_key("idempotency-fingerprint");
        let b = c.jwt.derived_key("api-key");
        assert_ne!(a, b);
        assert_ne!(&a[..], c.jwt.key());
        assert_eq!(a, c.jwt.derived_key("idempotency-fingerprint"));
    }

    #[test]
    fn email_settings_are_checked() {
        let with = |extra: (&str, &str)| Config::from_vars(&vars(&[URI, STRONG, extra]));
        assert!(matches!(
            with(("EMAIL_CHANGE_VERIFICATION", "true")),
            Err(ConfigError::Invalid {
                name: "EMAIL_CHANGE_VERIFICATION",
                ..
            })
        ));
        assert!(with(("EMAIL_FROM", "Not An Address")).is_err());
        assert!(with(("APP_URL", "console.example.com")).is_err());
        assert!(with(("WEBHOOK_RETRY_SCHEDULE", "1,x")).is_err());
        let c = with(("WEBHOOK_RETRY_SCHEDULE", "1,2,4")).unwrap();
        assert_eq!(c.webhooks.retry_schedule.len(), 3);
        let c = Config::from_vars(&vars(&[
            URI,
            STRONG,
            ("EMAIL_FROM", "No-Reply@Example.com"),
            ("EMAIL_CHANGE_VERIFICATION", "true"),
        ]))
        .unwrap();
        assert_eq!(c.email.from.as_deref(), Some("no-reply@example.com"));
        assert!(c.email.configured() && c.email.change_verification);
    }

    #[test]
    fn defaults_and_bounds() {
        let c = Config::from_vars(&vars(&[URI, STRONG])).unwrap();
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.jwt.ttl, Duration::from_secs(3600));
        assert_eq!(c.master_db, "org_master");
        assert!(Config::from_vars(&vars(&[URI, STRONG, ("BCRYPT_COST", "99")])).is_err());
        assert!(Config::from_vars(&vars(&[URI, STRONG, ("MASTER_DB", "a.b")])).is_err());
        assert!(Config::from_vars(&vars(&[("MONGODB_URI", "http://x"), STRONG])).is_err());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("k3J9w2") && !dbg.contains("127.0.0.1"));
    }
}
