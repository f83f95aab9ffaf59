//! Email the service sends itself: a [`Message`] rendered from the repository's
//! templates ([`templates`]), made into one MIME document (a plain-text and an HTML
//! part), then sent through SES (SESv2 `SendEmail`, raw content, from `EMAIL_FROM`) or,
//! under `make run`, written as an `.eml` file to `MAIL_DIR`. Messages are sent by the
//! dispatcher ([`crate::jobs::dispatch`]), never on a request's path.

pub mod templates;

use std::path::Path;

use base64::Engine;
use tokio::sync::OnceCell;

use crate::config::EmailSettings;

/// The sender when messages only go to the mail folder and `EMAIL_FROM` is unset.
const LOCAL_FROM: &str = "no-reply@localhost";

/// What a message is for: its template, and the kind of job that sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A password reset link.
    Reset,
    /// An address verification link.
    Verify,
    /// An invitation link.
    Invitation,
    /// The notice to an old address that the account's email is being changed.
    EmailChanged,
}

impl Kind {
    /// The template name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reset => "reset",
            Kind::Verify => "verify",
            Kind::Invitation => "invitation",
            Kind::EmailChanged => "email_changed",
        }
    }
}

/// One rendered message.
#[derive(Debug, Clone)]
pub struct Message {
    /// What it is for.
    pub kind: Kind,
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Why a message was not sent. The dispatcher retries it later in every case; the
/// text names the cause (never a link or a token).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Sends messages, by the transport the settings choose.
pub struct Mailer {
    settings: EmailSettings,
    ses: OnceCell<aws_sdk_sesv2::Client>,
}

impl Mailer {
    /// A mailer for these settings (the SES client is built on first use, so functions
    /// that never send pay nothing at cold start).
    pub fn new(settings: EmailSettings) -> Self {
        Self {
            settings,
            ses: OnceCell::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// The sender address.
    pub fn from(&self) -> &str {
        self.settings.from.as_deref().unwrap_or(LOCAL_FROM)
    }

    /// Sends `message` (id `id`, unique per job) and answers where it went: the SES
    /// message id, or the file written.
    pub async fn send(&self, message: &Message, id: &str) -> Result<String, SendError> {
        let mime = message.mime(self.from(), id);
        if let Some(dir) = &self.settings.mail_dir {
            return write_file(dir, message, id, &mime);
        }
        if self.settings.from.is_none() {
            return Err(SendError("email is not configured (EMAIL_FROM)".into()));
        }
        let client = self
            .ses
            .get_or_init(|| async {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                aws_sdk_sesv2::Client::new(&config)
            })
            .await;
        send_ses(client, self.from(), &message.to, mime).await
    }
}

async fn send_ses(
    client: &aws_sdk_sesv2::Client,
    from: &str,
    to: &str,
    mime: String,
) -> Result<String, SendError> {
    use aws_sdk_sesv2::primitives::Blob;
    use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
    let raw = RawMessage::builder()
        .data(Blob::new(mime.into_bytes()))
        .build()
        .map_err(|e| SendError(e.to_string()))?;
    let sent = client
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().raw(raw).build())
        .send()
        .await
        .map_err(|e| {
            let code = e
                .as_service_error()
                .and_then(|s| aws_sdk_sesv2::error::ProvideErrorMetadata::code(s))
                .unwrap_or("no answer")
                .to_owned();
            SendError(format!("SES refused or did not answer: {code}"))
        })?;
    Ok(sent.message_id().unwrap_or_default().to_owned())
}

/// Writes the message as `<dir>/<ms>-<kind>-<id>.eml`, whole or not at all (a reader
/// never sees half a file).
fn write_file(dir: &Path, message: &Message, id: &str, mime: &str) -> Result<String, SendError> {
    let failed = |e: std::io::Error| SendError(format!("could not write to the mail folder: {e}"));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let ms = mongodb::bson::DateTime::now().timestamp_millis();
    let name = format!("{ms}-{}-{id}.eml", message.kind.as_str());
    let part = dir.join(format!(".{name}.part"));
    std::fs::write(&part, mime).map_err(failed)?;
    let path = dir.join(&name);
    std::fs::rename(&part, &path).map_err(failed)?;
    Ok(path.display().to_string())
}

/// A header value on one line; non-ASCII as an RFC 2047 encoded word.
fn header(value: &str) -> String {
    let line: String = value.chars().filter(|c| !c.is_control()).collect();
    if line.is_ascii() {
        line
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(line.as_bytes());
        format!("=?UTF-8?B?{b64}?=")
    }
}

/// Lines ended by CRLF, as MIME wants them.
fn crlf(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("\r\n")
}

impl Message {
    /// The message as one MIME document: `multipart/alternative` with the plain-text
    /// part first and the HTML part second.
    pub fn mime(&self, from: &str, id: &str) -> String {
        let boundary = format!("=_part_{id}");
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let domain = from.rsplit('@').next().unwrap_or("localhost");
        [
            format!("From: {}", header(from)),
            format!("To: {}", header(&self.to)),
            format!("Subject: {}", header(&self.subject)),
            format!("Date: {date}"),
            format!("Message-ID: <{id}@{domain}>"),
            "MIME-Version: 1.0".into(),
            format!("Content-Type: multipart/alternative; boundary=\"{boundary}\""),
            String::new(),
            format!("--{boundary}"),
            "Content-Type: text/plain; charset=utf-8".into(),
            "Content-Transfer-Encoding: 8bit".into(),
            String::new(),
            crlf(&self.text),
            format!("--{boundary}"),
            "Content-Type: text/html; charset=utf-8".into(),
            "Content-Transfer-Encoding: 8bit".into(),
            String::new(),
            crlf(&self.html),
            format!("--{boundary}--"),
            String::new(),
        ]
        .join("\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_on_one_line_and_non_ascii_is_encoded() {
        assert_eq!(header("a\r\nBcc: x@y"), "aBcc: x@y");
        assert_eq!(header("Café"), "=?UTF-8?B?Q2Fmw6k=?=");
    }

    #[test]
    fn a_message_has_both_parts() {
        let m = Message {
            kind: Kind::Verify,
            to: "a@example.com".into(),
            subject: "Hi".into(),
            text: "plain\nline".into(),
            html: "<p>html</p>".into(),
        };
        let mime = m.mime("from@example.com", "abc");
        assert!(mime.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(mime.contains("Content-Type: text/html; charset=utf-8"));
        assert!(mime.contains("plain\r\nline"));
        assert!(mime.ends_with("--=_part_abc--\r\n"));
    }
}
