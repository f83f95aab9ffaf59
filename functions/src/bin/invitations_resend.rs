//! Lambda function `invitations_resend`: serves `tenant::invitations::resend`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::resend).await
}
