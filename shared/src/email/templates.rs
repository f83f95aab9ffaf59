//! The messages' templates (`shared/templates/email`, a plain-text and an HTML file per
//! kind, the HTML ones extending `layout.html`), rendered with `minijinja`. Every value
//! is escaped in the HTML part (auto-escaping by the `.html` name), so an organization
//! name or an email address can never become markup.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use super::{Kind, Message};

/// What a message says: everything a template may show.
#[derive(Debug, Default, Serialize)]
pub struct Facts {
    /// The organization's name.
    pub org: String,
    /// The recipient's address (for the notice: the old one).
    pub email: String,
    /// The link, with its token (none in the notice).
    pub link: String,
    /// How long the link is good for, in words ("30 minutes").
    pub expires: String,
    /// When an invitation expires (`2026-01-01T10:30:00.123Z`).
    pub expires_at: String,
    /// Who invited.
    pub inviter: String,
    /// The role an invitation gives.
    pub role: String,
    /// The new address (the notice).
    pub new_email: String,
}

/// (name, source) of every template.
const FILES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../templates/email/layout.html"),
    ),
    ("reset.txt", include_str!("../../templates/email/reset.txt")),
    (
        "reset.html",
        include_str!("../../templates/email/reset.html"),
    ),
    (
        "verify.txt",
        include_str!("../../templates/email/verify.txt"),
    ),
    (
        "verify.html",
        include_str!("../../templates/email/verify.html"),
    ),
    (
        "invitation.txt",
        include_str!("../../templates/email/invitation.txt"),
    ),
    (
        "invitation.html",
        include_str!("../../templates/email/invitation.html"),
    ),
    (
        "email_changed.txt",
        include_str!("../../templates/email/email_changed.txt"),
    ),
    (
        "email_changed.html",
        include_str!("../../templates/email/email_changed.html"),
    ),
];

/// The subject line of each kind (plain text: no escaping).
fn subject(kind: Kind, facts: &Facts) -> String {
    match kind {
        Kind::Reset => format!("Reset your {} password", facts.org),
        Kind::Verify => format!("Verify your email for {}", facts.org),
        Kind::Invitation => format!("{} invited you to join {}", facts.inviter, facts.org),
        Kind::EmailChanged => format!("The email of your {} account is changing", facts.org),
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in FILES {
            env.add_template(name, source)
                .expect("the email templates of the repository parse");
        }
        env
    })
}

/// Renders the message of `kind` to `to`.
pub fn render(kind: Kind, to: &str, facts: &Facts) -> Result<Message, minijinja::Error> {
    let env = environment();
    let subject = subject(kind, facts);
    let ctx =
        minijinja::context! { subject => &subject, ..minijinja::Value::from_serialize(facts) };
    let part = |ext: &str| {
        env.get_template(&format!("{}.{ext}", kind.as_str()))
            .and_then(|t| t.render(&ctx))
    };
    Ok(Message {
        kind,
        to: to.to_owned(),
        text: part("txt")?,
        html: part("html")?,
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Facts {
        Facts {
            org: "acme\"><img src=x onerror=alert(1)>".into(),
            email: "a@example.com".into(),
            link: "https://console.example.com/#reset=T0KEN".into(),
            expires: "30 minutes".into(),
            expires_at: "2026-01-01T10:30:00.123Z".into(),
            inviter: "<script>alert(1)</script>@example.com".into(),
            role: "admin".into(),
            new_email: "b@example.com".into(),
        }
    }

    const KINDS: [Kind; 4] = [
        Kind::Reset,
        Kind::Verify,
        Kind::Invitation,
        Kind::EmailChanged,
    ];

    #[test]
    fn every_kind_renders_both_parts_with_its_facts() {
        for kind in KINDS {
            let m = render(kind, "a@example.com", &hostile()).unwrap();
            assert!(
                !m.subject.is_empty() && m.subject.contains("acme"),
                "{kind:?}"
            );
            assert!(m.html.starts_with("<!doctype html>"), "{kind:?}");
            assert!(
                m.text.contains("acme\"><img"),
                "{kind:?}: the text part is plain"
            );
            assert!(m.html.contains("Ignore this message") || m.html.contains("reset it"));
            if kind != Kind::EmailChanged {
                assert!(m.text.contains("#reset=T0KEN") && m.html.contains("#reset=T0KEN"));
                assert!(
                    m.text.contains("expires in"),
                    "{kind:?}: the expiry is stated"
                );
            }
        }
    }

    #[test]
    fn user_provided_values_are_text_in_html() {
        for kind in KINDS {
            let m = render(kind, "a@example.com", &hostile()).unwrap();
            assert!(!m.html.contains("<script>"), "{kind:?}: {}", m.html);
            assert!(!m.html.contains("\"><img"), "{kind:?}: {}", m.html);
            assert!(m.html.contains("&quot;&gt;&lt;img"), "{kind:?}");
        }
        let invitation = render(Kind::Invitation, "a@example.com", &hostile()).unwrap();
        assert!(invitation.html.contains("&lt;script&gt;"));
    }
}
