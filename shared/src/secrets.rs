//! Secrets from AWS Secrets Manager, read once per cold start through `aws-config`.

use std::collections::HashMap;

use crate::config::ConfigError;

/// Each variable that may instead name a Secrets Manager secret (ARN or name).
const SECRET_VARS: &[(&str, &str)] = &[
    ("MONGODB_URI_SECRET_ARN", "MONGODB_URI"),
    ("JWT_SECRET_ARN", "JWT_SECRET"),
];

/// Replaces `X` by the value of the secret named in `X_SECRET_ARN`, where one is set.
/// Nothing is asked of AWS when no such variable is set.
pub async fn resolve(vars: &mut HashMap<String, String>) -> Result<(), ConfigError> {
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
            .map_err(|e| ConfigError::Secret {
                name: arn_var,
                why: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        let value = out.secret_string().ok_or_else(|| ConfigError::Secret {
            name: arn_var,
            why: "the secret holds binary data; store the value as a plain string".into(),
        })?;
        vars.insert(target.to_owned(), value.trim().to_owned());
    }
    Ok(())
}
