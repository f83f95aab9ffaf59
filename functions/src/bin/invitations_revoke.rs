//! Lambda function `invitations_revoke`: serves `tenant::invitations::revoke`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::invitations::revoke).await
}
