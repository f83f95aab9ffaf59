//! Secrets from AWS Secrets Manager, read once per cold start through `aws-config`.

use std::collections::HashMap;

/// A secret that could not be read: the variable that names it, and why (never the
/// secret's value).
#[derive(Debug, thiserror::Error)]
#[error("could not read {name} from AWS: {why}")]
pub struct SecretError {
    /// The variable naming the secret (`JWT_SECRET_ARN`, ...).
    pub name: &'static str,
    /// What went wrong.
    pub why: String,
}

/// Each variable that may instead name a Secrets Manager secret (ARN or name).
const SECRET_VARS: &[(&str, &str)] = &[
    ("MONGODB_URI_SECRET_ARN", "MONGODB_URI"),
    ("JWT_SECRET_ARN", "JWT_SECRET"),
];

/// Replaces `X` by the value of the secret named in `X_SECRET_ARN`, where one is set.
/// Nothing is asked of AWS when no such variable is set.
pub async fn resolve(vars: &mut HashMap<String, String>) -> Result<(), SecretError> {
    let wanted: Vec<(&'static str, &'static str, String)> = SECRET_VARS
        .iter()
        .filter_map(|(arn_var, target)| {
            let id = vars.get(*arn_var)?.trim();
            (!id.is_empty()).then(|| (*arn_var, *target, id.to_owned()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    for (arn_var, target, id) in wanted {
        let out = client
            .get_secret_value()
            .secret_id(&id)
            .send()
            .await
            .map_err(|e| SecretError {
                name: arn_var,
                why: sdk_error(e),
            })?;
        let text = out.secret_string().ok_or_else(|| SecretError {
            name: arn_var,
            why: "the secret holds binary data; store the value as a plain string".into(),
        })?;
        let value = secret_value(target, text).map_err(|why| SecretError { name: arn_var, why })?;
        vars.insert(target.to_owned(), value);
    }
    Ok(())
}

/// An AWS error in one line: the service's code and message (e.g. `AccessDeniedException:
/// ...`) when AWS answered, else the whole chain (no connection, timeout, credentials).
/// The raw response, which the full chain of a service error would include, is left out.
fn sdk_error<E, R>(e: aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("no message")),
        None => aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
    }
}

/// The value for `target` in a secret's text: the text itself, or, when the text is a
/// JSON object (the console's key/value shape), the string under the key `target`,
/// e.g. `{"JWT_SECRET": "..."}`. Errors never contain the secret.
fn secret_value(target: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with('{')
        && let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text)
    {
        return match fields.get(target) {
            Some(serde_json::Value::String(v)) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            _ => Err(format!(
                "the secret is a JSON object without a non-empty string under \"{target}\"; \
                 store the plain value, or {{\"{target}\": \"...\"}}"
            )),
        };
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::secret_value;

    #[test]
    fn plain_or_json_object_secret() {
        assert_eq!(
            secret_value("JWT_SECRET", " plain-value \n").unwrap(),
            "plain-value"
        );
        let json = r#"{"JWT_SECRET": " from-json ", "other": 1}"#;
        assert_eq!(secret_value("JWT_SECRET", json).unwrap(), "from-json");
        // Not JSON after all: taken as it is.
        assert_eq!(
            secret_value("JWT_SECRET", "{not json").unwrap(),
            "{not json"
        );
        for bad in [
            r#"{"jwt": "hunter2-value"}"#,
            r#"{"JWT_SECRET": 42}"#,
            r#"{"JWT_SECRET": ""}"#,
        ] {
            let err = secret_value("JWT_SECRET", bad).unwrap_err();
            assert!(
                err.contains("\"JWT_SECRET\"") && !err.contains("hunter2"),
                "{err}"
            );
        }
    }
}
