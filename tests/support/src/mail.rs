//! The service's email as a test reads it: an app whose messages go to a folder of
//! its own (the `make run` transport), a run of the dispatcher, and the messages
//! parsed back from their `.eml` files.

use std::path::{Path, PathBuf};

use tenant::App;
use tenant::jobs::dispatch::{Report, sweep};

/// One message as written to the mail folder.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The file.
    pub file: PathBuf,
    /// `To:`.
    pub to: String,
    /// `From:`.
    pub from: String,
    /// `Subject:` (as written: ASCII subjects are plain).
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Mail {
    /// The token of the message's link `#<fragment>=<token>`, if it has one.
    pub fn token(&self, fragment: &str) -> Option<String> {
        let marker = format!("#{fragment}=");
        let start = self.text.find(&marker)? + marker.len();
        let token: String = self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        Some(token)
    }
}

/// A fresh app whose email goes to a new folder of its own, on a server of its own
/// (keep it for the test's length): the mail queue is one collection, and the local
/// server shares collections across database names, so a test's dispatcher would take
/// other tests' jobs. `extra` overrides settings.
pub async fn mail_app(extra: &[(&str, &str)]) -> (App, PathBuf, crate::OwnServer) {
    let server = crate::OwnServer::start();
    let uri = server.uri();
    let dir = std::env::temp_dir().join(crate::unique("mail-"));
    let dir_text = dir.display().to_string();
    let mut vars = vec![
        ("MAIL_DIR", dir_text.as_str()),
        ("MONGODB_URI", uri.as_str()),
    ];
    vars.extend_from_slice(extra);
    let app = App::with_config(crate::config(&vars)).await.expect("app");
    tenant::jobs::migrate::run(&app.store)
        .await
        .expect("migrate");
    (app, dir, server)
}

/// Runs the dispatcher once over every job due now, as its schedule would.
pub async fn dispatch(app: &App) -> Report {
    let mut report = Report::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    sweep(app, &mut report, deadline).await.expect("dispatch");
    report
}

/// Every message in `dir`, oldest first.
pub fn mailbox(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files.into_iter().map(|f| parse(&f)).collect()
}

/// The messages in `dir` to `to`, oldest first.
pub fn mail_to(dir: &Path, to: &str) -> Vec<Mail> {
    mailbox(dir).into_iter().filter(|m| m.to == to).collect()
}

fn parse(file: &Path) -> Mail {
    let raw = std::fs::read_to_string(file).expect("a message file");
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers and body");
    let header = |name: &str| {
        head.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_default()
            .to_owned()
    };
    let part = |kind: &str| {
        let marker = format!(
            "Content-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        );
        let start = body.find(&marker).expect("the part") + marker.len();
        let rest = &body[start..];
        rest[..rest.find("\r\n--=_part_").expect("the part's end")].replace("\r\n", "\n")
    };
    Mail {
        file: file.to_owned(),
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
    }
}
